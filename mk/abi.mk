# abi: Xen public-header mirrors (crates/xen-abi) and the oracle that checks them
# against the installed headers (tests/abi_oracle.rs).
APT_PACKAGES += gcc libc6-dev libxen-dev
TEST_STEPS += doc

.PHONY: abi-oracle

# Compile a C program against /usr/include/xen and compare every size,
# offset and constant in crates/xen-abi with it.
abi-oracle: deps toolchain
	$(CARGO) test -p xensnd --test abi_oracle -- --nocapture
