# platform: the real Xen guest platform (src/arch/x86_64/platform.rs) and the
# guest binary wired to the frontend and the demos (apps/demo on the runtime, src/rt.rs).
#   make platform-xen     the scenario tests/xen/scenarios/platform under Xen:
#                         demo=list, demo=tone (WAV compared with wavtool on
#                         the host), demo=idle + xl shutdown / xl reboot.
# The scenario also runs in `make test-xen` (every directory under
# tests/xen/scenarios joins the suite). Host tests: tests/platform_*.rs.
PLATFORM_SCENARIO := $(ROOT)/tests/xen/scenarios/platform

.PHONY: platform-xen
platform-xen: deps guest
	$(CARGO) build --release -p sndback -p wavtool
	$(ROOT)/tests/xen/run.sh --scenario $(PLATFORM_SCENARIO) --out $(OUT)/xen/platform
