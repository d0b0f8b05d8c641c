# bench-xen: the QEMU+Xen rows of `make bench` (boot to first audio against a
# Linux domU, the guests' protocol cost per period as the backend counts it,
# the smallest `memory =` that plays the tone). One QEMU+Xen boot runs
# tests/xen/bench/scenario.sh (not part of `make test-xen`); the host then
# turns its run directories into $(OUT)/bench/xen.json (xensnd-bench
# xen-summary), which bench-report puts in the table.
#
#   make bench-xen                       ~45-55 min on 2 cores (QEMU TCG)
#   BENCH_XEN_RUNS=5 make bench-xen      boots per guest for the boot medians (3)
#   BENCH_XEN_MEMORY="4 8" BENCH_XEN_SECONDS=10 BENCH_XEN_BUFFER=9600   sizes tried,
#                                        protocol run length, buffer (frames)
#   Underruns under load (xensnd and the Linux domU, sndback counting):
#   BENCH_XEN_UNDERRUN_SECONDS=30        audio per buffer size (30 s: the sweep
#                                        takes ~35 min of the bench; 10 s: ~15)
#   BENCH_XEN_UNDERRUN_BUFFERS_MS="5 10 20 40 80 160"  buffer sizes (ms)
#   BENCH_XEN_UNDERRUN_PERIODS=2         periods per buffer
#   BENCH_XEN_UNDERRUN_LOADS="dom0-hog busy-guest"  the loads (one sweep each)
#   BENCH_XEN_UNDERRUNS_ONLY=1           only the sweep (no boot/protocol/memory runs)
#   BENCH_XEN_SNDBACK_ARGS="--realtime 50"  more sndback options for every run
#
# Benchmarks never fail for being slow: a guest that fails to boot or play
# is a figure in the table; only a bench that cannot run at all fails.
BENCH_STEPS += bench-xen

BENCH_XEN_DIR := $(OUT)/bench/xen-run

.PHONY: bench-xen

bench-xen: xen-deps guest xen-build-sndback
	$(CARGO) build --release -p xensnd-bench -p wavtool
	@mkdir -p $(OUT)/bench
	@rm -f $(OUT)/bench/xen.json
	$(ROOT)/tests/xen/run.sh --scenario $(ROOT)/tests/xen/bench --out $(BENCH_XEN_DIR) \
	  || echo "== bench-xen: the QEMU+Xen run did not end with PASS (see $(BENCH_XEN_DIR)); summarising what it wrote"
	$(ROOT)/target/release/xensnd-bench xen-summary --runs $(BENCH_XEN_DIR)/runs \
	  --reference $(BENCH_XEN_DIR)/reference/tone-1000.wav \
	  --wavtool $(ROOT)/target/release/wavtool --out $(OUT)/bench/xen.json

# The report comes after the Xen bench when both run.
bench-report: bench-xen
