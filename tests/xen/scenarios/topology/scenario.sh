# An awkward topology for the xensnd guest under Xen (issue #12 item 9), served
# by sndback. Every guest gets the same two cards (the *.cfg files). Each card
# lists everything its PCMs use and each PCM narrows it (the rule both ends
# apply, see sndif::config; Linux would also accept PCM values the card does
# not list, as each of its levels overrides the parent):
#   card 0: 22050 and 48000 Hz, s32_le, 2-8 ch, buffer-size 5 MiB
#     PCM s32-22k: spk22, playback, 22050 Hz stereo
#     PCM eight:   big8,  playback, 48 kHz 8 ch
#   card 1: 48 kHz s16_le, 2-6 ch, buffer-size 65534: not whole frames of 6 ch
#           (12 bytes) nor of 2 ch (4 bytes), nor whole pages
#     PCM surround:     spk6, playback, 6 ch
#     PCM capture-only: mic,  capture, stereo (no playback stream in the PCM)
# Guests (created back to back, waited for in order):
#  - xt-cards: spk22 (440 Hz) and spk6 (1 kHz) at once, one stream on each card;
#  - xt-big: 3.5 s on big8 with a 140000-frame buffer: 4480000 bytes = 1094
#    pages, so the buffer's page directory takes two pages, and the writes wrap;
#  - xt-rec: 0.5 s from mic, sndback's wav: source being 300 ms of noise (looped).
# The guest converts its i16 tone to each stream's format (format= picks one
# when a stream offers several). host-check.sh does the sample-exact checks.
mkdir -p "$OUT/wav"
: > "$OUT/domids.txt"
GUESTS="xt-cards xt-big xt-rec"

create() {
  stage "$1"
  check "$1: xl create" xl_create "/scenario/$1.cfg" || return 1
  echo "$1 $(xl domid "$1")" >> "$OUT/domids.txt"
}
# finish NAME: wait for the demo's verdict and keep the console; a guest that
# failed stays (on_crash=preserve) and is destroyed so the others go on.
finish() {
  grep -q "^$1 " "$OUT/domids.txt" || return 1
  check "$1: XENSND-DONE" wait_console "$1" 150 'XENSND-DONE'
  if check "$1: XENSND-DONE ok" wait_console "$1" 1 'XENSND-DONE ok'; then
    check "$1: powered off" wait_gone "$1" 60
  else
    sleep 1
    timeout 30 xl destroy "$1"
  fi
  cp "$(console_log "$1")" "$OUT/console-$1.log" 2>/dev/null
}

stage backend
start_bg backend /project/sndback --out-dir "$OUT/wav" --stats "$OUT/sndback-stats.json" \
  --source wav:/scenario/mic-source.wav --log debug
sleep 1
check "sndback is running" kill -0 "$(cat /run/backend.pid)" || return 0
# what the frontend sees: both cards' nodes as xl wrote them
for guest in $GUESTS; do create "$guest"; done
d=$(sed -n 's/^xt-cards \([0-9]*\)$/\1/p' "$OUT/domids.txt")
[ -n "$d" ] && xenstore-ls -f "/local/domain/$d/device/vsnd" > "$OUT/xenstore-vsnd.txt" 2>&1
stage wait
for guest in $GUESTS; do finish "$guest"; done
sleep 1
stop_bg backend
ls -l "$OUT/wav"
result PASS "topology: two cards, 22050 Hz s32_le, 6 ch on an odd buffer-size, a capture-only PCM, a 1094-page buffer"
