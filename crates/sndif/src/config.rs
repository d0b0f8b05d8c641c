//! The vsnd device configuration, read from XenStore: card, PCM instances, streams.
//!
//! The one parser of these nodes: the frontend reads its own device
//! directory with it, and the backend engine (`sndback`, the simulator's
//! backend) reads the frontend's directory with it through the same
//! [`ConfigSource`] trait, so both ends see the same streams with the same
//! limits (a discrete rate set, a format set, a channel range and
//! `buffer-size`) and leave out the same bad ones.
//!
//! Implements the "XenStore layout" section of `io/sndif.h` (frontend nodes
//! under `/local/domain/<domid>/device/vsnd/<dev>/`):
//!
//! ```text
//! <dev>/short-name, long-name                 card names
//! <dev>/{sample-rates, sample-formats, channels-min, channels-max, buffer-size}
//! <dev>/<pcm>/name                            PCM instance 0, 1, ... until one is missing
//! <dev>/<pcm>/{the same five parameters}
//! <dev>/<pcm>/<stream>/type                   "p" or "c"; streams 0, 1, ... until one is missing
//! <dev>/<pcm>/<stream>/unique-id
//! <dev>/<pcm>/<stream>/{the same five parameters}
//! ```
//!
//! # Inheritance and narrowing
//! Each level starts from its parent's values (the card starts from
//! [`StreamCaps::linux_defaults`]) and a value present at that level replaces
//! the inherited one. A PCM or stream level may only *narrow* its parent:
//! every rate and format must be in the parent's set, both channel bounds
//! inside the parent's range, and `buffer-size` no larger than the parent's.
//! A widening value is an error ([`ConfigErrorReason::WidensParent`]); Linux's
//! `xen_snd_front_cfg.c` silently accepts it, we refuse it because the backend
//! configured the parent with the same file and would refuse it too.
//! The card level is not checked against the defaults (they are only a
//! fallback). When the card gives only one channel bound, the default other
//! bound is moved to keep the range non-empty (`channels-min=4` alone gives
//! 4..=4 rather than an error against the default maximum of 2).
//!
//! # Errors
//! Every bad node becomes a [`ConfigError`] (full path, offending text,
//! reason) in [`VsndConfig::errors`], and the parse goes on:
//! - a bad stream-level node (or `type`/`unique-id`) skips that stream only;
//! - a bad PCM-level parameter skips the whole PCM instance and its streams;
//! - a bad card-level parameter fails the device: no PCM comes up
//!   ([`VsndConfig::pcms`] is empty), since every stream inherits from it;
//! - a name (`short-name`, `long-name`, PCM `name`) longer than
//!   [`MAX_VALUE_LEN`] is reported and truncated, but fails nothing.
//!
//! All errors of one level are reported (not only the first).
//!
//! # Value syntax
//! Numbers are decimal digits only (what libxl writes with `%u`), surrounding
//! ASCII white space is ignored. Lists are separated by `,`
//! (`XENSND_LIST_SEPARATOR`; `xl` uses `;` in its own syntax and converts);
//! white space around entries and empty entries (`"44100,"`) are ignored, and
//! duplicates are merged. Format names and the stream type ignore ASCII case,
//! as in Linux; the float formats may be spelled as sndif.h does
//! (`float_le`, `float_be`, `float64_le`, `float64_be`) or as `xl` writes them
//! (`f32_le`, `f32_be`, `f64_le`, `f64_be`). A node value is at most
//! [`MAX_VALUE_LEN`] characters, a rate entry at most
//! `XENSND_SAMPLE_RATE_MAX_LEN`, a format entry at most
//! `XENSND_SAMPLE_FORMAT_MAX_LEN`. Rates are 1..=[`MAX_SAMPLE_RATE`],
//! channels 1..=255 (`pcm_channels` is a `u8` on the wire), `buffer-size`
//! 1..=[`MAX_BUFFER_SIZE_BYTES`]. At most [`MAX_PCMS`] PCM instances and
//! [`MAX_STREAMS_PER_PCM`] streams per instance are read; a further one is
//! reported as [`ConfigErrorReason::TooMany`] and ignored. A `unique-id` must
//! be unique within the device (the first stream keeps it).
#![forbid(unsafe_code)]

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use xen_abi::sndif::{
    XENSND_FIELD_BUFFER_SIZE, XENSND_FIELD_CHANNELS_MAX, XENSND_FIELD_CHANNELS_MIN,
    XENSND_FIELD_DEVICE_NAME, XENSND_FIELD_SAMPLE_FORMATS, XENSND_FIELD_SAMPLE_RATES,
    XENSND_FIELD_STREAM_UNIQUE_ID, XENSND_FIELD_TYPE, XENSND_FIELD_VCARD_LONG_NAME,
    XENSND_FIELD_VCARD_SHORT_NAME, XENSND_LIST_SEPARATOR, XENSND_SAMPLE_FORMAT_MAX_LEN,
    XENSND_SAMPLE_RATE_MAX_LEN, XENSND_STREAM_TYPE_CAPTURE, XENSND_STREAM_TYPE_PLAYBACK,
};
use xensnd_pcm::format::{FormatSet, SampleFormat};

/// Longest node value accepted, in bytes.
pub const MAX_VALUE_LEN: usize = 256;
/// Most PCM instances read per device.
pub const MAX_PCMS: u32 = 16;
/// Most streams read per PCM instance.
pub const MAX_STREAMS_PER_PCM: u32 = 16;
/// Highest sample rate accepted, Hz.
pub const MAX_SAMPLE_RATE: u32 = 768_000;
/// Largest `buffer-size` accepted, bytes (16 MiB).
pub const MAX_BUFFER_SIZE_BYTES: u32 = 16 * 1024 * 1024;
/// Longest offending value kept in a [`ConfigError`], in bytes.
pub const MAX_ERROR_VALUE_LEN: usize = 64;

/// Where configuration nodes are read from: the XenStore client, or a map in
/// tests.
pub trait ConfigSource {
    /// A transport failure (not a missing node); it aborts the parse.
    type Error;

    /// Read the node at the absolute `path`; `Ok(None)` if it does not exist.
    /// A directory node must read as `Some` (XenStore gives it a value,
    /// usually empty).
    fn read(&mut self, path: &str) -> Result<Option<String>, Self::Error>;
}

impl<T: ConfigSource + ?Sized> ConfigSource for &mut T {
    type Error = T::Error;
    fn read(&mut self, path: &str) -> Result<Option<String>, Self::Error> {
        (**self).read(path)
    }
}

/// A map of absolute paths to values, as in a XenStore dump. A path that is
/// only a prefix of stored paths (a directory) reads as `""`.
impl ConfigSource for BTreeMap<String, String> {
    type Error = core::convert::Infallible;
    fn read(&mut self, path: &str) -> Result<Option<String>, Self::Error> {
        if let Some(value) = self.get(path) {
            return Ok(Some(value.clone()));
        }
        let prefix = format!("{path}/");
        let is_directory = self
            .range::<str, _>((
                core::ops::Bound::Included(prefix.as_str()),
                core::ops::Bound::Unbounded,
            ))
            .next()
            .is_some_and(|(key, _)| key.starts_with(&prefix));
        Ok(is_directory.then(String::new))
    }
}

/// The XenStore `type` value of a stream's direction (`"p"` or `"c"`).
pub const fn stream_type(direction: Direction) -> &'static str {
    match direction {
        Direction::Playback => XENSND_STREAM_TYPE_PLAYBACK,
        Direction::Capture => XENSND_STREAM_TYPE_CAPTURE,
    }
}

pub use xensnd_pcm::{Direction, StreamCaps};

/// One stream (`<dev>/<pcm>/<stream>/`) that came up: what XenStore
/// configures (its place, direction, `unique-id` and the ranges it
/// allows). Not to be confused with the concrete parameters a stream is
/// opened with ([`xensnd_pcm::StreamConfig`], one point inside `caps`) or
/// the backend host's setup of a stream (`backend::StreamSetup`, these
/// caps within the device's limits and policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredStream {
    /// Index of its PCM instance.
    pub pcm_index: u32,
    /// Index under the PCM instance.
    pub stream_index: u32,
    /// Playback or capture.
    pub direction: Direction,
    /// `unique-id`: unique within the device.
    pub unique_id: String,
    /// Full XenStore path of the stream directory (where `ring-ref` etc. go).
    pub path: String,
    /// Effective limits after inheritance.
    pub caps: StreamCaps,
}

/// One PCM instance (`<dev>/<pcm>/`) that came up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcmConfig {
    /// Index under the device.
    pub index: u32,
    /// `name` (empty when absent).
    pub name: String,
    /// Full XenStore path of the PCM directory.
    pub path: String,
    /// Effective PCM-level limits after inheritance.
    pub caps: StreamCaps,
    /// Its streams that came up, in index order.
    pub streams: Vec<ConfiguredStream>,
}

/// A vsnd device (one virtual card) as configured in XenStore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsndConfig {
    /// Full XenStore path of the device directory.
    pub path: String,
    /// `short-name` (empty when absent).
    pub short_name: String,
    /// `long-name` (empty when absent).
    pub long_name: String,
    /// Effective card-level limits; `None` if a card-level value is bad.
    pub caps: Option<StreamCaps>,
    /// PCM instances that came up, in index order.
    pub pcms: Vec<PcmConfig>,
    /// Everything that was wrong, in the order found.
    pub errors: Vec<ConfigError>,
}

impl VsndConfig {
    /// Every stream that came up, PCM by PCM.
    pub fn streams(&self) -> impl Iterator<Item = &ConfiguredStream> {
        self.pcms.iter().flat_map(|pcm| pcm.streams.iter())
    }

    /// The stream with this `unique-id`.
    pub fn stream_by_unique_id(&self, unique_id: &str) -> Option<&ConfiguredStream> {
        self.streams().find(|stream| stream.unique_id == unique_id)
    }
}

/// Why a node was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorReason {
    /// A number (or list entry) is not decimal digits.
    NotANumber,
    /// A number outside `min..=max`.
    OutOfRange {
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// A value (or list entry) longer than `limit` bytes.
    TooLong {
        /// The limit.
        limit: usize,
    },
    /// A list with no entries.
    EmptyList,
    /// An empty scalar (e.g. `unique-id = ""`).
    Empty,
    /// A `sample-formats` entry that names no `XENSND_PCM_FORMAT_*`.
    UnknownFormat,
    /// `channels-min` greater than the effective `channels-max`.
    MinGreaterThanMax {
        /// The effective `channels-max`.
        max: u32,
    },
    /// A value outside what the parent level allows.
    WidensParent,
    /// A `type` other than `p` or `c`.
    UnknownStreamType,
    /// A required node (`type`, `unique-id`) is missing.
    Missing,
    /// A `unique-id` already used by another stream of the device.
    DuplicateUniqueId {
        /// Path of the stream that has it.
        first: String,
    },
    /// More PCM instances or streams than read; this one and later ones are ignored.
    TooMany {
        /// The limit.
        limit: u32,
    },
    /// The device has no PCM instance `0`.
    NoPcmInstances,
}

impl ConfigErrorReason {
    /// Whether the error is about a node that is absent (no value to show).
    fn is_about_absence(&self) -> bool {
        matches!(
            self,
            ConfigErrorReason::Missing
                | ConfigErrorReason::TooMany { .. }
                | ConfigErrorReason::NoPcmInstances
        )
    }
}

impl fmt::Display for ConfigErrorReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorReason::NotANumber => formatter.write_str("not a number"),
            ConfigErrorReason::OutOfRange { min, max } => {
                write!(formatter, "out of range ({min}..={max})")
            }
            ConfigErrorReason::TooLong { limit } => {
                write!(formatter, "longer than {limit} characters")
            }
            ConfigErrorReason::EmptyList => formatter.write_str("empty list"),
            ConfigErrorReason::Empty => formatter.write_str("empty"),
            ConfigErrorReason::UnknownFormat => formatter.write_str("unknown sample format"),
            ConfigErrorReason::MinGreaterThanMax { max } => {
                write!(formatter, "greater than channels-max ({max})")
            }
            ConfigErrorReason::WidensParent => {
                formatter.write_str("not allowed by the parent level (may only narrow)")
            }
            ConfigErrorReason::UnknownStreamType => {
                formatter.write_str("unknown stream type (expected \"p\" or \"c\")")
            }
            ConfigErrorReason::Missing => formatter.write_str("missing"),
            ConfigErrorReason::DuplicateUniqueId { first } => {
                write!(formatter, "duplicate unique-id (already used by {first})")
            }
            ConfigErrorReason::TooMany { limit } => {
                write!(formatter, "more than {limit} entries, ignored from here on")
            }
            ConfigErrorReason::NoPcmInstances => formatter.write_str("no PCM instances"),
        }
    }
}

/// A refused configuration node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigError {
    /// Full XenStore path of the node.
    pub path: String,
    /// The offending text, cut to [`MAX_ERROR_VALUE_LEN`] bytes (empty for a
    /// missing node).
    pub value: String,
    /// Why it was refused.
    pub reason: ConfigErrorReason,
}

impl ConfigError {
    fn new(path: &str, value: &str, reason: ConfigErrorReason) -> ConfigError {
        ConfigError {
            path: String::from(path),
            value: String::from(truncate(value, MAX_ERROR_VALUE_LEN)),
            reason,
        }
    }
}

/// `vsnd config: <path> = "<value>": <reason>` (or `<path>: <reason>` for an
/// absent node).
impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_about_absence() {
            write!(formatter, "vsnd config: {}: {}", self.path, self.reason)
        } else {
            write!(
                formatter,
                "vsnd config: {} = {:?}: {}",
                self.path, self.value, self.reason
            )
        }
    }
}

/// The longest prefix of `text` of at most `limit` bytes that ends on a
/// character boundary.
fn truncate(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Read the configuration of the vsnd device whose frontend directory is
/// `device_path` (e.g. `/local/domain/5/device/vsnd/0`).
///
/// Only a failure of `source` itself is an `Err`; every configuration
/// problem is reported in [`VsndConfig::errors`] (see the module docs for
/// what each one skips). Never panics.
pub fn read_config<S: ConfigSource + ?Sized>(
    source: &mut S,
    device_path: &str,
) -> Result<VsndConfig, S::Error> {
    let device_path = device_path.trim_end_matches('/');
    let mut errors = Vec::new();

    let short_name = read_name(
        source,
        device_path,
        XENSND_FIELD_VCARD_SHORT_NAME,
        &mut errors,
    )?;
    let long_name = read_name(
        source,
        device_path,
        XENSND_FIELD_VCARD_LONG_NAME,
        &mut errors,
    )?;
    let card_caps = read_level(source, device_path, None, &mut errors)?;

    let mut pcms = Vec::new();
    if let Some(card_caps) = &card_caps {
        let mut unique_ids: BTreeMap<String, String> = BTreeMap::new();
        let mut index = 0;
        loop {
            let pcm_path = format!("{device_path}/{index}");
            if source.read(&pcm_path)?.is_none() {
                if index == 0 {
                    errors.push(ConfigError::new(
                        &pcm_path,
                        "",
                        ConfigErrorReason::NoPcmInstances,
                    ));
                }
                break;
            }
            if index >= MAX_PCMS {
                errors.push(ConfigError::new(
                    &pcm_path,
                    "",
                    ConfigErrorReason::TooMany { limit: MAX_PCMS },
                ));
                break;
            }
            if let Some(pcm) = read_pcm(
                source,
                pcm_path,
                index,
                card_caps,
                &mut unique_ids,
                &mut errors,
            )? {
                pcms.push(pcm);
            }
            index += 1;
        }
    }

    Ok(VsndConfig {
        path: String::from(device_path),
        short_name,
        long_name,
        caps: card_caps,
        pcms,
        errors,
    })
}

/// Read one PCM instance; `None` if a PCM-level parameter is bad.
fn read_pcm<S: ConfigSource + ?Sized>(
    source: &mut S,
    pcm_path: String,
    index: u32,
    card_caps: &StreamCaps,
    unique_ids: &mut BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> Result<Option<PcmConfig>, S::Error> {
    let name = read_name(source, &pcm_path, XENSND_FIELD_DEVICE_NAME, errors)?;
    let Some(caps) = read_level(source, &pcm_path, Some(card_caps), errors)? else {
        return Ok(None);
    };
    let mut streams = Vec::new();
    let mut stream_index = 0;
    loop {
        let stream_path = format!("{pcm_path}/{stream_index}");
        if source.read(&stream_path)?.is_none() {
            break;
        }
        if stream_index >= MAX_STREAMS_PER_PCM {
            errors.push(ConfigError::new(
                &stream_path,
                "",
                ConfigErrorReason::TooMany {
                    limit: MAX_STREAMS_PER_PCM,
                },
            ));
            break;
        }
        if let Some(stream) = read_stream(
            source,
            stream_path,
            index,
            stream_index,
            &caps,
            unique_ids,
            errors,
        )? {
            streams.push(stream);
        }
        stream_index += 1;
    }
    Ok(Some(PcmConfig {
        index,
        name,
        path: pcm_path,
        caps,
        streams,
    }))
}

/// Read one stream; `None` if anything about it is bad.
fn read_stream<S: ConfigSource + ?Sized>(
    source: &mut S,
    stream_path: String,
    pcm_index: u32,
    stream_index: u32,
    pcm_caps: &StreamCaps,
    unique_ids: &mut BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> Result<Option<ConfiguredStream>, S::Error> {
    let errors_before = errors.len();

    let type_path = format!("{stream_path}/{XENSND_FIELD_TYPE}");
    let direction = match source.read(&type_path)? {
        None => {
            errors.push(ConfigError::new(&type_path, "", ConfigErrorReason::Missing));
            None
        }
        Some(text) => {
            let trimmed = text.trim();
            if trimmed.eq_ignore_ascii_case(XENSND_STREAM_TYPE_PLAYBACK) {
                Some(Direction::Playback)
            } else if trimmed.eq_ignore_ascii_case(XENSND_STREAM_TYPE_CAPTURE) {
                Some(Direction::Capture)
            } else {
                errors.push(ConfigError::new(
                    &type_path,
                    &text,
                    ConfigErrorReason::UnknownStreamType,
                ));
                None
            }
        }
    };

    let id_path = format!("{stream_path}/{XENSND_FIELD_STREAM_UNIQUE_ID}");
    let unique_id = match source.read(&id_path)? {
        None => {
            errors.push(ConfigError::new(&id_path, "", ConfigErrorReason::Missing));
            None
        }
        Some(text) => {
            let trimmed = text.trim();
            if text.len() > MAX_VALUE_LEN {
                errors.push(ConfigError::new(
                    &id_path,
                    &text,
                    ConfigErrorReason::TooLong {
                        limit: MAX_VALUE_LEN,
                    },
                ));
                None
            } else if trimmed.is_empty() {
                errors.push(ConfigError::new(&id_path, &text, ConfigErrorReason::Empty));
                None
            } else if let Some(first) = unique_ids.get(trimmed) {
                errors.push(ConfigError::new(
                    &id_path,
                    &text,
                    ConfigErrorReason::DuplicateUniqueId {
                        first: first.clone(),
                    },
                ));
                None
            } else {
                Some(String::from(trimmed))
            }
        }
    };

    let caps = read_level(source, &stream_path, Some(pcm_caps), errors)?;

    match (direction, unique_id, caps) {
        (Some(direction), Some(unique_id), Some(caps)) if errors.len() == errors_before => {
            unique_ids.insert(unique_id.clone(), stream_path.clone());
            Ok(Some(ConfiguredStream {
                pcm_index,
                stream_index,
                direction,
                unique_id,
                path: stream_path,
                caps,
            }))
        }
        _ => Ok(None),
    }
}

/// Read an informational name: absent is empty; too long is reported and cut.
fn read_name<S: ConfigSource + ?Sized>(
    source: &mut S,
    directory: &str,
    field: &str,
    errors: &mut Vec<ConfigError>,
) -> Result<String, S::Error> {
    let path = format!("{directory}/{field}");
    let Some(text) = source.read(&path)? else {
        return Ok(String::new());
    };
    if text.len() > MAX_VALUE_LEN {
        errors.push(ConfigError::new(
            &path,
            &text,
            ConfigErrorReason::TooLong {
                limit: MAX_VALUE_LEN,
            },
        ));
        return Ok(String::from(truncate(&text, MAX_VALUE_LEN)));
    }
    Ok(text)
}

/// A node's value, read and length-checked; `Ok(None)` when absent or bad
/// (bad is reported).
fn read_value<S: ConfigSource + ?Sized>(
    source: &mut S,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Result<Option<String>, S::Error> {
    let Some(text) = source.read(path)? else {
        return Ok(None);
    };
    if text.len() > MAX_VALUE_LEN {
        errors.push(ConfigError::new(
            path,
            &text,
            ConfigErrorReason::TooLong {
                limit: MAX_VALUE_LEN,
            },
        ));
        return Ok(None);
    }
    Ok(Some(text))
}

/// Parse a decimal number in `min..=max`: the number syntax of every vsnd
/// node (and of the XenBus nodes both ends read: `state`, `ring-ref`, ...).
pub fn parse_number(text: &str, min: u32, max: u32) -> Result<u32, ConfigErrorReason> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(ConfigErrorReason::NotANumber);
    }
    let significant = digits.trim_start_matches('0');
    let value = if significant.is_empty() {
        Some(0)
    } else if significant.len() > 10 {
        None
    } else {
        significant.parse::<u64>().ok()
    };
    match value {
        Some(value) if value >= u64::from(min) && value <= u64::from(max) => {
            // In range, so it fits in u32.
            Ok(u32::try_from(value).unwrap_or(max))
        }
        _ => Err(ConfigErrorReason::OutOfRange { min, max }),
    }
}

/// The non-empty entries of a `,`-separated list, trimmed.
fn list_entries(text: &str) -> impl Iterator<Item = &str> {
    text.split(XENSND_LIST_SEPARATOR)
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

/// Parse a `sample-rates` list: sorted, duplicates merged, never empty.
pub fn parse_rates(text: &str) -> Result<Vec<u32>, ConfigErrorReason> {
    let mut rates = Vec::new();
    for entry in list_entries(text) {
        if entry.len() > XENSND_SAMPLE_RATE_MAX_LEN {
            return Err(ConfigErrorReason::TooLong {
                limit: XENSND_SAMPLE_RATE_MAX_LEN,
            });
        }
        rates.push(parse_number(entry, 1, MAX_SAMPLE_RATE)?);
    }
    if rates.is_empty() {
        return Err(ConfigErrorReason::EmptyList);
    }
    rates.sort_unstable();
    rates.dedup();
    Ok(rates)
}

/// Parse a `sample-formats` list (every name [`SampleFormat::from_name`]
/// knows, xl's float spellings included); never empty.
pub fn parse_formats(text: &str) -> Result<FormatSet, ConfigErrorReason> {
    let mut formats = FormatSet::EMPTY;
    let mut any = false;
    for entry in list_entries(text) {
        any = true;
        if entry.len() > XENSND_SAMPLE_FORMAT_MAX_LEN {
            return Err(ConfigErrorReason::TooLong {
                limit: XENSND_SAMPLE_FORMAT_MAX_LEN,
            });
        }
        formats.insert(SampleFormat::from_name(entry).ok_or(ConfigErrorReason::UnknownFormat)?);
    }
    if !any {
        return Err(ConfigErrorReason::EmptyList);
    }
    Ok(formats)
}

/// Read the five parameters of one level in `directory`, inheriting from
/// `parent` (or the defaults for the card). `None` if any is bad; every
/// problem is pushed to `errors`.
fn read_level<S: ConfigSource + ?Sized>(
    source: &mut S,
    directory: &str,
    parent: Option<&StreamCaps>,
    errors: &mut Vec<ConfigError>,
) -> Result<Option<StreamCaps>, S::Error> {
    let defaults;
    let inherited = match parent {
        Some(parent) => parent,
        None => {
            defaults = StreamCaps::linux_defaults();
            &defaults
        }
    };
    let errors_before = errors.len();
    let mut caps = inherited.clone();

    // sample-rates
    let path = format!("{directory}/{XENSND_FIELD_SAMPLE_RATES}");
    if let Some(text) = read_value(source, &path, errors)? {
        match parse_rates(&text) {
            Ok(rates) => {
                if parent.is_some() && !rates.iter().all(|rate| inherited.supports_rate(*rate)) {
                    errors.push(ConfigError::new(
                        &path,
                        &text,
                        ConfigErrorReason::WidensParent,
                    ));
                } else {
                    caps.rates = rates;
                }
            }
            Err(reason) => errors.push(ConfigError::new(&path, &text, reason)),
        }
    }

    // sample-formats
    let path = format!("{directory}/{XENSND_FIELD_SAMPLE_FORMATS}");
    if let Some(text) = read_value(source, &path, errors)? {
        match parse_formats(&text) {
            Ok(formats) => {
                if parent.is_some() && !formats.is_subset(inherited.formats) {
                    errors.push(ConfigError::new(
                        &path,
                        &text,
                        ConfigErrorReason::WidensParent,
                    ));
                } else {
                    caps.formats = formats;
                }
            }
            Err(reason) => errors.push(ConfigError::new(&path, &text, reason)),
        }
    }

    // channels-min, channels-max
    let min_path = format!("{directory}/{XENSND_FIELD_CHANNELS_MIN}");
    let max_path = format!("{directory}/{XENSND_FIELD_CHANNELS_MAX}");
    let mut channel_bound =
        |path: &str, errors: &mut Vec<ConfigError>| -> Result<Option<(u8, String)>, S::Error> {
            let Some(text) = read_value(source, path, errors)? else {
                return Ok(None);
            };
            match parse_number(&text, 1, u32::from(u8::MAX)) {
                Ok(value) => {
                    let value = u8::try_from(value).unwrap_or(u8::MAX);
                    if parent.is_some()
                        && !(inherited.channels_min..=inherited.channels_max).contains(&value)
                    {
                        errors.push(ConfigError::new(
                            path,
                            &text,
                            ConfigErrorReason::WidensParent,
                        ));
                        Ok(None)
                    } else {
                        Ok(Some((value, text)))
                    }
                }
                Err(reason) => {
                    errors.push(ConfigError::new(path, &text, reason));
                    Ok(None)
                }
            }
        };
    let min = channel_bound(&min_path, errors)?;
    let max = channel_bound(&max_path, errors)?;
    match (&min, &max) {
        (Some((min, _)), Some((max, _))) => {
            caps.channels_min = *min;
            caps.channels_max = *max;
        }
        (Some((min, _)), None) => {
            caps.channels_min = *min;
            if parent.is_none() && caps.channels_max < *min {
                caps.channels_max = *min;
            }
        }
        (None, Some((max, _))) => {
            caps.channels_max = *max;
            if parent.is_none() && caps.channels_min > *max {
                caps.channels_min = *max;
            }
        }
        (None, None) => {}
    }
    if caps.channels_min > caps.channels_max {
        let text = min.as_ref().map(|(_, text)| text.as_str()).unwrap_or("");
        errors.push(ConfigError::new(
            &min_path,
            text,
            ConfigErrorReason::MinGreaterThanMax {
                max: u32::from(caps.channels_max),
            },
        ));
    }

    // buffer-size
    let path = format!("{directory}/{XENSND_FIELD_BUFFER_SIZE}");
    if let Some(text) = read_value(source, &path, errors)? {
        match parse_number(&text, 1, MAX_BUFFER_SIZE_BYTES) {
            Ok(size) if parent.is_some() && size > inherited.buffer_size_bytes => {
                errors.push(ConfigError::new(
                    &path,
                    &text,
                    ConfigErrorReason::WidensParent,
                ));
            }
            Ok(size) => caps.buffer_size_bytes = size,
            Err(reason) => errors.push(ConfigError::new(&path, &text, reason)),
        }
    }

    Ok((errors.len() == errors_before).then_some(caps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("48000", 1, MAX_SAMPLE_RATE), Ok(48000));
        assert_eq!(parse_number(" 0048000 ", 1, MAX_SAMPLE_RATE), Ok(48000));
        assert_eq!(
            parse_number("0", 1, 5),
            Err(ConfigErrorReason::OutOfRange { min: 1, max: 5 })
        );
        assert_eq!(
            parse_number("000", 1, 5),
            Err(ConfigErrorReason::OutOfRange { min: 1, max: 5 })
        );
        assert_eq!(parse_number("0", 0, 5), Ok(0));
        assert_eq!(
            parse_number("99999999999999999999", 1, 5),
            Err(ConfigErrorReason::OutOfRange { min: 1, max: 5 })
        );
        assert_eq!(parse_number("4294967295", 1, u32::MAX), Ok(u32::MAX));
        assert_eq!(parse_number("-1", 1, 5), Err(ConfigErrorReason::NotANumber));
        assert_eq!(parse_number("+1", 1, 5), Err(ConfigErrorReason::NotANumber));
        assert_eq!(
            parse_number("0x10", 1, 5),
            Err(ConfigErrorReason::NotANumber)
        );
        assert_eq!(parse_number("", 1, 5), Err(ConfigErrorReason::NotANumber));
        assert_eq!(parse_number("٣", 1, 5), Err(ConfigErrorReason::NotANumber));
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
