# Helpers for scripts run in the harness's Linux domU, sourced as /lib/domu.sh.
# Everything printed goes to the domU console log (guest-<name>.log in dom0).

# stage NAME: progress marker with the domU uptime.
stage() { read -r _up _ < /proc/uptime; echo "HARNESS-DOMU-STAGE $1 t=$_up"; }

# waitfor SECONDS CMD [ARGS...]: poll CMD until it succeeds, against a deadline.
waitfor() {
  read -r _up _ < /proc/uptime
  _wf_end=$(( ${_up%.*} + $1 )); shift
  while :; do
    "$@" && return 0
    read -r _up _ < /proc/uptime
    [ "${_up%.*}" -lt "$_wf_end" ] || return 1
    sleep 0.3
  done
}

# has_card: true once ALSA lists at least one card.
has_card() { grep -q '^ *[0-9]* \[' /proc/asound/cards 2>/dev/null; }

# send_file TAG FILE: print FILE as base64 between HARNESS-B64-BEGIN/END TAG
# markers; in dom0, `save_b64 "$(console_log NAME)" TAG OUTFILE` decodes it.
send_file() {
  echo "HARNESS-B64-BEGIN $1"
  base64 "$2"
  echo "HARNESS-B64-END $1"
}
