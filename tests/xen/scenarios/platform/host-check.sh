#!/bin/bash
# After a PASS: the tone the guest played must equal wavtool's reference
# sample for sample (48 kHz, stereo, s16, 440 Hz, -6 dBFS, 1000 ms).
set -euo pipefail
. "$(dirname "$0")/../../host-check-lib.sh"
wav=$(ls "$OUT"/wav/*spk*.wav | head -n1)
"$WAVTOOL" tone --freq 440 --ms 1000 --out "$OUT/ref-440.wav"
"$WAVTOOL" stats "$wav" || true
"$WAVTOOL" compare "$OUT/ref-440.wav" "$wav"
echo "host-check: $wav equals the 440 Hz reference"
