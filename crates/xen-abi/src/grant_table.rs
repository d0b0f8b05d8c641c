//! `grant_table.h`: grant-table entries and the `grant_table_op` hypercall.
//!
//! Implements the version-1 grant entry, the `GTF_*` flags, the reserved
//! entries, the `GNTTABOP_*` commands with the argument structs a guest and a
//! backend use, the `GNTMAP_*` flags and the `GNTST_*` status codes of Xen's
//! public `grant_table.h`.
#![forbid(unsafe_code)]
#![allow(non_upper_case_globals, reason = "constants keep their C names")]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::xen::GuestHandle;

/// `struct grant_entry_v1`: one entry of a version-1 grant table.
///
/// To grant: write `domid` and `frame`, a write barrier, then `flags`.
#[doc(alias = "grant_entry_v1")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct GrantEntryV1 {
    /// `flags`: `GTF_*`; written last when granting.
    pub flags: u16,
    /// `domid`: the domain allowed to use the grant.
    pub domid: u16,
    /// `frame`: the granted guest frame.
    pub frame: u32,
}
const _: () = assert!(core::mem::size_of::<GrantEntryV1>() == 8);

/// `GNTTAB_NR_RESERVED_ENTRIES`: entries 0..8 are reserved for the toolstack.
pub const GNTTAB_NR_RESERVED_ENTRIES: u32 = 8;
/// `GNTTAB_RESERVED_CONSOLE`: the entry granting the console page.
pub const GNTTAB_RESERVED_CONSOLE: u32 = 0;
/// `GNTTAB_RESERVED_XENSTORE`: the entry granting the XenStore page.
pub const GNTTAB_RESERVED_XENSTORE: u32 = 1;

/// `GTF_invalid`: the entry grants nothing.
pub const GTF_invalid: u16 = 0;
/// `GTF_permit_access`: `domid` may map or copy `frame`.
pub const GTF_permit_access: u16 = 1;
/// `GTF_accept_transfer`: `domid` may transfer a frame to us.
pub const GTF_accept_transfer: u16 = 2;
/// `GTF_transitive`: a transitive grant (v2 only).
pub const GTF_transitive: u16 = 3;
/// `GTF_type_mask`: the bits holding the grant type.
pub const GTF_type_mask: u16 = 3;
/// `GTF_readonly`: the grantee may only read.
pub const GTF_readonly: u16 = 1 << 2;
/// `GTF_reading`: set by Xen while the grantee has the frame mapped or copies from it.
pub const GTF_reading: u16 = 1 << 3;
/// `GTF_writing`: set by Xen while the grantee has the frame mapped writable or copies to it.
pub const GTF_writing: u16 = 1 << 4;
/// `GTF_PWT`: cache attribute write-through.
pub const GTF_PWT: u16 = 1 << 5;
/// `GTF_PCD`: cache attribute cache-disable.
pub const GTF_PCD: u16 = 1 << 6;
/// `GTF_PAT`: cache attribute PAT.
pub const GTF_PAT: u16 = 1 << 7;
/// `GTF_sub_page`: a sub-page grant (v2 only).
pub const GTF_sub_page: u16 = 1 << 8;
/// `GTF_transfer_committed`: a transfer is in progress.
pub const GTF_transfer_committed: u16 = 1 << 2;
/// `GTF_transfer_completed`: a transfer has completed.
pub const GTF_transfer_completed: u16 = 1 << 3;

/// `GNTTABOP_map_grant_ref`: map a foreign grant.
pub const GNTTABOP_map_grant_ref: u32 = 0;
/// `GNTTABOP_unmap_grant_ref`: unmap a foreign grant.
pub const GNTTABOP_unmap_grant_ref: u32 = 1;
/// `GNTTABOP_setup_table`: get the frames of our grant table (PV).
pub const GNTTABOP_setup_table: u32 = 2;
/// `GNTTABOP_dump_table`: dump a grant table to the Xen console.
pub const GNTTABOP_dump_table: u32 = 3;
/// `GNTTABOP_transfer`: transfer a frame to another domain.
pub const GNTTABOP_transfer: u32 = 4;
/// `GNTTABOP_copy`: copy to or from granted frames.
pub const GNTTABOP_copy: u32 = 5;
/// `GNTTABOP_query_size`: current and maximum grant-table frames.
pub const GNTTABOP_query_size: u32 = 6;
/// `GNTTABOP_unmap_and_replace`.
pub const GNTTABOP_unmap_and_replace: u32 = 7;
/// `GNTTABOP_set_version`: choose grant-table version 1 or 2.
pub const GNTTABOP_set_version: u32 = 8;
/// `GNTTABOP_get_status_frames`.
pub const GNTTABOP_get_status_frames: u32 = 9;
/// `GNTTABOP_get_version`: the grant-table version in use.
pub const GNTTABOP_get_version: u32 = 10;
/// `GNTTABOP_swap_grant_ref`.
pub const GNTTABOP_swap_grant_ref: u32 = 11;
/// `GNTTABOP_cache_flush`.
pub const GNTTABOP_cache_flush: u32 = 12;

/// `struct gnttab_setup_table`: argument of `GNTTABOP_setup_table`.
#[doc(alias = "gnttab_setup_table")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct GnttabSetupTable {
    /// `dom`: the domain (`DOMID_SELF`).
    pub dom: u16,
    /// Padding before `nr_frames`.
    pub pad0: u16,
    /// `nr_frames`: frames wanted.
    pub nr_frames: u32,
    /// `status`: `GNTST_*` (out).
    pub status: i16,
    /// Padding before `frame_list`.
    pub pad1: [u8; 6],
    /// `frame_list`: guest address of an array of frame numbers (a guest handle).
    pub frame_list: GuestHandle,
}
const _: () = assert!(core::mem::size_of::<GnttabSetupTable>() == 24);

/// `struct gnttab_query_size`: argument of `GNTTABOP_query_size`.
#[doc(alias = "gnttab_query_size")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct GnttabQuerySize {
    /// `dom`: the domain (`DOMID_SELF`).
    pub dom: u16,
    /// Padding before `nr_frames`.
    pub pad0: u16,
    /// `nr_frames`: frames in use (out).
    pub nr_frames: u32,
    /// `max_nr_frames`: the most frames the table may have (out).
    pub max_nr_frames: u32,
    /// `status`: `GNTST_*` (out).
    pub status: i16,
    /// Trailing padding.
    pub pad1: u16,
}
const _: () = assert!(core::mem::size_of::<GnttabQuerySize>() == 16);

/// `struct gnttab_map_grant_ref`: argument of `GNTTABOP_map_grant_ref`.
#[doc(alias = "gnttab_map_grant_ref")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct GnttabMapGrantRef {
    /// `host_addr`: where to map the frame.
    pub host_addr: u64,
    /// `flags`: `GNTMAP_*`.
    pub flags: u32,
    /// `ref`: the grant reference.
    #[doc(alias = "ref")]
    pub reference: u32,
    /// `dom`: the granting domain.
    pub dom: u16,
    /// `status`: `GNTST_*` (out).
    pub status: i16,
    /// `handle`: the mapping handle, for unmapping (out).
    pub handle: u32,
    /// `dev_bus_addr`: bus address for device mappings (out).
    pub dev_bus_addr: u64,
}
const _: () = assert!(core::mem::size_of::<GnttabMapGrantRef>() == 32);

/// `struct gnttab_unmap_grant_ref`: argument of `GNTTABOP_unmap_grant_ref`.
#[doc(alias = "gnttab_unmap_grant_ref")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct GnttabUnmapGrantRef {
    /// `host_addr`: where the frame is mapped.
    pub host_addr: u64,
    /// `dev_bus_addr`: the device mapping's bus address.
    pub dev_bus_addr: u64,
    /// `handle`: from the map operation.
    pub handle: u32,
    /// `status`: `GNTST_*` (out).
    pub status: i16,
    /// Trailing padding.
    pub pad: u16,
}
const _: () = assert!(core::mem::size_of::<GnttabUnmapGrantRef>() == 24);

/// `struct gnttab_set_version`: argument of `GNTTABOP_set_version`.
#[doc(alias = "gnttab_set_version")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct GnttabSetVersion {
    /// `version`: 1 or 2 (in/out).
    pub version: u32,
}
const _: () = assert!(core::mem::size_of::<GnttabSetVersion>() == 4);

/// `struct gnttab_get_version`: argument of `GNTTABOP_get_version`.
#[doc(alias = "gnttab_get_version")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct GnttabGetVersion {
    /// `dom`: the domain (`DOMID_SELF`).
    pub dom: u16,
    /// `pad`.
    pub pad: u16,
    /// `version`: the version in use (out).
    pub version: u32,
}
const _: () = assert!(core::mem::size_of::<GnttabGetVersion>() == 8);

/// `GNTMAP_device_map`: map for device access.
pub const GNTMAP_device_map: u32 = 1 << 0;
/// `GNTMAP_host_map`: map for host (CPU) access.
pub const GNTMAP_host_map: u32 = 1 << 1;
/// `GNTMAP_readonly`: map read-only.
pub const GNTMAP_readonly: u32 = 1 << 2;
/// `GNTMAP_application_map`: map for user-space access.
pub const GNTMAP_application_map: u32 = 1 << 3;
/// `GNTMAP_contains_pte`: `host_addr` is the address of a PTE.
pub const GNTMAP_contains_pte: u32 = 1 << 4;

/// `GNTST_okay`: success.
pub const GNTST_okay: i16 = 0;
/// `GNTST_general_error`: unspecified error.
pub const GNTST_general_error: i16 = -1;
/// `GNTST_bad_domain`: unknown domain.
pub const GNTST_bad_domain: i16 = -2;
/// `GNTST_bad_gntref`: unknown or unsuitable grant reference.
pub const GNTST_bad_gntref: i16 = -3;
/// `GNTST_bad_handle`: unknown or unsuitable handle.
pub const GNTST_bad_handle: i16 = -4;
/// `GNTST_bad_virt_addr`: unsuitable virtual address.
pub const GNTST_bad_virt_addr: i16 = -5;
/// `GNTST_bad_dev_addr`: unsuitable device address.
pub const GNTST_bad_dev_addr: i16 = -6;
/// `GNTST_no_device_space`: out of I/O MMU space.
pub const GNTST_no_device_space: i16 = -7;
/// `GNTST_permission_denied`: not permitted.
pub const GNTST_permission_denied: i16 = -8;
/// `GNTST_bad_page`: invalid page.
pub const GNTST_bad_page: i16 = -9;
/// `GNTST_bad_copy_arg`: copy crosses a page boundary.
pub const GNTST_bad_copy_arg: i16 = -10;
/// `GNTST_address_too_big`: transfer address too large.
pub const GNTST_address_too_big: i16 = -11;
/// `GNTST_eagain`: try again.
pub const GNTST_eagain: i16 = -12;
/// `GNTST_no_space`: out of space (handles etc.).
pub const GNTST_no_space: i16 = -13;
