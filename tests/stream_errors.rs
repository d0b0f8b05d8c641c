//! Error paths of the stream and PCM layers against a misbehaving backend
//! (issue #13): every blocking call ends within its bound, a failed request
//! leaves its stream in a defined state, and a stale answer never completes
//! a newer request. One test per defect, named after the behaviour.

mod hostile_common;

use hostile_common::*;
use xen_abi::errno::XEN_EIO;
use xen_abi::sndif::*;
use xensnd_pcm::{Capture, ErrorKind, Playback, Stream, StreamState};
use xensnd_sim::hostile::{PositionClock, Reply};
use xensnd_sndif::pcm::{SndCapture, SndPlayback};

/// Bytes per frame of [`request`] (s16, 2 channels).
const FRAME: usize = 4;
/// Frames per period and per buffer of [`request`].
const PERIOD: usize = 480;
const BUFFER: usize = 1920;
/// The request timeout of [`setup`].
const REQUEST_NS: u64 = 100_000_000;
/// The default stall timeout (like ALSA's 10 s).
const STALL_NS: u64 = 10_000_000_000;

/// Nanoseconds `frames` take at 48 kHz.
fn duration_ns(frames: usize) -> u64 {
    frames as u64 * 1_000_000_000 / 48_000
}

/// A position clock like a 48 kHz device: one period per period time.
fn device_clock(now: u64) -> PositionClock {
    PositionClock {
        interval_ns: duration_ns(PERIOD),
        step_bytes: (PERIOD * FRAME) as u64,
        next_ns: now + duration_ns(PERIOD),
    }
}

fn ramp(frames: usize) -> Vec<u8> {
    (0..frames * FRAME).map(|i| i as u8).collect()
}

/// Check captured bytes against the hostile backend's pattern: every word
/// names its stream word index; indices only go up, by one within a run.
/// Returns the next expected index.
fn check_capture(bytes: &[u8], mut next: u32) -> u32 {
    for word in bytes.chunks_exact(4) {
        let index = u32::from_le_bytes(word.try_into().unwrap());
        assert!(
            index >= next,
            "captured word {index} after {next}: stale or reordered bytes"
        );
        next = index + 1;
    }
    next
}

#[test]
fn capture_goes_on_after_a_failed_read_and_counts_its_frames_as_lost() {
    let world = setup();
    world.hostile.borrow_mut().report_positions = false;
    world.hostile.borrow_mut().clock = Some(device_clock(world.sim.now_ns()));
    world.hostile.borrow_mut().script = Some(tamper_nth(XENSND_OP_READ, 1, |_, mut r| {
        r.status = -XEN_EIO;
        vec![Reply::Now(r)]
    }));
    let mut mic = SndCapture::open_unique_id(&world.frontend, "mic", &request()).unwrap();
    mic.prepare().unwrap();
    let mut buffer = vec![0u8; PERIOD * FRAME];
    let mut next = 0;
    let mut errors = 0;
    let mut frames = 0;
    for _ in 0..20 {
        match mic.read(&mut buffer) {
            Ok(n) => {
                next = check_capture(&buffer[..n * FRAME], next);
                frames += n;
            }
            Err(error) => {
                assert_eq!(kind(&error), ErrorKind::Backend(-XEN_EIO), "{error}");
                errors += 1;
            }
        }
    }
    assert_eq!(errors, 1, "the failed READ is reported once");
    assert!(frames >= 18 * PERIOD, "reading went on: {frames} frames");
    assert_eq!(mic.counters().lost_bytes, (PERIOD * FRAME) as u64);
    mic.close().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn a_stale_write_answer_never_completes_a_later_request_after_the_ids_wrap() {
    let world = setup();
    // The first WRITE succeeds, the three after it fail.
    let mut writes = 0;
    world.hostile.borrow_mut().script = Some(Box::new(move |request, mut honest| {
        if request.operation == XENSND_OP_WRITE {
            writes += 1;
            if (2..=4).contains(&writes) {
                honest.status = -XEN_EIO;
            }
        }
        vec![Reply::Now(honest)]
    }));
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    // What was queued before the failure is counted; the failure comes
    // with the next call.
    let error = match pcm.write(&ramp(BUFFER + PERIOD)) {
        Ok(written) => {
            assert_eq!(written, BUFFER);
            pcm.write(&ramp(PERIOD)).unwrap_err()
        }
        Err(error) => error,
    };
    assert_eq!(kind(&error), ErrorKind::Backend(-XEN_EIO), "{error}");
    assert_eq!(pcm.state(), StreamState::Stopped, "prepare again");
    pcm.prepare().unwrap();
    // More MUTEs than there are ids: each must get its own answer.
    for n in 0..70_000u32 {
        if let Err(error) = pcm.set_mute(n % 2 == 0) {
            panic!("MUTE #{n} failed: {error}");
        }
    }
    let stats = pcm.channel_stats();
    assert_eq!(stats.mismatched_responses, 0);
    assert_eq!(stats.unexpected_responses, 0);
    assert_clean_teardown(&world);
}

#[test]
fn write_ends_with_a_timeout_when_the_backend_stops_reporting_positions() {
    let world = setup();
    world.hostile.borrow_mut().report_positions = false;
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    let data = ramp(2 * BUFFER);
    let mut error = None;
    let mut written = 0;
    while written < 2 * BUFFER {
        // Each call ends within its bound: what it queued, or the error.
        let start = world.sim.now_ns();
        let result = pcm.write(&data[written * FRAME..]);
        let elapsed = world.sim.now_ns() - start;
        let bound = duration_ns(2 * BUFFER - written) + STALL_NS + REQUEST_NS;
        assert!(elapsed <= bound, "write took {elapsed} ns, bound {bound}");
        match result {
            Ok(n) => written += n,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let error = error.expect("the backend never made room");
    assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
    // What was queued is accounted: a buffer, no more.
    assert_eq!(written, BUFFER);
    assert_eq!(pcm.state(), StreamState::Running);
    assert_clean_teardown(&world);
}

#[test]
fn write_ends_with_disconnected_when_the_backend_goes_closing_while_it_waits() {
    let world = setup();
    world.hostile.borrow_mut().report_positions = false;
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    let start = world.sim.now_ns();
    world.hostile.borrow_mut().state_at = Some((start + 50_000_000, "5"));
    let data = ramp(2 * BUFFER);
    let error = loop {
        match pcm.write(&data) {
            Ok(_) => continue,
            Err(error) => break error,
        }
    };
    assert_eq!(kind(&error), ErrorKind::Disconnected, "{error}");
    let elapsed = world.sim.now_ns() - start;
    assert!(
        elapsed < 50_000_000 + REQUEST_NS,
        "noticed the backend leaving after {elapsed} ns"
    );
    assert_eq!(pcm.state(), StreamState::Open);
    assert_clean_teardown(&world);
}

#[test]
fn drain_ends_within_the_queued_time_when_positions_trickle() {
    let world = setup();
    let now = world.sim.now_ns();
    {
        let mut hostile = world.hostile.borrow_mut();
        hostile.report_positions = false;
        // One byte per 0.9 request timeout: "progress" that never ends.
        hostile.clock = Some(PositionClock {
            interval_ns: REQUEST_NS * 9 / 10,
            step_bytes: 1,
            next_ns: now + REQUEST_NS * 9 / 10,
        });
    }
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    pcm.write(&ramp(PERIOD)).unwrap();
    pcm.start().unwrap();
    let start = world.sim.now_ns();
    let error = pcm.drain().unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
    let elapsed = world.sim.now_ns() - start;
    let bound = duration_ns(PERIOD) + STALL_NS + 2 * REQUEST_NS;
    assert!(elapsed <= bound, "drain took {elapsed} ns, bound {bound}");
    assert_clean_teardown(&world);
}

#[test]
fn write_into_a_paused_stream_whose_buffer_is_full_is_invalid_state() {
    let world = setup();
    world.hostile.borrow_mut().report_positions = false;
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    pcm.start().unwrap();
    assert_eq!(pcm.write(&ramp(BUFFER)).unwrap(), BUFFER);
    pcm.pause().unwrap();
    let error = pcm.write(&ramp(PERIOD)).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::InvalidState, "{error}");
    assert_eq!(pcm.state(), StreamState::Paused);
    pcm.resume().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn read_from_a_paused_stream_with_nothing_captured_is_invalid_state() {
    let world = setup();
    let mut mic = SndCapture::open_unique_id(&world.frontend, "mic", &request()).unwrap();
    mic.prepare().unwrap();
    mic.start().unwrap();
    mic.pause().unwrap();
    let mut buffer = vec![0u8; PERIOD * FRAME];
    let error = mic.read(&mut buffer).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::InvalidState, "{error}");
    assert_clean_teardown(&world);
}

/// `xl shutdown` at a given time: writes the word to `control/shutdown`.
struct XlShutdownAt {
    at_ns: u64,
    node: String,
    done: bool,
}

impl xensnd_sim::SimPeer for XlShutdownAt {
    fn step(&mut self, core: &mut xensnd_sim::SimCore) -> bool {
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

#[test]
fn write_ends_with_shutdown_when_the_toolstack_asks_while_it_waits() {
    use xen_guest::shutdown::{ShutdownRequest, ShutdownWatch};
    let world = setup();
    let watch = world.frontend.with_store(ShutdownWatch::register).unwrap();
    world.frontend.follow_shutdown(watch);
    world.hostile.borrow_mut().report_positions = false;
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    let start = world.sim.now_ns();
    let node = format!("/local/domain/{GUEST}/control/shutdown");
    world.sim.add_peer(Box::new(XlShutdownAt {
        at_ns: start + 50_000_000,
        node: node.clone(),
        done: false,
    }));
    let data = ramp(2 * BUFFER);
    let error = loop {
        match pcm.write(&data) {
            Ok(_) => continue,
            Err(error) => break error,
        }
    };
    assert_eq!(kind(&error), ErrorKind::Shutdown, "{error}");
    let elapsed = world.sim.now_ns() - start;
    assert!(
        elapsed < 50_000_000 + REQUEST_NS,
        "noticed the shutdown after {elapsed} ns"
    );
    assert_eq!(
        world.frontend.shutdown_request(),
        Some(ShutdownRequest::Poweroff)
    );
    world.sim.run_until_idle(100);
    assert_eq!(world.sim.store_read(&node).unwrap(), b"", "acknowledged");
    // Later blocking calls end at once too.
    let start = world.sim.now_ns();
    let error = pcm.drain().unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Shutdown, "{error}");
    assert_eq!(world.sim.now_ns(), start);
    assert_clean_teardown(&world);
}

/// At a given time, writes each value to `node` in turn, in one step.
struct WritesAt {
    at_ns: u64,
    node: String,
    values: Vec<&'static [u8]>,
}

impl xensnd_sim::SimPeer for WritesAt {
    fn step(&mut self, core: &mut xensnd_sim::SimCore) -> bool {
        if self.values.is_empty() || core.now_ns() < self.at_ns {
            return false;
        }
        let conn = core.store().connect_local(0);
        for value in self.values.drain(..) {
            let _ = core.store().write(conn, 0, &self.node, value);
        }
        true
    }
    fn next_deadline(&self) -> Option<u64> {
        (!self.values.is_empty()).then_some(self.at_ns)
    }
}

#[test]
fn a_backend_state_event_that_leaves_it_connected_does_not_end_a_blocking_call() {
    let world = setup();
    world.hostile.borrow_mut().report_positions = false;
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    let start = world.sim.now_ns();
    // The watch fires twice; by the time the frontend looks, the backend
    // is Connected again: nothing to abort.
    world.sim.add_peer(Box::new(WritesAt {
        at_ns: start + 50_000_000,
        node: format!("{}/state", be_path()),
        values: vec![b"3", b"4"],
    }));
    // The call waits for room until its own deadline, not until the event.
    let written = pcm.write(&ramp(2 * BUFFER)).unwrap();
    assert_eq!(written, BUFFER);
    let elapsed = world.sim.now_ns() - start;
    assert!(elapsed >= STALL_NS, "the call ended after {elapsed} ns");
    assert_eq!(pcm.state(), StreamState::Running);
    assert_clean_teardown(&world);
}
