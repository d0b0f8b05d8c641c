//! Error paths below the stream (issue #13, "smaller" defects): a buffer
//! whose directory grant fails halfway, a connect whose `Connected` write
//! fails, and a XenStore watch wait under other tokens' traffic. Each must
//! leave nothing behind and end on time.

mod hostile_common;

use std::cell::Cell;

use hostile_common::*;
use xen_guest::xenstore::XsError;
use xen_guest::{
    Clock, DomId, EventChannels, Gfn, GrantRef, GrantTable, PageAllocator, Platform, Port,
    XenError, PAGE_SIZE,
};
use xensnd_sim::hostile::{HostileBackend, Phase};
use xensnd_sim::vsnd::{add_vsnd_device, SimVsndSpec};
use xensnd_sim::{SimCore, SimGuest, SimPage, SimPeer, SimXen};
use xensnd_sndif::buffer::{BufferError, GrantedBuffer};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};

/// The simulated guest, but grant number `fail_at` (0-based) fails.
struct FailingGrants<'a> {
    guest: &'a mut SimGuest,
    grants: usize,
    fail_at: usize,
}

impl GrantTable for FailingGrants<'_> {
    fn grant(&mut self, domid: DomId, gfn: Gfn, readonly: bool) -> Result<GrantRef, XenError> {
        let n = self.grants;
        self.grants += 1;
        if n == self.fail_at {
            return Err(XenError::Exhausted);
        }
        self.guest.grant(domid, gfn, readonly)
    }
    fn revoke(&mut self, gref: GrantRef) -> Result<(), XenError> {
        self.guest.revoke(gref)
    }
}

impl PageAllocator for FailingGrants<'_> {
    type Page = SimPage;
    fn alloc_page(&mut self) -> Result<SimPage, XenError> {
        self.guest.alloc_page()
    }
}

#[test]
fn a_directory_grant_failing_halfway_revokes_the_earlier_directory_grants() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(GUEST);
    // 1024 data pages need two directory pages; the second one's grant fails.
    let data_pages = 1024;
    let mut failing = FailingGrants {
        guest: &mut guest,
        grants: 0,
        fail_at: data_pages + 1,
    };
    let error = GrantedBuffer::new(&mut failing, 0, data_pages * PAGE_SIZE).unwrap_err();
    assert_eq!(error, BufferError::Xen(XenError::Exhausted));
    assert_eq!(
        failing.grants,
        data_pages + 2,
        "the failing grant was reached"
    );
    assert_eq!(sim.granted_refs(GUEST), Vec::<u32>::new(), "grants leaked");
}

/// Stops serving the guest's XenStore ring the first time the backend
/// says Connected (so the connect fails at its last step: the read of that
/// state times out; the frontend's own `Connected`, sent after it without
/// waiting, is never sent).
struct PauseStoreAtConnected {
    backend_state: String,
    done: bool,
}

impl SimPeer for PauseStoreAtConnected {
    fn step(&mut self, core: &mut SimCore) -> bool {
        if self.done {
            return false;
        }
        let conn = core.store().connect_local(0);
        if core.store().read(conn, 0, &self.backend_state).as_deref() == Ok(b"4") {
            core.set_store_paused(GUEST, true);
            self.done = true;
        }
        false
    }
}

#[test]
fn a_failed_connected_write_tears_its_streams_down_before_the_next_connect() {
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &SimVsndSpec::simple()));
    let baseline = guest.resource_usage().unwrap();
    let (backend, hostile) = HostileBackend::new(GUEST, 0);
    sim.add_peer(Box::new(PauseStoreAtConnected {
        backend_state: format!("{}/state", be_path()),
        done: false,
    }));
    sim.add_peer(Box::new(backend));
    let store = guest.xenstore().unwrap();
    let probe = Frontend::probe(guest, store, FrontendOptions::default()).unwrap();
    assert_eq!(probe.failed.len(), 1, "the last read timed out");
    let frontend = probe.frontend;
    assert_eq!(frontend.connected_devices(), 0);
    // XenStore is back; the backend restarts (InitWait) and connects again.
    sim.set_store_paused(GUEST, false);
    sim.store_write(&format!("{}/state", be_path()), b"2")
        .unwrap();
    sim.run_until_idle(100);
    hostile.borrow_mut().phase = Phase::InitWait;
    sim.store_write(&format!("{}/state", be_path()), b"2")
        .unwrap();
    for _ in 0..100 {
        frontend.poll();
        if frontend.connected_devices() == 1 {
            break;
        }
        frontend.with_platform(|xen| {
            let deadline = xen.now_ns() + 10_000_000;
            xen.wait_until(deadline)
        });
    }
    assert_eq!(frontend.connected_devices(), 1, "reconnected");
    frontend.shutdown();
    sim.run_until_idle(1000);
    frontend.poll();
    assert_eq!(sim.granted_refs(GUEST), Vec::<u32>::new(), "grants leaked");
    let usage = frontend.resource_usage().unwrap();
    assert_eq!(
        usage.event_channels, baseline.event_channels,
        "event channels leaked"
    );
}

/// Writes `node` at every step (watch traffic for another token).
struct Chatter {
    node: String,
    count: u64,
}

impl SimPeer for Chatter {
    fn step(&mut self, core: &mut SimCore) -> bool {
        let conn = core.store().connect_local(0);
        self.count += 1;
        let _ = core
            .store()
            .write(conn, 0, &self.node, self.count.to_string().as_bytes());
        true
    }
}

/// A platform whose xenstored answers at once (each notification runs the
/// simulation a step) and whose clock moves 1 ms per notification: a busy
/// store that always has something new by the time we look again.
struct BusyStore {
    guest: SimGuest,
    sim: SimXen,
    steps: Cell<u64>,
}

impl EventChannels for BusyStore {
    fn alloc_unbound(&mut self, remote: DomId) -> Result<Port, XenError> {
        self.guest.alloc_unbound(remote)
    }
    fn notify(&mut self, port: Port) {
        self.guest.notify(port);
        self.sim.step();
        self.steps.set(self.steps.get() + 1);
        self.sim.advance_to(self.sim.now_ns() + 1_000_000);
    }
    fn unmask(&mut self, port: Port) {
        self.guest.unmask(port)
    }
    fn close(&mut self, port: Port) {
        self.guest.close(port)
    }
    fn take_pending(&mut self, port: Port) -> bool {
        self.guest.take_pending(port)
    }
}

impl Clock for BusyStore {
    fn now_ns(&self) -> u64 {
        self.guest.now_ns()
    }
    fn wait_until(&mut self, deadline_ns: u64) {
        self.guest.wait_until(deadline_ns)
    }
}

#[test]
fn wait_watch_event_returns_at_its_deadline_under_other_tokens_traffic() {
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    let mut store = guest.xenstore().unwrap();
    let mut env = BusyStore {
        guest,
        sim: sim.clone(),
        steps: Cell::new(0),
    };
    store.watch(&mut env, "quiet", "mine").unwrap();
    store.watch(&mut env, "busy", "other").unwrap();
    while store.take_watch_event("mine").is_some() {}
    sim.add_peer(Box::new(Chatter {
        node: format!("/local/domain/{GUEST}/busy"),
        count: 0,
    }));
    let deadline = env.now_ns() + 100_000_000;
    let result = store.wait_watch_event(&mut env, "mine", deadline);
    assert_eq!(result.unwrap_err(), XsError::Timeout);
    let late = env.now_ns().saturating_sub(deadline);
    assert!(late <= 2_000_000, "returned {late} ns past its deadline");
    assert!(env.steps.get() >= 50, "the store was busy meanwhile");
}
