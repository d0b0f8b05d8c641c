//! `vcpu.h`: the `vcpu_op` hypercall (timers, vcpu_info placement, runstate).
//!
//! Implements the `VCPUOP_*` commands, their argument structs and the
//! `RUNSTATE_*` values of Xen's public `vcpu.h`.
#![forbid(unsafe_code)]
#![allow(non_upper_case_globals, reason = "constants keep their C names")]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `VCPUOP_initialise`: set a vCPU's initial context.
pub const VCPUOP_initialise: u32 = 0;
/// `VCPUOP_up`: start a vCPU.
pub const VCPUOP_up: u32 = 1;
/// `VCPUOP_down`: stop a vCPU.
pub const VCPUOP_down: u32 = 2;
/// `VCPUOP_is_up`: whether a vCPU runs.
pub const VCPUOP_is_up: u32 = 3;
/// `VCPUOP_get_runstate_info`: fill a [`VcpuRunstateInfo`].
pub const VCPUOP_get_runstate_info: u32 = 4;
/// `VCPUOP_register_runstate_memory_area`.
pub const VCPUOP_register_runstate_memory_area: u32 = 5;
/// `VCPUOP_set_periodic_timer`: argument [`VcpuSetPeriodicTimer`].
pub const VCPUOP_set_periodic_timer: u32 = 6;
/// `VCPUOP_stop_periodic_timer`: no argument.
pub const VCPUOP_stop_periodic_timer: u32 = 7;
/// `VCPUOP_set_singleshot_timer`: argument [`VcpuSetSingleshotTimer`]; fires `VIRQ_TIMER`.
pub const VCPUOP_set_singleshot_timer: u32 = 8;
/// `VCPUOP_stop_singleshot_timer`: no argument.
pub const VCPUOP_stop_singleshot_timer: u32 = 9;
/// `VCPUOP_register_vcpu_info`: argument [`VcpuRegisterVcpuInfo`].
pub const VCPUOP_register_vcpu_info: u32 = 10;
/// `VCPUOP_send_nmi`: send an NMI to a vCPU.
pub const VCPUOP_send_nmi: u32 = 11;
/// `VCPUOP_get_physid`: the physical id of a vCPU (dom0).
pub const VCPUOP_get_physid: u32 = 12;
/// `VCPUOP_register_vcpu_time_memory_area`.
pub const VCPUOP_register_vcpu_time_memory_area: u32 = 13;

/// `VCPU_SSHOTTMR_future`: fail with `-ETIME` if the timeout is already past.
pub const VCPU_SSHOTTMR_future: u32 = 1 << 0;

/// `RUNSTATE_running`: the vCPU runs on a physical CPU.
pub const RUNSTATE_running: i32 = 0;
/// `RUNSTATE_runnable`: the vCPU could run but waits for a CPU.
pub const RUNSTATE_runnable: i32 = 1;
/// `RUNSTATE_blocked`: the vCPU waits for an event.
pub const RUNSTATE_blocked: i32 = 2;
/// `RUNSTATE_offline`: the vCPU is not runnable for another reason.
pub const RUNSTATE_offline: i32 = 3;

/// `struct vcpu_set_singleshot_timer`: argument of `VCPUOP_set_singleshot_timer`.
#[doc(alias = "vcpu_set_singleshot_timer")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct VcpuSetSingleshotTimer {
    /// `timeout_abs_ns`: absolute system time, ns.
    pub timeout_abs_ns: u64,
    /// `flags`: `VCPU_SSHOTTMR_*`.
    pub flags: u32,
    /// Trailing padding.
    pub pad: u32,
}
const _: () = assert!(core::mem::size_of::<VcpuSetSingleshotTimer>() == 16);

/// `struct vcpu_set_periodic_timer`: argument of `VCPUOP_set_periodic_timer`.
#[doc(alias = "vcpu_set_periodic_timer")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct VcpuSetPeriodicTimer {
    /// `period_ns`: the period, ns.
    pub period_ns: u64,
}
const _: () = assert!(core::mem::size_of::<VcpuSetPeriodicTimer>() == 8);

/// `struct vcpu_register_vcpu_info`: argument of `VCPUOP_register_vcpu_info`.
#[doc(alias = "vcpu_register_vcpu_info")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct VcpuRegisterVcpuInfo {
    /// `mfn`: the frame to place the vcpu_info in.
    pub mfn: u64,
    /// `offset`: byte offset in that frame.
    pub offset: u32,
    /// `rsvd`: unused.
    pub rsvd: u32,
}
const _: () = assert!(core::mem::size_of::<VcpuRegisterVcpuInfo>() == 16);

/// `struct vcpu_runstate_info`: filled by `VCPUOP_get_runstate_info`.
#[doc(alias = "vcpu_runstate_info")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct VcpuRunstateInfo {
    /// `state`: `RUNSTATE_*`.
    pub state: i32,
    /// Padding before `state_entry_time`.
    pub pad: u32,
    /// `state_entry_time`: system time the state was entered, ns.
    pub state_entry_time: u64,
    /// `time`: ns spent in each `RUNSTATE_*`.
    pub time: [u64; 4],
}
const _: () = assert!(core::mem::size_of::<VcpuRunstateInfo>() == 48);
