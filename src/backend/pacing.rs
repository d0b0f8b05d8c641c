//! The position clock: a stream's play/capture position advancing in real time.
//!
//! `io/sndif.h`, "Current stream position" (`XENSND_EVT_CUR_POS`): the
//! backend reports the position in bytes. Here the position is a virtual
//! device's: once running it advances at the stream's rate, in whole frames,
//! as a pure function of the times the caller passes in. Playback cannot get
//! ahead of the bytes the frontend has written (an underrun idles the
//! device and the idle time is lost); capture is not limited. Paused or
//! stopped, it does not move. One event is due each time the position
//! passes a multiple of the period (by one frame, see
//! [`PositionClock::take_due`]); a late caller gets one event for several
//! periods, carrying the current position.
//!
//! The position counts from OPEN, like the frontend's `be_cur_frame`
//! (Linux `sound/xen`), which also resets at OPEN.
#![forbid(unsafe_code)]

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// The clock of one open stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionClock {
    rate: u32,
    frame_bytes: u32,
    period_bytes: u32,
    running: bool,
    /// Time of the last advance.
    last_ns: u64,
    /// `elapsed × rate` not yet turned into a whole frame (< 1e9).
    carry: u128,
    /// Bytes played or captured since OPEN (whole frames).
    position: u64,
    /// Playback: bytes written since OPEN. `None` for capture.
    limit: Option<u64>,
    /// Periods already reported.
    reported_periods: u64,
    /// The position last reported.
    reported_position: u64,
}

impl PositionClock {
    /// A stopped clock at position 0. `limited` is true for playback.
    pub fn new(rate: u32, frame_bytes: u32, period_bytes: u32, limited: bool) -> Self {
        Self {
            rate: rate.max(1),
            frame_bytes: frame_bytes.max(1),
            period_bytes,
            running: false,
            last_ns: 0,
            carry: 0,
            position: 0,
            limit: limited.then_some(0),
            reported_periods: 0,
            reported_position: 0,
        }
    }

    /// Bytes played or captured since OPEN.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Whether the clock is running.
    pub fn is_running(&self) -> bool {
        self.running
    }

    fn limit_frames_bytes(&self) -> Option<u64> {
        let frame = u64::from(self.frame_bytes);
        self.limit.map(|limit| limit / frame * frame)
    }

    /// Advance the position to `now_ns`.
    pub fn advance(&mut self, now_ns: u64) {
        if !self.running {
            return;
        }
        let elapsed = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        let total = u128::from(elapsed) * u128::from(self.rate) + self.carry;
        let frames = total / NANOS_PER_SECOND;
        self.carry = total % NANOS_PER_SECOND;
        let advanced = u128::from(self.position) + frames * u128::from(self.frame_bytes);
        let mut position = u64::try_from(advanced).unwrap_or(u64::MAX);
        if let Some(limit) = self.limit_frames_bytes() {
            if position >= limit {
                // Underrun: the device idles; the time spent idle is lost.
                position = limit.max(self.position);
                self.carry = 0;
            }
        }
        self.position = position;
    }

    /// Playback: the frontend wrote `bytes` more.
    pub fn supply(&mut self, now_ns: u64, bytes: u32) {
        self.advance(now_ns);
        let starved = self
            .limit_frames_bytes()
            .is_some_and(|limit| limit <= self.position);
        if let Some(limit) = self.limit.as_mut() {
            *limit = limit.saturating_add(u64::from(bytes));
        }
        if starved {
            // The device restarts from the moment data arrived.
            self.last_ns = self.last_ns.max(now_ns);
            self.carry = 0;
        }
    }

    /// TRIGGER START or RESUME: run from `now_ns`.
    pub fn run(&mut self, now_ns: u64) {
        if !self.running {
            self.running = true;
            self.last_ns = now_ns;
        }
    }

    /// TRIGGER PAUSE: freeze the position at `now_ns`.
    pub fn pause(&mut self, now_ns: u64) {
        self.advance(now_ns);
        self.running = false;
    }

    /// TRIGGER STOP: freeze the position and drop what was written but not
    /// played (a later START plays only new data).
    pub fn stop(&mut self, now_ns: u64) {
        self.pause(now_ns);
        self.carry = 0;
        if let Some(limit) = self.limit.as_mut() {
            *limit = self.position;
        }
    }

    /// Whether the device sits at the end of what was written (playback).
    fn starved(&self) -> bool {
        self.limit_frames_bytes()
            .is_some_and(|limit| self.position >= limit)
    }

    /// Periods completed for reporting. A period counts once the position
    /// is strictly past its end (one frame beyond): the Linux frontend
    /// signals a period only when more than a period's frames arrived
    /// (`out_frames > period_size`), so an event exactly on the boundary
    /// would delay its period by one. A starved playback stream counts the
    /// boundary it stopped on, so the last period is always reported.
    fn completed_periods(&self) -> u64 {
        let effective = if self.starved() {
            self.position
        } else {
            self.position.saturating_sub(u64::from(self.frame_bytes))
        };
        effective / u64::from(self.period_bytes)
    }

    /// If a period was completed since the last event, the position to
    /// report now (marking those periods reported).
    pub fn take_due(&mut self, now_ns: u64) -> Option<u64> {
        self.advance(now_ns);
        if self.period_bytes == 0 {
            return None;
        }
        let periods = self.completed_periods();
        // A device that ran dry mid-period reports where it stopped once,
        // so a frontend draining a stream that is not a whole number of
        // periods long sees the end of its data played.
        let starved_unreported = self.starved() && self.position > self.reported_position;
        if periods > self.reported_periods || starved_unreported {
            self.reported_periods = self.reported_periods.max(periods);
            self.reported_position = self.position;
            Some(self.position)
        } else {
            None
        }
    }

    /// When the next event falls due if nothing changes: the time the
    /// position passes the next period boundary by one frame (or reaches
    /// it, if the written data ends there). `None` when paused, stopped,
    /// without periods, or starved before the boundary.
    pub fn next_due_ns(&self) -> Option<u64> {
        if !self.running || self.period_bytes == 0 {
            return None;
        }
        if self.completed_periods() > self.reported_periods {
            return Some(self.last_ns);
        }
        let boundary = (self.reported_periods + 1).checked_mul(u64::from(self.period_bytes))?;
        let mut target = boundary.checked_add(u64::from(self.frame_bytes))?;
        if let Some(limit) = self.limit_frames_bytes() {
            if limit <= self.position {
                // Starved: due now if where it stopped is not reported yet.
                return (self.position > self.reported_position).then_some(self.last_ns);
            }
            target = target.min(limit);
        }
        let frames = target
            .saturating_sub(self.position)
            .div_ceil(u64::from(self.frame_bytes));
        let needed = u128::from(frames) * NANOS_PER_SECOND;
        let remaining = needed.saturating_sub(self.carry);
        let nanos = remaining.div_ceil(u128::from(self.rate));
        u64::try_from(nanos)
            .ok()
            .and_then(|nanos| self.last_ns.checked_add(nanos))
    }
}
