//! Counters a benchmark reads: notifications, requests by operation, bytes, first WRITE time.
//!
//! Not part of the protocol; kept per stream by the engine and the channel.
#![forbid(unsafe_code)]

/// Operation names indexed by `XENSND_OP_*` (0..=9).
pub const OPERATION_NAMES: [&str; 10] = [
    "open",
    "close",
    "read",
    "write",
    "set_volume",
    "get_volume",
    "mute",
    "unmute",
    "trigger",
    "hw_param_query",
];

/// What happened on one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Notifications received on the request ring's event channel.
    pub notifications_in: u64,
    /// Notifications sent on the request ring's event channel.
    pub notifications_out: u64,
    /// Notifications sent on the event page's event channel.
    pub event_notifications_out: u64,
    /// Requests received, by `XENSND_OP_*`.
    pub requests: [u64; 10],
    /// Requests with an unknown operation.
    pub unknown_requests: u64,
    /// Requests answered with a non-zero status.
    pub errors: u64,
    /// CUR_POS events published.
    pub events_sent: u64,
    /// CUR_POS events not published because the event page was full.
    pub events_dropped: u64,
    /// Playback underruns: WRITEs whose data came after the running device
    /// had played everything it held since START (a gap the listener
    /// heard), see `PositionClock::supply`. A stream that drains at its
    /// end is not counted.
    pub underruns: u64,
    /// Bytes taken by WRITE.
    pub bytes_written: u64,
    /// Bytes filled by READ.
    pub bytes_read: u64,
    /// Host time (the caller's `now_ns`) of the first WRITE since the stream
    /// was created.
    pub first_write_ns: Option<u64>,
    /// Host time of the first READ.
    pub first_read_ns: Option<u64>,
    /// Host time of the last TRIGGER START.
    pub last_start_ns: Option<u64>,
    /// Requests received before the first WRITE request, by `XENSND_OP_*`
    /// (unknown operations left out): what the frontend asked before it
    /// sent audio.
    pub requests_before_first_write: [u64; 10],
    /// Request batches: service passes that took at least one request off
    /// the ring (what one notification, or one look, found).
    pub request_batches: u64,
    /// Request batches that ended before the first WRITE request arrived
    /// (the batch that brings it is not counted): the frontend's ring
    /// round trips before its first WRITE, as the backend sees them.
    pub request_batches_before_first_write: u64,
}

/// `XENSND_OP_WRITE`'s index in [`Counters::requests`].
const WRITE: usize = 3;

impl Counters {
    /// Count a request of operation `operation`.
    pub fn count_request(&mut self, operation: u8) {
        let index = usize::from(operation);
        if self.requests[WRITE] == 0 && index != WRITE {
            if let Some(count) = self.requests_before_first_write.get_mut(index) {
                *count += 1;
            }
        }
        match self.requests.get_mut(index) {
            Some(count) => *count += 1,
            None => self.unknown_requests += 1,
        }
    }

    /// A service pass took requests off the ring (after counting them).
    pub fn count_batch(&mut self) {
        self.request_batches += 1;
        if self.requests[WRITE] == 0 {
            self.request_batches_before_first_write += 1;
        }
    }

    /// Requests received before the first WRITE (known operations).
    pub fn total_requests_before_first_write(&self) -> u64 {
        self.requests_before_first_write.iter().sum()
    }

    /// Total requests (known and unknown).
    pub fn total_requests(&self) -> u64 {
        self.requests.iter().sum::<u64>() + self.unknown_requests
    }

    /// Add another stream's counters into these (first times: the earliest).
    pub fn accumulate(&mut self, other: &Counters) {
        self.notifications_in += other.notifications_in;
        self.notifications_out += other.notifications_out;
        self.event_notifications_out += other.event_notifications_out;
        for (mine, theirs) in self.requests.iter_mut().zip(other.requests.iter()) {
            *mine += theirs;
        }
        for (mine, theirs) in self
            .requests_before_first_write
            .iter_mut()
            .zip(other.requests_before_first_write.iter())
        {
            *mine += theirs;
        }
        self.request_batches += other.request_batches;
        self.request_batches_before_first_write += other.request_batches_before_first_write;
        self.unknown_requests += other.unknown_requests;
        self.errors += other.errors;
        self.events_sent += other.events_sent;
        self.events_dropped += other.events_dropped;
        self.underruns += other.underruns;
        self.bytes_written += other.bytes_written;
        self.bytes_read += other.bytes_read;
        let earliest = |left: Option<u64>, right: Option<u64>| match (left, right) {
            (Some(left), Some(right)) => Some(left.min(right)),
            (left, right) => left.or(right),
        };
        self.first_write_ns = earliest(self.first_write_ns, other.first_write_ns);
        self.first_read_ns = earliest(self.first_read_ns, other.first_read_ns);
        self.last_start_ns = self.last_start_ns.max(other.last_start_ns);
    }
}
