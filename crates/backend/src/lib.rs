//! The sndif backend engine: serves a stream's requests and produces its position events.
//!
//! Implements the backend side of `io/sndif.h` (protocol version 2): the
//! request/response ring, the event page, the page-directory buffer, the
//! operations OPEN, CLOSE, READ, WRITE, SET_VOLUME, GET_VOLUME, MUTE, UNMUTE,
//! TRIGGER and HW_PARAM_QUERY, and CUR_POS events paced in real time or,
//! when the sink says so, by what its output played ([`pacing::Pace`]).
//!
//! Everything here is safe, `no_std` + `alloc`, and driven by the caller:
//! the caller supplies the time (`now_ns`), a [`buffer::GrantMapper`] that
//! maps the frontend's grant references, and the sinks and sources the
//! audio goes to and comes from. The dom0 program `sndback` hosts it over
//! Xen's libraries; the simulator hosts it over simulated pages.
//!
//! Layout:
//! - [`hw`]: PCM parameters, the device's limits, and what a stream offers
//!   (the HW_PARAM_QUERY answer and the OPEN checks). The vsnd configuration
//!   itself is read by the one parser both ends use, [`xensnd_sndif::config`].
//! - [`behaviour`]: the per-stream knobs where sndif leaves room (ours, or
//!   a libxenbe/snd_be-like peer for the simulator).
//! - [`buffer`]: the page-directory walk and bounds-checked buffer access.
//! - [`sample`]: sample encoding, volume and mute.
//! - [`io`]: the [`io::Sink`] and [`io::Source`] traits and small implementations.
//! - [`pacing`]: the position clock that paces CUR_POS events, moved by
//!   real time or by the sink's output ([`pacing::Pace`]).
//! - [`counters`]: what a benchmark needs to know.
//! - [`quota`]: what one frontend, and all of them, may make the backend hold.
//! - [`ratelimit`]: per-stream log rate limiting.
//! - [`logtext`]: guest-controlled text made safe for a log line.
//! - [`stream`]: the per-stream state machine and request dispatch.
//! - [`channel`]: one stream's ring + event page + engine, as served by a host.
//! - [`xenbus`]: the XenBus state machine of vsnd devices, over a host trait.
//!
//! The simulator (`xensnd-sim`) runs this very engine over its simulated
//! grant table (`xensnd_sim::backend_host`).
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

pub mod behaviour;
pub mod buffer;
pub mod channel;
pub mod counters;
pub mod hw;
pub mod io;
pub mod logtext;
pub mod pacing;
pub mod quota;
pub mod ratelimit;
pub mod sample;
pub mod stream;
pub mod xenbus;

#[cfg(test)]
mod tests;

pub use behaviour::{Behaviour, EventIds, EventTiming, PeriodRounding};
pub use buffer::{GrantMapper, MappedBuffer};
pub use channel::{ServiceResult, StreamChannel};
pub use counters::Counters;
pub use hw::{DeviceRates, Limits, Mismatch, Offer, PcmParams};
pub use io::{Sink, Source};
pub use logtext::guest;
pub use quota::{Caps, Ledger};
pub use stream::{Direction, ProtocolState, Stream, StreamSetup};

/// Negative Xen errno values the backend puts in `xensnd_resp.status`
/// (`xen/errno.h`, mirrored in [`xen_abi::errno`]).
pub mod status {
    use xen_abi::errno::{XEN_EFAULT, XEN_EINVAL, XEN_EIO, XEN_ENOMEM, XEN_EOPNOTSUPP};

    /// Success.
    pub const OK: i32 = 0;
    /// `-XEN_EIO`: the sink or source failed.
    pub const EIO: i32 = -XEN_EIO;
    /// `-XEN_ENOMEM`: no memory for the request.
    pub const ENOMEM: i32 = -XEN_ENOMEM;
    /// `-XEN_EFAULT`: a grant reference could not be mapped.
    pub const EFAULT: i32 = -XEN_EFAULT;
    /// `-XEN_EINVAL`: a bad argument or a request invalid in the stream's state.
    pub const EINVAL: i32 = -XEN_EINVAL;
    /// `-XEN_EOPNOTSUPP`: an unknown operation.
    pub const EOPNOTSUPP: i32 = -XEN_EOPNOTSUPP;
}

/// Why a request failed; each maps to one status in [`status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// A bad argument, or an operation invalid in the stream's state.
    Invalid(&'static str),
    /// A grant reference the frontend gave could not be mapped.
    Fault,
    /// The sink or source failed.
    Io,
    /// Out of memory.
    NoMemory,
    /// An operation code this backend does not know.
    NotSupported,
    /// Granting the request would pass one of the backend's caps
    /// ([`quota::Caps`]).
    OverCap(quota::Exceeded),
}

impl RequestError {
    /// The `status` value for the response.
    pub fn status(self) -> i32 {
        match self {
            Self::Invalid(_) => status::EINVAL,
            Self::Fault => status::EFAULT,
            Self::Io => status::EIO,
            Self::NoMemory | Self::OverCap(_) => status::ENOMEM,
            Self::NotSupported => status::EOPNOTSUPP,
        }
    }
}

impl core::fmt::Display for RequestError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Invalid(why) => write!(formatter, "invalid: {why}"),
            Self::Fault => formatter.write_str("grant reference could not be mapped"),
            Self::Io => formatter.write_str("sink or source failed"),
            Self::NoMemory => formatter.write_str("out of memory"),
            Self::NotSupported => formatter.write_str("unknown operation"),
            Self::OverCap(exceeded) => write!(formatter, "refused: {exceeded}"),
        }
    }
}
