# Runs in the Linux domU (see tests/xen/domu-init.sh): report what the sound frontend made.
stage domu-script
if waitfor 30 has_card; then echo "DOMU-CARD-OK"; else echo "DOMU-CARD-MISSING"; fi
echo "--- /proc/asound/cards"; cat /proc/asound/cards
echo "--- lsmod"; grep -E 'snd_xen_front|snd_pcm' /proc/modules | cut -d' ' -f1
echo "--- aplay -l"; aplay -l 2>&1
echo "--- arecord -l"; arecord -l 2>&1
for d in /sys/bus/xen/devices/vsnd-*; do
  [ -e "$d" ] && echo "DOMU-VSND $(basename "$d") state=$(cat "$d/state" 2>/dev/null)"
done
stage domu-send
dd if=/dev/urandom of=/tmp/blob.bin bs=64k count=4 2>/dev/null
echo "DOMU-BLOB-SHA256 $(cd /tmp && sha256sum blob.bin)"
send_file blob /tmp/blob.bin
stage domu-sent
