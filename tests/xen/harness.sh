# Helper functions for scenarios, sourced in dom0 as /lib/harness.sh (busybox ash).
# A scenario (/scenario/scenario.sh) runs with these already defined and
#   OUT=/out           everything written here is copied back to the host --out dir
#   SCENARIO=/scenario the scenario directory (read-only copy)
#   PROJECT=/project   xensnd.elf, sndback (when they were built on the host)
#   LINUX=/linux       vmlinuz + initrd.cpio.gz for a Linux domU (LINUX_DOMU=1 in scenario.conf)
# Under QEMU TCG every fork/exec costs ~0.1-0.3 s: poll with deadlines (waitfor),
# never by counting iterations.

# uptime_s: dom0 uptime in whole seconds, without forking.
uptime_s() { read -r _up _ < /proc/uptime; echo "${_up%.*}"; }

# stage NAME: progress marker; the host prints it with its own timestamp.
stage() { read -r _up _ < /proc/uptime; echo "HARNESS-STAGE $1 t=$_up"; }

# log MESSAGE...: a line on the serial console (and in $OUT/scenario.log).
log() { echo "harness: $*"; }

# waitfor SECONDS CMD [ARGS...]: run CMD until it succeeds or SECONDS have passed
# (deadline-based). Returns 0 on success, 1 on timeout.
waitfor() {
  _wf_end=$(( $(uptime_s) + $1 )); shift
  while :; do
    "$@" && return 0
    [ "$(uptime_s)" -lt "$_wf_end" ] || return 1
    sleep 0.3
  done
}

# result PASS|FAIL REASON...: record the verdict. A FAIL is final; PASS is only
# recorded when nothing failed before. The host's exit status follows $OUT/RESULT.
result() {
  _verdict=$1; shift
  case $_verdict in PASS|FAIL) ;; *) _verdict=FAIL; set -- "bad verdict: $*";; esac
  if [ "$_verdict" = PASS ] && grep -q '^FAIL' "$OUT/RESULT" 2>/dev/null; then
    echo "HARNESS-RESULT (PASS ignored, already failed: $*)"
    return 0
  fi
  echo "$_verdict $*" > "$OUT/RESULT"
  echo "HARNESS-RESULT $_verdict $*"
}

# check DESCRIPTION CMD [ARGS...]: run CMD; print CHECK ok/FAIL; a failure records FAIL.
check() {
  _desc=$1; shift
  if "$@"; then echo "HARNESS-CHECK ok: $_desc"; return 0; fi
  echo "HARNESS-CHECK FAIL: $_desc"
  result FAIL "$_desc"
  return 1
}

# console_log DOMAIN-NAME: path of the guest's console log (xenconsoled --log=all).
console_log() { echo "/var/log/xen/console/guest-$1.log"; }

# wait_console NAME SECONDS PATTERN: wait until the guest console log matches PATTERN (grep -E).
# Gives up at once (status 1, logged) when the guest's kernel panics: a dead
# Linux domU would otherwise hold the scenario until SECONDS have passed.
_console_seen() {
  grep -qE "$2" "$1" 2>/dev/null && return 0
  grep -q 'Kernel panic' "$1" 2>/dev/null && { _console_panic=1; return 0; }
  return 1
}
wait_console() {
  _console_panic=0
  waitfor "$2" _console_seen "$(console_log "$1")" "$3" || return 1
  [ "$_console_panic" = 0 ] && return 0
  log "guest $1: $(grep -m 1 'Kernel panic' "$(console_log "$1")" | tr -d '\r')"
  return 1
}

# dmesg_match PATTERN: `xl dmesg` (Xen console, incl. guests' port 0xe9 output) matches (grep -E).
# wait_dmesg SECONDS PATTERN: wait until it does.
dmesg_match() { timeout 15 xl dmesg | grep -qE "$1"; }
wait_dmesg() { waitfor "$1" dmesg_match "$2"; }

# domain_gone NAME: true when no domain called NAME exists (and the toolstack answers).
domain_gone() { ! timeout 10 xl domid "$1" >/dev/null 2>&1 && timeout 10 xl list >/dev/null 2>&1; }

# wait_gone NAME SECONDS: wait until the domain NAME has gone (powered off and destroyed).
wait_gone() { waitfor "$2" domain_gone "$1"; }

# xl_create CONFIG [KEY=VALUE...]: `xl -v create`, output in $OUT/xl-create-<config>.log
# (also echoed). Returns xl's exit status. A 120 s cap guards against a stuck toolstack.
# Unless the config sets cpus=, the guest is pinned to $GUEST_CPUS (the pCPUs dom0
# does not use, see run.sh): sharing a pCPU with a PVH guest crashes dom0 processes.
xl_create() {
  _cfg=$1; shift
  _log=$OUT/xl-create-$(basename "$_cfg" .cfg).log
  stage "xl-create-$(basename "$_cfg" .cfg)"
  if [ -n "${GUEST_CPUS:-}" ] && ! grep -qE '^[[:space:]]*cpus[[:space:]]*=' "$_cfg"; then
    set -- "cpus=\"$GUEST_CPUS\"" "$@"
  fi
  timeout 120 xl -v create "$_cfg" "$@" > "$_log" 2>&1
  _rc=$?
  [ $_rc != 0 ] || timeout 10 xl vcpu-list >> "$_log" 2>&1
  tail -n 15 "$_log"
  echo "harness: xl create $_cfg rc=$_rc"
  return $_rc
}

# start_bg NAME CMD [ARGS...]: start a background process (e.g. the sound backend)
# with its output in $OUT/NAME.log; its pid is saved in /run/NAME.pid.
start_bg() {
  _name=$1; shift
  "$@" > "$OUT/$_name.log" 2>&1 &
  echo $! > "/run/$_name.pid"
  log "started $_name pid $! ($*)"
}

# gone PID: the process has exited (a zombie, exited but not reaped yet,
# counts as gone; `kill -0` would still succeed on it).
gone() {
  [ -r "/proc/$1/stat" ] || return 0
  sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^Z'
}

# stop_bg NAME: stop a process started by start_bg (TERM, then KILL after 5 s),
# and reap it.
stop_bg() {
  [ -f "/run/$1.pid" ] || return 0
  _pid=$(cat "/run/$1.pid")
  kill "$_pid" 2>/dev/null
  waitfor 5 gone "$_pid" || kill -9 "$_pid" 2>/dev/null
  wait "$_pid" 2>/dev/null
  rm -f "/run/$1.pid"
}

# save_b64 LOGFILE TAG OUTFILE: decode the block a Linux domU printed with
# `send_file TAG FILE` (between HARNESS-B64-BEGIN TAG and HARNESS-B64-END TAG).
# Fails when the block is missing, empty or not valid base64.
save_b64() {
  tr -d '\r' < "$1" | sed -n "/^HARNESS-B64-BEGIN $2\$/,/^HARNESS-B64-END $2\$/p" \
    | sed '1d;$d' | base64 -d > "$3" && [ -s "$3" ]
}

# no_dying: no domain is left dying ("(null)" in xl list: pages of a destroyed
# domain still referenced, e.g. grant-mapped by a backend).
no_dying() { ! timeout 10 xl list | grep -q '(null)'; }

# evtchn_dump DOMID FILE: the last dump of domain DOMID's event channels
# (`xl debug-keys e`, read back from xl dmesg) into FILE; fails if empty.
evtchn_dump() {
  timeout 20 xl debug-keys e
  sleep 1
  timeout 20 xl dmesg | awk -v d="$1" '$0 ~ ("Event channel information for domain " d ":") { n = 0; grab = 1; next }
    /Event channel information for/ { grab = 0 } grab { line[n++] = $0 }
    END { for (i = 0; i < n; i++) print line[i] }' > "$2"
  [ -s "$2" ]
}

# bound_to_domain FILE DOMID "PORTS": how many of the local PORTS the dump in
# FILE shows leading to domain DOMID ("d=DOMID").
bound_to_domain() {
  awk -v d="$2" -v ports="$3" 'BEGIN { n = split(ports, p, " ") }
    { for (i = 1; i <= n; i++) if ($0 ~ (" " p[i] " \\[") && $0 ~ (" d=" d "( |$)")) { print; c++ } }
    END { print c + 0 }' "$1" | tail -n1
}
