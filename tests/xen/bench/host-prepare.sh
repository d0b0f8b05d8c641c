# Host side, before the boot: the tone the Linux domU plays (the same 440 Hz,
# -6 dBFS tone the xensnd guest generates), also kept as the reference for the
# xensnd guest's 1 s tone (the host-side summary compares sndback's WAVs to it).
set -euo pipefail
(cd "$PROJECT" && cargo build --release -q -p wavtool)
wavtool=$PROJECT/target/release/wavtool
mkdir -p "$OUT/reference" "$DOMU_DIR/bench"
"$wavtool" tone --freq 440 --ms 1000 --out "$OUT/reference/tone-1000.wav"
cp "$OUT/reference/tone-1000.wav" "$DOMU_DIR/bench/tone-1000.wav"
# What dom0 runs (environment of make bench-xen / run.sh).
{
  echo "RUNS=${BENCH_XEN_RUNS:-3}"
  echo "MEMORY_SIZES=\"${BENCH_XEN_MEMORY:-1 2 4 8 16 32}\""
  echo "LINUX_MEMORY_SIZES=\"${BENCH_XEN_LINUX_MEMORY:-32 64 128}\""
  echo "PERIOD=480 BUFFER=${BENCH_XEN_BUFFER:-9600} PROTOCOL_SECONDS=${BENCH_XEN_SECONDS:-10}"
  echo "UNDERRUN_SECONDS=${BENCH_XEN_UNDERRUN_SECONDS:-30}"
  echo "UNDERRUN_BUFFERS_MS=\"${BENCH_XEN_UNDERRUN_BUFFERS_MS:-5 10 20 40 80 160}\""
  echo "UNDERRUN_PERIODS=${BENCH_XEN_UNDERRUN_PERIODS:-2}"
  echo "UNDERRUN_LOADS=\"${BENCH_XEN_UNDERRUN_LOADS:-dom0-hog busy-guest}\""
  echo "UNDERRUNS_ONLY=${BENCH_XEN_UNDERRUNS_ONLY:-0}"
  echo "SNDBACK_ARGS=\"${BENCH_XEN_SNDBACK_ARGS:-}\""
} > "$DOM0_DIR/bench.conf"
