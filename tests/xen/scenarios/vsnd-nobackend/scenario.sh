# Without a sound backend in dom0, `xl create` of a guest with vsnd= must fail
# (libxl waits 10 s for the backend to reach InitWait) and leave no domain behind.
# The message lands in $OUT/xl-create-vsnd.log (the docs quote it: start sndback first).
stage no-backend
if xl_create /scenario/vsnd.cfg; then
  result FAIL "xl create with vsnd succeeded without a backend"
else
  grep -E 'vsnd|timed out|unable to add' "$OUT/xl-create-vsnd.log" | tail -n 5 > "$OUT/nobackend-message.txt"
  cat "$OUT/nobackend-message.txt"
  check "xl explains the vsnd failure" grep -q 'vsnd' "$OUT/nobackend-message.txt"
  check "no domain left behind" wait_gone nobe 30
  result PASS "xl create failed as expected without a backend"
fi
