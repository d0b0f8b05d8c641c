# `make run`: the xensnd guest plays the embedded chime and then a tone through
# sndback in dom0; the WAVs come back to the host, where run-demo.sh compares
# them sample for sample with references made by the guest's own signal code
# and draws them.
stage backend
mkdir -p "$OUT/audio"
start_bg backend /project/sndback --out-dir "$OUT/audio" --source tone:440 \
  --stats "$OUT/sndback-stats.json"
sleep 1
check "sndback is running" kill -0 "$(cat /run/backend.pid)" || return 0
stage chime
check "xl create chime.cfg" xl_create /scenario/chime.cfg || return 0
check "chime guest finished" wait_console chime 120 'XENSND-DONE'
check "chime guest succeeded" grep -q 'XENSND-DONE ok' "$(console_log chime)"
check "chime guest powered off" wait_gone chime 60
stage tone
check "xl create tone.cfg" xl_create /scenario/tone.cfg || return 0
check "tone guest finished" wait_console tone 120 'XENSND-DONE'
check "tone guest succeeded" grep -q 'XENSND-DONE ok' "$(console_log tone)"
check "tone guest powered off" wait_gone tone 60
stop_bg backend
ls -l "$OUT/audio"
grep -h 'XENSND-' "$(console_log chime)" "$(console_log tone)"
result PASS "chime and tone played through sndback"
