#!/bin/bash
# After a PASS of topology: the sample-exact checks, on the host.
#  - every stream negotiated what its PCM offers (rate, channels, format: the
#    guest's "stream ID: ..." line);
#  - spk22, spk6, big8: sndback's WAV = wavtool's reference of the guest's tone
#    in the stream's layout, sample for sample; the guest's CRC-32 of what it
#    queued = the reference's;
#  - big8: sndback OPENed a buffer of more than 1023 pages (two directory pages);
#  - spk6: the buffer sndback OPENed is whole 12-byte frames and within the
#    card's buffer-size of 65534 bytes;
#  - mic: the guest's CRC-32 of its 24000 frames = that of the source looped.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../host-check-lib.sh"
refs=$OUT/references
mkdir -p "$refs"
# result_field NAME STREAM KEY: KEY= of the guest's XENSND-RESULT line for STREAM
result_field() {
  { console "$1" | grep -E "XENSND-RESULT $2" || true; } | head -n1 | sed -n "s/.* $3=\([^ ]*\).*/\1/p"
}
# opened DOMID ID: sndback's OPEN line of stream ID
opened() { grep -oE "dom$1/vsnd[0-9]+/[0-9]+/[0-9]+\($2\): OPEN .*" "$OUT/backend.log" | head -n1 || true; }

# negotiated NAME ID RATE CH FORMAT: the guest's stream line shows that layout
negotiated() {
  local line
  line=$(console "$1" | grep -oE "stream $2: [0-9]+ Hz, [0-9]+ ch, [a-z0-9_]+, period [0-9]+ frames, buffer [0-9]+ frames" | head -n1 || true)
  if [ "$line" = "${line/$3 Hz, $4 ch, $5,/}" ] || [ -z "$line" ]; then
    bad "$1: stream $2 did not negotiate $3 Hz, $4 ch, $5: '${line:-no stream line}'"
  else
    ok "$1: $line"
  fi
}

# played NAME ID FREQ RATE CH FORMAT MS: WAV and CRC equal the reference tone
played() {
  local name=$1 id=$2 freq=$3 rate=$4 ch=$5 format=$6 ms=$7 d ref wav verdict
  d=$(domid "$name")
  ref=$refs/$id.wav
  wav=$OUT/wav/dom$d-$id.wav
  "$WAVTOOL" tone --freq "$freq" --rate "$rate" --channels "$ch" --format "$format" --ms "$ms" --out "$ref" > /dev/null
  negotiated "$name" "$id" "$rate" "$ch" "$format"
  if [ ! -f "$wav" ]; then
    bad "$name: sndback wrote no $(basename "$wav") ($(ls "$OUT/wav" | tr '\n' ' '))"
  elif verdict=$("$WAVTOOL" compare "$ref" "$wav"); then
    ok "$name: $(basename "$wav") = $freq Hz reference: $verdict"
  else
    bad "$name: $(basename "$wav") != $freq Hz reference: $verdict"
  fi
  local guest_crc ref_crc
  guest_crc=$(result_field "$name" "stream=$id " crc32)
  ref_crc=$("$WAVTOOL" crc32 "$ref")
  if [ -n "$guest_crc" ] && [ "$guest_crc" = "$ref_crc" ]; then
    ok "$name: guest's $id crc32=$guest_crc = reference's"
  else
    bad "$name: guest's $id crc32=${guest_crc:-none}, reference's $ref_crc"
  fi
}

echo "-- guests"
for name in xt-cards xt-big xt-rec; do
  done_line=$({ console "$name" 2>/dev/null | grep -oE 'XENSND-DONE.*' || true; } | head -n1)
  [ "$done_line" = "XENSND-DONE ok" ] && ok "$name: $done_line" || bad "$name: ${done_line:-no XENSND-DONE}"
done

echo "-- two cards at once"
played xt-cards spk22 440 22050 2 s32_le 1000
played xt-cards spk6 1000 48000 6 s16_le 1000
d=$(domid xt-cards)
open6=$(opened "$d" spk6)
bytes=$(echo "$open6" | sed -n 's/.*buffer \([0-9]*\) bytes.*/\1/p')
if [ -n "$bytes" ] && [ $((bytes % 12)) = 0 ] && [ "$bytes" -le 65534 ]; then
  ok "xt-cards: spk6's buffer: $bytes bytes = $((bytes / 12)) whole 12-byte frames, within buffer-size 65534: $open6"
else
  bad "xt-cards: spk6's buffer is not whole frames within 65534 bytes: '${open6:-no OPEN}'"
fi
if grep -q "dom$d/vsnd0/" "$OUT/backend.log" && grep -q "dom$d/vsnd1/" "$OUT/backend.log"; then
  ok "xt-cards: sndback served both cards (vsnd0 and vsnd1)"
else
  bad "xt-cards: sndback did not serve both vsnd0 and vsnd1"
fi

echo "-- a buffer of more than 1023 pages"
played xt-big big8 750 48000 8 s32_le 3500
d=$(domid xt-big)
open8=$(opened "$d" big8)
pages=$(echo "$open8" | sed -n 's/.*[( ]\([0-9]*\) pages).*/\1/p')
if [ -n "$pages" ] && [ "$pages" -gt 1023 ]; then
  ok "xt-big: big8's buffer: $pages pages (> 1023: more than one directory page): $open8"
else
  bad "xt-big: big8's buffer is not past 1023 pages: '${open8:-no OPEN}'"
fi

echo "-- capture-only PCM"
negotiated xt-rec mic 48000 2 s16_le
frames=$(result_field xt-rec capture frames)
got=$(result_field xt-rec capture crc32)
want=$("$WAVTOOL" crc32 --frames 24000 --loop "$OUT/reference/mic-source.wav")
if [ "$frames" = 24000 ] && [ "$got" = "$want" ]; then
  ok "xt-rec: guest crc32=$got over $frames frames = first 24000 frames of mic-source.wav (looped)"
else
  bad "xt-rec: guest frames=${frames:-none} crc32=${got:-none}, source crc32=$want"
fi

finish topology
