# xensnd: two commands for a new user, `make run` and `make test`.
# Every target installs what it needs (Debian packages via apt-get when they are
# missing; the Rust toolchain and target via rust-toolchain.toml).
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT      := $(abspath .)
OUT       ?= $(ROOT)/out
CARGO     ?= cargo
TARGET    := x86_64-unknown-none
GUEST_ELF := $(ROOT)/target/$(TARGET)/release/xensnd
AUDIODOMAIN_ELF := $(ROOT)/target/$(TARGET)/release/audiodomain
# The crates that build for the guest (the rest are host-only: sndback, the
# simulator, the tools).
GUEST_CRATES := -p xensnd -p xen-abi -p xen-guest -p xensnd-pcm -p xensnd-sndif -p xensnd-backend -p xensnd-mix -p xensnd-audiodomain -p xensnd-demo -p hello -p audiodomain

# Debian packages the host build and tests need (more are added by mk/*.mk).
APT_PACKAGES := gcc libc6-dev libxen-dev pkg-config

# Steps of `make test`, in order; mk/*.mk files append to these.
TEST_STEPS := check-fmt clippy-host clippy-target test-host
RUN_STEPS  :=
BENCH_STEPS :=

.PHONY: help deps toolchain test run bench check-fmt clippy-host clippy-target test-host guest guest-audiodomain doc clean

help:
	@echo "make run    build everything, boot Xen in QEMU, run the demo, write its audio to $(OUT)"
	@echo "make test   every test: format, lints, host tests, QEMU boot and QEMU+Xen smoke tests"
	@echo "make bench  benchmarks (print numbers, never fail for being slow)"

include $(sort $(wildcard mk/*.mk))

# Install missing Debian packages (idempotent; apt-get update only when needed).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "== installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

# rustup reads rust-toolchain.toml and installs the channel, target and components.
toolchain:
	@rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
	@rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET)

check-fmt: toolchain
	$(CARGO) fmt --all --check

clippy-host: deps toolchain
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clippy-target: toolchain
	$(CARGO) clippy $(GUEST_CRATES) --target $(TARGET) --lib --bins -- -D warnings

test-host: deps toolchain
	$(CARGO) test --workspace

guest: toolchain
	$(CARGO) build -p xensnd-demo --bin xensnd --release --target $(TARGET)

# The audio domain's image (apps/audiodomain: serves other guests' vsnd
# devices, plays their mix): $(AUDIODOMAIN_ELF).
guest-audiodomain: toolchain
	$(CARGO) build -p audiodomain --bin audiodomain --release --target $(TARGET)

doc: toolchain
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --lib $(GUEST_CRATES) --target $(TARGET)
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p xensnd-sim -p xensnd-pcm -p xensnd-sndif

test: $(TEST_STEPS)
	@echo "== make test: all steps passed ($(TEST_STEPS))"

run: $(RUN_STEPS)

bench: $(BENCH_STEPS)

clean:
	$(CARGO) clean
	rm -rf $(OUT)
