# In the Linux domU (busybox sh): every take of /takes.txt in order, through
# snd-xen-front against sndback:
#  p: aplay /play/<take>.raw (-t raw: the take's sample bytes as sndif carries
#     them; a WAV file cannot ask aplay for S24_LE: it plays 24-bit samples in
#     4 bytes only from a plain PCM header with 24 bits, which hound does not
#     write) on hw:0,<dev>, timed (domU clock), then report its
#     exit status, ALSA's period/buffer, what it printed about errors, and how
#     many "playback drain timeout" the kernel logged meanwhile (snd_pcm_drain
#     returning -EIO; a dev_dbg, switched on below);
#  c: arecord 1 s of <fmt> x <ch> from hw:0,<dev>; the sha256 of the sample
#     bytes (after arecord's 44-byte WAV header) is printed and compared with
#     /expect/<take>.sha256 (the stream's source as the wire carries it); a
#     capture that differs is sent back over the console for host-check.sh.
# ALSA buffers of 4 s (-B; lxs.cfg's buffer-size caps 6 ch at 174762 frames) with
# 100 ms periods (-F: 4800 frames at 48 kHz): a whole take fits, so aplay starts
# the stream at drain with everything written and arecord never overruns, however
# long the domU stalls under QEMU TCG (an xrun through snd-xen-front repeats or
# drops data, see sndback/README.md); and a drain that ends by ALSA's timeout
# (buffer x 1.1 / rate: >= 3.9 s) cannot pass host-check.sh's drain bound.
stage domu-script
waitfor 30 has_card || echo "DOMU-NO-CARD"
sed 's/^/DOMU-CARDS /' /proc/asound/cards
sed 's/^/DOMU-PCM /' /proc/asound/pcm

# "playback drain timeout (DMA or IRQ trouble?)" is a dev_dbg in snd_pcm_drain
# (sound/core/pcm_native.c): switch it on with dynamic debug.
dyndbg=unavailable
for control in /proc/dynamic_debug/control /sys/kernel/debug/dynamic_debug/control; do
  if [ "$control" = /sys/kernel/debug/dynamic_debug/control ] && [ ! -e "$control" ]; then
    mkdir -p /sys/kernel/debug && mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
  fi
  if [ -w "$control" ] && echo 'func snd_pcm_drain +p' > "$control" 2>/dev/null; then
    dyndbg=$control
    break
  fi
done
echo "DOMU-DYNDBG $dyndbg"

# centis: domU uptime in 1/100 s (no fork)
centis() { read -r _up _ < /proc/uptime; echo "${_up%.*}${_up#*.}"; }
drain_timeouts() { dmesg | grep -c 'drain timeout'; }
alsa_format() {
  case $1 in
    s16_le) echo S16_LE ;; s24_le) echo S24_LE ;; s32_le) echo S32_LE ;;
    u8) echo U8 ;; f32_le|float_le) echo FLOAT_LE ;; *) echo "$1" ;;
  esac
}
# hw_value FILE KEY: a value of aplay -v's hw dump (period_size, buffer_size)
hw_value() { sed -n "s/^ *$2 *: *\([0-9]*\).*/\1/p" "$1" | head -n 1; }
# problems FILE TAG: the lines of an aplay/arecord log that report trouble
problems() { grep -iE 'error|timeout|underrun|overrun|warning|unable|non available' "$1" | sed "s/^/$2 /"; }

grep -v '^#' /takes.txt | while read -r dir take dev id fmt ch ms seed; do
  [ -n "$dir" ] || continue
  case $dir in
  p)
    stage "domu-play-$take"
    set -- $(sha256sum "/play/$take.raw")
    sha=$1
    d0=$(drain_timeouts)
    t0=$(centis)
    aplay -v -D "hw:0,$dev" -t raw -f "$(alsa_format "$fmt")" -r 48000 -c "$ch" -B 4000000 -F 100000 \
      "/play/$take.raw" < /dev/null > /tmp/aplay.log 2>&1
    rc=$?
    t1=$(centis)
    d1=$(drain_timeouts)
    echo "DOMU-PLAY take=$take dev=$dev id=$id rc=$rc ms=$(( (t1 - t0) * 10 ))" \
      "period=$(hw_value /tmp/aplay.log period_size) buffer=$(hw_value /tmp/aplay.log buffer_size)" \
      "drain_timeouts=$(( d1 - d0 )) sha256=$sha"
    problems /tmp/aplay.log "DOMU-PLAY-SAYS take=$take:"
    [ $rc = 0 ] || tail -n 3 /tmp/aplay.log | sed "s/^/DOMU-PLAY-TAIL take=$take: /"
    ;;
  c)
    stage "domu-rec-$take"
    t0=$(centis)
    arecord -v -D "hw:0,$dev" -f "$(alsa_format "$fmt")" -r 48000 -c "$ch" -d 1 -B 4000000 -F 100000 \
      "/tmp/rec-$take.wav" < /dev/null > /tmp/arecord.log 2>&1
    rc=$?
    t1=$(centis)
    set -- $(tail -c +45 "/tmp/rec-$take.wav" 2>/dev/null | sha256sum)
    sha=$1
    want=$(cat "/expect/$take.sha256")
    same=no
    [ "$sha" = "$want" ] && same=yes
    echo "DOMU-REC take=$take dev=$dev id=$id rc=$rc ms=$(( (t1 - t0) * 10 ))" \
      "period=$(hw_value /tmp/arecord.log period_size) buffer=$(hw_value /tmp/arecord.log buffer_size)" \
      "bytes=$(wc -c < "/tmp/rec-$take.wav" 2>/dev/null || echo 0) data_sha256=$sha source_sha256=$want same=$same"
    problems /tmp/arecord.log "DOMU-REC-SAYS take=$take:"
    [ $rc = 0 ] || tail -n 3 /tmp/arecord.log | sed "s/^/DOMU-REC-TAIL take=$take: /"
    # (a file of just the 44-byte header has nothing to compare)
    if [ $same = no ] && [ "$(wc -c < "/tmp/rec-$take.wav" 2>/dev/null || echo 0)" -gt 44 ]; then
      send_file "rec-$take" "/tmp/rec-$take.wav"
    fi
    rm -f "/tmp/rec-$take.wav"
    ;;
  esac
done
stage domu-done
dmesg | grep -iE 'snd|sound|xen.snd|drain' | tail -n 40 | sed 's/^/DOMU-DMESG /'
