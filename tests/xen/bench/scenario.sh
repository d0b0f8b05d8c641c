# The QEMU+Xen bench (make bench-xen; tools/bench turns $OUT/runs into
# xen.json). One directory per guest run, $OUT/runs/<run>/:
#   t0.txt       busybox adjtimex (dom0's CLOCK_REALTIME, us) just before `xl create`
#                (busybox date has no %N); t1.txt: the same when xl create returned
#   xl-rc.txt    xl create's exit status; xl-create.log its output
#   gone.txt     0 when the domain powered off within the limit
#   console.log  the guest's console; stats.json sndback --stats; sndback.log; wav/
# Runs:
#   boot-xensnd-N / boot-linux-N  boot to first audio (1 s tone; xensnd and the
#                                 Linux domU alternate, RUNS each)
#   period-xensnd / period-linux  PROTOCOL_SECONDS of 48 kHz stereo s16, PERIOD-frame
#                                 periods, BUFFER-frame buffer (backend counters)
#   memory-M                      the xensnd tone (1 s) with memory = M MiB
#   linux-memory-M                the Linux domU playing the 1 s tone with memory = M
#                                 MiB (a 1 s buffer: no underrun can spoil the WAV)
# A failing run is recorded, never a failed bench.
. /scenario/bench.conf
mkdir -p "$OUT/runs"

# bench_run RUN CFG NAME LIMIT_S [XL_KEY=VALUE...]: sndback (fresh, --stats),
# xl create, wait until the domain is gone, stop sndback.
bench_run() {
  _run=$1 _dir=$OUT/runs/$1 _cfg=$2 _name=$3 _limit=$4
  shift 4
  mkdir -p "$_dir/wav"
  stage "bench-$(basename "$_dir")"
  /project/sndback --out-dir "$_dir/wav" --stats "$_dir/stats.json" > "$_dir/sndback.log" 2>&1 &
  _backend=$!
  waitfor 30 grep -q 'watching' "$_dir/sndback.log" || log "sndback not ready for $_run"
  adjtimex > "$_dir/t0.txt"
  timeout 180 xl create "$_cfg" "name=\"$_name\"" "cpus=\"$GUEST_CPUS\"" "$@" > "$_dir/xl-create.log" 2>&1
  _rc=$?
  adjtimex > "$_dir/t1.txt"
  echo "$_rc" > "$_dir/xl-rc.txt"
  if [ "$_rc" = 0 ]; then
    wait_gone "$_name" "$_limit"; echo $? > "$_dir/gone.txt"
    domain_gone "$_name" || timeout 30 xl destroy "$_name"
  fi
  cp "$(console_log "$_name")" "$_dir/console.log" 2>/dev/null
  kill "$_backend" 2>/dev/null
  waitfor 10 sh -c "! kill -0 $_backend 2>/dev/null" || kill -9 "$_backend" 2>/dev/null
  log "run $_run: xl create rc=$_rc, gone=$(cat "$_dir/gone.txt" 2>/dev/null)"
}

stage bench-start
if [ ! -x /project/sndback ] || [ ! -f /project/xensnd.elf ]; then
  result FAIL "the bench needs /project/sndback and /project/xensnd.elf"
  return 0
fi
sed -n 's/^memory *= *\([0-9]*\).*/\1/p' /scenario/linux.cfg > "$OUT/runs/linux-memory.txt"
echo "runs=$RUNS memory_sizes=$(echo $MEMORY_SIZES | tr " " ",") linux_memory_sizes=$(echo $LINUX_MEMORY_SIZES | tr " " ",") period=$PERIOD buffer=$BUFFER protocol_seconds=$PROTOCOL_SECONDS" > "$OUT/runs/settings.txt"
tone="demo=tone timeout-ms=10000 period=$PERIOD buffer=$BUFFER"
linux="console=hvc0 loglevel=4 harness.run=/bench-play.sh bench.period=$PERIOD bench.buffer=$BUFFER"

i=1
while [ "$i" -le "$RUNS" ]; do
  bench_run "boot-xensnd-$i" /scenario/xensnd.cfg "xb-$i" 120 "extra=\"$tone ms=1000\""
  bench_run "boot-linux-$i" /scenario/linux.cfg "lb-$i" 240 "extra=\"$linux bench.seconds=1\""
  i=$((i + 1))
done

bench_run period-xensnd /scenario/xensnd.cfg xp 180 "extra=\"$tone ms=$((PROTOCOL_SECONDS * 1000))\""
bench_run period-linux /scenario/linux.cfg lp 300 "extra=\"$linux bench.seconds=$PROTOCOL_SECONDS\""

for m in $MEMORY_SIZES; do
  bench_run "memory-$m" /scenario/xensnd.cfg "xm-$m" 120 "memory=$m" "extra=\"demo=tone ms=1000 timeout-ms=10000\""
done

for m in $LINUX_MEMORY_SIZES; do
  bench_run "linux-memory-$m" /scenario/linux.cfg "lm-$m" 150 "memory=$m" \
    "extra=\"$linux bench.seconds=1 bench.buffer=48000\""
done

result PASS "bench ran ($RUNS boot runs each, protocol runs, memory sizes $MEMORY_SIZES); figures judged on the host"
