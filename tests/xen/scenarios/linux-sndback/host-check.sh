# Host side, after the run: sample-for-sample checks with wavtool.
#  Playback: sndback's WAV = reference/play.wav, frame 0 on, exactly; after it only
#   zero frames, fewer than one period (aplay writes whole periods and fills the
#   last one with silence; the period size is what aplay -v printed in the domU).
#  Capture: arecord's WAV = reference/source.wav exactly (48000 frames, no allowance:
#   sndback's WAV source starts at frame 0 at the stream's OPEN and serves READs in order).
set -euo pipefail
cd "$OUT"
wavtool=${PROJECT:-$(cd "$(dirname "$0")/../../../.." && pwd)}/target/release/wavtool
log=console/guest-lxs.log
played_sha=$(sed -n 's/.*DOMU-PLAY-SHA256 \([0-9a-f]*\).*/\1/p' "$log" | head -n 1)
reference_sha=$(sha256sum reference/play.wav | cut -d' ' -f1)
echo "domU /play.wav sha256 $played_sha, reference $reference_sha"
[ "$played_sha" = "$reference_sha" ] || { echo "the domU did not play the reference file"; exit 1; }
period=$(sed -n 's/.*DOMU-APLAY-period_size \([0-9]*\).*/\1/p' "$log" | head -n 1)
[ -n "$period" ] || { echo "no period size from aplay -v"; exit 1; }
echo "aplay period: $period frames"
set -- sndback/dom*-spk*.wav
[ $# -eq 1 ] && [ -f "$1" ] || { echo "expected exactly one playback WAV, got: $*"; exit 1; }
"$wavtool" stats "$1"
echo "playback: reference/play.wav vs $1"
"$wavtool" compare --trailing-zero-frames-below "$period" reference/play.wav "$1"
grep -h "DOMU-ARECORD" "$log" || true
"$wavtool" stats captured.wav
echo "capture: reference/source.wav vs captured.wav"
"$wavtool" compare reference/source.wav captured.wav
