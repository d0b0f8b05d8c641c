#!/bin/bash
# Fetch and unpack the Debian packages the QEMU+Xen harness boots (Xen 4.17, the
# current bookworm kernel, xen tools, busybox, alsa-utils for the Linux domU).
#
# Usage: tests/xen/fetch.sh            (cache dir: $XEN_CACHE, default target/xen-cache)
#
# Idempotent: .debs are kept in $XEN_CACHE/debs (apt resolves the exact
# versions), unpacked with dpkg-deb -x into $XEN_CACHE/root. A manifest of the
# unpacked .debs is kept; when it is unchanged nothing is downloaded or unpacked.
# When a package version changes (e.g. a new kernel), root/ is rebuilt from scratch.
# Writes $XEN_CACHE/env (KVER, XEN, VMLINUZ, ROOT) for the other scripts.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd)
CACHE=${XEN_CACHE:-$PROJECT/target/xen-cache}
mkdir -p "$CACHE/debs"
CACHE=$(cd "$CACHE" && pwd)
DEBS=$CACHE/debs
ROOT=$CACHE/root

log() { echo "xen-deps: $*" >&2; }

# The kernel: whatever linux-image-amd64 currently depends on (e.g. linux-image-6.1.0-56-amd64).
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$KPKG" ] || { log "cannot resolve linux-image-amd64 (run apt-get update?)"; exit 1; }

PKGS=(
  # hypervisor, tools and the libraries xl/xenstored/xenconsoled load
  xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
  libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenmisc4.17
  libxenstore4 libxentoollog1 libxentoolcore1 libxendevicemodel1 libxenhypfs1
  libyajl2 libext2fs2 libncurses6 libtinfo6
  # dom0 and Linux domU kernel, userland
  "$KPKG" busybox-static
  # Linux domU ALSA userland: aplay/arecord and what they link against
  alsa-utils libasound2 libasound2-data libatopology2 libfftw3-single3 libgomp1
  libsamplerate0 libncursesw6
)

# Expected .deb file name of the candidate version of $1 (apt's ':' -> '%3a').
deb_glob() {
  local v
  v=$(apt-cache policy "$1" | awk '/Candidate:/{print $2; exit}')
  [ -n "$v" ] && [ "$v" != "(none)" ] || { log "no candidate version for $1"; return 1; }
  echo "${1}_${v//:/%3a}_*.deb"
}

want=()
missing=()
for p in "${PKGS[@]}"; do
  g=$(deb_glob "$p")
  # shellcheck disable=SC2086  # $g is a glob on purpose
  f=$(cd "$DEBS" && ls $g 2>/dev/null | head -1 || true)
  if [ -z "$f" ]; then missing+=("$p"); want+=("$g"); else want+=("$f"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "downloading: ${missing[*]}"
  (cd "$DEBS" && apt-get download -q "${missing[@]}" 2>&1 | grep -v 'Download is performed unsandboxed' >&2) || true
fi
files=()
for g in "${want[@]}"; do
  # shellcheck disable=SC2086
  f=$(cd "$DEBS" && ls $g 2>/dev/null | head -1 || true)
  [ -n "$f" ] || { log "missing after download: $g"; exit 1; }
  files+=("$f")
done

manifest=$(printf '%s\n' "${files[@]}" | LC_ALL=C sort)
if [ -f "$ROOT/.manifest" ] && [ "$(cat "$ROOT/.manifest")" = "$manifest" ] && [ -f "$CACHE/env" ]; then
  log "up to date ($CACHE)"
  exit 0
fi

log "unpacking ${#files[@]} packages into $ROOT"
rm -rf "$ROOT.tmp"
mkdir -p "$ROOT.tmp"
for f in "${files[@]}"; do dpkg-deb -x "$DEBS/$f" "$ROOT.tmp"; done
KVER=${KPKG#linux-image-}
[ -d "$ROOT.tmp/lib/modules/$KVER" ] || { log "no modules for $KVER"; exit 1; }
depmod -b "$ROOT.tmp" "$KVER"              # the kernel .deb ships no modules.dep
# QEMU's multiboot loader needs Xen uncompressed (ELF32 with a multiboot header)
zcat "$ROOT.tmp/boot/xen-4.17-amd64.gz" > "$ROOT.tmp/boot/xen-4.17-amd64"
printf '%s\n' "$manifest" > "$ROOT.tmp/.manifest"
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
cat > "$CACHE/env" <<EOV
# written by tests/xen/fetch.sh
ROOT=$ROOT
KVER=$KVER
XEN=$ROOT/boot/xen-4.17-amd64
VMLINUZ=$ROOT/boot/vmlinuz-$KVER
EOV
log "done: KVER=$KVER"
