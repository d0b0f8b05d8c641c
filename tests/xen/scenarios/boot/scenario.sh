# The xensnd guest boots under Xen as a PVH domU: its banner "xensnd" shows up in
# its console log (PV console, via xenconsoled) or in `xl dmesg` (port 0xe9),
# and it powers itself off. Requires the guest to be built (make guest).
stage boot
if [ ! -f /project/xensnd.elf ]; then
  result FAIL "no /project/xensnd.elf: build the guest first (make guest)"
  return 0
fi
banner() { grep -q 'xensnd' "$(console_log xensnd)" 2>/dev/null || xl dmesg | grep -qE '\(d[0-9]+\).*xensnd'; }
check "xl create xensnd.cfg" xl_create /scenario/xensnd.cfg || return 0
check "banner 'xensnd' on the console or port 0xe9" waitfor 60 banner
check "guest powered off" wait_gone xensnd 60 || xl list
echo "--- guest console"; cat "$(console_log xensnd)" 2>/dev/null | tail -n 20
echo "--- port 0xe9 (xl dmesg)"; xl dmesg | grep -E '\(d[0-9]+\)' | tail -n 20
result PASS "xensnd booted, printed its banner and powered off"
