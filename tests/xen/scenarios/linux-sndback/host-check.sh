# Host side, after the run: sample-for-sample checks with wavtool.
#  Playback: sndback's WAV = reference/play.wav, frame 0 on, exactly; after it
#   exactly the zero frames that complete aplay's last period, nothing else (aplay
#   writes whole periods and fills the last one with silence; the period size is
#   what aplay -v printed in the domU: 4800 frames divide 48000, so 0 frames).
#  Capture: arecord's WAV = reference/source.wav exactly (48000 frames, no allowance:
#   sndback's WAV source starts at frame 0 at the stream's OPEN and serves READs in order).
set -euo pipefail
wavtool=${PROJECT:-$(cd "$(dirname "$0")/../../../.." && pwd)}/target/release/wavtool
cd "$OUT"
log=console/guest-lxs.log
played_sha=$(sed -n 's/.*DOMU-PLAY-SHA256 \([0-9a-f]*\).*/\1/p' "$log" | head -n 1)
reference_sha=$(sha256sum reference/play.wav | cut -d' ' -f1)
echo "domU /play.wav sha256 $played_sha, reference $reference_sha"
[ "$played_sha" = "$reference_sha" ] || { echo "the domU did not play the reference file"; exit 1; }
period=$(sed -n 's/.*DOMU-APLAY-period_size \([0-9]*\).*/\1/p' "$log" | head -n 1)
[ -n "$period" ] || { echo "no period size from aplay -v"; exit 1; }
echo "aplay period: $period frames"
grep -h "DOMU-APLAY" "$log" || true
set -- sndback/dom*-spk*.wav
[ $# -eq 1 ] && [ -f "$1" ] || { echo "expected exactly one playback WAV, got: $*"; exit 1; }
frames=$("$wavtool" stats reference/play.wav | sed -n 's/.*: \([0-9]*\) frames,.*/\1/p')
padding=$(( (period - frames % period) % period ))
"$wavtool" stats "$1"
echo "playback: reference/play.wav ($frames frames) vs $1; aplay's padding: $padding zero frames"
"$wavtool" compare --trailing-zero-frames-below $(( padding + 1 )) reference/play.wav "$1"
got=$("$wavtool" stats "$1" | sed -n 's/.*: \([0-9]*\) frames,.*/\1/p')
[ "$got" -eq $(( frames + padding )) ] || { echo "playback WAV has $got frames, expected $frames + $padding"; exit 1; }
grep -h "DOMU-ARECORD" "$log" || true
"$wavtool" stats captured.wav
echo "capture: reference/source.wav vs captured.wav"
"$wavtool" compare reference/source.wav captured.wav
