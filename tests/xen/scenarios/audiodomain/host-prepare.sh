# Host side, before the boot: ship the audio domain's image (make
# guest-audiodomain) to dom0 as /scenario/audiodomain.elf, and the Linux
# client's input (4 s of full-scale deterministic noise: wavtool
# noise, 48 kHz stereo s16) as its /play/client.wav; keep it in
# $OUT/reference for host-check.sh.
set -euo pipefail
elf=$PROJECT/target/x86_64-unknown-none/release/audiodomain
[ -f "$elf" ] || { echo "host-prepare: $elf missing (make guest-audiodomain)" >&2; exit 1; }
cp "$elf" "$DOM0_DIR/audiodomain.elf"
(cd "$PROJECT" && cargo build --release -q -p wavtool)
mkdir -p "$OUT/reference" "$DOMU_DIR/play"
"$PROJECT/target/release/wavtool" noise --seed 16 --format s16_le --channels 2 --ms 4000 \
  --out "$OUT/reference/client.wav" > /dev/null
cp "$OUT/reference/client.wav" "$DOMU_DIR/play/client.wav"
