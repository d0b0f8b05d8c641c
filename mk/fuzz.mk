# fuzz: cargo-fuzz targets for the frontend's untrusted-input parsers
# (fuzz/, its own crate outside the workspace) and the hostile-backend
# simulator tests (tests/hostile_*.rs, part of `cargo test --workspace`).
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer, -Cpasses); only
# stable Rust is installed here, so RUSTC_BOOTSTRAP=1 unlocks them.
#
#   make fuzz-smoke                              every target, FUZZ_SMOKE_SECONDS each (a `make test` step)
#   make fuzz FUZZ_TARGET=event_page FUZZ_SECONDS=600   one target, longer
#                                                 (new inputs in out/fuzz-corpus/<target>, never in git's fuzz/corpus)
#   make hostile-test                             just the hostile-backend tests
#   make chaos-release                            the seeded stream chaos run built like the guest
#                                                 (no overflow checks; `cargo test` runs it with them)
#
# The fuzz target is FUZZ_TARGET, not TARGET: TARGET is the guest's Rust
# target (x86_64-unknown-none, Makefile), which `make ... TARGET=x` would
# override everywhere (rustup then fails with "toolchain ... does not
# support target 'x'").
TEST_STEPS += fuzz-smoke chaos-release

FUZZ_TARGETS       := ring_responses event_page xenstore_replies vsnd_config stream_chaos backend_chaos
FUZZ_SMOKE_SECONDS ?= 12
FUZZ_ENV           := RUSTC_BOOTSTRAP=1
FUZZ_TARGET        ?= ring_responses
FUZZ_SECONDS       ?= 300

.PHONY: fuzz-tool fuzz-build fuzz-smoke fuzz hostile-test chaos-release

# cargo-fuzz from crates.io when missing (a fresh clone's machine); found on
# PATH or in cargo's own bin directory.
fuzz-tool: toolchain
	@command -v cargo-fuzz >/dev/null 2>&1 || test -x "$${CARGO_HOME:-$$HOME/.cargo}/bin/cargo-fuzz" || $(CARGO) install cargo-fuzz --locked

fuzz-build: fuzz-tool
	cd fuzz && $(FUZZ_ENV) $(CARGO) fuzz build

# New inputs go to a scratch directory; the checked-in corpus is only read.
fuzz-smoke: fuzz-build
	@set -e; scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; \
	for target in $(FUZZ_TARGETS); do \
	  mkdir -p "$$scratch/$$target"; \
	  echo "== fuzz-smoke: $$target for $(FUZZ_SMOKE_SECONDS) s"; \
	  status=0; \
	  (cd fuzz && $(FUZZ_ENV) $(CARGO) fuzz run $$target "$$scratch/$$target" corpus/$$target -- \
	    -max_total_time=$(FUZZ_SMOKE_SECONDS) -print_final_stats=1) >"$$scratch/$$target.log" 2>&1 || status=$$?; \
	  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done)' "$$scratch/$$target.log" || true; \
	  if [ $$status -ne 0 ]; then \
	    tail -40 "$$scratch/$$target.log"; \
	    echo "== fuzz-smoke: $$target FAILED (crash input in fuzz/artifacts/$$target)"; exit 1; \
	  fi; \
	done; echo "== fuzz-smoke: all targets ran clean"

# The long run: libFuzzer writes new inputs into its first corpus
# directory, so that is a scratch one, FUZZ_CORPUS (out/, ignored by git,
# kept across runs so a long run builds on the last); the checked-in
# fuzz/corpus/<target> only seeds it (read, never written: a fuzz run
# never dirties the git tree). Crash inputs go to fuzz/artifacts/ (ignored).
FUZZ_CORPUS ?= $(OUT)/fuzz-corpus/$(FUZZ_TARGET)

fuzz: fuzz-build
	@case " $(FUZZ_TARGETS) " in *" $(FUZZ_TARGET) "*) ;; *) echo "no fuzz target '$(FUZZ_TARGET)'; one of: $(FUZZ_TARGETS)"; exit 2;; esac
	mkdir -p $(FUZZ_CORPUS)
	cd fuzz && $(FUZZ_ENV) $(CARGO) fuzz run $(FUZZ_TARGET) $(FUZZ_CORPUS) $(if $(wildcard fuzz/corpus/$(FUZZ_TARGET)),corpus/$(FUZZ_TARGET)) -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1

hostile-test: deps toolchain
	$(CARGO) test -p xensnd $(patsubst tests/%.rs,--test %,$(wildcard tests/hostile_*.rs))

# The seeded stream/PCM chaos run (tests/stream_chaos.rs) with the guest's
# arithmetic: release, no overflow checks, no debug assertions.
chaos-release: deps toolchain
	$(CARGO) test -p xensnd --profile release-host --test stream_chaos -- --nocapture
