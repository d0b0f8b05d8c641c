//! The sndif frontend (`io/sndif.h`): per-stream rings and event pages,
//! page-directory buffers, requests in flight, position tracking.
//!
//! # Opening a stream
//! [`frontend::Frontend::probe`] connects the domain's vsnd devices;
//! [`frontend::Frontend::streams`] lists their streams. A stream opens as
//! the type of its direction: [`pcm::SndPlayback`] (the
//! [`xensnd_pcm::Playback`] and [`xensnd_pcm::PlaybackBuffer`] traits) or
//! [`pcm::SndCapture`] ([`xensnd_pcm::Capture`]), by `unique-id`
//! (`open_unique_id`) or by device and stream index (`open`). Opening a
//! stream as the other direction fails with `InvalidConfig`, and a
//! capture stream has no `write` at all. Code that opens streams without
//! knowing their direction (by `unique-id` from a list) gets a
//! [`pcm::SndStream`] and matches it. Both types implement
//! [`xensnd_pcm::Stream`]; an application written against the traits runs
//! unchanged on the in-memory [`xensnd_pcm::mock::LoopbackStream`], on the
//! simulator and on Xen.
//!
//! ```
//! use xen_guest::Platform;
//! use xensnd_pcm::format::SampleFormat;
//! use xensnd_pcm::{Capture, Playback, Stream};
//! use xensnd_sndif::frontend::Frontend;
//! use xensnd_sndif::negotiate::StreamRequest;
//! use xensnd_sndif::pcm::{PcmError, SndCapture, SndPlayback};
//!
//! /// Play what the microphone hears for `periods` periods.
//! fn monitor<X: Platform>(frontend: &Frontend<X>, periods: usize) -> Result<(), PcmError> {
//!     let request = StreamRequest::exact(SampleFormat::S16Le, 48_000, 2, 480, 1920);
//!     let mut spk = SndPlayback::open_unique_id(frontend, "spk", &request)?;
//!     let mut mic = SndCapture::open_unique_id(frontend, "mic", &request)?;
//!     spk.prepare()?;
//!     mic.prepare()?;
//!     mic.start()?;
//!     let mut period = vec![0u8; 480 * 4];
//!     for _ in 0..periods {
//!         let frames = mic.read(&mut period)?;
//!         // A prepared playback stream starts by itself once its buffer is full.
//!         spk.write(&period[..frames * 4])?;
//!     }
//!     mic.close()?;
//!     spk.drain()?;
//!     spk.close()
//! }
//! ```
//!
//! # One vocabulary for both ends
//! The backend engine (`xensnd_backend`: `sndback` and the simulator's
//! backend) uses the protocol types defined here, so where the two ends mean
//! the same thing they use one type:
//! - the vsnd configuration: [`config::read_config`], [`config::VsndConfig`],
//!   [`config::ConfiguredStream`] (a stream as XenStore configures it) and
//!   [`config::StreamCaps`]; a stream's [`config::Direction`];
//! - the stream lifecycle: [`lifecycle::ProtocolState`] and
//!   [`lifecycle::Trigger`], driven by the frontend's [`stream::Stream`] and
//!   the backend's `backend::Stream`;
//! - the shared buffer's page directory and page arithmetic:
//!   [`directory::DirectoryLayout`], [`directory::page_spans`];
//! - formats ([`format::SampleFormat`], [`format::FormatSet`]) and the
//!   HW_PARAM fields ([`negotiate::HwParamField`]); the XenBus state is
//!   [`xen_abi::xenbus::XenbusState`], the wire structs and errnos are
//!   [`xen_abi`]'s.
//!
//! Kept apart on purpose, each named for what it is: the application's
//! state machine ([`xensnd_pcm::StreamState`]) over the protocol lifecycle;
//! the frontend's [`buffer::GrantedBuffer`] (pages it owns and grants) and
//! the backend's `MappedBuffer` (a peer's pages it maps); the concrete
//! parameters a stream opens with ([`xensnd_pcm::StreamConfig`]) and the
//! backend host's setup of a stream (`backend::StreamSetup`).
//!
//! # The shared buffer: audio, and volume and mute values
//! `XENSND_OP_OPEN.buffer_sz` is exactly the PCM buffer the stream was
//! negotiated with, `buffer_frames` whole frames. Backends take it at its
//! word: snd_be sets its ALSA buffer to `buffer_sz / frame` frames and lets
//! ALSA pick the period nearest `period_sz` within it, and our backend
//! refuses a `buffer_sz` that is not whole frames. Anything added to it
//! would move the backend's buffer and period.
//!
//! Volume and mute values share that buffer with the audio. `io/sndif.h`
//! allows it:
//!
//! > Packets, used for input/output operations, e.g. read/write, set/get
//! > volume, etc., provide offset/length fields in order to allow
//! > asynchronous protocol operation with buffer space sharing: part of the
//! > buffer allocated at XENSND_OP_OPEN can be used for audio samples and
//! > part, for example, for volume control.
//!
//! and bounds every offset by that buffer only ("offset - uint32_t, read or
//! write data offset within the shared buffer, passed with XENSND_OP_OPEN
//! request, octets, \[0; XENSND_OP_OPEN.buffer_sz - 1\]"); the values are
//! "channel\[i\] - sint32_t" at `i * 4` (volume) and one slot per channel at
//! `i * 4` (mute; we write a little-endian `1u32`, non-zero either way).
//!
//! So `SET_VOLUME`, `GET_VOLUME`, `MUTE` and `UNMUTE` carry their
//! `channels * 4` bytes in a region of the buffer that holds no audio the
//! backend still needs at that moment:
//! - playback: not between the oldest byte not yet played (or whose WRITE
//!   has not completed) and the last byte written; that is, in space whose
//!   audio was already played;
//! - capture: not between the oldest byte the application has not copied
//!   out yet and the end of the last READ; that is, in space whose audio was
//!   already read;
//! - of that free space, the `channels * 4` bytes just before the oldest
//!   needed byte, so the next audio writes reach them last; the offset is a
//!   multiple of 4 and of the frame size.
//!
//! The region stays reserved until the response arrives: the request is
//! synchronous and the stream's data path does not run meanwhile. When there
//! is no such room, a running playback stream waits (at most one request
//! timeout) for the backend to play some; a stream that cannot make room by
//! itself (capture, whose room only the application's reads make; playback
//! not running with nothing in flight) fails at once with
//! [`SndError::NoControlRoom`] (`ErrorKind::WouldBlock`). A buffer smaller
//! than `channels * 4` bytes cannot carry the values at all:
//! [`SndError::Unsupported`]. As with a WRITE whose answer comes after its
//! timeout, a `GET_VOLUME` answered after its timeout may write into space
//! that holds audio again by then; the application saw the timeout.
//!
//! A backend without volume and mute (snd_be, Linux's peers) answers these
//! requests with `-EINVAL`; others use `-EOPNOTSUPP` or `-ENOSYS`. The
//! application sees `ErrorKind::Unsupported` for those ([`pcm::kind_of`]).
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

pub mod buffer;
pub mod channel;
pub mod config;
pub mod directory;
pub use xensnd_pcm::format;
pub mod frontend;
pub mod lifecycle;
pub mod negotiate;
pub mod pcm;
pub mod readahead;
pub mod roundtrips;
pub mod stream;
pub mod watch;

use xen_guest::ring::RingError;
use xen_guest::XenError;

/// Why a sound operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SndError {
    /// The backend did not answer in time.
    Timeout {
        /// The operation (`XENSND_OP_*`).
        operation: u8,
    },
    /// The backend went away, or the channel was torn down.
    Disconnected,
    /// The toolstack asked the domain to shut down (`control/shutdown`):
    /// the call gave up so the application can stop.
    Shutdown,
    /// The backend answered with an error status (a negative Xen errno).
    Backend {
        /// The operation (`XENSND_OP_*`).
        operation: u8,
        /// The status, e.g. `-XEN_EINVAL`.
        status: i32,
    },
    /// The backend broke the ring protocol; the channel is unusable.
    Protocol(RingError),
    /// A response that makes no sense (wrong operation, invalid status).
    BadResponse,
    /// The request ring is full right now.
    Busy,
    /// Not possible in the stream's current state.
    InvalidState,
    /// The configuration is not supported.
    Unsupported,
    /// A hypervisor service failed.
    Xen(XenError),
    /// The buffer could not be set up.
    Buffer(buffer::BufferError),
    /// Volume or mute values found no room in the shared buffer: every
    /// byte holds audio the backend still needs and the stream cannot make
    /// room by itself (read captured audio, or start the stream, first).
    NoControlRoom,
}

impl From<XenError> for SndError {
    fn from(e: XenError) -> Self {
        SndError::Xen(e)
    }
}

impl From<buffer::BufferError> for SndError {
    fn from(e: buffer::BufferError) -> Self {
        SndError::Buffer(e)
    }
}

impl core::fmt::Display for SndError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SndError::Timeout { operation } => {
                write!(f, "backend did not answer operation {operation} in time")
            }
            SndError::Disconnected => write!(f, "backend disconnected"),
            SndError::Shutdown => write!(f, "shutting down"),
            SndError::Backend { operation, status } => {
                write!(
                    f,
                    "backend failed operation {operation} with status {status}"
                )
            }
            SndError::Protocol(e) => write!(f, "backend broke the ring protocol: {e:?}"),
            SndError::BadResponse => write!(f, "backend sent a malformed response"),
            SndError::Busy => write!(f, "request ring full"),
            SndError::InvalidState => write!(f, "not possible in the stream's current state"),
            SndError::Unsupported => write!(f, "configuration not supported"),
            SndError::Xen(e) => write!(f, "hypervisor service failed: {e:?}"),
            SndError::Buffer(e) => write!(f, "shared buffer: {e:?}"),
            SndError::NoControlRoom => write!(f, "no room for volume/mute values in the buffer"),
        }
    }
}
