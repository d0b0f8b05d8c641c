# Runs in dom0 (tests/xen/run.sh): sndback serves the card, hello plays and
# records, the WAV sndback wrote comes back to the host for host-check.sh.
mkdir -p "$OUT/wav"
stage backend
start_bg backend /project/sndback --out-dir "$OUT/wav" --log debug
stage hello
check "xl create hello.cfg" xl_create /scenario/hello.cfg
check "hello: played and recorded" wait_console hello 120 'HELLO played spk, recorded 1 s, peak [1-9]'
check "hello: XENSND-DONE ok" wait_console hello 60 'XENSND-DONE ok'
check "hello: powered off" wait_gone hello 60
cp "$(console_log hello)" "$OUT/console-hello.log"
sleep 1
stop_bg backend
result PASS "hello played its sound and recorded a second under Xen"
