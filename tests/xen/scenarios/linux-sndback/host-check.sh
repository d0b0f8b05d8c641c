#!/bin/bash
# After the run: every verdict on linux-sndback's takes (takes.txt), on the host.
#  Playback, per take: aplay exited 0, printed no error/underrun, played the
#   reference file (sha256), and snd_pcm_drain did not end by ALSA's timeout
#   (no "playback drain timeout" in the domU's kernel log, a dynamic-debug
#   message); its drain came promptly: from sndback's TRIGGER START to its
#   TRIGGER STOP (dom0's clock, backend.log) at most the take's length (with
#   aplay's padding) + 2 s. The aplay wall time in the domU is reported too.
#  Playback, per stream: sndback's WAV = the stream's takes one after the other,
#   each padded with the zero frames that complete aplay's last period (the
#   period aplay -v printed), sample for sample, nothing else.
#  Capture, per take: arecord exited 0 and its sample bytes = the stream's
#   source as it travels (sha256 in the domU); a capture that differs came back
#   and wavtool compares it with the source sample for sample.
#
# The drain bound, and why it is robust under QEMU TCG: it is measured on the
# backend's clock between two requests of the same stream, so the domU's
# process start-up, HW_PARAM negotiation and stalls before the stream starts
# (seconds under load) do not count; what counts is the last CUR_POS event
# reaching ALSA and the STOP request coming back: < 0.2 s on a quiet host,
# 1.1 s seen with the host at load 8 (two QEMUs and a compiler on 2 cores).
# 2 s of slack covers that; a drain that ends by ALSA's timeout instead takes
# buffer x 1.1 / rate (>= 3.96 s with the 4 s buffers used here, 174762 frames
# for 6 ch) after the last period it saw, or from START when no event at all
# reached ALSA (a reopened stream whose event ids do not match): past the bound
# of every take (at most 1.1 s + 2 s). The kernel log check above sees the
# timeout directly; the bound also catches a drain that ends in time but late.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../host-check-lib.sh"
log=$OUT/console/guest-lxs.log
[ -f "$log" ] || { echo "host-check FAIL: no console log $log"; exit 1; }
lines() { tr -d '\r' < "$log" | grep -E "^$1 " || true; }
# field LINE KEY: the value of KEY= in LINE
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
takes() { grep -v '^#' "$HERE/takes.txt" | awk -v d="$1" '$1 == d'; }
domid=$(sed -n 's/^lxs \([0-9]*\)$/\1/p' "$OUT/domids.txt" 2>/dev/null || true)
ref=$OUT/reference
margin_ns=2000000000

echo "-- the card as the domU saw it"
lines DOMU-CARDS | head -n 4
lines DOMU-PCM
dyndbg=$(lines DOMU-DYNDBG | head -n 1 | cut -d' ' -f2)
if [ -n "$dyndbg" ] && [ "$dyndbg" != unavailable ]; then
  ok "drain timeouts visible: dynamic debug of snd_pcm_drain on ($dyndbg)"
else
  bad "dynamic debug unavailable in the domU: drain timeouts are not visible in its kernel log"
fi

# triggers ID: "OP:NS" of every TRIGGER sndback logged on stream ID, in order
triggers() {
  grep -oE "dom$domid/vsnd0/[0-9]+/[0-9]+\($1\): TRIGGER [0-9] .* at [0-9]+ ns" "$OUT/backend.log" \
    | sed -E 's/.*TRIGGER ([0-9]) .* at ([0-9]+) ns/\1:\2/' || true
}

echo "-- playback"
declare -A takes_of period_of
n_of() { echo "$1" | wc -w; }
while read -r _ take dev id fmt ch ms seed; do
  line=$(lines DOMU-PLAY | grep " take=$take " | head -n 1)
  if [ -z "$line" ]; then bad "play $take: the domU did not report it"; continue; fi
  rc=$(field "$line" rc) wall=$(field "$line" ms) period=$(field "$line" period)
  drains=$(field "$line" drain_timeouts) sha=$(field "$line" sha256)
  says=$(lines 'DOMU-PLAY-(SAYS|TAIL)' | grep " take=$take:" || true)
  "$WAVTOOL" raw "$ref/play/$take.wav" --out "$ref/play/$take.raw"
  want_sha=$(sha256sum "$ref/play/$take.raw" | cut -d' ' -f1)
  [ "$sha" = "$want_sha" ] || bad "play $take: the domU's /play/$take.raw is not the reference (sha256 $sha, want $want_sha)"
  if [ "$rc" = 0 ] && [ -z "$says" ]; then
    ok "play $take (hw:0,$dev $fmt ${ch} ch, $ms ms): aplay rc=0 in $wall ms (domU clock), period $period, buffer $(field "$line" buffer)"
  else
    bad "play $take (hw:0,$dev $fmt ${ch} ch): aplay rc=$rc in $wall ms; it said: ${says:-nothing}"
  fi
  if [ "$drains" = 0 ]; then
    ok "play $take: no 'playback drain timeout' (snd_pcm_drain did not return -EIO)"
  else
    bad "play $take: snd_pcm_drain ended by ALSA's timeout ($drains x 'playback drain timeout (DMA or IRQ trouble?)' in the domU's kernel log)"
  fi
  # the n-th START..STOP of this stream belongs to the n-th take on it
  n=$(( $(n_of "${takes_of[$id]:-}") + 1 ))
  takes_of[$id]="${takes_of[$id]:-} $take"
  period_of[$take]=$period
  pair=$(triggers "$id" | awk -F: -v n="$n" '$1 == 0 { s++; if (s == n) start = $2; next }
                                             $1 == 2 && start != "" && stop == "" { stop = $2 }
                                             END { if (start != "" && stop != "") print start, stop }')
  frames=$(( 48000 * ms / 1000 ))
  padded=$frames
  if [ -n "$period" ] && [ "$period" -gt 0 ]; then
    padded=$(( (frames + period - 1) / period * period ))
    # aplay -t raw adds a whole period of silence after a take of whole periods
    [ $(( frames % period )) != 0 ] || bad "play $take: $frames frames are whole $period-frame periods: change its length in takes.txt"
  fi
  length_ns=$(( padded * 1000000000 / 48000 ))
  if [ -z "$pair" ]; then
    bad "play $take: no TRIGGER START..STOP pair #$n of $id in backend.log"
  else
    set -- $pair
    took=$(( $2 - $1 ))
    verdict="TRIGGER START -> STOP $(( took / 1000000 )) ms for $(( length_ns / 1000000 )) ms of audio (bound: + $(( margin_ns / 1000000 )) ms)"
    if [ "$took" -le $(( length_ns + margin_ns )) ]; then ok "play $take: drain prompt: $verdict"; else bad "play $take: drain late: $verdict"; fi
  fi
done < <(takes p)

for id in "${!takes_of[@]}"; do
  set -- ${takes_of[$id]}
  files=() periods=()
  for take in "$@"; do files+=("$ref/play/$take.wav"); periods+=("${period_of[$take]:-0}"); done
  wav=$OUT/sndback/dom$domid-$id.wav
  extra=$(ls "$OUT/sndback" | grep -E "^dom$domid-$id-[0-9]+\.wav\$" | tr '\n' ' ' || true)
  [ -z "$extra" ] || bad "stream $id: sndback started more files ($extra): a format change or reconnection"
  if [ "$(printf '%s\n' "${periods[@]}" | sort -u | wc -l)" != 1 ]; then
    bad "stream $id: aplay used different periods (${periods[*]}); expected one"
  fi
  "$WAVTOOL" concat --period "${periods[0]}" --out "$ref/expected-$id.wav" "${files[@]}" > /dev/null
  if [ ! -f "$wav" ]; then bad "stream $id: sndback wrote no $wav"; continue; fi
  if verdict=$("$WAVTOOL" compare "$ref/expected-$id.wav" "$wav" 2>&1); then
    ok "stream $id: $(basename "$wav") = takes $* (each padded to ${periods[0]}-frame periods): $verdict"
  else
    bad "stream $id: $(basename "$wav") != takes $* (each padded to ${periods[0]}-frame periods): $verdict"
  fi
done

echo "-- capture"
sources=$(cat "$OUT/sources.txt" 2>/dev/null || echo unknown)
if [ "$sources" = per-stream ]; then
  ok "sndback serves each capture stream its own source (--source ID=wav:FILE)"
else
  bad "sndback has no per-stream capture source ($sources): every stream captured src/mic.wav"
fi
while read -r _ take dev id fmt ch ms seed; do
  line=$(lines DOMU-REC | grep " take=$take " | head -n 1)
  if [ -z "$line" ]; then bad "rec $take: the domU did not report it"; continue; fi
  rc=$(field "$line" rc) wall=$(field "$line" ms) same=$(field "$line" same)
  says=$(lines 'DOMU-REC-(SAYS|TAIL)' | grep " take=$take:" || true)
  what="rec $take (hw:0,$dev $fmt ${ch} ch <- src/$id.wav)"
  if [ "$rc" = 0 ] && [ -z "$says" ]; then
    ok "$what: arecord rc=0 in $wall ms, period $(field "$line" period), buffer $(field "$line" buffer)"
  else
    bad "$what: arecord rc=$rc in $wall ms; it said: ${says:-nothing}"
  fi
  if [ "$same" = yes ]; then
    ok "$what: the captured bytes are the source's, byte for byte (sha256 $(field "$line" data_sha256))"
  elif [ -f "$OUT/captured/rec-$take.wav" ]; then
    if verdict=$("$WAVTOOL" compare "$ref/src/$id.wav" "$OUT/captured/rec-$take.wav" 2>&1); then
      ok "$what: sample for sample the source (bytes differ outside the samples' bits): $verdict"
    else
      bad "$what: not the source: $verdict"
    fi
  else
    bad "$what: not the source (sha256 $(field "$line" data_sha256), $(field "$line" bytes) bytes) and nothing came back"
  fi
done < <(takes c)

echo "-- sndback"
cat "$OUT/float-node.txt" 2>/dev/null || true
grep -E " (ERROR|WARN) " "$OUT/backend.log" | head -n 20 || true
finish linux-sndback
