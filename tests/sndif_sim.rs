//! The sound frontend end to end against the simulator: the real frontend
//! (XenStore, XenBus handshake, rings, grants, event channels) talking to
//! the real backend engine and XenBus code (what `sndback` runs) hosted as
//! a simulated dom0 process.

#[macro_use]
mod profiles;

use std::cell::RefCell;
use std::rc::Rc;

use xensnd_backend::io::{IoError, Source};
use xensnd_demo::signal::{Crc32, Tone};
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Capture, Error as _, ErrorKind, Playback, Stream, StreamState};
use xensnd_sim::backend_host::BackendProfile;
use xensnd_sim::backend_host::{SimBackendView, SimSndBackend};
use xensnd_sim::vsnd::{add_vsnd_device, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::{SndCapture, SndPlayback};

const GUEST: u16 = 7;

/// The test's view of the backend, with the played bytes per unique-id.
#[derive(Clone)]
struct Handle(Rc<RefCell<SimBackendView>>);

impl Handle {
    fn played(&self, unique_id: &str) -> Vec<u8> {
        self.0.borrow().played(GUEST as u32, unique_id)
    }
    /// Underruns the backend counted on `unique_id` (connected streams).
    fn backend_underruns(&self, unique_id: &str) -> u64 {
        let view = self.0.borrow();
        let records = view.active.iter().chain(view.history.iter());
        records
            .filter(|record| record.unique_id == unique_id)
            .map(|record| record.counters.underruns)
            .sum()
    }
    /// The backend's waits from a position event to the next WRITE on
    /// `unique_id` (connected streams), the longest in ms.
    fn backend_longest_answer_ms(&self, unique_id: &str) -> (u64, u64) {
        let view = self.0.borrow();
        let records = view.active.iter().chain(view.history.iter());
        let answers: Vec<_> = records
            .filter(|record| record.unique_id == unique_id)
            .map(|record| record.counters.answer.clone())
            .collect();
        let count = answers.iter().map(|a| a.count).sum();
        let longest = answers.iter().map(|a| a.max_ns).max().unwrap_or(0);
        (count, longest / 1_000_000)
    }
    fn set_silent(&self, silent: bool) {
        self.0.borrow_mut().silent = silent;
    }
    fn restart(&self) {
        self.0.borrow_mut().restart_requested = true;
    }
}

/// Capture source: a byte pattern, repeated.
struct Pattern {
    bytes: Vec<u8>,
    at: usize,
}

impl Source for Pattern {
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        for byte in out {
            *byte = self.bytes[self.at % self.bytes.len()];
            self.at += 1;
        }
        Ok(())
    }
}

fn setup_with(
    profile: BackendProfile,
    spec: &SimVsndSpec,
    pattern: Vec<u8>,
    options: FrontendOptions,
) -> (SimXen, Frontend<SimGuest>, Handle) {
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, spec));
    let settings = profile.settings(1 << 20);
    let pattern = if pattern.is_empty() { vec![0] } else { pattern };
    let (backend, view) = SimSndBackend::new(
        settings,
        Box::new(move |_, _| {
            Box::new(Pattern {
                bytes: pattern.clone(),
                at: 0,
            }) as Box<dyn Source>
        }),
    );
    sim.add_peer(Box::new(backend));
    let handle = Handle(view);
    let store = guest.xenstore().expect("store ring");
    let probe = Frontend::probe(guest, store, options).expect("probe");
    assert!(
        probe.failed.is_empty(),
        "failed devices: {:?}",
        probe.failed
    );
    (sim, probe.frontend, handle)
}

fn setup(profile: BackendProfile) -> (SimXen, Frontend<SimGuest>, Handle) {
    setup_with(
        profile,
        &SimVsndSpec::simple(),
        (0..=255u8).collect(),
        FrontendOptions::default(),
    )
}

fn request(period: u32, buffer: u32) -> StreamRequest {
    StreamRequest::exact(SampleFormat::S16Le, 48_000, 2, period, buffer)
}

per_backend! {
    fn handshake_connects_and_lists_streams(profile) {
        let (sim, frontend, handle) = setup(profile);
        assert_eq!(frontend.connected_devices(), 1);
        assert_eq!(handle.0.borrow().active.len(), 2);
        let streams = frontend.streams();
        let ids: Vec<_> = streams
            .iter()
            .map(|s| s.config.unique_id.as_str())
            .collect();
        assert_eq!(ids, ["spk", "mic"]);
        // The frontend wrote its four nodes per stream and went Connected.
        let fe = "/local/domain/7/device/vsnd/0";
        for node in [
            "ring-ref",
            "event-channel",
            "evt-ring-ref",
            "evt-event-channel",
        ] {
            let value = sim.store_read(&format!("{fe}/0/0/{node}")).expect(node);
            assert!(std::str::from_utf8(&value).unwrap().parse::<u32>().is_ok());
        }
        // Our Connected goes without waiting for its reply: xenstored
        // applies it when it next runs.
        sim.run_until_idle(100);
        assert_eq!(sim.store_read(&format!("{fe}/state")).unwrap(), b"4");
        assert_eq!(
            sim.store_read("/local/domain/0/backend/vsnd/7/0/state")
                .unwrap(),
            b"4"
        );
    }
}

per_backend! {
    fn playback_arrives_sample_for_sample(profile) {
        let (_sim, frontend, handle) = setup(profile);
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        assert!(pcm.negotiation().backend_answered);
        pcm.prepare().unwrap();
        let tone = Tone {
            frequency_hz: 440,
            rate: 48_000,
            channels: 2,
            level_millidb: -6000,
        };
        let reference = tone.render_s16le(48_000);
        let mut written = 0;
        while written < reference.len() {
            let frames = pcm
                .write(&reference[written..(written + 4 * 1000).min(reference.len())])
                .unwrap();
            assert!(frames > 0);
            written += frames * 4;
        }
        pcm.drain().unwrap();
        assert_eq!(pcm.state(), StreamState::Drained);
        assert_eq!(pcm.position(), 48_000);
        let got = handle.played("spk");
        assert_eq!(got.len(), reference.len());
        assert!(got == reference, "audio differs");
        // Pipelining: more than one WRITE was in flight at some point.
        assert!(pcm.counters().max_in_flight > 1, "{:?}", pcm.counters());
        assert_eq!(pcm.counters().underruns, 0);
        assert_eq!(handle.backend_underruns("spk"), 0, "nor the drain at the end");
        // The frontend answered every position event at once (simulated
        // time stands still while it runs).
        let (waits, longest_ms) = handle.backend_longest_answer_ms("spk");
        assert!(waits >= 48 && longest_ms <= 1, "{profile}: {waits} waits, longest {longest_ms} ms");
        pcm.close().unwrap();
    }
}

per_backend! {
    fn zero_copy_playback_matches_copying_playback(profile) {
        let (_sim, frontend, handle) = setup(profile);
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request(256, 1024)).unwrap();
        pcm.prepare().unwrap();
        let tone = Tone {
            frequency_hz: 1000,
            rate: 48_000,
            channels: 2,
            level_millidb: 0,
        };
        let total = 24_000usize;
        let mut done = 0usize;
        while done < total {
            let n = pcm
                .write_in_place(total - done, |bytes, first| {
                    tone.fill_s16le((done + first) as u64, bytes)
                })
                .unwrap();
            assert!(n > 0);
            done += n;
        }
        pcm.drain().unwrap();
        assert!(handle.played("spk") == tone.render_s16le(total as u64));
    }
}

per_backend! {
    fn capture_returns_the_backend_source_exactly(profile) {
        let pattern: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (sim, frontend, _handle) = setup_with(profile,
            &SimVsndSpec::simple(),
            pattern.clone(),
            FrontendOptions::default(),
        );
        let mut pcm = SndCapture::open_unique_id(&frontend, "mic", &request(240, 960)).unwrap();
        pcm.prepare().unwrap();
        let started = sim.now_ns();
        pcm.start().unwrap();
        let mut got = vec![0u8; 4 * 12_000];
        let mut done = 0;
        while done < got.len() {
            done += pcm.read(&mut got[done..]).unwrap() * 4;
        }
        // 12 000 frames at 48 kHz cannot be captured in less than 250 ms.
        let elapsed = sim.now_ns() - started;
        assert!(
            elapsed >= 250_000_000,
            "captured 250 ms of audio in {elapsed} ns"
        );
        let expected: Vec<u8> = pattern.iter().cycle().take(got.len()).copied().collect();
        assert_eq!(Crc32::of(&got), Crc32::of(&expected));
        assert!(got == expected);
        pcm.stop().unwrap();
        pcm.close().unwrap();
    }
}

per_backend! {
    fn pause_and_resume_keep_the_position_monotonic(profile) {
        let (sim, frontend, handle) = setup(profile);
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        pcm.prepare().unwrap();
        let tone = Tone {
            frequency_hz: 440,
            rate: 48_000,
            channels: 2,
            level_millidb: -6000,
        };
        let audio = tone.render_s16le(9_600);
        pcm.write(&audio[..4 * 1920]).unwrap();
        pcm.start().unwrap();
        pcm.write(&audio[4 * 1920..4 * 4800]).unwrap();
        pcm.pause().unwrap();
        let paused_at = pcm.position();
        // Time passes while paused: the position must not move.
        sim.advance_to(sim.now_ns() + 200_000_000);
        frontend.poll();
        pcm.write_ready().unwrap();
        assert_eq!(pcm.position(), paused_at);
        pcm.resume().unwrap();
        pcm.write(&audio[4 * 4800..]).unwrap();
        pcm.drain().unwrap();
        assert!(pcm.position() >= paused_at);
        assert_eq!(pcm.position(), 9_600);
        assert!(handle.played("spk") == audio);
    }
}

per_backend! {
    fn volume_and_mute_reach_the_backend(profile) {
        let (_sim, frontend, handle) = setup(profile);
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        pcm.prepare().unwrap();
        if !profile.has_volume() {
            // snd_be has no volume or mute handler: -EINVAL, which the
            // application sees as Unsupported; the stream stays usable.
            let mut values = [0i32; 2];
            let kinds = [
                pcm.set_volume(&[-6000, -12000]).unwrap_err().kind(),
                pcm.volume(&mut values).unwrap_err().kind(),
                pcm.set_mute(true).unwrap_err().kind(),
                pcm.set_mute(false).unwrap_err().kind(),
            ];
            assert_eq!(kinds, [ErrorKind::Unsupported; 4], "{profile}");
            assert_eq!(pcm.state(), StreamState::Prepared, "{profile}");
            let audio = vec![7u8; 1920 * 4];
            let mut done = 0;
            while done < audio.len() {
                done += pcm.write(&audio[done..]).unwrap() * 4;
            }
            if pcm.state() == StreamState::Prepared {
                pcm.start().unwrap();
            }
            pcm.drain().unwrap();
            assert!(handle.played("spk") == audio, "{profile}: plays after the refusals");
            return;
        }
        pcm.set_volume(&[-6000, -12000]).unwrap();
        let mut values = [0i32; 2];
        assert_eq!(pcm.volume(&mut values).unwrap(), 2);
        assert_eq!(values, [-6000, -12000]);
        pcm.set_mute(true).unwrap();
        pcm.set_mute(false).unwrap();
        assert!(pcm.set_volume(&[0]).is_err(), "one value per channel");
    }
}

per_backend! {
    fn two_streams_play_at_once(profile) {
        let mut spec = SimVsndSpec::simple();
        let second = xensnd_sim::vsnd::SimPcmSpec {
            name: "second".into(),
            nodes: vec![],
            streams: vec![xensnd_sim::vsnd::SimStreamSpec {
                unique_id: "spk2".into(),
                playback: true,
                nodes: vec![],
            }],
        };
        spec.pcms.push(second);
        let (_sim, frontend, handle) = setup_with(profile, &spec, vec![], FrontendOptions::default());
        let mut a = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        let mut b = SndPlayback::open_unique_id(&frontend, "spk2", &request(480, 1920))
            .unwrap();
        a.prepare().unwrap();
        b.prepare().unwrap();
        a.start().unwrap();
        b.start().unwrap();
        let ta = Tone {
            frequency_hz: 440,
            rate: 48_000,
            channels: 2,
            level_millidb: -6000,
        }
        .render_s16le(24_000);
        let tb = Tone {
            frequency_hz: 880,
            rate: 48_000,
            channels: 2,
            level_millidb: -6000,
        }
        .render_s16le(24_000);
        let (mut da, mut db) = (0, 0);
        while da < ta.len() || db < tb.len() {
            let mut progress = false;
            if da < ta.len() {
                match a.try_write(&ta[da..(da + 1920).min(ta.len())]) {
                    Ok(n) => {
                        da += n * 4;
                        progress = true;
                    }
                    Err(e) => assert_eq!(xensnd_pcm::Error::kind(&e), ErrorKind::WouldBlock),
                }
            }
            if db < tb.len() {
                match b.try_write(&tb[db..(db + 1920).min(tb.len())]) {
                    Ok(n) => {
                        db += n * 4;
                        progress = true;
                    }
                    Err(e) => assert_eq!(xensnd_pcm::Error::kind(&e), ErrorKind::WouldBlock),
                }
            }
            if !progress {
                frontend.with_platform(|xen| {
                    use xen_guest::Clock;
                    let deadline = xen.now_ns() + 1_000_000;
                    xen.wait_until(deadline);
                });
            }
        }
        a.drain().unwrap();
        b.drain().unwrap();
        assert!(handle.played("spk") == ta);
        assert!(handle.played("spk2") == tb);
    }
}

per_backend! {
    fn backend_restart_disconnects_then_reconnects(profile) {
        let (sim, frontend, handle) = setup(profile);
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        pcm.prepare().unwrap();
        let audio = Tone {
            frequency_hz: 440,
            rate: 48_000,
            channels: 2,
            level_millidb: -6000,
        }
        .render_s16le(4_800);
        pcm.write(&audio).unwrap();
        sim.run_until_idle(100);
        let played_before = pcm.position();
        assert!(played_before > 0, "some of the audio was played");
        handle.restart();
        // Let the backend tear down and come back to InitWait; the frontend
        // follows through its watch.
        sim.run_until_idle(100);
        let error = pcm.write(&audio).unwrap_err();
        assert_eq!(xensnd_pcm::Error::kind(&error), ErrorKind::Disconnected);
        assert_eq!(pcm.state(), StreamState::Open);
        // The position stays the last one the old connection reported (an app
        // resumes from it), not the new connection's zero.
        assert_eq!(pcm.position(), played_before);
        let _ = pcm.write(&audio);
        assert_eq!(pcm.position(), played_before, "still after a second try");
        assert_eq!(frontend.connected_devices(), 1, "the frontend reconnected");
        assert_eq!(
            handle.0.borrow().history.len(),
            2,
            "first connection torn down"
        );
        // Prepare again and play on the new connection.
        pcm.prepare().unwrap();
        pcm.write(&audio).unwrap();
        pcm.drain().unwrap();
        let recorded = handle.played("spk");
        assert!(recorded.ends_with(&audio));
        // Nothing of the first connection is still granted except live pages.
        let _ = sim;
    }
}

per_backend! {
    fn a_silent_backend_times_out_with_a_clear_error(profile) {
        let options = FrontendOptions {
            request_timeout_ns: 50_000_000,
            ..FrontendOptions::default()
        };
        let (_sim, frontend, handle) = setup_with(profile, &SimVsndSpec::simple(), vec![], options);
        handle.set_silent(true);
        // The HW_PARAM_QUERY times out and negotiation falls back to XenStore.
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        assert!(!pcm.negotiation().backend_answered);
        let error = pcm.prepare().unwrap_err();
        assert_eq!(xensnd_pcm::Error::kind(&error), ErrorKind::Timeout);
        // A late answer must not complete a newer request.
        handle.set_silent(false);
        pcm.prepare().unwrap();
        assert_eq!(pcm.state(), StreamState::Prepared);
    }
}

per_backend! {
    fn teardown_revokes_every_grant(profile) {
        let (sim, frontend, _handle) = setup(profile);
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        pcm.prepare().unwrap();
        pcm.close().unwrap();
        drop(pcm);
        frontend.shutdown();
        sim.run_until_idle(100);
        assert_eq!(sim.granted_refs(GUEST), Vec::<u32>::new(), "grants leaked");
        assert_eq!(frontend.leftover_grants(), 0);
    }
}

per_backend! {
    fn playback_that_runs_dry_mid_stream_recovers_sample_exact_and_drains(profile) {
        let (sim, frontend, handle) = setup(profile);
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        pcm.prepare().unwrap();
        let audio: Vec<u8> = (0..4 * 9600u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut done = 0;
        // Three dry spells: a buffer and a half, then the application
        // sleeps 150 ms (the backend plays everything and runs dry).
        for spell in 0..3 {
            let end = (done + 4 * 2880).min(audio.len());
            while done < end {
                done += pcm.write(&audio[done..end]).unwrap() * 4;
            }
            if pcm.state() == StreamState::Prepared {
                pcm.start().unwrap();
            }
            sim.run_until(sim.now_ns() + 150_000_000);
            assert_eq!(pcm.state(), StreamState::Running, "{profile}: spell {spell}");
        }
        while done < audio.len() {
            done += pcm.write(&audio[done..]).unwrap() * 4;
        }
        let before = sim.now_ns();
        pcm.drain().unwrap();
        // The last 960 frames: 20 ms, and a position within a period or a
        // timer tick of them.
        let took = sim.now_ns() - before;
        assert!(took <= 60_000_000, "{profile}: drain took {took} ns");
        assert_eq!(pcm.position(), 9600, "{profile}");
        assert!(handle.played("spk") == audio, "{profile}: audio differs");
        let underruns = pcm.counters().underruns;
        assert_eq!(underruns, 3, "{profile}: one underrun per dry spell");
        // The backend (what `make bench` reads from sndback's stats) heard
        // the same three gaps, and not the drain at the end.
        assert_eq!(handle.backend_underruns("spk"), 3, "{profile}: the backend's count");
        // The application's 150 ms sleeps, less the period that ended
        // before the backend's next event: the wait the bench prints.
        let (waits, longest_ms) = handle.backend_longest_answer_ms("spk");
        assert!(waits > 3, "{profile}: {waits} waits");
        assert!((130..=150).contains(&longest_ms), "{profile}: longest {longest_ms} ms");
        pcm.close().unwrap();
    }
}

// ALSA's `snd_pcm_drain` on a PREPARED stream: nothing queued, it returns
// at once; data queued (less than the buffer, so nothing started it), it
// starts the stream and plays it out. Ours does the same.
per_backend! {
    fn drain_of_a_prepared_stream_returns_at_once_or_plays_what_is_queued(profile) {
        let (sim, frontend, handle) = setup(profile);
        let mut pcm = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        // Nothing queued: Drained at once, nothing sent but the OPEN.
        pcm.prepare().unwrap();
        let before = sim.now_ns();
        pcm.drain().unwrap();
        assert_eq!(pcm.state(), StreamState::Drained);
        assert_eq!(pcm.position(), 0);
        assert!(sim.now_ns() - before < 1_000_000, "{profile}: returned at once");
        assert!(handle.played("spk").is_empty());
        // Queued frames of every count from one to a whole buffer: played out.
        for frames in [1usize, 479, 480, 481, 1919, 1920] {
            pcm.prepare().unwrap();
            let data: Vec<u8> = (0..frames * 4).map(|at| (at * 7 + frames) as u8).collect();
            let mut queued = 0;
            while queued < data.len() {
                queued += pcm.write(&data[queued..]).unwrap() * 4;
            }
            assert_eq!(pcm.state(), StreamState::Prepared, "{profile} {frames}");
            let played_before = handle.played("spk").len();
            pcm.drain().unwrap();
            assert_eq!(pcm.state(), StreamState::Drained, "{profile} {frames}");
            assert_eq!(pcm.position(), frames as u64, "{profile} {frames}");
            let played = handle.played("spk");
            assert!(
                played[played_before..] == data[..],
                "{profile} {frames}: the queued frames"
            );
        }
        // A capture stream still refuses to drain.
        let mut mic = SndCapture::open_unique_id(&frontend, "mic", &request(480, 1920)).unwrap();
        mic.prepare().unwrap();
        assert_eq!(mic.drain().unwrap_err().kind, ErrorKind::InvalidState);
        assert_eq!(mic.state(), StreamState::Prepared);
        pcm.close().unwrap();
        mic.close().unwrap();
    }
}
