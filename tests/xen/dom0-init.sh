#!/bin/sh
# dom0 /init of the xensnd QEMU+Xen harness (busybox ash, Debian's xen-utils-4.17).
# Brings up the toolstack, runs /scenario/scenario.sh, collects the logs into
# /out, writes /out as a tar to /dev/vda (the host extracts it) and ends QEMU
# through isa-debug-exit (port 0xf4).
export PATH=/usr/lib/xen-4.17/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
export OUT=/out SCENARIO=/scenario PROJECT=/project LINUX=/linux HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /var/log/xen/console "$OUT"
. /lib/harness.sh
stage dom0-init

timeout=240
for arg in $(cat /proc/cmdline); do
  case $arg in
    harness.timeout=*) timeout=${arg#*=} ;;
    harness.guest_cpus=*) GUEST_CPUS=${arg#*=}; export GUEST_CPUS ;;
  esac
done

for m in $(cat /lib/modules/load-order); do
  insmod "/lib/modules/$m" || echo "harness: insmod $m FAILED"
done
mount -t xenfs xenfs /proc/xen || echo "harness: mount xenfs FAILED"
stage modules-loaded

xenstored --pid-file /run/xenstored.pid || echo "harness: xenstored FAILED"
waitfor 20 xenstore-ls /local >/dev/null 2>&1 || echo "harness: xenstored not answering"
stage xenstored-up
xen-init-dom0 || echo "harness: xen-init-dom0 FAILED"
xenconsoled --pid-file=/run/xenconsoled.pid --log=all --log-dir=/var/log/xen/console \
  || echo "harness: xenconsoled FAILED"
stage dom0-ready

if [ -f /scenario/scenario.sh ]; then
  stage scenario-start
  # the scenario gets (timeout) seconds, so that the logs still come back when it hangs
  ( cd /scenario && timeout "$timeout" sh -c '. /lib/harness.sh; . /scenario/scenario.sh' ) 2>&1 \
    | tee "$OUT/scenario.log"
  stage scenario-end
  [ -s "$OUT/RESULT" ] || result FAIL "scenario ended without a result (timeout ${timeout}s or error)"
else
  result FAIL "no /scenario/scenario.sh"
fi

# collect what the host needs to judge and debug the run
# (bounded: xl hangs when xenstored has died)
timeout 15 xl list > "$OUT/xl-list.txt" 2>&1
timeout 15 xl dmesg > "$OUT/xl-dmesg.txt" 2>&1
dmesg > "$OUT/dom0-dmesg.txt" 2>&1
grep -E 'segfault|general protection|traps:' "$OUT/dom0-dmesg.txt" | head -n 20 > "$OUT/dom0-faults.txt"
if [ -s "$OUT/dom0-faults.txt" ]; then
  echo "harness: WARNING: dom0 processes crashed (see dom0-faults.txt):"
  cat "$OUT/dom0-faults.txt"
fi
mkdir -p "$OUT/console"
cp /var/log/xen/console/* "$OUT/console/" 2>/dev/null
stage collect
if [ -b /dev/vda ]; then
  tar -c -C "$OUT" . | dd of=/dev/vda bs=1M conv=fsync 2>/dev/null
  sync
  echo "HARNESS-OUT-WRITTEN"
else
  echo "harness: no /dev/vda: results stay in the serial log only"
fi
read -r verdict _ < "$OUT/RESULT"
stage finished
echo "HARNESS-VERDICT $verdict"
# isa-debug-exit: QEMU exits with status (value << 1) | 1, i.e. 3 = PASS, 5 = FAIL
if [ "$verdict" = PASS ]; then printf '\001'; else printf '\002'; fi | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
sleep 5
poweroff -f
