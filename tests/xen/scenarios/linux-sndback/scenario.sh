# The real backend against a real frontend: sndback in dom0 serves a Linux PVH
# domU (snd-xen-front). aplay plays the test's WAV (host-prepare.sh), which must
# reach sndback's WAV file sample for sample; arecord must capture sndback's WAV
# source (/scenario/source.wav) exactly. host-check.sh compares them on the host.
stage backend
if [ ! -x /project/sndback ]; then result FAIL "no /project/sndback (cargo build --release -p sndback)"; return 0; fi
mkdir -p "$OUT/sndback"
start_bg backend /project/sndback --out-dir "$OUT/sndback" --source wav:/scenario/source.wav --log debug \
  --stats "$OUT/sndback-stats.json"
sleep 1
check "sndback is running" kill -0 "$(cat /run/backend.pid)" || return 0
check "xl-create-vsnd --check sees the running backend" /project/xl-create-vsnd --check /scenario/lxs.cfg
check "xl create lxs.cfg (Linux domU + vsnd, sndback)" xl_create /scenario/lxs.cfg || return 0
check "domU ran its script" wait_console lxs 180 'HARNESS-DOMU-DONE'
log=$(console_log lxs)
check "aplay succeeded" grep -q 'DOMU-APLAY rc=0' "$log"
check "arecord succeeded" grep -q 'DOMU-ARECORD rc=0' "$log"
check "captured WAV came back from the domU" save_b64 "$log" captured "$OUT/captured.wav"
check "domU powered off" wait_gone lxs 60
stop_bg backend
ls -l "$OUT/sndback"
check "sndback wrote the playback WAV" sh -c "ls $OUT/sndback/dom*-spk.wav >/dev/null 2>&1"
result PASS "aplay/arecord through sndback ran; host-check.sh checks the audio"
