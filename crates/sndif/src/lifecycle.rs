//! The lifecycle of one sndif stream, as both ends follow it.
//!
//! `io/sndif.h` defines the operations, not the states: "Request open -
//! open a PCM stream for playback or capture", "Request close - close an
//! opened pcm stream", "Request stream running state change - trigger PCM
//! stream running state to start, stop, pause or resume"
//! (`XENSND_OP_TRIGGER_{START,PAUSE,STOP,RESUME}`). The states they imply
//! are the same for the frontend's [`super::stream::Stream`] (which sends
//! the requests) and the backend engine's `backend::Stream` (which answers
//! them), so both go by this one machine:
//!
//! ```text
//! Closed --OPEN--> Open --START--> Running --PAUSE--> Paused
//!                   ^                 |  ^---RESUME----'  |
//!                   |                 STOP              STOP
//!                   |                 v                   |
//!                   '-- (OPEN again)  Stopped <-----------'
//!                               Stopped --START--> Running
//! any --CLOSE--> Closed;  OPEN on an open stream closes it first.
//! ```
//!
//! A trigger not in the table is refused ([`InvalidTrigger`]): the backend
//! answers it with `-EINVAL`, the frontend does not send it.
//!
//! This is not the application's state machine ([`xensnd_pcm::StreamState`]):
//! that one has states the wire does not see (a stream configured but not
//! yet OPENed, a playback stream drained, one closed for good) and its
//! operations (prepare, drain) map onto several of these. It is kept
//! separate on purpose; [`crate::pcm::SndPlayback`] and
//! [`crate::pcm::SndCapture`] drive this one from it.
#![forbid(unsafe_code)]

use xen_abi::sndif::{
    XENSND_OP_TRIGGER_PAUSE, XENSND_OP_TRIGGER_RESUME, XENSND_OP_TRIGGER_START,
    XENSND_OP_TRIGGER_STOP,
};

/// Where a sndif stream is in its life (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolState {
    /// Not opened, or closed: no buffer shared.
    Closed,
    /// OPEN succeeded; not started.
    Open,
    /// Started: the position advances.
    Running,
    /// Paused: the position is frozen; RESUME continues.
    Paused,
    /// Stopped after running: the position is frozen; START runs again,
    /// OPEN starts over.
    Stopped,
}

/// `XENSND_OP_TRIGGER`'s `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// `XENSND_OP_TRIGGER_START`.
    Start,
    /// `XENSND_OP_TRIGGER_PAUSE`.
    Pause,
    /// `XENSND_OP_TRIGGER_RESUME`.
    Resume,
    /// `XENSND_OP_TRIGGER_STOP`.
    Stop,
}

impl Trigger {
    /// The trigger with wire code `code`, `None` for a code sndif does not define.
    pub const fn from_code(code: u8) -> Option<Trigger> {
        match code {
            XENSND_OP_TRIGGER_START => Some(Trigger::Start),
            XENSND_OP_TRIGGER_PAUSE => Some(Trigger::Pause),
            XENSND_OP_TRIGGER_RESUME => Some(Trigger::Resume),
            XENSND_OP_TRIGGER_STOP => Some(Trigger::Stop),
            _ => None,
        }
    }

    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            Trigger::Start => XENSND_OP_TRIGGER_START,
            Trigger::Pause => XENSND_OP_TRIGGER_PAUSE,
            Trigger::Resume => XENSND_OP_TRIGGER_RESUME,
            Trigger::Stop => XENSND_OP_TRIGGER_STOP,
        }
    }
}

/// A trigger the lifecycle does not allow in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvalidTrigger {
    /// The state the stream was in.
    pub from: ProtocolState,
    /// The trigger refused.
    pub trigger: Trigger,
}

impl ProtocolState {
    /// The state after `trigger`: START from Open or Stopped, PAUSE from
    /// Running, RESUME from Paused, STOP from Running or Paused.
    pub const fn trigger(self, trigger: Trigger) -> Result<ProtocolState, InvalidTrigger> {
        use ProtocolState::*;
        match (trigger, self) {
            (Trigger::Start, Open | Stopped) | (Trigger::Resume, Paused) => Ok(Running),
            (Trigger::Pause, Running) => Ok(Paused),
            (Trigger::Stop, Running | Paused) => Ok(Stopped),
            _ => Err(InvalidTrigger {
                from: self,
                trigger,
            }),
        }
    }
}
