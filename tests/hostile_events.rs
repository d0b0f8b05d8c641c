//! Hostile backend, event page: positions more than a buffer beyond what
//! was written, going backwards or wrapping u64, `in_prod` racing more than
//! a ring ahead or going backwards, unknown event types, event-id gaps, and a burst of a
//! million notifications and events. Bad events are ignored (and counted),
//! position tracking continues, the stream stays usable and every grant is
//! revoked at teardown.

mod hostile_common;

use hostile_common::*;
use xensnd::pcm::{Playback, Stream, StreamState};

/// A running speaker after 1920 frames (7680 bytes) were written and
/// reported; automatic position reports are then switched off.
fn after_some_audio(world: &World) -> xensnd::sndif::pcm::SndPcm<xensnd::sim::SimGuest> {
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
fn settle(world: &World, pcm: &mut xensnd::sndif::pcm::SndPcm<xensnd::sim::SimGuest>) {
    world.sim.run_until_idle(1000);
    pcm.write_ready().unwrap();
}

/// Report honestly again and finish playing: the stream still works.
fn finish(world: &World, mut pcm: xensnd::sndif::pcm::SndPcm<xensnd::sim::SimGuest>) {
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
    use xensnd::pcm::Capture;
    let world = setup();
    let mut mic = world.frontend.open_unique_id("mic", &request()).unwrap();
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
