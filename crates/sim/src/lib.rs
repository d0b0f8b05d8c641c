//! A simulated Xen for host tests: pages, grant tables, event channels and a
//! small xenstored, deterministic, single-threaded and stepped by the test.
//!
//! - [`SimXen`]: the test's handle on the whole simulation (toolstack view:
//!   create guests, read/write XenStore as dom0, add peers, advance time).
//! - [`SimCore`]: the hypervisor state peers work on (event channels, grant
//!   mapping as a backend would do it, XenStore access).
//! - [`SimPeer`]: a simulated domain-0 process (the xenstored ring server is
//!   built in; a sndif backend model plugs in here) run one step per wait.
//! - [`SimGuest`]: the guest's view, implementing [`xen_guest::Platform`]
//!   with the real [`GrantManager`] and [`EventDispatcher`] over simulated
//!   grant entries and event bitmaps, so frontend code runs unchanged.
//!
//! Time only moves when the guest waits and nothing else is runnable: it
//! jumps to the guest's deadline or the earliest peer deadline.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

pub mod back_chaos;
pub mod backend_host;
pub mod chaos;
pub mod hostile;
pub mod linux_front;
pub mod page;
pub mod sound;
pub mod vsnd;
pub mod xenstored;

use std::boxed::Box;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::vec::Vec;

pub use page::SimPage;
pub use xenstored::{ConnId, XenStored};

use xen_guest::evtchn::{EventBitmaps, EventDispatcher, PortHandler, MAX_PORTS, WORDS};
use xen_guest::grant::{
    GrantEntries, GrantManager, GrantedPage, ENTRIES_PER_FRAME, GTF_PERMIT_ACCESS, GTF_READING,
    GTF_READONLY, GTF_WRITING,
};
use xen_guest::xenstore::{Errno, WatchEvent, XenStore, XsError};
use xen_guest::{
    Clock, DomId, EventChannels, Gfn, GrantRef, GrantTable, PageAllocator, Platform, Port,
    SharedPage, XenError,
};

/// `GNTST_bad_gntref`.
pub const GNTST_BAD_GNTREF: i32 = -3;
/// `GNTST_bad_handle`.
pub const GNTST_BAD_HANDLE: i32 = -4;
/// `GNTST_permission_denied`.
pub const GNTST_PERMISSION_DENIED: i32 = -8;
/// `GNTST_bad_page`.
pub const GNTST_BAD_PAGE: i32 = -9;

/// Grant frames each simulated domain gets by default (4 × 512 entries).
pub const DEFAULT_GRANT_FRAMES: u32 = 4;
/// The first guest frame number handed out by the page allocator.
pub const FIRST_GFN: Gfn = 0x1000;

/// The event bitmaps of one simulated vCPU (`shared_info` + `vcpu_info`).
pub struct SimEventBitmaps {
    upcall_pending: Cell<bool>,
    selector: Cell<u64>,
    pending: [Cell<u64>; WORDS],
    mask: [Cell<u64>; WORDS],
}

impl Default for SimEventBitmaps {
    fn default() -> Self {
        Self {
            upcall_pending: Cell::new(false),
            selector: Cell::new(0),
            pending: core::array::from_fn(|_| Cell::new(0)),
            mask: core::array::from_fn(|_| Cell::new(0)),
        }
    }
}

impl SimEventBitmaps {
    fn split(port: Port) -> (usize, u64) {
        ((port / 64) as usize, 1u64 << (port % 64))
    }

    /// What Xen does on `EVTCHN_send` to this domain's `port`.
    pub fn set_pending(&self, port: Port) {
        let (word, bit) = Self::split(port);
        let old = self.pending[word].get();
        self.pending[word].set(old | bit);
        if old & bit != 0 || self.mask[word].get() & bit != 0 {
            return;
        }
        self.selector.set(self.selector.get() | (1 << word));
        self.upcall_pending.set(true);
    }

    /// `EVTCHNOP_unmask`: clear the mask bit and re-raise a pending event.
    pub fn unmask(&self, port: Port) {
        let (word, bit) = Self::split(port);
        self.mask[word].set(self.mask[word].get() & !bit);
        if self.pending[word].get() & bit != 0 {
            self.selector.set(self.selector.get() | (1 << word));
            self.upcall_pending.set(true);
        }
    }

    /// Set the mask bit of `port`.
    pub fn mask(&self, port: Port) {
        let (word, bit) = Self::split(port);
        self.mask[word].set(self.mask[word].get() | bit);
    }

    /// Clear the pending and mask bits of `port` (a closed port).
    pub fn reset(&self, port: Port) {
        let (word, bit) = Self::split(port);
        self.pending[word].set(self.pending[word].get() & !bit);
        self.mask[word].set(self.mask[word].get() & !bit);
    }

    /// Whether the pending bit of `port` is set.
    pub fn is_pending(&self, port: Port) -> bool {
        let (word, bit) = Self::split(port);
        self.pending[word].get() & bit != 0
    }

    /// Clear the pending bit of `port`, returning whether it was set (how a
    /// simulated dom0 process polls its ports).
    pub fn take_pending(&self, port: Port) -> bool {
        let (word, bit) = Self::split(port);
        let was = self.pending[word].get() & bit != 0;
        self.pending[word].set(self.pending[word].get() & !bit);
        was
    }

    /// `evtchn_upcall_pending`.
    pub fn upcall_pending(&self) -> bool {
        self.upcall_pending.get()
    }
}

impl EventBitmaps for SimEventBitmaps {
    fn clear_upcall_pending(&self) {
        self.upcall_pending.set(false);
    }

    fn take_pending_selector(&self) -> u64 {
        self.selector.replace(0)
    }

    fn pending_word(&self, word: usize) -> u64 {
        self.pending[word].get()
    }

    fn mask_word(&self, word: usize) -> u64 {
        self.mask[word].get()
    }

    fn clear_pending_bits(&self, word: usize, bits: u64) {
        self.pending[word].set(self.pending[word].get() & !bits);
    }
}

/// The state of one simulated event-channel port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    /// Allocated with `alloc_unbound`, waiting for `remote` to bind.
    Unbound {
        /// The domain allowed to bind.
        remote: DomId,
    },
    /// Connected to `remote_port` of `remote`.
    Interdomain {
        /// The other domain.
        remote: DomId,
        /// Its port.
        remote_port: Port,
    },
}

/// One v1 grant entry plus what the simulated hypervisor tracks about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimGrantEntry {
    /// `flags`.
    pub flags: u16,
    /// `domid`: the grantee.
    pub domid: DomId,
    /// `frame`.
    pub frame: u32,
    /// Current mappings (all).
    pub maps: u32,
    /// Current writable mappings.
    pub writable_maps: u32,
}

/// One simulated domain.
struct SimDomain {
    /// Shared with the domain's [`SimGuest`], which reads it without
    /// borrowing the world (a guest reads its own `shared_info`).
    events: Rc<SimEventBitmaps>,
    ports: BTreeMap<Port, PortState>,
    grants: Vec<SimGrantEntry>,
    next_gfn: Gfn,
}

impl SimDomain {
    fn new(grant_frames: u32) -> Self {
        Self {
            events: Rc::new(SimEventBitmaps::default()),
            ports: BTreeMap::new(),
            grants: std::vec![SimGrantEntry::default(); (grant_frames * ENTRIES_PER_FRAME) as usize],
            next_gfn: FIRST_GFN,
        }
    }
}

/// A grant mapped by a simulated backend.
#[derive(Debug, Clone)]
pub struct SimMapping {
    /// The handle to unmap with.
    pub handle: u32,
    /// The mapped page (same bytes as the granter's).
    pub page: SimPage,
}

#[derive(Debug, Clone, Copy)]
struct MappingRecord {
    granter: DomId,
    gref: GrantRef,
    writable: bool,
}

/// How the store ring of a guest is wired.
#[derive(Debug, Clone, Copy)]
struct StoreLink {
    conn: ConnId,
    server_port: Port,
}

/// The simulated hypervisor state that peers act on.
pub struct SimCore {
    now_ns: u64,
    domains: BTreeMap<DomId, SimDomain>,
    pages: BTreeMap<(DomId, Gfn), SimPage>,
    mappings: BTreeMap<u32, MappingRecord>,
    next_handle: u32,
    store: XenStored,
    store_links: BTreeMap<DomId, StoreLink>,
}

impl SimCore {
    fn new() -> Self {
        let mut core = Self {
            now_ns: 0,
            domains: BTreeMap::new(),
            pages: BTreeMap::new(),
            mappings: BTreeMap::new(),
            next_handle: 1,
            store: XenStored::new(),
            store_links: BTreeMap::new(),
        };
        core.create_domain(0, DEFAULT_GRANT_FRAMES);
        core
    }

    /// Simulated nanoseconds since boot.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Create domain `domid` (no-op if it exists).
    pub fn create_domain(&mut self, domid: DomId, grant_frames: u32) {
        self.domains
            .entry(domid)
            .or_insert_with(|| SimDomain::new(grant_frames));
        let conn = self.store.connect_local(0);
        let _ = self.store.mkdir(conn, 0, &xenstored::domain_path(domid));
    }

    fn domain(&self, domid: DomId) -> Result<&SimDomain, XenError> {
        self.domains.get(&domid).ok_or(XenError::Invalid)
    }

    fn domain_mut(&mut self, domid: DomId) -> Result<&mut SimDomain, XenError> {
        self.domains.get_mut(&domid).ok_or(XenError::Invalid)
    }

    /// The xenstored.
    pub fn store(&mut self) -> &mut XenStored {
        &mut self.store
    }

    /// Allocate a zeroed page owned by `domid`.
    pub fn alloc_page(&mut self, domid: DomId) -> Result<SimPage, XenError> {
        let domain = self.domain_mut(domid)?;
        let gfn = domain.next_gfn;
        domain.next_gfn += 1;
        let page = SimPage::new(gfn);
        self.pages.insert((domid, gfn), page.clone());
        Ok(page)
    }

    /// The page of `domid` at `gfn`.
    pub fn page(&self, domid: DomId, gfn: Gfn) -> Option<SimPage> {
        self.pages.get(&(domid, gfn)).cloned()
    }

    // ---- event channels ----

    fn free_port(domain: &SimDomain) -> Result<Port, XenError> {
        (1..MAX_PORTS)
            .find(|port| !domain.ports.contains_key(port))
            .ok_or(XenError::Exhausted)
    }

    /// `EVTCHNOP_alloc_unbound` for `domid`.
    pub fn evtchn_alloc_unbound(&mut self, domid: DomId, remote: DomId) -> Result<Port, XenError> {
        let domain = self.domain_mut(domid)?;
        let port = Self::free_port(domain)?;
        domain.ports.insert(port, PortState::Unbound { remote });
        Ok(port)
    }

    /// `EVTCHNOP_bind_interdomain`: `domid` binds to `remote_port` of
    /// `remote`, which must be unbound and offered to `domid`. Binding a
    /// domain to its own port gives a loopback channel.
    pub fn evtchn_bind_interdomain(
        &mut self,
        domid: DomId,
        remote: DomId,
        remote_port: Port,
    ) -> Result<Port, XenError> {
        self.domain(domid)?;
        match self.domain(remote)?.ports.get(&remote_port) {
            Some(PortState::Unbound { remote: allowed }) if *allowed == domid => {}
            _ => return Err(XenError::Invalid),
        }
        let local_port = {
            let domain = self.domain_mut(domid)?;
            let mut port = Self::free_port(domain)?;
            if domid == remote && port == remote_port {
                port = (port + 1..MAX_PORTS)
                    .find(|candidate| !domain.ports.contains_key(candidate))
                    .ok_or(XenError::Exhausted)?;
            }
            domain.ports.insert(
                port,
                PortState::Interdomain {
                    remote,
                    remote_port,
                },
            );
            port
        };
        self.domain_mut(remote)?.ports.insert(
            remote_port,
            PortState::Interdomain {
                remote: domid,
                remote_port: local_port,
            },
        );
        Ok(local_port)
    }

    /// `EVTCHNOP_send` from `domid`'s `port`.
    pub fn evtchn_send(&mut self, domid: DomId, port: Port) -> Result<(), XenError> {
        match self.domain(domid)?.ports.get(&port) {
            Some(PortState::Interdomain {
                remote,
                remote_port,
            }) => {
                let (remote, remote_port) = (*remote, *remote_port);
                self.domain(remote)?.events.set_pending(remote_port);
                Ok(())
            }
            // Sending on an unbound port is silently dropped.
            Some(PortState::Unbound { .. }) => Ok(()),
            None => Err(XenError::Invalid),
        }
    }

    /// `EVTCHNOP_close`: the other end (if any) becomes unbound.
    pub fn evtchn_close(&mut self, domid: DomId, port: Port) -> Result<(), XenError> {
        let state = self
            .domain_mut(domid)?
            .ports
            .remove(&port)
            .ok_or(XenError::Invalid)?;
        let domain = self.domain(domid)?;
        domain.events.reset(port);
        if let PortState::Interdomain {
            remote,
            remote_port,
        } = state
        {
            if let Ok(other) = self.domain_mut(remote) {
                if other.ports.contains_key(&remote_port) {
                    other
                        .ports
                        .insert(remote_port, PortState::Unbound { remote: domid });
                }
            }
        }
        Ok(())
    }

    /// `EVTCHNOP_unmask`.
    pub fn evtchn_unmask(&mut self, domid: DomId, port: Port) -> Result<(), XenError> {
        if port >= MAX_PORTS {
            return Err(XenError::Invalid);
        }
        self.domain(domid)?.events.unmask(port);
        Ok(())
    }

    /// Set the mask bit of `port` (what a guest does to stop upcalls).
    pub fn evtchn_mask(&mut self, domid: DomId, port: Port) -> Result<(), XenError> {
        if port >= MAX_PORTS {
            return Err(XenError::Invalid);
        }
        self.domain(domid)?.events.mask(port);
        Ok(())
    }

    /// The state of `domid`'s `port`.
    pub fn evtchn_state(&self, domid: DomId, port: Port) -> Option<PortState> {
        self.domains.get(&domid)?.ports.get(&port).copied()
    }

    /// Clear and return the pending bit of `domid`'s `port` (how simulated
    /// dom0 processes poll their ports).
    pub fn evtchn_take_pending(&mut self, domid: DomId, port: Port) -> bool {
        port < MAX_PORTS
            && self
                .domains
                .get(&domid)
                .is_some_and(|domain| domain.events.take_pending(port))
    }

    /// The event bitmaps of `domid`.
    pub fn event_bitmaps(&self, domid: DomId) -> Option<&SimEventBitmaps> {
        self.domains.get(&domid).map(|domain| &*domain.events)
    }

    // ---- grants ----

    /// A copy of `granter`'s entry `gref`.
    pub fn grant_entry(&self, granter: DomId, gref: GrantRef) -> Option<SimGrantEntry> {
        self.domains
            .get(&granter)?
            .grants
            .get(gref as usize)
            .copied()
    }

    /// Map `granter`'s grant `gref` into `mapper` (`GNTTABOP_map_grant_ref`):
    /// checks the entry grants `mapper` access (writable only if not
    /// read-only) and sets `GTF_reading` / `GTF_writing` while mapped.
    pub fn map_grant(
        &mut self,
        mapper: DomId,
        granter: DomId,
        gref: GrantRef,
        writable: bool,
    ) -> Result<SimMapping, XenError> {
        let domain = self.domain_mut(granter)?;
        let entry = domain
            .grants
            .get_mut(gref as usize)
            .ok_or(XenError::Hypercall(GNTST_BAD_GNTREF))?;
        if entry.flags & GTF_PERMIT_ACCESS == 0 || entry.domid != mapper {
            return Err(XenError::Hypercall(GNTST_PERMISSION_DENIED));
        }
        if writable && entry.flags & GTF_READONLY != 0 {
            return Err(XenError::Hypercall(GNTST_PERMISSION_DENIED));
        }
        let frame = Gfn::from(entry.frame);
        let page = self
            .pages
            .get(&(granter, frame))
            .cloned()
            .ok_or(XenError::Hypercall(GNTST_BAD_PAGE))?;
        let entry = &mut self.domain_mut(granter)?.grants[gref as usize];
        entry.maps += 1;
        entry.flags |= GTF_READING;
        if writable {
            entry.writable_maps += 1;
            entry.flags |= GTF_WRITING;
        }
        let handle = self.next_handle;
        self.next_handle += 1;
        self.mappings.insert(
            handle,
            MappingRecord {
                granter,
                gref,
                writable,
            },
        );
        Ok(SimMapping { handle, page })
    }

    /// `GNTTABOP_unmap_grant_ref`.
    pub fn unmap_grant(&mut self, handle: u32) -> Result<(), XenError> {
        let record = self
            .mappings
            .remove(&handle)
            .ok_or(XenError::Hypercall(GNTST_BAD_HANDLE))?;
        let entry = &mut self.domain_mut(record.granter)?.grants[record.gref as usize];
        entry.maps -= 1;
        if record.writable {
            entry.writable_maps -= 1;
            if entry.writable_maps == 0 {
                entry.flags &= !GTF_WRITING;
            }
        }
        if entry.maps == 0 {
            entry.flags &= !GTF_READING;
        }
        Ok(())
    }

    /// References of `granter` that still permit access (a leak check).
    pub fn granted_refs(&self, granter: DomId) -> Vec<GrantRef> {
        self.domains.get(&granter).map_or_else(Vec::new, |domain| {
            (0..domain.grants.len() as GrantRef)
                .filter(|gref| domain.grants[*gref as usize].flags & GTF_PERMIT_ACCESS != 0)
                .collect()
        })
    }

    /// References of `granter` currently mapped by someone.
    pub fn mapped_refs(&self, granter: DomId) -> Vec<GrantRef> {
        self.domains.get(&granter).map_or_else(Vec::new, |domain| {
            (0..domain.grants.len() as GrantRef)
                .filter(|gref| domain.grants[*gref as usize].maps > 0)
                .collect()
        })
    }

    // ---- xenstored ----

    fn store_link(&self, domid: DomId) -> Option<StoreLink> {
        self.store_links.get(&domid).copied()
    }

    /// Stop or resume serving `domid`'s store ring.
    pub fn set_store_paused(&mut self, domid: DomId, paused: bool) {
        if let Some(link) = self.store_link(domid) {
            self.store.set_paused(link.conn, paused);
        }
    }

    /// Run the xenstored ring server once for every guest; notifies guests
    /// it answered. Returns whether it did anything.
    fn step_xenstored(&mut self) -> bool {
        let links: Vec<StoreLink> = self.store_links.values().copied().collect();
        let mut progress = false;
        for link in links {
            self.evtchn_take_pending(0, link.server_port);
            if self.store.serve_ring(link.conn) {
                progress = true;
                let _ = self.evtchn_send(0, link.server_port);
            }
        }
        progress
    }
}

/// A simulated process in domain 0 (xenstored is built in; a sndif backend
/// model is one), run one step each time a guest waits.
pub trait SimPeer {
    /// Do whatever is runnable now; return whether anything happened.
    fn step(&mut self, core: &mut SimCore) -> bool;
    /// The simulated time at which the peer next wants to run, if any.
    fn next_deadline(&self) -> Option<u64> {
        None
    }
}

/// The core plus its peers.
struct SimWorld {
    core: SimCore,
    peers: Vec<Box<dyn SimPeer>>,
}

impl SimWorld {
    fn step(&mut self) -> bool {
        let mut progress = self.core.step_xenstored();
        for peer in &mut self.peers {
            progress |= peer.step(&mut self.core);
        }
        progress
    }

    fn next_peer_deadline(&self) -> Option<u64> {
        let now = self.core.now_ns;
        self.peers
            .iter()
            .filter_map(|peer| peer.next_deadline())
            .filter(|deadline| *deadline > now)
            .min()
    }
}

/// Options for [`SimXen::add_guest_with`].
#[derive(Debug, Clone, Copy)]
pub struct GuestConfig {
    /// Initial value of all four store-ring indices (to test wrap-around).
    pub store_ring_start: u32,
    /// Grant frames of the guest.
    pub grant_frames: u32,
    /// The platform does not know the guest's id ([`Platform::domid`] is
    /// `None`), as on Xen: it is read from XenStore.
    pub id_unknown: bool,
}

impl Default for GuestConfig {
    fn default() -> Self {
        Self {
            store_ring_start: 0,
            grant_frames: DEFAULT_GRANT_FRAMES,
            id_unknown: false,
        }
    }
}

/// The test's handle on the simulation (cheap to clone; all clones share
/// one world).
#[derive(Clone)]
pub struct SimXen {
    world: Rc<RefCell<SimWorld>>,
    toolstack: ConnId,
}

impl Default for SimXen {
    fn default() -> Self {
        Self::new()
    }
}

impl SimXen {
    /// A simulation with domain 0 and xenstored.
    pub fn new() -> Self {
        let mut core = SimCore::new();
        let toolstack = core.store.connect_local(0);
        Self {
            world: Rc::new(RefCell::new(SimWorld {
                core,
                peers: Vec::new(),
            })),
            toolstack,
        }
    }

    /// Create guest `domid` with a store ring served by xenstored.
    pub fn add_guest(&self, domid: DomId) -> SimGuest {
        self.add_guest_with(domid, GuestConfig::default())
    }

    /// Create guest `domid` with options.
    pub fn add_guest_with(&self, domid: DomId, config: GuestConfig) -> SimGuest {
        let (store_page, store_port) = {
            let mut world = self.world.borrow_mut();
            let core = &mut world.core;
            core.create_domain(domid, config.grant_frames);
            let page = core.alloc_page(domid).expect("domain just created");
            for offset in [
                xen_guest::xenstore::REQ_CONS,
                xen_guest::xenstore::REQ_PROD,
                xen_guest::xenstore::RSP_CONS,
                xen_guest::xenstore::RSP_PROD,
            ] {
                page.store_u32(offset, config.store_ring_start);
            }
            let guest_port = core.evtchn_alloc_unbound(domid, 0).expect("fresh domain");
            let server_port = core
                .evtchn_bind_interdomain(0, domid, guest_port)
                .expect("port offered to dom0");
            let conn = core.store.connect_ring(domid, page.clone());
            core.store_links
                .insert(domid, StoreLink { conn, server_port });
            (page, guest_port)
        };
        let entries = SimGrantEntries {
            world: Rc::clone(&self.world),
            domid,
        };
        let events = Rc::clone(
            &self
                .world
                .borrow()
                .core
                .domains
                .get(&domid)
                .expect("domain just created")
                .events,
        );
        SimGuest {
            world: Rc::clone(&self.world),
            domid,
            id_known: !config.id_unknown,
            events,
            dispatcher: EventDispatcher::new(),
            grants: GrantManager::new(entries),
            store_page,
            store_port,
        }
    }

    /// Run `body` with the core (for what the handle does not wrap).
    pub fn with_core<T>(&self, body: impl FnOnce(&mut SimCore) -> T) -> T {
        body(&mut self.world.borrow_mut().core)
    }

    /// Add a simulated dom0 process.
    pub fn add_peer(&self, peer: Box<dyn SimPeer>) {
        self.world.borrow_mut().peers.push(peer);
    }

    /// Run xenstored and every peer one step; whether anything happened.
    pub fn step(&self) -> bool {
        self.world.borrow_mut().step()
    }

    /// Step until nothing happens (at most `limit` steps); returns the steps run.
    pub fn run_until_idle(&self, limit: usize) -> usize {
        (0..limit).take_while(|_| self.step()).count()
    }

    /// Simulated nanoseconds since boot.
    pub fn now_ns(&self) -> u64 {
        self.world.borrow().core.now_ns
    }

    /// Let simulated time pass up to `ns`, running xenstored and every
    /// peer at each deadline they ask for on the way (a guest that sleeps
    /// without touching its streams).
    pub fn run_until(&self, ns: u64) {
        loop {
            self.run_until_idle(10_000);
            let mut world = self.world.borrow_mut();
            let now = world.core.now_ns;
            if now >= ns {
                return;
            }
            let next = world
                .next_peer_deadline()
                .map_or(ns, |deadline| deadline.max(now + 1).min(ns));
            world.core.now_ns = next;
        }
    }

    /// Move simulated time forward to `ns` (never backwards).
    pub fn advance_to(&self, ns: u64) {
        let mut world = self.world.borrow_mut();
        world.core.now_ns = world.core.now_ns.max(ns);
    }

    /// Stop or resume serving `domid`'s store ring.
    pub fn set_store_paused(&self, domid: DomId, paused: bool) {
        self.world.borrow_mut().core.set_store_paused(domid, paused);
    }

    /// Whether xenstored gave up on `domid`'s ring (protocol violation).
    pub fn store_ring_broken(&self, domid: DomId) -> bool {
        let world = self.world.borrow();
        world
            .core
            .store_link(domid)
            .is_some_and(|link| world.core.store.is_broken(link.conn))
    }

    /// XenStore requests served so far.
    pub fn store_requests_served(&self) -> u64 {
        self.world.borrow().core.store.requests_served()
    }

    /// Read a node as the toolstack (dom0).
    pub fn store_read(&self, path: &str) -> Result<Vec<u8>, Errno> {
        let conn = self.toolstack;
        self.world.borrow_mut().core.store.read(conn, 0, path)
    }

    /// Write a node as the toolstack (fires watches at once; the guest sees
    /// the events after the next step).
    pub fn store_write(&self, path: &str, value: &[u8]) -> Result<(), Errno> {
        let conn = self.toolstack;
        self.world
            .borrow_mut()
            .core
            .store
            .write(conn, 0, path, value)
    }

    /// Remove a subtree as the toolstack.
    pub fn store_rm(&self, path: &str) -> Result<(), Errno> {
        let conn = self.toolstack;
        self.world.borrow_mut().core.store.rm(conn, 0, path)
    }

    /// List children as the toolstack.
    pub fn store_directory(&self, path: &str) -> Result<Vec<std::string::String>, Errno> {
        let conn = self.toolstack;
        self.world.borrow_mut().core.store.directory(conn, 0, path)
    }

    /// Watch as the toolstack; events come from [`SimXen::store_take_event`].
    pub fn store_watch(&self, path: &str, token: &str) -> Result<(), Errno> {
        let conn = self.toolstack;
        self.world.borrow_mut().core.store.watch(conn, path, token)
    }

    /// The toolstack's oldest watch event.
    pub fn store_take_event(&self) -> Option<WatchEvent> {
        let conn = self.toolstack;
        self.world.borrow_mut().core.store.take_event(conn)
    }

    /// What `xl shutdown` (`"poweroff"`) / `xl reboot` (`"reboot"`) do:
    /// write the word to the guest's `control/shutdown`.
    pub fn xl_shutdown(&self, domid: DomId, word: &str) -> Result<(), Errno> {
        self.store_write(
            &std::format!("{}/control/shutdown", xenstored::domain_path(domid)),
            word.as_bytes(),
        )
    }

    /// Grants of `domid` that still permit access.
    pub fn granted_refs(&self, domid: DomId) -> Vec<GrantRef> {
        self.world.borrow().core.granted_refs(domid)
    }

    /// Map a grant as `mapper` (see [`SimCore::map_grant`]).
    pub fn map_grant(
        &self,
        mapper: DomId,
        granter: DomId,
        gref: GrantRef,
        writable: bool,
    ) -> Result<SimMapping, XenError> {
        self.world
            .borrow_mut()
            .core
            .map_grant(mapper, granter, gref, writable)
    }

    /// Unmap a grant mapped with [`SimXen::map_grant`].
    pub fn unmap_grant(&self, handle: u32) -> Result<(), XenError> {
        self.world.borrow_mut().core.unmap_grant(handle)
    }
}

/// The guest's grant entries inside the simulation.
pub struct SimGrantEntries {
    world: Rc<RefCell<SimWorld>>,
    domid: DomId,
}

impl core::fmt::Debug for SimGrantEntries {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("SimGrantEntries")
            .field("domid", &self.domid)
            .finish()
    }
}

impl SimGrantEntries {
    fn with_entry<T>(&self, gref: GrantRef, body: impl FnOnce(&mut SimGrantEntry) -> T) -> T {
        let mut world = self.world.borrow_mut();
        let domain = world
            .core
            .domains
            .get_mut(&self.domid)
            .expect("guest domain exists");
        body(&mut domain.grants[gref as usize])
    }
}

impl GrantEntries for SimGrantEntries {
    fn capacity(&self) -> u32 {
        let world = self.world.borrow();
        world
            .core
            .domains
            .get(&self.domid)
            .map_or(0, |domain| domain.grants.len() as u32)
    }

    fn write_domid_frame(&self, gref: GrantRef, domid: DomId, frame: u32) {
        self.with_entry(gref, |entry| {
            entry.domid = domid;
            entry.frame = frame;
        });
    }

    fn store_flags(&self, gref: GrantRef, flags: u16) {
        self.with_entry(gref, |entry| entry.flags = flags);
    }

    fn load_flags(&self, gref: GrantRef) -> u16 {
        self.with_entry(gref, |entry| entry.flags)
    }

    fn compare_exchange_flags(&self, gref: GrantRef, current: u16, new: u16) -> Result<u16, u16> {
        self.with_entry(gref, |entry| {
            if entry.flags == current {
                entry.flags = new;
                Ok(current)
            } else {
                Err(entry.flags)
            }
        })
    }
}

/// The guest's view of the simulation: a [`Platform`] for frontend code.
pub struct SimGuest {
    world: Rc<RefCell<SimWorld>>,
    domid: DomId,
    /// What [`Platform::domid`] says (see [`GuestConfig::id_unknown`]).
    id_known: bool,
    /// Our domain's event bitmaps (`shared_info`/`vcpu_info`).
    events: Rc<SimEventBitmaps>,
    dispatcher: EventDispatcher,
    grants: GrantManager<SimGrantEntries>,
    store_page: SimPage,
    store_port: Port,
}

impl SimGuest {
    /// Our domain id.
    pub fn id(&self) -> DomId {
        self.domid
    }

    /// A XenStore client on our store ring (as the guest builds it from
    /// `HVM_PARAM_STORE_PFN` / `HVM_PARAM_STORE_EVTCHN`).
    pub fn xenstore(&self) -> Result<XenStore<SimPage>, XsError> {
        XenStore::new(self.store_page.clone(), self.store_port)
    }

    /// The store ring page (tests write bogus replies into it).
    pub fn store_page(&self) -> SimPage {
        self.store_page.clone()
    }

    /// The store event channel.
    pub fn store_port(&self) -> Port {
        self.store_port
    }

    /// The grant manager.
    pub fn grants(&mut self) -> &mut GrantManager<SimGrantEntries> {
        &mut self.grants
    }

    /// Grant `page` to `domid` (see [`GrantManager::grant_page`]).
    pub fn grant_page(
        &mut self,
        page: SimPage,
        domid: DomId,
        readonly: bool,
    ) -> Result<GrantedPage<SimPage>, (SimPage, XenError)> {
        self.grants.grant_page(page, domid, readonly)
    }

    /// Revoke a granted page (see [`GrantManager::revoke_page`]).
    pub fn revoke_page(
        &mut self,
        granted: GrantedPage<SimPage>,
    ) -> Result<SimPage, (GrantedPage<SimPage>, XenError)> {
        self.grants.revoke_page(granted)
    }

    /// Register a handler for `port` (called from the simulated upcall).
    pub fn register_handler(&mut self, port: Port, handler: PortHandler) -> Result<(), XenError> {
        self.dispatcher.register(port, handler)
    }

    /// Bind to `remote_port` of `remote` (`EVTCHNOP_bind_interdomain`).
    pub fn bind_interdomain(&mut self, remote: DomId, remote_port: Port) -> Result<Port, XenError> {
        self.world
            .borrow_mut()
            .core
            .evtchn_bind_interdomain(self.domid, remote, remote_port)
    }

    /// Mask `port`.
    pub fn mask(&mut self, port: Port) {
        let _ = self.world.borrow_mut().core.evtchn_mask(self.domid, port);
    }

    /// Run the upcall if Xen raised one: scan the bitmaps into the
    /// dispatcher. Returns the number of ports fired.
    pub fn upcall(&mut self) -> u32 {
        if !self.events.upcall_pending() {
            return 0;
        }
        self.dispatcher.upcall(&*self.events)
    }
}

impl EventChannels for SimGuest {
    fn alloc_unbound(&mut self, remote: DomId) -> Result<Port, XenError> {
        self.world
            .borrow_mut()
            .core
            .evtchn_alloc_unbound(self.domid, remote)
    }

    fn notify(&mut self, port: Port) {
        let _ = self.world.borrow_mut().core.evtchn_send(self.domid, port);
    }

    fn unmask(&mut self, port: Port) {
        let _ = self.world.borrow_mut().core.evtchn_unmask(self.domid, port);
    }

    fn close(&mut self, port: Port) {
        let _ = self.world.borrow_mut().core.evtchn_close(self.domid, port);
        self.dispatcher.unregister(port);
    }

    fn take_pending(&mut self, port: Port) -> bool {
        self.upcall();
        self.dispatcher.take_pending(port)
    }
}

impl GrantTable for SimGuest {
    fn grant(&mut self, domid: DomId, gfn: Gfn, readonly: bool) -> Result<GrantRef, XenError> {
        self.grants.grant(domid, gfn, readonly)
    }

    fn revoke(&mut self, gref: GrantRef) -> Result<(), XenError> {
        self.grants.revoke(gref)
    }
}

impl PageAllocator for SimGuest {
    type Page = SimPage;

    fn alloc_page(&mut self) -> Result<SimPage, XenError> {
        self.world.borrow_mut().core.alloc_page(self.domid)
    }
}

impl Clock for SimGuest {
    fn now_ns(&self) -> u64 {
        self.world.borrow().core.now_ns
    }

    /// Like `sti; hlt` with the one-shot timer at `deadline_ns`: run the
    /// peers one step; return at once if that raised an upcall for us (or
    /// made progress: a spurious wake-up), else jump time to the deadline
    /// or the earliest peer deadline.
    fn wait_until(&mut self, deadline_ns: u64) {
        self.upcall();
        let progress = self.world.borrow_mut().step();
        if self.upcall() > 0 || progress {
            return;
        }
        let mut world = self.world.borrow_mut();
        let target = world
            .next_peer_deadline()
            .map_or(deadline_ns, |peer| peer.min(deadline_ns));
        world.core.now_ns = world.core.now_ns.max(target);
    }
}

impl Platform for SimGuest {
    fn domid(&self) -> Option<DomId> {
        self.id_known.then_some(self.domid)
    }

    /// From the simulated Xen's own tables: entries of our grant table
    /// that grant access, and our ports that are not closed.
    fn resource_usage(&self) -> Option<xen_guest::ResourceUsage> {
        let world = self.world.borrow();
        let event_channels = world
            .core
            .domains
            .get(&self.domid)
            .map_or(0, |domain| domain.ports.len());
        Some(xen_guest::ResourceUsage {
            grants: world.core.granted_refs(self.domid).len(),
            event_channels,
        })
    }
}
