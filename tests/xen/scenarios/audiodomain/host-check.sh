#!/bin/bash
# After a PASS: the audio domain's output, as dom0's sndback wrote it (the
# stream `out`), must equal the mix rebuilt on the host from the clients'
# inputs (xc's 440 Hz tone, 3000 ms at -6 dBFS; xd's 880 Hz tone, 20 s, of
# which it played what it could before `xl destroy`; the Linux client's
# noise, reference/client.wav) placed where the audio domain's
# segments say (`AUDIODOMAIN segment client=N out=O in=I frames=L`; client N
# is the stream that logged `dom<D> spk: joined the mix as client N`), summed
# and clipped as the mixer does (wavtool mix): sample for sample, whole file.
set -euo pipefail
. "$(dirname "$0")/../../host-check-lib.sh"
wav=$(ls "$OUT"/wav/*out*.wav | head -n1)
"$WAVTOOL" tone --freq 440 --ms 3000 --out "$OUT/reference/tone.wav"
"$WAVTOOL" tone --freq 880 --ms 20000 --out "$OUT/reference/tone-880.wav"
stats=$("$WAVTOOL" stats "$wav")
echo "$stats"
frames=$(echo "$stats" | sed -n 's/^.*: \([0-9]*\) frames,.*$/\1/p')
ad=$(console ad)
input_of() { # domid -> the client's input file
  case $1 in
    "$(domid xc)") echo "$OUT/reference/tone.wav" ;;
    "$(domid lc)") echo "$OUT/reference/client.wav" ;;
    "$(domid xd)") echo "$OUT/reference/tone-880.wav" ;;
  esac
}
parts=()
while read -r dom client; do
  file=$(input_of "$dom")
  [ -n "$file" ] || { bad "client $client (dom$dom) is neither xc nor lc"; continue; }
  n=0
  while read -r out in len; do
    parts+=("$file@$out:$in+$len")
    n=$((n + 1))
  done < <(echo "$ad" | sed -n "s/^.*AUDIODOMAIN segment client=$client out=\([0-9]*\) in=\([0-9]*\) frames=\([0-9]*\).*$/\1 \2 \3/p")
  given=$(echo "$ad" | sed -n "s/^.*AUDIODOMAIN segment client=$client .*frames=\([0-9]*\).*$/\1/p" | awk '{ s += $1 } END { print s + 0 }')
  ok "dom$dom (client $client): $n segment(s), ${given:-0} frames mixed ($(basename "$file"))"
  if [ "$dom" = "$(domid xd)" ]; then
    # Destroyed a second into its 20 s: some of it, not all.
    if [ "${given:-0}" -gt 0 ] && [ "${given:-0}" -lt 960000 ]; then
      ok "the destroyed client was mixed until it went ($given of 960000 frames)"
    else
      bad "the destroyed client: ${given:-0} of 960000 frames mixed"
    fi
  fi
done < <(echo "$ad" | sed -n 's/^.*dom\([0-9]*\) spk: joined the mix as client \([0-9]*\).*$/\1 \2/p')
[ "${#parts[@]}" -gt 0 ] || bad "no segments in the audio domain's console"
if [ "${#parts[@]}" -gt 0 ]; then
  "$WAVTOOL" mix --frames "$frames" --out "$OUT/expected-mix.wav" "${parts[@]}"
  if "$WAVTOOL" compare "$OUT/expected-mix.wav" "$wav"; then
    ok "the output ($frames frames) equals the host's mix of the three clients"
  else
    bad "the output differs from the host's mix"
  fi
fi
finish "audio-domain"
