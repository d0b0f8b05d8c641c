//! Hostile backend, `XENSND_OP_HW_PARAM_QUERY` answers: min > max, empty or
//! unknown format bits, zero rates, a wrong operation and an answer that
//! excludes what was asked. Nonsense fields are ignored (and reported in
//! the negotiation's issues), the XenStore limits are used instead, and the
//! stream then plays normally; an answer that is valid but excludes the
//! request is a clear `InvalidConfig` error naming both sides.

mod hostile_common;

use hostile_common::*;
use xen_abi::sndif::*;
use xensnd_pcm::{ErrorKind, Stream, StreamState};
use xensnd_sim::hostile::Reply;
use xensnd_sndif::negotiate::{AnswerProblem, HwParamField};
use xensnd_sndif::pcm::SndPlayback;
use zerocopy::{FromBytes, IntoBytes};

/// Rewrite the HW_PARAM answer with `f`.
fn answer_with(world: &World, f: impl Fn(&mut HwParam) + 'static) {
    world.hostile.borrow_mut().script = Some(tamper_nth(
        XENSND_OP_HW_PARAM_QUERY,
        0,
        move |_, mut response| {
            let (mut hw, _) = HwParam::read_from_prefix(&response.resp).unwrap();
            f(&mut hw);
            response.resp[..core::mem::size_of::<HwParam>()].copy_from_slice(hw.as_bytes());
            vec![Reply::Now(response)]
        },
    ));
}

/// Open, check the issues with `check`, then play a little and tear down.
fn opens_with_issue(world: World, field: HwParamField, check: impl Fn(&AnswerProblem) -> bool) {
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    let negotiation = pcm.negotiation().clone();
    assert!(negotiation.backend_answered);
    assert!(
        negotiation
            .issues
            .iter()
            .any(|issue| issue.field == field && check(&issue.problem)),
        "{negotiation:?}"
    );
    assert_eq!(pcm.config().rate, 48_000);
    assert_eq!(pcm.config().channels, 2);
    pcm.prepare().unwrap();
    pcm.start().unwrap();
    play(&mut pcm, 4800).unwrap();
    pcm.drain().unwrap();
    assert_eq!(pcm.state(), StreamState::Drained);
    assert_clean_teardown(&world);
}

#[test]
fn hostile_hw_param_min_greater_than_max_is_ignored() {
    let world = setup();
    answer_with(&world, |hw| {
        hw.rates = Interval {
            min: 96_000,
            max: 8_000,
        }
    });
    opens_with_issue(world, HwParamField::Rates, |p| {
        matches!(p, AnswerProblem::MinGreaterThanMax { .. })
    });
}

#[test]
fn hostile_hw_param_empty_formats_are_ignored() {
    let world = setup();
    answer_with(&world, |hw| hw.formats = 0);
    opens_with_issue(world, HwParamField::Formats, |p| {
        matches!(p, AnswerProblem::NoFormats { .. })
    });
}

#[test]
fn hostile_hw_param_unknown_format_bits_are_dropped() {
    let world = setup();
    answer_with(&world, |hw| hw.formats |= 0xF000_0000_0000_0000);
    opens_with_issue(world, HwParamField::Formats, |p| {
        matches!(p, AnswerProblem::UndefinedFormatBits { .. })
    });
}

#[test]
fn hostile_hw_param_only_unknown_format_bits_are_ignored() {
    let world = setup();
    answer_with(&world, |hw| hw.formats = 0xF000_0000_0000_0000);
    opens_with_issue(world, HwParamField::Formats, |p| {
        matches!(p, AnswerProblem::NoFormats { .. })
    });
}

#[test]
fn hostile_hw_param_zero_rates_are_ignored() {
    let world = setup();
    answer_with(&world, |hw| hw.rates = Interval { min: 0, max: 0 });
    opens_with_issue(world, HwParamField::Rates, |p| {
        matches!(p, AnswerProblem::Zero)
    });
}

#[test]
fn hostile_hw_param_zero_buffer_and_period_are_ignored() {
    let world = setup();
    answer_with(&world, |hw| {
        hw.buffer = Interval { min: 0, max: 0 };
        hw.period = Interval {
            min: u32::MAX,
            max: 1,
        };
    });
    opens_with_issue(world, HwParamField::Buffer, |p| {
        matches!(p, AnswerProblem::Zero)
    });
}

#[test]
fn hostile_hw_param_answer_excluding_the_request_is_invalid_config() {
    let world = setup();
    answer_with(&world, |hw| {
        hw.rates = Interval {
            min: 8_000,
            max: 8_000,
        }
    });
    let error = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::InvalidConfig, "{error}");
    assert!(error.detail.contains("unsupported rate 48000"), "{error}");
    // Nothing is broken: a second open gets an honest answer.
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_hw_param_answer_with_wrong_operation_falls_back_to_xenstore() {
    let world = setup();
    world.hostile.borrow_mut().script = Some(tamper_nth(
        XENSND_OP_HW_PARAM_QUERY,
        0,
        |_, mut response| {
            response.operation = XENSND_OP_OPEN;
            response.resp = [0xFF; 56];
            vec![Reply::Now(response)]
        },
    ));
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    assert!(!pcm.negotiation().backend_answered);
    assert_eq!(pcm.config().rate, 48_000);
    pcm.prepare().unwrap();
    assert_clean_teardown(&world);
}
