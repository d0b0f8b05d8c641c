//! xensnd: a runtime for `no_std` PVH Xen guests that play and record audio
//! through Xen's para-virtual sound protocol (`io/sndif.h`).
//!
//! # An application
//!
//! An application is a binary crate for `x86_64-unknown-none` that depends
//! on `xensnd` and names its `main` with [`main!`]. The runtime brings the
//! platform up, connects the domain's sound cards (the `vsnd` entries of
//! its xl config, served by a backend such as `sndback`) and calls it with a
//! `Runtime` (`rt`, guest target only): the cards and streams, the clock,
//! the command line (`extra=`), the toolstack's shutdown request. When
//! `main` returns, the runtime prints `XENSND-DONE ok` (or the error) and
//! powers the domain off.
//!
//! ```ignore
//! #![cfg_attr(target_os = "none", no_std, no_main)]
//! xensnd::main!(app);
//!
//! #[cfg(target_os = "none")]
//! fn app(rt: &mut xensnd::rt::Runtime) -> xensnd::rt::AppResult {
//!     use xensnd::pcm::{Playback, Stream};
//!     let request = xensnd::sndif::negotiate::StreamRequest::default();
//!     let mut speaker = xensnd::sndif::pcm::SndPlayback::open_unique_id(rt.sound(), "spk", &request)?;
//!     speaker.prepare()?;
//!     speaker.write(&[0u8; 4 * 480])?; // 10 ms of 48 kHz s16_le stereo silence
//!     speaker.drain()?;
//!     Ok(())
//! }
//! ```
//!
//! The crate needs the target and one flag, in its `.cargo/config.toml`:
//! `[target.x86_64-unknown-none] rustflags = ["-C", "relocation-model=static"]`
//! (the link map comes with this crate, through its `build.rs`). The README's
//! "Write your own app" has the commands to build one, run it under QEMU+Xen
//! and test it on the host; `apps/hello` is a complete one.
//!
//! # Testing an application on the host
//!
//! Write the work as a function over the [`pcm`] traits (or over the
//! [`sndif`] frontend) and it runs unchanged on the host: against the
//! in-memory [`pcm::mock::LoopbackStream`], or against a simulated Xen, card
//! and backend (`xensnd::sim::sound::SimSound`, feature `sim`).
//!
//! ```
//! use xensnd::pcm::mock::LoopbackStream;
//! use xensnd::pcm::{format::SampleFormat, Playback, Stream, StreamConfig, StreamState};
//!
//! /// Play `frames` of a square wave on any playback stream.
//! fn beep<P: Playback>(stream: &mut P, frames: usize) -> Result<(), P::Error> {
//!     let wave: Vec<u8> = (0..frames)
//!         .flat_map(|i| if i % 48 < 24 { 8000i16 } else { -8000 }.to_le_bytes())
//!         .collect();
//!     stream.prepare()?;
//!     let mut rest = &wave[..];
//!     while !rest.is_empty() {
//!         if stream.available() == 0 && stream.state() == StreamState::Prepared {
//!             stream.start()?; // the buffer is full: start playing
//!         }
//!         rest = &rest[2 * stream.write(rest)?..];
//!     }
//!     stream.drain() // play what is queued, then stop
//! }
//!
//! let config = StreamConfig {
//!     format: SampleFormat::S16Le,
//!     rate: 48_000,
//!     channels: 1,
//!     period_frames: 480,
//!     buffer_frames: 1920,
//! };
//! let mut stream = LoopbackStream::new(config).unwrap();
//! beep(&mut stream, 4800).unwrap();
//! assert_eq!(stream.position(), 4800);
//! ```
//!
//! # The layers
//!
//! This crate is the runtime, the only crate of the workspace with `unsafe`
//! (the PVH entry, CPU tables, hypercalls, consoles, heap, panic handler and
//! power-off), and the front door to the layers below it, re-exported under
//! one name so an application depends on `xensnd` alone:
//! - [`abi`] (`xen-abi`): mirrors of Xen's public headers.
//! - [`xen`] (`xen-guest`): Xen services over small traits (shared pages,
//!   event channels, grants, XenStore, XenBus, time) and [`ring`], the shared ring.
//! - [`pcm`] (`xensnd-pcm`): the PCM stream traits the application uses; no Xen.
//! - [`sndif`] (`xensnd-sndif`): the sound frontend.
//! - `backend` (`xensnd-backend`, feature `backend`): the backend engine.
//! - `sim` (`xensnd-sim`, feature `sim`, host only): a simulated Xen and sndif peers.
//! - `serve` (guest only, feature `backend`): this guest as a vsnd backend
//!   for other guests (`Runtime::serve_vsnd`).
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
#[cfg(all(target_os = "none", feature = "backend"))]
pub mod serve;

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
