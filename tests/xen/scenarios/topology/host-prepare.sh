# Host side, before the boot: the capture source sndback plays to the guest's
# capture-only stream (dom0 /scenario/mic-source.wav, kept in $OUT/reference/):
# 300 ms of xorshift32 noise, 48 kHz stereo s16_le (the stream's format, so it
# arrives bit for bit); the guest records 500 ms, so the file loops once.
set -euo pipefail
(cd "$PROJECT" && cargo build --release -q -p wavtool)
mkdir -p "$OUT/reference"
"$PROJECT/target/release/wavtool" noise --format s16_le --channels 2 --rate 48000 --ms 300 --seed 2212 \
  --out "$OUT/reference/mic-source.wav"
cp "$OUT/reference/mic-source.wav" "$DOM0_DIR/mic-source.wav"
