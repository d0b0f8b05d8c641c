#!/bin/bash
# After a PASS of sndif-features: the sample-exact checks, on the host.
#  1. capture: the guest's CRC-32 of its 24000 captured frames equals that of
#     the first 24000 frames of capture-source.wav looped (as sndback's wav:
#     source plays it); the capture stream's format is the file's;
#  2. two PCMs at once: dom<d>-spk.wav = 440 Hz and dom<d>-spk2.wav = 880 Hz
#     references, sample for sample, and sndback's log shows them on PCM 0
#     and PCM 1, running at once;
#  3. pause/resume: the WAV still equals the 1 s reference; the positions the
#     guest printed are monotonic (0 < at pause <= at resume <= queued <=
#     final, so the pause was mid-stream) and the final one is the frames played;
#     sndback saw TRIGGER start, pause, resume, stop, paused >= 0.4 s;
#  4. volume/mute: sndback counted one SET_VOLUME / MUTE, and its WAV is the
#     reference x 10^(-6/20) (each sample within 1 LSB, peak ratio within 1 %
#     of 0.501) / all zero.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../host-check-lib.sh"
# field NAME KEY: the value of KEY= in the guest's XENSND-RESULT line for NAME
result_field() { console "$1" | grep -E "XENSND-RESULT $2" | head -n1 | sed -n "s/.* $3=\([^ ]*\).*/\1/p"; }
# stat DOMID UNIQUE_ID REQUEST: sndback's request counter of that stream
stat() {
  python3 - "$OUT/sndback-stats.json" "$1" "$2" "$3" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
found = [s for s in stats["streams"] if s["domid"] == int(sys.argv[2]) and s["unique_id"] == sys.argv[3]]
print(found[0]["requests"][sys.argv[4]] if found else "missing")
PY
}
# triggers DOMID UNIQUE_ID: "OP:NS" for each TRIGGER sndback logged on that stream, in order
triggers() {
  grep -oE "dom$1/vsnd0/[0-9]+/[0-9]+\($2\): TRIGGER [0-9] .* at [0-9]+ ns" "$OUT/backend.log" \
    | sed -E 's/.*TRIGGER ([0-9]) .* at ([0-9]+) ns/\1:\2/' | tr '\n' ' ' | sed 's/ $//'
}
# trigger_ns "OP:NS ..." OP: the time of the first TRIGGER OP
trigger_ns() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2:\([0-9]*\)\$/\1/p" | head -n1; }
refs=$OUT/references
mkdir -p "$refs"

# --- 0. the committed capture source is what make-capture-source.sh makes
WAVTOOL=$WAVTOOL "$HERE/make-capture-source.sh" "$refs/capture-source.wav" > /dev/null
if cmp -s "$refs/capture-source.wav" "$HERE/capture-source.wav"; then
  ok "capture-source.wav is make-capture-source.sh's output"
else
  bad "capture-source.wav differs from make-capture-source.sh's output (regenerate it)"
fi

# --- 1. capture
d=$(domid xf-record)
if console xf-record | grep -qE 'stream mic: 48000 Hz, 2 ch, s16_le'; then
  ok "capture stream mic: 48000 Hz, 2 ch, s16_le = capture-source.wav's format"
else
  bad "capture stream format is not the source's (48000 Hz, 2 ch, s16_le): $(console xf-record | grep 'stream mic' || true)"
fi
frames=$(result_field xf-record capture frames)
got=$(result_field xf-record capture crc32)
want=$("$WAVTOOL" crc32 --frames "${frames:-24000}" --loop "$HERE/capture-source.wav")
if [ "$frames" = 24000 ] && [ "$got" = "$want" ]; then
  ok "capture dom$d: guest crc32=$got over $frames frames = first $frames frames of capture-source.wav (looped)"
else
  bad "capture dom$d: guest frames=$frames crc32=$got, source crc32=$want"
fi

# compare_ref NAME WAV FREQ: WAV equals the FREQ Hz reference, and the guest's crc32 is the reference's
compare_ref() {
  local name=$1 wav=$2 freq=$3 id=$4 ref="$refs/tone-$3.wav"
  [ -f "$ref" ] || "$WAVTOOL" tone --freq "$freq" --ms 1000 --out "$ref" > /dev/null
  if [ ! -f "$wav" ]; then bad "$name: $wav missing"; return; fi
  local verdict
  if verdict=$("$WAVTOOL" compare "$ref" "$wav"); then
    ok "$name: $(basename "$wav") = $freq Hz reference: $verdict"
  else
    bad "$name: $(basename "$wav") != $freq Hz reference: $verdict"
  fi
  local guest_crc ref_crc
  guest_crc=$(result_field "$name" "stream=$id " crc32)
  ref_crc=$("$WAVTOOL" crc32 "$ref")
  if [ "$guest_crc" = "$ref_crc" ]; then
    ok "$name: guest's $id crc32=$guest_crc = reference's"
  else
    bad "$name: guest's $id crc32=$guest_crc, reference's $ref_crc"
  fi
}

# --- 2. two streams on two PCMs
d=$(domid xf-two)
compare_ref xf-two "$OUT/wav/dom$d-spk.wav" 440 spk
compare_ref xf-two "$OUT/wav/dom$d-spk2.wav" 880 spk2
# at once, on two PCMs: sndback served spk on PCM 0 and spk2 on PCM 1, and
# each stream was started (TRIGGER 0) before the other one stopped (TRIGGER 2)
t1=$(triggers "$d" spk) t2=$(triggers "$d" spk2)
start1=$(trigger_ns "$t1" 0) stop1=$(trigger_ns "$t1" 2)
start2=$(trigger_ns "$t2" 0) stop2=$(trigger_ns "$t2" 2)
if grep -q "dom$d/vsnd0/0/0(spk): OPEN" "$OUT/backend.log" && grep -q "dom$d/vsnd0/1/0(spk2): OPEN" "$OUT/backend.log" \
   && [ -n "$start1" ] && [ -n "$stop1" ] && [ -n "$start2" ] && [ -n "$stop2" ] \
   && [ "$start1" -lt "$stop2" ] && [ "$start2" -lt "$stop1" ]; then
  ok "xf-two: sndback played PCM 0 (spk) $start1..$stop1 ns and PCM 1 (spk2) $start2..$stop2 ns: at once"
else
  bad "xf-two: not two PCMs playing at once: spk '$t1', spk2 '$t2'"
fi

# --- 3. pause / resume
d=$(domid xf-pause)
compare_ref xf-pause "$OUT/wav/dom$d-spk.wav" 440 spk
pause_line=$(console xf-pause | grep -oE 'XENSND-PAUSE queued=[0-9]+ position=[0-9]+' | head -n1 || true)
resume_line=$(console xf-pause | grep -oE 'XENSND-RESUME queued=[0-9]+ position=[0-9]+' | head -n1 || true)
queued=$(echo "$pause_line" | sed -n 's/.*queued=\([0-9]*\).*/\1/p')
paused=$(echo "$pause_line" | sed -n 's/.*position=\([0-9]*\).*/\1/p')
resumed=$(echo "$resume_line" | sed -n 's/.*position=\([0-9]*\).*/\1/p')
final=$(result_field xf-pause "stream=spk " position)
played=$(result_field xf-pause "stream=spk " frames)
if [ -n "$queued" ] && [ -n "$paused" ] && [ -n "$resumed" ] && [ -n "$final" ] \
   && [ "$queued" -ge 28800 ] && [ "$paused" -gt 0 ] && [ "$paused" -le "$resumed" ] && [ "$resumed" -le "$queued" ] \
   && [ "$resumed" -le "$final" ] && [ "$final" = "$played" ] && [ "$played" = 48000 ]; then
  ok "pause: queued=$queued at pause, position $paused (paused) <= $resumed (resumed) <= $final (final) = frames played $played"
else
  bad "pause: positions: '$pause_line' '$resume_line' final=$final frames=$played"
fi
# sndback saw start, pause, resume, stop in that order, paused >= 0.4 s of
# dom0's time (the guest sleeps 0.5 s of its own clock)
t=$(triggers "$d" spk)
paused_ns=$(trigger_ns "$t" 1) resumed_ns=$(trigger_ns "$t" 3)
if [ "$(echo "$t" | sed -E 's/:[0-9]+//g')" = "0 1 3 2" ] && [ $((resumed_ns - paused_ns)) -ge 400000000 ]; then
  ok "pause: sndback TRIGGERs start, pause, resume, stop; paused $(( (resumed_ns - paused_ns) / 1000000 )) ms"
else
  bad "pause: sndback TRIGGERs (op:ns) '$t', expected start, pause, resume, stop with >= 400 ms paused"
fi

# --- 4. volume and mute
[ -f "$refs/tone-440.wav" ] || "$WAVTOOL" tone --freq 440 --ms 1000 --out "$refs/tone-440.wav" > /dev/null
d=$(domid xf-volume)
n=$(stat "$d" spk set_volume)
[ "$n" = 1 ] && ok "volume: sndback counted 1 SET_VOLUME on dom$d spk" || bad "volume: sndback counted $n SET_VOLUME on dom$d spk"
if grep -qE "dom$d/vsnd0/0/0\(spk\): SET_VOLUME \[-6000, -6000\]" "$OUT/backend.log"; then
  ok "volume: backend.log: $(grep -oE "dom$d/vsnd0/0/0\(spk\): SET_VOLUME .*" "$OUT/backend.log" | head -n1)"
else
  bad "volume: no SET_VOLUME [-6000, -6000] for dom$d in backend.log"
fi
if verdict=$("$WAVTOOL" compare --gain-mdb -6000 --tolerance 1 "$refs/tone-440.wav" "$OUT/wav/dom$d-spk.wav"); then
  ok "volume: dom$d-spk.wav: $verdict"
else
  bad "volume: dom$d-spk.wav: $verdict"
fi
ratio=$(echo "$verdict" | sed -n 's/.* = \([0-9.]*\)$/\1/p')
if [ -n "$ratio" ] && awk -v r="$ratio" 'BEGIN { g = 10 ^ (-6 / 20); exit !(r > g * 0.99 && r < g * 1.01) }'; then
  ok "volume: peak ratio $ratio within 1 % of 10^(-6/20) = 0.50119"
else
  bad "volume: peak ratio '$ratio' not within 1 % of 0.50119"
fi

d=$(domid xf-mute)
n=$(stat "$d" spk mute)
[ "$n" = 1 ] && ok "mute: sndback counted 1 MUTE on dom$d spk" || bad "mute: sndback counted $n MUTE on dom$d spk"
if grep -qE "dom$d/vsnd0/0/0\(spk\): mute flags \[true, true\]" "$OUT/backend.log"; then
  ok "mute: backend.log: $(grep -oE "dom$d/vsnd0/0/0\(spk\): mute flags .*" "$OUT/backend.log" | head -n1)"
else
  bad "mute: no 'mute flags [true, true]' for dom$d in backend.log"
fi
if verdict=$("$WAVTOOL" compare --gain-mdb -120000 --tolerance 0 "$refs/tone-440.wav" "$OUT/wav/dom$d-spk.wav"); then
  ok "mute: dom$d-spk.wav is all zero: $verdict"
else
  bad "mute: dom$d-spk.wav is not silence: $verdict"
fi

finish sndif-features
