//! The audio domain's mixer core (issue #16, items 2 and 3), pure and host-tested.
//!
//! xensnd as an audio domain serves other guests' sndif streams with its
//! backend engine, mixes them, ducks them under its own alerts and plays
//! the mix through its frontend to dom0. This crate is the part in the
//! middle that needs no Xen: it takes the bytes each guest's `WRITE`
//! delivered, in that guest's own format, and produces the output stream's
//! bytes; and it fans one captured block out to every capture client.
//!
//! - [`Mixer`]: clients are added and removed by [`ClientId`], each with its
//!   own wire format ([`StreamConfig`]: any format [`Converter`] converts,
//!   1..=8 channels, the output's rate) and a bounded byte queue
//!   ([`Mixer::push`] refuses and counts what does not fit: memory never
//!   grows after [`Mixer::add_client`]). [`Mixer::mix`] produces exactly the
//!   frames asked for and reports, per client, the frames it consumed (what
//!   the backend paces that guest's position events by) and the frames it
//!   was short of (an underrun: silence, the others unaffected).
//! - Misbehaving clients: floods (pushes refused repeatedly) and stalls
//!   (mix calls that found nothing) are counted per client and reported by
//!   [`Mixer::misbehaving`]; the caller mutes ([`Mixer::set_muted`]) or
//!   drops ([`Mixer::remove_client`]) them.
//! - Ducking: [`Mixer::duck`] / [`Mixer::unduck`] ramp the gain of the
//!   ordinary clients linearly, an integer step per frame, to an amount in
//!   0.001 dB;
//!   clients added with [`ClientOptions::priority`] (the audio domain's own
//!   alerts) are never ducked.
//! - [`CaptureFanout`]: one captured block in the capture device's format,
//!   converted into each capture client's format and bounded queue.
//!
//! # The arithmetic
//! Integer only: the mixer runs in the guest, built without SSE (soft
//! float), where every `f32` operation is a library call. No float
//! operation touches a sample (the duck's dB amount becomes a gain once,
//! in [`Mixer::duck`]).
//!
//! Every sample is decoded by [`xensnd_pcm::convert`]'s rule (one
//! conversion for the whole project) to an `i32` at full 32-bit scale
//! (`x = s / 2^31`), mixed in `i64` and encoded to the output format by
//! the same rule (`round_half_even`, in integer arithmetic). What survives:
//! the 8-, 16- and 24-bit formats, `s32`/`u32` and G.711 exactly; a
//! `float` of magnitude at least `2^-8` (-48 dB) exactly, smaller ones and
//! `float64` rounded to the nearest `2^-31` (ties to even), about
//! -186 dB of full scale; a `float` output keeps 24 significant bits (the
//! nearest `f32`). For each output sample, in this order:
//! 1. each ordinary client's sample (after channel mapping, see below) is
//!    added in `i64`, in the order the clients were added (exact: no sum of
//!    `i32` samples overflows);
//! 2. that sum is multiplied by the frame's duck gain, a Q30 fixed-point
//!    integer ([`gain_q30`]: `2^30` is 1.0; 0 dB is exact), the product
//!    divided by `2^30` and rounded to the nearest integer, ties to even
//!    (computed in `i64` without overflow);
//! 3. each priority client's sample is added, in the order they were added;
//! 4. a result outside `[-2^31, 2^31]` (`[-1, 1]`) is clipped to it and
//!    counted ([`MixStats::clipped_samples`]); `+2^31` (`+1.0`) then becomes
//!    `i32::MAX`, `1 - 2^-31`, as the conversion rule clips it (not counted
//!    as clipping), and the output format's converter rounds it.
//!
//! A muted client's samples are 0 (it still consumes its queue); a paused
//! client neither consumes nor underruns.
//!
//! # Channel mapping
//! A client with `c` channels into an output of `n` channels (the same rule
//! for capture, output into client):
//! - `c == n`: channel for channel;
//! - `c == 1`: the mono sample duplicated into every output channel;
//! - `n == 1`: the average of the client's channels (their exact `i64` sum
//!   divided by `c`, rounded to the nearest integer, ties to even);
//! - otherwise: the first `min(c, n)` channels copied, the client's extra
//!   channels dropped, the output's extra channels silent.
//!
//! No resampling: a client whose rate differs from the output's is refused
//! ([`MixError::RateMismatch`]).
//!
//! # Not done yet (the next steps of #16)
//! The backend engine running inside the guest (serving the clients'
//! rings), mapping their grant references, binding their event channels
//! (`bind_interdomain`), and the audio domain's loop driving [`Mixer::mix`]
//! at the output stream's pace and feeding [`Consumed`] back into each
//! guest's position events. The guest image does not link this crate yet.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod capture;
mod duck;
mod layout;
mod mixer;
mod queue;
#[cfg(test)]
mod tests;

pub use capture::{CaptureFanout, CaptureStats};
pub use layout::{convert, MAX_CHANNELS};
pub use mixer::{
    ClientOptions, ClientStats, Consumed, Misbehaviour, MixStats, Mixer, Policy, BLOCK_FRAMES,
};
#[doc(no_inline)]
pub use xensnd_pcm::convert::Converter;
#[doc(no_inline)]
pub use xensnd_pcm::gain::{gain_q30, SILENT_MILLIDB, UNITY_Q30};
#[doc(no_inline)]
pub use xensnd_pcm::StreamConfig;

use core::fmt;
use xensnd_pcm::format::SampleFormat;

/// A client of a [`Mixer`] or [`CaptureFanout`], named by its owner (e.g.
/// the audio domain numbers each guest stream it serves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u32);

impl fmt::Display for ClientId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "client {}", self.0)
    }
}

/// Why a mixer or fan-out call was refused (nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixError {
    /// The format has no sample conversion (IEC 958, compressed).
    Unconvertible(SampleFormat),
    /// The client's rate is not the output's: no resampling.
    RateMismatch {
        /// The client's rate, Hz.
        client: u32,
        /// The output's rate, Hz.
        output: u32,
    },
    /// Channels outside `1..=`[`MAX_CHANNELS`].
    Channels(u8),
    /// A client with this id already exists.
    DuplicateClient(ClientId),
    /// No client with this id.
    UnknownClient(ClientId),
    /// The output slice is shorter than the frames asked for.
    OutputTooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// A frame count or queue size that overflows `usize`.
    TooLarge,
}

impl fmt::Display for MixError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MixError::Unconvertible(format) => {
                write!(formatter, "no sample conversion for format {format}")
            }
            MixError::RateMismatch { client, output } => write!(
                formatter,
                "client rate {client} Hz differs from the output's {output} Hz (no resampling)"
            ),
            MixError::Channels(channels) => write!(
                formatter,
                "{channels} channels: only 1 to {MAX_CHANNELS} are mixed"
            ),
            MixError::DuplicateClient(id) => write!(formatter, "{id} already exists"),
            MixError::UnknownClient(id) => write!(formatter, "no {id}"),
            MixError::OutputTooShort { needed, given } => write!(
                formatter,
                "output of {given} bytes is shorter than the {needed} bytes asked for"
            ),
            MixError::TooLarge => formatter.write_str("size overflows"),
        }
    }
}

impl core::error::Error for MixError {}
