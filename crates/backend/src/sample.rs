//! Sample encoding, per-channel volume and mute, applied to PCM bytes.
//!
//! `io/sndif.h`, "Request stream volume" and "Request mute/unmute": volume is
//! an `int32_t` per channel in steps of 0.001 dB (0 = 0 dB); mute flags are
//! one 4-byte slot per channel, non-zero selects the channel. We apply volume
//! to s16_le, s32_le and float_le samples (saturating) and mute to every
//! format (the format's silence). The volume's linear gain (silence at or
//! below -120 dB) is [`xensnd_pcm::gain`]'s, the one definition.
//!
//! G.711 for the `mu_law`/`a_law` formats is the frontend's
//! ([`xensnd_pcm::convert`]: as alsa-lib and Linux convert 16-bit PCM,
//! symmetric in the sign), re-exported here: one definition for both ends.
#![forbid(unsafe_code)]

use super::hw::{sample_bytes, PcmParams};
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::gain::gain;

/// The bytes of one silent sample of `format` (up to 8 bytes; the first
/// `sample_bytes(format)` are meaningful); zeros for a format without a
/// fixed sample size or an unknown code ([`SampleFormat::silence`] is the
/// one definition).
pub fn silence(format: u8) -> [u8; 8] {
    SampleFormat::from_code(format)
        .and_then(SampleFormat::silence)
        .unwrap_or([0; 8])
}

fn put(out: &mut [u8], bytes: &[u8], big_endian: bool) {
    if big_endian {
        for (target, source) in out.iter_mut().zip(bytes.iter().rev()) {
            *target = *source;
        }
    } else {
        out.copy_from_slice(bytes);
    }
}

/// Encode `value` (-1.0 ..= 1.0, clamped) as one sample of `format` into
/// `out` (`sample_bytes(format)` long). Formats that are not linear PCM
/// get their silence.
pub fn encode(format: u8, value: f32, out: &mut [u8]) {
    let value = f64::from(value.clamp(-1.0, 1.0));
    let scaled = |bits: u32| -> i64 {
        let full = (1i64 << (bits - 1)) - 1;
        libm::round(value * full as f64) as i64
    };
    let big_endian = matches!(format, 3 | 5 | 7 | 9 | 11 | 13 | 15 | 17);
    match format {
        0 => out[0] = scaled(8) as i8 as u8,
        1 => out[0] = (scaled(8) + 128) as u8,
        2 | 3 => put(out, &(scaled(16) as i16).to_le_bytes(), big_endian),
        4 | 5 => put(
            out,
            &((scaled(16) + 32768) as u16).to_le_bytes(),
            big_endian,
        ),
        6 | 7 => put(out, &(scaled(24) as i32).to_le_bytes(), big_endian),
        8 | 9 => put(
            out,
            &((scaled(24) + (1 << 23)) as u32).to_le_bytes(),
            big_endian,
        ),
        10 | 11 => put(out, &(scaled(32) as i32).to_le_bytes(), big_endian),
        12 | 13 => put(
            out,
            &((scaled(32) + (1 << 31)) as u32).to_le_bytes(),
            big_endian,
        ),
        14 | 15 => put(out, &(value as f32).to_le_bytes(), big_endian),
        16 | 17 => put(out, &value.to_le_bytes(), big_endian),
        20 => out[0] = mulaw_encode(scaled(16) as i16),
        21 => out[0] = alaw_encode(scaled(16) as i16),
        _ => {
            let size = out.len().min(8);
            out[..size].copy_from_slice(&silence(format)[..size]);
        }
    }
}

/// Per-channel volume and mute state of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixer {
    /// Volume per channel, 0.001 dB.
    pub volumes: alloc::vec::Vec<i32>,
    /// Mute flag per channel.
    pub muted: alloc::vec::Vec<bool>,
}

impl Mixer {
    /// 0 dB, unmuted, on `channels` channels.
    pub fn new(channels: usize) -> Self {
        Self {
            volumes: alloc::vec![0; channels],
            muted: alloc::vec![false; channels],
        }
    }

    /// True when applying would change nothing.
    pub fn is_identity(&self) -> bool {
        self.volumes.iter().all(|volume| *volume == 0) && !self.muted.iter().any(|muted| *muted)
    }

    /// Apply volume and mute to `bytes`, which sit at byte `offset` of a
    /// frame-aligned buffer of `params`. Samples cut by the chunk's ends are
    /// left alone (muted channels included only when whole).
    pub fn apply(&self, params: &PcmParams, offset: u32, bytes: &mut [u8]) {
        if self.is_identity() || params.channels == 0 {
            return;
        }
        let size = match sample_bytes(params.format) {
            Some(size) => size as usize,
            None => return,
        };
        let channels = usize::from(params.channels);
        let skip = (size - offset as usize % size) % size;
        let first_sample = (offset as usize).div_ceil(size);
        let silent = silence(params.format);
        let start = skip.min(bytes.len());
        for (index, sample) in bytes[start..].chunks_exact_mut(size).enumerate() {
            let channel = (first_sample + index) % channels;
            if self.muted.get(channel).copied().unwrap_or(false) {
                sample.copy_from_slice(&silent[..size]);
                continue;
            }
            let volume = self.volumes.get(channel).copied().unwrap_or(0);
            if volume == 0 {
                continue;
            }
            scale_sample(params.format, gain(volume), sample);
        }
    }
}

fn scale_sample(format: u8, gain: f64, sample: &mut [u8]) {
    match format {
        2 => {
            let value = i16::from_le_bytes([sample[0], sample[1]]);
            let scaled = libm::round(f64::from(value) * gain);
            let clamped = scaled.clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
            sample.copy_from_slice(&clamped.to_le_bytes());
        }
        10 => {
            let value = i32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]]);
            let scaled = libm::round(f64::from(value) * gain);
            let clamped = scaled.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
            sample.copy_from_slice(&clamped.to_le_bytes());
        }
        14 => {
            let value = f32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]]);
            let scaled = (f64::from(value) * gain) as f32;
            sample.copy_from_slice(&scaled.to_le_bytes());
        }
        _ => {}
    }
}

/// G.711 is converted by the one implementation both ends share
/// ([`xensnd_pcm::convert`], alsa-lib's `s16_to_alaw`/`s16_to_ulaw` rule).
pub use xensnd_pcm::convert::{alaw_decode, alaw_encode, mulaw_decode, mulaw_encode};
