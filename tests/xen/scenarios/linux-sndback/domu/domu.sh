# In the Linux domU: aplay the test's WAV (/play.wav: 1 s, 48 kHz, stereo, s16_le),
# arecord 1 s of mono s16_le from sndback's WAV source, send the capture back
# over the console (dom0 decodes it into $OUT).
stage domu-script
waitfor 30 has_card || { echo "DOMU-NO-CARD"; cat /proc/asound/cards; }
set -- $(sha256sum /play.wav)
echo "DOMU-PLAY-SHA256 $1"
stage domu-aplay
# Big buffers (ask for 2 s; snd-xen-front granted 65536 frames = 1.37 s stereo and 96000 mono, more
# than the 1 s take) so that nothing can underrun/overrun under QEMU TCG, where the
# domU stalls for hundreds of ms. An xrun is not sample-exact with snd-xen-front: it
# sends data to the backend (WRITE/READ) before ALSA commits the transfer, so after
# an underrun aplay's retry repeats part of a chunk (seen: 4001 frames played twice),
# and after an overrun periods already READ are lost.
aplay -v -D hw:0,0 -B 2000000 -F 100000 /play.wav > /tmp/aplay.log 2>&1
echo "DOMU-APLAY rc=$? underruns=$(grep -c 'underrun' /tmp/aplay.log)"
sed -n 's/^ *\(period_size\|buffer_size\) *: *\([0-9]*\).*/DOMU-APLAY-\1 \2/p' /tmp/aplay.log
tail -n 3 /tmp/aplay.log
stage domu-arecord
arecord -v -D hw:0,0 -f S16_LE -r 48000 -c 1 -d 1 -B 2000000 -F 100000 /tmp/captured.wav > /tmp/arecord.log 2>&1
echo "DOMU-ARECORD rc=$? bytes=$(wc -c < /tmp/captured.wav) overruns=$(grep -c 'overrun' /tmp/arecord.log)"
sed -n 's/^ *\(period_size\|buffer_size\) *: *\([0-9]*\).*/DOMU-ARECORD-\1 \2/p' /tmp/arecord.log
tail -n 3 /tmp/arecord.log
stage domu-send
send_file captured /tmp/captured.wav
stage domu-sent
