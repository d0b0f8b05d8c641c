#!/bin/sh
# Stand-in for sndback while it does not exist: a vsnd backend that only walks
# the XenBus state machine (no rings, no audio). For every device under
# /local/domain/0/backend/vsnd/<domid>/<dev> it goes
#   Initialising(1) -> InitWait(2)             at once (libxl waits 10 s for that)
#   InitWait(2) -> Connected(4)                 when the frontend is Initialised(3)
#   -> Closed(6)                                when the frontend closes or libxl sets online=0
# Polls every ~0.3 s; prints each transition.
base=/local/domain/0/backend/vsnd
while :; do
  for domid in $(xenstore-list "$base" 2>/dev/null); do
    for dev in $(xenstore-list "$base/$domid" 2>/dev/null); do
      be=$base/$domid/$dev
      state=$(xenstore-read "$be/state" 2>/dev/null) || continue
      fe=$(xenstore-read "$be/frontend" 2>/dev/null)
      fstate=$(xenstore-read "$fe/state" 2>/dev/null || echo 0)
      online=$(xenstore-read "$be/online" 2>/dev/null || echo 1)
      new=$state
      case $state in
        1) new=2 ;;
        2) [ "$fstate" = 3 ] && new=4 ;;
      esac
      case $fstate in 5|6) new=6 ;; esac
      [ "$online" = 0 ] && new=6
      if [ "$new" != "$state" ]; then
        xenstore-write "$be/state" "$new"
        echo "fakebe: $be: $state -> $new (frontend $fstate)"
      fi
    done
  done
  sleep 0.3
done
