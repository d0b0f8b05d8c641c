//! What a stream is and what it allows: its [`Direction`] and its
//! [`StreamCaps`] (rates, formats, channels, buffer size), the vocabulary
//! the sound frontend's configuration parser fills in and an application
//! reads.

use alloc::vec::Vec;

use crate::format::{FormatSet, SampleFormat};

/// Direction of a stream: the `type` node of its configuration, and what
/// both ends go by (the sndif frontend's streams, the backend engine's): one type, so they cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Frames flow from the guest to the backend.
    Playback,
    /// Frames flow from the backend to the guest.
    Capture,
}

/// What a level of the configuration allows: the five inheritable parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamCaps {
    /// Allowed sample rates in Hz: sorted, no duplicates, never empty.
    pub rates: Vec<u32>,
    /// Allowed sample formats, never empty.
    pub formats: FormatSet,
    /// Fewest channels (≥ 1).
    pub channels_min: u8,
    /// Most channels (≥ `channels_min`).
    pub channels_max: u8,
    /// Largest buffer, bytes (`buffer-size`).
    pub buffer_size_bytes: u32,
}

impl StreamCaps {
    /// Rates used when nobody configures any: the standard rates from 5512
    /// to 48000 Hz (Linux's `USE_RATE_MIN`..`USE_RATE_MAX`).
    pub const DEFAULT_RATES: [u32; 8] = [5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000];
    /// Formats used when nobody configures any: `u8`, `s16_le` (Linux's `USE_FORMATS`).
    pub const DEFAULT_FORMATS: FormatSet =
        FormatSet::single(SampleFormat::U8).union(FormatSet::single(SampleFormat::S16Le));
    /// Default channel range: 1..=2.
    pub const DEFAULT_CHANNELS: (u8, u8) = (1, 2);
    /// Default `buffer-size`: 64 KiB (Linux's `MAX_BUFFER_SIZE`).
    pub const DEFAULT_BUFFER_SIZE_BYTES: u32 = 64 * 1024;

    /// The limits the card level starts from, as in Linux's
    /// `SND_DRV_PCM_HW_DEFAULT`.
    pub fn linux_defaults() -> StreamCaps {
        StreamCaps {
            rates: Vec::from(Self::DEFAULT_RATES),
            formats: Self::DEFAULT_FORMATS,
            channels_min: Self::DEFAULT_CHANNELS.0,
            channels_max: Self::DEFAULT_CHANNELS.1,
            buffer_size_bytes: Self::DEFAULT_BUFFER_SIZE_BYTES,
        }
    }

    /// Whether `rate` is allowed.
    pub fn supports_rate(&self, rate: u32) -> bool {
        self.rates.binary_search(&rate).is_ok()
    }

    /// Whether `channels` is in the allowed range.
    pub fn supports_channels(&self, channels: u32) -> bool {
        (u32::from(self.channels_min)..=u32::from(self.channels_max)).contains(&channels)
    }

    /// Lowest allowed rate.
    pub fn rate_min(&self) -> u32 {
        self.rates.first().copied().unwrap_or(0)
    }

    /// Highest allowed rate.
    pub fn rate_max(&self) -> u32 {
        self.rates.last().copied().unwrap_or(0)
    }

    /// Most whole frames of `format` × `channels` that fit in
    /// `buffer_size_bytes`; `None` for a compressed format or zero channels.
    pub fn max_buffer_frames(&self, format: SampleFormat, channels: u32) -> Option<u32> {
        let frame = format.frame_bytes(channels)?;
        (frame != 0).then(|| self.buffer_size_bytes / frame)
    }
}
