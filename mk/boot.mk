# Boot issue: the PVH guest image booted in plain QEMU (TCG).
# `make test-boot` builds the release ELF and runs tests/qemu_boot.rs, which
# boots it with -kernel, checks the console text for the banner, memory map,
# heap and the fault reports (panic, page fault, double fault), checks the
# exit codes (isa-debug-exit: 33 success, 35 crash) and prints the ELF size.
APT_PACKAGES += qemu-system-x86 binutils
TEST_STEPS += test-boot

.PHONY: test-boot boot-qemu

test-boot: deps guest
	XENSND_GUEST_ELF=$(GUEST_ELF) $(CARGO) test -p xensnd --test qemu_boot -- --ignored --nocapture --test-threads=1

# Boot the guest once in QEMU by hand: make boot-qemu APPEND="log=debug test=pagefault"
APPEND ?= log=debug
boot-qemu: deps guest
	qemu-system-x86_64 -nodefaults -display none -no-reboot -m 64 \
	  -device isa-debug-exit,iobase=0xf4,iosize=0x04 -debugcon stdio \
	  -kernel $(GUEST_ELF) -append "$(APPEND)"; \
	status=$$?; echo "== QEMU exit status $$status (33 = success, 35 = guest crash)"; \
	[ $$status -eq 33 ]

# The same guest under Xen (QEMU TCG + Xen 4.17 + Linux dom0), through the
# harness's tests/xen/run.sh with the scenario in tests/boot/xen: banner on
# port 0xe9 and on the PV console, power-off, crash status after faults.
# Joins `make test` once the harness (tests/xen/run.sh) is in the tree.
.PHONY: test-boot-xen
test-boot-xen: deps guest
	tests/xen/run.sh --scenario tests/boot/xen --out $(OUT)/test-boot-xen
ifneq ($(wildcard tests/xen/run.sh),)
TEST_STEPS += test-boot-xen
endif
