#!/bin/bash
# On the host after a PASS: what sndback received on `spk` is hello's
# embedded sound, byte for byte (the WAV's sample bytes; PROJECT is the
# xensnd checkout, set by tests/xen/run.sh).
set -euo pipefail
wav=$(ls "$OUT"/wav/*spk*.wav | head -n1)
(cd "$PROJECT" && cargo build --release -q -p wavtool)
"$PROJECT/target/release/wavtool" raw --out "$OUT/played.raw" "$wav"
cmp "$OUT/played.raw" "$(dirname "$0")/../src/ding-48k-mono-s16.raw"
echo "host-check: $wav is hello's sound, sample for sample ($(stat -c %s "$OUT/played.raw") bytes)"
