//! The real guest platform: [`XenPlatform`] implements
//! [`xen_guest::Platform`] with hypercalls, the shared-info page, the grant
//! frames and the event-callback vector, so the frontend runs unchanged
//! under Xen (the simulator, `xensnd_sim::SimGuest`, is the host twin).
//!
//! - Events (`event_channel.h`, `hvm/params.h`): `HVM_PARAM_CALLBACK_IRQ`
//!   = vector [`idt::EVENT_CALLBACK_VECTOR`]; its handler scans the two-level
//!   bitmaps into a static [`EventDispatcher`]. The guest runs with
//!   interrupts disabled except inside [`cpu::halt`], so the handler never
//!   interrupts code holding the dispatcher lock (it still only *tries* the
//!   lock; on failure it leaves the bitmaps for normal code to scan).
//!   [`EventChannels::take_pending`] also scans, so polling works without
//!   an interrupt.
//! - Grants (`grant_table.h` v1): `GNTTABOP_query_size`, up to
//!   [`grant_frames::MAX_FRAMES`] frames mapped above RAM, the shared
//!   [`GrantManager`] over them. Granted frames are registered so a page
//!   dropped while granted is leaked, never reused ([`super::page`]).
//! - Foreign mappings: [`FOREIGN_WINDOW_FRAMES`] frames right after the
//!   grant frames are kept free for other domains' pages
//!   ([`super::foreign`], used only by an app that serves: `crate::serve`).
//!   The window is address space in the hole above RAM, no memory.
//! - Time (`xen.h` `vcpu_time_info`, `vcpu.h`): the PV clock of vCPU 0;
//!   [`Clock::wait_until`] arms `VCPUOP_set_singleshot_timer` (bound to
//!   `VIRQ_TIMER`) and halts until any event arrives.
//! - XenStore: the ring at `HVM_PARAM_STORE_PFN`, port
//!   `HVM_PARAM_STORE_EVTCHN`.

use alloc::collections::{BTreeMap, BTreeSet};
use core::cell::Cell;
use core::fmt;
use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};

use super::grant_frames::{self, GrantFrames};
use super::page::{GrantedFrames, XenPage};
use super::shared_info::SharedInfoPage;
use super::{cpu, hypercall, idt, memmap, Boot};
use xen_abi::hvm::{HVM_PARAM_CALLBACK_IRQ, HVM_PARAM_STORE_EVTCHN, HVM_PARAM_STORE_PFN};
use xen_abi::xen::VIRQ_TIMER;
use xen_guest::evtchn::{callback_via_vector, EventBitmaps, EventDispatcher};
use xen_guest::grant::GrantManager;
use xen_guest::time::{read_clock_ns, scale_delta, PvClockSource};
use xen_guest::xenstore::{XenStore, XsError};
use xen_guest::{
    Clock, DomId, EventChannels, Gfn, GrantRef, GrantTable, PageAllocator, Platform, Port,
    ResourceUsage, XenError, PAGE_SIZE,
};

/// The shared-info page, once mapped (read by the upcall handler).
static SHARED_INFO: spin::Once<SharedInfoPage> = spin::Once::new();
/// Which ports fired. Normal code holds the lock only with interrupts
/// disabled (always, outside `cpu::halt`); the handler only tries it.
static DISPATCHER: spin::Mutex<EventDispatcher> = spin::Mutex::new(EventDispatcher::new());
/// Upcalls taken (handler runs).
static UPCALLS: AtomicU64 = AtomicU64::new(0);
/// Upcalls that found the dispatcher locked (should stay 0).
static UPCALLS_DEFERRED: AtomicU64 = AtomicU64::new(0);

/// The handler of [`idt::EVENT_CALLBACK_VECTOR`]: scan the bitmaps into
/// the dispatcher. Interrupt context: no allocation, no waiting on a lock.
fn upcall() {
    UPCALLS.fetch_add(1, Ordering::Relaxed);
    let Some(shared_info) = SHARED_INFO.get() else {
        return;
    };
    match DISPATCHER.try_lock() {
        Some(mut dispatcher) => {
            dispatcher.upcall(shared_info);
        }
        None => {
            // The vector is re-injected while evtchn_upcall_pending is set:
            // clear it so we can return; the selector and pending bits stay
            // for the next scan by normal code (`take_pending`).
            UPCALLS_DEFERRED.fetch_add(1, Ordering::Relaxed);
            shared_info.clear_upcall_pending();
        }
    }
}

/// Scan the bitmaps now if Xen flagged an upcall that was not delivered yet
/// (normal code runs with interrupts disabled), or if a deferred upcall
/// left the selector for us.
fn scan_pending(shared_info: &SharedInfoPage, dispatcher: &mut EventDispatcher) {
    if shared_info.upcall_pending() || UPCALLS_DEFERRED.load(Ordering::Relaxed) != 0 {
        dispatcher.upcall(shared_info);
    }
}

/// Why the platform could not be brought up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlatformError {
    /// No hypervisor (plain QEMU).
    NoXen,
    /// No free guest frames above RAM for the shared-info and grant pages.
    NoFreeFrames,
    /// A setup step failed.
    Step {
        /// What was being done.
        step: &'static str,
        /// The hypercall error.
        error: XenError,
    },
    /// The event-callback vector already has a handler (a self-test took it).
    HandlerTaken,
    /// The XenStore ring could not be used.
    Store(XsError),
}

impl fmt::Display for PlatformError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoXen => write!(formatter, "not running on Xen"),
            Self::NoFreeFrames => write!(formatter, "no free guest frames above RAM"),
            Self::Step { step, error } => write!(formatter, "{step}: {error:?}"),
            Self::HandlerTaken => write!(formatter, "event-callback vector already in use"),
            Self::Store(error) => write!(formatter, "XenStore: {error}"),
        }
    }
}

fn step(step: &'static str) -> impl FnOnce(XenError) -> PlatformError {
    move |error| PlatformError::Step { step, error }
}

/// Counters for the report at the end of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlatformStatistics {
    /// Upcalls taken.
    pub upcalls: u64,
    /// Upcalls that found the dispatcher busy.
    pub upcalls_deferred: u64,
    /// Times the CPU halted in `wait_until`.
    pub halts: u64,
    /// One-shot timers armed.
    pub timers_armed: u64,
    /// Waits whose deadline had already passed when arming.
    pub timers_already_passed: u64,
    /// Grants live now.
    pub grants_live: usize,
    /// Heap pages leaked because they were dropped while granted.
    pub pages_leaked: usize,
}

/// Where the platform put things (for the boot log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformLayout {
    /// Frame of the shared-info page.
    pub shared_info_gfn: Gfn,
    /// First grant frame.
    pub grant_gfn: Gfn,
    /// Grant frames mapped.
    pub grant_frames: u32,
    /// Grant-table frames Xen allows us.
    pub grant_frames_max: u32,
    /// Port bound to `VIRQ_TIMER`.
    pub timer_port: Port,
    /// XenStore ring frame.
    pub store_gfn: Gfn,
    /// XenStore event channel.
    pub store_port: Port,
    /// First frame of the foreign-mapping window (`super::foreign`),
    /// [`FOREIGN_WINDOW_FRAMES`] long.
    pub foreign_gfn: Gfn,
}

/// Frames reserved above RAM for mapping other domains' pages (4 MiB): a
/// backend's rings and buffers (`super::foreign`). Guest-physical address
/// space only; apps that do not serve never map there.
pub const FOREIGN_WINDOW_FRAMES: u64 = 1024;

/// The guest's [`Platform`]: hypercalls, shared info, grant frames.
pub struct XenPlatform {
    shared_info: SharedInfoPage,
    grants: GrantManager<GrantFrames>,
    granted: BTreeMap<GrantRef, Gfn>,
    /// Ports Xen gave us (timer VIRQ, `alloc_unbound`) and we have not
    /// closed: [`Platform::resource_usage`]'s event channels.
    open_ports: BTreeSet<Port>,
    timer_port: Port,
    last_ns: Cell<u64>,
    domid: Option<DomId>,
    layout: PlatformLayout,
    halts: u64,
    timers_armed: u64,
    timers_already_passed: u64,
}

impl fmt::Debug for XenPlatform {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("XenPlatform")
            .field("layout", &self.layout)
            .field("domid", &self.domid)
            .finish()
    }
}

/// The vCPU we run on (the guest has one).
const VCPU: u32 = 0;

/// The furthest ahead a one-shot timer is armed (one hour).
const MAX_TIMER_NS: u64 = 3_600_000_000_000;

impl XenPlatform {
    /// Bring the Xen services up after [`super::init`]: map shared info and
    /// the grant frames above RAM, route upcalls to the callback vector,
    /// bind the timer VIRQ and attach to the XenStore ring. Returns the
    /// platform and the XenStore client (our domain id is read through it).
    /// Call once.
    pub fn new(boot: &Boot) -> Result<(Self, XenStore<XenPage>), PlatformError> {
        if boot.xen.is_none() || !hypercall::is_available() {
            return Err(PlatformError::NoXen);
        }
        if SHARED_INFO.is_completed() {
            return Err(step("XenPlatform::new")(XenError::Invalid));
        }
        let store_gfn =
            hypercall::hvm_get_param(HVM_PARAM_STORE_PFN).map_err(step("HVM_PARAM_STORE_PFN"))?;
        let store_port = hypercall::hvm_get_param(HVM_PARAM_STORE_EVTCHN)
            .map_err(step("HVM_PARAM_STORE_EVTCHN"))? as Port;

        // One frame for shared info, then the grant frames, then the
        // foreign-mapping window, in a hole above RAM that nothing uses (a
        // hole costs no memory: the window is only address space).
        let pages = 1 + u64::from(grant_frames::MAX_FRAMES);
        let mut avoid: heapless::Vec<Range<u64>, 24> = heapless::Vec::new();
        let _ = avoid.extend_from_slice(&boot.start_info.reserved);
        let _ = avoid.push(boot.image.clone());
        let _ = avoid.push(boot.heap.clone());
        let store_address = store_gfn.saturating_mul(PAGE_SIZE as u64);
        let _ = avoid.push(store_address..store_address.saturating_add(PAGE_SIZE as u64));
        let base = memmap::select_free_frames(
            &boot.start_info.memory_map,
            &avoid,
            pages + FOREIGN_WINDOW_FRAMES,
            super::IDENTITY_MAP_LIMIT,
        )
        .ok_or(PlatformError::NoFreeFrames)?;
        let shared_info_gfn = base / PAGE_SIZE as u64;
        let grant_gfn = shared_info_gfn + 1;

        // SAFETY: `select_free_frames` picked frames above RAM (no guest
        // data), outside every memory-map entry, the image, heap, boot data
        // and the special pages, inside the identity map; this is the only
        // call (checked by SHARED_INFO above).
        let shared_info =
            unsafe { SharedInfoPage::map(shared_info_gfn) }.map_err(step("map shared info"))?;
        SHARED_INFO.call_once(|| shared_info);

        if !idt::register_event_handler(upcall) {
            return Err(PlatformError::HandlerTaken);
        }
        hypercall::hvm_set_param(
            HVM_PARAM_CALLBACK_IRQ,
            callback_via_vector(idt::EVENT_CALLBACK_VECTOR),
        )
        .map_err(step("HVM_PARAM_CALLBACK_IRQ"))?;

        let (_, grant_frames_max) =
            hypercall::grant_table_query_size().map_err(step("GNTTABOP_query_size"))?;
        // SAFETY: the MAX_FRAMES frames after the shared-info frame are part
        // of the free range chosen above, used for nothing else.
        let frames = unsafe { GrantFrames::map(grant_gfn, grant_frames::MAX_FRAMES) }
            .map_err(step("map grant frames"))?;
        let grant_frame_count = frames.frames();

        // Only our one-shot timer, no periodic tick (PV guests get a 10 ms
        // one by default; harmless if there is none).
        let _ = hypercall::vcpu_stop_periodic_timer(VCPU);
        let timer_port = hypercall::event_channel_bind_virq(VIRQ_TIMER, VCPU)
            .map_err(step("bind VIRQ_TIMER"))?;
        let _ = hypercall::event_channel_unmask(timer_port);

        // SAFETY: HVM_PARAM_STORE_PFN names Xen's XenStore ring page: a
        // special page below 4 GiB (identity-mapped), kept out of the heap by
        // `arch::init`, wrapped only here (this function runs once).
        let store_page = unsafe { XenPage::special(store_gfn) }.map_err(step("XenStore page"))?;
        let store = XenStore::new(store_page, store_port).map_err(PlatformError::Store)?;

        let layout = PlatformLayout {
            shared_info_gfn,
            grant_gfn,
            grant_frames: grant_frame_count,
            grant_frames_max,
            timer_port,
            store_gfn,
            store_port,
            foreign_gfn: grant_gfn + u64::from(grant_frames::MAX_FRAMES),
        };
        let platform = Self {
            shared_info,
            grants: GrantManager::new(frames),
            granted: BTreeMap::new(),
            open_ports: BTreeSet::from([timer_port]),
            timer_port,
            last_ns: Cell::new(0),
            domid: None,
            layout,
            halts: 0,
            timers_armed: 0,
            timers_already_passed: 0,
        };
        Ok((platform, store))
    }

    /// Read our domain id from XenStore (`domid`, relative to our home) and
    /// remember it for [`Platform::domid`].
    pub fn read_domid(&mut self, store: &mut XenStore<XenPage>) -> Result<DomId, XsError> {
        let text = store.read_string(self, "domid")?;
        let domid = text
            .trim()
            .parse()
            .map_err(|_| XsError::Malformed("domid is not a number"))?;
        self.domid = Some(domid);
        Ok(domid)
    }

    /// Remember our domain id (read by the caller, e.g. in a batch of
    /// XenStore requests) for [`Platform::domid`].
    pub fn set_domid(&mut self, domid: DomId) {
        self.domid = Some(domid);
    }

    /// Where things were mapped.
    pub fn layout(&self) -> PlatformLayout {
        self.layout
    }

    /// Counters.
    pub fn statistics(&self) -> PlatformStatistics {
        PlatformStatistics {
            upcalls: UPCALLS.load(Ordering::Relaxed),
            upcalls_deferred: UPCALLS_DEFERRED.load(Ordering::Relaxed),
            halts: self.halts,
            timers_armed: self.timers_armed,
            timers_already_passed: self.timers_already_passed,
            grants_live: self.grants.granted_count(),
            pages_leaked: super::page::leaked_pages(),
        }
    }

    /// Nanoseconds from TSC value `earlier_tsc` (e.g. taken at entry) to
    /// now, at the TSC frequency Xen reports (CPUID leaf 0x40000003, its
    /// boot calibration), or with the PV clock's current scale
    /// (`tsc_to_system_mul`, `tsc_shift`) if it reports none. Not the PV
    /// scale first: Xen re-derives that every second from the TSC and its
    /// platform timer, and under nested emulation (QEMU TCG) a preempted
    /// sample pair skews it for an epoch; the current scale applied to a
    /// whole interval then disagreed with the PV clock by -210..+750 ms.
    /// The TSC itself runs at a constant rate there (QEMU passes the host's).
    pub fn ns_since_tsc(&self, earlier_tsc: u64) -> u64 {
        let delta = cpu::read_tsc().saturating_sub(earlier_tsc);
        match hypercall::tsc_khz() {
            0 => {
                let fields = self.shared_info.fields();
                scale_delta(delta, fields.tsc_to_system_mul, fields.tsc_shift)
            }
            khz => {
                let ns = u128::from(delta) * 1_000_000 / u128::from(khz);
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
        }
    }

    /// Unix time in nanoseconds of TSC value `earlier_tsc` (Xen's wall
    /// clock plus the PV clock), to line guest events up with dom0's clock.
    /// `None` if Xen has not set the domain's wall clock.
    pub fn unix_ns_at_tsc(&self, earlier_tsc: u64) -> Option<u64> {
        let base = self.shared_info.wallclock_base_ns()?;
        let system_now = read_clock_ns(&self.shared_info);
        let system_then = system_now.saturating_sub(self.ns_since_tsc(earlier_tsc));
        Some(base.saturating_add(system_then))
    }

    fn with_dispatcher<T>(&self, f: impl FnOnce(&mut EventDispatcher) -> T) -> T {
        // Interrupts are disabled in normal code, so the handler cannot run
        // while we hold the lock (and nothing else takes it).
        debug_assert!(!cpu::interrupts_enabled());
        let mut dispatcher = DISPATCHER.lock();
        scan_pending(&self.shared_info, &mut dispatcher);
        f(&mut dispatcher)
    }
}

impl XenPlatform {
    /// `EVTCHNOP_bind_interdomain`: a local port connected to `remote_port`
    /// of `remote`, unmasked; counted as open until [`EventChannels::close`].
    pub fn bind_interdomain(&mut self, remote: DomId, remote_port: Port) -> Result<Port, XenError> {
        let port = hypercall::event_channel_bind_interdomain(remote, remote_port)?;
        self.open_ports.insert(port);
        self.unmask(port);
        Ok(port)
    }
}

impl EventChannels for XenPlatform {
    fn alloc_unbound(&mut self, remote: DomId) -> Result<Port, XenError> {
        let port = hypercall::event_channel_alloc_unbound(remote)?;
        self.open_ports.insert(port);
        Ok(port)
    }

    fn notify(&mut self, port: Port) {
        if let Err(error) = hypercall::event_channel_send(port) {
            log::warn!("EVTCHNOP_send({port}) failed: {error:?}");
        }
    }

    fn unmask(&mut self, port: Port) {
        if let Err(error) = hypercall::event_channel_unmask(port) {
            log::warn!("EVTCHNOP_unmask({port}) failed: {error:?}");
        }
    }

    fn close(&mut self, port: Port) {
        match hypercall::event_channel_close(port) {
            Ok(()) => {
                self.open_ports.remove(&port);
            }
            Err(error) => log::warn!("EVTCHNOP_close({port}) failed: {error:?}"),
        }
        self.with_dispatcher(|dispatcher| dispatcher.unregister(port));
    }

    fn take_pending(&mut self, port: Port) -> bool {
        self.with_dispatcher(|dispatcher| dispatcher.take_pending(port))
    }
}

impl GrantTable for XenPlatform {
    fn grant(&mut self, domid: DomId, gfn: Gfn, readonly: bool) -> Result<GrantRef, XenError> {
        let gref = self.grants.grant_frame(domid, gfn, readonly)?;
        self.granted.insert(gref, gfn);
        GrantedFrames::add(gfn);
        Ok(gref)
    }

    fn revoke(&mut self, gref: GrantRef) -> Result<(), XenError> {
        self.grants.end_access(gref)?;
        if let Some(gfn) = self.granted.remove(&gref) {
            GrantedFrames::remove(gfn);
        }
        Ok(())
    }
}

impl PageAllocator for XenPlatform {
    type Page = XenPage;

    fn alloc_page(&mut self) -> Result<XenPage, XenError> {
        XenPage::allocate()
    }
}

impl Clock for XenPlatform {
    fn now_ns(&self) -> u64 {
        let now = read_clock_ns(&self.shared_info).max(self.last_ns.get());
        self.last_ns.set(now);
        now
    }

    /// Arm the one-shot timer for `deadline_ns` and halt until an upcall
    /// (any event, or the timer's `VIRQ_TIMER`) arrives. An event that
    /// arrived since the caller last looked is already flagged, so the halt
    /// returns at once: `cpu::halt` enables interrupts only inside `hlt`.
    fn wait_until(&mut self, deadline_ns: u64) {
        let now = self.now_ns();
        if now >= deadline_ns {
            return;
        }
        // Xen keeps timer deadlines as signed 64-bit nanoseconds: a far
        // deadline (u64::MAX from a saturating add) would wrap negative and
        // fire at once. Waking after an hour instead is a harmless spurious
        // return.
        let armed_deadline = deadline_ns.min(now.saturating_add(MAX_TIMER_NS));
        match hypercall::vcpu_set_singleshot_timer(VCPU, armed_deadline) {
            Ok(hypercall::TimerArmed::Armed) => self.timers_armed += 1,
            Ok(hypercall::TimerArmed::AlreadyPassed) => {
                self.timers_already_passed += 1;
                return;
            }
            Err(error) => {
                // Without a timer a halt could sleep past the deadline:
                // yield instead (the caller re-checks and calls again).
                log::warn!("VCPUOP_set_singleshot_timer failed: {error:?}");
                let _ = hypercall::sched_yield();
                return;
            }
        }
        self.halts += 1;
        cpu::halt();
        // The timer port only wakes us; nobody else takes it.
        let timer_port = self.timer_port;
        self.with_dispatcher(|dispatcher| dispatcher.take_pending(timer_port));
    }
}

impl Platform for XenPlatform {
    fn domid(&self) -> Option<DomId> {
        self.domid
    }

    /// Grants: entries of our grant table in use (the grant manager's
    /// count); event channels: the ports Xen allocated or bound for us
    /// that were not closed since (the PV console's and XenStore's ports,
    /// which the toolstack made, are not counted).
    fn resource_usage(&self) -> Option<ResourceUsage> {
        Some(ResourceUsage {
            grants: self.grants.granted_count(),
            event_channels: self.open_ports.len(),
        })
    }
}
