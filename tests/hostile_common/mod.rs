//! Shared set-up for the hostile-backend tests: the real frontend against
//! `xensnd_sim::hostile::HostileBackend` in the simulator.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use xen_abi::sndif::{Request, Response};
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Error as _, ErrorKind};
use xensnd_sim::hostile::{Hostile, HostileBackend, Reply};
use xensnd_sim::vsnd::{add_vsnd_device, backend_path, frontend_path, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions, Probe};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::{PcmError, SndPlayback};

pub const GUEST: u16 = 7;

pub struct World {
    pub sim: SimXen,
    pub frontend: Frontend<SimGuest>,
    pub hostile: Hostile,
}

/// Sim, guest, device written like libxl (then `edit` may spoil it), the
/// hostile backend; then the frontend probes.
pub fn probe_with(
    spec: &SimVsndSpec,
    options: FrontendOptions,
    edit: impl FnOnce(&SimXen),
) -> (SimXen, Probe<SimGuest>, Hostile) {
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, spec));
    edit(&sim);
    let (backend, hostile) = HostileBackend::new(GUEST, 0);
    sim.add_peer(Box::new(backend));
    let store = guest.xenstore().expect("store ring");
    let probe = Frontend::probe(guest, store, options).expect("probe");
    (sim, probe, hostile)
}

pub fn setup_with(options: FrontendOptions) -> World {
    let (sim, probe, hostile) = probe_with(&SimVsndSpec::simple(), options, |_| {});
    assert!(probe.failed.is_empty(), "failed: {:?}", probe.failed);
    World {
        sim,
        frontend: probe.frontend,
        hostile,
    }
}

/// Default options but a short request timeout (simulated time is free,
/// but fewer steps are faster).
pub fn setup() -> World {
    setup_with(FrontendOptions {
        request_timeout_ns: 100_000_000,
        ..FrontendOptions::default()
    })
}

pub fn request() -> StreamRequest {
    StreamRequest::exact(SampleFormat::S16Le, 48_000, 2, 480, 1920)
}

pub fn kind(error: &PcmError) -> ErrorKind {
    error.kind()
}

pub fn be_path() -> String {
    backend_path(GUEST, 0)
}

pub fn fe_path() -> String {
    frontend_path(GUEST, 0)
}

/// A script that applies `tamper` to the `nth` (0-based) request of
/// operation `operation` and answers everything else honestly.
pub fn tamper_nth(
    operation: u8,
    nth: usize,
    mut tamper: impl FnMut(&Request, Response) -> Vec<Reply> + 'static,
) -> xensnd_sim::hostile::Script {
    let mut seen = 0usize;
    Box::new(move |request: &Request, honest: Response| {
        if request.operation == operation {
            seen += 1;
            if seen == nth + 1 {
                return tamper(request, honest);
            }
        }
        vec![Reply::Now(honest)]
    })
}

/// Play `frames` stereo s16 frames of a ramp; returns the bytes played.
pub fn play(pcm: &mut SndPlayback<SimGuest>, frames: usize) -> Result<usize, PcmError> {
    use xensnd_pcm::Playback;
    let data: Vec<u8> = (0..frames * 4).map(|i| i as u8).collect();
    let mut done = 0;
    while done < data.len() {
        let n = pcm.write(&data[done..(done + 1920).min(data.len())])?;
        done += n * 4;
    }
    Ok(done)
}

/// Open `spk`, prepare and start it.
pub fn running_speaker(world: &World) -> SndPlayback<SimGuest> {
    use xensnd_pcm::Stream;
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    pcm.start().unwrap();
    pcm
}

/// Shut the frontend down, let the sim run, and check no grant is left.
pub fn assert_clean_teardown(world: &World) {
    world.frontend.shutdown();
    world.sim.run_until_idle(1000);
    world.frontend.poll();
    assert_eq!(
        world.sim.granted_refs(GUEST),
        Vec::<u32>::new(),
        "grants leaked"
    );
    assert_eq!(world.frontend.leftover_grants(), 0);
}
