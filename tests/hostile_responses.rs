//! Hostile backend, request/response ring: bad indices, unknown, duplicate
//! and mismatched responses, nonsense statuses, timeouts, late answers,
//! rewritten request slots and unsolicited responses. Every case must end in
//! a clear error or be ignored, keep the frontend usable where it should, and
//! leave no grant behind at teardown.

mod hostile_common;

use hostile_common::*;
use xen_abi::errno::XEN_EIO;
use xen_abi::sndif::*;
use xensnd_pcm::{ErrorKind, Playback, Stream, StreamState};
use xensnd_sim::hostile::Reply;
use xensnd_sndif::frontend::FrontendOptions;
use xensnd_sndif::pcm::{SndCapture, SndPlayback};

/// Answer `operation`'s first request with `f(honest)` instead.
fn rewrite_first(world: &World, operation: u8, f: impl Fn(&mut Response) + 'static) {
    world.hostile.borrow_mut().script = Some(tamper_nth(operation, 0, move |_, mut r| {
        f(&mut r);
        vec![Reply::Now(r)]
    }));
}

#[test]
fn hostile_rsp_prod_past_the_ring_size_breaks_only_that_stream() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    {
        let mut hostile = world.hostile.borrow_mut();
        let stream = &mut hostile.streams[0];
        let bogus = stream.response_producer.wrapping_add(1000);
        stream.set_response_producer(bogus);
    }
    let error = play(&mut pcm, 4800).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Disconnected, "{error}");
    assert!(error.detail.contains("ring protocol"), "{error}");
    // Still an error next time, never a panic or a hang.
    assert_eq!(
        kind(&pcm.set_mute(true).unwrap_err()),
        ErrorKind::Disconnected
    );
    // The other stream of the device is unaffected.
    let mut mic = SndCapture::open_unique_id(&world.frontend, "mic", &request()).unwrap();
    assert!(mic.negotiation().backend_answered);
    mic.prepare().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_rsp_prod_going_backwards_is_a_protocol_error() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    {
        let mut hostile = world.hostile.borrow_mut();
        let stream = &mut hostile.streams[0];
        let bogus = stream.response_producer.wrapping_sub(3);
        stream.set_response_producer(bogus);
    }
    let error = pcm.set_volume(&[0, 0]).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Disconnected, "{error}");
    assert_clean_teardown(&world);
}

#[test]
fn hostile_response_with_unknown_id_is_ignored_and_the_request_times_out() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    rewrite_first(&world, XENSND_OP_SET_VOLUME, |r| r.id = 0xBEEF);
    let error = pcm.set_volume(&[-100, -100]).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
    assert!(pcm.channel_stats().unexpected_responses >= 1);
    // Usable afterwards.
    pcm.set_volume(&[-100, -100]).unwrap();
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_duplicate_response_id_completes_once_and_is_then_ignored() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    let start = world.sim.now_ns();
    let mut mutes = 0;
    world.hostile.borrow_mut().script = Some(Box::new(move |request, honest| {
        if request.operation != XENSND_OP_MUTE {
            return vec![Reply::Now(honest)];
        }
        mutes += 1;
        if mutes == 1 {
            // The first answer is fine; a copy with an error status comes
            // while the next request waits, and must not complete it.
            let mut copy = honest;
            copy.status = -XEN_EIO;
            vec![Reply::Now(honest), Reply::At(start + 20_000_000, copy)]
        } else if mutes == 2 {
            // This request's slot went to the copy: it gets no answer
            // (one more would be more responses than requests).
            vec![]
        } else {
            vec![Reply::Now(honest)]
        }
    }));
    pcm.set_mute(true).unwrap();
    let error = pcm.set_mute(true).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
    assert_eq!(pcm.channel_stats().unexpected_responses, 1);
    pcm.set_mute(true).unwrap();
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_more_responses_than_requests_is_a_protocol_error() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    world.hostile.borrow_mut().script = Some(tamper_nth(XENSND_OP_MUTE, 0, |_, r| {
        vec![Reply::Now(r), Reply::Now(r), Reply::Now(r)]
    }));
    let error = pcm.set_mute(true).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Disconnected, "{error}");
    assert_clean_teardown(&world);
}

#[test]
fn hostile_response_for_another_requests_id_does_not_complete_it_twice() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    // MUTE is answered with the id of the (completed) request before it.
    rewrite_first(&world, XENSND_OP_MUTE, |r| r.id = r.id.wrapping_sub(1));
    let error = pcm.set_mute(true).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
    assert_eq!(pcm.channel_stats().unexpected_responses, 1);
    pcm.set_mute(true).unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_response_with_the_wrong_operation_is_a_bad_response() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    rewrite_first(&world, XENSND_OP_SET_VOLUME, |r| {
        r.operation = XENSND_OP_CLOSE
    });
    let error = pcm.set_volume(&[0, 0]).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Other, "{error}");
    assert!(error.detail.contains("malformed"), "{error}");
    assert_eq!(pcm.channel_stats().mismatched_responses, 1);
    pcm.set_volume(&[0, 0]).unwrap();
    assert_clean_teardown(&world);
}

fn status_case(status: i32) -> (World, xensnd_sndif::pcm::PcmError, u64) {
    let world = setup();
    let mut pcm = running_speaker(&world);
    rewrite_first(&world, XENSND_OP_SET_VOLUME, move |r| r.status = status);
    let error = pcm.set_volume(&[0, 0]).unwrap_err();
    let bad = pcm.channel_stats().bad_status;
    // The next request is fine.
    pcm.set_volume(&[0, 0]).unwrap();
    (world, error, bad)
}

#[test]
fn hostile_positive_status_is_a_bad_response() {
    let (world, error, bad) = status_case(1);
    assert_eq!(kind(&error), ErrorKind::Other, "{error}");
    assert_eq!(bad, 1);
    assert_clean_teardown(&world);
}

#[test]
fn hostile_status_minus_100000_is_a_bad_response() {
    let (world, error, bad) = status_case(-100_000);
    assert_eq!(kind(&error), ErrorKind::Other, "{error}");
    assert_eq!(bad, 1);
    assert_clean_teardown(&world);
}

#[test]
fn hostile_status_i32_min_is_a_bad_response() {
    let (world, error, bad) = status_case(i32::MIN);
    assert_eq!(kind(&error), ErrorKind::Other, "{error}");
    assert_eq!(bad, 1);
    assert_clean_teardown(&world);
}

#[test]
fn hostile_real_errno_status_reaches_the_app_as_a_backend_error() {
    // -EIO: -EINVAL on a volume request means "no volume control"
    // (Unsupported, see sndif_interop.rs).
    let (world, error, bad) = status_case(-XEN_EIO);
    assert_eq!(kind(&error), ErrorKind::Backend(-XEN_EIO), "{error}");
    assert_eq!(bad, 0);
    assert_clean_teardown(&world);
}

#[test]
fn hostile_never_answering_times_out_after_the_default_3_seconds() {
    let world = setup_with(FrontendOptions::default());
    // Buffer and period left to the backend's answer: OPEN goes at
    // `prepare` (an exact request sends it with the query at `open`).
    let layout = xensnd_sndif::negotiate::StreamRequest::layout(
        xensnd_pcm::format::SampleFormat::S16Le,
        48_000,
        2,
    );
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &layout).unwrap();
    world.hostile.borrow_mut().silent = true;
    let before = world.sim.now_ns();
    let error = pcm.prepare().unwrap_err();
    let waited = world.sim.now_ns() - before;
    assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
    assert!(
        (3_000_000_000..3_100_000_000).contains(&waited),
        "waited {waited} ns"
    );
    assert_eq!(pcm.channel_stats().timeouts, 1);
    // A silent backend still lets go of the pages at teardown.
    assert_clean_teardown(&world);
}

#[test]
fn hostile_answer_after_the_timeout_does_not_complete_a_newer_request() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    let timeout = 100_000_000u64;
    let start = world.sim.now_ns();
    let mut count = 0;
    world.hostile.borrow_mut().script = Some(Box::new(move |request, honest| {
        match request.operation {
            XENSND_OP_SET_VOLUME if count == 0 => {
                count += 1;
                // Arrives after the timeout, while MUTE waits; with an error
                // status, so completing MUTE with it would fail MUTE.
                let mut late = honest;
                late.status = -XEN_EIO;
                vec![Reply::At(start + timeout + timeout / 2, late)]
            }
            XENSND_OP_MUTE => vec![Reply::At(start + 1_800_000_000 / 10, honest)],
            _ => vec![Reply::Now(honest)],
        }
    }));
    let error = pcm.set_volume(&[0, 0]).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
    pcm.set_mute(true).unwrap();
    assert!(world.sim.now_ns() >= start + 180_000_000);
    let stats = pcm.channel_stats();
    assert_eq!(stats.timeouts, 1);
    // Recognised as the late answer of the request that timed out.
    assert_eq!(stats.late_responses, 1, "{stats:?}");
    assert_eq!(stats.unexpected_responses, 0, "{stats:?}");
    assert_clean_teardown(&world);
}

#[test]
fn hostile_rewriting_request_slots_after_submission_changes_nothing() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    // Before every write the backend scribbles over every request slot and
    // over req_event; the frontend keeps its own copy of what it asked.
    world.hostile.borrow_mut().scribble = Some(0xA5);
    for _ in 0..10 {
        play(&mut pcm, 960).unwrap();
    }
    pcm.drain().unwrap();
    assert_eq!(pcm.state(), StreamState::Drained);
    assert_eq!(pcm.position(), 9600);
    let stats = pcm.channel_stats();
    assert_eq!(stats.unexpected_responses + stats.mismatched_responses, 0);
    assert_clean_teardown(&world);
}

#[test]
fn hostile_response_with_nothing_outstanding_is_a_protocol_error() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    {
        let mut state = world.hostile.borrow_mut();
        let stream = &mut state.streams[0];
        let garbage = Response {
            id: 0xFFFF,
            operation: 0xFF,
            reserved: 0xFF,
            status: i32::MAX,
            resp: [0xFF; 56],
        };
        stream.push_response(&garbage);
    }
    // Nothing was in flight: rsp_prod claims a response to no request.
    let error = pcm.write_ready().unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Disconnected, "{error}");
    assert_clean_teardown(&world);
}

#[test]
fn hostile_never_answering_writes_fills_the_ring_then_times_out() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    world.hostile.borrow_mut().script = Some(Box::new(|request, honest| {
        if request.operation == XENSND_OP_WRITE {
            vec![]
        } else {
            vec![Reply::Now(honest)]
        }
    }));
    let error = play(&mut pcm, 48_000).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
    assert_clean_teardown(&world);
}

#[test]
fn hostile_close_answered_with_an_error_still_releases_everything() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    rewrite_first(&world, XENSND_OP_CLOSE, |r| r.status = -XEN_EIO);
    let error = pcm.close().unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Backend(-XEN_EIO), "{error}");
    drop(pcm);
    // The buffer was released anyway: the stream opens and plays again on
    // the same connection.
    let mut pcm = running_speaker(&world);
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    pcm.close().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_close_never_answered_times_out_and_teardown_is_still_clean() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    world.hostile.borrow_mut().script = Some(tamper_nth(XENSND_OP_CLOSE, 0, |_, _| vec![]));
    let error = pcm.close().unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
    drop(pcm);
    assert_clean_teardown(&world);
}

#[test]
fn hostile_writes_answered_out_of_order_still_complete() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    let start = world.sim.now_ns();
    let mut writes = 0u64;
    world.hostile.borrow_mut().script = Some(Box::new(move |request, honest| {
        if request.operation != XENSND_OP_WRITE {
            return vec![Reply::Now(honest)];
        }
        writes += 1;
        // Every other WRITE is answered later than the one after it.
        if writes % 2 == 1 {
            vec![Reply::At(start + writes * 1_000_000, honest)]
        } else {
            vec![Reply::Now(honest)]
        }
    }));
    play(&mut pcm, 9600).unwrap();
    pcm.drain().unwrap();
    assert_eq!(pcm.state(), StreamState::Drained);
    assert_eq!(pcm.position(), 9600);
    let stats = pcm.channel_stats();
    assert_eq!(stats.unexpected_responses + stats.timeouts, 0, "{stats:?}");
    assert_clean_teardown(&world);
}

#[test]
fn hostile_write_failing_mid_stream_reaches_the_app_and_the_stream_recovers() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    world.hostile.borrow_mut().script = Some(tamper_nth(XENSND_OP_WRITE, 3, |_, mut r| {
        r.status = -XEN_EIO;
        vec![Reply::Now(r)]
    }));
    let error = play(&mut pcm, 9600).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Backend(-XEN_EIO), "{error}");
    // The app can start over.
    pcm.stop().ok();
    pcm.prepare().unwrap();
    pcm.start().unwrap();
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    assert_clean_teardown(&world);
}

/// `late_responses` counts each answer to a request that timed out once,
/// and only while its id is still held back; the held ids are the newest
/// `RING_SLOTS` timed-out ones (the oldest are released first), so the
/// answer of a recent request is recognised and one of the oldest is not.
/// Checked against a model of that policy, answer by answer.
#[test]
fn late_answers_are_counted_once_each_and_the_oldest_ids_are_released_first() {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;
    use xen_guest::ring::RING_SLOTS;
    let world = setup();
    let mut pcm = running_speaker(&world);
    // Every SET_VOLUME's honest answer is held back; its ring slot is
    // freed by an invented answer (so more than a ring's worth can time
    // out), or by the late answer the test chose to deliver.
    let held: Rc<RefCell<Vec<Response>>> = Rc::default();
    let deliver: Rc<RefCell<Option<Response>>> = Rc::default();
    {
        let (held, deliver) = (Rc::clone(&held), Rc::clone(&deliver));
        world.hostile.borrow_mut().script = Some(Box::new(move |request, honest| {
            if request.operation != XENSND_OP_SET_VOLUME {
                return vec![Reply::Now(honest)];
            }
            held.borrow_mut().push(honest);
            let reply = deliver.borrow_mut().take().unwrap_or_else(|| {
                let mut invented = honest;
                invented.id = 0xF000;
                invented
            });
            vec![Reply::Now(reply)]
        }));
    }
    // The model: ids held back, oldest first.
    let mut model: VecDeque<u16> = VecDeque::new();
    let timed_out = |model: &mut VecDeque<u16>, id: u16| {
        if model.len() >= RING_SLOTS as usize {
            model.pop_front();
        }
        model.push_back(id);
    };
    let baseline = pcm.channel_stats();
    let (mut late, mut unexpected) = (baseline.late_responses, baseline.unexpected_responses);
    let first = RING_SLOTS as usize + 6;
    for index in 0..first {
        let error = pcm.set_volume(&[0, 0]).unwrap_err();
        assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
        unexpected += 1; // the invented answer
        timed_out(&mut model, held.borrow()[index].id);
    }
    // Deliver late answers: a recent one, the oldest (released), a
    // duplicate, then every other from the newest down, each in place of a
    // new request's answer (which then times out too, releasing the oldest
    // held id).
    let mut order = vec![first - 2, 0, first - 2];
    order.extend((1..first - 2).rev());
    for index in order {
        let answer = held.borrow()[index];
        *deliver.borrow_mut() = Some(answer);
        let error = pcm.set_volume(&[0, 0]).unwrap_err();
        assert_eq!(kind(&error), ErrorKind::Timeout, "{error}");
        match model.iter().position(|id| *id == answer.id) {
            Some(at) => {
                model.remove(at);
                late += 1;
            }
            None => unexpected += 1,
        }
        let newest = held.borrow().last().unwrap().id;
        timed_out(&mut model, newest);
        let stats = pcm.channel_stats();
        assert_eq!(
            (stats.late_responses, stats.unexpected_responses),
            (late, unexpected),
            "after the answer of request {index} (id {}): {stats:?}",
            answer.id
        );
    }
    let recognised = late - baseline.late_responses;
    assert!(recognised >= 10, "{recognised}");
    assert_clean_teardown(&world);
}
