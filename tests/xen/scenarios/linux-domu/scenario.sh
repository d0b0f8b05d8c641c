# Linux PVH domU with a vsnd card: snd_xen_front loads, reaches Connected and
# registers an ALSA card that aplay/arecord list; a 256 KiB file printed by the
# domU as base64 comes back to the host intact (host-check.sh).
# Backend: tests/xen/scenarios/linux-domu/fakebe.sh (XenBus states only). To test
# the real backend instead, replace the start_bg line with e.g.
#   start_bg backend /project/sndback <its options>
stage backend
start_bg backend sh /scenario/fakebe.sh
check "xl create lx.cfg (Linux PVH domU + vsnd)" xl_create /scenario/lx.cfg
# vcpu-list row: name id vcpu cpu state time affinity(hard) affinity(soft)
pinned() { xl vcpu-list lx | awk -v want="$GUEST_CPUS" '$1=="lx" && $7==want{ok=1} END{exit !ok}'; }
check "domU pinned to the guest pCPUs ($GUEST_CPUS)" pinned
check "domU ran its script" wait_console lx 120 'HARNESS-DOMU-DONE'
log=$(console_log lx)
check "snd_xen_front loaded" grep -q '^snd_xen_front' "$log"
check "ALSA card registered" grep -q 'DOMU-CARD-OK' "$log"
check "aplay lists the card" grep -qE '^card [0-9]+: vsnd .*device 0: main' "$log"
# the domU -> dom0 -> host file path (what a capture test uses for arecord output)
check "domU file came back over its console" save_b64 "$log" blob "$OUT/domu-blob.bin"
hash=$(grep -m1 'DOMU-BLOB-SHA256' "$log" | tr -d '\r' | cut -d' ' -f2)
echo "$hash  domu-blob.bin" > "$OUT/domu-blob.sha256"
check "vsnd device Connected" grep -qE 'DOMU-VSND vsnd-0 state=(4|connected|Connected)' "$log"
check "domU powered off" wait_gone lx 40
stop_bg backend
result PASS "Linux domU saw the vsnd card"
