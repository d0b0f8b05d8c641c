//! Our backend engine driven by a Linux-like frontend in the simulator
//! ([`LinuxFront`]: snd-xen-front v6.1 with ALSA, `aplay` and `arecord` on
//! top): the same stream played and recorded again and again on one
//! connection (the "plays only once" bug), every drain completing promptly
//! (Linux counts a period only when the frames since the last one exceed
//! it), every format with a sample size, sample-exact.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

#[macro_use]
mod profiles;

use xensnd_backend::io::{IoError, MemorySink, Source};
use xensnd_backend::xenbus::DeviceSettings;
use xensnd_backend::{EventIds, PcmParams};
use xensnd_pcm::format::{FormatSet, SampleFormat};
use xensnd_sim::backend_host::{BackendProfile, SimBackendView, SimSndBackend};
use xensnd_sim::linux_front::{LinuxError, LinuxFront, LinuxParams};
use xensnd_sim::vsnd::{add_vsnd_device, SimPcmSpec, SimStreamSpec, SimVsndSpec};
use xensnd_sim::SimXen;

use std::cell::RefCell;
use std::rc::Rc;

const GUEST: u16 = 5;
const MS: u64 = 1_000_000;

/// Capture source: byte `i` since OPEN is `pattern(i)`.
struct Counting(u64);

fn pattern(index: u64) -> u8 {
    (index.wrapping_mul(0x9e37_79b9) >> 11) as u8
}

impl Source for Counting {
    fn start(&mut self, _params: &PcmParams) -> Result<(), IoError> {
        self.0 = 0;
        Ok(())
    }
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        for byte in out {
            *byte = pattern(self.0);
            self.0 += 1;
        }
        Ok(())
    }
}

fn spec() -> SimVsndSpec {
    let node = |k: &str, v: &str| (k.to_string(), v.to_string());
    let formats: Vec<&str> = FormatSet::SIZED.iter().map(|f| f.name()).collect();
    SimVsndSpec {
        card: vec![
            node("short-name", "Linux"),
            node("sample-rates", "8000,22050,44100,48000,96000,192000"),
            node("sample-formats", &formats.join(",")),
            node("channels-min", "1"),
            node("channels-max", "8"),
            node("buffer-size", "1048576"),
        ],
        pcms: vec![SimPcmSpec {
            name: "main".into(),
            nodes: vec![],
            streams: vec![
                SimStreamSpec {
                    unique_id: "spk".into(),
                    playback: true,
                    nodes: vec![],
                },
                SimStreamSpec {
                    unique_id: "mic".into(),
                    playback: false,
                    nodes: vec![],
                },
            ],
        }],
    }
}

fn start(settings: DeviceSettings) -> (LinuxFront, Rc<RefCell<SimBackendView>>) {
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &spec()));
    let view = SimSndBackend::attach(
        &sim,
        settings,
        Box::new(|_, _| Box::new(Counting(0)) as Box<dyn Source>),
    );
    let linux = LinuxFront::connect(&sim, guest, 0, 1000 * MS).unwrap();
    (linux, view)
}

fn speaker(view: &Rc<RefCell<SimBackendView>>) -> MemorySink {
    let view = view.borrow();
    let sinks: Vec<&MemorySink> = view
        .sinks
        .iter()
        .filter(|((_, id), _)| id == "spk")
        .map(|(_, sink)| sink)
        .collect();
    assert_eq!(sinks.len(), 1, "one connection");
    sinks[0].clone()
}

fn audio(bytes: usize, seed: u64) -> Vec<u8> {
    (0..bytes as u64).map(|i| pattern(i ^ seed)).collect()
}

/// OPEN, `aplay` `frames` frames, CLOSE; the drain time and whether the
/// sink got exactly the data.
fn play_once(
    linux: &mut LinuxFront,
    sink: &MemorySink,
    format: SampleFormat,
    channels: u8,
    rate: u32,
    frames: u32,
    seed: u64,
) -> Result<u64, LinuxError> {
    let spk = linux.stream("spk").unwrap();
    let frame = format.frame_bytes(u32::from(channels)).unwrap();
    let period = rate / 50; // 20 ms periods
    let buffer = period * 4;
    let params = LinuxParams {
        format,
        channels,
        rate,
        buffer_frames: buffer,
        period_frames: period,
    };
    linux.open(spk, &params)?;
    let data = audio((frames * frame) as usize, seed);
    let before = sink.len();
    let result = linux.aplay(spk, &data);
    linux.close(spk)?;
    let played = sink.bytes_from(before);
    assert!(
        played == data,
        "{format:?} {channels} ch {rate} Hz: the sink got other bytes"
    );
    result
}

per_backend! {
    fn linux_plays_the_same_stream_again_and_again_and_each_drain_completes(profile) {
        let (mut linux, view) = start(profile.settings(1 << 20));
        let sink = speaker(&view);
        let spk = linux.stream("spk").unwrap();
        // 0.25 s of 48 kHz s16 stereo, five times on one connection.
        for play in 0..5 {
            let drain = play_once(&mut linux, &sink, SampleFormat::S16Le, 2, 48_000, 12_000, play);
            let drain = drain.unwrap_or_else(|e| panic!("{profile}: play {play}: {e:?}"));
            // snd_pcm_drain returns within the buffer (4 periods of 20 ms)
            // plus a period, far from ALSA's 1 s timeout.
            assert!(drain <= 100 * MS, "{profile}: play {play}: drain took {drain} ns");
        }
        let counters = linux.streams[spk].counters;
        assert_eq!(counters.skipped, 0, "{profile}: no event skipped");
        assert_eq!(counters.stray_responses, 0, "{profile}");
        assert!(counters.events > 0);
    }
}

per_backend! {
    fn linux_plays_and_records_every_format_sample_exact(profile) {
        let (mut linux, view) = start(profile.settings(1 << 20));
        let sink = speaker(&view);
        let mic = linux.stream("mic").unwrap();
        let rates = [8000, 22_050, 44_100, 48_000, 96_000, 192_000];
        let mut cases = 0;
        for (index, format) in FormatSet::SIZED.iter().enumerate() {
            for (step, channels) in [1u8, 2, 6].into_iter().enumerate() {
                let rate = rates[(index + step) % rates.len()];
                let what = format!("{profile}: {format:?} {channels} ch {rate} Hz");
                // 5 periods and a bit: the ring wraps.
                let frames = rate / 50 * 5 + 7;
                let drain = play_once(&mut linux, &sink, format, channels, rate, frames, cases);
                let drain = drain.unwrap_or_else(|e| panic!("{what}: playback: {e:?}"));
                assert!(drain <= 100 * MS, "{what}: drain took {drain} ns");
                let frame = format.frame_bytes(u32::from(channels)).unwrap();
                let period = rate / 50;
                let params = LinuxParams {
                    format,
                    channels,
                    rate,
                    buffer_frames: period * 4,
                    period_frames: period,
                };
                linux
                    .open(mic, &params)
                    .unwrap_or_else(|e| panic!("{what}: capture OPEN: {e:?}"));
                let got = linux
                    .arecord(mic, u64::from(frames))
                    .unwrap_or_else(|e| panic!("{what}: arecord: {e:?}"));
                linux.close(mic).unwrap();
                let expected: Vec<u8> = (0..u64::from(frames * frame)).map(pattern).collect();
                assert!(got == expected, "{what}: captured bytes differ");
                cases += 1;
            }
        }
        assert_eq!(cases, FormatSet::SIZED.len() as u64 * 3);
        let spk = linux.stream("spk").unwrap();
        assert_eq!(linux.streams[spk].counters.skipped, 0, "{profile}");
        assert_eq!(linux.streams[mic].counters.skipped, 0, "{profile}");
    }
}

#[test]
fn the_linux_model_plays_only_once_when_event_ids_restart_at_open() {
    // A backend numbering its events from 0 at every OPEN: Linux skips
    // every event of the second stream, so its write times out, as the
    // reported "plays only once" bug did.
    let mut settings = BackendProfile::Sndback.settings(1 << 20);
    settings.behaviour.event_ids = EventIds::ResetAtOpen;
    let (mut linux, view) = start(settings);
    let sink = speaker(&view);
    play_once(&mut linux, &sink, SampleFormat::S16Le, 2, 48_000, 12_000, 0)
        .expect("the first play works");
    let spk = linux.stream("spk").unwrap();
    let params = LinuxParams {
        format: SampleFormat::S16Le,
        channels: 2,
        rate: 48_000,
        buffer_frames: 3840,
        period_frames: 960,
    };
    linux.open(spk, &params).unwrap();
    let second = linux.aplay(spk, &audio(12_000 * 4, 1));
    assert_eq!(second, Err(LinuxError::TransferTimeout));
    assert!(linux.streams[spk].counters.skipped > 0);
}

per_backend! {
    /// What sndback's `--stats` shows of a Linux domU before its first
    /// WRITE (the bench prints it beside xensnd's): the simulated
    /// snd-xen-front sends one request at a time and waits for each, and
    /// (unlike the real one) no HW_PARAM_QUERY: OPEN alone, one batch.
    fn the_backend_counts_what_linux_sent_before_its_first_write(profile) {
        let (mut linux, view) = start(profile.settings(1 << 20));
        let sink = speaker(&view);
        play_once(&mut linux, &sink, SampleFormat::S16Le, 2, 48_000, 4800, 1).unwrap();
        let view = view.borrow();
        let spk = view.active.iter().find(|s| s.unique_id == "spk").unwrap();
        let counters = &spk.counters;
        assert_eq!(counters.requests_before_first_write[0], 1, "OPEN");
        assert_eq!(counters.total_requests_before_first_write(), 1);
        assert_eq!(counters.request_batches_before_first_write, 1);
        // Every request after it came alone too: one batch each.
        assert_eq!(counters.request_batches, counters.total_requests());
    }
}
