//! The demo application: tone and chime playback, capture metering and a
//! duplex loopback, written against the PCM traits; [`run`] picks the demo
//! from the guest command line.
#![forbid(unsafe_code)]

pub mod chime;
pub mod demo;
pub mod run;
pub mod signal;
