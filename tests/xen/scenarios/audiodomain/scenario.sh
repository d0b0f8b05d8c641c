# xensnd as the audio domain (issue #16): guests -> audio domain -> dom0.
# sndback in dom0 serves the audio domain's own card (ad.cfg, backend=0); the
# audio domain serves the cards of three clients (backend=ad), playing at the
# same time: a Linux domU playing 4 s of noise with aplay through
# snd-xen-front (lc.cfg), an xensnd guest playing a 3 s 440 Hz tone (xc.cfg)
# and an xensnd guest playing a 20 s 880 Hz tone (xd.cfg) that is destroyed
# (`xl destroy`) a second into it: the others play on, its device is torn
# down, nothing of it stays mapped or bound (Xen's own dump of the audio
# domain's event channels before and after, no domain left dying). The
# audio domain mixes them and plays the
# mix; it logs where each client's frames went in it (segments).
# host-check.sh rebuilds the mix from the clients' inputs and those segments
# and compares it with sndback's WAV sample for sample.
mkdir -p "$OUT/wav"
: > "$OUT/domids.txt"
save_console() { cp "$(console_log "$1")" "$OUT/console-$1.log" 2>/dev/null; }
create() {
  stage "create-$1"
  timeout 120 xl -v create "/scenario/$1.cfg" "cpus=\"$GUEST_CPUS\"" > "$OUT/xl-create-$1.log" 2>&1 || return 1
  echo "$1 $(xl domid "$1")" >> "$OUT/domids.txt"
}

stage backend
start_bg backend /project/sndback --out-dir "$OUT/wav" --stats "$OUT/sndback-stats.json" --log debug

check "xl create ad.cfg (the audio domain)" create ad || { tail -n 20 "$OUT/xl-create-ad.log"; save_console ad; return 0; }
check "ad: serving its backend root" wait_console ad 60 'AUDIODOMAIN serving backend root'
check "ad: output started" wait_console ad 60 'AUDIODOMAIN output started'

check "xl create lc.cfg (Linux client, backend=ad)" create lc || { tail -n 20 "$OUT/xl-create-lc.log"; save_console ad; return 0; }
xenstore-ls -f "/local/domain/$(xl domid ad)/backend" > "$OUT/ad-backend-nodes.txt" 2>&1
check "lc: aplay started" wait_console lc 240 'HARNESS-DOMU-STAGE domu-aplay '
check "xl create xc.cfg (xensnd client, backend=ad)" create xc || { tail -n 20 "$OUT/xl-create-xc.log"; save_console ad; return 0; }
check "xl create xd.cfg (xensnd client to destroy, backend=ad)" create xd || { tail -n 20 "$OUT/xl-create-xd.log"; save_console ad; return 0; }
check "xd: playing" wait_console xd 60 'stream spk: '
sleep 1
# Xen's own view, as the reliability scenario checks sndback: the local
# ports the audio domain logged for xd lead to xd now, and must not once it
# is destroyed; and no domain is left dying (a page of xd still
# grant-mapped by the audio domain would keep it so).
ad=$(xl domid ad) xd=$(xl domid xd)
ports=$(tr -d '\r' < "$(console_log ad)" | grep -F "dom$xd/vsnd0/" | grep -oE '\(local [0-9]+\)' | grep -oE '[0-9]+' | tr '\n' ' ')
log "the audio domain's ports for dom$xd: $ports"
check "Xen's dump of the audio domain's event channels read" evtchn_dump "$ad" "$OUT/evtchn-before-destroy.txt"
before=$(bound_to_domain "$OUT/evtchn-before-destroy.txt" "$xd" "$ports")
check "before: Xen shows the audio domain's $(echo $ports | wc -w) ports bound to dom$xd ($before)" \
  test "$before" -gt 0 -a "$before" = "$(echo $ports | wc -w)"
stage destroy-xd
# libxl waits for a driver domain to remove the backend nodes of a destroyed
# guest ("timed out while waiting for .../backend/vsnd/<domid>/0 to be
# removed" after 10 s otherwise): the audio domain removes them.
destroy_xd() {
  timeout 60 xl destroy xd > "$OUT/xl-destroy-xd.log" 2>&1 || return 1
  ! grep -q 'timed out' "$OUT/xl-destroy-xd.log"
}
check "xl destroy xd mid-stream (the audio domain removed its backend nodes)" destroy_xd
save_console xd
closed() { [ "$(grep -cE 'AUDIODOMAIN closed dom[0-9]+/vsnd0/0/0\(spk\)' "$(console_log ad)")" -ge "$1" ]; }
check "ad: the destroyed client's stream torn down" waitfor 60 closed 1
check "no dying domain left (nothing of xd mapped)" waitfor 30 no_dying
check "Xen's dump of the audio domain's event channels read again" evtchn_dump "$ad" "$OUT/evtchn-after-destroy.txt"
after=$(bound_to_domain "$OUT/evtchn-after-destroy.txt" "$xd" "$ports")
check "after: Xen shows none of the audio domain's ports bound to dom$xd ($after)" test "$after" = 0
check "xc: XENSND-DONE ok" wait_console xc 120 'XENSND-DONE ok'
check "lc: aplay rc=0" wait_console lc 120 'DOMU-APLAY rc=0'
check "xc: powered off" wait_gone xc 60
check "lc: powered off" wait_gone lc 120
save_console xc
save_console lc
check "ad: the three clients' streams torn down" waitfor 60 closed 3

stage shutdown
xl shutdown ad
check "ad: stopped, nothing mapped" wait_console ad 60 'AUDIODOMAIN stopped mapped=0 lost=0'
check "ad: XENSND-DONE ok" wait_console ad 60 'XENSND-DONE ok'
check "ad: powered off" wait_gone ad 60
save_console ad
stop_bg backend
ls -l "$OUT/wav"
result PASS "three clients -> audio domain -> dom0 ran; host-check.sh rebuilds the mix and compares"
