# sndif features of the xensnd guest under Xen, served by sndback (one QEMU
# boot, five short guests created back to back, so they overlap; host-check.sh
# does the sample-exact checks on the host):
#  - xf-record: demo=record ms=500 from sndback's wav: source
#    (capture-source.wav, 300 ms, so it loops once): the guest's CRC-32 must
#    be that of the first 24000 frames of the looped file;
#  - xf-two: two playback streams on two PCMs at once (spk 440 Hz, spk2
#    880 Hz): each WAV equals its reference;
#  - xf-pause: pause 0.5 s once 0.6 s of a 1 s tone is queued, resume: the WAV
#    still equals the reference, positions are monotonic, final = frames;
#  - xf-volume / xf-mute: SET_VOLUME -6000 / MUTE on both channels reach
#    sndback (log + stats) and its WAV is the reference x 0.501 / silence.
mkdir -p "$OUT/wav"
: > "$OUT/domids.txt"

GUESTS="xf-record xf-two xf-pause xf-volume xf-mute"

# create NAME: create /scenario/NAME.cfg and note its domid. The guests are
# created one after the other without waiting for the previous one to finish
# (xl create itself is serialised by xl's lock; each guest's demo runs while
# the next one is being created), then waited for in order.
create() {
  stage "$1"
  check "$1: xl create" xl_create "/scenario/$1.cfg" || return 1
  echo "$1 $(xl domid "$1")" >> "$OUT/domids.txt"
}
# finish NAME: wait for the demo to finish and the domain to power off, keep its console.
finish() {
  grep -q "^$1 " "$OUT/domids.txt" || return 1
  check "$1: XENSND-DONE ok" wait_console "$1" 90 'XENSND-DONE ok'
  check "$1: powered off" wait_gone "$1" 60
  cp "$(console_log "$1")" "$OUT/console-$1.log" 2>/dev/null
}
domid_of() { sed -n "s/^$1 \([0-9][0-9]*\)\$/\1/p" "$OUT/domids.txt"; }
backend_log() { grep -qE "$1" "$OUT/backend.log"; }

stage backend
start_bg backend /project/sndback --out-dir "$OUT/wav" --stats "$OUT/sndback-stats.json" \
  --source wav:/scenario/capture-source.wav --log debug

for guest in $GUESTS; do create "$guest"; done
stage wait
for guest in $GUESTS; do finish "$guest"; done
stage checks

check "record: stream mic negotiated 48000 Hz 2 ch s16" \
  grep -qE 'stream mic: 48000 Hz, 2 ch, s16_le' "$OUT/console-xf-record.log"
check "record: 24000 frames captured" \
  grep -qE 'XENSND-RESULT capture frames=24000 peak=[1-9]' "$OUT/console-xf-record.log"

check "two: spk result" grep -qE 'XENSND-RESULT stream=spk frames=48000 position=48000 ' "$OUT/console-xf-two.log"
check "two: spk2 result" grep -qE 'XENSND-RESULT stream=spk2 frames=48000 position=48000 ' "$OUT/console-xf-two.log"

check "pause: paused" grep -qE 'XENSND-PAUSE queued=[0-9]+ position=[0-9]+' "$OUT/console-xf-pause.log"
check "pause: resumed" grep -qE 'XENSND-RESUME queued=[0-9]+ position=[0-9]+' "$OUT/console-xf-pause.log"
check "pause: result" grep -qE 'XENSND-RESULT stream=spk frames=48000 position=48000 ' "$OUT/console-xf-pause.log"

d=$(domid_of xf-volume)
check "volume: sndback logged SET_VOLUME -6000 per channel" \
  backend_log "dom$d/vsnd0/0/0\(spk\): SET_VOLUME \[-6000, -6000\]"

d=$(domid_of xf-mute)
check "mute: sndback logged both mute flags set" \
  backend_log "dom$d/vsnd0/0/0\(spk\): mute flags \[true, true\]"

sleep 1
stop_bg backend
ls -l "$OUT/wav"
result PASS "sndif features: capture from a WAV, two PCMs at once, pause/resume, volume, mute"
