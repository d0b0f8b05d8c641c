//! Parsing the vsnd XenStore configuration strings into [`Limits`].
//!
//! `io/sndif.h`, "Backend/frontend XenStore nodes": `sample-rates`
//! (comma-separated Hz), `sample-formats` (comma-separated format names),
//! `channels-min`, `channels-max`, `buffer-size` (bytes). Card, PCM and
//! stream levels may each set them; a lower level only narrows.
#![forbid(unsafe_code)]

use super::hw::{format_code, Limits};
use crate::abi::sndif::Interval;

/// A malformed configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError(pub &'static str);

/// Parse a decimal `u32` (no sign, no spaces around after trimming).
pub fn parse_u32(text: &str) -> Result<u32, ConfigError> {
    let text = text.trim();
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError("not a decimal number"));
    }
    text.parse().map_err(|_| ConfigError("number too large"))
}

/// `sample-rates`: the smallest and largest of a comma-separated list.
pub fn parse_rates(text: &str) -> Result<Interval, ConfigError> {
    let mut range: Option<Interval> = None;
    for item in text.split(',').filter(|item| !item.trim().is_empty()) {
        let rate = parse_u32(item)?;
        if rate == 0 {
            return Err(ConfigError("zero sample rate"));
        }
        range = Some(match range {
            None => Interval {
                min: rate,
                max: rate,
            },
            Some(known) => Interval {
                min: known.min.min(rate),
                max: known.max.max(rate),
            },
        });
    }
    range.ok_or(ConfigError("empty rate list"))
}

/// `sample-formats`: a bit mask of the named formats. Unknown names are an error.
pub fn parse_formats(text: &str) -> Result<u64, ConfigError> {
    let mut mask = 0u64;
    for item in text.split(',').filter(|item| !item.trim().is_empty()) {
        let code = format_code(item.trim()).ok_or(ConfigError("unknown sample format"))?;
        mask |= 1 << code;
    }
    if mask == 0 {
        return Err(ConfigError("empty format list"));
    }
    Ok(mask)
}

/// The raw values of one configuration level (each may be absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelConfig<'a> {
    /// `sample-rates`.
    pub sample_rates: Option<&'a str>,
    /// `sample-formats`.
    pub sample_formats: Option<&'a str>,
    /// `channels-min`.
    pub channels_min: Option<&'a str>,
    /// `channels-max`.
    pub channels_max: Option<&'a str>,
    /// `buffer-size`, bytes.
    pub buffer_size: Option<&'a str>,
}

/// Narrow `limits` with one configuration level. `buffer-size` is in bytes:
/// it caps the buffer in frames at `buffer-size` divided by the smallest
/// possible frame (one byte per sample, `channels.min` channels), so it never
/// rejects a format the limits allow; OPEN checks the exact byte size.
pub fn narrow_with(limits: &Limits, level: &LevelConfig<'_>) -> Result<Limits, ConfigError> {
    let mut narrowed = *limits;
    if let Some(text) = level.sample_rates {
        narrowed.rates = parse_rates(text)?;
    }
    if let Some(text) = level.sample_formats {
        narrowed.formats = parse_formats(text)?;
    }
    if let Some(text) = level.channels_min {
        narrowed.channels.min = parse_u32(text)?.max(1);
    }
    if let Some(text) = level.channels_max {
        narrowed.channels.max = parse_u32(text)?;
    }
    if let Some(text) = level.buffer_size {
        let bytes = parse_u32(text)?;
        let smallest_frame = narrowed.channels.min.max(1);
        narrowed.buffer_frames.max = bytes / smallest_frame;
    }
    limits.narrow(&narrowed).ok_or(ConfigError(
        "configuration leaves nothing the backend supports",
    ))
}
