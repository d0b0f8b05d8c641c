//! The demo application: tone and chime playback, capture metering and a
//! duplex loopback, written against the PCM traits; [`run`] picks the demo
//! from the guest command line.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

pub mod chime;
pub mod demo;
pub mod run;
pub mod signal;
