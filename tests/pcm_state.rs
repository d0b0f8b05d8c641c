//! The PCM stream state machine, checked against the full transition table.

use xensnd_pcm::{Error, ErrorKind, InvalidTransition, StreamOperation, StreamState};

const STATES: [StreamState; 7] = [
    StreamState::Open,
    StreamState::Prepared,
    StreamState::Running,
    StreamState::Paused,
    StreamState::Stopped,
    StreamState::Drained,
    StreamState::Closed,
];

const OPERATIONS: [StreamOperation; 7] = [
    StreamOperation::Prepare,
    StreamOperation::Start,
    StreamOperation::Pause,
    StreamOperation::Resume,
    StreamOperation::Stop,
    StreamOperation::Drain,
    StreamOperation::Close,
];

/// The allowed transitions, written out independently of the implementation.
fn expected(from: StreamState, operation: StreamOperation) -> Option<StreamState> {
    use StreamOperation as Op;
    use StreamState as S;
    let allowed: &[(S, Op, S)] = &[
        (S::Open, Op::Prepare, S::Prepared),
        (S::Prepared, Op::Prepare, S::Prepared),
        (S::Stopped, Op::Prepare, S::Prepared),
        (S::Drained, Op::Prepare, S::Prepared),
        (S::Prepared, Op::Start, S::Running),
        (S::Running, Op::Pause, S::Paused),
        (S::Paused, Op::Resume, S::Running),
        (S::Prepared, Op::Stop, S::Stopped),
        (S::Running, Op::Stop, S::Stopped),
        (S::Paused, Op::Stop, S::Stopped),
        (S::Prepared, Op::Drain, S::Drained),
        (S::Running, Op::Drain, S::Drained),
        (S::Open, Op::Close, S::Closed),
        (S::Prepared, Op::Close, S::Closed),
        (S::Running, Op::Close, S::Closed),
        (S::Paused, Op::Close, S::Closed),
        (S::Stopped, Op::Close, S::Closed),
        (S::Drained, Op::Close, S::Closed),
    ];
    allowed
        .iter()
        .find(|(state, op, _)| *state == from && *op == operation)
        .map(|(_, _, to)| *to)
}

#[test]
fn full_transition_table() {
    let mut allowed = 0;
    for from in STATES {
        for operation in OPERATIONS {
            let result = from.transition(operation);
            match expected(from, operation) {
                Some(to) => {
                    allowed += 1;
                    assert_eq!(result, Ok(to), "{from:?} --{operation:?}-->");
                }
                None => assert_eq!(
                    result,
                    Err(InvalidTransition { from, operation }),
                    "{from:?} --{operation:?}--> should be refused"
                ),
            }
        }
    }
    assert_eq!(allowed, 18);
}

#[test]
fn closed_is_final() {
    for operation in OPERATIONS {
        assert!(StreamState::Closed.transition(operation).is_err());
    }
}

#[test]
fn a_full_life_cycle() {
    use StreamOperation::*;
    let mut state = StreamState::Open;
    for operation in [
        Prepare, Start, Pause, Resume, Pause, Stop, Prepare, Start, Drain, Prepare, Close,
    ] {
        state = state.transition(operation).unwrap();
    }
    assert_eq!(state, StreamState::Closed);
}

#[test]
fn transfer_states() {
    let transfer: Vec<StreamState> = STATES.into_iter().filter(|s| s.can_transfer()).collect();
    assert_eq!(
        transfer,
        [
            StreamState::Prepared,
            StreamState::Running,
            StreamState::Paused
        ]
    );
}

#[test]
fn invalid_transition_is_an_invalid_state_error() {
    let error = StreamState::Open
        .transition(StreamOperation::Start)
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidState);
    assert_eq!(error.to_string(), "cannot Start a stream in state Open");
}

#[test]
fn error_kind_is_its_own_error() {
    for kind in [
        ErrorKind::Timeout,
        ErrorKind::Disconnected,
        ErrorKind::Underrun,
        ErrorKind::Overrun,
        ErrorKind::InvalidConfig,
        ErrorKind::Unsupported,
        ErrorKind::Backend(-22),
        ErrorKind::InvalidState,
        ErrorKind::WouldBlock,
        ErrorKind::InvalidInput,
        ErrorKind::Other,
    ] {
        assert_eq!(kind.kind(), kind);
        assert!(!kind.to_string().is_empty());
    }
    assert_eq!(ErrorKind::Backend(-22).to_string(), "backend error -22");
}
