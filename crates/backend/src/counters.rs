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
    /// How long the frontend took from a CUR_POS event to its next WRITE:
    /// its wake-up latency as the backend sees it (scheduling of its vCPU,
    /// its own path), what decides whether it refills before the device
    /// runs dry.
    pub answer: AnswerLatency,
}

/// Buckets of [`AnswerLatency`]: 1 ms wide below 64 ms, then doubling
/// (64-128, 128-256, 256-512, 512-1024 ms) and one for 1024 ms and more.
pub const ANSWER_BUCKETS: usize = 64 + 5;

/// Time from a CUR_POS event to the frontend's next WRITE, as a histogram
/// (no allocation, bounded however long the stream runs): the event that
/// starts a wait is the first one published after a WRITE, so a frontend
/// that sleeps through several events is measured from the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerLatency {
    /// Waits measured.
    pub count: u64,
    /// The longest (ns).
    pub max_ns: u64,
    /// Their sum (ns).
    pub total_ns: u64,
    /// How many fell in each bucket ([`AnswerLatency::bucket_floor_ms`]).
    pub buckets: [u64; ANSWER_BUCKETS],
    /// When the event that opened the current wait was published.
    waiting_since_ns: Option<u64>,
}

impl Default for AnswerLatency {
    fn default() -> Self {
        Self {
            count: 0,
            max_ns: 0,
            total_ns: 0,
            buckets: [0; ANSWER_BUCKETS],
            waiting_since_ns: None,
        }
    }
}

impl AnswerLatency {
    /// A CUR_POS event was published at `now_ns`.
    pub fn event_sent(&mut self, now_ns: u64) {
        self.waiting_since_ns.get_or_insert(now_ns);
    }

    /// A WRITE arrived at `now_ns`: the wait (if one was open) ends.
    pub fn write_arrived(&mut self, now_ns: u64) {
        if let Some(since) = self.waiting_since_ns.take() {
            self.record(now_ns.saturating_sub(since));
        }
    }

    /// Count one wait of `ns`.
    pub fn record(&mut self, ns: u64) {
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
        self.total_ns = self.total_ns.saturating_add(ns);
        self.buckets[Self::bucket(ns)] += 1;
    }

    /// The bucket of a wait of `ns`.
    pub fn bucket(ns: u64) -> usize {
        let ms = ns / 1_000_000;
        if ms < 64 {
            ms as usize
        } else {
            // 64..128 -> 64, 128..256 -> 65, ... 1024.. -> 68.
            let doublings = (63 - ms.leading_zeros()) as usize - 6;
            (64 + doublings).min(ANSWER_BUCKETS - 1)
        }
    }

    /// The smallest wait (ms) bucket `index` holds.
    pub fn bucket_floor_ms(index: usize) -> u64 {
        if index < 64 {
            index as u64
        } else {
            64 << (index - 64)
        }
    }

    /// The wait (ms, a bucket's upper edge: 1 ms resolution below 64 ms)
    /// that `per_mille` thousandths of the waits did not exceed; `None`
    /// before any wait. The top bucket's edge is the longest wait.
    pub fn quantile_ms(&self, per_mille: u64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let wanted = (self.count * per_mille).div_ceil(1000).max(1);
        let mut seen = 0;
        for (index, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                let edge = match index + 1 {
                    ANSWER_BUCKETS => self.max_ns.div_ceil(1_000_000),
                    next => Self::bucket_floor_ms(next),
                };
                return Some(edge.min(self.max_ns.div_ceil(1_000_000)));
            }
        }
        Some(self.max_ns.div_ceil(1_000_000))
    }

    /// Add another stream's waits.
    pub fn accumulate(&mut self, other: &AnswerLatency) {
        self.count += other.count;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.total_ns = self.total_ns.saturating_add(other.total_ns);
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *mine += theirs;
        }
    }
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
        self.answer.accumulate(&other.answer);
    }
}
