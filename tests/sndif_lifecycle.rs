//! The one sndif stream lifecycle both ends go by: every state × trigger,
//! and the trigger codes.

use xen_abi::sndif::{
    XENSND_OP_TRIGGER_PAUSE, XENSND_OP_TRIGGER_RESUME, XENSND_OP_TRIGGER_START,
    XENSND_OP_TRIGGER_STOP,
};
use xensnd_sndif::lifecycle::{InvalidTrigger, ProtocolState, Trigger};

const STATES: [ProtocolState; 5] = [
    ProtocolState::Closed,
    ProtocolState::Open,
    ProtocolState::Running,
    ProtocolState::Paused,
    ProtocolState::Stopped,
];
const TRIGGERS: [Trigger; 4] = [
    Trigger::Start,
    Trigger::Pause,
    Trigger::Resume,
    Trigger::Stop,
];

#[test]
fn every_state_and_trigger_follows_the_table() {
    use ProtocolState::*;
    // (trigger, from, to) for every allowed move; everything else is refused.
    let allowed = [
        (Trigger::Start, Open, Running),
        (Trigger::Start, Stopped, Running),
        (Trigger::Pause, Running, Paused),
        (Trigger::Resume, Paused, Running),
        (Trigger::Stop, Running, Stopped),
        (Trigger::Stop, Paused, Stopped),
    ];
    let mut refused = 0;
    for from in STATES {
        for trigger in TRIGGERS {
            let expected = allowed
                .iter()
                .find(|(t, f, _)| *t == trigger && *f == from)
                .map(|(_, _, to)| *to);
            match (from.trigger(trigger), expected) {
                (Ok(to), Some(want)) => assert_eq!(to, want, "{from:?} {trigger:?}"),
                (Err(error), None) => {
                    assert_eq!(error, InvalidTrigger { from, trigger });
                    refused += 1;
                }
                (got, want) => panic!("{from:?} {trigger:?}: got {got:?}, want {want:?}"),
            }
        }
    }
    assert_eq!(refused, STATES.len() * TRIGGERS.len() - allowed.len());
}

#[test]
fn trigger_codes_are_sndif_h_and_nothing_else() {
    let named = [
        (XENSND_OP_TRIGGER_START, Trigger::Start),
        (XENSND_OP_TRIGGER_PAUSE, Trigger::Pause),
        (XENSND_OP_TRIGGER_RESUME, Trigger::Resume),
        (XENSND_OP_TRIGGER_STOP, Trigger::Stop),
    ];
    for code in 0..=u8::MAX {
        let want = named.iter().find(|(c, _)| *c == code).map(|(_, t)| *t);
        assert_eq!(Trigger::from_code(code), want, "code {code}");
        if let Some(trigger) = want {
            assert_eq!(trigger.code(), code);
        }
    }
}
