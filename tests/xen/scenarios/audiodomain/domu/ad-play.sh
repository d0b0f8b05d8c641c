# In the Linux client (busybox sh): play /play/client.wav (48 kHz, stereo,
# s16_le noise, written by host-prepare.sh) through snd-xen-front on the
# card the audio domain serves, with a 1 s buffer in 100 ms periods: under
# QEMU TCG a smaller one underruns now and then, and aplay's recovery after
# an underrun has been seen to end in EIO inside the domU (neither sndback
# nor the audio domain answered an error: see issue #15's notes).
stage domu-script
waitfor 30 has_card || { echo "DOMU-NO-CARD"; cat /proc/asound/cards; }
stage domu-aplay
aplay -v -D hw:0,0 --period-size=4800 --buffer-size=48000 /play/client.wav > /tmp/aplay.log 2>&1
rc=$?
echo "DOMU-APLAY rc=$rc underruns=$(grep -c underrun /tmp/aplay.log)"
stage domu-aplay-done
tail -n 3 /tmp/aplay.log
