# In the Linux domU (bench): play the 440 Hz tone (48 kHz, stereo, s16_le;
# /bench/tone-1000.wav, 1 s = 440 whole cycles) for bench.seconds= seconds
# (1 s: the file itself; more: its samples repeated, as raw data in tmpfs) with
# bench.period= / bench.buffer= frames, as soon as the card is there.
seconds=1 period=480 buffer=9600
for arg in $(cat /proc/cmdline); do
  case $arg in
    bench.seconds=*) seconds=${arg#*=} ;;
    bench.period=*) period=${arg#*=} ;;
    bench.buffer=*) buffer=${arg#*=} ;;
  esac
done
if [ "$seconds" = 1 ]; then
  set -- /bench/tone-1000.wav
else
  i=0
  while [ $i -lt "$seconds" ]; do tail -c +45 /bench/tone-1000.wav; i=$((i + 1)); done > /tmp/tone.raw
  set -- -t raw -f S16_LE -r 48000 -c 2 /tmp/tone.raw
fi
waitfor 30 has_card || { echo "DOMU-NO-CARD"; cat /proc/asound/cards; }
stage domu-aplay
aplay -v -D hw:0,0 --period-size="$period" --buffer-size="$buffer" "$@" > /tmp/aplay.log 2>&1
rc=$?
echo "DOMU-APLAY rc=$rc underruns=$(grep -c 'underrun' /tmp/aplay.log)"
stage domu-aplay-done
# A failed aplay (EIO was seen twice in 10 runs, sndback answering no error):
# the kernel's side (snd-xen-front logs a dead channel or a timed-out
# request) and the time from domu-aplay to here tell which path failed.
[ "$rc" = 0 ] || dmesg | grep -i -e snd -e xen -e alsa | tail -n 20 | sed 's/^/DOMU-DMESG /'
sed -n 's/^ *\(period_size\|buffer_size\) *: *\([0-9]*\).*/DOMU-APLAY-\1 \2/p' /tmp/aplay.log
tail -n 3 /tmp/aplay.log
