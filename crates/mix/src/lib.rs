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
//!   ordinary clients linearly, per frame, to an amount in 0.001 dB;
//!   clients added with [`ClientOptions::priority`] (the audio domain's own
//!   alerts) are never ducked.
//! - [`CaptureFanout`]: one captured block in the capture device's format,
//!   converted into each capture client's format and bounded queue.
//!
//! # The arithmetic
//! Every sample is converted by [`xensnd_pcm::convert`]'s rule (one
//! conversion for the whole project) to an `f32` in full-scale units
//! (`[-1, 1]`), mixed in `f32`, and converted to the output format by the
//! same rule. `f32` keeps 24 significant bits: the 8-, 16- and 24-bit
//! formats and G.711 are mixed exactly, `s32`/`u32` and `float64` inputs
//! are rounded to 24 bits first. For each output sample, in this order:
//! 1. each ordinary client's sample (after channel mapping, see below) is
//!    added, in the order the clients were added, starting from `0.0`;
//! 2. that sum is multiplied by the frame's duck gain (`1.0` when not
//!    ducked: exact);
//! 3. each priority client's sample is added, in the order they were added;
//! 4. a result outside `[-1, 1]` is clipped to it and counted
//!    ([`MixStats::clipped_samples`]); the output format's converter then
//!    rounds it (`+1.0` becomes the format's largest value, as the
//!    conversion rule says: not counted as clipping).
//!
//! A muted client's samples are `0.0` (it still consumes its queue); a
//! paused client neither consumes nor underruns.
//!
//! Under Xen the guest is built without SSE (soft float): `f32` mixing
//! costs some tens of nanoseconds a sample there; a fixed-point mix is an
//! option if the audio domain's measurements call for it.
//!
//! # Channel mapping
//! A client with `c` channels into an output of `n` channels (the same rule
//! for capture, output into client):
//! - `c == n`: channel for channel;
//! - `c == 1`: the mono sample duplicated into every output channel;
//! - `n == 1`: the average of the client's channels (their `f32` sum in
//!   channel order, divided by `c`);
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
pub use duck::{gain_from_millidb, SILENT_MILLIDB};
pub use layout::{convert, MAX_CHANNELS};
pub use mixer::{
    ClientOptions, ClientStats, Consumed, Misbehaviour, MixStats, Mixer, Policy, BLOCK_FRAMES,
};
#[doc(no_inline)]
pub use xensnd_pcm::convert::Converter;
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
