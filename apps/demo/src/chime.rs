//! The chime the guest plays: 1.2 s of a two-note bell (E6 then C6,
//! inharmonic partials, exponential decay) at 24 kHz mono, synthesized once
//! at first use instead of stored in the image, and played at any rate and
//! channel count through integer linear interpolation. The host's reference
//! (`wavtool chime`) runs this same code, so it computes exactly what the
//! guest played: the synthesis uses only `libm` (pure Rust, the same
//! results on host and guest) and reduces every phase with integer
//! arithmetic first, like [`super::signal::Tone`].
#![forbid(unsafe_code)]

use alloc::vec::Vec;

/// Sample rate of the synthesized chime.
pub const CHIME_RATE: u32 = 24_000;

/// Length of the chime in source frames (1.2 s).
const CHIME_FRAMES: u64 = 28_800;

/// The notes: (start frame at [`CHIME_RATE`], fundamental in mHz).
const NOTES: [(u64, u64); 2] = [(0, 1_318_510), (8_400, 1_046_500)];

/// Bell partials: (frequency ratio in thousandths, relative amplitude,
/// decay time constant in seconds).
const PARTIALS: [(u64, f32, f32); 4] = [
    (1_000, 1.0, 0.45),
    (2_760, 0.45, 0.25),
    (5_400, 0.25, 0.12),
    (500, 0.2, 0.6),
];

/// Attack ramp: 4 ms.
const ATTACK_FRAMES: f32 = 96.0;

/// Overall gain before clipping to full scale.
const GAIN: f32 = 0.35;

/// Source sample `n` of the chime, computed from the note table.
fn synthesize(n: u64) -> i16 {
    let rate_millihz = CHIME_RATE as u64 * 1000;
    let mut value = 0.0f32;
    for &(start, fundamental_millihz) in &NOTES {
        if n < start {
            continue;
        }
        let elapsed = n - start;
        let attack = (elapsed as f32 / ATTACK_FRAMES).min(1.0);
        for &(ratio, amplitude, decay_s) in &PARTIALS {
            let frequency_millihz = fundamental_millihz * ratio / 1000;
            if 2 * frequency_millihz >= rate_millihz {
                continue;
            }
            // Integer phase reduction: the fraction of a cycle at `elapsed`.
            let phase_units = (elapsed * frequency_millihz) % rate_millihz;
            let phase = phase_units as f32 / rate_millihz as f32;
            let decay = libm::expf(-(elapsed as f32) / (decay_s * CHIME_RATE as f32));
            value += attack * amplitude * decay * libm::sinf(2.0 * core::f32::consts::PI * phase);
        }
    }
    libm::roundf((value * GAIN).clamp(-1.0, 1.0) * i16::MAX as f32) as i16
}

/// The chime's source samples, synthesized at the first call.
fn samples() -> &'static [i16] {
    static SAMPLES: spin::Once<Vec<i16>> = spin::Once::new();
    SAMPLES.call_once(|| (0..CHIME_FRAMES).map(synthesize).collect())
}

fn source(i: u64) -> i32 {
    samples().get(i as usize).map_or(0, |&s| s as i32)
}

/// Source frames in the chime.
pub fn source_frames() -> u64 {
    CHIME_FRAMES
}

/// Frames the chime lasts at `rate`.
pub fn frames_at(rate: u32) -> u64 {
    source_frames() * rate as u64 / CHIME_RATE as u64
}

/// Chime sample at output frame `n` for output `rate`.
pub fn sample(rate: u32, n: u64) -> i16 {
    // Position in source samples as 32.16 fixed point.
    let position = (n << 16) * CHIME_RATE as u64 / rate.max(1) as u64;
    let index = position >> 16;
    let fraction = (position & 0xffff) as i64;
    let a = source(index) as i64;
    let b = source(index + 1) as i64;
    (a + (((b - a) * fraction) >> 16)) as i16
}

/// Write output frames `first..` as interleaved samples with `channels` copies.
pub fn fill(rate: u32, channels: u8, first: u64, out: &mut [i16]) {
    for (i, frame) in out.chunks_exact_mut(channels.max(1) as usize).enumerate() {
        frame.fill(sample(rate, first + i as u64));
    }
}

/// Write output frames `first..` as interleaved s16_le with `channels` copies.
pub fn fill_s16le(rate: u32, channels: u8, first: u64, out: &mut [u8]) {
    let frame_bytes = 2 * channels.max(1) as usize;
    for (i, frame) in out.chunks_exact_mut(frame_bytes).enumerate() {
        let s = sample(rate, first + i as u64).to_le_bytes();
        for channel in frame.chunks_exact_mut(2) {
            channel.copy_from_slice(&s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chime_is_synthesized_and_resamples_exactly_at_its_own_rate() {
        assert_eq!(source_frames(), 28_800);
        for n in [0u64, 1, 100, 28_799] {
            assert_eq!(sample(CHIME_RATE, n) as i32, source(n));
        }
        assert_eq!(frames_at(48_000), 57_600);
    }

    #[test]
    fn doubling_the_rate_interpolates_halfway() {
        for n in [10u64, 500, 7_000] {
            let a = source(n);
            let b = source(n + 1);
            assert_eq!(sample(2 * CHIME_RATE, 2 * n) as i32, a);
            assert_eq!(
                sample(2 * CHIME_RATE, 2 * n + 1) as i32,
                a + (((b - a) * 0x8000) >> 16)
            );
        }
    }

    #[test]
    fn chime_is_not_silent() {
        let peak = (0..source_frames()).map(|n| source(n).abs()).max().unwrap();
        assert!(peak > 8_000, "peak {peak}");
    }

    #[test]
    fn chime_rings_two_notes_and_decays() {
        let energy = |from: u64, to: u64| -> i64 {
            (from..to).map(|n| (source(n) as i64).pow(2)).sum::<i64>() / (to - from) as i64
        };
        let first = energy(0, 2_400);
        let before_second = energy(6_000, 8_400);
        let second = energy(8_400, 10_800);
        let tail = energy(26_400, 28_800);
        assert!(before_second < first, "first note decays");
        assert!(second > before_second, "second note strikes at 0.35 s");
        assert!(tail < second / 10, "the chime fades out");
        assert_eq!(source(CHIME_FRAMES), 0, "silence after the end");
    }
}
