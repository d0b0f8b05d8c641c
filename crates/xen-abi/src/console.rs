//! `io/console.h`: the PV console ring page.
//!
//! The page at `HVM_PARAM_CONSOLE_PFN`, read by `xenconsoled` / `xl console`.
//! `MASK_XENCONS_IDX(idx, ring)` is `idx & (sizeof(ring) - 1)`: the ring
//! sizes below are powers of two.
#![forbid(unsafe_code)]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Bytes of `xencons_interface.in` (console input, backend to guest).
pub const XENCONS_IN_RING_SIZE: usize = 1024;
/// Bytes of `xencons_interface.out` (console output, guest to backend).
pub const XENCONS_OUT_RING_SIZE: usize = 2048;

/// `struct xencons_interface`: the console ring page.
#[doc(alias = "xencons_interface")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct XenconsInterface {
    /// `in`: input ring, written by the backend.
    #[doc(alias = "in")]
    pub input: [u8; XENCONS_IN_RING_SIZE],
    /// `out`: output ring, written by the guest.
    #[doc(alias = "out")]
    pub output: [u8; XENCONS_OUT_RING_SIZE],
    /// `in_cons`: written by the guest.
    pub in_cons: u32,
    /// `in_prod`: written by the backend.
    pub in_prod: u32,
    /// `out_cons`: written by the backend.
    pub out_cons: u32,
    /// `out_prod`: written by the guest.
    pub out_prod: u32,
}
const _: () = assert!(core::mem::size_of::<XenconsInterface>() == 3088);
