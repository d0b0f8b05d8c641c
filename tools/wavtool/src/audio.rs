//! WAV files in the sample formats the checks use, and the test signals.
//!
//! A WAV file holds one of five encodings ([`WavFormat`]), the ones sndback's
//! WAV sink writes and `aplay`/`arecord` read and write: 8-bit unsigned
//! (`u8`), 16-bit (`s16_le`), 24-bit in a 4-byte container (`s24_le`, as
//! ALSA's `S24_LE`; files with 3-byte samples read too), 32-bit (`s32_le`)
//! and IEEE float (`float_le`, xl's `f32_le`). Samples are kept as `i32`: the
//! integers as hound reads them (8-bit ones as `stored byte - 128`), floats
//! as their IEEE bits, so that equality is bit-exact for every format.
//!
//! Signals: the guest's tone (`xensnd_demo::signal::Tone`, rendered as the
//! guest renders it, i16, then widened as the guest's PCM layer converts it)
//! and xorshift32 noise that uses every bit of the format.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use hound::{SampleFormat as HoundFormat, WavSpec, WavSpecEx, WavWriter};
use xensnd_pcm::format::SampleFormat;

/// The sample encoding of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    /// Unsigned 8 bit (ALSA/sndif `u8`).
    U8,
    /// Signed 16 bit little-endian.
    S16,
    /// Signed 24 bit; on the wire 4 bytes (sndif/ALSA `s24_le`).
    S24,
    /// Signed 32 bit little-endian.
    S32,
    /// IEEE 754 single little-endian (sndif `float_le`, xl `f32_le`).
    F32,
}

impl WavFormat {
    /// The WAV encoding of a sndif format name (`u8`, `s16_le`, `s24_le`,
    /// `s32_le`, `float_le` or xl's `f32_le`).
    pub fn parse(name: &str) -> Result<Self, String> {
        // xl writes f32_le where sndif.h says float_le (issue #12, item 3).
        let format = SampleFormat::from_name(name)
            .or_else(|| {
                name.eq_ignore_ascii_case("f32_le")
                    .then_some(SampleFormat::F32Le)
            })
            .ok_or_else(|| format!("unknown sample format {name:?}"))?;
        match format {
            SampleFormat::U8 => Ok(Self::U8),
            SampleFormat::S16Le => Ok(Self::S16),
            SampleFormat::S24Le => Ok(Self::S24),
            SampleFormat::S32Le => Ok(Self::S32),
            SampleFormat::F32Le => Ok(Self::F32),
            other => Err(format!(
                "{other}: a WAV file here holds u8, s16_le, s24_le, s32_le or float_le"
            )),
        }
    }

    /// The sndif format this encoding travels as.
    pub fn sample_format(self) -> SampleFormat {
        match self {
            Self::U8 => SampleFormat::U8,
            Self::S16 => SampleFormat::S16Le,
            Self::S24 => SampleFormat::S24Le,
            Self::S32 => SampleFormat::S32Le,
            Self::F32 => SampleFormat::F32Le,
        }
    }

    fn of_spec(spec: &WavSpec) -> Option<Self> {
        match (spec.sample_format, spec.bits_per_sample) {
            (HoundFormat::Int, 8) => Some(Self::U8),
            (HoundFormat::Int, 16) => Some(Self::S16),
            (HoundFormat::Int, 24) => Some(Self::S24),
            (HoundFormat::Int, 32) => Some(Self::S32),
            (HoundFormat::Float, 32) => Some(Self::F32),
            _ => None,
        }
    }

    /// Bits per sample in the WAV header.
    pub(crate) fn bits(self) -> u16 {
        match self {
            Self::U8 => 8,
            Self::S16 => 16,
            Self::S24 => 24,
            Self::S32 | Self::F32 => 32,
        }
    }

    /// Bytes of one sample as it travels over sndif (24 bit: 4).
    pub fn wire_bytes(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::S16 => 2,
            Self::S24 | Self::S32 | Self::F32 => 4,
        }
    }

    /// The value of full scale (1.0) in sample units; 1 for floats.
    fn full_scale(self) -> f64 {
        match self {
            Self::F32 => 1.0,
            other => (1u64 << (other.bits() - 1)) as f64,
        }
    }
}

/// A loaded (or generated) WAV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Encoding.
    pub format: WavFormat,
    /// Channels.
    pub channels: u16,
    /// Frames per second.
    pub rate: u32,
    /// Interleaved samples: integers as hound reads them (8 bit: `byte - 128`), floats as IEEE bits.
    pub samples: Vec<i32>,
}

impl Audio {
    /// Read a WAV file.
    pub fn load(path: &Path) -> Result<Audio, String> {
        let context = |e: hound::Error| format!("{}: {e}", path.display());
        let mut reader = hound::WavReader::open(path).map_err(context)?;
        let spec = reader.spec();
        let format = WavFormat::of_spec(&spec).ok_or_else(|| {
            format!(
                "{}: {} bit {:?} samples are not one of u8, s16_le, s24_le, s32_le, float_le",
                path.display(),
                spec.bits_per_sample,
                spec.sample_format
            )
        })?;
        let samples = match format {
            WavFormat::F32 => reader
                .samples::<f32>()
                .map(|s| s.map(|v| v.to_bits() as i32))
                .collect::<Result<Vec<_>, _>>(),
            _ => reader.samples::<i32>().collect::<Result<Vec<_>, _>>(),
        }
        .map_err(context)?;
        Ok(Audio {
            format,
            channels: spec.channels.max(1),
            rate: spec.sample_rate,
            samples,
        })
    }

    /// Write as a WAV file (24 bit in 4-byte containers, so `aplay` plays it as `S24_LE`).
    pub fn write(&self, out: &Path) -> Result<(), String> {
        let spec = WavSpec {
            channels: self.channels,
            sample_rate: self.rate,
            bits_per_sample: self.format.bits(),
            sample_format: if self.format == WavFormat::F32 {
                HoundFormat::Float
            } else {
                HoundFormat::Int
            },
        };
        let spec_ex = WavSpecEx {
            spec,
            bytes_per_sample: self.format.wire_bytes() as u16,
        };
        let error = |e: hound::Error| format!("{}: {e}", out.display());
        let file = File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let mut writer =
            WavWriter::new_with_spec_ex(BufWriter::new(file), spec_ex).map_err(error)?;
        for &s in &self.samples {
            match self.format {
                WavFormat::U8 => writer.write_sample(s as i8),
                WavFormat::S16 => writer.write_sample(s as i16),
                WavFormat::S24 | WavFormat::S32 => writer.write_sample(s),
                WavFormat::F32 => writer.write_sample(f32::from_bits(s as u32)),
            }
            .map_err(error)?;
        }
        writer.finalize().map_err(error)
    }

    /// Frames (whole ones).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels)
    }

    /// Same encoding, channels and rate.
    pub fn same_layout(&self, other: &Audio) -> bool {
        (self.format, self.channels, self.rate) == (other.format, other.channels, other.rate)
    }

    /// One-line description of the layout, e.g. `48000 Hz, 2 ch, s32_le`.
    pub fn layout(&self) -> String {
        format!(
            "{} Hz, {} ch, {}",
            self.rate,
            self.channels,
            self.format.sample_format()
        )
    }

    /// A sample as a number (floats as their value).
    pub fn show(&self, sample: i32) -> String {
        match self.format {
            WavFormat::F32 => format!("{:e}", f32::from_bits(sample as u32)),
            _ => sample.to_string(),
        }
    }

    /// Sample `i` scaled to -1..1.
    pub fn normalized(&self, i: usize) -> f64 {
        let s = self.samples[i];
        match self.format {
            WavFormat::F32 => f64::from(f32::from_bits(s as u32)),
            format => f64::from(s) / format.full_scale(),
        }
    }

    /// The sample bytes as they travel over sndif in this format: `u8` as
    /// stored (silence 0x80), 24 bit as 4 bytes (sign-extended), floats as
    /// IEEE bits; little-endian. This is what the guest checksums.
    pub fn wire_bytes(&self) -> Vec<u8> {
        let width = self.format.wire_bytes();
        let mut bytes = Vec::with_capacity(self.samples.len() * width);
        for &s in &self.samples {
            match self.format {
                WavFormat::U8 => bytes.push((s + 128) as u8),
                _ => bytes.extend_from_slice(&s.to_le_bytes()[..width]),
            }
        }
        bytes
    }
}

/// One xorshift32 step.
fn xorshift32(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

/// `frames` frames of deterministic noise in `format`, one xorshift32 value
/// per sample (its high bits: the top 8/16/24/32; floats: the value / 2^31,
/// in -1..1), so every bit of the format varies and no offset can hide. The
/// 16-bit noise is what wavtool has always made.
pub fn noise(format: WavFormat, seed: u32, frames: u64, channels: u16, rate: u32) -> Audio {
    let mut state = if seed == 0 { 1 } else { seed };
    let count = frames as usize * usize::from(channels.max(1));
    let samples = (0..count)
        .map(|_| {
            let x = xorshift32(&mut state) as i32;
            match format {
                WavFormat::U8 => x >> 24,
                WavFormat::S16 => x >> 16,
                WavFormat::S24 => x >> 8,
                WavFormat::S32 => x,
                WavFormat::F32 => (x as f32 / 2_147_483_648.0).to_bits() as i32,
            }
        })
        .collect();
    Audio {
        format,
        channels: channels.max(1),
        rate,
        samples,
    }
}

/// An i16 sample as the guest's PCM layer converts it to `format`, in
/// [`Audio`]'s representation.
///
/// The exact widenings: 24 bit = x * 2^8, 32 bit = x * 2^16, float = x / 2^15;
/// `u8` keeps the top 8 bits (x >> 8, i.e. rounds toward minus infinity).
// TODO(#12 item 4): call the guest's converter (xensnd's PCM layer, branch
// `convert`) once it lands, so that the reference is its code, not a copy.
pub fn from_i16(format: WavFormat, x: i16) -> i32 {
    let x = i32::from(x);
    match format {
        WavFormat::U8 => x >> 8,
        WavFormat::S16 => x,
        WavFormat::S24 => x << 8,
        WavFormat::S32 => x << 16,
        WavFormat::F32 => (x as f32 / 32_768.0).to_bits() as i32,
    }
}

/// Interleaved s16_le bytes (the guest's own rendering) as `format`.
pub fn from_s16le(format: WavFormat, bytes: &[u8], channels: u16, rate: u32) -> Audio {
    Audio {
        format,
        channels: channels.max(1),
        rate,
        samples: bytes
            .chunks_exact(2)
            .map(|b| from_i16(format, i16::from_le_bytes([b[0], b[1]])))
            .collect(),
    }
}

/// `parts` one after the other, each followed by the zero frames that make
/// its length a multiple of `period` frames (what `aplay` plays: it writes
/// whole periods and fills the last one with silence); `period` 0 or 1: no padding.
pub fn concat(parts: &[Audio], period: usize) -> Result<Audio, String> {
    let first = parts.first().ok_or("nothing to join")?;
    let mut joined = Audio {
        samples: Vec::new(),
        ..first.clone()
    };
    for part in parts {
        if !part.same_layout(first) {
            return Err(format!(
                "cannot join {} and {}",
                first.layout(),
                part.layout()
            ));
        }
        joined.samples.extend_from_slice(&part.samples);
        let padding = match period {
            0 | 1 => 0,
            p => (p - part.frames() % p) % p,
        };
        // Silence is 0 in every encoding here (u8: byte 0x80; float: +0.0).
        joined
            .samples
            .extend(std::iter::repeat_n(0, padding * usize::from(part.channels)));
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("wavtool-audio-{}-{name}.wav", std::process::id()))
    }

    #[test]
    fn every_format_round_trips_bit_exactly() {
        for (name, format) in [
            ("u8", WavFormat::U8),
            ("s16_le", WavFormat::S16),
            ("s24_le", WavFormat::S24),
            ("s32_le", WavFormat::S32),
            ("f32_le", WavFormat::F32),
            ("float_le", WavFormat::F32),
        ] {
            assert_eq!(WavFormat::parse(name).unwrap(), format);
            let audio = noise(format, 11, 500, 6, 22_050);
            let path = temp(name);
            audio.write(&path).unwrap();
            let back = Audio::load(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            assert_eq!(back, audio, "{name}");
            assert_eq!(back.frames(), 500);
        }
        assert!(WavFormat::parse("s16_be").is_err());
        assert!(WavFormat::parse("nonsense").is_err());
    }

    #[test]
    fn noise_uses_every_bit_of_its_format() {
        for format in [
            WavFormat::U8,
            WavFormat::S16,
            WavFormat::S24,
            WavFormat::S32,
        ] {
            let audio = noise(format, 5, 4000, 2, 48_000);
            let bits = i64::from(format.bits());
            let (min, max) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
            let values: Vec<i64> = audio.samples.iter().map(|&s| i64::from(s)).collect();
            assert!(values.iter().all(|v| (min..=max).contains(v)), "{format:?}");
            // Low bit and sign both vary.
            assert!(values.iter().any(|v| v & 1 == 1) && values.iter().any(|v| *v < 0));
            assert!(values.iter().any(|v| *v > max / 2) && values.iter().any(|v| *v < min / 2));
        }
        let float = noise(WavFormat::F32, 5, 4000, 2, 48_000);
        assert!((0..float.samples.len()).all(|i| (-1.0..1.0).contains(&float.normalized(i))));
        // The 16-bit noise is what wavtool always wrote (high 16 bits of the state).
        let mut state = 9u32;
        let first = (xorshift32(&mut state) >> 16) as u16 as i16;
        assert_eq!(
            noise(WavFormat::S16, 9, 1, 1, 8000).samples[0],
            i32::from(first)
        );
    }

    #[test]
    fn wire_bytes_are_what_travels() {
        let audio = Audio {
            format: WavFormat::S24,
            channels: 1,
            rate: 8000,
            samples: vec![-2, 0x12_3456],
        };
        assert_eq!(
            audio.wire_bytes(),
            [0xfe, 0xff, 0xff, 0xff, 0x56, 0x34, 0x12, 0]
        );
        let audio = Audio {
            format: WavFormat::U8,
            channels: 1,
            rate: 8000,
            samples: vec![-128, 0, 127],
        };
        assert_eq!(audio.wire_bytes(), [0, 0x80, 0xff]);
        let audio = from_s16le(WavFormat::F32, &(-16384i16).to_le_bytes(), 1, 8000);
        assert_eq!(audio.wire_bytes(), (-0.5f32).to_le_bytes());
    }

    #[test]
    fn widening_is_exact() {
        assert_eq!(from_i16(WavFormat::S32, -32768), i32::MIN);
        assert_eq!(from_i16(WavFormat::S24, 32767), 32767 << 8);
        assert_eq!(from_i16(WavFormat::U8, -1), -1);
        assert_eq!(from_i16(WavFormat::U8, 255), 0);
        assert_eq!(
            f32::from_bits(from_i16(WavFormat::F32, 1) as u32),
            1.0 / 32768.0
        );
    }

    #[test]
    fn concat_pads_each_part_to_whole_periods() {
        let a = noise(WavFormat::S32, 1, 10, 2, 8000);
        let b = noise(WavFormat::S32, 2, 8, 2, 8000);
        let joined = concat(&[a.clone(), b.clone()], 4).unwrap();
        assert_eq!(joined.frames(), 12 + 8);
        assert_eq!(&joined.samples[..20], &a.samples[..]);
        assert!(joined.samples[20..24].iter().all(|&s| s == 0));
        assert_eq!(&joined.samples[24..], &b.samples[..]);
        assert_eq!(concat(std::slice::from_ref(&a), 0).unwrap(), a);
        let mono = noise(WavFormat::S32, 1, 10, 1, 8000);
        assert!(concat(&[a, mono], 4).is_err());
    }
}
