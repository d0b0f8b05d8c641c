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
