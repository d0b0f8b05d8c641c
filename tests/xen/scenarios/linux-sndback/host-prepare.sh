# Host side, before the boot: the test's own deterministic signals (wavtool noise:
# xorshift32 pseudo-random samples, no period, so an offset/drop/repeat cannot hide).
#   play.wav    1 s, 48 kHz, stereo, s16_le -> domU /play.wav (aplay plays it)
#   source.wav  1 s, 48 kHz, mono, s16_le   -> dom0 /scenario/source.wav (sndback --source wav:)
# Both are kept in $OUT/reference/ for host-check.sh.
set -euo pipefail
(cd "$PROJECT" && cargo build --release -q -p wavtool)
wavtool=$PROJECT/target/release/wavtool
mkdir -p "$OUT/reference"
"$wavtool" noise --seed 20261123 --rate 48000 --channels 2 --ms 1000 --out "$OUT/reference/play.wav"
"$wavtool" noise --seed 4242 --rate 48000 --channels 1 --ms 1000 --out "$OUT/reference/source.wav"
cp "$OUT/reference/play.wav" "$DOMU_DIR/play.wav"
cp "$OUT/reference/source.wav" "$DOM0_DIR/source.wav"
