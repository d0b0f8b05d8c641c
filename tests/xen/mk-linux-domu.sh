#!/bin/bash
# Build (or reuse) the Linux PVH domU pieces for scenarios with LINUX_DOMU=1.
# Prints two paths on one line:
#   KIT   an uncompressed cpio that puts the Debian kernel at /linux/vmlinuz in dom0
#   BASE  the domU initramfs (gzip cpio): busybox, snd-xen-front and its
#         dependencies, aplay/arecord with their libraries and /usr/share/alsa,
#         /init (domu-init.sh) and /lib/domu.sh (helpers for domU scripts).
# run.sh appends the scenario's domu/ directory to BASE as one more cpio archive
# and ships the result as /linux/initrd.img.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd)
. "$HERE/common.sh"
load_env
mkdir -p "$CACHE/build"

kit=$CACHE/build/linux-kit-$KVER.cpio
if [ ! -s "$kit" ]; then
  stage=$(mktemp -d "$CACHE/build/kit.XXXXXX")
  mkdir -p "$stage/linux"
  cp "$VMLINUZ" "$stage/linux/vmlinuz"
  pack_cpio "$stage" > "$kit.tmp.$$"
  mv "$kit.tmp.$$" "$kit"
  rm -rf "$stage"
fi

key=$(cache_key "$0" "$HERE/common.sh" "$HERE/domu-init.sh" "$HERE/domu-lib.sh" /lib/x86_64-linux-gnu/libc.so.6)
base=$CACHE/build/domu-base-$key.cpio.gz
if [ ! -s "$base" ]; then
  stage=$(mktemp -d "$CACHE/build/domu.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage"/{proc,sys,dev,run,tmp,root,etc,usr/share,lib}
  install_busybox "$stage"
  install_modules "$stage" snd_xen_front
  install_with_libs "$stage" usr/bin "$ROOT/usr/bin/aplay"
  ln -s aplay "$stage/usr/bin/arecord"      # one binary; the name picks the direction
  cp -a "$ROOT/usr/share/alsa" "$stage/usr/share/"
  cp "$HERE/domu-init.sh" "$stage/init"
  chmod 755 "$stage/init"
  cp "$HERE/domu-lib.sh" "$stage/lib/domu.sh"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$stage/etc/passwd"
  echo 'root:x:0:' > "$stage/etc/group"
  echo 'audio:x:29:' >> "$stage/etc/group"
  pack_cpio "$stage" | gzip -6 > "$base.tmp.$$"
  mv "$base.tmp.$$" "$base"
  find "$CACHE/build" -maxdepth 1 -name 'domu-base-*.cpio.gz' ! -path "$base" -delete   # older keys
fi
echo "$kit $base"
