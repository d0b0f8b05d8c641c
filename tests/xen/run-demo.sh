#!/bin/bash
# make run: boot Xen in QEMU, play the demo through sndback, bring the audio
# back, check it sample for sample against the references and draw it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/out/run}
WAVTOOL=$ROOT/target/release/wavtool
rm -rf "$OUT"; mkdir -p "$OUT"
"$ROOT/tests/xen/run.sh" --scenario "$ROOT/tests/xen/demo" --out "$OUT"
audio=$OUT/audio
chime=$(ls "$audio"/dom*-spk.wav | sort -V | head -1)
tone=$(ls "$audio"/dom*-spk.wav | sort -V | tail -1)
[ "$chime" != "$tone" ] || { echo "expected two WAV files in $audio"; exit 1; }
"$WAVTOOL" chime --rate 48000 --channels 2 --out "$OUT/chime-reference.wav"
"$WAVTOOL" tone --freq 440 --rate 48000 --channels 2 --level-mdb -6000 --ms 2000 --out "$OUT/tone-reference.wav"
echo "== chime: $chime"
"$WAVTOOL" compare "$OUT/chime-reference.wav" "$chime"
echo "== tone: $tone"
"$WAVTOOL" compare "$OUT/tone-reference.wav" "$tone"
cp "$chime" "$OUT/chime.wav"; cp "$tone" "$OUT/tone.wav"
"$WAVTOOL" plot "$OUT/chime.wav" "$OUT/chime.png"
"$WAVTOOL" plot "$OUT/tone.wav" "$OUT/tone.png"
"$WAVTOOL" stats "$OUT/chime.wav"
"$WAVTOOL" stats "$OUT/tone.wav"
echo
echo "== make run: the guest's audio is in $OUT:"
echo "   chime.wav, tone.wav            what sndback recorded (equal to the references, sample for sample)"
echo "   chime.png, tone.png            waveform (first 20 ms per channel, envelope) and spectrum, with axes and units"
echo "   serial.log, console/           Xen/dom0 serial log, guest consoles"
