# Host-side helpers shared by the harness scripts (sourced, not run).
# Needs: HERE (tests/xen), PROJECT (repo root).
CACHE=${XEN_CACHE:-$PROJECT/target/xen-cache}

# Load $CACHE/env (written by fetch.sh); fetch first if it is missing.
load_env() {
  if [ ! -f "$CACHE/env" ]; then
    XEN_CACHE=$CACHE "$HERE/fetch.sh" >&2 || return 1
  fi
  # shellcheck disable=SC1091
  . "$CACHE/env"
  LIBPATH=$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu
}

# install_with_libs STAGING DESTDIR FILE...: copy FILEs (following symlinks) to
# STAGING/DESTDIR and every shared library ldd lists for them to
# STAGING/lib/x86_64-linux-gnu (libs from the unpacked debs win over the host's).
install_with_libs() {
  local stage=$1 dest=$2 f lib
  shift 2
  mkdir -p "$stage/$dest" "$stage/lib/x86_64-linux-gnu" "$stage/lib64"
  for f in "$@"; do
    cp -L "$f" "$stage/$dest/"
    LD_LIBRARY_PATH=$LIBPATH ldd "$f" 2>/dev/null | awk '/=> \//{print $3}' | while read -r lib; do
      [ -e "$stage/lib/x86_64-linux-gnu/$(basename "$lib")" ] || cp -L "$lib" "$stage/lib/x86_64-linux-gnu/"
    done
    if LD_LIBRARY_PATH=$LIBPATH ldd "$f" 2>/dev/null | grep -q 'not found'; then
      echo "harness: missing libraries for $f:" >&2
      LD_LIBRARY_PATH=$LIBPATH ldd "$f" | grep 'not found' >&2
      return 1
    fi
  done
  [ -e "$stage/lib64/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib64/"
}

# install_busybox STAGING: busybox-static with a link per applet in /bin.
install_busybox() {
  local stage=$1 a
  mkdir -p "$stage/bin"
  cp "$ROOT/bin/busybox" "$stage/bin/busybox"
  for a in $("$ROOT/bin/busybox" --list); do
    [ -e "$stage/bin/$a" ] || ln -s busybox "$stage/bin/$a"
  done
}

# install_modules STAGING MODULE...: the modules and their dependencies, in
# load order (modprobe --show-depends), into STAGING/lib/modules; the order is
# appended to STAGING/lib/modules/load-order.
install_modules() {
  local stage=$1 m path name
  shift
  mkdir -p "$stage/lib/modules"
  touch "$stage/lib/modules/load-order"
  for m in "$@"; do
    modprobe -d "$ROOT" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}' | while read -r path; do
      name=$(basename "$path"); name=${name%.xz}; name=${name%.zst}
      grep -qx "$name" "$stage/lib/modules/load-order" && continue
      case $path in
        *.xz) xz -dc "$path" > "$stage/lib/modules/$name" ;;
        *.zst) zstd -dc "$path" > "$stage/lib/modules/$name" ;;
        *) cp "$path" "$stage/lib/modules/$name" ;;
      esac
      echo "$name" >> "$stage/lib/modules/load-order"
    done
  done
}

# pack_cpio DIR: newc archive of DIR on stdout (uncompressed; compress as needed).
pack_cpio() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0)
}

# cache_key FILE...: a short hash of the fetched package set and the given files.
cache_key() {
  cat "$ROOT/.manifest" "$@" | sha256sum | cut -c1-16
}

# pad4 FILE: the zero bytes that bring FILE's size to a multiple of 4 (the
# kernel's initramfs unpacker wants every appended cpio archive 4-byte aligned
# and skips zero padding between archives).
pad4() {
  local n
  n=$(( (4 - $(stat -c %s "$1") % 4) % 4 ))
  [ "$n" -eq 0 ] || head -c "$n" /dev/zero
}
