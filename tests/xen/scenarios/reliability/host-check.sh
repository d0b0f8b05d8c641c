#!/bin/bash
# After a PASS of reliability: the sample-exact checks and the resumption
# time, on the host.
#  1. rl-restart: the restarted sndback's WAV equals the 10 s reference from
#     the frame the guest resumed at (XENSND-RECONNECT position=N), to the
#     end; the guest's CRC-32 over the whole signal is the reference's;
#     resumption within 2 s of the backend coming back, measured twice:
#     in the guest (the poll that saw the backend's InitWait and reconnected
#     -> first frames accepted again, XENSND-RESUMED after_ms) and in dom0
#     (the new sndback's InitWait for the device -> its first WRITE, both on
#     sndback's own clock);
#  2. rl-garbage, rl-after: their WAVs equal the 1 s reference.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
WAVTOOL=${WAVTOOL:-$ROOT/target/release/wavtool}
[ -x "$WAVTOOL" ] || (cd "$ROOT" && cargo build --release -p wavtool)
: "${OUT:?set OUT to the output directory of the run}"
failures=0
ok() { echo "host-check ok: $*"; }
bad() { echo "host-check FAIL: $*"; failures=$((failures + 1)); }
console() { tr -d '\r' < "$OUT/console-$1.log"; }
domid() { sed -n "s/^$1 \([0-9][0-9]*\)\$/\1/p" "$OUT/domids.txt"; }
refs=$OUT/references
mkdir -p "$refs"
"$WAVTOOL" tone --freq 440 --ms 1000 --out "$refs/tone-440-1000.wav" > /dev/null
"$WAVTOOL" tone --freq 440 --ms 10000 --out "$refs/tone-440-10000.wav" > /dev/null

exact() { # NAME WAV REF [FROM]
  local verdict
  if [ ! -f "$2" ]; then bad "$1: $2 missing"; return; fi
  if verdict=$("$WAVTOOL" compare --expected-from "${4:-0}" "$3" "$2"); then
    ok "$1: $(basename "$2") = $(basename "$3") from frame ${4:-0}: $(echo "$verdict" | tail -n1)"
  else
    bad "$1: $(basename "$2") != $(basename "$3") from frame ${4:-0}: $verdict"
  fi
}

# --- 1. restart
r=$(domid rl-restart)
echo "host-check: $(tr '\n' ';' < "$OUT/stale-state.txt")"
from=$(console rl-restart | sed -n 's/.*XENSND-RECONNECT position=\([0-9]*\).*/\1/p' | head -n1)
queued=$(console rl-restart | sed -n 's/.*XENSND-DISCONNECTED position=[0-9]* queued=\([0-9]*\).*/\1/p' | head -n1)
guest_ms=$(console rl-restart | sed -n 's/.*XENSND-RESUMED position=[0-9]* after_ms=\([0-9]*\).*/\1/p' | head -n1)
if [ -n "$from" ] && [ "$from" -gt 0 ] && [ "$from" -lt 480000 ]; then
  ok "restart: resumed from frame $from of 480000 (queued when lost: $queued): mid-stream"
else
  bad "restart: resumption frame '$from' not mid-stream"
fi
exact restart "$OUT/wav-restart/dom$r-spk.wav" "$refs/tone-440-10000.wav" "${from:-0}"
guest_crc=$(console rl-restart | grep -E 'XENSND-RESULT stream=spk frames' | sed -n 's/.* crc32=\([0-9a-f]*\).*/\1/p' | head -n1)
frames=$(console rl-restart | grep -E 'XENSND-RESULT stream=spk frames' | sed -n 's/.* frames=\([0-9]*\).*/\1/p' | head -n1)
ref_crc=$("$WAVTOOL" crc32 "$refs/tone-440-10000.wav")
if [ "$frames" = 480000 ] && [ "$guest_crc" = "$ref_crc" ]; then
  ok "restart: guest played 480000 frames, crc32 $guest_crc = the reference's (every frame once, in order)"
else
  bad "restart: guest frames=$frames crc32=$guest_crc, reference crc32=$ref_crc"
fi
# dom0 side: the new sndback's "dom<r> vsnd 0: new device ... InitWait" -> "dom<r>/vsnd0/0/0(spk): first WRITE"
dom0_ms=$(python3 - "$OUT/backend2.log" "$r" <<'PY'
import sys, datetime, re
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
)
echo "RELIABILITY-RESUME guest_ms=${guest_ms:-?} dom0_initwait_to_first_write_ms=${dom0_ms:-?}" | tee "$OUT/resume-time.txt"
if [ -n "$guest_ms" ] && [ "$guest_ms" -le 2000 ]; then
  ok "restart: the guest resumed ${guest_ms} ms after seeing the backend back (<= 2000)"
else
  bad "restart: the guest resumed after '${guest_ms}' ms (> 2000 or missing)"
fi
if [ -n "$dom0_ms" ] && [ "$dom0_ms" -le 2000 ]; then
  ok "restart: sndback's first WRITE came ${dom0_ms} ms after it offered InitWait again (<= 2000)"
else
  bad "restart: sndback's first WRITE came '${dom0_ms}' ms after InitWait (> 2000 or missing)"
fi

# --- 2. garbage, after
exact garbage "$OUT/wav/dom$(domid rl-garbage)-spk.wav" "$refs/tone-440-1000.wav"
exact after "$OUT/wav/dom$(domid rl-after)-spk.wav" "$refs/tone-440-1000.wav"

if [ "$failures" -gt 0 ]; then
  echo "host-check: $failures check(s) FAILED"
  exit 1
fi
echo "host-check: all reliability checks passed"
