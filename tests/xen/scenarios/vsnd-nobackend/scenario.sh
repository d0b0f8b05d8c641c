# Without a sound backend in dom0:
#  1. the dom0 helper users run instead of bare `xl create` (/project/xl-create-vsnd,
#     sndback/xl-create-vsnd.sh) refuses at once and tells them to start the backend;
#  2. bare `xl create` of a guest with vsnd= fails too (libxl waits 10 s for the
#     backend to reach InitWait; its message does not name the backend) and leaves
#     no domain behind.
stage helper
if [ ! -x /project/xl-create-vsnd ]; then result FAIL "no /project/xl-create-vsnd (ships with sndback)"; return 0; fi
start=$(uptime_s)
/project/xl-create-vsnd /scenario/vsnd.cfg cpus=\"$GUEST_CPUS\" > "$OUT/helper-message.txt" 2>&1
status=$?
cat "$OUT/helper-message.txt"
log "xl-create-vsnd exited $status after $(( $(uptime_s) - start )) s"
check "xl-create-vsnd fails without a backend" [ "$status" -ne 0 ]
check "xl-create-vsnd tells the user to start the backend" \
  grep -qF 'xensnd: no sound backend is running in dom0: start sndback first (sndback --out-dir DIR &), then xl create again' \
  "$OUT/helper-message.txt"
check "xl-create-vsnd created no domain" domain_gone nobe
stage bare-xl
if xl_create /scenario/vsnd.cfg; then
  result FAIL "xl create with vsnd succeeded without a backend"
else
  grep -E 'vsnd|timed out|unable to add' "$OUT/xl-create-vsnd.log" | tail -n 5 > "$OUT/nobackend-message.txt"
  cat "$OUT/nobackend-message.txt"
  check "xl explains the vsnd failure" grep -q 'vsnd' "$OUT/nobackend-message.txt"
  check "no domain left behind" wait_gone nobe 30
  result PASS "without a backend xl-create-vsnd says to start sndback; bare xl create fails and leaves no domain"
fi
