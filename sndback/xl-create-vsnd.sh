#!/bin/sh
# xl-create-vsnd: `xl create` for guest configs with a vsnd= (para-virtual sound)
# device, refusing at once with a clear message when no sound backend runs in dom0.
#
# Usage: xl-create-vsnd [--check] [xl create options] CFG [KEY=VALUE...]
#   --check   only check (exit 0: config has no vsnd, or a backend runs); do not create
#
# Why: libxl waits 10 s for a vsnd backend to reach InitWait and then fails with
# "unable to add vsnd devices", which does not say that a backend must be started.
# The backend is found by process name (default sndback; XENSND_BACKEND=name to
# change it). Exit status: xl's, or 1 when no backend runs, 2 on usage errors.
set -u
backend=${XENSND_BACKEND:-sndback}
check_only=0
[ "${1:-}" = "--check" ] && { check_only=1; shift; }

# the config file: -f FILE / --defconfig=FILE, else the first non-option argument
cfg=''
previous=''
for argument in "$@"; do
  case $previous in -f|--defconfig) cfg=$argument; break ;; esac
  case $argument in
    --defconfig=*) cfg=${argument#--defconfig=}; break ;;
    -*) ;;
    *=*) ;;
    *) cfg=$argument; break ;;
  esac
  previous=$argument
done
if [ -z "$cfg" ] || [ ! -r "$cfg" ]; then
  echo "xl-create-vsnd: usage: xl-create-vsnd [--check] [xl create options] CFG [KEY=VALUE...] (config ${cfg:-missing} not readable)" >&2
  exit 2
fi

backend_running() {
  for process in /proc/[0-9]*; do
    name=''
    read -r name < "$process/comm" 2>/dev/null || continue
    [ "$name" = "$backend" ] && return 0
  done
  return 1
}

if grep -Eq '^[[:space:]]*vsnd[[:space:]]*=' "$cfg" && ! backend_running; then
  echo "xensnd: no sound backend is running in dom0: start $backend first ($backend --out-dir DIR &), then xl create again" >&2
  echo "xensnd: ($cfg has a vsnd= device; without a backend libxl fails after 10 s with 'unable to add vsnd devices')" >&2
  exit 1
fi
[ "$check_only" = 1 ] && exit 0
exec xl create "$@"
