//! The backend's one device rescan (`DeviceSet::rescan`/`on_watch`, shared
//! by sndback and the simulator) with two frontend domains: each device's
//! grants are mapped from its own domain, a destroyed domain's device is
//! removed with nothing left mapped or bound, the other keeps playing.

#[macro_use]
mod profiles;

use xensnd_demo::signal::Tone;
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Playback, Stream};
use xensnd_sim::backend_host::SimSndBackend;
use xensnd_sim::vsnd::{add_vsnd_device, SimVsndSpec};
use xensnd_sim::SimXen;
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::SndPlayback;

fn request() -> StreamRequest {
    StreamRequest::exact(SampleFormat::S16Le, 48_000, 2, 480, 1920)
}

per_backend! {
    fn two_frontends_play_and_a_removed_one_leaves_nothing_behind(profile) {
        let sim = SimXen::new();
        let (first, second) = (sim.add_guest(11), sim.add_guest(12));
        sim.with_core(|core| {
            add_vsnd_device(core, 11, 0, &SimVsndSpec::simple());
            add_vsnd_device(core, 12, 0, &SimVsndSpec::simple());
        });
        let view = SimSndBackend::attach(
            &sim,
            profile.settings(1 << 20),
            SimSndBackend::silence(),
        );
        let mut frontends = Vec::new();
        for guest in [first, second] {
            let store = guest.xenstore().expect("store ring");
            let probe = Frontend::probe(guest, store, FrontendOptions::default()).expect("probe");
            assert!(probe.failed.is_empty(), "{:?}", probe.failed);
            frontends.push(probe.frontend);
        }
        let tones: Vec<Vec<u8>> = [440, 880]
            .iter()
            .map(|&frequency_hz| {
                Tone {
                    frequency_hz,
                    rate: 48_000,
                    channels: 2,
                    level_millidb: -6000,
                }
                .render_s16le(4_800)
            })
            .collect();
        for (frontend, tone) in frontends.iter().zip(&tones) {
            let mut pcm = SndPlayback::open_unique_id(frontend, "spk", &request()).unwrap();
            pcm.prepare().unwrap();
            pcm.write(tone).unwrap();
            pcm.drain().unwrap();
            pcm.close().unwrap();
        }
        assert!(
            view.borrow().played(11, "spk") == tones[0],
            "domain 11's audio"
        );
        assert!(
            view.borrow().played(12, "spk") == tones[1],
            "domain 12's audio"
        );
        // Each device mapped its own frontend's grants: both domains' ring
        // pages are mapped by dom0 now.
        assert!(!sim.with_core(|core| core.mapped_refs(11)).is_empty());
        assert!(!sim.with_core(|core| core.mapped_refs(12)).is_empty());

        // The toolstack removes domain 11's device (as after `xl destroy`):
        // the rescan tears it down, unmaps and unbinds everything of it.
        sim.store_rm("/local/domain/0/backend/vsnd/11").unwrap();
        sim.run_until_idle(100);
        assert_eq!(
            sim.with_core(|core| core.mapped_refs(11)),
            Vec::<u32>::new()
        );
        assert!(!sim.with_core(|core| core.mapped_refs(12)).is_empty());
        assert!(view.borrow().active.iter().all(|s| s.domid == 12));

        // Domain 12 still plays.
        let mut pcm = SndPlayback::open_unique_id(&frontends[1], "spk", &request()).unwrap();
        pcm.prepare().unwrap();
        pcm.write(&tones[1]).unwrap();
        pcm.drain().unwrap();
        let played = view.borrow().played(12, "spk");
        assert!(played.ends_with(&tones[1]));
    }
}
