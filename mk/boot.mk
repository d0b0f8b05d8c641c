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

# The same guest under Xen is the scenario tests/xen/scenarios/boot (banner on
# port 0xe9 and the PV console, extra= options, power-off, crash status after
# faults), run by `make test-xen`; alone: `make test-boot-xen`.
.PHONY: test-boot-xen
test-boot-xen: xen-test-boot
