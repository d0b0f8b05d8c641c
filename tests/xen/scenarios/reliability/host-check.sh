#!/bin/bash
# After a PASS of reliability: the sample-exact checks and the resumption
# time, on the host.
#  1. rl-restart: the second sndback's WAV (started after a SIGKILL, stopped
#     with SIGTERM) equals the 15 s reference from the first frame the guest
#     resumed at (XENSND-RECONNECT position=N) for as long as it recorded
#     (at least up to the second resumption frame), the third one's from
#     the second resumption frame to the end; the guest's CRC-32 over the whole signal is the reference's;
#     each resumption within the guest's request timeout (timeout-ms=10000 in
#     its command line: the bound the app is promised; the times themselves
#     are figures, printed, not pass/fail: a loaded host stretches them —
#     ~0.4-2 s seen), measured twice:
#     in the guest (the poll that saw the backend's InitWait and reconnected
#     -> first frames accepted again, XENSND-RESUMED after_ms) and in dom0
#     (the new sndback's InitWait for the device -> its first WRITE, both on
#     sndback's own clock);
#  2. rl-garbage, rl-after: their WAVs equal the 1 s reference.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../host-check-lib.sh"
refs=$OUT/references
mkdir -p "$refs"
"$WAVTOOL" tone --freq 440 --ms 1000 --out "$refs/tone-440-1000.wav" > /dev/null
"$WAVTOOL" tone --freq 440 --ms 15000 --out "$refs/tone-440-15000.wav" > /dev/null

exact() { # NAME WAV REF [FROM [--may-end-early]]
  local verdict
  if [ ! -f "$2" ]; then bad "$1: $2 missing"; return; fi
  if verdict=$("$WAVTOOL" compare --expected-from "${4:-0}" ${5:-} "$3" "$2"); then
    ok "$1: $(basename "$2") = $(basename "$3") from frame ${4:-0}: $(echo "$verdict" | tail -n1)"
  else
    bad "$1: $(basename "$2") != $(basename "$3") from frame ${4:-0}: $verdict"
  fi
}

# --- 1. restart (SIGKILL, then SIGTERM)
r=$(domid rl-restart)
echo "host-check: $(tr '\n' ';' < "$OUT/stale-state.txt")"
nth() { console rl-restart | sed -n "$2" | sed -n "${1}p"; }
from1=$(nth 1 's/.*XENSND-RECONNECT position=\([0-9]*\).*/\1/p')
from2=$(nth 2 's/.*XENSND-RECONNECT position=\([0-9]*\).*/\1/p')
queued1=$(nth 1 's/.*XENSND-DISCONNECTED position=[0-9]* queued=\([0-9]*\).*/\1/p')
queued2=$(nth 2 's/.*XENSND-DISCONNECTED position=[0-9]* queued=\([0-9]*\).*/\1/p')
guest_ms1=$(nth 1 's/.*XENSND-RESUMED position=[0-9]* after_ms=\([0-9]*\).*/\1/p')
guest_ms2=$(nth 2 's/.*XENSND-RESUMED position=[0-9]* after_ms=\([0-9]*\).*/\1/p')
if [ -n "$from1" ] && [ -n "$from2" ] && [ "$from1" -gt 0 ] && [ "$from2" -gt "$from1" ] && [ "$from2" -lt 720000 ]; then
  ok "restart: resumed from frame $from1 (SIGKILL; queued $queued1) then $from2 (SIGTERM; queued $queued2) of 720000: mid-stream, moving on"
else
  bad "restart: resumption frames '$from1' '$from2' not mid-stream and increasing"
fi
# The second sndback's WAV: the reference from the first resumption frame
# on, until it was stopped (at or past the second resumption frame).
exact "restart (sndback 2)" "$OUT/wav-restart/dom$r-spk.wav" "$refs/tone-440-15000.wav" "${from1:-0}" --may-end-early
frames2=$(python3 -c "import wave,sys; print(wave.open(sys.argv[1]).getnframes())" "$OUT/wav-restart/dom$r-spk.wav" 2>/dev/null || echo 0)
if [ -n "$from2" ] && [ "$frames2" -ge $(( ${from2:-0} - ${from1:-0} )) ]; then
  ok "restart (sndback 2): it recorded $frames2 frames >= the $(( from2 - from1 )) it reported played"
else
  bad "restart (sndback 2): recorded $frames2 frames, reported $(( ${from2:-0} - ${from1:-0} )) played"
fi
# The third sndback's WAV: the reference from the second resumption frame to the end.
exact "restart (sndback 3)" "$OUT/wav-restart2/dom$r-spk.wav" "$refs/tone-440-15000.wav" "${from2:-0}"
guest_crc=$(console rl-restart | grep -E 'XENSND-RESULT stream=spk frames' | sed -n 's/.* crc32=\([0-9a-f]*\).*/\1/p' | head -n1)
frames=$(console rl-restart | grep -E 'XENSND-RESULT stream=spk frames' | sed -n 's/.* frames=\([0-9]*\).*/\1/p' | head -n1)
ref_crc=$("$WAVTOOL" crc32 "$refs/tone-440-15000.wav")
if [ "$frames" = 720000 ] && [ "$guest_crc" = "$ref_crc" ]; then
  ok "restart: guest played 720000 frames, crc32 $guest_crc = the reference's (every frame once, in order)"
else
  bad "restart: guest frames=$frames crc32=$guest_crc, reference crc32=$ref_crc"
fi
# dom0 side: a new sndback's "dom<r> vsnd 0: new device ... InitWait" -> "dom<r>/vsnd0/0/0(spk): first WRITE"
dom0_ms() {
  python3 - "$OUT/$1.log" "$r" <<'PY'
import sys, datetime
log, domid = sys.argv[1], sys.argv[2]
def stamp(line):
    return datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
initwait = write = None
for line in open(log):
    if initwait is None and f"dom{domid} vsnd 0: new device" in line and "InitWait" in line:
        initwait = stamp(line)
    if write is None and f"dom{domid}/vsnd0/0/0(spk): first WRITE" in line:
        write = stamp(line)
print(int((write - initwait).total_seconds() * 1000) if initwait and write else "")
PY
}
dom0_ms1=$(dom0_ms backend2)
dom0_ms2=$(dom0_ms backend3)
echo "RELIABILITY-RESUME after_sigkill: guest_ms=${guest_ms1:-?} dom0_initwait_to_first_write_ms=${dom0_ms1:-?}; after_sigterm: guest_ms=${guest_ms2:-?} dom0_initwait_to_first_write_ms=${dom0_ms2:-?}" | tee "$OUT/resume-time.txt"
bound_ms=10000
within() { # WHAT MS
  if [ -n "$2" ] && [ "$2" -le "$bound_ms" ]; then ok "restart: $1: $2 ms (<= $bound_ms)"; else bad "restart: $1: '$2' ms (> $bound_ms or missing)"; fi
}
within "after SIGKILL, guest saw the backend back -> first frames accepted" "$guest_ms1"
within "after SIGKILL, sndback 2 InitWait -> its first WRITE" "$dom0_ms1"
within "after SIGTERM, guest saw the backend back -> first frames accepted" "$guest_ms2"
within "after SIGTERM, sndback 3 InitWait -> its first WRITE" "$dom0_ms2"

# --- 2. garbage, after
exact garbage "$OUT/wav/dom$(domid rl-garbage)-spk.wav" "$refs/tone-440-1000.wav"
exact after "$OUT/wav/dom$(domid rl-after)-spk.wav" "$refs/tone-440-1000.wav"

finish reliability
