//! The chime embedded in the guest image: 1.2 s of a two-note bell at
//! 24 kHz, signed 16-bit mono (made by `tools/make-chime.py`), played at
//! any rate and channel count through integer linear interpolation, so
//! the host can compute exactly what the guest played.
#![forbid(unsafe_code)]

/// The raw chime: s16_le mono at [`CHIME_RATE`].
pub const CHIME: &[u8] = include_bytes!("../../assets/chime-24k-s16le-mono.raw");

/// Sample rate of [`CHIME`].
pub const CHIME_RATE: u32 = 24_000;

fn source(i: u64) -> i32 {
    let i = i as usize * 2;
    match CHIME.get(i..i + 2) {
        Some(b) => i16::from_le_bytes([b[0], b[1]]) as i32,
        None => 0,
    }
}

/// Source frames in the chime.
pub fn source_frames() -> u64 {
    (CHIME.len() / 2) as u64
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
    fn chime_is_embedded_and_resamples_exactly_at_its_own_rate() {
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
            assert_eq!(sample(48_000, 2 * n) as i32, a);
            assert_eq!(
                sample(48_000, 2 * n + 1) as i32,
                a + (((b - a) * 0x8000) >> 16)
            );
        }
    }

    #[test]
    fn chime_is_not_silent() {
        let peak = (0..source_frames()).map(|n| source(n).abs()).max().unwrap();
        assert!(peak > 8_000, "peak {peak}");
    }
}
