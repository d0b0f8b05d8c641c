//! Host tests: the mix against an independently written reference (its own
//! byte decoding and encoding from the conversion rule, its own channel
//! mapping, no queues or blocks), saturation, underruns, bounded queues,
//! ducking, removal, capture fan-out.
//!
//! The reference works on the same integers as the mixer (samples at full
//! 32-bit scale, `x * 2^31`, in `i64`) by other means: a float is decoded
//! as `round_ties_even(x * 2^31)` in `f64` (exact) and clamped, an integer
//! sample is encoded as `round_ties_even(v / 2^(32 - N))` in `f64` (exact:
//! a power of two divides), a `float` as `(v / 2^31) as f32` (Rust's
//! nearest, ties to even), the mono average as `round_ties_even(sum / c)` in
//! `f64` (exact enough: a quotient is never within `2^-20` of a tie it is
//! not), and the duck gain as the `i128` product `sum * gain` divided by
//! `2^30` with `div_euclid`, rounded to nearest, ties to even. The ramp's
//! gain at frame `k` is `from + floor((to - from) * k / length)` computed
//! directly (the mixer steps it incrementally).

use std::vec;
use std::vec::Vec;

use xensnd_pcm::convert::mulaw_encode;
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::gain::gain;
use xensnd_pcm::StreamConfig;

use crate::{
    convert, gain_q30, CaptureFanout, ClientId, ClientOptions, Misbehaviour, MixError, Mixer,
    Policy, BLOCK_FRAMES, UNITY_Q30,
};

/// Full scale, `2^31`.
const FULL: i64 = 1 << 31;

const RATE: u32 = 48_000;
const FORMATS: [SampleFormat; 6] = [
    SampleFormat::S16Le,
    SampleFormat::S24Le,
    SampleFormat::S32Le,
    SampleFormat::F32Le,
    SampleFormat::U8,
    SampleFormat::MuLaw,
];
const CHANNELS: [u8; 4] = [1, 2, 6, 8];

fn config(format: SampleFormat, channels: u8) -> StreamConfig {
    StreamConfig {
        format,
        rate: RATE,
        channels,
        period_frames: 0,
        buffer_frames: 0,
    }
}

fn options(queue_frames: u32) -> ClientOptions {
    ClientOptions {
        queue_frames,
        priority: false,
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `[-amplitude, amplitude]`.
    fn value(&mut self, amplitude: f32) -> f32 {
        let unit = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
        (unit * 2.0 - 1.0) * amplitude
    }
}

fn sample_bytes(format: SampleFormat) -> usize {
    format.bytes_per_sample().unwrap() as usize
}

/// The reference decoding: the conversion rule written out per format,
/// to the full-scale value `x * 2^31`.
fn ref_decode(format: SampleFormat, bytes: &[u8]) -> i64 {
    match format {
        SampleFormat::S16Le => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])) * 65_536,
        SampleFormat::S24Le => {
            let word = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], 0]);
            i64::from((word << 8) >> 8) * 256
        }
        SampleFormat::S32Le => i64::from(i32::from_le_bytes(bytes.try_into().unwrap())),
        SampleFormat::F32Le => {
            let x = f32::from_le_bytes(bytes.try_into().unwrap());
            if x.is_nan() {
                0
            } else {
                let scaled = f64::from(x.clamp(-1.0, 1.0)) * FULL as f64;
                scaled.round_ties_even().min((FULL - 1) as f64) as i64
            }
        }
        SampleFormat::U8 => (i64::from(bytes[0]) - 128) * (1 << 24),
        SampleFormat::MuLaw => {
            // G.711: ±(((2m + 33) << e) − 33) * 4 of the inverted code.
            let code = !bytes[0];
            let exponent = u32::from((code >> 4) & 7);
            let mantissa = i64::from(code & 0xf);
            let magnitude = (((2 * mantissa + 33) << exponent) - 33) * 4;
            let value = if code & 0x80 != 0 {
                -magnitude
            } else {
                magnitude
            };
            value * 65_536
        }
        other => panic!("no reference for {other}"),
    }
}

/// `round_half_even(v / 2^(32 - bits))` clipped to the signed range.
fn ref_integer(v: i64, bits: u32) -> i64 {
    let full = (1i64 << (bits - 1)) as f64;
    (v as f64 / (1i64 << (32 - bits)) as f64)
        .round_ties_even()
        .clamp(-full, full - 1.0) as i64
}

/// The reference encoding of `v` (in `[-2^31, 2^31]`).
fn ref_encode(format: SampleFormat, v: i64, out: &mut [u8]) {
    match format {
        SampleFormat::S16Le => out.copy_from_slice(&(ref_integer(v, 16) as i16).to_le_bytes()),
        SampleFormat::S24Le => out.copy_from_slice(&(ref_integer(v, 24) as i32).to_le_bytes()),
        SampleFormat::S32Le => out.copy_from_slice(&(ref_integer(v, 32) as i32).to_le_bytes()),
        SampleFormat::F32Le => {
            out.copy_from_slice(&((v as f64 / FULL as f64) as f32).to_le_bytes())
        }
        SampleFormat::U8 => out[0] = (ref_integer(v, 8) + 128) as u8,
        // The G.711 codec itself is the pcm crate's (tested there).
        SampleFormat::MuLaw => out[0] = mulaw_encode(ref_integer(v, 16) as i16),
        other => panic!("no reference for {other}"),
    }
}

/// The reference channel mapping.
fn ref_map(input: &[i64], channels: usize) -> Vec<i64> {
    match (input.len(), channels) {
        (c, n) if c == n => input.to_vec(),
        (1, n) => vec![input[0]; n],
        (c, 1) => {
            let sum: i64 = input.iter().sum();
            vec![(sum as f64 / c as f64).round_ties_even() as i64]
        }
        (c, n) => (0..n)
            .map(|channel| if channel < c { input[channel] } else { 0 })
            .collect(),
    }
}

/// `sum * gain / 2^30` rounded to nearest, ties to even.
fn ref_gain(sum: i64, gain: u32) -> i64 {
    let product = i128::from(sum) * i128::from(gain);
    let unit = 1i128 << 30;
    let (quotient, rest) = (product.div_euclid(unit), product.rem_euclid(unit));
    let up = 2 * rest > unit || (2 * rest == unit && quotient % 2 != 0);
    (quotient + i128::from(up)) as i64
}

/// The Q30 gain at frame `k` (`1..=length`) of a ramp.
fn ref_ramp(from: u32, to: u32, length: usize, k: usize) -> u32 {
    let distance = i64::from(to) - i64::from(from);
    (i64::from(from) + (distance * k as i64).div_euclid(length as i64)) as u32
}

/// One client of the reference: all its bytes, and how it is mixed.
struct RefClient {
    format: SampleFormat,
    channels: u8,
    bytes: Vec<u8>,
    priority: bool,
}

impl RefClient {
    fn frame_bytes(&self) -> usize {
        sample_bytes(self.format) * usize::from(self.channels)
    }
    fn frames(&self) -> usize {
        self.bytes.len() / self.frame_bytes()
    }
    fn frame(&self, frame: usize) -> Vec<i64> {
        let size = sample_bytes(self.format);
        let start = frame * self.frame_bytes();
        self.bytes[start..start + self.frame_bytes()]
            .chunks(size)
            .map(|sample| ref_decode(self.format, sample))
            .collect()
    }
}

/// The reference mix of the clients' first `frames` frames (a client with
/// fewer is silent after its last), the Q30 `gain(frame)` on the ordinary
/// ones; returns the bytes and the samples clipped.
fn ref_mix(
    output: SampleFormat,
    channels: u8,
    clients: &[RefClient],
    frames: usize,
    gain: impl Fn(usize) -> u32,
) -> (Vec<u8>, u64) {
    let channels = usize::from(channels);
    let size = sample_bytes(output);
    let mut out = vec![0u8; frames * channels * size];
    let mut clipped = 0;
    for frame in 0..frames {
        let mut ordinary = vec![0i64; channels];
        let mut priority = vec![0i64; channels];
        for client in clients {
            if frame >= client.frames() {
                continue;
            }
            let mapped = ref_map(&client.frame(frame), channels);
            let sum = if client.priority {
                &mut priority
            } else {
                &mut ordinary
            };
            for (total, sample) in sum.iter_mut().zip(&mapped) {
                *total += sample;
            }
        }
        for channel in 0..channels {
            let mut value = ref_gain(ordinary[channel], gain(frame)) + priority[channel];
            if !(-FULL..=FULL).contains(&value) {
                clipped += 1;
                value = value.clamp(-FULL, FULL);
            }
            let at = (frame * channels + channel) * size;
            ref_encode(output, value, &mut out[at..at + size]);
        }
    }
    (out, clipped)
}

/// `frames` frames of pseudo-random samples in `format`, at most
/// `amplitude` (the s32 ones with random low bits too).
fn signal(
    rng: &mut Rng,
    format: SampleFormat,
    channels: u8,
    frames: usize,
    amplitude: f32,
) -> Vec<u8> {
    let size = sample_bytes(format);
    let mut bytes = vec![0u8; frames * usize::from(channels) * size];
    for sample in bytes.chunks_mut(size) {
        let value = (f64::from(rng.value(amplitude)) * FULL as f64).round() as i64;
        ref_encode(format, value.clamp(-FULL, FULL), sample);
        if format == SampleFormat::S32Le {
            sample[0] = rng.next() as u8;
        }
    }
    bytes
}

fn s16(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(4)
        .map(|word| f32::from_le_bytes(word.try_into().unwrap()))
        .collect()
}

#[test]
fn the_mix_equals_the_reference_for_every_format_channel_count_and_client_count() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let total_frames = BLOCK_FRAMES + 61;
    let mut case = 0usize;
    for output in FORMATS {
        for output_channels in CHANNELS {
            for client_count in 1..=4usize {
                case += 1;
                let mut mixer = Mixer::new(&config(output, output_channels)).unwrap();
                let mut clients = Vec::new();
                for index in 0..client_count {
                    let format = FORMATS[(case + 2 * index) % FORMATS.len()];
                    let channels = CHANNELS[(case / 3 + index) % CHANNELS.len()];
                    // Some clients run short (underrun), one in four loud.
                    let frames = total_frames - (index * 37 * (case % 2));
                    let amplitude = if (case + index) % 4 == 0 { 1.2 } else { 0.3 };
                    let bytes = signal(&mut rng, format, channels, frames, amplitude);
                    let id = ClientId(index as u32 + 10);
                    mixer
                        .add_client(id, &config(format, channels), options(1024))
                        .unwrap();
                    // Pushed in pieces that cut frames.
                    for piece in bytes.chunks(97) {
                        assert_eq!(mixer.push(id, piece), Ok(piece.len()));
                    }
                    clients.push(RefClient {
                        format,
                        channels,
                        bytes,
                        priority: index == 3,
                    });
                }
                // The fourth client is a priority one (not ducked: same sum).
                if client_count == 4 {
                    mixer.remove_client(ClientId(13)).unwrap();
                    let last = &clients[3];
                    let config = config(last.format, last.channels);
                    let priority = ClientOptions {
                        queue_frames: 1024,
                        priority: true,
                    };
                    mixer.add_client(ClientId(13), &config, priority).unwrap();
                    mixer.push(ClientId(13), &last.bytes).unwrap();
                }
                let (expected, clipped) =
                    ref_mix(output, output_channels, &clients, total_frames, |_| {
                        UNITY_Q30
                    });
                let frame_bytes = mixer.output_frame_bytes();
                let mut out = vec![0xa5u8; total_frames * frame_bytes];
                let mut done = 0;
                for chunk in [1, BLOCK_FRAMES - 1, 44, total_frames - BLOCK_FRAMES - 44] {
                    let consumed = mixer
                        .mix(chunk, &mut out[done * frame_bytes..])
                        .unwrap()
                        .to_vec();
                    assert_eq!(consumed.len(), client_count);
                    for report in consumed {
                        let client = &clients[report.id.0 as usize - 10];
                        let had = client.frames().saturating_sub(done).min(chunk);
                        assert_eq!(report.frames as usize, had, "case {case}");
                        assert_eq!(report.underrun_frames as usize, chunk - had);
                    }
                    done += chunk;
                }
                assert_eq!(done, total_frames);
                assert!(
                    out == expected,
                    "case {case}: {output} x{output_channels}, {client_count} clients"
                );
                assert_eq!(mixer.stats().clipped_samples, clipped, "case {case}");
                assert_eq!(mixer.stats().mixed_frames, total_frames as u64);
            }
        }
    }
}

#[test]
fn channel_mapping_duplicates_averages_copies_and_silences() {
    let cases: [(u8, u8, &[i16], &[i16]); 5] = [
        (1, 6, &[1000], &[1000; 6]),
        (6, 1, &[600, 1200, -600, 0, 6, 0], &[201]),
        (2, 6, &[7, -7], &[7, -7, 0, 0, 0, 0]),
        (8, 2, &[1, 2, 3, 4, 5, 6, 7, 8], &[1, 2]),
        (2, 2, &[-5, 5], &[-5, 5]),
    ];
    for (from, to, input, expected) in cases {
        let mut mixer = Mixer::new(&config(SampleFormat::S16Le, to)).unwrap();
        mixer
            .add_client(ClientId(1), &config(SampleFormat::S16Le, from), options(4))
            .unwrap();
        let bytes: Vec<u8> = input.iter().flat_map(|v| v.to_le_bytes()).collect();
        mixer.push(ClientId(1), &bytes).unwrap();
        let mut out = vec![0u8; usize::from(to) * 2];
        mixer.mix(1, &mut out).unwrap();
        assert_eq!(s16(&out), expected, "{from} -> {to}");
    }
}

#[test]
fn sums_beyond_full_scale_saturate_and_are_counted() {
    for (output, top, bottom) in [
        (SampleFormat::S16Le, 32767i64, -32768i64),
        (SampleFormat::S24Le, (1 << 23) - 1, -(1 << 23)),
        (
            SampleFormat::S32Le,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
        ),
        (SampleFormat::U8, 127, -128),
    ] {
        let mut mixer = Mixer::new(&config(output, 2)).unwrap();
        for id in 1..=3 {
            mixer
                .add_client(ClientId(id), &config(SampleFormat::S16Le, 2), options(8))
                .unwrap();
            // Frame 0: both extremes; frame 1: the loudest that still fits
            // only once (3 × 0.25 = 0.75: no clipping).
            let mut bytes = Vec::new();
            for value in [32767i16, -32768, 8192, -8192] {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
            mixer.push(ClientId(id), &bytes).unwrap();
        }
        let size = sample_bytes(output);
        let mut out = vec![0u8; 2 * 2 * size];
        mixer.mix(2, &mut out).unwrap();
        let value = |index: usize| -> i64 {
            let bytes = &out[index * size..(index + 1) * size];
            match output {
                SampleFormat::U8 => i64::from(bytes[0]) - 128,
                SampleFormat::S16Le => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
                SampleFormat::S24Le | SampleFormat::S32Le => {
                    i64::from(i32::from_le_bytes(bytes.try_into().unwrap()))
                }
                _ => unreachable!(),
            }
        };
        assert_eq!((value(0), value(1)), (top, bottom), "{output}");
        assert_eq!(value(2), (top + 1) * 3 / 4, "{output}");
        assert_eq!(value(3), -(top + 1) * 3 / 4, "{output}");
        assert_eq!(mixer.stats().clipped_samples, 2, "{output}");
    }
    // Float output clips to ±1.0 as well.
    let mut mixer = Mixer::new(&config(SampleFormat::F32Le, 1)).unwrap();
    for id in 1..=2 {
        mixer
            .add_client(ClientId(id), &config(SampleFormat::F32Le, 1), options(2))
            .unwrap();
        let bytes: Vec<u8> = [0.75f32, -0.75]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        mixer.push(ClientId(id), &bytes).unwrap();
    }
    let mut out = [0u8; 8];
    mixer.mix(2, &mut out).unwrap();
    assert_eq!(f32s(&out), [1.0, -1.0]);
    assert_eq!(mixer.stats().clipped_samples, 2);
}

#[test]
fn a_starved_client_gives_silence_and_an_underrun_and_leaves_the_others_alone() {
    let mut rng = Rng(42);
    let frames = 300;
    let steady = signal(&mut rng, SampleFormat::S24Le, 2, frames, 0.4);
    let starved = signal(&mut rng, SampleFormat::S16Le, 1, 100, 0.4);
    let run = |with_starved: bool| {
        let mut mixer = Mixer::new(&config(SampleFormat::S32Le, 2)).unwrap();
        mixer
            .add_client(ClientId(1), &config(SampleFormat::S24Le, 2), options(512))
            .unwrap();
        mixer.push(ClientId(1), &steady).unwrap();
        if with_starved {
            mixer
                .add_client(ClientId(2), &config(SampleFormat::S16Le, 1), options(512))
                .unwrap();
            mixer.push(ClientId(2), &starved).unwrap();
        }
        let mut out = vec![0u8; frames * 8];
        let consumed = mixer.mix(frames, &mut out).unwrap().to_vec();
        (mixer, out, consumed)
    };
    let (alone, alone_out, _) = run(false);
    let (mixer, out, consumed) = run(true);
    assert_eq!(consumed[0].frames, 300);
    assert_eq!(consumed[0].underrun_frames, 0);
    assert_eq!(consumed[1].frames, 100);
    assert_eq!(consumed[1].underrun_frames, 200);
    let stats = mixer.client_stats(ClientId(2)).unwrap();
    assert_eq!((stats.underruns, stats.underrun_frames), (1, 200));
    assert_eq!(mixer.client_stats(ClientId(1)).unwrap().underruns, 0);
    // After its data ran out, the output is exactly the steady client's.
    assert_eq!(out[100 * 8..], alone_out[100 * 8..]);
    assert_ne!(out[..100 * 8], alone_out[..100 * 8]);
    assert_eq!(
        alone.client_stats(ClientId(1)).unwrap().consumed_frames,
        300
    );
    // An empty client alone: silence, all of it an underrun.
    let mut mixer = Mixer::new(&config(SampleFormat::U8, 1)).unwrap();
    mixer
        .add_client(ClientId(5), &config(SampleFormat::S16Le, 1), options(8))
        .unwrap();
    let mut out = [0u8; 4];
    let consumed = mixer.mix(4, &mut out).unwrap();
    assert_eq!((consumed[0].frames, consumed[0].underrun_frames), (0, 4));
    assert_eq!(out, [128; 4]);
}

#[test]
fn queues_are_bounded_refusals_are_counted_and_floods_reported() {
    let mut mixer = Mixer::new(&config(SampleFormat::S16Le, 2)).unwrap();
    mixer.set_policy(Policy {
        flood_pushes: 3,
        stall_mixes: 1000,
    });
    mixer
        .add_client(ClientId(1), &config(SampleFormat::S16Le, 2), options(100))
        .unwrap();
    assert_eq!(mixer.queue_bound(ClientId(1)), Ok(400));
    let block = vec![0x11u8; 150 * 4];
    assert_eq!(mixer.push(ClientId(1), &block), Ok(400));
    assert_eq!(mixer.queued_bytes(ClientId(1)), Ok(400));
    assert_eq!(mixer.misbehaving(), None);
    assert_eq!(mixer.push(ClientId(1), &block), Ok(0));
    assert_eq!(mixer.push(ClientId(1), &block[..1]), Ok(0));
    assert_eq!(mixer.queued_bytes(ClientId(1)), Ok(400));
    let stats = mixer.client_stats(ClientId(1)).unwrap();
    assert_eq!(stats.accepted_bytes, 400);
    assert_eq!(stats.refused_bytes, 200 + 600 + 1);
    assert_eq!(stats.refused_pushes, 3);
    assert_eq!(
        mixer.misbehaving(),
        Some((ClientId(1), Misbehaviour::Flood(3)))
    );
    // Muting it keeps its queue draining at the output's pace, silently.
    mixer.set_muted(ClientId(1), true).unwrap();
    let mut out = vec![0xffu8; 10 * 4];
    let consumed = mixer.mix(10, &mut out).unwrap();
    assert_eq!(consumed[0].frames, 10);
    assert!(out.iter().all(|byte| *byte == 0));
    assert_eq!(mixer.queued_bytes(ClientId(1)), Ok(360));
    // A push that fits ends the flood.
    assert_eq!(mixer.push(ClientId(1), &block[..40]), Ok(40));
    assert_eq!(mixer.misbehaving(), None);
    // Dropping it.
    let stats = mixer.remove_client(ClientId(1)).unwrap();
    assert_eq!(stats.consumed_frames, 10);
    assert_eq!(
        mixer.push(ClientId(1), &block),
        Err(MixError::UnknownClient(ClientId(1)))
    );
}

#[test]
fn stalls_are_reported_and_paused_clients_neither_consume_nor_underrun() {
    let mut mixer = Mixer::new(&config(SampleFormat::S16Le, 1)).unwrap();
    mixer.set_policy(Policy {
        flood_pushes: 100,
        stall_mixes: 3,
    });
    mixer
        .add_client(ClientId(1), &config(SampleFormat::S16Le, 1), options(16))
        .unwrap();
    mixer
        .add_client(ClientId(2), &config(SampleFormat::S16Le, 1), options(16))
        .unwrap();
    mixer.set_paused(ClientId(2), true).unwrap();
    mixer.push(ClientId(2), &[1, 0, 2, 0]).unwrap();
    let mut out = [0u8; 8];
    for round in 1..=3 {
        mixer.push(ClientId(1), &[0, 1]).unwrap();
        if round == 1 {
            // One of four frames: not a stall, an underrun.
            mixer.mix(4, &mut out).unwrap();
            assert_eq!(mixer.misbehaving(), None);
            continue;
        }
        mixer.mix(1, &mut out).unwrap();
    }
    assert_eq!(mixer.misbehaving(), None);
    for _ in 0..3 {
        mixer.mix(4, &mut out).unwrap();
    }
    assert_eq!(
        mixer.misbehaving(),
        Some((ClientId(1), Misbehaviour::Stall(3)))
    );
    let paused = mixer.client_stats(ClientId(2)).unwrap();
    assert_eq!(
        (
            paused.consumed_frames,
            paused.underruns,
            paused.empty_streak
        ),
        (0, 0, 0)
    );
    assert_eq!(mixer.queued_bytes(ClientId(2)), Ok(4));
    mixer.set_paused(ClientId(2), false).unwrap();
    let consumed = mixer.mix(2, &mut out).unwrap();
    assert_eq!(consumed[1].frames, 2);
    assert_eq!(s16(&out[..4]), [1, 2]);
}

/// Mix `frames` single frames (float mono output) and return them.
fn mix_frames(mixer: &mut Mixer, frames: usize) -> Vec<f32> {
    let mut out = vec![0u8; frames * 4];
    mixer.mix(frames, &mut out).unwrap();
    f32s(&out)
}

fn constant_client(mixer: &mut Mixer, id: u32, value: f32, frames: usize, priority: bool) {
    let options = ClientOptions {
        queue_frames: frames as u32,
        priority,
    };
    mixer
        .add_client(ClientId(id), &config(SampleFormat::F32Le, 1), options)
        .unwrap();
    let bytes: Vec<u8> = (0..frames).flat_map(|_| value.to_le_bytes()).collect();
    assert_eq!(mixer.push(ClientId(id), &bytes), Ok(bytes.len()));
}

/// The float output of `0.5 * gain + 0.25` (a client at 0.5 ducked by the
/// Q30 `gain`, an alert at 0.25): exact in `i64`, then the nearest `f32`.
fn ducked(gain: u32) -> f32 {
    ((i64::from(gain) + (1 << 29)) as f64 / FULL as f64) as f32
}

#[test]
fn ducking_ramps_the_clients_gain_monotonically_and_leaves_alerts_alone() {
    let target_q30 = gain_q30(-20_000);
    let target = target_q30 as f32 / UNITY_Q30 as f32;
    assert!((target - 0.1).abs() < 1e-6);
    // 10 ms at 48 kHz: 480 frames of ramp.
    let ramp = 480;
    let mut mixer = Mixer::new(&config(SampleFormat::F32Le, 1)).unwrap();
    constant_client(&mut mixer, 1, 0.5, 4000, false);
    constant_client(&mut mixer, 2, 0.25, 4000, true);
    let before = mix_frames(&mut mixer, 100);
    assert!(before.iter().all(|sample| *sample == 0.75));
    mixer.duck(-20_000, 10);
    assert!(mixer.duck_ramping());
    let during = mix_frames(&mut mixer, ramp);
    assert!(!mixer.duck_ramping());
    let gains: Vec<f32> = during.iter().map(|sample| (sample - 0.25) / 0.5).collect();
    assert!(gains.windows(2).all(|pair| pair[1] <= pair[0]), "monotonic");
    assert!(gains[0] < 1.0 && gains[0] > 0.99);
    assert!(gains[ramp / 2] > 0.5 && gains[ramp / 2] < 0.6);
    assert!(gains[ramp - 2] > target);
    assert_eq!(during[ramp - 1], ducked(target_q30));
    for (k, sample) in during.iter().enumerate() {
        assert_eq!(
            *sample,
            ducked(ref_ramp(UNITY_Q30, target_q30, ramp, k + 1))
        );
    }
    // Even steps: the gain moves by (1 - 0.1) / 480 a frame.
    let step = (1.0 - target) / ramp as f32;
    for pair in gains.windows(2) {
        assert!((pair[0] - pair[1] - step).abs() < 1e-5);
    }
    let after = mix_frames(&mut mixer, 200);
    assert!(after.iter().all(|sample| *sample == ducked(target_q30)));
    assert_eq!(mixer.duck_gain(), target);
    mixer.unduck(5);
    let back = mix_frames(&mut mixer, 240);
    assert!(back.windows(2).all(|pair| pair[1] >= pair[0]), "monotonic");
    assert_eq!(back[239], 0.75);
    assert!(back[238] < 0.75);
    assert!(mix_frames(&mut mixer, 10).iter().all(|s| *s == 0.75));
    // Ducking at once, and a retarget mid-ramp starts where the gain is.
    mixer.duck(-6_000, 0);
    let at_once = mix_frames(&mut mixer, 2);
    assert_eq!(at_once[0], ducked(gain_q30(-6_000)));
    mixer.duck(-40_000, 100);
    let first = mix_frames(&mut mixer, 1)[0];
    assert!(first < at_once[1] && f64::from(first) > 0.5 * gain(-6_100) + 0.25);
    mixer.unduck(0);
    assert_eq!(mix_frames(&mut mixer, 1), [0.75]);

    // The alert alone, through a duck: untouched, sample for sample.
    let mut alert = Mixer::new(&config(SampleFormat::F32Le, 1)).unwrap();
    constant_client(&mut alert, 2, 0.25, 2000, true);
    alert.duck(-20_000, 10);
    assert!(mix_frames(&mut alert, 1000).iter().all(|s| *s == 0.25));
}

#[test]
fn ducking_measured_on_s16_is_the_amount_asked_for() {
    let mut mixer = Mixer::new(&config(SampleFormat::S16Le, 2)).unwrap();
    mixer
        .add_client(ClientId(1), &config(SampleFormat::S16Le, 2), options(2000))
        .unwrap();
    let bytes: Vec<u8> = (0..2000 * 2).flat_map(|_| 16384i16.to_le_bytes()).collect();
    mixer.push(ClientId(1), &bytes).unwrap();
    mixer.duck(-20_000, 1);
    let mut out = vec![0u8; 1000 * 4];
    mixer.mix(1000, &mut out).unwrap();
    let samples = s16(&out);
    assert!(samples.windows(2).all(|pair| pair[1] <= pair[0]));
    // 48 frames of ramp, then 16384 × 0.1.
    assert!(samples[47 * 2 - 1] > 1638);
    assert!(samples[48 * 2..].iter().all(|sample| *sample == 1638));
}

#[test]
fn a_client_removed_mid_stream_leaves_the_others_exact() {
    let mut rng = Rng(7);
    let a = signal(&mut rng, SampleFormat::S16Le, 2, 400, 0.4);
    let b = signal(&mut rng, SampleFormat::F32Le, 6, 400, 0.4);
    let mut mixer = Mixer::new(&config(SampleFormat::S16Le, 2)).unwrap();
    mixer
        .add_client(ClientId(1), &config(SampleFormat::S16Le, 2), options(400))
        .unwrap();
    mixer
        .add_client(ClientId(2), &config(SampleFormat::F32Le, 6), options(400))
        .unwrap();
    mixer.push(ClientId(1), &a).unwrap();
    mixer.push(ClientId(2), &b).unwrap();
    let mut out = vec![0u8; 400 * 4];
    mixer.mix(150, &mut out).unwrap();
    let removed = mixer.remove_client(ClientId(2)).unwrap();
    assert_eq!(removed.consumed_frames, 150);
    let consumed = mixer.mix(250, &mut out[150 * 4..]).unwrap();
    assert_eq!(consumed.len(), 1);
    assert_eq!((consumed[0].id, consumed[0].frames), (ClientId(1), 250));
    let reference = [
        RefClient {
            format: SampleFormat::S16Le,
            channels: 2,
            bytes: a.clone(),
            priority: false,
        },
        RefClient {
            format: SampleFormat::F32Le,
            channels: 6,
            bytes: b[..150 * 24].to_vec(),
            priority: false,
        },
    ];
    let (expected, _) = ref_mix(SampleFormat::S16Le, 2, &reference, 400, |_| UNITY_Q30);
    assert!(out == expected);
    // Its id can be used again, by a new stream.
    mixer
        .add_client(ClientId(2), &config(SampleFormat::U8, 1), options(4))
        .unwrap();
    assert_eq!(mixer.queued_bytes(ClientId(2)), Ok(0));
}

#[test]
fn what_cannot_be_mixed_is_refused_with_a_reason() {
    let mut mixer = Mixer::new(&config(SampleFormat::S16Le, 2)).unwrap();
    let mut other_rate = config(SampleFormat::S16Le, 2);
    other_rate.rate = 44_100;
    assert_eq!(
        mixer.add_client(ClientId(1), &other_rate, options(8)),
        Err(MixError::RateMismatch {
            client: 44_100,
            output: 48_000
        })
    );
    for channels in [0, 9] {
        assert_eq!(
            mixer.add_client(
                ClientId(1),
                &config(SampleFormat::S16Le, channels),
                options(8)
            ),
            Err(MixError::Channels(channels))
        );
    }
    for format in [SampleFormat::Iec958SubframeLe, SampleFormat::Mpeg] {
        assert_eq!(
            mixer.add_client(ClientId(1), &config(format, 2), options(8)),
            Err(MixError::Unconvertible(format))
        );
        assert_eq!(
            Mixer::new(&config(format, 2)).unwrap_err(),
            MixError::Unconvertible(format)
        );
    }
    assert_eq!(mixer.clients().count(), 0);
    mixer
        .add_client(ClientId(1), &config(SampleFormat::S16Le, 2), options(8))
        .unwrap();
    assert_eq!(
        mixer.add_client(ClientId(1), &config(SampleFormat::U8, 1), options(8)),
        Err(MixError::DuplicateClient(ClientId(1)))
    );
    assert_eq!(
        mixer.mix(3, &mut [0u8; 11]),
        Err(MixError::OutputTooShort {
            needed: 12,
            given: 11
        })
    );
    assert_eq!(
        mixer.set_muted(ClientId(9), true),
        Err(MixError::UnknownClient(ClientId(9)))
    );
    assert!(std::format!(
        "{}",
        MixError::RateMismatch {
            client: 1,
            output: 2
        }
    )
    .contains("no resampling"));
}

#[test]
fn capture_fanout_converts_one_block_into_every_clients_format() {
    let mut rng = Rng(99);
    let frames = 120;
    for source_format in FORMATS {
        for source_channels in CHANNELS {
            let source = config(source_format, source_channels);
            let block = signal(&mut rng, source_format, source_channels, frames, 0.9);
            let mut fanout = CaptureFanout::new(&source).unwrap();
            let clients: Vec<(SampleFormat, u8)> = (0..4)
                .map(|index| {
                    (
                        FORMATS[(index + source_channels as usize) % 6],
                        CHANNELS[index],
                    )
                })
                .collect();
            for (index, (format, channels)) in clients.iter().enumerate() {
                fanout
                    .add_client(ClientId(index as u32), &config(*format, *channels), 100)
                    .unwrap();
            }
            assert_eq!(fanout.deliver(&block), Ok(frames));
            let reference = [RefClient {
                format: source_format,
                channels: source_channels,
                bytes: block.clone(),
                priority: false,
            }];
            for (index, (format, channels)) in clients.iter().enumerate() {
                let id = ClientId(index as u32);
                let (expected, _) = ref_mix(*format, *channels, &reference, 100, |_| UNITY_Q30);
                let mut out = vec![0u8; expected.len() + 7];
                assert_eq!(fanout.read(id, &mut out), Ok(expected.len()));
                assert!(
                    out[..expected.len()] == expected,
                    "{source_format} -> {format}"
                );
                let stats = fanout.client_stats(id).unwrap();
                assert_eq!((stats.delivered_frames, stats.overrun_frames), (100, 20));
                // The one-block helper gives the same bytes.
                let mut direct = vec![0u8; expected.len()];
                let converted = convert(&source, &block, &config(*format, *channels), &mut direct);
                assert_eq!(converted, Ok(100));
                assert!(direct == expected);
            }
        }
    }
    let mut fanout = CaptureFanout::new(&config(SampleFormat::S16Le, 2)).unwrap();
    let mut other_rate = config(SampleFormat::S16Le, 2);
    other_rate.rate = 8000;
    assert!(matches!(
        fanout.add_client(ClientId(1), &other_rate, 4),
        Err(MixError::RateMismatch { .. })
    ));
    fanout
        .add_client(ClientId(1), &config(SampleFormat::S16Le, 2), 4)
        .unwrap();
    fanout.deliver(&[1, 0, 2, 0, 3]).unwrap();
    assert_eq!(fanout.queued_bytes(ClientId(1)), Ok(4));
    assert_eq!(
        fanout.remove_client(ClientId(1)).unwrap().delivered_frames,
        1
    );
}

#[test]
fn a_ducked_mix_of_every_format_equals_the_reference_and_alerts_are_not_ducked() {
    let mut rng = Rng(0x5eed);
    let frames = 600;
    // -12 dB over 5 ms (240 frames), starting at frame 100.
    let target = gain_q30(-12_000);
    let ramp = 240usize;
    let gain = |frame: usize| -> u32 {
        match frame {
            0..100 => UNITY_Q30,
            _ => ref_ramp(UNITY_Q30, target, ramp, (frame - 100 + 1).min(ramp)),
        }
    };
    for output in FORMATS {
        let mut mixer = Mixer::new(&config(output, 2)).unwrap();
        let mut clients = Vec::new();
        for (index, format) in FORMATS.iter().enumerate() {
            let channels = CHANNELS[index % 4];
            let bytes = signal(&mut rng, *format, channels, frames, 0.2);
            let priority = index % 3 == 2;
            let options = ClientOptions {
                queue_frames: frames as u32,
                priority,
            };
            let id = ClientId(index as u32);
            mixer
                .add_client(id, &config(*format, channels), options)
                .unwrap();
            mixer.push(id, &bytes).unwrap();
            clients.push(RefClient {
                format: *format,
                channels,
                bytes,
                priority,
            });
        }
        let (expected, _) = ref_mix(output, 2, &clients, frames, gain);
        let mut out = vec![0u8; expected.len()];
        let frame_bytes = mixer.output_frame_bytes();
        mixer.mix(100, &mut out).unwrap();
        mixer.duck(-12_000, 5);
        mixer
            .mix(frames - 100, &mut out[100 * frame_bytes..])
            .unwrap();
        assert!(out == expected, "{output}");
    }
}

#[test]
fn the_fixed_point_gain_rounds_half_to_even_and_never_overflows() {
    use crate::mixer::apply_gain;
    let half = 1u32 << 29;
    for (sum, gain, expected) in [
        (1, half, 0),
        (3, half, 2),
        (-1, half, 0),
        (-3, half, -2),
        ((1 << 30) + 1, half, 1 << 29),
        ((1 << 30) + 3, half, (1 << 29) + 2),
        (12_345, UNITY_Q30, 12_345),
        (7, 0, 0),
    ] {
        assert_eq!(apply_gain(sum, gain), expected, "{sum} * {gain}");
        assert_eq!(ref_gain(sum, gain), expected, "{sum} * {gain}");
    }
    let mut rng = Rng(0xdead_beef);
    for _ in 0..100_000 {
        // Up to 2^8 full-scale samples summed; any gain up to u32::MAX.
        let sum = (rng.next() as i64) >> (24 + rng.next() % 40);
        let gain = (rng.next() >> (32 + rng.next() % 32)) as u32;
        assert_eq!(apply_gain(sum, gain), ref_gain(sum, gain), "{sum} * {gain}");
    }
}

#[test]
fn ramps_step_monotonically_and_land_exactly_on_the_target() {
    use crate::duck::Ramp;
    let cases = [
        (UNITY_Q30, gain_q30(-20_000), 480u32),
        (gain_q30(-20_000), UNITY_Q30, 240),
        (UNITY_Q30, 0, 7),
        (0, UNITY_Q30, 1),
        (5, 9, 1000),
        (9, 5, 1000),
        (UNITY_Q30, u32::MAX, 3),
        (u32::MAX, 0, 100_000),
        (77, 77, 10),
    ];
    for (from, to, length) in cases {
        let mut ramp = Ramp::constant(from);
        ramp.retarget(to, length);
        let mut last = from;
        for k in 1..=length as usize {
            let gain = ramp.next_gain();
            assert_eq!(
                gain,
                ref_ramp(from, to, length as usize, k),
                "{from} -> {to}"
            );
            assert!(if to < from {
                gain <= last
            } else {
                gain >= last
            });
            last = gain;
        }
        assert_eq!(last, to);
        assert!(!ramp.ramping());
        assert_eq!((ramp.next_gain(), ramp.current()), (to, to));
    }
}
