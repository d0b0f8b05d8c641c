//! The sndif frontend (`io/sndif.h`): per-stream rings and event pages,
//! page-directory buffers, requests in flight, position tracking.
#![forbid(unsafe_code)]

pub mod buffer;
pub mod channel;
pub mod config;
pub mod format;
pub mod frontend;
pub mod negotiate;
pub mod pcm;
pub mod stream;
pub mod watch;

use crate::ring::RingError;
use crate::xen::XenError;

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
        }
    }
}
