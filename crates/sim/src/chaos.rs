//! A stateful property test of the stream and PCM layers (issue #13): the
//! real frontend against the [`super::hostile`] backend, which chooses at
//! random among honest answers, error statuses on every operation, answers
//! past the timeout or never, duplicated answers, wrong ids and operations,
//! positions that stall, trickle, repeat or skip ids, and XenBus state
//! flips (Closing, a restart), interleaved with random application calls
//! (write, read, try_write, try_read, prepare, start, pause, resume, stop,
//! drain, close and reopen, volume, mute) and, rarely, `xl shutdown`.
//!
//! Every choice comes from the input bytes ([`arbitrary::Unstructured`]):
//! the cargo-fuzz target `stream_chaos` hands it libFuzzer's input, the
//! bounded run in `tests/stream_chaos.rs` a seeded RNG's bytes. A run
//! panics when an invariant breaks:
//! - no panic anywhere (overflow checks on in the host test profile);
//! - every call returns within its bound in simulated time (see
//!   [`Bounds`]);
//! - capture returns only bytes the backend wrote, in order (the hostile
//!   backend's [`super::hostile::capture_pattern`] numbers every word);
//! - playback never reports a position past the frames written since the
//!   last prepare;
//! - after teardown every grant is revoked and every event channel the
//!   frontend opened is closed.
#![forbid(unsafe_code)]

use std::boxed::Box;
use std::format;
use std::rc::Rc;
use std::string::String;
use std::vec;
use std::vec::Vec;

use arbitrary::Unstructured;

use super::hostile::{HostileBackend, Phase, PositionClock, Reply};
use super::vsnd::{add_vsnd_device, backend_path, SimVsndSpec};
use super::{SimCore, SimGuest, SimPeer, SimXen};
use xen_abi::errno::{XEN_EINVAL, XEN_EIO};
use xen_abi::sndif::{Request, Response};
use xen_guest::shutdown::ShutdownWatch;
use xen_guest::Platform;
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Capture, Playback, Stream, StreamState};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::SndStream;

const GUEST: u16 = 9;
/// Bytes per frame (s16, 2 channels).
const FRAME: usize = 4;
const PERIOD: usize = 240;
const BUFFER: usize = 960;
const RATE: u64 = 48_000;

/// The timeouts of a run, and the bound of each call derived from them.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Request timeout `T`.
    pub request_ns: u64,
    /// Stall timeout `S`.
    pub stall_ns: u64,
    /// XenBus handshake step timeout `C`: any call may first follow a
    /// XenBus change (a reconnection waits up to `C` for the backend).
    pub connect_ns: u64,
}

impl Bounds {
    /// Nanoseconds `frames` take at the stream's rate.
    fn duration(frames: usize) -> u64 {
        frames as u64 * 1_000_000_000 / RATE
    }

    /// The documented bound of `call` moving `frames` frames: a request
    /// `T` (prepare: CLOSE + OPEN `2T`; volume and mute: room, then the
    /// request, `2T`); `write`/`read` `d(n) + S + 2T`
    /// (a TRIGGER START inside); `drain` `d(buffer) + S + 3T` (START,
    /// last WRITE answers, STOP). Each plus a reconnection `2C` (the
    /// handshake waits twice) and 1 ms for the simulator's steps.
    fn of(&self, call: Call, frames: usize) -> u64 {
        let t = self.request_ns;
        let base = match call {
            Call::Prepare => 2 * t,
            Call::Write | Call::Read => Self::duration(frames) + self.stall_ns + 2 * t,
            Call::Drain => Self::duration(BUFFER) + self.stall_ns + 3 * t,
            Call::NonBlocking => 0,
            Call::Request => t,
        };
        base + 2 * self.connect_ns + 1_000_000
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Prepare,
    Write,
    Read,
    Drain,
    Request,
    NonBlocking,
}

/// What a run did (for the test's summary line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChaosReport {
    /// Steps taken (backend changes and application calls).
    pub steps: u64,
    /// Application calls made.
    pub calls: u64,
    /// Calls that failed (any error).
    pub errors: u64,
    /// Frames written and read successfully.
    pub frames: u64,
    /// Reconnections the frontend made.
    pub reconnections: u64,
    /// Simulated nanoseconds the run took.
    pub simulated_ns: u64,
}

/// The per-request script's random answers, drawn from `choices` in turn.
fn chaos_script(choices: Vec<u8>, request_ns: u64) -> super::hostile::Script {
    let mut next = 0usize;
    Box::new(move |request: &Request, honest: Response| {
        let choice = if choices.is_empty() {
            0
        } else {
            next = (next + 1) % choices.len();
            choices[next]
        };
        let mut response = honest;
        match choice % 32 {
            // Mostly honest: a stream must get somewhere.
            0..=19 => vec![Reply::Now(honest)],
            20 => {
                response.status = -XEN_EIO;
                vec![Reply::Now(response)]
            }
            21 => {
                response.status = -XEN_EINVAL;
                vec![Reply::Now(response)]
            }
            22 => vec![],
            23 => vec![Reply::After(request_ns * 3 / 2, honest)],
            24 => vec![Reply::After(request_ns / 2, honest)],
            25 => vec![Reply::Now(honest), Reply::After(request_ns / 4, honest)],
            26 => {
                response.id = response.id.wrapping_add(1);
                vec![Reply::Now(response)]
            }
            27 => {
                response.operation ^= 1;
                vec![Reply::Now(response)]
            }
            28 => {
                response.status = 7;
                vec![Reply::Now(response)]
            }
            29 => {
                // The answer to an older request again (id games).
                response.id = request.id.wrapping_sub(3);
                vec![Reply::Now(honest), Reply::After(request_ns / 3, response)]
            }
            _ => vec![Reply::After(request_ns / 10, honest)],
        }
    })
}

/// `xl shutdown` once simulated time passes `at_ns`.
struct XlShutdown {
    at_ns: u64,
    node: String,
    done: bool,
}

impl SimPeer for XlShutdown {
    fn step(&mut self, core: &mut SimCore) -> bool {
        if self.done || core.now_ns() < self.at_ns {
            return false;
        }
        self.done = true;
        let conn = core.store().connect_local(0);
        core.store().write(conn, 0, &self.node, b"poweroff").is_ok()
    }

    fn next_deadline(&self) -> Option<u64> {
        (!self.done).then_some(self.at_ns)
    }
}

/// What the run tracks about one stream.
struct Tracked {
    pcm: Option<SndStream<SimGuest>>,
    unique_id: &'static str,
    /// Playback: frames written since the last prepare.
    written: u64,
    /// Capture: the next stream word index the pattern may show.
    next_word: u32,
}

struct Run {
    sim: SimXen,
    frontend: Frontend<SimGuest>,
    hostile: super::hostile::Hostile,
    bounds: Bounds,
    report: ChaosReport,
    shutdown_requested: bool,
    /// Print every call (`XENSND_CHAOS_TRACE=1`).
    trace: bool,
}

impl Run {
    /// Call `f` and check it returned within `bound` simulated ns.
    fn timed<T: core::fmt::Debug>(&mut self, what: &str, bound: u64, f: impl FnOnce() -> T) -> T {
        let start = self.sim.now_ns();
        let result = f();
        let elapsed = self.sim.now_ns() - start;
        if self.trace {
            std::eprintln!("chaos: {what} -> {result:?} after {elapsed} ns");
        }
        assert!(
            elapsed <= bound,
            "{what} took {elapsed} ns of simulated time, bound {bound} ns"
        );
        self.report.calls += 1;
        result
    }
}

fn count<T, E: xensnd_pcm::Error>(report: &mut ChaosReport, result: &Result<T, E>) {
    if result.is_err() {
        report.errors += 1;
    }
}

/// Run one chaos case from `data`. Panics when an invariant breaks.
pub fn run(data: &[u8]) -> ChaosReport {
    let mut input = Unstructured::new(data);
    run_with(&mut input).unwrap_or_default()
}

fn run_with(u: &mut Unstructured<'_>) -> arbitrary::Result<ChaosReport> {
    let bounds = Bounds {
        request_ns: 100_000_000,
        stall_ns: *u.choose(&[300_000_000u64, 1_000_000_000])?,
        connect_ns: 300_000_000,
    };
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &SimVsndSpec::simple()));
    let baseline = guest.resource_usage().expect("the simulator counts");
    let (backend, hostile) = HostileBackend::new(GUEST, 0);
    hostile.borrow_mut().reconnect = true;
    sim.add_peer(Box::new(backend));
    let store = guest.xenstore().expect("store ring");
    let options = FrontendOptions {
        connect_timeout_ns: bounds.connect_ns,
        request_timeout_ns: bounds.request_ns,
        stall_timeout_ns: bounds.stall_ns,
        depth: u.int_in_range(1..=4)?,
    };
    let probe = Frontend::probe(guest, store, options).expect("probe");
    assert!(probe.failed.is_empty(), "{:?}", probe.failed.len());
    let frontend = probe.frontend;
    let watch = frontend
        .with_store(ShutdownWatch::register)
        .expect("watch control/shutdown");
    frontend.follow_shutdown(watch);
    let mut run = Run {
        sim: sim.clone(),
        frontend: frontend.clone(),
        hostile: Rc::clone(&hostile),
        bounds,
        report: ChaosReport::default(),
        shutdown_requested: false,
        trace: std::env::var_os("XENSND_CHAOS_TRACE").is_some(),
    };
    let mut streams = [
        Tracked {
            pcm: None,
            unique_id: "spk",
            written: 0,
            next_word: 0,
        },
        Tracked {
            pcm: None,
            unique_id: "mic",
            written: 0,
            next_word: 0,
        },
    ];
    let start_ns = sim.now_ns();
    let steps = u.int_in_range(20..=160u32)?;
    for _ in 0..steps {
        if u.is_empty() {
            break;
        }
        run.report.steps += 1;
        if run.trace {
            let hostile = run.hostile.borrow();
            std::eprintln!(
                "chaos: step {} at {} ns, backend {:?} script {}",
                run.report.steps,
                run.sim.now_ns(),
                hostile.phase,
                hostile.script.is_some()
            );
        }
        if u.ratio(1, 3)? {
            backend_step(&mut run, u)?;
        } else {
            let which = usize::from(u.ratio(1, 2)?);
            app_step(&mut run, &mut streams[which], u)?;
        }
        let frontend_connections = hostile.borrow().connections;
        run.report.reconnections = u64::from(frontend_connections.saturating_sub(1));
    }
    run.report.simulated_ns = sim.now_ns() - start_ns;
    // Teardown: close what is open (bounded too), then the XenBus way.
    let bound = run.bounds.of(Call::Request, 0);
    for tracked in &mut streams {
        if let Some(mut pcm) = tracked.pcm.take() {
            if pcm.state() != StreamState::Closed {
                let _ = run.timed("close at teardown", bound, || pcm.close());
            }
        }
    }
    hostile.borrow_mut().script = None;
    frontend.shutdown();
    sim.run_until_idle(10_000);
    frontend.poll();
    assert_eq!(
        sim.granted_refs(GUEST),
        Vec::<u32>::new(),
        "grants left after teardown"
    );
    assert_eq!(frontend.leftover_grants(), 0);
    let usage = frontend.resource_usage().expect("counted");
    assert_eq!(
        usage.event_channels, baseline.event_channels,
        "event channels left after teardown"
    );
    Ok(run.report)
}

/// Change what the backend does.
fn backend_step(run: &mut Run, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let now = run.sim.now_ns();
    let request_ns = run.bounds.request_ns;
    match u.int_in_range(0..=9u8)? {
        0 => {
            let length = u.int_in_range(1..=32)?;
            let choices: Vec<u8> = u.bytes(length)?.to_vec();
            run.hostile.borrow_mut().script = Some(chaos_script(choices, request_ns));
        }
        1 => run.hostile.borrow_mut().script = None,
        2 => {
            let mut hostile = run.hostile.borrow_mut();
            hostile.report_positions = u.ratio(1, 2)?;
            hostile.clock = Some(PositionClock {
                interval_ns: Bounds::duration(PERIOD),
                step_bytes: (PERIOD * FRAME) as u64,
                next_ns: now + Bounds::duration(PERIOD),
            });
        }
        3 => {
            // Positions that trickle: a byte or a frame per 0.9 timeout.
            let mut hostile = run.hostile.borrow_mut();
            hostile.report_positions = false;
            hostile.clock = Some(PositionClock {
                interval_ns: request_ns * 9 / 10,
                step_bytes: *u.choose(&[1u64, FRAME as u64])?,
                next_ns: now + request_ns * 9 / 10,
            });
        }
        4 => {
            // Positions stop.
            let mut hostile = run.hostile.borrow_mut();
            hostile.report_positions = false;
            hostile.clock = None;
        }
        5 => {
            let mut hostile = run.hostile.borrow_mut();
            hostile.duplicate_events = u.ratio(1, 2)?;
            hostile.event_id_skip = *u.choose(&[0u16, 0, 1, 7])?;
        }
        6 => {
            // The backend goes Closing (and unmaps) soon; it comes back.
            let delay = u.int_in_range(0..=200u64)? * 1_000_000;
            run.hostile.borrow_mut().state_at = Some((now + delay, "5"));
        }
        7 => {
            // The backend restarts: releases everything, InitWait again.
            let sim = run.sim.clone();
            let hostile = Rc::clone(&run.hostile);
            if hostile.borrow().phase == Phase::Connected {
                sim.with_core(|core| HostileBackend::release(&mut hostile.borrow_mut(), core));
                hostile.borrow_mut().phase = Phase::InitWait;
                let _ = sim.store_write(&format!("{}/state", backend_path(GUEST, 0)), b"2");
            }
        }
        8 => {
            // Honest again (a stream must be able to get somewhere).
            let mut hostile = run.hostile.borrow_mut();
            hostile.script = None;
            hostile.report_positions = true;
            hostile.duplicate_events = false;
            hostile.event_id_skip = 0;
            hostile.clock = Some(PositionClock {
                interval_ns: Bounds::duration(PERIOD),
                step_bytes: (PERIOD * FRAME) as u64,
                next_ns: now + Bounds::duration(PERIOD),
            });
        }
        _ => {
            // `xl shutdown`, rarely.
            if u.ratio(1, 8)? && !run.shutdown_requested {
                run.shutdown_requested = true;
                let delay = u.int_in_range(0..=100u64)? * 1_000_000;
                run.sim.add_peer(Box::new(XlShutdown {
                    at_ns: now + delay,
                    node: format!("/local/domain/{GUEST}/control/shutdown"),
                    done: false,
                }));
            }
        }
    }
    Ok(())
}

fn request() -> StreamRequest {
    StreamRequest::exact(
        SampleFormat::S16Le,
        RATE as u32,
        2,
        PERIOD as u32,
        BUFFER as u32,
    )
}

/// Check captured bytes against the pattern: word indices only go up.
fn check_capture(tracked: &mut Tracked, bytes: &[u8]) {
    if std::env::var_os("XENSND_CHAOS_TRACE").is_some() {
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .take(12)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        std::eprintln!("chaos: captured words {words:?}...");
    }
    for word in bytes.chunks_exact(4) {
        let index = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        assert!(
            index >= tracked.next_word,
            "capture returned word {index} after {}: bytes the backend did not write there, or out of order",
            tracked.next_word
        );
        tracked.next_word = index + 1;
    }
}

/// Make one application call on `tracked`.
fn app_step(
    run: &mut Run,
    tracked: &mut Tracked,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<()> {
    let playback = tracked.unique_id == "spk";
    let closed = tracked
        .pcm
        .as_ref()
        .is_none_or(|pcm| pcm.state() == StreamState::Closed);
    if closed || u.ratio(1, 40)? {
        // (Re)open: negotiation is a request (HW_PARAM_QUERY).
        let bound = run.bounds.of(Call::Request, 0);
        if let Some(mut old) = tracked.pcm.take() {
            if old.state() != StreamState::Closed {
                let result = run.timed("close", bound, || old.close());
                count(&mut run.report, &result);
            }
        }
        let frontend = run.frontend.clone();
        let unique_id = tracked.unique_id;
        let opened = run.timed("open", bound, || {
            SndStream::open_unique_id(&frontend, unique_id, &request())
        });
        count(&mut run.report, &opened);
        tracked.pcm = opened.ok();
        tracked.written = 0;
        tracked.next_word = 0;
        return Ok(());
    }
    let Some(mut pcm) = tracked.pcm.take() else {
        return Ok(());
    };
    let frames = u.int_in_range(1..=2 * BUFFER)?;
    // A stream that is not prepared mostly gets prepared.
    let action = if pcm.state() == StreamState::Open || pcm.state() == StreamState::Stopped {
        if u.ratio(2, 3)? {
            0
        } else {
            u.int_in_range(0..=12u8)?
        }
    } else {
        u.int_in_range(1..=13u8)?
    };
    let before = pcm.state();
    let shutdown_before = run.frontend.shutdown_request().is_some();
    match action {
        0 | 1 => {
            let bound = run.bounds.of(Call::Prepare, 0);
            let result = run.timed("prepare", bound, || pcm.prepare());
            count(&mut run.report, &result);
            if result.is_ok() {
                tracked.written = 0;
                tracked.next_word = 0;
            }
        }
        2 => {
            let bound = run.bounds.of(Call::Request, 0);
            let result = run.timed("start", bound, || pcm.start());
            count(&mut run.report, &result);
        }
        3 => {
            let bound = run.bounds.of(Call::Request, 0);
            let result = run.timed("pause", bound, || pcm.pause());
            count(&mut run.report, &result);
        }
        4 => {
            let bound = run.bounds.of(Call::Request, 0);
            let result = run.timed("resume", bound, || pcm.resume());
            count(&mut run.report, &result);
        }
        5 => {
            let bound = run.bounds.of(Call::Request, 0);
            let result = run.timed("stop", bound, || pcm.stop());
            count(&mut run.report, &result);
        }
        6 => {
            let bound = run.bounds.of(Call::Drain, 0);
            let result = run.timed("drain", bound, || pcm.drain());
            count(&mut run.report, &result);
        }
        7 if u.ratio(1, 3)? => {
            let bound = run.bounds.of(Call::Request, 0);
            let result = run.timed("close", bound, || pcm.close());
            count(&mut run.report, &result);
        }
        7 => {
            let bound = run.bounds.of(Call::Request, 0);
            let result = run.timed("start", bound, || pcm.start());
            count(&mut run.report, &result);
        }
        8 => {
            let bound = run.bounds.of(Call::Prepare, 0);
            let mute = u.ratio(1, 2)?;
            let result = run.timed("set_mute", bound, || pcm.set_mute(mute));
            count(&mut run.report, &result);
            let result = run.timed("set_volume", bound, || pcm.set_volume(&[-600, 0]));
            count(&mut run.report, &result);
        }
        9 | 10 | 13 => {
            let bound = run.bounds.of(Call::Write, frames);
            if let SndStream::Playback(pcm) = &mut pcm {
                let data: Vec<u8> = (0..frames * FRAME).map(|i| i as u8).collect();
                let result = run.timed("write", bound, || pcm.write(&data));
                count(&mut run.report, &result);
                if let Ok(n) = result {
                    assert!(n <= frames && (n > 0 || frames == 0), "write returned {n}");
                    tracked.written += n as u64;
                    run.report.frames += n as u64;
                }
            } else if let SndStream::Capture(pcm) = &mut pcm {
                let mut data = vec![0u8; frames * FRAME];
                let result = run.timed("read", bound, || pcm.read(&mut data));
                count(&mut run.report, &result);
                if run.trace {
                    for stream in &run.hostile.borrow().streams {
                        let ops: Vec<(u8, u32, u32)> = stream
                            .requests
                            .iter()
                            .map(|r| {
                                let w = |i: usize| {
                                    u32::from_le_bytes([
                                        r.op[i],
                                        r.op[i + 1],
                                        r.op[i + 2],
                                        r.op[i + 3],
                                    ])
                                };
                                (r.operation, w(0), w(4))
                            })
                            .collect();
                        std::eprintln!(
                            "chaos: {} saw {ops:?} buffer pages {}",
                            stream.dir,
                            stream.buffer.len()
                        );
                    }
                }
                if let Ok(n) = result {
                    assert!(n <= frames && n > 0, "read returned {n}");
                    check_capture(tracked, &data[..n * FRAME]);
                    run.report.frames += n as u64;
                }
            }
        }
        _ => {
            let bound = run.bounds.of(Call::NonBlocking, 0);
            if let SndStream::Playback(pcm) = &mut pcm {
                let data: Vec<u8> = (0..frames * FRAME).map(|i| i as u8).collect();
                let result = run.timed("try_write", bound, || pcm.try_write(&data));
                count(&mut run.report, &result);
                if let Ok(n) = result {
                    tracked.written += n as u64;
                }
            } else if let SndStream::Capture(pcm) = &mut pcm {
                let mut data = vec![0u8; frames * FRAME];
                let result = run.timed("try_read", bound, || pcm.try_read(&mut data));
                count(&mut run.report, &result);
                if let Ok(n) = result {
                    check_capture(tracked, &data[..n * FRAME]);
                }
            }
        }
    }
    if playback {
        assert!(
            pcm.position() <= tracked.written,
            "playback position {} past the {} frames written (state {before:?} -> {:?})",
            pcm.position(),
            tracked.written,
            pcm.state()
        );
    }
    if shutdown_before {
        // The request is final.
        assert!(run.frontend.shutdown_request().is_some());
    }
    tracked.pcm = Some(pcm);
    Ok(())
}
