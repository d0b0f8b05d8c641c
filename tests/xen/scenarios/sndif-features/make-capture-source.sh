#!/bin/bash
# Writes the capture source sndback plays to the guest in sndif-features
# (committed as capture-source.wav, 57 KB; host-check.sh re-makes it and
# checks the committed copy is the same): 300 ms of 437 Hz at -3 dBFS,
# 48 kHz stereo s16, made by the guest's own tone code (wavtool tone).
# 437 Hz has no whole period in 300 ms and the peak (23197) is above half
# scale, so a capture that slips, drops, repeats or rescales a frame, or
# loops the file at the wrong place, changes the CRC-32.
# Usage: make-capture-source.sh OUT.wav   (WAVTOOL= path of wavtool)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
WAVTOOL=${WAVTOOL:-$ROOT/target/release/wavtool}
"$WAVTOOL" tone --freq 437 --level-mdb -3000 --rate 48000 --channels 2 --ms 300 --out "${1:?usage: make-capture-source.sh OUT.wav}"
