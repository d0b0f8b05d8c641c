# QEMU+Xen smoke tests (tests/xen): Xen 4.17 + Debian's kernel as dom0 in QEMU TCG.
#   make xen-deps                               fetch + unpack the Debian packages (cached)
#   make test-xen                               every scenario in tests/xen/scenarios
#   make xen-scenario SCENARIO=dir [OUT=dir]    one scenario of yours (see tests/xen/README.md)
# XEN_CACHE (default target/xen-cache) holds the packages across runs.

APT_PACKAGES += qemu-system-x86 cpio kmod xz-utils binutils bc file python3
TEST_STEPS   += test-xen

XEN_TESTS      := $(ROOT)/tests/xen
# the harness self-test first, then the rest; any new directory under scenarios/ joins the suite
XEN_FIRST      := selftest vsnd-nobackend linux-domu linux-sndback boot
XEN_SCENARIOS  := $(XEN_FIRST) $(filter-out $(XEN_FIRST),$(sort $(notdir $(wildcard $(XEN_TESTS)/scenarios/*))))
XEN_OUT        ?= $(OUT)/xen

.PHONY: xen-deps test-xen xen-scenario xen-build-sndback $(addprefix xen-test-,$(XEN_SCENARIOS))

xen-deps: deps
	$(XEN_TESTS)/fetch.sh

# the dom0 backend, shipped to dom0 as /project/sndback
xen-build-sndback: deps toolchain
	$(CARGO) build --release -p sndback

# Every scenario, each in its own QEMU boot; all run, then the failures are listed,
# with each scenario's wall time (run.sh prints the stages inside each one).
test-xen: xen-deps guest guest-audiodomain xen-build-sndback
	@failed=""; times=""; all=$$(date +%s); for s in $(XEN_SCENARIOS); do \
	  echo "== xen scenario $$s"; t0=$$(date +%s); \
	  $(XEN_TESTS)/run.sh --scenario $(XEN_TESTS)/scenarios/$$s --out $(XEN_OUT)/$$s || failed="$$failed $$s"; \
	  times="$$times $$s=$$(( $$(date +%s) - t0 ))s"; \
	done; \
	echo "== test-xen times:$$times; total $$(( $$(date +%s) - all )) s"; \
	if [ -n "$$failed" ]; then echo "== test-xen FAILED:$$failed (outputs in $(XEN_OUT))"; exit 1; fi; \
	echo "== test-xen: all scenarios passed ($(XEN_SCENARIOS))"

# One scenario of the suite: make xen-test-selftest
$(addprefix xen-test-,$(XEN_SCENARIOS)): xen-test-%: xen-deps guest guest-audiodomain xen-build-sndback
	$(XEN_TESTS)/run.sh --scenario $(XEN_TESTS)/scenarios/$* --out $(XEN_OUT)/$*

# A user's own scenario directory: make xen-scenario SCENARIO=path [OUT=path] [TIMEOUT=s]
xen-scenario: xen-deps guest guest-audiodomain xen-build-sndback
	@test -n "$(SCENARIO)" || { echo "usage: make xen-scenario SCENARIO=dir [OUT=dir] [TIMEOUT=seconds]"; exit 2; }
	$(XEN_TESTS)/run.sh --scenario $(SCENARIO) --out $(if $(filter command line,$(origin OUT)),$(OUT),$(XEN_OUT)/$(notdir $(abspath $(SCENARIO)))) $(if $(TIMEOUT),--timeout $(TIMEOUT))
