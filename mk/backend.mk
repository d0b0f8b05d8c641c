# backend: the sndif backend engine (crates/backend) and the dom0 program that
# runs it over Xen's libraries (sndback/). Host tests: tests/backend_*.rs,
# the engine's unit tests and sndback's own (all part of `cargo test --workspace`).
APT_PACKAGES += libxen-dev
TEST_STEPS += sndback
RUN_STEPS += sndback

SNDBACK_BIN := $(ROOT)/target/release/sndback

.PHONY: sndback backend-test

# The dom0 binary, linked against Debian's libxenstore/libxenevtchn/libxengnttab
# (the dom0 initramfs copies those same libraries).
sndback: deps toolchain
	$(CARGO) build --release -p sndback
	@echo "== sndback: $(SNDBACK_BIN)"

# Just the backend's tests: the engine (unit + tests/backend_*.rs) and sndback.
backend-test: deps toolchain
	$(CARGO) test -p xensnd-backend --lib
	$(CARGO) test -p xensnd $(patsubst tests/%.rs,--test %,$(wildcard tests/backend_*.rs))
	$(CARGO) test -p sndback
