//! Boot's critical path in round trips: what the guest waited for between
//! its entry and its first `XENSND_OP_WRITE`, counted, not timed, so the
//! figures do not depend on the machine.
//!
//! - XenStore round trips: waits of the XenStore client for replies to
//!   requests sent since its previous wait ([`XsStats`]; a pipelined batch
//!   is one).
//! - Ring round trips: the same rule on every stream's request ring (a
//!   wait for responses to requests sent since that ring's previous wait;
//!   see [`ChannelStats::round_trips`](super::channel::ChannelStats)).
//! - Backend waits: times the XenBus handshake waited for the backend's
//!   state to change.
//!
//! The [`Ledger`] lives in the frontend's [`Bus`](super::watch::Bus), next
//! to the XenStore client, so every stream's channel adds to one total;
//! the first channel to submit a WRITE takes the snapshot
//! ([`Frontend::boot_round_trips`](super::frontend::Frontend::boot_round_trips)).
//! The protocol's minimum before the first WRITE is 2 XenStore round
//! trips of the frontend's own (the configuration read and the handshake
//! write) plus the read of the backend's state after its watch fired (a
//! watch event does not say the new state), 1 backend wait (its
//! Connected) and 1 ring round trip (OPEN, with the query when the
//! configuration is fixed); `tests/boot_round_trips.rs` names each one.
#![forbid(unsafe_code)]

use xen_guest::xenstore::XsStats;

/// Round trips and requests, totals over the XenStore client and every
/// stream's ring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundTrips {
    /// XenStore round trips ([`XsStats::round_trips`]).
    pub xenstore_batches: u64,
    /// XenStore requests sent.
    pub xenstore_requests: u64,
    /// Ring round trips, every stream.
    pub ring_round_trips: u64,
    /// Ring requests sent, every stream.
    pub ring_requests: u64,
    /// Waits of the XenBus handshake for the backend's state to change.
    pub backend_waits: u64,
}

/// What the streams and the handshake counted (the XenStore client counts
/// its own), and the snapshot at the first WRITE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Ring round trips, every stream.
    pub ring_round_trips: u64,
    /// Ring requests sent, every stream.
    pub ring_requests: u64,
    /// Handshake waits for the backend.
    pub backend_waits: u64,
    /// Everything as it was when the first WRITE was submitted.
    pub first_write: Option<RoundTrips>,
}

impl Ledger {
    /// The totals now, with the XenStore client's `store` counts.
    pub fn totals(&self, store: XsStats) -> RoundTrips {
        RoundTrips {
            xenstore_batches: store.round_trips,
            xenstore_requests: store.requests,
            ring_round_trips: self.ring_round_trips,
            ring_requests: self.ring_requests,
            backend_waits: self.backend_waits,
        }
    }

    /// A WRITE is being submitted: keep the totals if it is the first.
    pub fn note_write(&mut self, store: XsStats) {
        if self.first_write.is_none() {
            self.first_write = Some(self.totals(store));
        }
    }
}
