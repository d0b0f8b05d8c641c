//! `event_channel.h`: the `event_channel_op` hypercall.
//!
//! Implements the `EVTCHNOP_*` commands, their argument structs and the
//! `EVTCHNSTAT_*` states of Xen's public `event_channel.h` (two-level ABI).
#![forbid(unsafe_code)]
#![allow(non_upper_case_globals, reason = "constants keep their C names")]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `EVTCHNOP_bind_interdomain`: connect to a remote domain's unbound port.
pub const EVTCHNOP_bind_interdomain: u32 = 0;
/// `EVTCHNOP_bind_virq`: bind a virtual IRQ.
pub const EVTCHNOP_bind_virq: u32 = 1;
/// `EVTCHNOP_bind_pirq`: bind a physical IRQ.
pub const EVTCHNOP_bind_pirq: u32 = 2;
/// `EVTCHNOP_close`: close a port.
pub const EVTCHNOP_close: u32 = 3;
/// `EVTCHNOP_send`: notify the remote end of a port.
pub const EVTCHNOP_send: u32 = 4;
/// `EVTCHNOP_status`: query a port.
pub const EVTCHNOP_status: u32 = 5;
/// `EVTCHNOP_alloc_unbound`: allocate a port for a remote domain to bind.
pub const EVTCHNOP_alloc_unbound: u32 = 6;
/// `EVTCHNOP_bind_ipi`: bind an inter-processor interrupt.
pub const EVTCHNOP_bind_ipi: u32 = 7;
/// `EVTCHNOP_bind_vcpu`: choose the vCPU a port notifies.
pub const EVTCHNOP_bind_vcpu: u32 = 8;
/// `EVTCHNOP_unmask`: unmask a port (and deliver a pending event).
pub const EVTCHNOP_unmask: u32 = 9;
/// `EVTCHNOP_reset`: close all ports of a domain.
pub const EVTCHNOP_reset: u32 = 10;
/// `EVTCHNOP_init_control`: switch to the FIFO ABI.
pub const EVTCHNOP_init_control: u32 = 11;
/// `EVTCHNOP_expand_array`: add a FIFO event array page.
pub const EVTCHNOP_expand_array: u32 = 12;
/// `EVTCHNOP_set_priority`: set a FIFO port's priority.
pub const EVTCHNOP_set_priority: u32 = 13;

/// `EVTCHNSTAT_closed`: the port is not in use.
pub const EVTCHNSTAT_closed: u32 = 0;
/// `EVTCHNSTAT_unbound`: waiting for a remote domain to bind.
pub const EVTCHNSTAT_unbound: u32 = 1;
/// `EVTCHNSTAT_interdomain`: connected to a remote domain.
pub const EVTCHNSTAT_interdomain: u32 = 2;
/// `EVTCHNSTAT_pirq`: bound to a physical IRQ.
pub const EVTCHNSTAT_pirq: u32 = 3;
/// `EVTCHNSTAT_virq`: bound to a virtual IRQ.
pub const EVTCHNSTAT_virq: u32 = 4;
/// `EVTCHNSTAT_ipi`: bound to an IPI.
pub const EVTCHNSTAT_ipi: u32 = 5;

/// `EVTCHN_2L_NR_CHANNELS`: ports of the two-level ABI on x86_64
/// (`sizeof(xen_ulong_t)^2 * 64`).
pub const EVTCHN_2L_NR_CHANNELS: usize = 8 * 8 * 64;

/// `struct evtchn_alloc_unbound`: argument of `EVTCHNOP_alloc_unbound`.
#[doc(alias = "evtchn_alloc_unbound")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct EvtchnAllocUnbound {
    /// `dom`: the domain that owns the port (`DOMID_SELF`).
    pub dom: u16,
    /// `remote_dom`: the domain allowed to bind it.
    pub remote_dom: u16,
    /// `port`: the allocated port (out).
    pub port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnAllocUnbound>() == 8);

/// `struct evtchn_bind_interdomain`: argument of `EVTCHNOP_bind_interdomain`.
#[doc(alias = "evtchn_bind_interdomain")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct EvtchnBindInterdomain {
    /// `remote_dom`: the remote domain.
    pub remote_dom: u16,
    /// Padding before `remote_port`.
    pub pad: u16,
    /// `remote_port`: its unbound port.
    pub remote_port: u32,
    /// `local_port`: the new local port (out).
    pub local_port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnBindInterdomain>() == 12);

/// `struct evtchn_bind_virq`: argument of `EVTCHNOP_bind_virq`.
#[doc(alias = "evtchn_bind_virq")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct EvtchnBindVirq {
    /// `virq`: `VIRQ_*`.
    pub virq: u32,
    /// `vcpu`: the vCPU to notify.
    pub vcpu: u32,
    /// `port`: the new port (out).
    pub port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnBindVirq>() == 12);

/// `struct evtchn_close`: argument of `EVTCHNOP_close`.
#[doc(alias = "evtchn_close")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct EvtchnClose {
    /// `port`: the port to close.
    pub port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnClose>() == 4);

/// `struct evtchn_send`: argument of `EVTCHNOP_send`.
#[doc(alias = "evtchn_send")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct EvtchnSend {
    /// `port`: the local port whose remote end is notified.
    pub port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnSend>() == 4);

/// `struct evtchn_unmask`: argument of `EVTCHNOP_unmask`.
#[doc(alias = "evtchn_unmask")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct EvtchnUnmask {
    /// `port`: the port to unmask.
    pub port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnUnmask>() == 4);

/// `struct evtchn_bind_vcpu`: argument of `EVTCHNOP_bind_vcpu`.
#[doc(alias = "evtchn_bind_vcpu")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct EvtchnBindVcpu {
    /// `port`: the port.
    pub port: u32,
    /// `vcpu`: the vCPU it should notify.
    pub vcpu: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnBindVcpu>() == 8);

/// `struct evtchn_status`: argument of `EVTCHNOP_status`.
#[doc(alias = "evtchn_status")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct EvtchnStatus {
    /// `dom`: the domain owning the port (in).
    pub dom: u16,
    /// Padding before `port`.
    pub pad: u16,
    /// `port`: the port (in).
    pub port: u32,
    /// `status`: `EVTCHNSTAT_*` (out).
    pub status: u32,
    /// `vcpu`: the vCPU the port notifies (out).
    pub vcpu: u32,
    /// `u`: the status-specific union; for `EVTCHNSTAT_interdomain` it is an
    /// [`EvtchnStatusInterdomain`], for `unbound` a `u16` domain id, for
    /// `pirq`/`virq` a `u32`.
    pub u: [u8; 8],
}
const _: () = assert!(core::mem::size_of::<EvtchnStatus>() == 24);

/// `evtchn_status.u.interdomain`: the peer of an interdomain port.
#[doc(alias = "interdomain")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct EvtchnStatusInterdomain {
    /// `dom`: the remote domain.
    pub dom: u16,
    /// Padding before `port`.
    pub pad: u16,
    /// `port`: the remote port.
    pub port: u32,
}
const _: () = assert!(core::mem::size_of::<EvtchnStatusInterdomain>() == 8);
