//! xensnd: a `no_std` PVH Xen guest that plays and records audio through Xen's
//! para-virtual sound protocol (`io/sndif.h`).
//!
//! Layers, from the wire up (see `README.md` and the module docs):
//! - [`abi`]: mirrors of Xen's public headers (no logic, no `unsafe`).
//! - [`xen`]: hypervisor services behind small traits (shared pages, event
//!   channels, grants, XenStore, XenBus, time).
//! - [`ring`]: the generic Xen shared ring (both halves) and the sndif event page.
//! - [`sndif`]: the sound frontend (configuration, streams, buffers, negotiation).
//! - [`pcm`]: the PCM stream API the application uses.
//! - [`backend`]: the sndif backend engine shared by the dom0 backend and the simulator.
//! - [`app`]: the demo application.
//! - `arch` (guest only): the one place with raw hardware and hypervisor access.
//! - [`sim`] (host only): a simulated Xen and sndif backend for tests.
#![no_std]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

pub mod abi;
pub mod app;
pub mod backend;
pub mod pcm;
pub mod ring;
pub mod sndif;
pub mod xen;

#[cfg(target_os = "none")]
pub mod arch;

#[cfg(not(target_os = "none"))]
pub mod sim;
