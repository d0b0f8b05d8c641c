//! `sched.h`: the `sched_op` hypercall (yield, block, poll, shut down).
//!
//! Implements the `SCHEDOP_*` commands, their argument structs and the
//! `SHUTDOWN_*` reasons of Xen's public `sched.h`.
#![forbid(unsafe_code)]
#![allow(non_upper_case_globals, reason = "constants keep their C names")]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::xen::GuestHandle;

/// `SCHEDOP_yield`: give up the CPU, stay runnable.
pub const SCHEDOP_yield: u32 = 0;
/// `SCHEDOP_block`: sleep until an event is pending (enables event delivery).
pub const SCHEDOP_block: u32 = 1;
/// `SCHEDOP_shutdown`: stop the domain with a [`SchedShutdown`] reason.
pub const SCHEDOP_shutdown: u32 = 2;
/// `SCHEDOP_poll`: sleep until one of some ports is pending or a timeout ([`SchedPoll`]).
pub const SCHEDOP_poll: u32 = 3;
/// `SCHEDOP_remote_shutdown`: shut down another domain.
pub const SCHEDOP_remote_shutdown: u32 = 4;
/// `SCHEDOP_shutdown_code`: set the shutdown reason without shutting down.
pub const SCHEDOP_shutdown_code: u32 = 5;
/// `SCHEDOP_watchdog`: arm or disarm a domain watchdog.
pub const SCHEDOP_watchdog: u32 = 6;
/// `SCHEDOP_pin_override`: temporarily pin to a physical CPU (dom0).
pub const SCHEDOP_pin_override: u32 = 7;

/// `SHUTDOWN_poweroff`: exited normally.
pub const SHUTDOWN_poweroff: u32 = 0;
/// `SHUTDOWN_reboot`: restart.
pub const SHUTDOWN_reboot: u32 = 1;
/// `SHUTDOWN_suspend`: suspend.
pub const SHUTDOWN_suspend: u32 = 2;
/// `SHUTDOWN_crash`: crashed.
pub const SHUTDOWN_crash: u32 = 3;
/// `SHUTDOWN_watchdog`: the watchdog expired.
pub const SHUTDOWN_watchdog: u32 = 4;
/// `SHUTDOWN_soft_reset`: soft reset.
pub const SHUTDOWN_soft_reset: u32 = 5;
/// `SHUTDOWN_MAX`: the highest valid reason.
pub const SHUTDOWN_MAX: u32 = 5;

/// `struct sched_shutdown`: argument of `SCHEDOP_shutdown`.
#[doc(alias = "sched_shutdown")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct SchedShutdown {
    /// `reason`: `SHUTDOWN_*`.
    pub reason: u32,
}
const _: () = assert!(core::mem::size_of::<SchedShutdown>() == 4);

/// `struct sched_poll`: argument of `SCHEDOP_poll`.
#[doc(alias = "sched_poll")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct SchedPoll {
    /// `ports`: guest address of an array of `u32` ports (a guest handle).
    pub ports: GuestHandle,
    /// `nr_ports`: entries in that array.
    pub nr_ports: u32,
    /// Padding before `timeout`.
    pub pad: u32,
    /// `timeout`: absolute system time in ns, 0 for none.
    pub timeout: u64,
}
const _: () = assert!(core::mem::size_of::<SchedPoll>() == 24);

/// `struct sched_remote_shutdown`: argument of `SCHEDOP_remote_shutdown`.
#[doc(alias = "sched_remote_shutdown")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct SchedRemoteShutdown {
    /// `domain_id`: the domain to shut down.
    pub domain_id: u16,
    /// Padding before `reason`.
    pub pad: u16,
    /// `reason`: `SHUTDOWN_*`.
    pub reason: u32,
}
const _: () = assert!(core::mem::size_of::<SchedRemoteShutdown>() == 8);
