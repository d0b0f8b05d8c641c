//! The position clock: a stream's play/capture position advancing with its
//! device's clock.
//!
//! `io/sndif.h`, "Current stream position" (`XENSND_EVT_CUR_POS`): the
//! backend reports the position in bytes. Here the position is a virtual
//! device's: once running it advances with the device's clock, in whole
//! frames; paused or stopped, it does not move. The position counts from
//! OPEN, like the frontend's `be_cur_frame` (Linux `sound/xen`), which also
//! resets at OPEN.
//!
//! # What moves the device: [`Pace`]
//! - [`Pace::RealTime`] (sndback, the simulator's backends): the stream's
//!   rate in real time, a pure function of the times the caller passes in.
//! - [`Pace::Output`] (the audio domain): the frames of output time the
//!   stream's sink reports ([`crate::io::Sink::output_frames`], fed to
//!   [`PositionClock::feed`]): a mixer's frames taken from the stream's
//!   queue *plus* the silence it mixed in when the queue ran dry, counted
//!   only while the stream is started and not paused. The device's time is
//!   the output's, whatever the wall clock says: a slow output slows the
//!   position, a stalled one stops it (no underrun: nothing was played).
//!   The times passed in only say when the host looked (for
//!   [`PositionClock::next_due_ns`], an estimate at the nominal rate the
//!   host polls at). Everything below (period events, running dry,
//!   underruns, STOP) is the same for both: the silence a dry queue is
//!   mixed with is the device playing past the data written. After such an
//!   underrun the position is ahead of the mix by what the device "played"
//!   past the data (less than a period plus a frame): the mixer plays the
//!   late data instead of skipping it, and its queue's second buffer
//!   absorbs the difference.
//!
//! # A playback stream that runs dry
//! A real device does not wait for data: it keeps playing (whatever is in
//! its buffer, here silence) until its driver notices the underrun at the
//! next period interrupt and stops it (ALSA's `stop_threshold`); its
//! hardware pointer passes the data written by up to a period. snd_be
//! reports ALSA's pointer, so it passes the data written too. A frontend
//! relies on it: Linux's counts a period only when *more* than a period's
//! frames arrived (`out_frames > period_size`), so a position that stops
//! exactly on the last period boundary never completes that period, ALSA
//! never sees its pointer reach the end, and every `snd_pcm_drain` ends by
//! ALSA's timeout ("playback drain timeout (DMA or IRQ trouble?)").
//!
//! With [`EventTiming::PeriodBoundary`] (ours), a playback stream that runs
//! dry at written byte `W`:
//! 1. reports `W` once when it gets there (the end of the data played: a
//!    frontend that waits for exactly that position, as ours did, sees it);
//! 2. keeps advancing (silence) up to the next reporting point past `W`, the
//!    first period boundary plus one frame beyond `W` (one frame past `W`
//!    when `W` is itself a boundary), reports it (the period the frontend
//!    was waiting for completes, and the position is past `W`), and holds
//!    there, as a device stopped by its underrun detection would;
//! 3. resumes from there when data arrives. The frontend has underrun: its
//!    next bytes up to the position count as played (they still reach the
//!    sink; this is a position, not a mixer).
//!
//! A frontend therefore sees a position past what it wrote exactly when it
//! underran (or drained); at TRIGGER STOP what was written but not played
//! is dropped.
//!
//! # The snd_be-like device ([`EventTiming::Timer`])
//! snd_be (`AlsaPcm.cpp`) starts a timer at TRIGGER START (and RESUME)
//! ticking every `period_frames * 1000 / rate` whole milliseconds (here at
//! least 1) and stops it at PAUSE and STOP. Each tick it asks ALSA for the
//! stream's status and reports, in bytes:
//! - while ALSA's state read at the start of the status call is not XRUN:
//!   the frames of the audio timestamp (the device's hardware pointer since
//!   its last `prepare`) plus `mFrameUnderrun`, the frames written when the
//!   last underrun was recovered (0 at OPEN);
//! - once ALSA is in XRUN: `mFrameWritten`, every frame written since OPEN.
//!
//! ALSA (stop threshold = the buffer) goes to XRUN as soon as it finds the
//! hardware pointer at or past the frames in the device: at the device's
//! next period interrupt (the pointer stops there, on a period boundary),
//! or earlier at a tick's status call, which still returns the state from
//! before. So a tick between the end of the data and that interrupt
//! reports a position *past* the data written (by less than a period), and
//! every later tick reports exactly the data written: the position goes
//! back once. A WRITE in XRUN recovers (`snd_pcm_recover` prepares the
//! device: pointer 0), sets `mFrameUnderrun = mFrameWritten`, writes and
//! starts the device again: positions continue from the data written.
//! TRIGGER STOP is `snd_pcm_drop` + `snd_pcm_prepare`: the data queued in
//! the device is dropped and the pointer restarts at 0, so after STOP and
//! START the position restarts at `mFrameUnderrun` (0 if the stream never
//! underran), below what was reported before. Both counters are reset only
//! by OPEN. A playback START with no data in the device is accepted and the
//! device waits for data (dmix, ALSA's default device, is "run pending");
//! capture has no overrun modelled (the engine captures on READ).
//!
//! With [`EventTiming::PeriodBoundary`], one event is due each time the
//! position passes a multiple of the period by one frame; a late caller
//! gets one event for several periods, carrying the current position.
#![forbid(unsafe_code)]

use super::behaviour::EventTiming;

const NANOS_PER_SECOND: u128 = 1_000_000_000;
const NANOS_PER_MILLISECOND: u64 = 1_000_000;

/// What advances a running stream's position (see the
/// [module docs](self#what-moves-the-device-pace)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Pace {
    /// The stream's rate in real time (the times the host passes in).
    #[default]
    RealTime,
    /// The frames of output time its sink reports, fed with
    /// [`PositionClock::feed`].
    Output,
}

/// The clock of one open stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionClock {
    rate: u32,
    frame_bytes: u32,
    period_bytes: u32,
    timing: EventTiming,
    pace: Pace,
    /// Output pace: the sink's frame count at the last [`Self::feed`].
    fed: Option<u64>,
    running: bool,
    /// Time of the last advance.
    last_ns: u64,
    /// `elapsed × rate` not yet turned into a whole frame (< 1e9).
    carry: u128,
    /// Bytes played or captured since OPEN (whole frames).
    position: u64,
    /// Playback: bytes written since OPEN. `None` for capture.
    written: Option<u64>,
    /// Periods already reported.
    reported_periods: u64,
    /// The position last reported.
    reported_position: u64,
    /// Playback: the written end last reported as the point it ran dry.
    dry_reported: u64,
    /// Timer: when the next tick is due (while running).
    next_tick_ns: Option<u64>,
    /// The position when the clock last started.
    position_at_run: u64,
    /// Timer (snd_be-like): `mFrameUnderrun` in bytes, the frames written
    /// when the last underrun was recovered (0 at OPEN).
    underrun_base: u64,
    /// Timer, playback: bytes written into the device since it was last
    /// prepared (OPEN, STOP, underrun recovery).
    device_bytes: u64,
    /// Timer, playback: ALSA's state is XRUN (the device ran dry).
    xrun: bool,
    /// Timer, playback: started with no data; the pointer waits for data.
    waiting: bool,
    /// Period-boundary playback: the device ran past the data written and
    /// the data since has not caught up (one underrun, counted once).
    in_gap: bool,
}

impl PositionClock {
    /// A stopped clock at position 0. `playback` streams track what was
    /// written; `period_bytes` 0 means no events.
    pub fn new(
        rate: u32,
        frame_bytes: u32,
        period_bytes: u32,
        playback: bool,
        timing: EventTiming,
    ) -> Self {
        Self {
            rate: rate.max(1),
            frame_bytes: frame_bytes.max(1),
            period_bytes,
            timing,
            pace: Pace::RealTime,
            fed: None,
            running: false,
            last_ns: 0,
            carry: 0,
            position: 0,
            written: playback.then_some(0),
            reported_periods: 0,
            reported_position: 0,
            dry_reported: 0,
            next_tick_ns: None,
            position_at_run: 0,
            underrun_base: 0,
            device_bytes: 0,
            xrun: false,
            waiting: false,
            in_gap: false,
        }
    }

    /// The same clock moved by `pace` (a new clock is [`Pace::RealTime`]).
    pub fn with_pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// What moves the position.
    pub fn pace(&self) -> Pace {
        self.pace
    }

    /// Bytes played or captured since OPEN.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Whether the clock is running.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Playback: whole frames written since OPEN, in bytes.
    fn written_frames_bytes(&self) -> Option<u64> {
        let frame = u64::from(self.frame_bytes);
        self.written.map(|written| written / frame * frame)
    }

    /// Timer, playback: whole frames in the device since it was prepared.
    fn device_frames_bytes(&self) -> u64 {
        let frame = u64::from(self.frame_bytes);
        self.device_bytes / frame * frame
    }

    /// Timer, playback: where the device's pointer is when the period
    /// interrupt that finds it dry comes (the first period boundary since
    /// its start at or past the data it holds); `None` otherwise.
    fn xrun_interrupt(&self) -> Option<u64> {
        if self.timing != EventTiming::Timer || self.written.is_none() || self.waiting || self.xrun
        {
            return None;
        }
        let held = self.device_frames_bytes();
        let period = u64::from(self.period_bytes);
        let periods = if period == 0 {
            0
        } else {
            held.div_ceil(period)
        };
        Some(
            self.underrun_base
                .saturating_add(periods.saturating_mul(period).max(held)),
        )
    }

    /// Timer, playback: whether the device is in XRUN (ran dry).
    pub fn is_xrun(&self) -> bool {
        self.xrun
    }

    /// Playback with period-boundary events: where the device stops when it
    /// ran dry (see the module docs), `None` when it never stops.
    fn dry_stop(&self) -> Option<u64> {
        if self.timing != EventTiming::PeriodBoundary {
            return None;
        }
        let written = self.written_frames_bytes()?;
        let frame = u64::from(self.frame_bytes);
        let period = u64::from(self.period_bytes);
        if period == 0 || written <= self.position_at_run {
            // Nothing to play since START: the device waits for data.
            return Some(written);
        }
        let mut point = (written / period)
            .saturating_mul(period)
            .saturating_add(frame);
        if point <= written {
            point = point.saturating_add(period);
        }
        Some(point)
    }

    /// Advance the position to `now_ns` (with [`Pace::Output`], only note
    /// the time: the position moves by [`Self::feed`]).
    pub fn advance(&mut self, now_ns: u64) {
        if !self.running {
            return;
        }
        if self.stalled() {
            self.last_ns = self.last_ns.max(now_ns);
            self.carry = 0;
            return;
        }
        let elapsed = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        let frames = match self.pace {
            Pace::RealTime => {
                let total = u128::from(elapsed) * u128::from(self.rate) + self.carry;
                self.carry = total % NANOS_PER_SECOND;
                total / NANOS_PER_SECOND
            }
            // Moved by `feed`; where it stands is checked all the same.
            Pace::Output => 0,
        };
        self.play(frames);
    }

    /// [`Pace::Output`]: the sink's output has played `output_frames` since
    /// OPEN (see the [module docs](self#what-moves-the-device-pace)); a
    /// running device advances by the frames since the last feed, the
    /// frames while it is not running are not its time. Ignored with
    /// [`Pace::RealTime`].
    pub fn feed(&mut self, output_frames: u64) {
        let last = self.fed.replace(output_frames);
        if self.pace != Pace::Output || !self.running || self.stalled() {
            return;
        }
        if let Some(last) = last {
            self.play(u128::from(output_frames.saturating_sub(last)));
        }
    }

    /// Timer: the device is not moving (stopped by its xrun, or waiting
    /// for its first data).
    fn stalled(&self) -> bool {
        self.timing == EventTiming::Timer && (self.xrun || self.waiting)
    }

    /// The running device played `frames` more (data, or silence past it
    /// up to where it stops).
    fn play(&mut self, frames: u128) {
        let advanced = u128::from(self.position) + frames * u128::from(self.frame_bytes);
        let mut position = u64::try_from(advanced).unwrap_or(u64::MAX);
        if let Some(interrupt) = self.xrun_interrupt() {
            if position >= interrupt {
                // The device's period interrupt finds it dry: ALSA stops it.
                position = interrupt.max(self.position);
                self.carry = 0;
                self.xrun = true;
            }
        }
        if let Some(stop) = self.dry_stop() {
            if position >= stop {
                // Underrun detected: the device holds (the time is lost).
                position = stop.max(self.position);
                self.carry = 0;
            }
        }
        self.position = position;
    }

    /// Playback: the frontend wrote `bytes` more. Returns whether this
    /// data ends an underrun: the running device had played what it held
    /// since START and ran dry (it holds, or is in XRUN), so the listener
    /// heard a gap before these bytes. Data before the first START, the
    /// first data of a device started empty, and the end of a stream that
    /// drains (no data after it) are not underruns.
    pub fn supply(&mut self, now_ns: u64, bytes: u32) -> bool {
        self.advance(now_ns);
        let mut underran = false;
        if self.running && self.timing == EventTiming::PeriodBoundary {
            // The device went on past the data it had (silence, up to its
            // stop): the listener heard a gap. One gap counts once, however
            // many WRITEs it takes to catch up with the position.
            let dry = self
                .written_frames_bytes()
                .is_some_and(|written| self.position > written && written > self.position_at_run);
            underran = dry && !self.in_gap;
            self.in_gap = dry;
        }
        if self.timing == EventTiming::Timer && self.written.is_some() {
            underran = self.xrun;
            if self.xrun {
                // snd_pcm_recover (prepare: the pointer restarts at 0),
                // mFrameUnderrun = mFrameWritten, write, start again.
                self.underrun_base = self.written_frames_bytes().unwrap_or(0);
                self.position = self.underrun_base;
                self.device_bytes = 0;
                self.xrun = false;
                self.waiting = false;
                self.last_ns = self.last_ns.max(now_ns);
                self.carry = 0;
            } else if self.waiting {
                // The first data of a device started empty: it starts now.
                self.waiting = false;
                self.last_ns = self.last_ns.max(now_ns);
                self.carry = 0;
            }
            self.device_bytes = self.device_bytes.saturating_add(u64::from(bytes));
        }
        if let Some(written) = self.written.as_mut() {
            *written = written.saturating_add(u64::from(bytes));
        }
        if self.in_gap
            && self
                .written_frames_bytes()
                .is_some_and(|written| written > self.position)
        {
            // The device has data again: the gap is over.
            self.in_gap = false;
        }
        underran
    }

    /// TRIGGER START or RESUME: run from `now_ns`.
    pub fn run(&mut self, now_ns: u64) {
        if !self.running {
            self.running = true;
            self.last_ns = now_ns;
            self.position_at_run = self.position;
            self.next_tick_ns = self.tick_ns().and_then(|tick| now_ns.checked_add(tick));
            if self.timing == EventTiming::Timer
                && self.written.is_some()
                && !self.xrun
                && self.device_frames_bytes() == 0
            {
                self.waiting = true;
            }
        }
    }

    /// TRIGGER PAUSE: freeze the position at `now_ns`.
    pub fn pause(&mut self, now_ns: u64) {
        self.advance(now_ns);
        self.running = false;
        self.next_tick_ns = None;
    }

    /// TRIGGER STOP: freeze the position and drop what was written but not
    /// played (a later START plays only new data).
    pub fn stop(&mut self, now_ns: u64) {
        self.pause(now_ns);
        self.carry = 0;
        if self.timing == EventTiming::Timer {
            // snd_pcm_drop + snd_pcm_prepare: queued data dropped, pointer
            // back to 0; mFrameWritten and mFrameUnderrun stay.
            self.position = self.underrun_base;
            self.device_bytes = 0;
            self.xrun = false;
            self.waiting = false;
            return;
        }
        if let Some(written) = self.written.as_mut() {
            *written = self.position;
        }
        self.in_gap = false;
        self.dry_reported = self.position;
    }

    /// Timer: the tick interval (whole milliseconds, at least 1), `None`
    /// without periods or for period-boundary events.
    fn tick_ns(&self) -> Option<u64> {
        if self.timing != EventTiming::Timer || self.period_bytes == 0 {
            return None;
        }
        let period_frames = u64::from(self.period_bytes / self.frame_bytes);
        let milliseconds = (period_frames * 1000 / u64::from(self.rate)).max(1);
        Some(milliseconds * NANOS_PER_MILLISECOND)
    }

    /// Playback: the written end, if the device passed it and that was not
    /// reported yet.
    fn dry_point_unreported(&self) -> Option<u64> {
        let written = self.written_frames_bytes()?;
        (self.timing == EventTiming::PeriodBoundary
            && self.period_bytes != 0
            && written > self.dry_reported
            && written > self.reported_position
            && self.position >= written)
            .then_some(written)
    }

    /// Periods completed for reporting: a period counts once the position
    /// is strictly past its end (one frame beyond), see the module docs.
    fn completed_periods(&self) -> u64 {
        self.periods_completed_at(self.position)
    }

    fn periods_completed_at(&self, position: u64) -> u64 {
        position.saturating_sub(u64::from(self.frame_bytes)) / u64::from(self.period_bytes)
    }

    /// If an event is due at `now_ns`, the position it carries (marking it
    /// reported).
    pub fn take_due(&mut self, now_ns: u64) -> Option<u64> {
        self.advance(now_ns);
        if self.period_bytes == 0 || !self.running {
            return None;
        }
        if self.timing == EventTiming::Timer {
            let tick = self.tick_ns()?;
            if now_ns < self.next_tick_ns? {
                return None;
            }
            self.next_tick_ns = now_ns.checked_add(tick);
            if self.xrun {
                // ALSA in XRUN: snd_be reports mFrameWritten.
                let written = self.written_frames_bytes().unwrap_or(self.position);
                self.reported_position = written;
                return Some(written);
            }
            // The state was read before the status call updated the
            // pointer: a tick that finds the device dry still reports it.
            let reported = self.position;
            if self.written.is_some()
                && !self.waiting
                && self.position
                    >= self
                        .underrun_base
                        .saturating_add(self.device_frames_bytes())
            {
                self.xrun = true;
            }
            self.reported_position = reported;
            return Some(reported);
        }
        if let Some(written) = self.dry_point_unreported() {
            self.dry_reported = written;
            self.reported_position = written;
            let periods = self.periods_completed_at(written);
            self.reported_periods = self.reported_periods.max(periods);
            return Some(written);
        }
        let periods = self.completed_periods();
        if periods > self.reported_periods {
            self.reported_periods = periods;
            self.reported_position = self.position;
            Some(self.position)
        } else {
            None
        }
    }

    /// When the next event falls due if nothing changes. `None` when paused,
    /// stopped, without periods, or dry and everything reported. With
    /// [`Pace::Output`] the output decides: this is when it would fall due
    /// were the output playing at the nominal rate (when the host should
    /// look again, [`Self::feed`] first; a slower output takes more looks).
    pub fn next_due_ns(&self) -> Option<u64> {
        if !self.running || self.period_bytes == 0 {
            return None;
        }
        if self.timing == EventTiming::Timer {
            return self.next_tick_ns;
        }
        if self.dry_point_unreported().is_some() || self.completed_periods() > self.reported_periods
        {
            return Some(self.last_ns);
        }
        let period = u64::from(self.period_bytes);
        let frame = u64::from(self.frame_bytes);
        let mut target = (self.reported_periods + 1)
            .checked_mul(period)?
            .checked_add(frame)?;
        if let Some(written) = self.written_frames_bytes() {
            if written > self.position && written > self.dry_reported {
                target = target.min(written);
            }
            if let Some(stop) = self.dry_stop() {
                if stop <= self.position {
                    // Holding after an underrun: nothing until data arrives.
                    return None;
                }
                target = target.min(stop);
            }
        }
        let frames = target.saturating_sub(self.position).div_ceil(frame);
        let needed = u128::from(frames) * NANOS_PER_SECOND;
        let remaining = needed.saturating_sub(self.carry);
        let nanos = remaining.div_ceil(u128::from(self.rate));
        u64::try_from(nanos)
            .ok()
            .and_then(|nanos| self.last_ns.checked_add(nanos))
    }
}
