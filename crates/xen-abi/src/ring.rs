//! `io/ring.h`: the shared-ring header that precedes the entries.
#![forbid(unsafe_code)]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The indices at the start of every shared ring page (`struct __name##_sring`
/// before `ring[]`). Entries start at [`SRING_ENTRIES_OFFSET`].
#[doc(alias = "xen_sndif_sring")]
#[repr(C)]
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct SringHeader {
    /// `req_prod`: requests produced by the frontend.
    pub req_prod: u32,
    /// `req_event`: the backend wants a notification when `req_prod` passes this.
    pub req_event: u32,
    /// `rsp_prod`: responses produced by the backend.
    pub rsp_prod: u32,
    /// `rsp_event`: the frontend wants a notification when `rsp_prod` passes this.
    pub rsp_event: u32,
    /// `pvt` (a 4-byte union at offset 16) and `__pad[44]` (offset 20).
    pub pad: [u8; 48],
}
const _: () = assert!(core::mem::size_of::<SringHeader>() == 64);

/// Byte offset of `req_prod` in the ring page.
pub const SRING_REQ_PROD: usize = 0;
/// Byte offset of `req_event`.
pub const SRING_REQ_EVENT: usize = 4;
/// Byte offset of `rsp_prod`.
pub const SRING_RSP_PROD: usize = 8;
/// Byte offset of `rsp_event`.
pub const SRING_RSP_EVENT: usize = 12;
/// Byte offset of `ring[0]`.
pub const SRING_ENTRIES_OFFSET: usize = 64;

/// `__CONST_RING_SIZE`: entries of `entry_size` bytes that fit in a ring of
/// `ring_bytes`, rounded down to a power of two.
pub const fn ring_size(ring_bytes: usize, entry_size: usize) -> u32 {
    let n = (ring_bytes - SRING_ENTRIES_OFFSET) / entry_size;
    if n == 0 {
        0
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}
