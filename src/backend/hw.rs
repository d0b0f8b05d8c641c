//! PCM parameters, the backend's configured limits, and the HW_PARAM_QUERY intersection.
//!
//! `io/sndif.h`, "Request stream parameter query" (`XENSND_OP_HW_PARAM_QUERY`):
//! the frontend sends the ranges it can accept; the backend answers with the
//! ranges it supports within them. Buffer and period are in frames there, in
//! bytes in OPEN.
#![forbid(unsafe_code)]

use crate::abi::sndif::{HwParam, Interval, XENSND_PCM_FORMAT_S16_LE, XENSND_PCM_FORMAT_S32_LE};
use crate::sndif::format::SampleFormat;

/// Bytes per sample of a `XENSND_PCM_FORMAT_*` code, or `None` for formats
/// without a fixed sample size (IMA ADPCM, MPEG, GSM) and unknown codes.
/// 24-bit formats occupy 4 bytes, as in ALSA's `S24_LE`. (The frontend's
/// [`SampleFormat`] is the one definition.)
pub fn sample_bytes(format: u8) -> Option<u32> {
    SampleFormat::from_code(format)?.bytes_per_sample()
}

/// The XenStore name of a format code (`s16_le`, ...).
pub fn format_name(format: u8) -> Option<&'static str> {
    SampleFormat::from_code(format).map(SampleFormat::name)
}

/// The format code of a XenStore name.
pub fn format_code(name: &str) -> Option<u8> {
    SampleFormat::from_name(name).map(SampleFormat::code)
}

/// The parameters of an open stream, as validated from OPEN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmParams {
    /// `XENSND_PCM_FORMAT_*`.
    pub format: u8,
    /// Channels per frame (at least 1).
    pub channels: u8,
    /// Frames per second.
    pub rate: u32,
    /// Shared buffer size in bytes.
    pub buffer_bytes: u32,
    /// Bytes between position events (0: none).
    pub period_bytes: u32,
}

impl PcmParams {
    /// Bytes per sample (the format has a fixed size once validated).
    pub fn sample_bytes(&self) -> u32 {
        sample_bytes(self.format).unwrap_or(1)
    }

    /// Bytes per frame.
    pub fn frame_bytes(&self) -> u32 {
        self.sample_bytes() * u32::from(self.channels)
    }
}

/// What the backend supports, as answered to HW_PARAM_QUERY and enforced at OPEN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bit mask of `1 << XENSND_PCM_FORMAT_*`.
    pub formats: u64,
    /// Sample rates, Hz.
    pub rates: Interval,
    /// Channel counts.
    pub channels: Interval,
    /// Buffer size, frames.
    pub buffer_frames: Interval,
    /// Period size, frames.
    pub period_frames: Interval,
}

impl Default for Limits {
    /// s16_le and s32_le, 8 kHz to 192 kHz, 1 to 8 channels, buffers of 64
    /// frames to 1 MiB of frames, periods of 16 frames up to the buffer.
    fn default() -> Self {
        Self {
            formats: (1 << XENSND_PCM_FORMAT_S16_LE) | (1 << XENSND_PCM_FORMAT_S32_LE),
            rates: Interval {
                min: 8000,
                max: 192_000,
            },
            channels: Interval { min: 1, max: 8 },
            buffer_frames: Interval {
                min: 64,
                max: 1 << 20,
            },
            period_frames: Interval {
                min: 16,
                max: 1 << 20,
            },
        }
    }
}

/// The intersection of two intervals, or `None` when it is empty.
pub fn intersect_interval(left: Interval, right: Interval) -> Option<Interval> {
    let min = left.min.max(right.min);
    let max = left.max.min(right.max);
    (min <= max).then_some(Interval { min, max })
}

/// What went wrong with a HW_PARAM_QUERY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    /// No format in common.
    Formats,
    /// No rate in common.
    Rates,
    /// No channel count in common.
    Channels,
    /// No buffer size in common.
    Buffer,
    /// No period size in common.
    Period,
}

impl Limits {
    /// Answer a HW_PARAM_QUERY: each range narrowed to what both sides support.
    /// An empty intersection in any field is an error (the response carries
    /// `-EINVAL`), so a frontend never gets a range it cannot use.
    pub fn intersect(&self, request: &HwParam) -> Result<HwParam, QueryError> {
        let formats = request.formats & self.formats;
        if formats == 0 {
            return Err(QueryError::Formats);
        }
        let rates = intersect_interval(request.rates, self.rates).ok_or(QueryError::Rates)?;
        let channels =
            intersect_interval(request.channels, self.channels).ok_or(QueryError::Channels)?;
        let buffer =
            intersect_interval(request.buffer, self.buffer_frames).ok_or(QueryError::Buffer)?;
        let mut period =
            intersect_interval(request.period, self.period_frames).ok_or(QueryError::Period)?;
        // A period longer than the largest buffer can never be used.
        period.max = period.max.min(buffer.max);
        if period.min > period.max {
            return Err(QueryError::Period);
        }
        Ok(HwParam {
            formats,
            rates,
            channels,
            buffer,
            period,
        })
    }

    /// Narrow these limits with another set (lower XenStore levels may only
    /// narrow). Returns `None` when nothing is left.
    pub fn narrow(&self, other: &Limits) -> Option<Limits> {
        let formats = self.formats & other.formats;
        if formats == 0 {
            return None;
        }
        Some(Limits {
            formats,
            rates: intersect_interval(self.rates, other.rates)?,
            channels: intersect_interval(self.channels, other.channels)?,
            buffer_frames: intersect_interval(self.buffer_frames, other.buffer_frames)?,
            period_frames: intersect_interval(self.period_frames, other.period_frames)?,
        })
    }

    /// Whether `format` is allowed and has a fixed sample size.
    pub fn allows_format(&self, format: u8) -> bool {
        format < 64 && self.formats & (1u64 << format) != 0 && sample_bytes(format).is_some()
    }
}

fn within(value: u32, interval: Interval) -> bool {
    interval.min <= value && value <= interval.max
}

impl Limits {
    /// Whether `rate` is allowed.
    pub fn allows_rate(&self, rate: u32) -> bool {
        rate > 0 && within(rate, self.rates)
    }

    /// Whether `channels` is allowed.
    pub fn allows_channels(&self, channels: u8) -> bool {
        channels > 0 && within(u32::from(channels), self.channels)
    }

    /// Whether a buffer of `frames` is allowed.
    pub fn allows_buffer_frames(&self, frames: u32) -> bool {
        frames > 0 && within(frames, self.buffer_frames)
    }

    /// Whether a period of `frames` is allowed.
    pub fn allows_period_frames(&self, frames: u32) -> bool {
        frames > 0 && within(frames, self.period_frames)
    }
}
