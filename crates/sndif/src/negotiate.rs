//! Stream parameter negotiation: XenStore limits × backend answer × user wishes → one configuration.
//!
//! Implements `XENSND_OP_HW_PARAM_QUERY` of `io/sndif.h` ("Request stream
//! parameter ranges") on the frontend side, and fills the parameters of
//! `XENSND_OP_OPEN`. Pure functions, no I/O: the stream engine sends
//! [`build_query`], feeds the answer to [`negotiate`], and opens with
//! [`open_request`].
//!
//! # Untrusted answers
//! The backend's answer is checked field by field ([`check_answer`]). A field
//! that makes no sense is ignored, the XenStore limits stand for it, and the
//! problem is returned in [`Negotiated::issues`]:
//! - `formats` with no defined format bit ([`AnswerProblem::NoFormats`]);
//!   undefined bits next to defined ones are dropped and reported
//!   ([`AnswerProblem::UndefinedFormatBits`]) but the field is used;
//! - an interval with `min > max` ([`AnswerProblem::MinGreaterThanMax`]);
//! - an interval with `max == 0` ([`AnswerProblem::Zero`]).
//!
//! A well-formed answer that does not overlap the XenStore limits (or the
//! user's wish) is a real refusal: [`NegotiationError`].
//!
//! # When nothing fits: the policy
//! `io/sndif.h` says only that the response status is "zero on success and
//! -XEN_EXX on failure". What the peers do:
//! - Linux's frontend (`sound/xen/xen_snd_front_alsa.c`, `alsa_hw_rule`)
//!   returns any error of `xen_snd_front_stream_query_hw_param` (a backend
//!   status, or `-ETIMEDOUT` after 3 s) from its ALSA hardware rule, so
//!   `snd_pcm_hw_params` fails: no configuration, no OPEN. It has no
//!   fallback at all.
//! - snd_be answers from ALSA (`AlsaPcm::queryHwRanges`): a range that
//!   leaves nothing makes ALSA's `snd_pcm_hw_params_set_*_minmax` fail,
//!   and the request is answered with that error, `-EINVAL` in practice;
//!   its PulseAudio device echoes the request. Our backend engine answers
//!   `-EINVAL` ("no parameters in common") and `-EOPNOTSUPP` for operations
//!   it does not know.
//!
//! So the frontend ([`crate::pcm`], `Frontend::open`):
//! 1. checks the request against the stream's XenStore configuration first:
//!    what it excludes is `InvalidConfig` at once, without asking anybody;
//! 2. asks `HW_PARAM_QUERY` with the XenStore limits narrowed to the
//!    request ([`build_query`]);
//! 3. a backend that does not implement the query (no answer within the
//!    request timeout, `-EOPNOTSUPP`, `-ENOSYS` ([`query_not_implemented`]),
//!    or an answer that is not a HW_PARAM_QUERY response) leaves the
//!    XenStore limits to decide, as before (more lenient than Linux);
//! 4. any other error status is a refusal ("nothing fits"), and so is an
//!    answer whose ranges exclude the request ([`negotiate`] fails): the
//!    frontend asks once more with the stream's whole XenStore limits to
//!    learn what the backend offers ([`BackendOffer`]) and the application
//!    gets `InvalidConfig` naming both sides ([`NoCommonConfig`]). No OPEN
//!    stays: when the request and the XenStore limits leave one
//!    configuration ([`determined`]), OPEN went with the first query (one
//!    ring round trip instead of two) and is closed again.
//!
//! # Choices when the user says "any"
//! - format: the first of `s16_le`, `s32_le`, `s24_le`, `float_le`, `u8`,
//!   `s8` allowed, else the lowest allowed code with a fixed sample size.
//!   Compressed formats are never chosen (no frame size).
//! - rate: 48000, else 44100, else the highest allowed.
//! - channels: 2 clamped into the allowed range.
//! - buffer: the most frames allowed (XenStore `buffer-size` ÷ frame size,
//!   and the backend's `buffer.max`).
//! - period: a quarter of the buffer, clamped into the allowed range;
//!   a period is never longer than the buffer.
#![forbid(unsafe_code)]

use alloc::vec::Vec;
use core::fmt;

use crate::config::StreamCaps;
use xen_abi::errno::{XEN_ENOSYS, XEN_EOPNOTSUPP};
use xen_abi::sndif::{HwParam, Interval, OpenRequest};
use xensnd_pcm::format::{FormatSet, SampleFormat};
use xensnd_pcm::StreamConfig;

/// What the user asks for; `None` means "any".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StreamRequest {
    /// Sample format.
    pub format: Option<SampleFormat>,
    /// Frames per second.
    pub rate: Option<u32>,
    /// Channels.
    pub channels: Option<u8>,
    /// Frames per period.
    pub period_frames: Option<u32>,
    /// Frames in the buffer.
    pub buffer_frames: Option<u32>,
}

impl StreamRequest {
    /// Ask for this sample layout (format, rate, channels) and leave the
    /// period and buffer sizes to the negotiation.
    pub fn layout(format: SampleFormat, rate: u32, channels: u8) -> Self {
        Self {
            format: Some(format),
            rate: Some(rate),
            channels: Some(channels),
            ..Self::default()
        }
    }

    /// Ask for exactly this configuration (every field set).
    pub fn exact(
        format: SampleFormat,
        rate: u32,
        channels: u8,
        period_frames: u32,
        buffer_frames: u32,
    ) -> Self {
        Self {
            format: Some(format),
            rate: Some(rate),
            channels: Some(channels),
            period_frames: Some(period_frames),
            buffer_frames: Some(buffer_frames),
        }
    }
}

/// A value the request may leave open: the value, or "any".
struct Wish(Option<u32>);

impl fmt::Display for Wish {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => fmt::Display::fmt(&value, formatter),
            None => formatter.write_str("any"),
        }
    }
}

/// "format s16_le, rate 48000 Hz, channels 2, period 480 frames, buffer
/// 1920 frames", with "any" where the request leaves the choice.
impl fmt::Display for StreamRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "format {}, rate {} Hz, channels {}, period {} frames, buffer {} frames",
            self.format.map_or("any", SampleFormat::name),
            Wish(self.rate),
            Wish(self.channels.map(u32::from)),
            Wish(self.period_frames),
            Wish(self.buffer_frames)
        )
    }
}

/// A HW_PARAM_QUERY request or answer for people: "formats s16_le,s32_le,
/// rates 8000-192000 Hz, channels 1-8, buffer 64-1048576 frames, period
/// 16-1048576 frames".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShowHwParam<'a>(pub &'a HwParam);

impl fmt::Display for ShowHwParam<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hw = self.0;
        let formats = FormatSet::from_bits_truncate(hw.formats);
        if formats.is_empty() {
            formatter.write_str("formats none")?;
        } else {
            write!(formatter, "formats {formats}")?;
        }
        write!(
            formatter,
            ", rates {}-{} Hz, channels {}-{}, buffer {}-{} frames, period {}-{} frames",
            hw.rates.min,
            hw.rates.max,
            hw.channels.min,
            hw.channels.max,
            hw.buffer.min,
            hw.buffer.max,
            hw.period.min,
            hw.period.max
        )
    }
}

/// Whether a `HW_PARAM_QUERY` error status says the backend does not
/// implement the query (`-EOPNOTSUPP`, `-ENOSYS`): the XenStore limits
/// decide then. Every other error status is a refusal (see the module docs).
pub fn query_not_implemented(status: i32) -> bool {
    status == -XEN_EOPNOTSUPP || status == -XEN_ENOSYS
}

/// What the backend offers for a stream, as far as `HW_PARAM_QUERY` with the
/// stream's whole XenStore limits told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendOffer {
    /// Its answer.
    Answer(HwParam),
    /// It refused that query too, with this status: nothing within the
    /// stream's XenStore limits.
    Refused(i32),
    /// That query failed another way; what it offers is unknown.
    Unknown,
}

/// How the backend turned the request down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It answered the query narrowed to the request with this error status.
    Status(i32),
    /// Its answer excludes the request, for this reason.
    Excluded(NegotiationError),
}

/// The request and the backend have no configuration in common: the
/// backend refused the `HW_PARAM_QUERY` narrowed to the request, or
/// answered with ranges that exclude it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoCommonConfig {
    /// What the application asked for.
    pub request: StreamRequest,
    /// The stream's XenStore limits, as asked of the backend
    /// ([`build_query`] with no wishes).
    pub limits: HwParam,
    /// How the backend turned the request down.
    pub refusal: Refusal,
    /// What it offers within the XenStore limits.
    pub offer: BackendOffer,
}

impl fmt::Display for NoCommonConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "asked for {}; XenStore allows {}; ",
            self.request,
            ShowHwParam(&self.limits)
        )?;
        match self.refusal {
            Refusal::Status(status) => write!(
                formatter,
                "backend refused HW_PARAM_QUERY (status {status})"
            )?,
            Refusal::Excluded(reason) => write!(formatter, "backend answer excludes it: {reason}")?,
        }
        match &self.offer {
            BackendOffer::Answer(offer) => {
                write!(formatter, "; backend offers {}", ShowHwParam(offer))
            }
            BackendOffer::Refused(status) => write!(
                formatter,
                "; backend offers nothing within the XenStore limits (status {status})"
            ),
            BackendOffer::Unknown => formatter.write_str("; backend offer unknown (no answer)"),
        }
    }
}

impl core::error::Error for NoCommonConfig {}

/// A field of `struct xensnd_query_hw_param`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HwParamField {
    /// `formats`.
    Formats,
    /// `rates`.
    Rates,
    /// `channels`.
    Channels,
    /// `buffer`.
    Buffer,
    /// `period`.
    Period,
}

/// What was wrong with a field of the backend's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerProblem {
    /// `formats` has no defined format bit; ignored.
    NoFormats {
        /// The mask received.
        bits: u64,
    },
    /// `formats` has bits above code 24; they were dropped, the rest used.
    UndefinedFormatBits {
        /// The mask received.
        bits: u64,
    },
    /// `min > max`; ignored.
    MinGreaterThanMax {
        /// `min` received.
        min: u32,
        /// `max` received.
        max: u32,
    },
    /// `max == 0`; ignored.
    Zero,
}

/// One problem found in the backend's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnswerIssue {
    /// The field.
    pub field: HwParamField,
    /// The problem.
    pub problem: AnswerProblem,
}

impl fmt::Display for AnswerIssue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "backend HW_PARAM_QUERY answer, {:?}: ",
            self.field
        )?;
        match self.problem {
            AnswerProblem::NoFormats { bits } => {
                write!(formatter, "no known format in mask {bits:#x}; ignored")
            }
            AnswerProblem::UndefinedFormatBits { bits } => {
                write!(formatter, "undefined bits in mask {bits:#x}; dropped")
            }
            AnswerProblem::MinGreaterThanMax { min, max } => {
                write!(formatter, "min {min} > max {max}; ignored")
            }
            AnswerProblem::Zero => formatter.write_str("max is 0; ignored"),
        }
    }
}

/// The usable part of a backend answer: `None` where a field was ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BackendLimits {
    /// Formats the backend allows.
    pub formats: Option<FormatSet>,
    /// Rate interval, Hz.
    pub rates: Option<Interval>,
    /// Channel interval.
    pub channels: Option<Interval>,
    /// Buffer interval, frames.
    pub buffer: Option<Interval>,
    /// Period interval, frames.
    pub period: Option<Interval>,
}

/// Why no configuration could be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NegotiationError {
    /// No usable format (or the requested one is not allowed).
    UnsupportedFormat(Option<SampleFormat>),
    /// No usable rate (or the requested one is not allowed).
    UnsupportedRate(Option<u32>),
    /// No usable channel count (or the requested one is not allowed).
    UnsupportedChannels(Option<u8>),
    /// No usable buffer size (or the requested one is not allowed), frames.
    UnsupportedBuffer(Option<u32>),
    /// No usable period size (or the requested one is not allowed), frames.
    UnsupportedPeriod(Option<u32>),
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn wish<T: fmt::Display>(
            formatter: &mut fmt::Formatter<'_>,
            what: &str,
            value: &Option<T>,
        ) -> fmt::Result {
            match value {
                Some(value) => write!(formatter, "unsupported {what} {value}"),
                None => write!(formatter, "no supported {what}"),
            }
        }
        match self {
            NegotiationError::UnsupportedFormat(value) => wish(formatter, "format", value),
            NegotiationError::UnsupportedRate(value) => wish(formatter, "rate", value),
            NegotiationError::UnsupportedChannels(value) => wish(formatter, "channel count", value),
            NegotiationError::UnsupportedBuffer(value) => {
                wish(formatter, "buffer size (frames)", value)
            }
            NegotiationError::UnsupportedPeriod(value) => {
                wish(formatter, "period size (frames)", value)
            }
        }
    }
}

impl core::error::Error for NegotiationError {}

/// A chosen configuration and what was wrong with the backend's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The configuration to open.
    pub config: StreamConfig,
    /// Ignored or trimmed fields of the backend's answer (empty if none or no answer).
    pub issues: Vec<AnswerIssue>,
}

/// Formats preferred when the user has no wish, best first.
const PREFERRED_FORMATS: [SampleFormat; 6] = [
    SampleFormat::S16Le,
    SampleFormat::S32Le,
    SampleFormat::S24Le,
    SampleFormat::F32Le,
    SampleFormat::U8,
    SampleFormat::S8,
];

/// Rates preferred when the user has no wish, best first.
const PREFERRED_RATES: [u32; 2] = [48000, 44100];

/// Channels preferred when the user has no wish.
const PREFERRED_CHANNELS: u32 = 2;

fn check_interval(
    field: HwParamField,
    interval: Interval,
    issues: &mut Vec<AnswerIssue>,
) -> Option<Interval> {
    let problem = if interval.max == 0 {
        AnswerProblem::Zero
    } else if interval.min > interval.max {
        AnswerProblem::MinGreaterThanMax {
            min: interval.min,
            max: interval.max,
        }
    } else {
        return Some(interval);
    };
    issues.push(AnswerIssue { field, problem });
    None
}

/// Validate a backend answer field by field (see the module docs).
pub fn check_answer(answer: &HwParam) -> (BackendLimits, Vec<AnswerIssue>) {
    let mut issues = Vec::new();
    let formats = FormatSet::from_bits_truncate(answer.formats);
    let formats = if formats.is_empty() {
        issues.push(AnswerIssue {
            field: HwParamField::Formats,
            problem: AnswerProblem::NoFormats {
                bits: answer.formats,
            },
        });
        None
    } else {
        if formats.bits() != answer.formats {
            issues.push(AnswerIssue {
                field: HwParamField::Formats,
                problem: AnswerProblem::UndefinedFormatBits {
                    bits: answer.formats,
                },
            });
        }
        Some(formats)
    };
    let limits = BackendLimits {
        formats,
        rates: check_interval(HwParamField::Rates, answer.rates, &mut issues),
        channels: check_interval(HwParamField::Channels, answer.channels, &mut issues),
        buffer: check_interval(HwParamField::Buffer, answer.buffer, &mut issues),
        period: check_interval(HwParamField::Period, answer.period, &mut issues),
    };
    (limits, issues)
}

fn in_interval(value: u32, interval: Option<Interval>) -> bool {
    interval.is_none_or(|Interval { min, max }| (min..=max).contains(&value))
}

/// The formats the caps allow that have a frame size.
fn usable_formats(caps: &StreamCaps) -> FormatSet {
    caps.formats.intersection(FormatSet::SIZED)
}

/// Whether `request` within the XenStore `caps` leaves one configuration
/// (the one [`negotiate`] picks without an answer): every value asked
/// for, or the only one the limits allow (format, rate, channels); buffer
/// and period asked for (left open, they follow the backend's answer).
/// The answer to `HW_PARAM_QUERY` can then only confirm or refuse it, so
/// the frontend sends the query and `OPEN` together (one ring round trip).
pub fn determined(caps: &StreamCaps, request: &StreamRequest) -> bool {
    (request.format.is_some() || usable_formats(caps).iter().nth(1).is_none())
        && (request.rate.is_some() || caps.rates.len() == 1)
        && (request.channels.is_some() || caps.channels_min == caps.channels_max)
        && request.buffer_frames.is_some()
        && request.period_frames.is_some()
}

/// Build the `XENSND_OP_HW_PARAM_QUERY` payload: the XenStore limits,
/// narrowed to each value the user asked for. Buffer and period are in
/// frames; without a format/channel wish the buffer maximum uses the
/// smallest possible frame, so it is the most permissive.
pub fn build_query(caps: &StreamCaps, request: &StreamRequest) -> HwParam {
    let formats = match request.format {
        Some(format) => FormatSet::single(format),
        None => usable_formats(caps),
    };
    let rates = match request.rate {
        Some(rate) => Interval {
            min: rate,
            max: rate,
        },
        None => Interval {
            min: caps.rate_min(),
            max: caps.rate_max(),
        },
    };
    let channels = match request.channels {
        Some(channels) => Interval {
            min: u32::from(channels),
            max: u32::from(channels),
        },
        None => Interval {
            min: u32::from(caps.channels_min),
            max: u32::from(caps.channels_max),
        },
    };
    let smallest_frame = formats
        .iter()
        .filter_map(|format| format.frame_bytes(channels.min.max(1)))
        .min()
        .unwrap_or(1)
        .max(1);
    let buffer_max = caps.buffer_size_bytes / smallest_frame;
    let buffer = match request.buffer_frames {
        Some(frames) => Interval {
            min: frames,
            max: frames,
        },
        None => Interval {
            min: 1,
            max: buffer_max,
        },
    };
    let period = match request.period_frames {
        Some(frames) => Interval {
            min: frames,
            max: frames,
        },
        None => Interval {
            min: 1,
            max: buffer.max,
        },
    };
    HwParam {
        formats: formats.bits(),
        rates,
        channels,
        buffer,
        period,
    }
}

/// Choose a concrete configuration from the XenStore `caps`, the backend's
/// `answer` to `HW_PARAM_QUERY` (if any; `None` when the backend did not
/// answer or refused the query), and the user's `request`.
pub fn negotiate(
    caps: &StreamCaps,
    answer: Option<&HwParam>,
    request: &StreamRequest,
) -> Result<Negotiated, NegotiationError> {
    let (limits, issues) = match answer {
        Some(answer) => check_answer(answer),
        None => (BackendLimits::default(), Vec::new()),
    };

    // Format.
    let mut formats = usable_formats(caps);
    if let Some(backend) = limits.formats {
        formats = formats.intersection(backend);
    }
    let format = match request.format {
        Some(format) if formats.contains(format) => format,
        Some(format) => return Err(NegotiationError::UnsupportedFormat(Some(format))),
        None => PREFERRED_FORMATS
            .into_iter()
            .find(|format| formats.contains(*format))
            .or_else(|| formats.first())
            .ok_or(NegotiationError::UnsupportedFormat(None))?,
    };
    // A sized format was chosen; the fallback keeps this total.
    let sample_bytes = format.bytes_per_sample().unwrap_or(1).max(1);

    // Rate.
    let rate_allowed = |rate: u32| caps.supports_rate(rate) && in_interval(rate, limits.rates);
    let rate = match request.rate {
        Some(rate) if rate_allowed(rate) => rate,
        Some(rate) => return Err(NegotiationError::UnsupportedRate(Some(rate))),
        None => PREFERRED_RATES
            .into_iter()
            .find(|rate| rate_allowed(*rate))
            .or_else(|| {
                caps.rates
                    .iter()
                    .rev()
                    .copied()
                    .find(|rate| rate_allowed(*rate))
            })
            .ok_or(NegotiationError::UnsupportedRate(None))?,
    };

    // Channels.
    let mut channels_min = u32::from(caps.channels_min).max(1);
    let mut channels_max = u32::from(caps.channels_max);
    if let Some(Interval { min, max }) = limits.channels {
        channels_min = channels_min.max(min);
        channels_max = channels_max.min(max);
    }
    let channels = match request.channels {
        Some(channels)
            if (channels_min..=channels_max).contains(&u32::from(channels)) && channels > 0 =>
        {
            channels
        }
        Some(channels) => return Err(NegotiationError::UnsupportedChannels(Some(channels))),
        None if channels_min <= channels_max => {
            let chosen = PREFERRED_CHANNELS.clamp(channels_min, channels_max);
            u8::try_from(chosen).map_err(|_| NegotiationError::UnsupportedChannels(None))?
        }
        None => return Err(NegotiationError::UnsupportedChannels(None)),
    };
    let frame_bytes = sample_bytes * u32::from(channels);

    // Buffer.
    let mut buffer_min = 1u32;
    let mut buffer_max = caps.buffer_size_bytes / frame_bytes;
    if let Some(Interval { min, max }) = limits.buffer {
        buffer_min = buffer_min.max(min);
        buffer_max = buffer_max.min(max);
    }
    let buffer_frames = match request.buffer_frames {
        Some(frames) if frames >= buffer_min && frames <= buffer_max => frames,
        Some(frames) => return Err(NegotiationError::UnsupportedBuffer(Some(frames))),
        None if buffer_min <= buffer_max => buffer_max,
        None => return Err(NegotiationError::UnsupportedBuffer(None)),
    };

    // Period.
    let mut period_min = 1u32;
    let mut period_max = buffer_frames;
    if let Some(Interval { min, max }) = limits.period {
        period_min = period_min.max(min);
        period_max = period_max.min(max);
    }
    let period_frames = match request.period_frames {
        Some(frames) if frames >= period_min && frames <= period_max => frames,
        Some(frames) => return Err(NegotiationError::UnsupportedPeriod(Some(frames))),
        None if period_min <= period_max => (buffer_frames / 4).clamp(period_min, period_max),
        None => return Err(NegotiationError::UnsupportedPeriod(None)),
    };

    Ok(Negotiated {
        config: StreamConfig {
            format,
            rate,
            channels,
            period_frames,
            buffer_frames,
        },
        issues,
    })
}

/// The `XENSND_OP_OPEN` payload for `config` with the buffer's first
/// directory page `gref_directory`; `None` unless [`StreamConfig::is_valid`].
pub fn open_request(config: &StreamConfig, gref_directory: u32) -> Option<OpenRequest> {
    if !config.is_valid() {
        return None;
    }
    Some(OpenRequest {
        pcm_rate: config.rate,
        pcm_format: config.format.code(),
        pcm_channels: config.channels,
        reserved: 0,
        buffer_sz: config.buffer_bytes()?,
        gref_directory,
        period_sz: config.period_bytes()?,
    })
}
