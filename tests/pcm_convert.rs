//! `xensnd_pcm::convert` bit for bit against an independent model.
//!
//! The model (`tests/convert_model`) is written from the rule in the module docs, not from
//! the implementation: values as `f64` fractions of full scale, `std`'s
//! `round_ties_even`, byte orders by reversing `to_le_bytes`, and G.711
//! from the standard's description (Table 1a/2a: segments, their step
//! sizes, decision levels and decoder outputs, the code word layout), with
//! a linear search over the decision levels for encoding. Everything cheap
//! enough is exhaustive: all 65536 `i16` into every format, every byte
//! pattern of the 1- and 2-byte formats, and for the 4- and 8-byte formats
//! every `i16` step with the rounding ties around it.

mod convert_model;

use convert_model::*;
use xensnd_pcm::convert::{
    alaw_decode, alaw_encode, mulaw_decode, mulaw_encode, AppSample, Converter, ConvertingStream,
};
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::mock::LoopbackStream;
use xensnd_pcm::{Capture, Error, ErrorKind, Playback, Stream, StreamConfig};

fn encode_one<T: AppSample>(converter: &Converter, sample: T) -> Vec<u8> {
    let mut out = vec![0xa5; converter.sample_bytes()];
    assert_eq!(converter.encode(&[sample], &mut out), 1);
    out
}

fn decode_one<T: AppSample>(converter: &Converter, bytes: &[u8]) -> T {
    let mut out = [T::default()];
    assert_eq!(converter.decode(bytes, &mut out), 1);
    out[0]
}

/// `f32` inputs: every `i16 / 32768` and its neighbours and ties, specials,
/// and pseudo-random bit patterns (every class of float).
fn f32_inputs() -> Vec<f32> {
    let mut inputs = Vec::new();
    for v in i16::MIN..=i16::MAX {
        let x = f32::from(v) / 32768.0;
        let tie = (f64::from(v) + 0.5) / 32768.0;
        inputs.extend([
            x,
            f32::from_bits(x.to_bits() + 1),
            f32::from_bits(x.to_bits().wrapping_sub(1)),
            tie as f32,
        ]);
    }
    inputs.extend([
        1.0,
        -1.0,
        1.0 - f32::EPSILON / 2.0,
        1.5,
        -1.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        1e-45,
        -0.0,
        0.5 / 2_147_483_648.0,
        0.5 / 8_388_608.0,
        1.5 / 8_388_608.0,
        -0.5 / 128.0,
        0.5 / 128.0,
        1.5 / 128.0,
    ]);
    let mut state = 0x1234_5678u32;
    for _ in 0..50_000 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        inputs.push(f32::from_bits(state));
        // And values inside [-1, 1] with every exponent.
        inputs.push(f32::from_bits(state & 0xbf7f_ffff));
    }
    inputs
}

#[test]
fn every_i16_into_every_format_bit_for_bit() {
    for (format, layout, big) in formats() {
        let converter = Converter::new(format).unwrap();
        assert_eq!(converter.sample_bytes(), bytes_of(layout), "{format}");
        for v in i16::MIN..=i16::MAX {
            assert_eq!(
                encode_one(&converter, v),
                model_from_i16(layout, big, v),
                "{format}: i16 {v}"
            );
        }
    }
}

#[test]
fn every_format_into_i16_and_f32_bit_for_bit() {
    for (format, layout, big) in formats() {
        let converter = Converter::new(format).unwrap();
        let patterns = patterns(layout, big);
        assert!(patterns.len() >= 256, "{format}");
        for bytes in patterns {
            assert_eq!(
                decode_one::<i16>(&converter, &bytes),
                model_to_i16(layout, big, &bytes),
                "{format}: {bytes:02x?}"
            );
            let got: f32 = decode_one(&converter, &bytes);
            let want = model_to_f32(layout, big, &bytes);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{format}: {bytes:02x?}: {got:e} vs {want:e}"
            );
            assert!((-1.0..=1.0).contains(&got), "{format}: {bytes:02x?}: {got}");
        }
    }
}

#[test]
fn f32_into_every_format_bit_for_bit() {
    let inputs = f32_inputs();
    for (format, layout, big) in formats() {
        let converter = Converter::new(format).unwrap();
        for &x in &inputs {
            assert_eq!(
                encode_one(&converter, x),
                model_from_f32(layout, big, x),
                "{format}: f32 {x:e} ({:#010x})",
                x.to_bits()
            );
        }
    }
}

#[test]
fn big_endian_is_the_little_endian_bytes_reversed() {
    for (le, be) in [
        ("s16_le", "s16_be"),
        ("u16_le", "u16_be"),
        ("s24_le", "s24_be"),
        ("u24_le", "u24_be"),
        ("s32_le", "s32_be"),
        ("u32_le", "u32_be"),
        ("float_le", "float_be"),
        ("float64_le", "float64_be"),
    ] {
        let (le, be) = (
            Converter::new(format(le)).unwrap(),
            Converter::new(format(be)).unwrap(),
        );
        for v in i16::MIN..=i16::MAX {
            let mut reversed = encode_one(&le, v);
            reversed.reverse();
            assert_eq!(encode_one(&be, v), reversed, "{:?} {v}", be.format());
            assert_eq!(
                decode_one::<i16>(&be, &reversed),
                decode_one::<i16>(&le, &encode_one(&le, v))
            );
        }
    }
}

#[test]
fn round_trips_through_wider_formats_are_the_identity() {
    for (format, layout, big) in formats() {
        let converter = Converter::new(format).unwrap();
        let exact = match layout {
            Layout::Int { bits, .. } => bits >= 16,
            Layout::Float { .. } => true,
            _ => false,
        };
        if exact {
            for v in i16::MIN..=i16::MAX {
                let bytes = encode_one(&converter, v);
                assert_eq!(decode_one::<i16>(&converter, &bytes), v, "{format}: {v}");
            }
        }
        // Stream → i16 → stream is the identity for the 1-byte formats
        // (except μ-law's negative zero, which comes back positive) ...
        if bytes_of(layout) == 1 {
            for code in 0..=255u8 {
                let v: i16 = decode_one(&converter, &[code]);
                let back = encode_one(&converter, v)[0];
                let expected = if format == SampleFormat::MuLaw && code == 0x7f {
                    0xff
                } else {
                    code
                };
                assert_eq!(back, expected, "{format}: {code:#04x} → {v}");
            }
        }
        // ... and stream → f32 → stream for 16- and 24-bit integers and the floats.
        let through_f32 = match layout {
            Layout::Int { bits, .. } => bits <= 24,
            Layout::Float { .. } => true,
            _ => false,
        };
        if through_f32 {
            for bytes in &patterns_every(layout, big, 7) {
                let value = model_value(layout, big, bytes);
                // Only values an f32 holds exactly come back unchanged.
                if value.is_nan()
                    || !(-1.0..=1.0).contains(&value)
                    || f64::from(value as f32) != value
                {
                    continue;
                }
                // What comes back: the same value, in canonical form (a
                // 24-bit container's top byte is the sign extension / zero).
                let canonical = match layout {
                    Layout::Int {
                        bits: 24, signed, ..
                    } => {
                        let low = word_of(bytes, big) & 0xff_ffff;
                        let negative = signed && low & 0x80_0000 != 0;
                        layout_bytes(low | if negative { 0xff00_0000 } else { 0 }, 4, big)
                    }
                    _ => bytes.clone(),
                };
                let x: f32 = decode_one(&converter, bytes);
                assert_eq!(
                    encode_one(&converter, x),
                    canonical,
                    "{format}: {bytes:02x?} → {x:e}"
                );
            }
        }
    }
}

#[test]
fn boundaries_clipping_and_ties() {
    let c = |name: &str| Converter::new(format(name)).unwrap();
    // Narrowing to i16: ties to even, and the top rounds up into the clip.
    let s32 = c("s32_le");
    let to_i16 =
        |converter: &Converter, word: u32| -> i16 { decode_one(converter, &word.to_le_bytes()) };
    assert_eq!(to_i16(&s32, 0x7fff_ffff), 32767);
    assert_eq!(to_i16(&s32, 0x7fff_8000), 32767, "tie at the top clips");
    assert_eq!(to_i16(&s32, 0x7ffe_8000), 32766, "tie to even (down)");
    assert_eq!(to_i16(&s32, 0x7ffd_8000), 32766, "tie to even (up)");
    assert_eq!(to_i16(&s32, 0x0000_8000), 0);
    assert_eq!(to_i16(&s32, 0x0000_8001), 1);
    assert_eq!(to_i16(&s32, 0x0001_8000), 2);
    assert_eq!(to_i16(&s32, 0xffff_8000), 0, "-0.5 → -0 → 0");
    assert_eq!(to_i16(&s32, 0xffff_7fff), -1);
    assert_eq!(to_i16(&s32, 0x8000_0000), -32768);
    let s24 = c("s24_le");
    assert_eq!(to_i16(&s24, 0x007f_ffff), 32767);
    assert_eq!(
        to_i16(&s24, 0xff7f_ff80),
        32767,
        "top byte ignored, tie at the top clips"
    );
    assert_eq!(to_i16(&s24, 0x0080_0000), -32768);
    assert_eq!(to_i16(&s24, 0x0000_0180), 2);
    let u32le = c("u32_le");
    assert_eq!(to_i16(&u32le, 0x8000_0000), 0);
    assert_eq!(to_i16(&u32le, 0), -32768);
    assert_eq!(to_i16(&u32le, 0xffff_ffff), 32767);
    // Widening writes: s24 top byte is the sign extension, u24's is zero.
    assert_eq!(encode_one(&s24, -1i16), [0x00, 0xff, 0xff, 0xff]);
    assert_eq!(encode_one(&s24, 1i16), [0x00, 0x01, 0x00, 0x00]);
    assert_eq!(encode_one(&c("s24_be"), -1i16), [0xff, 0xff, 0xff, 0x00]);
    assert_eq!(encode_one(&c("u24_le"), i16::MIN), [0, 0, 0, 0]);
    assert_eq!(encode_one(&c("u24_le"), 0i16), [0, 0, 0x80, 0]);
    assert_eq!(encode_one(&c("u24_be"), -1i16), [0, 0x7f, 0xff, 0]);
    assert_eq!(encode_one(&c("u16_be"), 0i16), [0x80, 0]);
    assert_eq!(encode_one(&c("s32_be"), 0x1234i16), [0x12, 0x34, 0, 0]);
    // 8-bit: round half to even, clip at the top.
    let s8 = c("s8");
    let u8c = c("u8");
    for (v, s) in [
        (0i16, 0i8),
        (127, 0),
        (128, 0),
        (129, 1),
        (383, 1),
        (384, 2),
        (-128, 0),
        (-129, -1),
        (-384, -2),
        (32767, 127),
        (32639, 127),
        (32640, 127),
        (-32768, -128),
    ] {
        assert_eq!(encode_one(&s8, v), [s as u8], "s8 {v}");
        assert_eq!(encode_one(&u8c, v), [(s as u8) ^ 0x80], "u8 {v}");
    }
    assert_eq!(decode_one::<i16>(&u8c, &[0]), -32768);
    assert_eq!(decode_one::<i16>(&u8c, &[0xff]), 32512);
    // Floats: v / 32768 exactly; +1.0 is the largest value.
    let f32le = c("float_le");
    assert_eq!(encode_one(&f32le, i16::MIN), (-1.0f32).to_le_bytes());
    assert_eq!(encode_one(&f32le, 16384i16), 0.5f32.to_le_bytes());
    let float_to_i16 = |x: f32| -> i16 { decode_one(&f32le, &x.to_le_bytes()) };
    assert_eq!(float_to_i16(1.0), 32767);
    assert_eq!(float_to_i16(-1.0), -32768);
    assert_eq!(float_to_i16(2.5), 32767);
    assert_eq!(float_to_i16(-7.0), -32768);
    assert_eq!(float_to_i16(f32::NAN), 0);
    assert_eq!(float_to_i16(f32::INFINITY), 32767);
    assert_eq!(float_to_i16(0.5 / 32768.0), 0, "tie to even");
    assert_eq!(float_to_i16(1.5 / 32768.0), 2, "tie to even");
    assert_eq!(float_to_i16(-1.5 / 32768.0), -2);
    // f32 application samples.
    assert_eq!(encode_one(&s32, 1.0f32), 0x7fff_ffffu32.to_le_bytes());
    assert_eq!(encode_one(&s32, -1.0f32), 0x8000_0000u32.to_le_bytes());
    assert_eq!(encode_one(&s32, 0.5f32), 0x4000_0000u32.to_le_bytes());
    assert_eq!(encode_one(&s32, f32::NAN), [0; 4]);
    assert_eq!(encode_one(&f32le, 3.0f32), 1.0f32.to_le_bytes());
    assert_eq!(
        encode_one(&f32le, f32::NEG_INFINITY),
        (-1.0f32).to_le_bytes()
    );
    assert_eq!(encode_one(&f32le, f32::NAN), 0.0f32.to_le_bytes());
    assert_eq!(encode_one(&c("s16_le"), 1.0f32), 32767i16.to_le_bytes());
    assert_eq!(
        encode_one(&c("s16_le"), 0.5f32 / 32768.0),
        [0, 0],
        "tie to even"
    );
    assert_eq!(
        encode_one(&c("float64_le"), 0.1f32),
        f64::from(0.1f32).to_le_bytes()
    );
    let f64le = c("float64_le");
    // f64 → i16 rounds in f64: just above a tie goes up (an f32 detour would not).
    let just_above: f64 = 0.5 / 32768.0 + 1e-15;
    assert_eq!(decode_one::<i16>(&f64le, &just_above.to_le_bytes()), 1);
    assert_eq!(decode_one::<f32>(&f64le, &f64::NAN.to_le_bytes()), 0.0);
    assert_eq!(decode_one::<f32>(&f64le, &1e300f64.to_le_bytes()), 1.0);
    assert_eq!(decode_one::<f32>(&s32, &0x8000_0000u32.to_le_bytes()), -1.0);
    assert_eq!(decode_one::<f32>(&u8c, &[0x80]), 0.0);
}

#[test]
fn g711_tables_match_the_standard() {
    let mulaw = model_mulaw_table();
    let alaw = model_alaw_table();
    // Well-known values: silence, the extremes, the smallest steps.
    assert_eq!(
        (mulaw[0xff], mulaw[0x7f], mulaw[0x80], mulaw[0x00]),
        (0, 0, 32124, -32124)
    );
    assert_eq!((mulaw[0xfe], mulaw[0xf0], mulaw[0xef]), (8, 120, 132));
    assert_eq!(
        (alaw[0xd5], alaw[0x55], alaw[0xaa], alaw[0x2a]),
        (8, -8, 32256, -32256)
    );
    assert_eq!((alaw[0xd4], alaw[0xc5]), (24, 264));
    for code in 0..=255u8 {
        assert_eq!(
            mulaw_decode(code),
            mulaw[code as usize],
            "mu-law {code:#04x}"
        );
        assert_eq!(alaw_decode(code), alaw[code as usize], "A-law {code:#04x}");
    }
    // Encoding every i16 by the decision levels.
    for v in i16::MIN..=i16::MAX {
        assert_eq!(mulaw_encode(v), model_mulaw(v), "mu-law of {v}");
        assert_eq!(alaw_encode(v), model_alaw(v), "A-law of {v}");
        // Symmetric: -v has the same magnitude code.
        if v > 0 {
            assert_eq!(mulaw_encode(-v), mulaw_encode(v) ^ 0x80);
            assert_eq!(alaw_encode(-v), alaw_encode(v) ^ 0x80);
        }
    }
    assert_eq!(mulaw_encode(0), 0xff);
    assert_eq!(alaw_encode(0), 0xd5);
    assert_eq!(mulaw_encode(i16::MIN), 0x00);
    assert_eq!(alaw_encode(i16::MIN), 0x2a);
}

#[test]
fn iec958_and_compressed_formats_are_refused() {
    for format in SampleFormat::ALL {
        let known = FORMATS.iter().any(|(name, ..)| format.name() == *name);
        assert_eq!(Converter::new(format).is_ok(), known, "{format}");
    }
    let config = StreamConfig {
        format: SampleFormat::Iec958SubframeLe,
        rate: 48_000,
        channels: 2,
        period_frames: 64,
        buffer_frames: 256,
    };
    let error = ConvertingStream::<_, i16>::new(LoopbackStream::new(config).unwrap()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported);
}

// --- the adapter over the mock ----------------------------------------------

/// A deterministic interleaved test signal: every sample different.
fn signal_i16(samples: usize, seed: u32) -> Vec<i16> {
    let mut state = seed | 1;
    (0..samples)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            match i % 17 {
                0 => i16::MIN,
                1 => i16::MAX,
                2 => 0,
                _ => (state >> 16) as i16,
            }
        })
        .collect()
}

fn signal_f32(samples: usize, seed: u32) -> Vec<f32> {
    signal_i16(samples, seed)
        .into_iter()
        .enumerate()
        .map(|(i, v)| match i % 23 {
            0 => f32::NAN,
            1 => 1.0,
            2 => -1.5,
            _ => f32::from(v) / 32768.0 + 1.0 / 3.0 / 32768.0,
        })
        .collect()
}

fn config(format: SampleFormat, channels: u8) -> StreamConfig {
    StreamConfig {
        format,
        rate: 48_000,
        channels,
        period_frames: 48,
        buffer_frames: 200,
    }
}

trait Model: AppSample {
    fn model_encode(layout: Layout, big: bool, sample: Self) -> Vec<u8>;
    fn model_decode(layout: Layout, big: bool, bytes: &[u8]) -> Self;
    fn signal(samples: usize, seed: u32) -> Vec<Self>;
    fn same(a: Self, b: Self) -> bool;
}

impl Model for i16 {
    fn model_encode(layout: Layout, big: bool, sample: i16) -> Vec<u8> {
        model_from_i16(layout, big, sample)
    }
    fn model_decode(layout: Layout, big: bool, bytes: &[u8]) -> i16 {
        model_to_i16(layout, big, bytes)
    }
    fn signal(samples: usize, seed: u32) -> Vec<i16> {
        signal_i16(samples, seed)
    }
    fn same(a: i16, b: i16) -> bool {
        a == b
    }
}

impl Model for f32 {
    fn model_encode(layout: Layout, big: bool, sample: f32) -> Vec<u8> {
        model_from_f32(layout, big, sample)
    }
    fn model_decode(layout: Layout, big: bool, bytes: &[u8]) -> f32 {
        model_to_f32(layout, big, bytes)
    }
    fn signal(samples: usize, seed: u32) -> Vec<f32> {
        signal_f32(samples, seed)
    }
    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits()
    }
}

/// Play `frames` frames through the adapter into a loopback stream in
/// uneven pieces; what the stream got must be the model's bytes, and
/// `wire()` must have shown exactly those bytes.
fn playback_sweep<T: Model>(format: SampleFormat, layout: Layout, big: bool, channels: u8) {
    let frames = 530;
    let samples = T::signal(frames * channels as usize, u32::from(channels) * 7919);
    let expected: Vec<u8> = samples
        .iter()
        .flat_map(|&s| T::model_encode(layout, big, s))
        .collect();
    let mut stream =
        ConvertingStream::<_, T>::new(LoopbackStream::new(config(format, channels)).unwrap())
            .unwrap();
    assert_eq!(stream.channels(), channels as usize);
    stream.prepare().unwrap();
    stream.start().unwrap();
    let mut written = 0usize;
    let mut wire = Vec::new();
    let mut received = Vec::new();
    let mut piece = 1usize;
    while written < frames {
        let end = (written + piece).min(frames);
        let n = stream
            .write(&samples[written * channels as usize..end * channels as usize])
            .unwrap();
        assert!(n >= 1 && n <= end - written);
        assert_eq!(
            stream.wire().len(),
            n * channels as usize * bytes_of(layout)
        );
        wire.extend_from_slice(stream.wire());
        written += n;
        piece = piece * 3 % 101 + 1;
        // Take what was queued out of the loopback (the "device").
        let mut bytes = vec![0u8; 200 * channels as usize * bytes_of(layout)];
        let got = stream.get_mut().read(&mut bytes).unwrap();
        received.extend_from_slice(&bytes[..got * channels as usize * bytes_of(layout)]);
    }
    assert_eq!(wire, expected, "{format} x{channels}: wire");
    assert_eq!(
        received, expected,
        "{format} x{channels}: what the stream got"
    );
    // Not whole frames.
    if channels > 1 {
        let error = stream.write(&samples[..1]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(stream.wire().is_empty());
    }
}

/// Capture: the stream holds bytes of every kind; reading through the
/// adapter in uneven pieces gives the model's samples.
fn capture_sweep<T: Model>(format: SampleFormat, layout: Layout, big: bool, channels: u8) {
    let width = bytes_of(layout);
    // The wide formats: every 37th i16 step, with its ties and specials.
    let all = patterns_every(layout, big, 37);
    let frames = 190; // fits the 200-frame buffer
    let raw: Vec<u8> = (0..frames * channels as usize)
        .flat_map(|i| all[(i * 7 + channels as usize) % all.len()].clone())
        .collect();
    let mut inner = LoopbackStream::new(config(format, channels)).unwrap();
    inner.prepare().unwrap();
    assert_eq!(inner.write(&raw).unwrap(), frames);
    inner.start().unwrap();
    let mut stream = ConvertingStream::<_, T>::new(inner).unwrap();
    let mut got: Vec<T> = Vec::new();
    let mut wire = Vec::new();
    let mut piece = 2usize;
    while got.len() < frames * channels as usize {
        let mut buffer = vec![T::default(); piece * channels as usize];
        let n = stream.read(&mut buffer).unwrap();
        assert!(n >= 1 && n <= piece);
        got.extend_from_slice(&buffer[..n * channels as usize]);
        wire.extend_from_slice(stream.wire());
        piece = piece * 5 % 67 + 1;
    }
    assert_eq!(wire, raw, "{format} x{channels}: wire");
    for (index, (sample, bytes)) in got.iter().zip(raw.chunks_exact(width)).enumerate() {
        let want = T::model_decode(layout, big, bytes);
        assert!(
            T::same(*sample, want),
            "{format} x{channels}: sample {index} {bytes:02x?}: {sample:?} vs {want:?}"
        );
    }
}

#[test]
fn adapter_plays_every_format_and_channel_count_exactly() {
    for (format, layout, big) in formats() {
        for channels in 1..=8 {
            playback_sweep::<i16>(format, layout, big, channels);
            playback_sweep::<f32>(format, layout, big, channels);
        }
    }
}

#[test]
fn adapter_captures_every_format_and_channel_count_exactly() {
    for (format, layout, big) in formats() {
        for channels in 1..=8 {
            capture_sweep::<i16>(format, layout, big, channels);
            capture_sweep::<f32>(format, layout, big, channels);
        }
    }
}

#[test]
fn adapter_passes_the_stream_through() {
    let mut stream =
        ConvertingStream::<_, i16>::new(LoopbackStream::new(config(SampleFormat::U8, 2)).unwrap())
            .unwrap();
    assert_eq!(stream.config().format, SampleFormat::U8);
    // Not prepared: the stream's own error comes through.
    assert_eq!(
        stream.write(&[0, 0]).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    stream.prepare().unwrap();
    assert_eq!(stream.available(), 200);
    assert_eq!(
        stream.try_write(&[0; 2 * 300]).unwrap(),
        48,
        "one period per call"
    );
    assert_eq!(stream.delay(), 48);
    stream.set_volume(&[-6000, -6000]).unwrap();
    assert_eq!(stream.get_ref().volume_millidb(), &[-6000, -6000]);
    stream.set_mute(true).unwrap();
    assert!(stream.get_ref().is_muted());
    // Fill the buffer: a non-blocking write then fails with WouldBlock.
    let mut partial = false;
    while stream.available() > 0 {
        let written = stream.try_write(&[0; 2 * 48]).unwrap();
        // wire() is what the stream took, not what was converted.
        assert_eq!(stream.wire().len(), written * 2);
        partial |= written < 48;
    }
    assert!(partial, "the last write was cut by the buffer's end");
    assert_eq!(
        stream.try_write(&[1, 1]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert!(!stream.write_ready().unwrap());
    stream.start().unwrap();
    stream.drain().unwrap();
    assert_eq!(stream.position(), 200);
    let inner = stream.into_inner();
    assert_eq!(inner.state(), xensnd_pcm::StreamState::Drained);
}
