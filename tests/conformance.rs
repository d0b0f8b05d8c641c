//! The conformance sweep (issue #12, item 7): the real frontend
//! (`sndif` + `pcm`), the simulated Xen and the real backend engine in each
//! backend profile ([`BackendProfile`]: ours and the snd_be-like one), over
//! the configuration space sndif allows.
//!
//! Covered, per backend profile:
//! - the grid: every PCM format sndif defines (25) × channels 1..=8 × the
//!   rates 8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000,
//!   176400, 192000 (2200 cells) × playback and capture (4400 cases). Each
//!   cell uses a buffer/period shape taken in turn from [`SHAPES`] (so
//!   every shape meets every format, every channel count and every rate);
//!   formats without a fixed sample size (IMA ADPCM, MPEG, GSM) cannot be
//!   carried as frames; no backend offers them and they must be refused
//!   with `InvalidConfig`;
//! - every shape × both directions for a few cells (mono u8 at 8 kHz,
//!   6-channel s16_le at 48 kHz, 8-channel f64_be at 192 kHz);
//! - buffers of more than 1023 pages (more than one directory page), both
//!   directions;
//! - cards whose `buffer-size` is not a multiple of the frame (and not of
//!   the page): the stream gets the most whole frames that fit;
//! - impossible configurations, each refused with the error kind stated in
//!   [`refusals`] (rate, channels, format outside the card; a buffer below
//!   the backend's minimum; a period longer than the buffer; a card buffer
//!   smaller than one frame; an empty buffer).
//!
//! A case passes when the bytes the backend engine consumed (playback: its
//! sink) or produced (capture: its source) equal, bit for bit, what the
//! application wrote or read. Each stream is opened, played and closed on
//! the same connection again and again, so reopening is swept too.
//!
//! The whole sweep takes a few seconds per profile in the default debug
//! test profile (each case plays or records one buffer, one period and 3
//! frames, so the ring wraps). The counts go to stderr (shown with
//! `--nocapture` or on failure) and to `target/conformance-<profile>.txt`.

#[macro_use]
mod profiles;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use xensnd_backend::io::{IoError, MemorySink, Source};
use xensnd_backend::PcmParams;
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Capture, ErrorKind, Playback, Stream, StreamState};
use xensnd_sim::backend_host::{BackendProfile, SimBackendView, SimSndBackend};
use xensnd_sim::vsnd::{add_vsnd_device, SimPcmSpec, SimStreamSpec, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::SndStream;

const GUEST: u16 = 3;

/// The rates of the sweep.
const RATES: [u32; 11] = [
    8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176_400, 192_000,
];

/// Buffer and period shapes, in frames: (buffer, period). None is a
/// multiple of the page size in bytes for most frame sizes; the period
/// counts are 1, 2, 3, 4, 7 and uneven ones (the buffer not a whole number
/// of periods).
const SHAPES: [(u32, u32); 9] = [
    (64, 16),
    (64, 64),
    (100, 50),
    (333, 111),
    (1000, 250),
    (1024, 147),
    (1500, 500),
    (2049, 1024),
    (4097, 585),
];

/// Capture source: the bytes since OPEN are the pattern from its start.
struct Counting {
    at: u64,
}

/// The test pattern repeats every `PATTERN_LEN` bytes: a prime, so it is
/// never in step with a frame, a period or a page.
const PATTERN_LEN: usize = 65_521;

fn pattern() -> &'static [u8] {
    static PATTERN: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| {
        (0..PATTERN_LEN as u64)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8 ^ (i >> 8) as u8)
            .collect()
    })
}

/// `len` bytes of the pattern starting at byte `start` of its cycle.
fn pattern_bytes(start: usize, len: usize) -> Vec<u8> {
    let table = pattern();
    let mut out = Vec::with_capacity(len);
    let mut at = start % PATTERN_LEN;
    while out.len() < len {
        let take = (PATTERN_LEN - at).min(len - out.len());
        out.extend_from_slice(&table[at..at + take]);
        at = 0;
    }
    out
}

impl Source for Counting {
    fn start(&mut self, _params: &PcmParams) -> Result<(), IoError> {
        self.at = 0;
        Ok(())
    }
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        out.copy_from_slice(&pattern_bytes(self.at as usize, out.len()));
        self.at += out.len() as u64;
        Ok(())
    }
}

struct World {
    _sim: SimXen,
    frontend: Frontend<SimGuest>,
    view: Rc<RefCell<SimBackendView>>,
}

fn card(nodes: &[(&str, &str)]) -> SimVsndSpec {
    let node = |k: &str, v: &str| (k.to_string(), v.to_string());
    let stream = |id: &str, playback: bool| SimStreamSpec {
        unique_id: id.into(),
        playback,
        nodes: vec![],
    };
    SimVsndSpec {
        card: nodes.iter().map(|(k, v)| node(k, v)).collect(),
        pcms: vec![SimPcmSpec {
            name: "sweep".into(),
            nodes: vec![],
            streams: vec![stream("spk", true), stream("mic", false)],
        }],
    }
}

/// Every rate of the sweep, every format, 1 to 8 channels, 16 MiB buffers.
fn full_card() -> SimVsndSpec {
    let rates: Vec<String> = RATES.iter().map(u32::to_string).collect();
    let formats: Vec<&str> = SampleFormat::ALL.iter().map(|f| f.name()).collect();
    card(&[
        ("short-name", "Sweep"),
        ("sample-rates", &rates.join(",")),
        ("sample-formats", &formats.join(",")),
        ("channels-min", "1"),
        ("channels-max", "8"),
        ("buffer-size", "16777216"),
    ])
}

fn world(profile: BackendProfile, spec: &SimVsndSpec) -> World {
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, spec));
    let view = SimSndBackend::attach(
        &sim,
        profile.settings(16 << 20),
        Box::new(|_, _| Box::new(Counting { at: 0 }) as Box<dyn Source>),
    );
    let store = guest.xenstore().expect("store ring");
    let probe = Frontend::probe(guest, store, FrontendOptions::default()).expect("probe");
    assert!(probe.failed.is_empty(), "{profile}: {:?}", probe.failed);
    World {
        _sim: sim,
        frontend: probe.frontend,
        view,
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Exact,
    Refused(ErrorKind),
}

/// The sink of the playback stream (one connection: one sink).
fn speaker(world: &World) -> MemorySink {
    let view = world.view.borrow();
    let sinks: Vec<&MemorySink> = view
        .sinks
        .iter()
        .filter(|((domid, id), _)| *domid == u32::from(GUEST) && id == "spk")
        .map(|(_, sink)| sink)
        .collect();
    assert_eq!(sinks.len(), 1, "one connection");
    sinks[0].clone()
}

/// Play `frames` frames of a pattern (or record them) with `request`;
/// `Exact` when the bytes match bit for bit, `Refused(kind)` when opening or
/// preparing fails. Anything else panics with `what`.
fn run_case(world: &World, playback: bool, request: &StreamRequest, what: &str) -> Outcome {
    let id = if playback { "spk" } else { "mic" };
    let mut pcm = match SndStream::open_unique_id(&world.frontend, id, request) {
        Ok(pcm) => pcm,
        Err(error) => return Outcome::Refused(error.kind),
    };
    if let Err(error) = pcm.prepare() {
        return Outcome::Refused(error.kind);
    }
    let config = *pcm.config();
    let frame = config
        .format
        .frame_bytes(u32::from(config.channels))
        .expect("sized") as usize;
    let frames = config.buffer_frames as usize + config.period_frames as usize + 3;
    let bytes = frames * frame;
    if let SndStream::Playback(pcm) = &mut pcm {
        let sink = speaker(world);
        let before = sink.len();
        let audio = pattern_bytes(0x5a5a, bytes);
        let mut done = 0;
        while done < bytes {
            let n = pcm
                .write(&audio[done..])
                .unwrap_or_else(|e| panic!("{what}: write at byte {done}: {e:?}"));
            done += n * frame;
        }
        if pcm.state() == StreamState::Prepared {
            pcm.start()
                .unwrap_or_else(|e| panic!("{what}: start: {e:?}"));
        }
        pcm.drain()
            .unwrap_or_else(|e| panic!("{what}: drain: {e:?}"));
        pcm.close()
            .unwrap_or_else(|e| panic!("{what}: close: {e:?}"));
        let got = sink.bytes_from(before);
        assert_eq!(got.len(), bytes, "{what}: bytes played");
        if got != audio {
            let at = got.iter().zip(&audio).position(|(a, b)| a != b);
            panic!("{what}: played bytes differ from byte {at:?}");
        }
    } else if let SndStream::Capture(pcm) = &mut pcm {
        pcm.start()
            .unwrap_or_else(|e| panic!("{what}: start: {e:?}"));
        let mut got = vec![0u8; bytes];
        let mut done = 0;
        while done < bytes {
            let n = pcm
                .read(&mut got[done..])
                .unwrap_or_else(|e| panic!("{what}: read at byte {done}: {e:?}"));
            done += n * frame;
        }
        pcm.stop().unwrap_or_else(|e| panic!("{what}: stop: {e:?}"));
        pcm.close()
            .unwrap_or_else(|e| panic!("{what}: close: {e:?}"));
        let expected = pattern_bytes(0, bytes);
        if got != expected {
            let at = got.iter().zip(&expected).position(|(a, b)| a != b);
            panic!("{what}: captured bytes differ from byte {at:?}");
        }
    }
    Outcome::Exact
}

struct Tally {
    started: std::time::Instant,
    cases: usize,
    exact: usize,
    refused: usize,
    lines: Vec<String>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            started: std::time::Instant::now(),
            cases: 0,
            exact: 0,
            refused: 0,
            lines: Vec::new(),
        }
    }
}

impl Tally {
    fn record(&mut self, outcome: Outcome, expected: Outcome, what: &str) {
        assert_eq!(outcome, expected, "{what}");
        self.cases += 1;
        match outcome {
            Outcome::Exact => self.exact += 1,
            Outcome::Refused(_) => self.refused += 1,
        }
    }

    fn report(&mut self, profile: BackendProfile, part: &str) {
        let line = format!(
            "conformance {profile} {part}: {} cases, {} sample-exact, {} refused with the expected error ({} ms)",
            self.cases,
            self.exact,
            self.refused,
            self.started.elapsed().as_millis()
        );
        eprintln!("{line}");
        self.lines.push(line);
    }

    fn write(&self, profile: BackendProfile) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        let mut text = String::new();
        for line in &self.lines {
            let _ = writeln!(text, "{line}");
        }
        let name = format!("conformance-{}.txt", profile.name());
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(name), text);
    }
}

fn sized(format: SampleFormat) -> bool {
    format.bytes_per_sample().is_some()
}

fn direction_name(playback: bool) -> &'static str {
    if playback {
        "playback"
    } else {
        "capture"
    }
}

fn sweep(profile: BackendProfile) {
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    let world = world(profile, &full_card());
    let shapes = SHAPES.len();
    // The grid: every cell in both directions, the shape rotating.
    let mut cell = 0usize;
    for format in SampleFormat::ALL {
        for channels in 1..=8u8 {
            for rate in RATES {
                let (buffer, period) = SHAPES[cell % shapes];
                cell += 1;
                for playback in [true, false] {
                    let request = StreamRequest::exact(format, rate, channels, period, buffer);
                    let what = format!(
                        "{profile}: {} {channels} ch {rate} Hz buffer {buffer} period {period} {}",
                        format.name(),
                        direction_name(playback)
                    );
                    let expected = if sized(format) {
                        Outcome::Exact
                    } else {
                        // The backend offers only formats with a sample
                        // size: its HW_PARAM_QUERY answer leaves this out.
                        Outcome::Refused(ErrorKind::InvalidConfig)
                    };
                    tally.record(run_case(&world, playback, &request, &what), expected, &what);
                }
            }
        }
    }
    tally.report(
        profile,
        &format!("grid ({cell} format x channels x rate cells x 2 directions, shapes rotating)"),
    );
    // Every shape, both directions, for a few cells.
    let mut shape_tally = Tally::default();
    for (format, channels, rate) in [
        (SampleFormat::U8, 1u8, 8000u32),
        (SampleFormat::S16Le, 6, 48_000),
        (SampleFormat::F64Be, 8, 192_000),
    ] {
        for (buffer, period) in SHAPES {
            for playback in [true, false] {
                let request = StreamRequest::exact(format, rate, channels, period, buffer);
                let what = format!(
                    "{profile}: {} {channels} ch {rate} Hz buffer {buffer} period {period} {}",
                    format.name(),
                    direction_name(playback)
                );
                shape_tally.record(
                    run_case(&world, playback, &request, &what),
                    Outcome::Exact,
                    &what,
                );
            }
        }
    }
    shape_tally.report(profile, "shapes (3 cells x 9 shapes x 2 directions)");
    // More than 1023 pages: 1100000 frames of s16 stereo (4400000 bytes,
    // 1075 pages), 70001 frames of 8-channel f64 (4480064 bytes).
    let mut big_tally = Tally::default();
    for (format, channels, rate, buffer, period) in [
        (
            SampleFormat::S16Le,
            2u8,
            48_000u32,
            1_100_000u32,
            275_000u32,
        ),
        (SampleFormat::F64Le, 8, 192_000, 70_001, 17_500),
    ] {
        for playback in [true, false] {
            let request = StreamRequest::exact(format, rate, channels, period, buffer);
            let what = format!(
                "{profile}: {} {channels} ch {rate} Hz buffer {buffer} period {period} {}",
                format.name(),
                direction_name(playback)
            );
            big_tally.record(
                run_case(&world, playback, &request, &what),
                Outcome::Exact,
                &what,
            );
        }
    }
    big_tally.report(profile, "buffers past 1023 pages");
    let mut refusal_tally = refusals(profile, &world);
    refusal_tally.report(profile, "impossible configurations");
    let mut odd_tally = odd_card_buffers(profile);
    odd_tally.report(profile, "card buffer-size not whole frames");
    let mut total = Tally::default();
    for part in [&tally, &shape_tally, &big_tally, &refusal_tally, &odd_tally] {
        total.cases += part.cases;
        total.exact += part.exact;
        total.refused += part.refused;
        total.lines.extend(part.lines.iter().cloned());
    }
    total.started = started;
    total.report(profile, "total");
    total.write(profile);
}

/// Impossible configurations and the error kind each gets.
fn refusals(profile: BackendProfile, world: &World) -> Tally {
    let mut tally = Tally::default();
    let s16 = SampleFormat::S16Le;
    let cases: [(&str, StreamRequest, ErrorKind); 6] = [
        (
            "a rate the card does not list",
            StreamRequest::exact(s16, 12_345, 2, 480, 1920),
            ErrorKind::InvalidConfig,
        ),
        (
            "more channels than the card's maximum",
            StreamRequest::exact(s16, 48_000, 9, 480, 1920),
            ErrorKind::InvalidConfig,
        ),
        (
            "a buffer below the backend's 64 frames",
            StreamRequest::exact(s16, 48_000, 2, 16, 32),
            ErrorKind::InvalidConfig,
        ),
        (
            "a period longer than the buffer",
            StreamRequest::exact(s16, 48_000, 2, 2048, 1024),
            ErrorKind::InvalidConfig,
        ),
        (
            "an empty buffer",
            StreamRequest::exact(s16, 48_000, 2, 0, 0),
            ErrorKind::InvalidConfig,
        ),
        (
            "no channels",
            StreamRequest::exact(s16, 48_000, 0, 480, 1920),
            ErrorKind::InvalidConfig,
        ),
    ];
    for (why, request, kind) in cases {
        for playback in [true, false] {
            let what = format!("{profile}: {why} ({})", direction_name(playback));
            tally.record(
                run_case(world, playback, &request, &what),
                Outcome::Refused(kind),
                &what,
            );
        }
    }
    // A format the card does not list, and a buffer smaller than one frame.
    for (why, nodes, request, expected) in [
        (
            "a format the card does not list",
            vec![("sample-formats", "s16_le")],
            StreamRequest::exact(SampleFormat::S32Le, 48_000, 2, 480, 1920),
            Outcome::Refused(ErrorKind::InvalidConfig),
        ),
        (
            "a card buffer-size smaller than one frame",
            vec![("sample-formats", "s16_le"), ("buffer-size", "3")],
            StreamRequest::default(),
            Outcome::Refused(ErrorKind::InvalidConfig),
        ),
    ] {
        let mut nodes = nodes;
        nodes.extend([("sample-rates", "48000"), ("channels-max", "2")]);
        let small = self::world(profile, &card(&nodes));
        for playback in [true, false] {
            let what = format!("{profile}: {why} ({})", direction_name(playback));
            tally.record(run_case(&small, playback, &request, &what), expected, &what);
        }
    }
    tally
}

/// Cards whose `buffer-size` is not whole frames (nor whole pages): the
/// whole request left open gets the most whole frames that fit.
fn odd_card_buffers(profile: BackendProfile) -> Tally {
    let mut tally = Tally::default();
    for (format, channels, buffer_size) in [
        ("s16_le", "6", "65536"),
        ("s24_le", "3", "10001"),
        ("u8", "7", "4099"),
        ("f64_be", "5", "70000"),
    ] {
        let spec = card(&[
            ("sample-rates", "44100"),
            ("sample-formats", format),
            ("channels-min", channels),
            ("channels-max", channels),
            ("buffer-size", buffer_size),
        ]);
        let world = world(profile, &spec);
        let sample = SampleFormat::from_name(format).unwrap();
        let frame = sample.frame_bytes(channels.parse().unwrap()).unwrap();
        let most = buffer_size.parse::<u32>().unwrap() / frame;
        for playback in [true, false] {
            let request = StreamRequest::default();
            let what = format!(
                "{profile}: {format} {channels} ch, card buffer-size {buffer_size} ({})",
                direction_name(playback)
            );
            let pcm = SndStream::open_unique_id(
                &world.frontend,
                if playback { "spk" } else { "mic" },
                &request,
            )
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
            assert_eq!(pcm.config().buffer_frames, most, "{what}");
            drop(pcm);
            tally.record(
                run_case(&world, playback, &request, &what),
                Outcome::Exact,
                &what,
            );
        }
    }
    tally
}

per_backend! {
    fn every_format_channel_count_rate_and_buffer_is_sample_exact_or_refused(profile) {
        sweep(profile);
    }
}
