# Host side: the playback WAV sndback wrote starts with exactly the bytes aplay
# played, and the capture holds sndback's 440 Hz tone.
set -e
cd "$OUT"
python3 - <<'PY'
import glob, struct, sys, wave
played = open("played.raw", "rb").read()
wavs = glob.glob("sndback/dom*-spk.wav")
with wave.open(wavs[0]) as w:
    print(f"playback WAV {wavs[0]}: {w.getnchannels()} ch, {w.getframerate()} Hz, {w.getsampwidth()*8} bit, {w.getnframes()} frames")
    data = w.readframes(w.getnframes())
start = data.find(played[:4096])
print(f"played {len(played)} bytes; found at offset {start} of {len(data)}")
ok = start >= 0 and data[start:start + len(played)] == played
print("playback bytes identical:", ok)
with wave.open("captured.wav") as w:
    rate, n = w.getframerate(), w.getnframes()
    samples = struct.unpack(f"<{n}h", w.readframes(n))
peak = max(abs(s) for s in samples) if samples else 0
crossings = sum(1 for a, b in zip(samples, samples[1:]) if a < 0 <= b)
freq = crossings * rate / max(n, 1)
print(f"capture: {n} frames at {rate} Hz, peak {peak}, ~{freq:.0f} Hz")
tone = peak > 1000 and 400 <= freq <= 480
print("capture is a 440 Hz tone:", tone)
sys.exit(0 if ok and tone else 1)
PY
