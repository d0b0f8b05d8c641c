//! A stream's layout (converter, channels, frame size) and the channel
//! mapping of the [crate docs](crate#channel-mapping).

use xensnd_pcm::convert::{Converter, Unconvertible};
use xensnd_pcm::StreamConfig;

use crate::{ClientId, MixError};

/// Most channels a mixed or fanned-out stream may have.
pub const MAX_CHANNELS: u8 = 8;

/// How one stream's bytes are read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub converter: Converter,
    pub channels: usize,
    pub frame_bytes: usize,
}

impl Layout {
    /// The layout of `config` (its format and channels), or why it cannot
    /// be mixed.
    pub fn new(config: &StreamConfig) -> Result<Self, MixError> {
        if !(1..=MAX_CHANNELS).contains(&config.channels) {
            return Err(MixError::Channels(config.channels));
        }
        let converter = Converter::new(config.format)
            .map_err(|Unconvertible(format)| MixError::Unconvertible(format))?;
        let channels = usize::from(config.channels);
        Ok(Self {
            converter,
            channels,
            frame_bytes: channels * converter.sample_bytes(),
        })
    }

    /// Bytes of `frames` frames.
    pub fn bytes(&self, frames: usize) -> Result<usize, MixError> {
        frames
            .checked_mul(self.frame_bytes)
            .ok_or(MixError::TooLarge)
    }

    /// A new client `id`'s layout and the bytes of its queue of
    /// `queue_frames` frames, for a stream at `rate` (the mixer's output,
    /// the capture source) whose clients are `existing`; or why it cannot
    /// join: its id taken, another rate (no resampling), a layout
    /// [`Layout::new`] refuses, a queue too large.
    pub fn for_client(
        id: ClientId,
        mut existing: impl Iterator<Item = ClientId>,
        config: &StreamConfig,
        rate: u32,
        queue_frames: u32,
    ) -> Result<(Self, usize), MixError> {
        if existing.any(|other| other == id) {
            return Err(MixError::DuplicateClient(id));
        }
        if config.rate != rate {
            return Err(MixError::RateMismatch {
                client: config.rate,
                output: rate,
            });
        }
        let layout = Self::new(config)?;
        let bound = usize::try_from(queue_frames)
            .map_err(|_| MixError::TooLarge)
            .and_then(|frames| layout.bytes(frames))?;
        Ok((layout, bound))
    }
}

/// One frame `input` (its channels) mapped onto `output` (its channels),
/// full-scale `i32` samples.
#[inline]
pub(crate) fn remap(input: &[i32], output: &mut [i32]) {
    if input.len() == output.len() {
        output.copy_from_slice(input);
    } else if input.len() == 1 {
        output.fill(input[0]);
    } else if output.len() == 1 {
        let sum: i64 = input.iter().map(|sample| i64::from(*sample)).sum();
        output[0] = average(sum, input.len() as i64);
    } else {
        let common = input.len().min(output.len());
        output[..common].copy_from_slice(&input[..common]);
        output[common..].fill(0);
    }
}

/// `sum / count` rounded to the nearest integer, ties to even (the mean of
/// `count` `i32` values: an `i32`).
fn average(sum: i64, count: i64) -> i32 {
    let quotient = sum.div_euclid(count);
    let twice = 2 * sum.rem_euclid(count);
    let up = twice > count || (twice == count && quotient & 1 == 1);
    (quotient + i64::from(up)) as i32
}

/// Convert whole frames of `input` (in `from`'s format and channels) into
/// `out` (in `to`'s) by the crate's rules, as many as both hold; returns
/// the frames converted. Rates are not looked at (no resampling).
///
/// ```
/// use xensnd_mix::{convert, StreamConfig};
/// use xensnd_pcm::format::SampleFormat;
///
/// let config = |format, channels| StreamConfig {
///     format,
///     rate: 48_000,
///     channels,
///     period_frames: 0,
///     buffer_frames: 0,
/// };
/// // Stereo s16_le into mono u8: the average, 8 bits.
/// let input = [0x00u8, 0x40, 0x00, 0x20]; // 0.5 and 0.25
/// let mut out = [0u8; 1];
/// let frames = convert(
///     &config(SampleFormat::S16Le, 2),
///     &input,
///     &config(SampleFormat::U8, 1),
///     &mut out,
/// );
/// assert_eq!(frames, Ok(1));
/// assert_eq!(out, [128 + 48]); // 0.375 * 128
/// ```
pub fn convert(
    from: &StreamConfig,
    input: &[u8],
    to: &StreamConfig,
    out: &mut [u8],
) -> Result<usize, MixError> {
    let from = Layout::new(from)?;
    let to = Layout::new(to)?;
    let frames = (input.len() / from.frame_bytes).min(out.len() / to.frame_bytes);
    convert_frames(&from, input, &to, out, frames);
    Ok(frames)
}

/// Convert `frames` frames (both slices hold them).
pub(crate) fn convert_frames(
    from: &Layout,
    input: &[u8],
    to: &Layout,
    out: &mut [u8],
    frames: usize,
) {
    let mut decoded = [0i32; MAX_CHANNELS as usize];
    let mut mapped = [0i32; MAX_CHANNELS as usize];
    let frames_in = input.chunks_exact(from.frame_bytes);
    let frames_out = out.chunks_exact_mut(to.frame_bytes);
    for (frame_in, frame_out) in frames_in.zip(frames_out).take(frames) {
        let decoded = &mut decoded[..from.channels];
        from.converter.decode(frame_in, decoded);
        remap(decoded, &mut mapped[..to.channels]);
        to.converter.encode(&mapped[..to.channels], frame_out);
    }
}
