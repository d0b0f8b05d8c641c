# Harness self-test: the toolstack works, a PVH guest boots, sees its extra=
# command line, reaches Xen through its hypercall page and powers off; a 4 MiB
# file written to $OUT reaches the host intact (checked by host-check.sh).
stage selftest-guest
check "xl create selftest.cfg" xl_create /scenario/selftest.cfg
check "guest hello on port 0xe9" wait_dmesg 30 'HARNESS-SELFTEST-HELLO'
check "extra= reached the guest" wait_dmesg 10 'HARNESS-SELFTEST-CMDLINE harness-selftest-extra a=1'
check "hypercall page installed" wait_dmesg 10 'HARNESS-SELFTEST-HYPERCALL-PAGE'
check "guest powered off and is gone" wait_gone selftest 30
xl dmesg | grep -E '\(d[0-9]+\)' | tail -n 5

stage transport
dd if=/dev/urandom of="$OUT/blob.bin" bs=1M count=4 2>/dev/null
(cd "$OUT" && sha256sum blob.bin > blob.sha256)
result PASS "selftest guest booted, printed, powered off"
