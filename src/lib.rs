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
//! - `rt` (guest only): the runtime an application's `main` runs on
//!   ([`main!`] names it); `arch` (guest only): the platform under it.
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
#[cfg(target_os = "none")]
pub mod rt;

/// Name an application's `main`; the PVH entry (`boot/entry.S`) calls the
/// runtime, which calls it. Use once, in the binary crate:
/// `xensnd::main!(app);` with `fn app(rt: &mut xensnd::rt::Runtime) ->
/// xensnd::rt::AppResult`. Off the guest target (a host `cargo build` of
/// the workspace) it makes a `main` that says what to build instead.
#[macro_export]
macro_rules! main {
    ($app:path) => {
        /// The PVH entry's call into Rust (`boot/entry.S`), on the boot
        /// stack in long mode with the physical address of
        /// `hvm_start_info`: the runtime's start with this application.
        #[cfg(target_os = "none")]
        #[no_mangle]
        pub extern "C" fn kernel_main(start_info_paddr: u64) -> ! {
            $crate::rt::start(start_info_paddr, $app)
        }

        #[cfg(not(target_os = "none"))]
        fn main() {
            ::std::eprintln!(
                "{} is a Xen guest image: build it with --target x86_64-unknown-none",
                ::core::env!("CARGO_PKG_NAME")
            );
            ::std::process::exit(2);
        }
    };
}
