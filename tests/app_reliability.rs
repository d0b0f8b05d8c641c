//! Reliability of the demo application against the simulator (issue #8's
//! host side; the QEMU+Xen side is `tests/xen/scenarios/reliability`):
//! playback that goes on where the listener left off after a backend
//! restart, and `demo=cycles` leaking no grant or event channel.

#[macro_use]
mod profiles;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use xen_abi::sndif::XENSND_OP_OPEN;
use xen_guest::{Clock, ResourceUsage};
use xensnd_demo::demo::{play_resuming, PlayControl, Signal};
use xensnd_demo::run::{run, Options};
use xensnd_demo::signal::{Crc32, Tone};
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Clock as _, ErrorKind, Stream};
use xensnd_sim::backend_host::BackendProfile;
use xensnd_sim::backend_host::{SimBackendView, SimSndBackend};
use xensnd_sim::vsnd::{add_vsnd_device, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::SndPlayback;

const GUEST: u16 = 9;

fn setup(profile: BackendProfile) -> (SimXen, Frontend<SimGuest>, Rc<RefCell<SimBackendView>>) {
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &SimVsndSpec::simple()));
    let view = SimSndBackend::attach(&sim, profile.settings(1 << 20), SimSndBackend::silence());
    let store = guest.xenstore().expect("store ring");
    let probe = Frontend::probe(guest, store, FrontendOptions::default()).expect("probe");
    assert!(probe.failed.is_empty(), "{:?}", probe.failed);
    (sim, probe.frontend, view)
}

fn request() -> StreamRequest {
    StreamRequest::exact(SampleFormat::S16Le, 48_000, 2, 480, 1920)
}

const TONE: Tone = Tone {
    frequency_hz: 440,
    rate: 48_000,
    channels: 2,
    level_millidb: -6000,
};

/// The tone, running `action` once the player fills frame `at` (mid-stream,
/// with audio in flight).
struct ActAt {
    at: u64,
    fired: Cell<bool>,
    action: Box<dyn Fn()>,
}

impl ActAt {
    fn new(at: u64, action: impl Fn() + 'static) -> Self {
        Self {
            at,
            fired: Cell::new(false),
            action: Box::new(action),
        }
    }
}

impl Signal for ActAt {
    fn fill(&self, first: u64, out: &mut [i16]) {
        if !self.fired.get() && first >= self.at {
            self.fired.set(true);
            (self.action)();
        }
        TONE.fill(first, out);
    }
}

fn usage(frontend: &Frontend<SimGuest>) -> ResourceUsage {
    frontend.resource_usage().expect("the simulator counts")
}

per_backend! {
    fn playback_resumes_from_the_played_position_after_a_backend_restart(profile) {
        let (_sim, frontend, view) = setup(profile);
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request()).unwrap();
        pcm.prepare().unwrap();
        let frames = 24_000u64;
        // The simulated backend crashes and restarts (unmaps, unbinds, InitWait).
        let restart = Rc::clone(&view);
        let signal = ActAt::new(9_600, move || restart.borrow_mut().restart_requested = true);
        let clock = frontend.clone();
        let now_ns = move || clock.now_ns();
        let waiter = frontend.clone();
        let mut idle = move || {
            waiter.with_platform(|xen| {
                let deadline = xen.now_ns() + 2_000_000;
                xen.wait_until(deadline)
            })
        };
        let report = play_resuming(
            &mut pcm,
            &signal,
            frames,
            PlayControl {
                pause: None,
                idle: &mut idle,
                now_ns: &now_ns,
                reconnect_timeout_ns: 1_000_000_000,
                stall_timeout_ns: xensnd_sndif::stream::DEFAULT_STALL_TIMEOUT_NS,
            },
        )
        .expect("playback survives the restart");
        assert!(signal.fired.get());
        assert_eq!(report.resumptions.len(), 1, "{report:?}");
        let resumed = report.resumptions[0];
        assert!(
            resumed.from_frame > 0 && resumed.from_frame <= resumed.queued,
            "resumed from the played position, not past what was queued: {resumed:?}"
        );
        assert!(resumed.queued < frames, "{resumed:?}");
        assert_eq!(report.play.frames, frames);
        assert_eq!(report.play.position, frames, "everything played in the end");
        // The listener hears the signal once, in order: the CRC is the whole tone's.
        let whole = TONE.render_s16le(frames);
        let mut crc = Crc32::new();
        crc.update(&whole);
        assert_eq!(report.play.crc32, crc.value());
        // The second connection's sink holds exactly the tone from the resumption frame on.
        let view = view.borrow();
        let sinks: Vec<Vec<u8>> = view
            .sinks
            .iter()
            .filter(|((domid, id), _)| *domid == u32::from(GUEST) && id == "spk")
            .map(|(_, sink)| sink.bytes())
            .collect();
        assert_eq!(sinks.len(), 2, "one sink per connection");
        let from_byte = resumed.from_frame as usize * 4;
        assert!(
            sinks[1] == whole[from_byte..],
            "resumed audio differs: {} bytes, expected {}",
            sinks[1].len(),
            whole.len() - from_byte
        );
        // The first connection played at least up to the resumption frame.
        assert!(sinks[0].len() >= from_byte);
        assert!(sinks[0][..from_byte] == whole[..from_byte]);
    }
}

per_backend! {
    fn playback_gives_up_when_the_backend_does_not_come_back(profile) {
        let (sim, frontend, _view) = setup(profile);
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request()).unwrap();
        pcm.prepare().unwrap();
        // The backend's state goes to Closed mid-stream and stays there: the
        // stream is disconnected for good and the player stops after its
        // reconnection timeout with Disconnected.
        let store = sim.clone();
        let signal = ActAt::new(4_800, move || {
            store
                .store_write(
                    &format!("/local/domain/0/backend/vsnd/{GUEST}/0/state"),
                    b"6",
                )
                .unwrap()
        });
        let clock = frontend.clone();
        let now_ns = move || clock.now_ns();
        let started_ns = now_ns();
        let waiter = frontend.clone();
        let mut idle = move || {
            waiter.with_platform(|xen| {
                let deadline = xen.now_ns() + 2_000_000;
                xen.wait_until(deadline)
            })
        };
        let result = play_resuming(
            &mut pcm,
            &signal,
            24_000,
            PlayControl {
                pause: None,
                idle: &mut idle,
                now_ns: &now_ns,
                reconnect_timeout_ns: 200_000_000,
                stall_timeout_ns: xensnd_sndif::stream::DEFAULT_STALL_TIMEOUT_NS,
            },
        );
        assert!(signal.fired.get());
        assert_eq!(result.unwrap_err(), ErrorKind::Disconnected);
        let waited = frontend.now_ns() - started_ns;
        assert!(
            waited >= 200_000_000,
            "gave up after its timeout, not before: {waited} ns"
        );
        assert_eq!(frontend.connected_devices(), 0);
    }
}

per_backend! {
    fn cycles_demo_leaves_grants_and_event_channels_as_it_found_them(profile) {
        let (sim, frontend, view) = setup(profile);
        let before = usage(&frontend);
        let granted_before = sim.granted_refs(GUEST);
        assert_eq!(before.grants, granted_before.len());
        assert!(
            before.event_channels >= 4,
            "two streams x two channels: {before:?}"
        );
        // The counts are live: a prepared stream holds its buffer's grants.
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request()).unwrap();
        pcm.prepare().unwrap();
        assert!(usage(&frontend).grants > before.grants);
        pcm.close().unwrap();
        assert_eq!(usage(&frontend), before);

        let options =
            Options::parse([("demo", "cycles"), ("cycles", "100"), ("stream", "spk")]).unwrap();
        assert_eq!(options.cycles, 100);
        run(&frontend, &frontend, &options).expect("100 cycles");
        assert_eq!(usage(&frontend), before);
        assert_eq!(
            sim.granted_refs(GUEST),
            granted_before,
            "same grants as before"
        );
        // Each cycle really opened and closed the stream on the backend.
        let opens = view
            .borrow()
            .active
            .iter()
            .find(|s| s.unique_id == "spk")
            .map(|s| s.counters.requests[usize::from(XENSND_OP_OPEN)])
            .unwrap_or(0);
        assert!(opens >= 100, "backend saw {opens} OPENs");
    }
}
