//! End to end in the simulator: the project's frontend (`sndif`, `pcm`)
//! against the backend engine and XenBus state machine running as a
//! simulated dom0 peer ([`SimSndBackend`]).
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

#[macro_use]
mod profiles;

use std::cell::RefCell;
use std::rc::Rc;

use xensnd_backend::io::{Source, ToneSource};
use xensnd_backend::{Direction, PcmParams};
use xensnd_pcm::{Capture, Playback, SampleFormat, Stream as _};
use xensnd_sim::backend_host::BackendProfile;
use xensnd_sim::backend_host::{SimBackendView, SimSndBackend};
use xensnd_sim::vsnd::{add_vsnd_device, SimPcmSpec, SimStreamSpec, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::{SndCapture, SndPlayback};

const DOMID: u16 = 1;

/// What `xl create` writes for `vsnd = [['CARD, short-name=Main,
/// sample-rates=44100;48000, sample-formats=s16_le;s32_le', 'PCM, name=main',
/// 'STREAM, unique-id=spk, type=p', 'STREAM, unique-id=mic, type=c']]`.
fn xl_create(sim: &SimXen) {
    let node = |k: &str, v: &str| (k.to_string(), v.to_string());
    let stream = |id: &str, playback: bool| SimStreamSpec {
        unique_id: id.into(),
        playback,
        nodes: vec![],
    };
    let spec = SimVsndSpec {
        card: vec![
            node("short-name", "Main"),
            node("sample-rates", "44100,48000"),
            node("sample-formats", "s16_le,s32_le"),
        ],
        pcms: vec![SimPcmSpec {
            name: "main".into(),
            nodes: vec![],
            streams: vec![stream("spk", true), stream("mic", false)],
        }],
    };
    sim.with_core(|core| add_vsnd_device(core, DOMID, 0, &spec));
}

fn start(profile: BackendProfile) -> (SimXen, SimGuest, Rc<RefCell<SimBackendView>>) {
    let sim = SimXen::new();
    let guest = sim.add_guest(DOMID);
    xl_create(&sim);
    let settings = profile.settings(1 << 20);
    let (backend, view) = SimSndBackend::new(
        settings,
        Box::new(|_domid, _stream| Box::new(ToneSource::new(1000.0, 0.5))),
    );
    sim.add_peer(Box::new(backend));
    (sim, guest, view)
}

fn request(period_frames: u32, buffer_frames: u32) -> StreamRequest {
    StreamRequest::exact(SampleFormat::S16Le, 48_000, 2, period_frames, buffer_frames)
}

per_backend! {
    fn frontend_plays_and_records_through_the_simulated_backend(profile) {
        let (sim, guest, view) = start(profile);
        let store = guest.xenstore().unwrap();
        let probe = Frontend::probe(guest, store, FrontendOptions::default()).unwrap();
        assert!(probe.failed.is_empty(), "{:?}", probe.failed);
        let frontend = probe.frontend;
        assert_eq!(frontend.connected_devices(), 1);
        assert_eq!(
            sim.store_read(&format!("/local/domain/0/backend/vsnd/{DOMID}/0/state"))
                .unwrap(),
            b"4"
        );
        assert_eq!(view.borrow().active.len(), 2);

        // Playback: every byte the application writes reaches the sink, in order.
        let mut speaker = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        assert!(
            speaker.negotiation().backend_answered,
            "HW_PARAM_QUERY answered"
        );
        speaker.prepare().unwrap();
        let frames: Vec<u8> = (0..48_000u32 / 5 * 4)
            .map(|index| (index.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut done = 0;
        while done < frames.len() {
            let end = (done + 4 * 700).min(frames.len());
            done += speaker.write(&frames[done..end]).unwrap() * 4;
        }
        speaker.drain().unwrap();
        let played = view.borrow().played(u32::from(DOMID), "spk");
        assert_eq!(played.len(), frames.len());
        assert!(played == frames, "sink bytes differ from what was written");
        // Draining 200 ms of audio took at least 200 ms of simulated time: the
        // position events are paced in real time.
        assert!(
            sim.now_ns() >= 200_000_000,
            "simulated time {} ns",
            sim.now_ns()
        );
        speaker.close().unwrap();

        // Capture: what the application reads is the backend's tone.
        let mut microphone = SndCapture::open_unique_id(&frontend, "mic", &request(480, 1920)).unwrap();
        microphone.prepare().unwrap();
        microphone.start().unwrap();
        let mut captured = vec![0u8; 4 * 960];
        let mut got = 0;
        while got < captured.len() {
            got += microphone.read(&mut captured[got..]).unwrap() * 4;
        }
        microphone.stop().unwrap();
        microphone.close().unwrap();
        let mut expected = vec![0u8; captured.len()];
        let mut tone = ToneSource::new(1000.0, 0.5);
        tone.start(&PcmParams {
            format: 2,
            channels: 2,
            rate: 48_000,
            buffer_bytes: 1920 * 4,
            buffer_frames: 1920,
            period_frames: 480,
        })
        .unwrap();
        tone.read(&mut expected).unwrap();
        assert_eq!(captured, expected, "captured audio is the backend's tone");

        // The counters saw it all.
        let summary = view.borrow().active.clone();
        let speaker_counters = &summary
            .iter()
            .find(|s| s.direction == Direction::Playback)
            .unwrap()
            .counters;
        assert_eq!(speaker_counters.bytes_written, frames.len() as u64);
        assert!(speaker_counters.events_sent >= 19);
        assert_eq!(speaker_counters.errors, 0);
        assert!(speaker_counters.first_write_ns.is_some());

        // The frontend goes away: the backend closes and unmaps everything.
        frontend.shutdown();
        for _ in 0..10 {
            sim.step();
        }
        assert_eq!(
            sim.store_read(&format!("/local/domain/0/backend/vsnd/{DOMID}/0/state"))
                .unwrap(),
            b"6"
        );
        assert!(view.borrow().active.is_empty());
        assert_eq!(view.borrow().history.len(), 2);
        assert!(sim.with_core(|core| core.mapped_refs(DOMID)).is_empty());
    }
}

/// One card with a playback stream `spk` and `card` as its card-level nodes.
fn card_with(card: &[(&str, &str)]) -> SimVsndSpec {
    SimVsndSpec {
        card: card
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect(),
        pcms: vec![SimPcmSpec {
            name: "main".into(),
            nodes: vec![],
            streams: vec![SimStreamSpec {
                unique_id: "spk".into(),
                playback: true,
                nodes: vec![],
            }],
        }],
    }
}

per_backend! {
    fn a_card_with_buffer_size_5242880_plays_end_to_end(profile) {
        // xl accepts `buffer-size=5242880`; sndback used to answer the query
        // with "no parameters in common" (its buffer cap was 2^20 frames).
        let sim = SimXen::new();
        let guest = sim.add_guest(DOMID);
        let spec = card_with(&[
            ("sample-rates", "48000"),
            ("sample-formats", "s16_le"),
            ("buffer-size", "5242880"),
        ]);
        sim.with_core(|core| add_vsnd_device(core, DOMID, 0, &spec));
        let view = SimSndBackend::attach(
            &sim,
            profile.settings(16 << 20),
            SimSndBackend::silence(),
        );
        let store = guest.xenstore().unwrap();
        let probe = Frontend::probe(guest, store, FrontendOptions::default()).unwrap();
        assert!(probe.failed.is_empty(), "{:?}", probe.failed);
        let frontend = probe.frontend;
        // Every field left to negotiation: the most frames buffer-size allows.
        let mut speaker = SndPlayback::open_unique_id(&frontend, "spk", &StreamRequest::default())
            .unwrap();
        assert!(speaker.negotiation().backend_answered);
        assert!(speaker.negotiation().issues.is_empty());
        let config = *speaker.config();
        assert_eq!(config.format, SampleFormat::S16Le);
        assert_eq!(config.buffer_frames, 5_242_880 / 4, "more than 1023 pages");
        speaker.prepare().unwrap();
        let frames: Vec<u8> = (0..48_000u32 / 2 * 4)
            .map(|index| (index.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        let mut done = 0;
        while done < frames.len() {
            done += speaker.write(&frames[done..]).unwrap() * 4;
        }
        // Everything fits in the buffer, so nothing started it yet (and the PCM
        // layer refuses to drain a Prepared stream).
        speaker.start().unwrap();
        speaker.drain().unwrap();
        let played = view.borrow().played(u32::from(DOMID), "spk");
        assert!(played == frames, "sample-exact");
        speaker.close().unwrap();
    }
}

per_backend! {
    fn the_simulated_backend_settles_when_it_cannot_serve_the_card(profile) {
        let sim = SimXen::new();
        let guest = sim.add_guest(DOMID);
        let spec = card_with(&[("sample-rates", "48000"), ("sample-formats", "s16_le")]);
        sim.with_core(|core| add_vsnd_device(core, DOMID, 0, &spec));
        // A device that plays only u8: nothing of this card can be served.
        let mut settings = profile.settings(1 << 20);
        settings.limits.formats = xensnd_pcm::format::FormatSet::single(SampleFormat::U8);
        let _view = SimSndBackend::attach(&sim, settings, SimSndBackend::silence());
        let store = guest.xenstore().unwrap();
        let probe = Frontend::probe(
            guest,
            store,
            FrontendOptions {
                connect_timeout_ns: 200_000_000,
                ..FrontendOptions::default()
            },
        )
        .unwrap();
        assert_eq!(probe.failed.len(), 1, "the device does not come up");
        let state = format!("/local/domain/0/backend/vsnd/{DOMID}/0/state");
        let error = "/local/domain/0/error/backend/vsnd/1/0/error";
        assert_eq!(sim.store_read(&state).unwrap(), b"6");
        let message = String::from_utf8(sim.store_read(error).unwrap()).unwrap();
        assert!(message.starts_with("22 "), "{message}");
        // The frontend tries again (as Linux does on a backend Closed): the
        // backend does not go back to InitWait for the same configuration.
        let frontend_state = format!("/local/domain/{DOMID}/device/vsnd/0/state");
        for _ in 0..5 {
            sim.store_write(&frontend_state, b"1").unwrap();
            sim.run_until_idle(1000);
            assert_eq!(sim.store_read(&state).unwrap(), b"6");
        }
        // The toolstack removes the device: the error goes with it.
        sim.store_rm(&format!("/local/domain/0/backend/vsnd/{DOMID}"))
            .unwrap();
        sim.run_until_idle(1000);
        assert!(sim.store_read(error).is_err());
    }
}
