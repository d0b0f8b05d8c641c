# fuzz: cargo-fuzz targets for the frontend's untrusted-input parsers
# (fuzz/, its own crate outside the workspace) and the hostile-backend
# simulator tests (tests/hostile_*.rs, part of `cargo test --workspace`).
#
# cargo-fuzz needs nightly-only rustc flags (-Zsanitizer, -Cpasses); only
# stable Rust is installed here, so RUSTC_BOOTSTRAP=1 unlocks them.
#
#   make fuzz-smoke                        every target, FUZZ_SMOKE_SECONDS each (a `make test` step)
#   make fuzz TARGET=event_page SECONDS=600   one target, longer
#   make hostile-test                       just the hostile-backend tests
TEST_STEPS += fuzz-smoke

FUZZ_TARGETS       := ring_responses event_page xenstore_replies vsnd_config
FUZZ_SMOKE_SECONDS ?= 12
FUZZ_ENV           := RUSTC_BOOTSTRAP=1
TARGET             ?= ring_responses
SECONDS            ?= 300

.PHONY: fuzz-tool fuzz-build fuzz-smoke fuzz hostile-test

fuzz-tool: toolchain
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

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

fuzz: fuzz-build
	cd fuzz && $(FUZZ_ENV) $(CARGO) fuzz run $(TARGET) corpus/$(TARGET) -- -max_total_time=$(SECONDS) -print_final_stats=1

hostile-test: deps toolchain
	$(CARGO) test -p xensnd $(patsubst tests/%.rs,--test %,$(wildcard tests/hostile_*.rs))
