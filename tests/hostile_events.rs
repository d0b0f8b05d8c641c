//! Hostile backend, event page: positions more than a buffer beyond what
//! was written, going backwards or wrapping u64, `in_prod` racing more than
//! a ring ahead or going backwards, unknown event types, event-id gaps, and a burst of a
//! million notifications and events. Bad events are ignored (and counted),
//! position tracking continues, the stream stays usable and every grant is
//! revoked at teardown.

mod hostile_common;

use hostile_common::*;
use xensnd_pcm::{Playback, Stream, StreamState};
use xensnd_sndif::pcm::{SndCapture, SndPlayback};

/// A running speaker after 1920 frames (7680 bytes) were written and
/// reported; automatic position reports are then switched off.
fn after_some_audio(world: &World) -> SndPlayback<xensnd_sim::SimGuest> {
    let mut pcm = running_speaker(world);
    play(&mut pcm, 1920).unwrap();
    settle(world, &mut pcm);
    assert_eq!(pcm.position(), 1920);
    world.hostile.borrow_mut().report_positions = false;
    pcm
}

fn push_positions(world: &World, positions: &[u64]) {
    let mut state = world.hostile.borrow_mut();
    for &position in positions {
        state.streams[0].push_position(position);
    }
}

/// Let the backend run, then let the frontend take in what it did.
fn settle(world: &World, pcm: &mut SndPlayback<xensnd_sim::SimGuest>) {
    world.sim.run_until_idle(1000);
    pcm.write_ready().unwrap();
}

/// Report honestly again and finish playing: the stream still works.
fn finish(world: &World, mut pcm: SndPlayback<xensnd_sim::SimGuest>) {
    world.hostile.borrow_mut().report_positions = true;
    play(&mut pcm, 1920).unwrap();
    pcm.drain().unwrap();
    assert_eq!(pcm.state(), StreamState::Drained);
    assert_eq!(pcm.position(), 3840);
    assert_clean_teardown(world);
}

#[test]
fn hostile_cur_pos_more_than_a_buffer_beyond_what_was_written_is_ignored() {
    // Up to a buffer (7680 bytes) past what was written is a device running
    // dry (clamped, see sndif_interop.rs); further is impossible.
    let world = setup();
    let mut pcm = after_some_audio(&world);
    push_positions(&world, &[7680 + 7680 + 4, 1 << 40]);
    settle(&world, &mut pcm);
    assert_eq!(pcm.position(), 1920);
    assert_eq!(pcm.channel_stats().bad_positions, 2);
    finish(&world, pcm);
}

#[test]
fn hostile_cur_pos_going_backwards_is_ignored() {
    let world = setup();
    let mut pcm = after_some_audio(&world);
    push_positions(&world, &[4000, 0]);
    settle(&world, &mut pcm);
    assert_eq!(pcm.position(), 1920, "position must be monotonic");
    assert_eq!(pcm.channel_stats().bad_positions, 2);
    finish(&world, pcm);
}

#[test]
fn hostile_cur_pos_wrapping_u64_is_ignored() {
    let world = setup();
    let mut pcm = after_some_audio(&world);
    push_positions(&world, &[u64::MAX, u64::MAX - 3, 7680]);
    settle(&world, &mut pcm);
    assert_eq!(pcm.position(), 1920);
    assert_eq!(pcm.channel_stats().bad_positions, 2);
    finish(&world, pcm);
}

#[test]
fn hostile_in_prod_racing_more_than_63_ahead_resynchronises() {
    let world = setup();
    let mut pcm = after_some_audio(&world);
    // 100 events the frontend never had a chance to read: the oldest were
    // overwritten. It must skip to the producer, then track again.
    let positions: Vec<u64> = (0..100).map(|_| 7680).collect();
    push_positions(&world, &positions);
    settle(&world, &mut pcm);
    let stats = pcm.channel_stats();
    assert!(stats.event_overruns >= 1, "{stats:?}");
    finish(&world, pcm);
}

#[test]
fn hostile_in_prod_going_backwards_resynchronises() {
    let world = setup();
    let mut pcm = after_some_audio(&world);
    {
        let mut state = world.hostile.borrow_mut();
        let stream = &mut state.streams[0];
        stream.event_producer = stream.event_producer.wrapping_sub(5);
        stream.push_position(7680);
    }
    settle(&world, &mut pcm);
    assert!(pcm.channel_stats().event_overruns >= 1);
    assert_eq!(pcm.position(), 1920);
    finish(&world, pcm);
}

#[test]
fn hostile_unknown_event_types_are_ignored() {
    let world = setup();
    let mut pcm = after_some_audio(&world);
    {
        let mut state = world.hostile.borrow_mut();
        let stream = &mut state.streams[0];
        for event_type in [1u8, 0x7f, 0xff] {
            let id = stream.event_id;
            stream.push_event_with_id(id, event_type, [0xEE; 56]);
        }
    }
    settle(&world, &mut pcm);
    let stats = pcm.channel_stats();
    assert_eq!(stats.unknown_events, 3, "{stats:?}");
    assert_eq!(pcm.position(), 1920);
    finish(&world, pcm);
}

#[test]
fn hostile_event_id_gaps_resynchronise_and_keep_tracking_the_position() {
    let world = setup();
    let mut pcm = after_some_audio(&world);
    play(&mut pcm, 1920).unwrap();
    {
        let mut state = world.hostile.borrow_mut();
        let stream = &mut state.streams[0];
        let first = stream.event_id;
        let mut at = |id: u16, position: u64| {
            let mut payload = [0u8; 56];
            payload[..8].copy_from_slice(&position.to_le_bytes());
            stream.push_event_with_id(id, 0, payload);
        };
        // A gap of 5 ids, then ids going back: Linux drops everything after
        // a gap; we resynchronise on each and keep tracking.
        at(first, 8000);
        at(first.wrapping_add(6), 9000);
        at(first.wrapping_add(7), 10_000);
        at(first.wrapping_sub(100), 12_000);
        at(first.wrapping_sub(99), 15_360);
    }
    let before = pcm.channel_stats().events;
    settle(&world, &mut pcm);
    let stats = pcm.channel_stats();
    assert_eq!(stats.events - before, 5);
    assert_eq!(stats.event_gaps, 2, "{stats:?}");
    assert_eq!(
        pcm.position(),
        15_360 / 4,
        "tracking continued after the gaps"
    );
    world.hostile.borrow_mut().report_positions = true;
    pcm.drain().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_million_notifications_and_events_in_a_burst_are_bounded_work() {
    let world = setup();
    let mut pcm = after_some_audio(&world);
    let (ring_port, event_port) = {
        let state = world.hostile.borrow();
        (state.streams[0].ring_port, state.streams[0].event_port)
    };
    world.sim.with_core(|core| {
        for _ in 0..1_000_000 {
            let _ = core.evtchn_send(0, ring_port);
            let _ = core.evtchn_send(0, event_port);
        }
    });
    {
        let mut state = world.hostile.borrow_mut();
        for _ in 0..1_000_000u32 {
            state.streams[0].push_position(7680);
        }
    }
    let before = pcm.channel_stats().events;
    settle(&world, &mut pcm);
    let stats = pcm.channel_stats();
    assert!(stats.events - before <= 63, "{stats:?}");
    assert!(stats.event_overruns >= 1);
    finish(&world, pcm);
}

#[test]
fn hostile_capture_position_far_ahead_counts_an_overrun_and_keeps_reading() {
    use xensnd_pcm::Capture;
    let world = setup();
    let mut mic = SndCapture::open_unique_id(&world.frontend, "mic", &request()).unwrap();
    mic.prepare().unwrap();
    mic.start().unwrap();
    {
        let mut state = world.hostile.borrow_mut();
        state.streams[1].push_position(1 << 50);
    }
    let mut frames = vec![0u8; 4 * 960];
    mic.read(&mut frames).unwrap();
    assert!(mic.counters().overruns >= 1, "{:?}", mic.counters());
    // Then the position wraps to nonsense: ignored, reading continues.
    {
        let mut state = world.hostile.borrow_mut();
        state.streams[1].push_position(u64::MAX);
        state.streams[1].push_position(5);
    }
    mic.read(&mut frames).unwrap();
    assert!(mic.channel_stats().bad_positions >= 1);
    mic.stop().unwrap();
    assert_clean_teardown(&world);
}

/// `drain` waits while the position is *below* what was written and ends
/// when it reaches it exactly (a backend that reports the end and nothing
/// past it, as one running dry at a frame boundary does); one frame short,
/// it fails with a timeout at its deadline `d(queued) + S + T`, not later.
#[test]
fn drain_ends_when_the_position_reaches_exactly_what_was_written() {
    use xensnd_pcm::ErrorKind;
    let world = setup();
    let mut pcm = after_some_audio(&world);
    // Position == written (7680 bytes): done at once, no wait.
    let before = world.sim.now_ns();
    pcm.drain().unwrap();
    assert_eq!(pcm.state(), StreamState::Drained);
    assert_eq!(pcm.position(), 1920);
    assert!(world.sim.now_ns() - before < 1_000_000, "returned at once");
    // Again, one frame short of the end.
    pcm.prepare().unwrap();
    world.hostile.borrow_mut().report_positions = true;
    play(&mut pcm, 1920).unwrap();
    settle(&world, &mut pcm);
    world.hostile.borrow_mut().report_positions = false;
    let reported = pcm.position();
    let written = 1920 * 4;
    push_positions(&world, &[written - 4]);
    settle(&world, &mut pcm);
    assert_eq!(pcm.position(), 1919, "from {reported}");
    let before = world.sim.now_ns();
    let error = pcm.drain().unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
    let waited = world.sim.now_ns() - before;
    // d(one frame) + S (10 s) + T (100 ms).
    let bound = 20_833 + 10_000_000_000 + 100_000_000;
    assert!(
        (bound..bound + 2_000_000).contains(&waited),
        "waited {waited} ns, bound {bound}"
    );
    assert_clean_teardown(&world);
}

/// Several playback streams played at once (`run` with `stream=a,b`, the
/// non-blocking interleaved player): a backend that answers every request
/// but never reports a position fills the buffers, after which nothing
/// more can be written; the run ends with a timeout after the stall
/// timeout, as a blocking `write` does, instead of spinning forever.
#[test]
fn interleaved_playback_ends_with_a_timeout_when_the_backend_stalls() {
    use xensnd_demo::run::{run, Options};
    use xensnd_sim::vsnd::{SimStreamSpec, SimVsndSpec};
    use xensnd_sndif::frontend::FrontendOptions;
    use xensnd_sndif::stream::DEFAULT_STALL_TIMEOUT_NS;
    let mut spec = SimVsndSpec::simple();
    spec.pcms[0].streams.push(SimStreamSpec {
        unique_id: "spk2".to_string(),
        playback: true,
        nodes: Vec::new(),
    });
    let options = FrontendOptions {
        request_timeout_ns: 100_000_000,
        ..FrontendOptions::default()
    };
    let (sim, probe, hostile) = probe_with(&spec, options, |_| {});
    assert!(probe.failed.is_empty(), "{:?}", probe.failed);
    hostile.borrow_mut().report_positions = false;
    let run_options = Options::parse([
        ("stream", "spk,spk2"),
        ("ms", "5000"),
        ("rate", "48000"),
        ("channels", "2"),
        ("period", "480"),
        ("buffer", "1920"),
    ])
    .unwrap();
    let before = sim.now_ns();
    let error = run(&probe.frontend, &probe.frontend, &run_options).unwrap_err();
    let waited = sim.now_ns() - before;
    assert!(error.contains("timed out"), "{error}");
    assert!(
        (DEFAULT_STALL_TIMEOUT_NS..DEFAULT_STALL_TIMEOUT_NS + 1_000_000_000).contains(&waited),
        "gave up after the stall timeout: {waited} ns ({error})"
    );
}
