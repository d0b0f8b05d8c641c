#!/usr/bin/env python3
"""Regenerate assets/chime-24k-s16le-mono.raw: a two-note bell chime
(E6 then C6, inharmonic partials, exponential decay), 1.2 s, 24 kHz,
signed 16-bit little-endian mono. Deterministic; the guest embeds the file."""
import math, struct, sys

RATE = 24000
LEN = int(1.2 * RATE)
# (start s, fundamental Hz)
NOTES = [(0.0, 1318.51), (0.35, 1046.50)]
# bell partials: (ratio, relative amplitude, decay time constant s)
PARTIALS = [(1.0, 1.0, 0.45), (2.76, 0.45, 0.25), (5.40, 0.25, 0.12), (0.5, 0.2, 0.6)]

out = bytearray()
for n in range(LEN):
    t = n / RATE
    v = 0.0
    for start, f0 in NOTES:
        if t < start:
            continue
        dt = t - start
        attack = min(1.0, dt / 0.004)
        for ratio, amp, tau in PARTIALS:
            f = f0 * ratio
            if f >= RATE / 2:
                continue
            v += attack * amp * math.exp(-dt / tau) * math.sin(2 * math.pi * f * dt)
    s = int(round(max(-1.0, min(1.0, v * 0.35)) * 32767))
    out += struct.pack("<h", s)
path = sys.argv[1] if len(sys.argv) > 1 else "assets/chime-24k-s16le-mono.raw"
open(path, "wb").write(out)
print(f"wrote {path}: {LEN} frames at {RATE} Hz")
