//! Boot's critical path in round trips (issue #15, item 2), counted, not
//! timed: what the guest waits for between its entry and its first
//! `XENSND_OP_WRITE`, against the simulator (the real frontend, the real
//! backend engine), so a change that adds a round trip fails here.
//!
//! The test boots as the runtime does (`src/rt.rs`: its own XenStore batch,
//! then `Frontend::probe`), opens and prepares the playback stream as the
//! demo does and writes one period. The counts it asserts, and what each
//! round trip is (SimVsndSpec::simple: one card, one PCM, streams `spk`
//! and `mic`):
//!
//! XenStore, 11 round trips (41 requests); the protocol's minimum is 2:
//!  1. the runtime: `domid`, `name`, watch `control/shutdown` (3)
//!  2. directory `device/vsnd` (1)
//!  3. `read_tree` level 0: read + directory of `device/vsnd/0` (2)
//!  4. level 1: the card's nodes: 9 leaves read, PCM `0` read + directory,
//!     `state` (12)
//!  5. level 2: the PCM's nodes: `name`, streams `0` and `1` read +
//!     directory (5)
//!  6. level 3: each stream's `type` and `unique-id` (4)
//!  7. watch + read of the backend's `state` (2)
//!  8. the handshake write: 4 nodes per stream and `state` = Initialised (9)
//!  9. the backend's `state` read again, waiting for its Connected (1)
//! 10. our `state` = Connected (1)
//! 11. at `open`: the frontend's poll finds the backend's state watch
//!     event (its Connected, never taken because no wait was needed) and
//!     reads the backend's `state` once more (1)
//!
//! Minimum: the configuration read (1-6 as one batch, knowing the layout)
//! and the handshake write (8, with 10 folded in or after the first
//! WRITE); 1 (runtime), 7 and 9-11 are extra.
//!
//! Ring, 2 round trips (2 requests); the minimum is 1: `HW_PARAM_QUERY`
//! (at `open`: negotiation) then `OPEN` (at `prepare`). The query is the
//! extra one.
//!
//! Backend waits: 0 here; the minimum is 1 (its Connected). The simulated
//! backend runs while the guest waits for its XenStore replies, so it is
//! Connected by the time the guest reads its state (9): a real backend in
//! dom0 usually is not, and then the guest waits once.
//!
//! The backend sees the same ring traffic: 2 requests (query, OPEN) in 2
//! batches before the first WRITE.
#[macro_use]
mod profiles;

use xen_guest::shutdown::ShutdownWatch;
use xen_guest::xenstore::BatchRequest;
use xensnd_backend::io::{IoError, Source};
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Playback, Stream};
use xensnd_sim::backend_host::SimSndBackend;
use xensnd_sim::vsnd::{add_vsnd_device, SimVsndSpec};
use xensnd_sim::{SimCore, SimPeer, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::SndPlayback;
use xensnd_sndif::roundtrips::RoundTrips;

const GUEST: u16 = 7;
/// `XENSND_OP_*` indices in the backend's counters.
const OPEN: usize = 0;
const HW_PARAM_QUERY: usize = 9;

struct Silence;

impl Source for Silence {
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        out.fill(0);
        Ok(())
    }
}

per_backend! {
    /// See the module docs for which round trip is which.
    fn boot_round_trips_before_the_first_write(profile) {
        let sim = SimXen::new();
        let mut guest = sim.add_guest(GUEST);
        sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &SimVsndSpec::simple()));
        let (backend, view) = SimSndBackend::new(
            profile.settings(1 << 20),
            Box::new(|_, _| Box::new(Silence) as Box<dyn Source>),
        );
        sim.add_peer(Box::new(backend));
        let mut store = guest.xenstore().expect("store ring");
        // The runtime's batch before the probe (src/rt.rs `bring_up`).
        let requests = [
            BatchRequest::Read("domid"),
            BatchRequest::Read("name"),
            ShutdownWatch::watch_request(),
        ];
        store.batch(&mut guest, &requests).expect("the runtime's batch");
        assert_eq!(store.round_trips(), 1);
        let probe = Frontend::probe(guest, store, FrontendOptions::default()).expect("probe");
        assert!(probe.failed.is_empty(), "{:?}", probe.failed);
        let frontend = probe.frontend;
        assert_eq!(
            frontend.round_trips(),
            RoundTrips {
                xenstore_batches: 10,
                xenstore_requests: 40,
                ring_round_trips: 0,
                ring_requests: 0,
                backend_waits: 0,
            },
            "after the probe"
        );
        let request = StreamRequest::exact(SampleFormat::S16Le, 48_000, 2, 480, 4800);
        let mut speaker =
            SndPlayback::open_unique_id(&frontend, "spk", &request).expect("open");
        speaker.prepare().expect("prepare");
        assert_eq!(frontend.boot_round_trips(), None, "no WRITE yet");
        let period = vec![0u8; 4 * 480];
        speaker.write(&period).expect("write");
        let boot = RoundTrips {
            xenstore_batches: 11,
            xenstore_requests: 41,
            ring_round_trips: 2,
            ring_requests: 2,
            backend_waits: 0,
        };
        assert_eq!(frontend.boot_round_trips(), Some(boot));
        // The totals go on; the snapshot stays.
        speaker.write(&period).expect("write");
        speaker.drain().expect("drain");
        let now = frontend.round_trips();
        assert!(now.ring_requests > boot.ring_requests);
        assert!(now.ring_round_trips > boot.ring_round_trips);
        assert_eq!(frontend.boot_round_trips(), Some(boot));
        let stats = speaker.channel_stats();
        assert_eq!(stats.requests, now.ring_requests, "one stream used");
        assert_eq!(stats.round_trips, now.ring_round_trips);
        // The backend's side of the same ring (what sndback's --stats
        // prints per stream).
        let view = view.borrow();
        let spk = view
            .active
            .iter()
            .find(|s| s.unique_id == "spk")
            .expect("spk is connected");
        let counters = &spk.counters;
        assert_eq!(counters.requests_before_first_write[HW_PARAM_QUERY], 1);
        assert_eq!(counters.requests_before_first_write[OPEN], 1);
        assert_eq!(counters.total_requests_before_first_write(), 2);
        assert_eq!(counters.request_batches_before_first_write, 2);
    }
}

/// A backend that is not there yet: the handshake waits for its InitWait
/// and then for its Connected (a backend wait each time the guest waits
/// for its state to change), and each wait costs a XenStore round trip
/// more (the state read after the watch fired).
#[test]
fn handshake_waits_for_a_late_backend_are_counted() {
    use xensnd_sim::backend_host::BackendProfile;
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &SimVsndSpec::simple()));
    let (backend, _view) = SimSndBackend::new(
        BackendProfile::Sndback.settings(1 << 20),
        Box::new(|_, _| Box::new(Silence) as Box<dyn Source>),
    );
    let store = guest.xenstore().expect("store ring");
    // The backend comes 50 ms into the probe's wait for its InitWait.
    sim.add_peer(Box::new(Late {
        at_ns: 50_000_000,
        peer: Box::new(backend),
    }));
    let probe = Frontend::probe(guest, store, FrontendOptions::default()).expect("probe");
    assert!(probe.failed.is_empty(), "{:?}", probe.failed);
    // Without the runtime's batch: the directory, the four levels of the
    // tree, watch + read of the backend's state (absent), [wait 1: its
    // InitWait], its state read, the handshake write, its state read (not
    // Connected yet), [wait 2: its Connected], its state read, ours
    // written: 11 XenStore round trips, 2 backend waits.
    assert_eq!(
        probe.frontend.round_trips(),
        RoundTrips {
            xenstore_batches: 11,
            xenstore_requests: 39,
            ring_round_trips: 0,
            ring_requests: 0,
            backend_waits: 2,
        }
    );
}

/// A peer that starts at `at_ns`.
struct Late {
    at_ns: u64,
    peer: Box<dyn SimPeer>,
}

impl SimPeer for Late {
    fn step(&mut self, core: &mut SimCore) -> bool {
        core.now_ns() >= self.at_ns && self.peer.step(core)
    }

    fn next_deadline(&self) -> Option<u64> {
        match self.peer.next_deadline() {
            Some(deadline) => Some(deadline.max(self.at_ns)),
            None => Some(self.at_ns),
        }
    }
}
