# In the Linux domU: play 0.5 s of known bytes with aplay, record 1 s with
# arecord, send both back over the console (dom0 decodes them into $OUT).
stage domu-script
waitfor 30 has_card || { echo "DOMU-NO-CARD"; cat /proc/asound/cards; }
head -c 96000 /dev/urandom > /tmp/played.raw          # 0.5 s, 48 kHz, stereo, s16_le
stage domu-aplay
aplay -v -D hw:0,0 -t raw -f S16_LE -r 48000 -c 2 /tmp/played.raw 2>&1 | tail -n 5
echo "DOMU-APLAY rc=$?"
stage domu-arecord
arecord -D hw:0,0 -f S16_LE -r 48000 -c 1 -d 1 /tmp/captured.wav 2>&1 | tail -n 3
echo "DOMU-ARECORD rc=$? bytes=$(wc -c < /tmp/captured.wav)"
stage domu-send
send_file played /tmp/played.raw
send_file captured /tmp/captured.wav
stage domu-sent
