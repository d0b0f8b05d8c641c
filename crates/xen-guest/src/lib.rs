//! Hypervisor services behind small traits.
//!
//! Everything above this module (rings, XenStore, sndif, PCM, the app) is safe
//! Rust written against these traits. The guest implements them with
//! hypercalls (`arch`); host tests implement them with the simulator
//! (`xensnd_sim`). Nothing here touches hardware.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

pub mod evtchn;
pub mod foreign;
pub mod grant;
pub mod ring;
pub mod shutdown;
pub mod time;
pub mod xenbus;
pub mod xenstore;

/// A Xen domain id (`domid_t`).
pub type DomId = u16;
/// An event-channel port (`evtchn_port_t`).
pub type Port = u32;
/// A grant reference (`grant_ref_t`).
pub type GrantRef = u32;
/// A guest frame number (a 4 KiB page of guest-physical memory).
pub type Gfn = u64;

/// Size of a Xen page in bytes.
pub const PAGE_SIZE: usize = 4096;

/// `DOMID_SELF`.
pub const DOMID_SELF: DomId = 0x7ff0;

/// A 4 KiB page that is (or may be) shared with another domain.
///
/// The other domain can write the page at any time. Every accessor is one
/// access of the given width; callers read an index once into a local, copy
/// a record out before validating it, and never re-read a validated field.
/// Offsets are chosen by our own code; an offset outside the page (or a
/// misaligned one) is a bug in the caller and panics.
pub trait SharedPage {
    /// Guest frame number of the page (what gets granted).
    fn gfn(&self) -> Gfn;
    /// Load a little-endian `u32` at `offset` (4-byte aligned).
    fn load_u32(&self, offset: usize) -> u32;
    /// Store a `u32` at `offset` (4-byte aligned).
    fn store_u32(&self, offset: usize, value: u32);
    /// Copy `out.len()` bytes starting at `offset` out of the page.
    fn read(&self, offset: usize, out: &mut [u8]);
    /// Copy `data` into the page starting at `offset`.
    fn write(&self, offset: usize, data: &[u8]);
    /// Let `f` write `len` bytes at `offset` in place (the zero-copy path).
    /// Only for ranges the other side is not using (e.g. a buffer region
    /// with no request in flight). The default stages through a copy;
    /// implementations with direct access override it.
    fn with_bytes_mut<R>(&self, offset: usize, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R
    where
        Self: Sized,
    {
        let mut staging = alloc::vec![0u8; len];
        self.read(offset, &mut staging);
        let result = f(&mut staging);
        self.write(offset, &staging);
        result
    }
}

/// Memory barriers for shared rings, named after `xen_rmb`/`xen_wmb`/`xen_mb`
/// in `io/ring.h`.
pub mod barrier {
    use core::sync::atomic::{fence, Ordering};

    /// `xen_rmb()`: loads before this are ordered before loads after it.
    #[inline]
    pub fn rmb() {
        fence(Ordering::Acquire);
    }

    /// `xen_wmb()`: stores before this are visible before stores after it.
    #[inline]
    pub fn wmb() {
        fence(Ordering::Release);
    }

    /// `xen_mb()`: full barrier (stores before it are visible before loads after it).
    #[inline]
    pub fn mb() {
        fence(Ordering::SeqCst);
    }
}

/// Errors from hypervisor services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum XenError {
    /// A hypercall (or its simulation) failed with this negative Xen errno.
    Hypercall(i32),
    /// No free grant reference, event channel or page.
    Exhausted,
    /// The other domain still has the granted page mapped; the grant stays
    /// in place and the page must not be reused (XSA-396).
    StillMapped,
    /// An argument that our own code chose was invalid (unknown ref or port).
    Invalid,
    /// A deadline passed.
    Timeout,
}

/// Event channels (`event_channel_op`).
pub trait EventChannels {
    /// `EVTCHNOP_alloc_unbound`: a new port that `remote` can bind to.
    fn alloc_unbound(&mut self, remote: DomId) -> Result<Port, XenError>;
    /// `EVTCHNOP_send`: signal the other end of `port`.
    fn notify(&mut self, port: Port);
    /// `EVTCHNOP_unmask`: allow `port` to raise upcalls again.
    fn unmask(&mut self, port: Port);
    /// `EVTCHNOP_close`.
    fn close(&mut self, port: Port);
    /// Whether `port` was signalled since the last call, clearing the flag.
    fn take_pending(&mut self, port: Port) -> bool;
}

/// Grant table v1 (`grant_table_op` + the shared entries).
pub trait GrantTable {
    /// Grant `domid` access to the page at `gfn`.
    fn grant(&mut self, domid: DomId, gfn: Gfn, readonly: bool) -> Result<GrantRef, XenError>;
    /// Revoke a grant. Fails with [`XenError::StillMapped`] (and keeps the
    /// grant) while the other domain has the page mapped.
    fn revoke(&mut self, gref: GrantRef) -> Result<(), XenError>;
}

/// A source of zeroed pages that can be shared.
pub trait PageAllocator {
    /// The page handle type.
    type Page: SharedPage;
    /// Allocate a zeroed page.
    fn alloc_page(&mut self) -> Result<Self::Page, XenError>;
}

/// Monotonic time and blocking waits.
pub trait Clock {
    /// Monotonic nanoseconds since boot.
    fn now_ns(&self) -> u64;
    /// Block until an event arrives or `deadline_ns` passes, whichever is
    /// first. May return early (spuriously); callers re-check their condition.
    /// The guest halts the CPU here; the simulator runs its peers one step.
    fn wait_until(&mut self, deadline_ns: u64);
}

/// Grant references and event channels a domain has in use (leak checks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceUsage {
    /// Grant references granted and not revoked.
    pub grants: usize,
    /// Event-channel ports allocated or bound and not closed.
    pub event_channels: usize,
}

/// Everything a frontend needs from the hypervisor, in one bound.
pub trait Platform: EventChannels + GrantTable + PageAllocator + Clock {
    /// Our own domain id, if known.
    fn domid(&self) -> Option<DomId> {
        None
    }

    /// Grants and event channels in use now, if the platform counts them.
    fn resource_usage(&self) -> Option<ResourceUsage> {
        None
    }
}
