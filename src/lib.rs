//! xensnd: a `no_std` PVH Xen guest runtime that plays and records audio
//! through Xen's para-virtual sound protocol (`io/sndif.h`).
//!
//! This crate is the runtime (the only crate of the workspace with `unsafe`:
//! the PVH entry, CPU tables, hypercalls, consoles, heap, panic handler and
//! power-off) and the front door to the layers below it, re-exported under
//! one name so an application depends on `xensnd` alone:
//! - [`abi`] (`xen-abi`): mirrors of Xen's public headers.
//! - [`xen`] (`xen-guest`): Xen services over small traits (shared pages,
//!   event channels, grants, XenStore, XenBus, time) and [`ring`], the shared ring.
//! - [`pcm`] (`xensnd-pcm`): the PCM stream traits the application uses; no Xen.
//! - [`sndif`] (`xensnd-sndif`): the sound frontend.
//! - `backend` (`xensnd-backend`, feature `backend`): the backend engine.
//! - `sim` (`xensnd-sim`, feature `sim`, host only): a simulated Xen and sndif peers.
//! - `arch` and `rt` (guest only): the platform and the application's entry.
#![no_std]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

pub use xen_abi as abi;
pub use xen_guest as xen;
pub use xen_guest::ring;
pub use xensnd_pcm as pcm;
pub use xensnd_sndif as sndif;

#[cfg(feature = "backend")]
pub use xensnd_backend as backend;
#[cfg(all(feature = "sim", not(target_os = "none")))]
pub use xensnd_sim as sim;

#[cfg(target_os = "none")]
pub mod arch;
