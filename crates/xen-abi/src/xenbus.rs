//! `io/xenbus.h`: the XenBus device states.
//!
//! The values of `enum xenbus_state`, written as decimal strings to the
//! `state` node of each end of a split device.
#![forbid(unsafe_code)]

/// `enum xenbus_state`.
#[doc(alias = "xenbus_state")]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum XenbusState {
    /// `XenbusStateUnknown`.
    #[doc(alias = "XenbusStateUnknown")]
    Unknown = 0,
    /// `XenbusStateInitialising`.
    #[doc(alias = "XenbusStateInitialising")]
    Initialising = 1,
    /// `XenbusStateInitWait`: early initialisation done, waiting for the peer.
    #[doc(alias = "XenbusStateInitWait")]
    InitWait = 2,
    /// `XenbusStateInitialised`: waiting for a connection from the peer.
    #[doc(alias = "XenbusStateInitialised")]
    Initialised = 3,
    /// `XenbusStateConnected`.
    #[doc(alias = "XenbusStateConnected")]
    Connected = 4,
    /// `XenbusStateClosing`: closing because of an error or an unplug.
    #[doc(alias = "XenbusStateClosing")]
    Closing = 5,
    /// `XenbusStateClosed`.
    #[doc(alias = "XenbusStateClosed")]
    Closed = 6,
    /// `XenbusStateReconfiguring`.
    #[doc(alias = "XenbusStateReconfiguring")]
    Reconfiguring = 7,
    /// `XenbusStateReconfigured`.
    #[doc(alias = "XenbusStateReconfigured")]
    Reconfigured = 8,
}

impl XenbusState {
    /// Every state, in value order.
    pub const ALL: [XenbusState; 9] = [
        XenbusState::Unknown,
        XenbusState::Initialising,
        XenbusState::InitWait,
        XenbusState::Initialised,
        XenbusState::Connected,
        XenbusState::Closing,
        XenbusState::Closed,
        XenbusState::Reconfiguring,
        XenbusState::Reconfigured,
    ];

    /// The state with C value `value`, or `None` if the header defines none.
    pub const fn from_u32(value: u32) -> Option<XenbusState> {
        if (value as usize) < Self::ALL.len() {
            Some(Self::ALL[value as usize])
        } else {
            None
        }
    }
}

/// A state change the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTransition {
    /// The current state.
    pub from: XenbusState,
    /// The requested state.
    pub to: XenbusState,
}

impl XenbusState {
    /// Parse the decimal contents of a `state` node (surrounding
    /// whitespace and a trailing NUL tolerated).
    pub fn parse(text: &[u8]) -> Option<Self> {
        let text = core::str::from_utf8(text).ok()?;
        let text = text.trim_matches(|c: char| c == '\0' || c.is_ascii_whitespace());
        Self::from_u32(text.parse().ok()?)
    }

    /// The wire number.
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// Move to `to` if the lifecycle allows it: forward through
    /// Initialising → InitWait → Initialised → Connected, Connected ⇄
    /// Reconfiguring/Reconfigured, any state to Closing/Closed, Closed back
    /// to Initialising (reconnect) or InitWait (a restarted backend). Staying
    /// in the same state is allowed.
    pub fn transition(self, to: XenbusState) -> Result<XenbusState, InvalidTransition> {
        use XenbusState::*;
        let allowed = self == to
            || matches!(
                (self, to),
                (Unknown, Initialising)
                    | (Initialising, InitWait | Initialised | Connected)
                    | (InitWait, Initialised | Connected)
                    | (Initialised, Connected)
                    | (Connected, Reconfiguring)
                    | (Reconfiguring, Reconfigured)
                    | (Reconfigured, Connected)
                    | (Closed, Initialising | InitWait | Unknown)
            )
            || (matches!(to, Closing | Closed) && !matches!(self, Unknown | Closed))
            || (self == Unknown && to == Closed);
        if allowed {
            Ok(to)
        } else {
            Err(InvalidTransition { from: self, to })
        }
    }
}
