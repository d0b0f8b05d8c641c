# The real backend against a real frontend: sndback in dom0 serves a Linux PVH
# domU (Debian's snd-xen-front), one card of six PCMs (lxs.cfg). The domU runs
# every take of takes.txt (domu/domu.sh): aplay three times in a row on PCM 0,
# once on each other format (s32_le, s24_le, u8, 6 ch s16_le, f32_le), then
# arecord the same way. dom0 only runs it and collects: sndback's WAVs, its log
# (TRIGGER times, for the drain timing), the captures that came back; every
# verdict on the audio, the exit statuses and the timing is host-check.sh's.
stage backend
if [ ! -x /project/sndback ]; then result FAIL "no /project/sndback (cargo build --release -p sndback)"; return 0; fi
mkdir -p "$OUT/sndback"
# Each capture stream plays its own source (src/<unique-id>.wav, in the stream's
# format, so it can arrive bit for bit); the stream 'mic' is also the default.
sources="--source wav:/scenario/src/mic.wav"
for f in /scenario/src/*.wav; do
  id=${f##*/}
  sources="$sources --source ${id%.wav}=wav:$f"
done
start_sndback() {
  # shellcheck disable=SC2086  # $1 is a list of options
  start_bg backend /project/sndback --out-dir "$OUT/sndback" $1 --log debug --stats "$OUT/sndback-stats.json"
  sleep 2
  ! gone "$(cat /run/backend.pid)"
}
if start_sndback "$sources"; then
  echo "per-stream" > "$OUT/sources.txt"
else
  # A sndback without per-stream sources: every capture plays src/mic.wav
  # (host-check.sh reports it; the other formats' captures cannot be exact).
  log "sndback refused per-stream --source ID=wav:FILE: $(tail -n 3 "$OUT/backend.log")"
  cp "$OUT/backend.log" "$OUT/backend-refused.log"
  echo "single: $(tail -n 1 "$OUT/backend.log")" > "$OUT/sources.txt"
  start_sndback "--source wav:/scenario/src/mic.wav"
fi
check "sndback is running" kill -0 "$(cat /run/backend.pid)" || return 0
check "xl-create-vsnd --check sees the running backend" /project/xl-create-vsnd --check /scenario/lxs.cfg
# xl writes the float format as libxl names it, f32_le; this Linux knows only
# sndif.h's float_le and would skip it (PCM 5 would then inherit the card's
# other formats and offer no float). So the domU is created paused and PCM 5's
# node is rewritten to float_le before it runs, as a user of this kernel must.
lx_create() {
  stage xl-create-lxs
  timeout 120 xl -v create -p /scenario/lxs.cfg "cpus=\"$GUEST_CPUS\"" > "$OUT/xl-create-lxs.log" 2>&1
}
check "xl create -p lxs.cfg (Linux domU + vsnd, sndback)" lx_create || { tail -n 15 "$OUT/xl-create-lxs.log"; return 0; }
d=$(xl domid lxs)
echo "lxs $d" > "$OUT/domids.txt"
node=/local/domain/$d/device/vsnd/0/5/sample-formats
echo "xl wrote $node = $(xenstore-read "$node")" | tee "$OUT/float-node.txt"
check "PCM 5 sample-formats: float_le (sndif.h's name)" xenstore-write "$node" float_le
check "xl unpause lxs" xl unpause lxs
check "domU ran its script" wait_console lxs 480 'HARNESS-DOMU-DONE'
log=$(console_log lxs)
mkdir -p "$OUT/captured"
for tag in $(tr -d '\r' < "$log" | sed -n 's/^HARNESS-B64-BEGIN \(rec-.*\)$/\1/p'); do
  check "captured $tag came back from the domU" save_b64 "$log" "$tag" "$OUT/captured/$tag.wav"
done
check "domU powered off" wait_gone lxs 60
stop_bg backend
ls -l "$OUT/sndback" "$OUT/captured"
result PASS "the takes ran; host-check.sh checks exit statuses, drain times and the audio"
