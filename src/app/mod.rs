//! The demo application: tone and chime playback, capture metering and a
//! duplex loopback, written against the PCM traits only.
#![forbid(unsafe_code)]

pub mod chime;
pub mod signal;
