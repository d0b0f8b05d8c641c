# Reliability of the xensnd guest and sndback under Xen (issue #8), one QEMU
# boot, five guests (host-check.sh does the sample-exact WAV checks):
#  - rl-cycles: demo=cycles: 100 x open/prepare/write a period/close; the
#    guest's grants and event channels in use after = before;
#  - rl-garbage: created paused (`xl create -p`), then sample-rates=abc is
#    written into stream 1's node before `xl unpause`: the guest names the
#    full XenStore node, sndback leaves that stream out, spk plays exactly;
#  - rl-destroy: `xl destroy` while a 120 s tone plays: sndback tears the
#    device down and still holds 0 grant mappings and 0 event channels of
#    that domain (its gnttab/evtchn handles' bookkeeping), Xen finishes the
#    domain (no dying "(null)" domain left) and its dump of dom0's event
#    channels shows sndback's ports leading to the guest before the destroy
#    and none after; rl-after then plays exactly;
#  - rl-restart: sndback is killed with SIGKILL mid-playback of a 15 s tone
#    (its backend state node stays Connected: stale), started again with
#    another --out-dir: the guest sees Disconnected, reconnects, resumes
#    from the last position played; the new WAV = the reference from that
#    frame on, the resumption within 2 s of the backend coming back; then
#    the restarted sndback is stopped with SIGTERM (it exits holding no
#    mapping and no event channel, the state node again left Connected) and
#    a third one started: the guest resumes a second time, that WAV is the
#    reference from the second resumption frame to the end.
mkdir -p "$OUT/wav" "$OUT/wav-restart" "$OUT/wav-restart2"
: > "$OUT/domids.txt"

# create NAME: create /scenario/NAME.cfg and note its domid.
create() {
  stage "$1"
  check "$1: xl create" xl_create "/scenario/$1.cfg" || return 1
  echo "$1 $(xl domid "$1")" >> "$OUT/domids.txt"
}
domid_of() { sed -n "s/^$1 \([0-9][0-9]*\)\$/\1/p" "$OUT/domids.txt"; }
save_console() { cp "$(console_log "$1")" "$OUT/console-$1.log" 2>/dev/null; }
# finish NAME: the demo finished and the domain powered off; keep its console.
finish() {
  check "$1: XENSND-DONE ok" wait_console "$1" 120 'XENSND-DONE ok'
  check "$1: powered off" wait_gone "$1" 60
  save_console "$1"
}
in_log() { grep -qE "$2" "$OUT/$1.log"; }
# no_dying, evtchn_dump, bound_to_domain: /lib/harness.sh.

stage backend
start_bg backend /project/sndback --out-dir "$OUT/wav" --stats "$OUT/sndback-stats.json" --log debug

# --- 4. cycles, and 3. garbage (created paused) while the cycles run
create rl-cycles

stage garbage
# Does xl take the garbage itself? (Recorded, not checked: xl's parser decides.)
sed "s/'STREAM, unique-id=bad, type=p'/'STREAM, unique-id=bad, type=p, sample-rates=abc'/" \
  /scenario/rl-garbage.cfg > /tmp/rl-garbage-xl.cfg
timeout 60 xl create -n /tmp/rl-garbage-xl.cfg > "$OUT/xl-dry-run-garbage.log" 2>&1
echo "xl create -n with sample-rates=abc in the config: rc=$?" >> "$OUT/xl-dry-run-garbage.log"
tail -n 3 "$OUT/xl-dry-run-garbage.log"
garbage_create() {
  timeout 120 xl -v create -p /scenario/rl-garbage.cfg "cpus=\"$GUEST_CPUS\"" \
    > "$OUT/xl-create-rl-garbage.log" 2>&1
}
check "rl-garbage: xl create -p" garbage_create
g=$(xl domid rl-garbage)
echo "rl-garbage $g" >> "$OUT/domids.txt"
node=/local/domain/$g/device/vsnd/0/0/1/sample-rates
check "rl-garbage: stream 1 is unique-id bad" sh -c "[ \"\$(xenstore-read /local/domain/$g/device/vsnd/0/0/1/unique-id)\" = bad ]"
check "rl-garbage: write sample-rates=abc" xenstore-write "$node" abc
log "garbage: $node = $(xenstore-read "$node")"
echo "$node" > "$OUT/garbage-node.txt"
check "rl-garbage: xl unpause" xl unpause rl-garbage

finish rl-cycles
finish rl-garbage
c=$(domid_of rl-cycles)
result_line=$(tr -d '\r' < "$OUT/console-rl-cycles.log" | grep -oE 'XENSND-RESULT cycles=.*' | head -n1)
log "cycles: $result_line"
field() { echo "$result_line" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
gb=$(field grants_before) ga=$(field grants_after) eb=$(field evtchns_before) ea=$(field evtchns_after)
check "cycles: 100 cycles reported" sh -c "echo '$result_line' | grep -q 'cycles=100 '"
check "cycles: grants after = before ($gb -> $ga)" test -n "$gb" -a "$gb" = "$ga"
check "cycles: event channels after = before ($eb -> $ea)" test -n "$eb" -a "$eb" = "$ea"
# sndback's own request counters (--stats), not its log: a guest's lines are
# rate-limited per stream (10 per 10 s), so 100 cycles log only the first.
# stats_requests DOMID UNIQUE-ID: that stream's "requests" line in the JSON.
stats_requests() {
  awk -v d="$1" -v u="\"$2\"," '
    $1 == "\"domid\":" { dom = $2; sub(/,/, "", dom) }
    $1 == "\"unique_id\":" { uid = $2 }
    $1 == "\"requests\":" && dom == d && uid == u { print; exit }' "$OUT/sndback-stats.json" 2>/dev/null
}
request_count() { stats_requests "$c" spk | sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p"; }
# The file is rewritten at most once a second after a teardown.
cycles_counted() { [ "$(request_count open)" = 100 ] && [ "$(request_count close)" = 100 ]; }
waitfor 10 cycles_counted || true
opens=$(request_count open) closes=$(request_count close)
logged=$(grep -cF "dom$c/vsnd0/0/0(spk): OPEN " "$OUT/backend.log" || true)
check "cycles: sndback counted 100 OPENs ($opens) and 100 CLOSEs ($closes) (--stats; $logged OPEN lines logged under the rate limit)" \
  test "$opens" = 100 -a "$closes" = 100

check "garbage: the guest names the node" \
  grep -qF "vsnd config: $node = \"abc\"" "$OUT/console-rl-garbage.log"
check "garbage: spk played" \
  grep -qE 'XENSND-RESULT stream=spk frames=48000 position=48000 ' "$OUT/console-rl-garbage.log"
check "garbage: sndback left the bad stream out" in_log backend "$node.*stream bad left out"

# --- 2. xl destroy mid-stream
create rl-destroy
d=$(domid_of rl-destroy)
check "destroy: playing" waitfor 90 in_log backend "dom$d/vsnd0/0/0\(spk\): first WRITE"
# Xen's own view of dom0's event channels (debug key 'e', in xl dmesg): the
# local ports sndback logged for dom$d lead to dom$d now ("d=$d"), and must
# not once it is destroyed. Checked both ways, so the observation itself is
# known to work.
ports=$(grep -F "dom$d/vsnd0/" "$OUT/backend.log" | grep -oE '\(local [0-9]+\)' | grep -oE '[0-9]+' | tr '\n' ' ')
log "sndback's ports for dom$d: $ports"
check "destroy: Xen's dump of dom0's event channels read" evtchn_dump 0 "$OUT/evtchn-before-destroy.txt"
before=$(bound_to_domain "$OUT/evtchn-before-destroy.txt" "$d" "$ports")
check "destroy: before: Xen shows sndback's $(echo $ports | wc -w) ports bound to dom$d ($before)" \
  test "$before" -gt 0 -a "$before" = "$(echo $ports | wc -w)"
stage xl-destroy
check "destroy: xl destroy" timeout 60 xl destroy rl-destroy
check "destroy: gone" wait_gone rl-destroy 60
save_console rl-destroy
check "destroy: sndback tore the device down" \
  waitfor 30 in_log backend "dom$d vsnd 0: (asked to close|frontend closing|frontend closed|removed|frontend state gone)"
check "destroy: sndback holds no grant mapping and no event channel of dom$d" \
  waitfor 30 in_log backend "dom$d: torn down, still held: 0 grant mappings, 0 event channels"
check "destroy: no dying domain left (nothing of it mapped)" waitfor 30 no_dying
check "destroy: Xen's dump of dom0's event channels read again" evtchn_dump 0 "$OUT/evtchn-after-destroy.txt"
after=$(bound_to_domain "$OUT/evtchn-after-destroy.txt" "$d" "$ports")
check "destroy: after: Xen shows none of sndback's ports bound to dom$d ($after)" test "$after" = 0
timeout 10 xl list > "$OUT/xl-list-after-destroy.txt" 2>&1

create rl-after
finish rl-after
check "after: spk played" \
  grep -qE 'XENSND-RESULT stream=spk frames=48000 position=48000 ' "$OUT/console-rl-after.log"

# --- 1. backend killed and started again mid-playback
create rl-restart
r=$(domid_of rl-restart)
# Kill soon after the first WRITE: by the time xl create and this check
# return the guest has often played seconds already (under TCG), and the
# kill must land well before the end of the 15 s tone.
check "restart: playing" waitfor 90 in_log backend "dom$r/vsnd0/0/0\(spk\): first WRITE"
sleep 0.5
stage kill
kill_pid=$(cat /run/backend.pid)
kill -9 "$kill_pid"
wait "$kill_pid" 2>/dev/null   # reap it (a zombie still shows in pidof)
rm -f /run/backend.pid
{
  echo "backend state after SIGKILL: $(xenstore-read /local/domain/0/backend/vsnd/$r/0/state)"
  echo "frontend state after SIGKILL: $(xenstore-read /local/domain/$r/device/vsnd/0/state)"
} | tee "$OUT/stale-state.txt"
sleep 1
stage restart
start_bg backend2 /project/sndback --out-dir "$OUT/wav-restart" --stats "$OUT/sndback2-stats.json" --log debug
# Then the same with a clean stop (SIGTERM): sndback unmaps and unbinds
# everything and exits, but also leaves the state node at Connected.
check "restart: resumed on the restarted sndback" wait_console rl-restart 90 'XENSND-RESUMED'
sleep 0.5
stage term
term_pid=$(cat /run/backend2.pid)
kill -TERM "$term_pid"
wait "$term_pid" 2>/dev/null
rm -f /run/backend2.pid
echo "backend state after SIGTERM: $(xenstore-read /local/domain/0/backend/vsnd/$r/0/state)" | tee -a "$OUT/stale-state.txt"
check "term: sndback exited holding no grant mapping and no event channel" \
  in_log backend2 "exit: still held: 0 grant mappings, 0 event channels"
sleep 1
stage restart-again
start_bg backend3 /project/sndback --out-dir "$OUT/wav-restart2" --stats "$OUT/sndback3-stats.json" --log debug
finish rl-restart
check "restart: the app saw Disconnected" grep -qE 'XENSND-DISCONNECTED position=[0-9]+' "$OUT/console-rl-restart.log"
check "restart: the frontend reconnected" grep -qE 'backend back in InitWait, reconnecting' "$OUT/console-rl-restart.log"
resumed=$(grep -cE 'XENSND-RESUMED position=[0-9]+ after_ms=[0-9]+' "$OUT/console-rl-restart.log")
check "restart: the app resumed twice (SIGKILL, SIGTERM): $resumed" test "$resumed" = 2
check "restart: the restarted sndback played" in_log backend2 "dom$r/vsnd0/0/0\(spk\): first WRITE"
check "restart: the sndback started after SIGTERM served the rest" in_log backend3 "dom$r/vsnd0/0/0\(spk\): first WRITE"
tr -d '\r' < "$OUT/console-rl-restart.log" | grep -E 'XENSND-(DISCONNECTED|RECONNECT|RESUMED|RESULT)'

# Stop it (TERM, wait until it exited, reap).
stop_bg backend3
check "end: sndback 3 exited holding no grant mapping and no event channel" \
  in_log backend3 "exit: still held: 0 grant mappings, 0 event channels"
ls -l "$OUT/wav" "$OUT/wav-restart" "$OUT/wav-restart2"
result PASS "reliability: 100 open/close cycles leak nothing, garbage stream config named and skipped, xl destroy mid-stream cleaned up, backend SIGKILL/SIGTERM + restart resumed twice"
