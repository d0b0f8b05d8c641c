//! Deterministic test signals and measurements shared by the guest demo and
//! the host tests: the host regenerates exactly what the guest played and
//! compares the backend's WAV with it sample for sample.
#![forbid(unsafe_code)]

use alloc::vec::Vec;

/// A sine tone as interleaved signed 16-bit little-endian frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tone {
    /// Frequency in Hz.
    pub frequency_hz: u32,
    /// Sample rate in Hz.
    pub rate: u32,
    /// Interleaved channels (every channel carries the same signal).
    pub channels: u8,
    /// Peak level in 0.001 dBFS (0 = full scale, -6000 = half amplitude).
    pub level_millidb: i32,
}

impl Tone {
    /// Peak amplitude in sample units for the configured level.
    pub fn amplitude(&self) -> f32 {
        let gain = libm::powf(10.0, self.level_millidb as f32 / 20_000.0);
        (gain.min(1.0) * i16::MAX as f32).max(0.0)
    }

    /// The sample at frame `n` (same for every channel). The phase is
    /// reduced with integer arithmetic first, so the value depends only on
    /// `n`, never on where a chunk started.
    pub fn sample(&self, n: u64) -> i16 {
        self.sample_at(n, self.amplitude())
    }

    /// [`sample`](Tone::sample) with the amplitude computed once by the caller.
    fn sample_at(&self, n: u64, amplitude: f32) -> i16 {
        let rate = self.rate.max(1) as u64;
        let phase_units = (n * self.frequency_hz as u64) % rate;
        let phase = phase_units as f32 / rate as f32;
        let value = libm::sinf(2.0 * core::f32::consts::PI * phase) * amplitude;
        libm::roundf(value) as i16
    }

    /// Write frames `first..` as interleaved samples into `out` (whole
    /// frames of `channels` samples).
    pub fn fill(&self, first: u64, out: &mut [i16]) {
        let amplitude = self.amplitude();
        for (i, frame) in out
            .chunks_exact_mut(self.channels.max(1) as usize)
            .enumerate()
        {
            frame.fill(self.sample_at(first + i as u64, amplitude));
        }
    }

    /// Write frames `first..first + frames` as s16_le bytes into `out`
    /// (which must hold `frames * channels * 2` bytes).
    pub fn fill_s16le(&self, first: u64, out: &mut [u8]) {
        let frame_bytes = 2 * self.channels.max(1) as usize;
        for (i, frame) in out.chunks_exact_mut(frame_bytes).enumerate() {
            let s = self.sample(first + i as u64).to_le_bytes();
            for channel in frame.chunks_exact_mut(2) {
                channel.copy_from_slice(&s);
            }
        }
    }

    /// `frames` frames from frame 0 as s16_le bytes.
    pub fn render_s16le(&self, frames: u64) -> Vec<u8> {
        let mut out = alloc::vec![0u8; frames as usize * 2 * self.channels.max(1) as usize];
        self.fill_s16le(0, &mut out);
        out
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and `cksum -a crc32b` compute it).
#[derive(Debug, Clone, Copy)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// A fresh checksum.
    pub const fn new() -> Self {
        Crc32(0xffff_ffff)
    }

    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut crc = self.0;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xedb8_8320 & mask);
            }
        }
        self.0 = crc;
    }

    /// The checksum of everything fed so far.
    pub fn value(&self) -> u32 {
        !self.0
    }

    /// Checksum of one slice.
    pub fn of(bytes: &[u8]) -> u32 {
        let mut c = Crc32::new();
        c.update(bytes);
        c.value()
    }
}

/// Peak and RMS of s16_le samples, accumulated over chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Meter {
    /// Largest absolute sample value.
    pub peak: u16,
    sum_squares: u128,
    /// Samples seen.
    pub samples: u64,
}

impl Meter {
    /// Feed samples.
    pub fn update(&mut self, samples: &[i16]) {
        for &s in samples {
            let v = s as i32;
            self.peak = self.peak.max(v.unsigned_abs() as u16);
            self.sum_squares += (v * v) as u128;
            self.samples += 1;
        }
    }

    /// Feed s16_le bytes (a trailing odd byte is ignored).
    pub fn update_s16le(&mut self, bytes: &[u8]) {
        for s in bytes.chunks_exact(2) {
            self.update(&[i16::from_le_bytes([s[0], s[1]])]);
        }
    }

    /// Root mean square in sample units (0 with no samples).
    pub fn rms(&self) -> f32 {
        if self.samples == 0 {
            return 0.0;
        }
        libm::sqrtf((self.sum_squares as f64 / self.samples as f64) as f32)
    }

    /// Peak in 0.001 dBFS (`i32::MIN` for silence).
    pub fn peak_millidb(&self) -> i32 {
        if self.peak == 0 {
            return i32::MIN;
        }
        (20_000.0 * libm::log10f(self.peak as f32 / i16::MAX as f32)) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(Crc32::of(b"123456789"), 0xcbf4_3926);
        assert_eq!(Crc32::of(b""), 0);
        let mut c = Crc32::new();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.value(), 0xcbf4_3926);
    }

    #[test]
    fn tone_is_chunk_independent_and_periodic() {
        let tone = Tone {
            frequency_hz: 1000,
            rate: 48_000,
            channels: 2,
            level_millidb: -6_000,
        };
        let whole = tone.render_s16le(480);
        let mut pieces = alloc::vec![0u8; whole.len()];
        tone.fill_s16le(0, &mut pieces[..400]);
        tone.fill_s16le(100, &mut pieces[400..]);
        assert_eq!(whole, pieces);
        // 1 kHz at 48 kHz repeats every 48 frames.
        assert_eq!(tone.sample(5), tone.sample(53));
        assert_eq!(tone.sample(0), 0);
        // A quarter period is the positive peak: -6 dB is about half scale.
        let peak = tone.sample(12);
        assert!((16_300..16_500).contains(&peak), "peak {peak}");
        // Both channels carry the same sample.
        assert_eq!(whole[48..50], whole[50..52]);
    }

    #[test]
    fn meter_measures_peak_and_rms() {
        let tone = Tone {
            frequency_hz: 1000,
            rate: 48_000,
            channels: 1,
            level_millidb: 0,
        };
        let mut meter = Meter::default();
        meter.update_s16le(&tone.render_s16le(48_000));
        assert_eq!(meter.peak, i16::MAX as u16);
        // RMS of a full-scale sine is peak / sqrt(2).
        let expected = i16::MAX as f32 / core::f32::consts::SQRT_2;
        assert!((meter.rms() - expected).abs() < 5.0, "rms {}", meter.rms());
        assert!(meter.peak_millidb().abs() < 10);
        assert_eq!(Meter::default().peak_millidb(), i32::MIN);
    }
}
