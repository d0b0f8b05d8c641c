# The starter application (apps/hello) as a user builds it: a copy outside
# this workspace, built, host-tested and run under QEMU+Xen by the README's
# own commands (tests/starter/outside.sh), so the instructions cannot rot.
TEST_STEPS += test-starter

.PHONY: test-starter

test-starter: deps toolchain xen-deps
	OUT=$(OUT) $(ROOT)/tests/starter/outside.sh
