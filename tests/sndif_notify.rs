//! Notifications on the data path (issue #7): the frontend asks the backend
//! for a ring notification (`rsp_event`) only when it blocks for a
//! response, so steady playback costs the backend one notification per
//! period (the position event), and nothing stalls when no event comes.
//!
//! The guest here wakes from `wait_until` only for an event-channel upcall
//! or its timer, like a halted vCPU (the plain simulator also wakes on any
//! backend progress, which would hide a missing notification).

#[macro_use]
mod profiles;

use std::cell::RefCell;
use std::rc::Rc;

use xen_guest::{
    Clock, DomId, EventChannels, Gfn, GrantRef, GrantTable, PageAllocator, Platform, Port, XenError,
};
use xensnd_backend::Counters;
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Playback, Stream};
use xensnd_sim::backend_host::BackendProfile;
use xensnd_sim::backend_host::{SimBackendView, SimSndBackend};
use xensnd_sim::page::SimPage;
use xensnd_sim::vsnd::{add_vsnd_device, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::SndPlayback;

const GUEST: u16 = 7;
/// 48 kHz stereo s16: 10 ms periods of 480 frames, 4 periods of buffer.
const PERIOD_FRAMES: usize = 480;
const FRAME_BYTES: usize = 4;

/// A simulated guest whose `wait_until` behaves like `hlt` with a one-shot
/// timer: it returns only when an event channel fired or the deadline
/// passed. Time moves in steps of at most `tick_ns` while nothing happens.
struct HaltingGuest {
    inner: SimGuest,
    sim: SimXen,
    tick_ns: u64,
    /// Returns caused by an upcall (not the deadline).
    wakeups: Rc<RefCell<u64>>,
}

impl EventChannels for HaltingGuest {
    fn alloc_unbound(&mut self, remote: DomId) -> Result<Port, XenError> {
        self.inner.alloc_unbound(remote)
    }
    fn notify(&mut self, port: Port) {
        self.inner.notify(port)
    }
    fn unmask(&mut self, port: Port) {
        self.inner.unmask(port)
    }
    fn close(&mut self, port: Port) {
        EventChannels::close(&mut self.inner, port)
    }
    fn take_pending(&mut self, port: Port) -> bool {
        self.inner.take_pending(port)
    }
}

impl GrantTable for HaltingGuest {
    fn grant(&mut self, domid: DomId, gfn: Gfn, readonly: bool) -> Result<GrantRef, XenError> {
        self.inner.grant(domid, gfn, readonly)
    }
    fn revoke(&mut self, gref: GrantRef) -> Result<(), XenError> {
        self.inner.revoke(gref)
    }
}

impl PageAllocator for HaltingGuest {
    type Page = SimPage;
    fn alloc_page(&mut self) -> Result<SimPage, XenError> {
        self.inner.alloc_page()
    }
}

impl Clock for HaltingGuest {
    fn now_ns(&self) -> u64 {
        self.inner.now_ns()
    }
    fn wait_until(&mut self, deadline_ns: u64) {
        loop {
            // An event that fired since the last scan wakes at once.
            if self.inner.upcall() > 0 {
                *self.wakeups.borrow_mut() += 1;
                return;
            }
            let now = self.sim.now_ns();
            if now >= deadline_ns {
                return;
            }
            if !self.sim.step() {
                self.sim
                    .advance_to(now.saturating_add(self.tick_ns).min(deadline_ns));
            }
        }
    }
}

impl Platform for HaltingGuest {
    fn domid(&self) -> Option<DomId> {
        self.inner.domid()
    }
}

struct Rig {
    sim: SimXen,
    frontend: Frontend<HaltingGuest>,
    view: Rc<RefCell<SimBackendView>>,
    wakeups: Rc<RefCell<u64>>,
}

fn rig(profile: BackendProfile, depth: usize) -> Rig {
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &SimVsndSpec::simple()));
    let view = SimSndBackend::attach(&sim, profile.settings(1 << 20), SimSndBackend::silence());
    let store = guest.xenstore().unwrap();
    let wakeups = Rc::new(RefCell::new(0));
    let halting = HaltingGuest {
        inner: guest,
        sim: sim.clone(),
        tick_ns: 100_000,
        wakeups: Rc::clone(&wakeups),
    };
    let options = FrontendOptions {
        depth,
        ..FrontendOptions::default()
    };
    let probe = Frontend::probe(halting, store, options).unwrap();
    assert!(probe.failed.is_empty(), "{:?}", probe.failed);
    Rig {
        sim,
        frontend: probe.frontend,
        view,
        wakeups,
    }
}

impl Rig {
    fn open(&self) -> SndPlayback<HaltingGuest> {
        let request = StreamRequest::exact(
            SampleFormat::S16Le,
            48_000,
            2,
            PERIOD_FRAMES as u32,
            4 * PERIOD_FRAMES as u32,
        );
        let pcm = SndPlayback::open_unique_id(&self.frontend, "spk", &request).unwrap();
        assert_eq!(pcm.config().period_frames, PERIOD_FRAMES as u32);
        pcm
    }

    fn counters(&self) -> Counters {
        let view = self.view.borrow();
        let mut total = Counters::default();
        for summary in view.active.iter().chain(view.history.iter()) {
            if summary.unique_id == "spk" {
                total.accumulate(&summary.counters);
            }
        }
        total
    }

    fn played(&self) -> Vec<u8> {
        self.view.borrow().played(u32::from(GUEST), "spk")
    }
}

fn audio(periods: usize) -> Vec<u8> {
    (0..periods * PERIOD_FRAMES * FRAME_BYTES)
        .map(|i| (i * 7 + i / 300) as u8)
        .collect()
}

/// Play `periods` periods a period per blocking `write`; returns the
/// backend's counters over the writes and the drain, and the simulated
/// nanoseconds they took.
fn play(
    rig: &Rig,
    pcm: &mut SndPlayback<HaltingGuest>,
    source: &[u8],
) -> (Counters, Counters, u64) {
    let before = rig.counters();
    let start = rig.sim.now_ns();
    for chunk in source.chunks(PERIOD_FRAMES * FRAME_BYTES) {
        assert_eq!(pcm.write(chunk).unwrap(), PERIOD_FRAMES);
    }
    pcm.drain().unwrap();
    (before, rig.counters(), rig.sim.now_ns() - start)
}

per_backend! {
    fn steady_playback_costs_the_backend_one_notification_per_period(profile) {
        let rig = rig(profile, 4);
        let mut pcm = rig.open();
        pcm.prepare().unwrap();
        let periods = 200;
        let source = audio(periods);
        let (before, after, elapsed_ns) = play(&rig, &mut pcm, &source);
        assert_eq!(rig.played(), source, "audio must arrive exactly");
        let ring = after.notifications_out - before.notifications_out;
        let events = after.event_notifications_out - before.event_notifications_out;
        // One position event per period; ring notifications only for the few
        // synchronous requests (TRIGGER START/STOP) and the drain's last wait.
        assert!(events <= periods as u64 + 1, "events {events}");
        assert!(ring <= 4, "ring notifications {ring} for {periods} periods");
        assert!(
            ring + events <= periods as u64 + 4,
            "backend notified {} times for {periods} periods",
            ring + events
        );
        // Real time, not request timeouts: 2 s of audio in about 2 s.
        assert!(
            elapsed_ns < 2_200_000_000,
            "took {elapsed_ns} ns of simulated time"
        );
        let stats = pcm.channel_stats();
        assert_eq!(stats.timeouts, 0);
        assert_eq!(pcm.counters().underruns, 0);
        // The guest sends at most one notification per WRITE.
        let writes = after.requests[usize::from(xen_abi::sndif::XENSND_OP_WRITE)]
            - before.requests[usize::from(xen_abi::sndif::XENSND_OP_WRITE)];
        assert_eq!(writes, periods as u64);
        assert!(after.notifications_in - before.notifications_in <= writes + 4);
        // About one wake-up per period, not one per response.
        assert!(
            *rig.wakeups.borrow() < 2 * periods as u64,
            "{} wake-ups",
            rig.wakeups.borrow()
        );
        pcm.close().unwrap();
    }
}

per_backend! {
    fn synchronous_requests_ask_for_a_notification_and_never_wait_for_a_timeout(profile) {
        // OPEN, HW_PARAM_QUERY, TRIGGER and CLOSE get no position event: if the
        // frontend did not set rsp_event before blocking, each would sleep
        // until its 3 s deadline here.
        let rig = rig(profile, 4);
        let start = rig.sim.now_ns();
        let mut pcm = rig.open();
        pcm.prepare().unwrap();
        pcm.start().unwrap();
        pcm.stop().unwrap();
        pcm.prepare().unwrap();
        pcm.close().unwrap();
        let elapsed_ns = rig.sim.now_ns() - start;
        assert!(
            elapsed_ns < 100_000_000,
            "synchronous requests took {elapsed_ns} ns of simulated time"
        );
        assert!(pcm.channel_stats().armed_waits > 0);
    }
}

per_backend! {
    fn one_write_in_flight_waits_for_each_response_without_stalling(profile) {
        // Depth 1 (like Linux): every WRITE waits for the previous answer, so
        // every such wait must ask for the response's notification.
        let rig = rig(profile, 1);
        let mut pcm = rig.open();
        pcm.prepare().unwrap();
        let periods = 50;
        let source = audio(periods);
        let (_, _, elapsed_ns) = play(&rig, &mut pcm, &source);
        assert_eq!(rig.played(), source);
        assert_eq!(pcm.channel_stats().timeouts, 0);
        assert!(
            elapsed_ns < 700_000_000,
            "0.5 s of audio took {elapsed_ns} ns of simulated time"
        );
        pcm.close().unwrap();
    }
}

per_backend! {
    fn a_prepared_stream_waits_for_responses_not_events(profile) {
        // Before TRIGGER START no position event comes: a write that fills the
        // buffer while WRITEs are unanswered must be woken by the responses.
        let rig = rig(profile, 4);
        let mut pcm = rig.open();
        pcm.prepare().unwrap();
        let source = audio(6);
        let start = rig.sim.now_ns();
        let (_, _, _) = play(&rig, &mut pcm, &source);
        assert_eq!(rig.played(), source);
        assert!(rig.sim.now_ns() - start < 200_000_000);
        assert_eq!(pcm.channel_stats().timeouts, 0);
    }
}
