# Host side, before the boot: the test's own deterministic signals, per takes.txt
# (wavtool noise: xorshift32 samples using every bit of the format, no period, so
# an offset/drop/repeat/truncation cannot hide):
#   play/<take>.wav      each playback take; its sample bytes as they travel over
#                        sndif (wavtool raw) -> domU /play/<take>.raw (aplay -t raw plays
#                        them: a WAV cannot say S24_LE to aplay, see domu/domu.sh)
#   src/<id>.wav         each capture stream's source (1 s) -> dom0 /scenario/src/
#                        (sndback --source <id>=wav:...)
#   expect/<take>.sha256 sha256 of the source's sample bytes as they travel
#                        (what arecord stores after its 44-byte header) -> domU /expect/
# Everything is also kept in $OUT/reference/ for host-check.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
(cd "$PROJECT" && cargo build --release -q -p wavtool)
wavtool=$PROJECT/target/release/wavtool
ref=$OUT/reference
mkdir -p "$ref/play" "$ref/src" "$ref/expect" "$DOMU_DIR/play" "$DOMU_DIR/expect" "$DOM0_DIR/src"
grep -v '^#' "$HERE/takes.txt" | while read -r dir take dev id fmt ch ms seed; do
  [ -n "$dir" ] || continue
  case $dir in
    p)
      "$wavtool" noise --format "$fmt" --channels "$ch" --ms "$ms" --seed "$seed" --out "$ref/play/$take.wav" > /dev/null
      "$wavtool" raw "$ref/play/$take.wav" --out "$DOMU_DIR/play/$take.raw" ;;
    c)
      [ -f "$ref/src/$id.wav" ] || \
        "$wavtool" noise --format "$fmt" --channels "$ch" --ms "$ms" --seed "$seed" --out "$ref/src/$id.wav" > /dev/null
      "$wavtool" raw "$ref/src/$id.wav" --out "$ref/expect/$take.raw"
      sha256sum "$ref/expect/$take.raw" | cut -d' ' -f1 > "$ref/expect/$take.sha256"
      rm "$ref/expect/$take.raw"
      cp "$ref/expect/$take.sha256" "$DOMU_DIR/expect/" ;;
  esac
done
cp "$ref"/src/*.wav "$DOM0_DIR/src/"
cp "$HERE/takes.txt" "$DOMU_DIR/takes.txt"
