#!/bin/bash
# QEMU+Xen smoke-test harness: boot Xen 4.17 + a Linux dom0 in QEMU (TCG), run a
# scenario script in dom0, bring its outputs back, exit 0 only on PASS.
#
# Usage: tests/xen/run.sh --scenario DIR --out DIR [--timeout SECONDS]
#
#   --scenario DIR  contains scenario.sh (run in dom0 as /scenario/scenario.sh with
#                   /lib/harness.sh sourced) and whatever it needs (xl configs, WAVs...).
#                   Optional DIR/scenario.conf (bash, sourced on the host):
#                     LINUX_DOMU=1   also ship a Linux kernel + domU initramfs (/linux)
#                     TIMEOUT=S      default for --timeout
#                     FAIL_LOGS="f"  files (relative to --out) to show on failure
#                     QEMU_MEM=MiB DOM0_MEM=512M   more memory for big guests
#                   Optional DIR/domu/: copied over the root of the Linux domU initramfs.
#                   Optional DIR/host-prepare.sh: run on the host before the boot (bash;
#                   OUT=--out dir, DOM0_DIR=what dom0 gets as /scenario, DOMU_DIR=what is
#                   copied over the domU root, PROJECT=the repo), e.g. to generate WAVs.
#                   Optional DIR/host-check.sh: run on the host (bash, OUT=--out dir, PROJECT=the repo)
#                   after a PASS; a non-zero exit turns the verdict into FAIL.
#   --out DIR       results: serial.log (host-timestamped), everything the scenario
#                   wrote to $OUT, console/*.log, xl-dmesg.txt, dom0-dmesg.txt, RESULT.
#                   An existing DIR is emptied only if an earlier run made it.
#   --timeout S     hard limit for the whole QEMU run (default 300); QEMU is killed then.
#
# Environment: XEN_CACHE (package cache, default target/xen-cache), QEMU_CPU (max,-avx,-avx2), QEMU_MEM (MiB,
# default 1024), DOM0_MEM (default 512M), SMP (QEMU CPUs, 3), DOM0_VCPUS (2), XEN_CMDLINE_EXTRA, DOM0_CMDLINE_EXTRA,
# XENSND_ELF (default target/x86_64-unknown-none/release/xensnd),
# SNDBACK (default target/release/sndback): shipped as /project/... when they exist
# (with sndback also /project/xl-create-vsnd, sndback/xl-create-vsnd.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd)
. "$HERE/common.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
scenario='' out='' timeout=''
while [ $# -gt 0 ]; do
  case $1 in
    --scenario) scenario=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$scenario" ] && [ -n "$out" ] || usage
[ -f "$scenario/scenario.sh" ] || { echo "run.sh: $scenario/scenario.sh not found" >&2; exit 2; }
scenario=$(cd "$scenario" && pwd)
name=$(basename "$scenario")

LINUX_DOMU=0 TIMEOUT=300 FAIL_LOGS=
# shellcheck disable=SC1091
[ -f "$scenario/scenario.conf" ] && . "$scenario/scenario.conf"
timeout=${timeout:-$TIMEOUT}

# --- output dir (never wipe a directory this script did not create)
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  [ -f "$out/.xen-harness-out" ] || { echo "run.sh: $out is not empty and not a harness output dir" >&2; exit 2; }
  rm -rf "${out:?}"/* "${out:?}"/.[!.]*
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
touch "$out/.xen-harness-out"

say() { printf '[%7s] %s\n' "${1}" "${*:2}"; }

# --- initramfs: cached base (+ cached Linux kit) + per-run overlay
t_build0=${EPOCHREALTIME/./}
load_env
base=$("$HERE/mk-dom0-base.sh")
stage=$(mktemp -d "$CACHE/build/run.XXXXXX")
qpid=
# never leave QEMU behind (background jobs ignore SIGINT, so Ctrl-C alone would not stop it)
cleanup() {
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then kill "$qpid" 2>/dev/null; fi
  rm -rf "$stage"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ov=$stage/overlay
mkdir -p "$ov/lib" "$ov/project" "$ov/scenario"
cp "$HERE/dom0-init.sh" "$ov/init"
cp "$HERE/harness.sh" "$ov/lib/harness.sh"
chmod 755 "$ov/init"
cp -a "$scenario/." "$ov/scenario/"
elf=${XENSND_ELF:-$PROJECT/target/x86_64-unknown-none/release/xensnd}
backend=${SNDBACK:-$PROJECT/target/release/sndback}
shipped=
[ -f "$elf" ] && { cp "$elf" "$ov/project/xensnd.elf"; shipped+=" xensnd.elf"; }
[ -f "$backend" ] && { install_with_libs "$ov" project "$backend"; shipped+=" sndback"; }
[ -f "$backend" ] && install -m 755 "$PROJECT/sndback/xl-create-vsnd.sh" "$ov/project/xl-create-vsnd"
# the harness self-test guest (tests/xen/selftest-guest), available to every scenario
mkdir -p "$ov/harness"
as --64 -o "$stage/pvh-hello.o" "$HERE/selftest-guest/pvh-hello.S"
ld -m elf_x86_64 -nostdlib --no-warn-rwx-segments -T "$HERE/selftest-guest/pvh-hello.ld" \
  -o "$ov/harness/pvh-hello.elf" "$stage/pvh-hello.o"
mkdir -p "$stage/domu"
[ -d "$scenario/domu" ] && cp -a "$scenario/domu/." "$stage/domu/"
if [ -f "$scenario/host-prepare.sh" ]; then
  OUT=$out DOM0_DIR=$ov/scenario DOMU_DIR=$stage/domu PROJECT=$PROJECT bash "$scenario/host-prepare.sh" \
    || { echo "run.sh: $scenario/host-prepare.sh failed" >&2; exit 2; }
fi
parts=("$base")
if [ "$LINUX_DOMU" = 1 ]; then
  read -r kit domu_base < <("$HERE/mk-linux-domu.sh")
  parts+=("$kit")
  mkdir -p "$ov/linux"
  if [ -n "$(ls -A "$stage/domu")" ]; then
    { cat "$domu_base"; pad4 "$domu_base"; pack_cpio "$stage/domu"; } > "$ov/linux/initrd.img"
  else
    cp "$domu_base" "$ov/linux/initrd.img"
  fi
fi
pack_cpio "$ov" > "$stage/overlay.cpio"
parts+=("$stage/overlay.cpio")
initrd=$stage/initrd.img
: > "$initrd"
for p in "${parts[@]}"; do cat "$p" >> "$initrd"; pad4 "$initrd" >> "$initrd"; done
t_build1=${EPOCHREALTIME/./}
printf 'harness: scenario %s, initramfs %s KiB built in %d ms, project:%s\n' "$name" \
  "$(( $(stat -c %s "$initrd") / 1024 ))" "$(( (t_build1 - t_build0) / 1000 ))" "${shipped:- (none)}"

# --- results disk: dom0 writes a tar of /out to it
img=$out/.results.img
rm -f "$img"
truncate -s 1G "$img"

# --- boot
mem=${QEMU_MEM:-1024}
dom0_mem=${DOM0_MEM:-512M}
# CPU split: dom0's vCPUs are pinned to pCPUs 0..DOM0_VCPUS-1, guests created with
# xl_create to the remaining pCPUs. Sharing a pCPU between PV dom0 and an HVM/PVH
# guest (SVM world switches, emulated by TCG) corrupts dom0 user processes' TLS now and then.
smp=${SMP:-3}
dom0_vcpus=${DOM0_VCPUS:-2}
[ "$smp" -gt "$dom0_vcpus" ] || { echo "run.sh: SMP ($smp) must be greater than DOM0_VCPUS ($dom0_vcpus)" >&2; exit 2; }
guest_cpus=$dom0_vcpus
[ $(( smp - 1 )) -eq "$dom0_vcpus" ] || guest_cpus=$dom0_vcpus-$(( smp - 1 ))
# No AVX: once in CI, the Linux domU's init (busybox, static glibc) died of
# SIGILL at a VEX-coded instruction (glibc's AVX2 string functions chosen by
# CPUID) and its kernel panicked; QEMU 7.2 is the first TCG with AVX, and
# nothing here needs it. QEMU_CPU=max brings it back.
cpu=${QEMU_CPU:-max,-avx,-avx2}
guest_timeout=$(( timeout - 60 ))
[ $guest_timeout -ge 30 ] || guest_timeout=30
xen_cmd="console=com1 com1=115200,8n1 dom0_mem=$dom0_mem,max:$dom0_mem dom0_max_vcpus=$dom0_vcpus dom0_vcpus_pin loglvl=all guest_loglvl=all noreboot console_timestamps=boot smap=0 smep=0 ${XEN_CMDLINE_EXTRA:-}"
dom0_cmd="console=hvc0 earlyprintk=xen harness.timeout=$guest_timeout harness.guest_cpus=$guest_cpus ${DOM0_CMDLINE_EXTRA:-}"
qemu=(qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu "$cpu" -m "$mem" -smp "$smp"
      -display none -monitor none -serial stdio -no-reboot
      -device isa-debug-exit,iobase=0xf4,iosize=0x04
      -drive "file=${img//,/,,},format=raw,if=virtio,cache=unsafe"
      -kernel "$XEN" -append "$xen_cmd"
      -initrd "${VMLINUZ//,/,,} ${dom0_cmd//,/,,},${initrd//,/,,}")
printf '%q ' "${qemu[@]}" > "$out/qemu-cmdline.txt"; echo >> "$out/qemu-cmdline.txt"

serial=$out/serial.log
fifo=$stage/serial.fifo
mkfifo "$fifo"
crash=$stage/crash
verdict_seen=$stage/verdict

# Logger: prefix each serial line with host seconds since QEMU start, echo the
# interesting ones, flag fatal errors for the watcher below.
t0=${EPOCHREALTIME/./}
(
  seen_xen=0 seen_linux=0
  while IFS= read -r line; do
    now=${EPOCHREALTIME/./}
    d=$(( (now - t0) / 1000 ))
    ts=$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))
    line=${line//$'\r'/}
    printf '[%8s] %s\n' "$ts" "$line"
    case $line in
      *HARNESS-STAGE*|*HARNESS-RESULT*|*HARNESS-CHECK*|*HARNESS-VERDICT*) say "$ts" "$line" >&3 ;;
      *"Hardware Dom0 crashed"*|*"Panic on CPU"*|*"Kernel panic"*)
        say "$ts" "FATAL: $line" >&3; echo "$line" >> "$crash" ;;
      *"Xen version"*) [ $seen_xen = 1 ] || { seen_xen=1; say "$ts" "xen: ${line#*) }" >&3; } ;;
      *"Linux version"*) [ $seen_linux = 1 ] || { seen_linux=1; say "$ts" "dom0: ${line:0:60}..." >&3; } ;;
    esac
    case $line in *HARNESS-VERDICT*) : > "$verdict_seen" ;; esac
  done < "$fifo" > "$serial"
) 3>&1 &
logger=$!

"${qemu[@]}" < /dev/null > "$fifo" 2>&1 &
qpid=$!
say "0.000" "qemu pid $qpid started (timeout ${timeout}s, scenario gets ${guest_timeout}s)"

reason=
deadline=$(( t0 + timeout * 1000000 ))
verdict_at=
while kill -0 "$qpid" 2>/dev/null; do
  sleep 0.5
  now=${EPOCHREALTIME/./}
  if [ -s "$crash" ]; then
    sleep 2; reason="fatal: $(head -1 "$crash")"; break
  fi
  if [ "$now" -gt "$deadline" ]; then reason="timeout after ${timeout}s"; break; fi
  if [ -e "$verdict_seen" ]; then
    verdict_at=${verdict_at:-$now}
    # dom0 should have ended QEMU through isa-debug-exit by now
    if [ $(( now - verdict_at )) -gt 15000000 ]; then reason="QEMU did not exit after the verdict"; break; fi
  fi
done
if kill -0 "$qpid" 2>/dev/null; then
  kill "$qpid" 2>/dev/null || true
  sleep 1
  kill -9 "$qpid" 2>/dev/null || true
fi
set +e
wait "$qpid"; qrc=$?
wait "$logger"
set -e
d=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
total=$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))
say "$total" "qemu exited rc=$qrc${reason:+ ($reason)}"

# --- results
if ! tar -x -f "$img" -C "$out" 2>"$stage/tar.err"; then
  echo "harness: could not read the results disk: $(head -3 "$stage/tar.err")"
fi
rm -f "$img"
verdict=FAIL
why="no verdict"
if [ -s "$out/RESULT" ]; then
  read -r verdict why < "$out/RESULT"
elif grep -q 'HARNESS-VERDICT PASS' "$serial"; then
  verdict=PASS why="(from serial; results disk unreadable)"
fi
[ -z "$reason" ] || { verdict=FAIL; why="$reason; scenario said: $why"; }
[ "$verdict" = PASS ] && [ "$qrc" != 3 ] && { verdict=FAIL; why="QEMU exit status $qrc, expected 3 (isa-debug-exit PASS)"; }

echo "---- stages (host s since QEMU start | dom0 uptime)"
grep 'HARNESS-STAGE' "$serial" | sed -E 's/^\[ *([0-9.]+)\] .*HARNESS-STAGE ([^ ]+) t=([0-9.]+).*/  \1\t\3\t\2/' || true
printf '  %s\t\ttotal\n' "$total"
if [ "$verdict" != PASS ]; then
  echo "---- last 40 lines of $serial"
  tail -n 40 "$serial"
  for f in $FAIL_LOGS scenario.log; do
    [ -f "$out/$f" ] || continue
    echo "---- last 30 lines of $out/$f"
    tail -n 30 "$out/$f"
  done
  for f in "$out"/console/guest-*.log; do
    [ -f "$f" ] || continue
    echo "---- last 15 lines of $f"
    tail -n 15 "$f"
  done
fi
if [ "$verdict" = PASS ] && [ -f "$scenario/host-check.sh" ]; then
  echo "---- host-check.sh"
  if ! OUT=$out PROJECT=$PROJECT bash "$scenario/host-check.sh"; then verdict=FAIL why="host-check.sh failed"; fi
fi
echo "$verdict $name: $why  (${total}s, results in $out)"
[ "$verdict" = PASS ]
