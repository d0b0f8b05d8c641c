//! `memory.h`: the `memory_op` hypercall (physmap changes and reservations).
//!
//! Implements the `XENMEM_*` commands and argument structs of Xen's public
//! `memory.h` that a PVH guest uses to place the shared-info page and the
//! grant-table frames in its physical address space (`XENMEM_add_to_physmap`).
#![forbid(unsafe_code)]
#![allow(non_upper_case_globals, reason = "constants keep their C names")]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::xen::GuestHandle;

/// `XENMEM_increase_reservation`: add extents to a domain.
pub const XENMEM_increase_reservation: u32 = 0;
/// `XENMEM_decrease_reservation`: give extents back to Xen.
pub const XENMEM_decrease_reservation: u32 = 1;
/// `XENMEM_maximum_ram_page`: highest machine frame with RAM.
pub const XENMEM_maximum_ram_page: u32 = 2;
/// `XENMEM_current_reservation`: pages a domain currently holds.
pub const XENMEM_current_reservation: u32 = 3;
/// `XENMEM_maximum_reservation`: the most pages a domain may hold.
pub const XENMEM_maximum_reservation: u32 = 4;
/// `XENMEM_machphys_mfn_list`.
pub const XENMEM_machphys_mfn_list: u32 = 5;
/// `XENMEM_populate_physmap`: back guest frames with memory.
pub const XENMEM_populate_physmap: u32 = 6;
/// `XENMEM_add_to_physmap`: map a Xen-owned page at a guest frame.
pub const XENMEM_add_to_physmap: u32 = 7;
/// `XENMEM_memory_map`: the domain's E820-style memory map.
pub const XENMEM_memory_map: u32 = 9;
/// `XENMEM_machine_memory_map`: the host's memory map (dom0).
pub const XENMEM_machine_memory_map: u32 = 10;
/// `XENMEM_exchange`.
pub const XENMEM_exchange: u32 = 11;
/// `XENMEM_machphys_mapping`.
pub const XENMEM_machphys_mapping: u32 = 12;
/// `XENMEM_set_memory_map`.
pub const XENMEM_set_memory_map: u32 = 13;
/// `XENMEM_maximum_gpfn`: highest guest frame in use.
pub const XENMEM_maximum_gpfn: u32 = 14;
/// `XENMEM_remove_from_physmap`: unmap a guest frame.
pub const XENMEM_remove_from_physmap: u32 = 15;
/// `XENMEM_add_to_physmap_batch`.
pub const XENMEM_add_to_physmap_batch: u32 = 23;

/// `XENMAPSPACE_shared_info`: the shared-info page (`idx` 0).
pub const XENMAPSPACE_shared_info: u32 = 0;
/// `XENMAPSPACE_grant_table`: a grant-table frame (`idx` = frame number).
pub const XENMAPSPACE_grant_table: u32 = 1;
/// `XENMAPSPACE_gmfn`: another guest frame of the same domain.
pub const XENMAPSPACE_gmfn: u32 = 2;
/// `XENMAPSPACE_gmfn_range`: a range of guest frames.
pub const XENMAPSPACE_gmfn_range: u32 = 3;
/// `XENMAPSPACE_gmfn_foreign`: a guest frame of another domain.
pub const XENMAPSPACE_gmfn_foreign: u32 = 4;
/// `XENMAPSPACE_dev_mmio`: device MMIO.
pub const XENMAPSPACE_dev_mmio: u32 = 5;
/// `XENMAPIDX_grant_table_status`: `idx` flag selecting grant status frames (v2).
pub const XENMAPIDX_grant_table_status: u32 = 0x8000_0000;

/// `struct xen_add_to_physmap`: argument of `XENMEM_add_to_physmap`.
#[doc(alias = "xen_add_to_physmap")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct XenAddToPhysmap {
    /// `domid`: the domain whose physmap changes (`DOMID_SELF`).
    pub domid: u16,
    /// `size`: number of pages, for `XENMAPSPACE_gmfn_range` only.
    pub size: u16,
    /// `space`: `XENMAPSPACE_*`.
    pub space: u32,
    /// `idx`: index into the space (grant frame number, 0 for shared info).
    pub idx: u64,
    /// `gpfn`: the guest frame to map it at.
    pub gpfn: u64,
}
const _: () = assert!(core::mem::size_of::<XenAddToPhysmap>() == 24);

/// `struct xen_remove_from_physmap`: argument of `XENMEM_remove_from_physmap`.
#[doc(alias = "xen_remove_from_physmap")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct XenRemoveFromPhysmap {
    /// `domid`: the domain whose physmap changes.
    pub domid: u16,
    /// Padding before `gpfn`.
    pub pad: [u8; 6],
    /// `gpfn`: the guest frame to unmap.
    pub gpfn: u64,
}
const _: () = assert!(core::mem::size_of::<XenRemoveFromPhysmap>() == 16);

/// `struct xen_memory_map`: argument of `XENMEM_memory_map`.
#[doc(alias = "xen_memory_map")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct XenMemoryMap {
    /// `nr_entries`: in, entries the buffer holds; out, entries written.
    pub nr_entries: u32,
    /// Padding before `buffer`.
    pub pad: u32,
    /// `buffer`: guest address of an array of E820 entries (a guest handle).
    pub buffer: GuestHandle,
}
const _: () = assert!(core::mem::size_of::<XenMemoryMap>() == 16);

/// `struct xen_memory_reservation`: argument of the reservation commands.
#[doc(alias = "xen_memory_reservation")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct XenMemoryReservation {
    /// `extent_start`: guest address of an array of frame numbers (a guest handle).
    pub extent_start: GuestHandle,
    /// `nr_extents`: entries in that array.
    pub nr_extents: u64,
    /// `extent_order`: log2 of pages per extent.
    pub extent_order: u32,
    /// `mem_flags`: `XENMEMF_*`.
    pub mem_flags: u32,
    /// `domid`: the domain (`DOMID_SELF`).
    pub domid: u16,
    /// Trailing padding.
    pub pad: [u8; 6],
}
const _: () = assert!(core::mem::size_of::<XenMemoryReservation>() == 32);
