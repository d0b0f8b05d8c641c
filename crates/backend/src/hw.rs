//! PCM parameters, the device's limits, and what a stream offers: the
//! HW_PARAM_QUERY answer and the OPEN checks.
//!
//! `io/sndif.h`, "Request stream parameter query" (`XENSND_OP_HW_PARAM_QUERY`)
//! and "Request open" (`XENSND_OP_OPEN`). A stream offers what its vsnd
//! configuration allows ([`StreamCaps`], parsed by the one parser,
//! [`xensnd_sndif::config`]) within what the device can do ([`Limits`]):
//! that is an [`Offer`], and both the query answer and the OPEN checks
//! follow from it, with the frontend's semantics:
//!
//! - rates are a discrete set. The query answers the interval from the
//!   lowest to the highest allowed rate inside the asked interval (sndif
//!   has no other way to say it), so when the set has gaps the interval
//!   contains rates that are not allowed; OPEN checks the exact rate is in
//!   the set. That is what Linux does on both sides: its frontend turns
//!   `sample-rates` into ALSA's rate list (so it only ever picks a listed
//!   rate) and answers the backend's interval with a refinement of it;
//!   snd_be answers ALSA's min/max of the device's rates.
//! - formats are a set; channels an interval.
//! - `buffer-size` (bytes) bounds the buffer the *frontend* allocates: the
//!   query's buffer maximum is `min(buffer-size, the device's byte cap)`
//!   divided by the smallest frame the answer allows (the exact byte size
//!   depends on the format and channels OPEN picks). OPEN does not refuse a
//!   bigger buffer the device can hold: the limit protects the frontend's
//!   memory, not ours, and our cap ([`Offer::max_buffer_bytes`]) still holds.
//! - OPEN's `buffer_sz` is the PCM buffer (sndif.h: "buffer size to be
//!   allocated, octets"). The device buffer is `buffer_sz / frame` whole
//!   frames, as snd_be sizes its ALSA buffer; a tail that is not a whole
//!   frame is accepted (sndif.h does not forbid it) but never played. The
//!   device period is `period_sz / frame`, rounded by the stream's
//!   [`PeriodRounding`] and never longer than the buffer.
#![forbid(unsafe_code)]

use alloc::vec::Vec;

use super::behaviour::PeriodRounding;
use super::RequestError;
use xen_abi::sndif::{HwParam, Interval, OpenRequest};
use xensnd_pcm::format::{FormatSet, SampleFormat};
use xensnd_sndif::config::StreamCaps;
use xensnd_sndif::negotiate::HwParamField;

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

/// The parameters of an open stream, as validated from OPEN.
///
/// The same quantities as the frontend's [`xensnd_pcm::StreamConfig`] (the
/// one type for what OPEN carries, in frames), plus what only the receiving
/// end sees: `buffer_bytes` is `buffer_sz` as sent, which may end in a part
/// frame, and a `period_frames` of 0 (OPEN's `period_sz` 0: no position
/// events) that `StreamConfig::is_valid` refuses. Kept as its own record
/// for now; folding it into `{ stream: StreamConfig, buffer_bytes }` is a
/// mechanical change across the sinks and sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmParams {
    /// `XENSND_PCM_FORMAT_*`.
    pub format: u8,
    /// Channels per frame (at least 1).
    pub channels: u8,
    /// Frames per second.
    pub rate: u32,
    /// The shared buffer as OPEN sized it (`buffer_sz`), bytes: READ and
    /// WRITE must stay inside it.
    pub buffer_bytes: u32,
    /// The device buffer, whole frames (`buffer_sz / frame`).
    pub buffer_frames: u32,
    /// The device period, frames (0: OPEN asked for no position events).
    pub period_frames: u32,
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

    /// The device period in bytes (0: no position events).
    pub fn period_bytes(&self) -> u32 {
        self.period_frames.saturating_mul(self.frame_bytes())
    }

    /// The sample format.
    pub fn sample_format(&self) -> Option<SampleFormat> {
        SampleFormat::from_code(self.format)
    }

    /// The same stream as the frontend's [`xensnd_pcm::StreamConfig`] (the
    /// one type for what OPEN carries, in frames): `None` for a format code
    /// without a [`SampleFormat`]. The byte size of the buffer (which may
    /// end in a part frame) is not carried, and a `period_frames` of 0
    /// stays 0.
    pub fn stream_config(&self) -> Option<xensnd_pcm::StreamConfig> {
        Some(xensnd_pcm::StreamConfig {
            format: self.sample_format()?,
            rate: self.rate,
            channels: self.channels,
            period_frames: self.period_frames,
            buffer_frames: self.buffer_frames,
        })
    }
}

/// Sample rates a device runs at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceRates {
    /// Every rate from `min` to `max` Hz (a file sink, a resampling device).
    Range(Interval),
    /// Only these rates (sorted, no duplicates).
    List(Vec<u32>),
}

impl DeviceRates {
    /// Whether the device runs at `rate`.
    pub fn allows(&self, rate: u32) -> bool {
        match self {
            DeviceRates::Range(range) => rate > 0 && range.min <= rate && rate <= range.max,
            DeviceRates::List(rates) => rates.binary_search(&rate).is_ok(),
        }
    }
}

/// What the device behind a backend can do (its own limits, before any
/// vsnd configuration narrows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Formats it plays and records.
    pub formats: FormatSet,
    /// Rates.
    pub rates: DeviceRates,
    /// Channel counts.
    pub channels: Interval,
    /// Device buffer, frames.
    pub buffer_frames: Interval,
    /// Device period, frames.
    pub period_frames: Interval,
}

impl Default for Limits {
    /// Every format with a fixed sample size, 8 kHz to 192 kHz, 1 to 8
    /// channels, buffers of at least 64 frames and periods of at least 16
    /// (no upper bound in frames: the byte cap [`Offer::max_buffer_bytes`]
    /// and the configured `buffer-size` bound them).
    fn default() -> Self {
        Self {
            formats: FormatSet::SIZED,
            rates: DeviceRates::Range(Interval {
                min: 8000,
                max: 192_000,
            }),
            channels: Interval { min: 1, max: 8 },
            buffer_frames: Interval {
                min: 64,
                max: u32::MAX,
            },
            period_frames: Interval {
                min: 16,
                max: u32::MAX,
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

/// A part of the configuration that has nothing in common with the device,
/// or of a HW_PARAM_QUERY that has nothing in common with the offer: which
/// field of `struct xensnd_query_hw_param` came out empty (the frontend's
/// [`HwParamField`], one name for the five fields on both ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mismatch(pub HwParamField);

impl core::fmt::Display for Mismatch {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self.0 {
            HwParamField::Formats => "no sample format in common",
            HwParamField::Rates => "no sample rate in common",
            HwParamField::Channels => "no channel count in common",
            HwParamField::Buffer => "no buffer size in common",
            HwParamField::Period => "no period size in common",
        })
    }
}

/// The name kept for the HW_PARAM_QUERY error.
pub type QueryError = Mismatch;

impl Limits {
    /// What a stream configured with `caps` offers on this device: the
    /// configured rates the device runs at, the configured formats it
    /// handles (with a fixed sample size), the channel range both allow;
    /// `buffer-size` as configured. `Err` names what has nothing in common.
    pub fn offer(&self, caps: &StreamCaps, max_buffer_bytes: u32) -> Result<Offer, Mismatch> {
        let formats = caps
            .formats
            .intersection(self.formats)
            .intersection(FormatSet::SIZED);
        if formats.is_empty() {
            return Err(Mismatch(HwParamField::Formats));
        }
        let rates: Vec<u32> = caps
            .rates
            .iter()
            .copied()
            .filter(|rate| self.rates.allows(*rate))
            .collect();
        if rates.is_empty() {
            return Err(Mismatch(HwParamField::Rates));
        }
        let channels = intersect_interval(
            Interval {
                min: u32::from(caps.channels_min),
                max: u32::from(caps.channels_max),
            },
            Interval {
                min: self.channels.min.max(1),
                max: self.channels.max.min(u32::from(u8::MAX)),
            },
        )
        .ok_or(Mismatch(HwParamField::Channels))?;
        Ok(Offer {
            caps: StreamCaps {
                rates,
                formats,
                // Both fit in a u8: the configured range does.
                channels_min: u8::try_from(channels.min).unwrap_or(u8::MAX),
                channels_max: u8::try_from(channels.max).unwrap_or(u8::MAX),
                buffer_size_bytes: caps.buffer_size_bytes,
            },
            buffer_frames: self.buffer_frames,
            period_frames: self.period_frames,
            max_buffer_bytes,
        })
    }
}

/// What one stream offers: its configuration within the device's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Formats, rates, channels and `buffer-size` (see the module docs).
    pub caps: StreamCaps,
    /// Device buffer, frames.
    pub buffer_frames: Interval,
    /// Device period, frames.
    pub period_frames: Interval,
    /// Largest `buffer_sz` the device maps, bytes.
    pub max_buffer_bytes: u32,
}

impl Offer {
    /// Answer a HW_PARAM_QUERY: each range narrowed to what both sides
    /// support (see the module docs for rates and buffers). An empty
    /// intersection in any field is an error (the response carries
    /// `-EINVAL`), so a frontend never gets a range it cannot use.
    pub fn answer(&self, request: &HwParam) -> Result<HwParam, Mismatch> {
        let formats =
            FormatSet::from_bits_truncate(request.formats).intersection(self.caps.formats);
        if formats.is_empty() {
            return Err(Mismatch(HwParamField::Formats));
        }
        let mut inside = self
            .caps
            .rates
            .iter()
            .copied()
            .filter(|rate| request.rates.min <= *rate && *rate <= request.rates.max);
        let lowest = inside.next().ok_or(Mismatch(HwParamField::Rates))?;
        let highest = inside.next_back().unwrap_or(lowest);
        let rates = Interval {
            min: lowest,
            max: highest,
        };
        let channels = intersect_interval(
            request.channels,
            Interval {
                min: u32::from(self.caps.channels_min),
                max: u32::from(self.caps.channels_max),
            },
        )
        .ok_or(Mismatch(HwParamField::Channels))?;
        // The most frames: the byte limit over the smallest frame allowed.
        let smallest_frame = formats
            .iter()
            .filter_map(|format| format.frame_bytes(channels.min))
            .min()
            .unwrap_or(1)
            .max(1);
        let byte_limit = self.caps.buffer_size_bytes.min(self.max_buffer_bytes);
        let device_buffer = Interval {
            min: self.buffer_frames.min.max(1),
            max: self.buffer_frames.max.min(byte_limit / smallest_frame),
        };
        let buffer = intersect_interval(request.buffer, device_buffer)
            .ok_or(Mismatch(HwParamField::Buffer))?;
        let mut period = intersect_interval(
            request.period,
            Interval {
                min: self.period_frames.min.max(1),
                max: self.period_frames.max,
            },
        )
        .ok_or(Mismatch(HwParamField::Period))?;
        // A period longer than the largest buffer can never be used.
        period.max = period.max.min(buffer.max);
        if period.min > period.max {
            return Err(Mismatch(HwParamField::Period));
        }
        Ok(HwParam {
            formats: formats.bits(),
            rates,
            channels,
            buffer,
            period,
        })
    }

    /// Check an OPEN against the offer and derive the device's parameters
    /// (see the module docs); the period is rounded by `rounding`.
    pub fn open(
        &self,
        open: &OpenRequest,
        rounding: PeriodRounding,
    ) -> Result<PcmParams, RequestError> {
        let format = SampleFormat::from_code(open.pcm_format)
            .filter(|format| self.caps.formats.contains(*format))
            .ok_or(RequestError::Invalid("format not supported"))?;
        let channels = open.pcm_channels;
        if channels == 0 || !self.caps.supports_channels(u32::from(channels)) {
            return Err(RequestError::Invalid("channel count not supported"));
        }
        if !self.caps.supports_rate(open.pcm_rate) {
            return Err(RequestError::Invalid("rate not supported"));
        }
        let frame = format
            .frame_bytes(u32::from(channels))
            .ok_or(RequestError::Invalid("format not supported"))?;
        if open.buffer_sz == 0 || open.buffer_sz > self.max_buffer_bytes {
            return Err(RequestError::Invalid("buffer size zero or above the cap"));
        }
        let buffer_frames = open.buffer_sz / frame;
        if buffer_frames == 0
            || buffer_frames < self.buffer_frames.min
            || buffer_frames > self.buffer_frames.max
        {
            return Err(RequestError::Invalid("buffer size outside the limits"));
        }
        let period_frames = if open.period_sz == 0 {
            0
        } else {
            if open.period_sz < frame {
                return Err(RequestError::Invalid("period shorter than a frame"));
            }
            let asked = open.period_sz / frame;
            if rounding == PeriodRounding::Exact && asked > buffer_frames {
                return Err(RequestError::Invalid("period longer than the buffer"));
            }
            let period = rounding.apply(asked, buffer_frames);
            if period < self.period_frames.min || period > self.period_frames.max {
                return Err(RequestError::Invalid("period size outside the limits"));
            }
            period
        };
        Ok(PcmParams {
            format: open.pcm_format,
            channels,
            rate: open.pcm_rate,
            buffer_bytes: open.buffer_sz,
            buffer_frames,
            period_frames,
        })
    }
}
