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
#   underrun-LOAD-SYSTEM-MS       UNDERRUN_SECONDS of the tone with an MS ms buffer
#                                 (period = buffer / UNDERRUN_PERIODS) under LOAD:
#                                 dom0-hog (a busy loop on every dom0 vCPU, beside
#                                 sndback) or busy-guest (a Linux domU spinning on
#                                 the audio guests' pCPU); SYSTEM xensnd or linux.
#                                 sndback counts the underruns (its stats), the same
#                                 instrument for both; the guests' own counts too.
# BENCH_XEN_UNDERRUNS_ONLY=1 runs only the underrun sweep.
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
  # shellcheck disable=SC2086  # SNDBACK_ARGS is a list of options
  /project/sndback --out-dir "$_dir/wav" --stats "$_dir/stats.json" $SNDBACK_ARGS > "$_dir/sndback.log" 2>&1 &
  _backend=$!
  waitfor 30 grep -q 'watching' "$_dir/sndback.log" || log "sndback not ready for $_run"
  rm -f "$(console_log "$_name")"
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

if [ "$UNDERRUNS_ONLY" != 1 ]; then
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

fi

# underrun_sweep LOAD: every buffer size, xensnd then the Linux domU.
underrun_sweep() {
  for ms in $UNDERRUN_BUFFERS_MS; do
    _buffer=$((ms * 48)) _period=$((ms * 48 / UNDERRUN_PERIODS))
    bench_run "underrun-$1-xensnd-$ms" /scenario/xensnd.cfg "xu-$1-$ms" $((UNDERRUN_SECONDS + 120)) \
      "extra=\"demo=tone timeout-ms=10000 period=$_period buffer=$_buffer ms=$((UNDERRUN_SECONDS * 1000))\""
    bench_run "underrun-$1-linux-$ms" /scenario/linux.cfg "lu-$1-$ms" $((UNDERRUN_SECONDS + 240)) \
      "extra=\"console=hvc0 loglevel=4 harness.run=/bench-play.sh bench.seconds=$UNDERRUN_SECONDS bench.period=$_period bench.buffer=$_buffer\""
  done
}

for load in $UNDERRUN_LOADS; do
  stage "bench-load-$load"
  case $load in
    dom0-hog)
      _hogs=
      for _cpu in $(seq "$(grep -c ^processor /proc/cpuinfo)"); do
        sh -c 'while :; do :; done' &
        _hogs="$_hogs $!"
      done
      log "dom0 hog: busy loops (pids$_hogs)"
      underrun_sweep "$load"
      kill $_hogs 2>/dev/null
      ;;
    busy-guest)
      timeout 180 xl create /scenario/spin.cfg "cpus=\"$GUEST_CPUS\"" > "$OUT/runs/spin-create.log" 2>&1
      if waitfor 120 grep -q 'DOMU-SPIN started' "$(console_log spin)"; then
        log "busy guest: spinning on pCPU $GUEST_CPUS"
        underrun_sweep "$load"
      else
        log "busy guest did not start: no $load rows"
      fi
      timeout 30 xl destroy spin
      ;;
    *) log "unknown underrun load $load" ;;
  esac
done
echo "underrun_seconds=$UNDERRUN_SECONDS underrun_buffers_ms=$(echo $UNDERRUN_BUFFERS_MS | tr " " ",") underrun_periods=$UNDERRUN_PERIODS underrun_loads=$(echo $UNDERRUN_LOADS | tr " " ",") sndback_args=$(echo $SNDBACK_ARGS | tr " " ",")" >> "$OUT/runs/settings.txt"

result PASS "bench ran ($RUNS boot runs each, protocol runs, memory sizes $MEMORY_SIZES); figures judged on the host"
