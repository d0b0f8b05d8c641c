# make run: the demo end to end under QEMU+Xen (tests/xen/run-demo.sh).
RUN_STEPS += run-demo

.PHONY: run-demo wavtool
wavtool: deps toolchain
	$(CARGO) build --release -p wavtool

run-demo: xen-deps guest xen-build-sndback wavtool
	$(ROOT)/tests/xen/run-demo.sh $(OUT)/run
