# Boot-issue scenario for tests/xen/run.sh (the QEMU+Xen harness): the xensnd
# release ELF as a PVH domU.
#  - clean boot: the banner reaches port 0xe9 (`xl dmesg`, guest_loglvl=all)
#    and the PV console (xenconsoled's log), with Xen detected, the extra=
#    options parsed, the memory map and heap printed; the domain powers off
#    (SCHEDOP_shutdown poweroff: on_poweroff=destroy makes it disappear);
#  - test=pagefault and test=doublefault: the exception report reaches the PV
#    console and the domain stops with SHUTDOWN_crash (on_crash=preserve keeps
#    it, in state "c", until we destroy it).
is_crashed() { xl list "$1" 2>/dev/null | awk 'NR==2{print $5}' | grep -q c; }

stage boot-ok
check "xl create ok.cfg" xl_create /scenario/ok.cfg
check "banner on port 0xe9" wait_dmesg 30 'xensnd .* booting \(PVH, Xen detected: yes\)'
check "banner on the PV console" wait_console xensnd-ok 30 'xensnd .* booting \(PVH, Xen detected: yes\)'
check "extra= options parsed" wait_console xensnd-ok 10 'option answer=42'
check "heap reported" wait_console xensnd-ok 10 '\] heap: 0x[0-9a-f]+-0x[0-9a-f]+ \([0-9]+ KiB\)'
check "boot completed" wait_console xensnd-ok 10 'boot complete, powering off'
check "powered off (domain gone)" wait_gone xensnd-ok 30
cp "$(console_log xensnd-ok)" "$OUT/console-ok.log" 2>/dev/null

# fault_case SHORT WHAT REPORT: create SHORT.cfg (domain xensnd-SHORT), whose
# fault self-test must print REPORT on the PV console and crash the domain.
fault_case() {
  stage "boot-$2"
  check "xl create $1.cfg" xl_create "/scenario/$1.cfg"
  check "$2 report on the PV console" wait_console "xensnd-$1" 30 "$3"
  check "$2: domain crashed" waitfor 20 is_crashed "xensnd-$1"
  cp "$(console_log "xensnd-$1")" "$OUT/console-$1.log" 2>/dev/null
  xl destroy "xensnd-$1"
}
fault_case pf pagefault 'EXCEPTION: page fault \(vector 14\) error=0x0 rip=0x[0-9a-f]+ cr2=0xdeadbee000'
fault_case df doublefault 'EXCEPTION: double fault \(vector 8\) error=0x0'

xl dmesg > "$OUT/xl-dmesg-guests.txt"
result PASS "xensnd booted under Xen: console, power-off and crash paths"
