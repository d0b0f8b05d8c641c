//! `xen.h` (with `arch-x86/xen.h`, `arch-x86/xen-x86_64.h`): the shared-info page.
//!
//! The page Xen shares with every domain (mapped with `XENMEM_add_to_physmap`,
//! `XENMAPSPACE_shared_info`): per-vCPU upcall state and time, the two-level
//! event-channel bitmaps and the wall clock, laid out for x86_64
//! (`xen_ulong_t` is 64 bits).
#![forbid(unsafe_code)]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `XEN_LEGACY_MAX_VCPUS`: `vcpu_info` slots in the shared-info page.
pub const XEN_LEGACY_MAX_VCPUS: usize = 32;
/// Words of `evtchn_pending` / `evtchn_mask` (`sizeof(xen_ulong_t) * 8`).
pub const EVTCHN_WORDS: usize = 8 * 8;
/// `XEN_PVCLOCK_TSC_STABLE_BIT`: [`VcpuTimeInfo::flags`] bit: the TSC is stable.
pub const XEN_PVCLOCK_TSC_STABLE_BIT: u8 = 1 << 0;
/// `XEN_PVCLOCK_GUEST_STOPPED`: [`VcpuTimeInfo::flags`] bit: the guest was stopped.
pub const XEN_PVCLOCK_GUEST_STOPPED: u8 = 1 << 1;

/// `struct vcpu_time_info`: Xen's system-time parameters for one vCPU.
///
/// `version` is odd while Xen updates the record: read it, the fields, then
/// `version` again, and retry if it changed or was odd.
#[doc(alias = "vcpu_time_info")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct VcpuTimeInfo {
    /// `version`: update counter.
    pub version: u32,
    /// `pad0`.
    pub pad0: u32,
    /// `tsc_timestamp`: TSC at the last update.
    pub tsc_timestamp: u64,
    /// `system_time`: ns since boot at the last update.
    pub system_time: u64,
    /// `tsc_to_system_mul`: ns = ((tsc delta << tsc_shift) * mul) >> 32.
    pub tsc_to_system_mul: u32,
    /// `tsc_shift`: signed shift applied to the TSC delta first.
    pub tsc_shift: i8,
    /// `flags`: `XEN_PVCLOCK_*`.
    pub flags: u8,
    /// `pad1`.
    pub pad1: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<VcpuTimeInfo>() == 32);

/// `struct arch_vcpu_info` (x86_64).
#[doc(alias = "arch_vcpu_info")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct ArchVcpuInfo {
    /// `cr2`: faulting address (PV only).
    pub cr2: u64,
    /// `pad`: makes `vcpu_info` 64 bytes.
    pub pad: u64,
}
const _: () = assert!(core::mem::size_of::<ArchVcpuInfo>() == 16);

/// `struct vcpu_info`: per-vCPU event and time state.
#[doc(alias = "vcpu_info")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct VcpuInfo {
    /// `evtchn_upcall_pending`: set by Xen when an event is pending; cleared by the guest.
    pub evtchn_upcall_pending: u8,
    /// `evtchn_upcall_mask`: PV upcall mask (unused for HVM/PVH callbacks).
    pub evtchn_upcall_mask: u8,
    /// Padding before `evtchn_pending_sel`.
    pub pad0: [u8; 6],
    /// `evtchn_pending_sel`: bit `i` set when word `i` of `evtchn_pending` may have bits set.
    pub evtchn_pending_sel: u64,
    /// `arch`.
    pub arch: ArchVcpuInfo,
    /// `time`.
    pub time: VcpuTimeInfo,
}
const _: () = assert!(core::mem::size_of::<VcpuInfo>() == 64);

/// `struct arch_shared_info` (x86_64).
#[doc(alias = "arch_shared_info")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct ArchSharedInfo {
    /// `max_pfn`: valid p2m entries (PV).
    pub max_pfn: u64,
    /// `pfn_to_mfn_frame_list_list` (PV).
    pub pfn_to_mfn_frame_list_list: u64,
    /// `nmi_reason`.
    pub nmi_reason: u64,
    /// `p2m_cr3` (PV).
    pub p2m_cr3: u64,
    /// `p2m_vaddr` (PV).
    pub p2m_vaddr: u64,
    /// `p2m_generation` (PV).
    pub p2m_generation: u64,
}
const _: () = assert!(core::mem::size_of::<ArchSharedInfo>() == 48);

/// `struct shared_info`: the shared-info page (its first 3136 bytes).
#[doc(alias = "shared_info")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct SharedInfo {
    /// `vcpu_info`: one per legacy vCPU.
    pub vcpu_info: [VcpuInfo; XEN_LEGACY_MAX_VCPUS],
    /// `evtchn_pending`: bit `p` set when port `p` has an event.
    pub evtchn_pending: [u64; EVTCHN_WORDS],
    /// `evtchn_mask`: bit `p` set when port `p` is masked.
    pub evtchn_mask: [u64; EVTCHN_WORDS],
    /// `wc_version`: wall-clock update counter (like `VcpuTimeInfo::version`).
    pub wc_version: u32,
    /// `wc_sec`: wall-clock seconds at system time 0 (low 32 bits).
    pub wc_sec: u32,
    /// `wc_nsec`: wall-clock nanoseconds at system time 0.
    pub wc_nsec: u32,
    /// `wc_sec_hi`: wall-clock seconds, high 32 bits.
    pub wc_sec_hi: u32,
    /// `arch`.
    pub arch: ArchSharedInfo,
}
const _: () = assert!(core::mem::size_of::<SharedInfo>() == 3136);
