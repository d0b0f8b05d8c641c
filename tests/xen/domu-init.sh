#!/bin/sh
# /init of the harness's Linux PVH domU (busybox ash). Generic: it loads the
# sound frontend modules, then runs one script with /lib/domu.sh sourced:
#   harness.run=/PATH on the kernel command line (xl extra=), else /domu.sh.
# The script's output goes to the PV console, which xenconsoled logs in dom0 as
# /var/log/xen/console/guest-<name>.log. The domU powers off when it returns.
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
. /lib/domu.sh
stage domu-init
for m in $(cat /lib/modules/load-order); do
  insmod "/lib/modules/$m" || echo "domu: insmod $m FAILED"
done
stage domu-modules-loaded
script=/domu.sh
for arg in $(cat /proc/cmdline); do
  case $arg in harness.run=*) script=${arg#*=} ;; esac
done
if [ -f "$script" ]; then
  sh -c ". /lib/domu.sh; . '$script'"
  rc=$?
else
  echo "domu: no script $script"
  rc=127
fi
echo "HARNESS-DOMU-DONE rc=$rc"
sync
poweroff -f
