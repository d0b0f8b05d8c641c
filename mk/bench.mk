# bench: `make bench` measures on the host (tools/bench, the simulator) and
# prints one table, also written as JSON to $(OUT)/bench/bench.json.
#
# - bench-host:   protocol cost per period, data-path instructions under
#                 callgrind against a plain copy, simulated throughput, ELF
#                 size -> $(OUT)/bench/host.json (needs valgrind).
# - bench-report: the table, from host.json plus $(OUT)/bench/xen.json if the
#                 QEMU+Xen bench wrote one (schema: tools/bench/src/main.rs);
#                 Xen rows say "not run (make bench-xen)" otherwise.
#
# The Xen-side bench (boot to first audio vs a Linux domU, the Linux domU's
# notifications per period, the smallest `memory =`) belongs to the harness:
# it writes $(BENCH_OUT)/xen.json and should run before the report, e.g. in
# its own mk file:  BENCH_STEPS += bench-xen  and  bench-report: bench-xen
# - bench-plot:   draws $(OUT)/bench/underruns.png (underruns against buffer
#                 size, one line per system) from $(OUT)/bench/underruns.json
#                 with `wavtool underruns` when a bench wrote that file
#                 (schema: tools/wavtool/src/chart.rs, `UnderrunRow`).
# Benchmarks never fail for being slow; they only fail when they cannot run.
APT_PACKAGES += valgrind binutils
BENCH_STEPS += bench-host bench-report bench-plot

BENCH_OUT := $(OUT)/bench
BENCH_BIN := $(ROOT)/target/release/xensnd-bench

.PHONY: bench-host bench-report bench-quick bench-plot

bench-host: deps toolchain guest
	$(CARGO) build --release -p xensnd-bench
	$(BENCH_BIN) run --out $(BENCH_OUT) --guest-elf $(GUEST_ELF)

bench-report: bench-host
	$(BENCH_BIN) report --out $(BENCH_OUT)

# A fast pass (short durations) for trying the bench out.
bench-quick: deps toolchain guest
	$(CARGO) build --release -p xensnd-bench
	$(BENCH_BIN) run --quick --out $(BENCH_OUT) --guest-elf $(GUEST_ELF)
	$(BENCH_BIN) report --out $(BENCH_OUT)

# The underrun picture, when the rows exist (the QEMU+Xen underrun bench
# writes them); text never needs it.
bench-plot: bench-report
	$(CARGO) build --release -p wavtool
	@if [ -f $(BENCH_OUT)/underruns.json ]; then \
	  $(ROOT)/target/release/wavtool underruns $(BENCH_OUT)/underruns.json $(BENCH_OUT)/underruns.png; \
	else \
	  echo "bench: no $(BENCH_OUT)/underruns.json yet (written by the Xen underrun bench): no underrun picture"; \
	fi
