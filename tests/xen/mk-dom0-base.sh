#!/bin/bash
# Build (or reuse) the cached base of the dom0 initramfs: busybox, the Xen and
# virtio modules, xenstored/xenconsoled/xen-init-dom0/xl/xenstore tools and
# their libraries. Prints the path of the gzip'ed cpio. The per-run parts
# (/init, /lib/harness.sh, /project, /scenario) go in a separate overlay archive
# that run.sh appends, so this only rebuilds when the packages or this script change.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd)
. "$HERE/common.sh"
load_env
key=$(cache_key "$0" "$HERE/common.sh" /lib/x86_64-linux-gnu/libc.so.6)
out=$CACHE/build/dom0-base-$key.cpio.gz
if [ -s "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$CACHE/build"
stage=$(mktemp -d "$CACHE/build/dom0-base.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{proc,sys,dev,run,tmp,root,etc/xen,out,usr/sbin,usr/bin,sbin}
mkdir -p "$stage"/var/{lib/xen,lib/xenstored,log/xen/console}
ln -s ../run "$stage/var/run"
install_busybox "$stage"
# virtio-blk carries the results back to the host; the xen modules make dom0 a toolstack domain
install_modules "$stage" virtio_pci virtio_blk xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs
xb=$ROOT/usr/lib/xen-4.17/bin
install_with_libs "$stage" usr/lib/xen-4.17/bin \
  "$xb/xl" "$xb/xenstored" "$xb/xenconsoled" "$xb/xen-init-dom0" "$xb/libxl-save-helper" \
  "$xb/xenconsole" "$xb/xenstore-control" "$ROOT/usr/bin/xenstore"
for t in chmod exists list ls read rm watch write; do
  ln -s xenstore "$stage/usr/lib/xen-4.17/bin/xenstore-$t"
done
# glibc dlopen()s libgcc_s for pthread_cancel (xl uses it); ldd cannot see that
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$stage/lib/x86_64-linux-gnu/"
cp -a "$ROOT/etc/xen/." "$stage/etc/xen/"
echo 'root:x:0:0:root:/root:/bin/sh' > "$stage/etc/passwd"
echo 'root:x:0:' > "$stage/etc/group"
pack_cpio "$stage" | gzip -6 > "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
find "$CACHE/build" -maxdepth 1 -name 'dom0-base-*.cpio.gz' ! -path "$out" -delete   # older keys
echo "$out"
