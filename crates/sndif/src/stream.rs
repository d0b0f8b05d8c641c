//! One sndif stream: OPEN/CLOSE, pipelined WRITE and READ through the shared
//! buffer, TRIGGER, HW_PARAM_QUERY, volume and mute (`io/sndif.h`,
//! "Request open" through "Request stream parameter ranges").
//!
//! Playback: the application's frames are copied (or written in place, the
//! zero-copy path) into the shared buffer, used as a circular buffer, and a
//! WRITE(offset, length) request is sent per chunk of at most one period.
//! Several WRITEs may be in flight (Linux allows one). How far ahead the
//! application may write is limited by the position the backend reports
//! with `XENSND_EVT_CUR_POS`: never more than one buffer beyond it.
//!
//! Capture: once the backend reports that a chunk was captured, a
//! READ(offset, length) asks it to put the chunk into the shared buffer and
//! the frames are copied out.
//!
//! # Positions while a playback stream runs dry
//! A real device keeps its pointer moving when it runs out of data, and so
//! does snd_be, which reports a position from ALSA's audio timestamp: its
//! `CUR_POS` can pass the bytes written until ALSA stops the device with an
//! xrun (snd_be then reports the bytes written again). The frontend takes
//! such a position as "everything written was played": it is clamped to
//! the bytes written. A position more than one buffer past the bytes
//! written is impossible for a device (it plays out of a ring of one
//! buffer: ALSA stops it as soon as the ring runs empty, and a device left
//! running would be replaying its ring a buffer later) and is ignored as
//! bad, as is one below the position already held
//! (compared after clamping, so going past the end and then reporting
//! exactly the end again, as snd_be does around its xrun recovery, is not
//! going backwards).
//!
//! An underrun is counted when, while the stream is running and not
//! draining, the backend's position reaches or passes the bytes written:
//! the device has nothing left to play, which is ALSA's own definition
//! (`avail >= stop_threshold`). It is counted once per dry spell: a second
//! one needs more data written first. `drain` completes as soon as the
//! position reaches or passes the end.
//!
//! `buffer_sz` in OPEN is exactly the PCM buffer (whole frames). Volume and
//! mute values travel through a part of that buffer that holds no audio the
//! backend still needs at that moment (see "The shared buffer" in the
//! [`super`] module docs).
//!
//! # Bounds and failures
//!
//! Every blocking call ends within a bound computed from the request
//! timeout `T` (`set_timeout_ns`), the stall timeout `S`
//! (`set_stall_timeout_ns`, default [`DEFAULT_STALL_TIMEOUT_NS`], like
//! ALSA's 10 s for a stream that makes no progress) and the duration of
//! the audio involved, `d(n)` for `n` bytes at the stream's rate:
//! - a request (OPEN, CLOSE, TRIGGER, HW_PARAM_QUERY): `T`; `open` of an
//!   open stream sends CLOSE first: `2T`; volume and mute may first wait
//!   up to `T` for buffer room for their values: `2T`;
//! - `write`/`read` of `n` bytes: `d(n) + S + T` (plus `T` for the
//!   TRIGGER START of a prepared stream);
//! - `drain`: `d(queued) + S + T` (then TRIGGER STOP: `+ T`), however the
//!   position moves: a position that trickles cannot hold it;
//! - `wait_for_room`: until its deadline argument.
//!
//! Each bound is extended only by XenStore reads that follow a XenStore
//! event (the device's state, `control/shutdown`; each bounded by the
//! XenStore timeout). While it waits, a call follows the device's XenBus
//! state and `control/shutdown` (see [`super::watch`]): `Disconnected` or
//! `Shutdown` end it at once.
//!
//! A failed request leaves a defined state:
//! - playback: a WRITE that fails (error status, timeout, bad answer)
//!   makes the stream `Stopped`; every WRITE after it is forgotten. Only
//!   `open` (prepare) makes it usable again: the backend may not have the
//!   bytes, so the position could never reach what was written;
//! - capture: a READ that fails loses its bytes: the call that reaches
//!   them fails with the READ's error, the bytes are counted in
//!   [`StreamCounters::lost_bytes`] and skipped, and reading goes on with
//!   the next READ's bytes, in order;
//! - a TRIGGER that fails leaves the state as it was; OPEN that fails
//!   leaves the stream closed; CLOSE closes whatever the answer.
#![forbid(unsafe_code)]

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use zerocopy::{FromBytes, IntoBytes};

use super::buffer::{Granted, GrantedBuffer};
use super::channel::{Channel, ChannelStats, Ticket};
use super::config::Direction;
use super::lifecycle::{ProtocolState, Trigger};
use super::watch::DeviceWatch;
use super::SndError;
use xen_abi::sndif::*;
use xen_guest::{DomId, Platform};
use xensnd_pcm::StreamConfig;

/// Byte sizes of an opened stream's [`StreamConfig`] (the one type for
/// the parameters OPEN sends, shared with the PCM API and the backend's
/// view of them). Only used on a configuration [`validate`] accepted, whose
/// format has a fixed sample size and whose sizes fit the buffer limit.
pub(crate) trait ByteSizes {
    /// Bytes per frame.
    fn frame_len(&self) -> usize;
    /// Audio buffer in bytes.
    fn buffer_len(&self) -> usize;
    /// Period in bytes.
    fn period_len(&self) -> usize;
}

impl ByteSizes for StreamConfig {
    fn frame_len(&self) -> usize {
        self.frame_bytes().unwrap_or(0) as usize
    }
    fn buffer_len(&self) -> usize {
        self.buffer_bytes().unwrap_or(0) as usize
    }
    fn period_len(&self) -> usize {
        self.period_bytes().unwrap_or(0) as usize
    }
}

/// Whether a stream can be opened with `params`: a format with a fixed
/// sample size, at least one channel, a rate, `1 <= period <= buffer`
/// frames, and a buffer of at most [`super::buffer::MAX_BUFFER_BYTES`].
fn validate(params: &StreamConfig) -> Result<(), SndError> {
    if params.is_valid() && params.buffer_len() <= super::buffer::MAX_BUFFER_BYTES {
        Ok(())
    } else {
        Err(SndError::Unsupported)
    }
}

/// The byte sizes of the opened configuration the data path works with,
/// worked out once at OPEN (all 0 while closed: nothing fits).
#[derive(Debug, Clone, Copy, Default)]
struct Sizes {
    /// Bytes per frame.
    frame: usize,
    /// Bytes per period.
    period: usize,
    /// Bytes of the audio buffer.
    buffer: usize,
}

/// Counters a stream keeps about itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounters {
    /// Bytes handed to the backend (playback) or received (capture) since OPEN.
    pub bytes: u64,
    /// Underruns (the backend played everything it had while running).
    pub underruns: u64,
    /// Overruns (the backend captured more than a buffer we had not read).
    pub overruns: u64,
    /// Most WRITE/READ requests in flight at once.
    pub max_in_flight: usize,
    /// Times a write or read had to block waiting for the backend.
    pub blocking_waits: u64,
    /// Capture: bytes of READs that failed, skipped (see the module docs).
    pub lost_bytes: u64,
}

/// A WRITE or READ in flight.
#[derive(Debug, Clone, Copy)]
struct Transfer {
    ticket: Ticket,
    /// Stream byte of its first byte.
    offset: u64,
    len: usize,
}

/// Capture: a completed READ not yet copied out to the application.
#[derive(Debug, Clone, Copy)]
struct Captured {
    /// Stream byte of its first byte.
    offset: u64,
    len: usize,
    /// Bytes already copied out.
    taken: usize,
    /// The READ failed: its bytes are lost (reported once, then skipped).
    lost: Option<SndError>,
}

/// One sndif stream over its channel.
pub struct Stream<X: Platform> {
    direction: Direction,
    channel: Channel<X>,
    buffer: Option<GrantedBuffer<X::Page>>,
    params: Option<StreamConfig>,
    /// `params`' sizes in bytes (0 while closed), for the data path.
    sizes: Sizes,
    state: ProtocolState,
    /// Bytes handed to the backend (WRITE sent) / asked for (READ sent).
    submitted: u64,
    /// Bytes whose WRITE/READ completed.
    completed: u64,
    /// Requests in flight, in order.
    transfers: VecDeque<Transfer>,
    /// Capture: READs completed but not yet copied out to the app, in
    /// order and contiguous from `consumed`.
    captured: VecDeque<Captured>,
    /// Capture: bytes copied out to the application.
    consumed: u64,
    /// Maximum WRITE/READ requests in flight.
    depth: usize,
    counters: StreamCounters,
    last_underrun_at: Option<u64>,
    /// Draining: the backend playing out everything is expected, not an underrun.
    draining: bool,
    /// Time spent running (TRIGGER START/RESUME to PAUSE/STOP), for pacing
    /// capture when the backend sends no position events: (accumulated ns,
    /// running since).
    run_time: (u64, Option<u64>),
    leftovers: Vec<Granted<X::Page>>,
    /// Playback: a WRITE failed (why); only `open` makes the stream usable
    /// again, and data calls report it until then.
    failed: Option<SndError>,
    /// Margin data calls get past the duration of their audio.
    stall_timeout_ns: u64,
    /// [`Channel::arrivals`] when this stream last took in its completions:
    /// the channel's own waits (TRIGGER, controls) take in WRITE answers
    /// and events too, and the stream's next poll must account them even
    /// though the channel is idle by then.
    seen_arrivals: u64,
}

impl<X: Platform> core::fmt::Debug for Stream<X> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stream")
            .field("direction", &self.direction)
            .field("state", &self.state)
            .field("params", &self.params)
            .field("counters", &self.counters)
            .finish()
    }
}

/// Default number of WRITE/READ requests a stream keeps in flight.
pub const DEFAULT_DEPTH: usize = 4;

/// Default stall timeout: the margin a data call (`write`, `read`,
/// `drain`) gets past the duration of its audio before it fails with a
/// timeout, so a stream that makes no progress fails after about this long:
/// ALSA's `wait_for_avail` gives up on a stalled stream after 10 s.
pub const DEFAULT_STALL_TIMEOUT_NS: u64 = 10_000_000_000;

impl<X: Platform> Stream<X> {
    /// A new stream talking to `backend`: ring, event page and event
    /// channels are set up; the caller publishes
    /// [`Stream::xenstore_values`].
    pub fn new(xen: &mut X, backend: DomId, direction: Direction) -> Result<Self, SndError> {
        Ok(Stream {
            direction,
            channel: Channel::new(xen, backend)?,
            buffer: None,
            params: None,
            sizes: Sizes::default(),
            state: ProtocolState::Closed,
            submitted: 0,
            completed: 0,
            transfers: VecDeque::new(),
            captured: VecDeque::new(),
            consumed: 0,
            depth: DEFAULT_DEPTH,
            counters: StreamCounters::default(),
            last_underrun_at: None,
            draining: false,
            run_time: (0, None),
            leftovers: Vec::new(),
            failed: None,
            stall_timeout_ns: DEFAULT_STALL_TIMEOUT_NS,
            seen_arrivals: 0,
        })
    }

    /// Set the margin `write`, `read` and `drain` get past the duration of their audio.
    pub fn set_stall_timeout_ns(&mut self, stall_timeout_ns: u64) {
        self.stall_timeout_ns = stall_timeout_ns;
    }

    /// Follow the device's XenBus state and `control/shutdown` while
    /// blocking (see [`super::watch`]).
    pub fn set_watch(&mut self, watch: Option<DeviceWatch<X::Page>>) {
        self.channel.set_watch(watch);
    }

    /// Nanoseconds `bytes` of audio take at the stream's rate (0 while closed).
    pub fn duration_ns(&self, bytes: u64) -> u64 {
        let Some(params) = self.params else { return 0 };
        let per_second = (params.frame_len() as u64 * u64::from(params.rate)).max(1);
        // Whole seconds, then the rest: no overflow below 2^64 bytes.
        (bytes / per_second)
            .saturating_mul(1_000_000_000)
            .saturating_add(bytes % per_second * 1_000_000_000 / per_second)
    }

    /// The deadline of a `write`/`read` of `bytes` starting at `now_ns`:
    /// the audio's duration plus the stall and request timeouts.
    pub fn transfer_deadline(&self, now_ns: u64, bytes: usize) -> u64 {
        now_ns
            .saturating_add(self.duration_ns(bytes as u64))
            .saturating_add(self.stall_timeout_ns)
            .saturating_add(self.channel.timeout_ns())
    }

    /// The four XenStore values for this stream.
    pub fn xenstore_values(&self) -> [(&'static str, u32); 4] {
        self.channel.xenstore_values()
    }

    /// Playback or capture.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Current state.
    pub fn state(&self) -> ProtocolState {
        self.state
    }

    /// The opened parameters.
    pub fn params(&self) -> Option<StreamConfig> {
        self.params
    }

    /// Stream counters.
    pub fn counters(&self) -> StreamCounters {
        self.counters
    }

    /// Channel counters (protocol anomalies, notifications).
    pub fn channel_stats(&self) -> ChannelStats {
        self.channel.stats()
    }

    /// The underlying channel (event ports, timeouts).
    pub fn channel(&self) -> &Channel<X> {
        &self.channel
    }

    /// Set the request timeout.
    pub fn set_timeout_ns(&mut self, timeout_ns: u64) {
        self.channel.set_timeout_ns(timeout_ns);
    }

    /// Set how many WRITE/READ requests may be in flight (at least 1).
    pub fn set_depth(&mut self, depth: usize) {
        self.depth = depth.max(1);
    }

    /// Pages whose grants could not be revoked yet (the backend kept them mapped).
    pub fn leftover_grants(&self) -> usize {
        self.leftovers.len()
    }

    #[inline]
    fn params_or_err(&self) -> Result<StreamConfig, SndError> {
        self.params.ok_or(SndError::InvalidState)
    }

    /// `XENSND_OP_HW_PARAM_QUERY`: ask the backend which configurations it
    /// supports within `request`. The answer is returned as sent; the
    /// caller treats it as untrusted (see `negotiate`).
    pub fn query_hw_params(&mut self, xen: &mut X, request: &HwParam) -> Result<HwParam, SndError> {
        let payload = self
            .channel
            .call(xen, XENSND_OP_HW_PARAM_QUERY, request.as_bytes())?;
        HwParam::read_from_prefix(&payload)
            .map(|(p, _)| p)
            .map_err(|_| SndError::BadResponse)
    }

    /// `XENSND_OP_OPEN`: share a buffer for `params` and open the stream.
    /// `buffer_sz` is exactly the PCM buffer (`buffer_frames` whole frames):
    /// a backend sizes its device buffer (and so its period) from it.
    /// Reopening an open stream closes it first.
    pub fn open(&mut self, xen: &mut X, params: StreamConfig) -> Result<(), SndError> {
        self.query_and_open(xen, None, params).1
    }

    /// [`Self::open`], with `query` ([`Self::query_hw_params`]) sent just
    /// before the OPEN when given: both in one ring round trip (both
    /// sent, then both answers waited for). Returns the query's answer
    /// (`None` when it was not sent: no query, or nothing was sent) and
    /// the OPEN's outcome.
    pub fn query_and_open(
        &mut self,
        xen: &mut X,
        query: Option<&HwParam>,
        params: StreamConfig,
    ) -> (Option<Result<HwParam, SndError>>, Result<(), SndError>) {
        if let Err(e) = validate(&params) {
            return (None, Err(e));
        }
        if self.state != ProtocolState::Closed {
            if let Err(e) = self.close(xen) {
                return (None, Err(e));
            }
        }
        let total = params.buffer_len();
        let buffer = match GrantedBuffer::new(xen, self.channel.backend(), total) {
            Ok(buffer) => buffer,
            Err(e) => return (None, Err(e.into())),
        };
        let open = OpenRequest {
            pcm_rate: params.rate,
            pcm_format: params.format.code(),
            pcm_channels: params.channels,
            reserved: 0,
            buffer_sz: total as u32,
            gref_directory: buffer.directory_gref(),
            period_sz: params.period_len() as u32,
        };
        self.reset_accounting();
        self.channel.set_position_slack(params.buffer_len() as u64);
        let asked = query.map(|query| {
            self.channel
                .submit(xen, XENSND_OP_HW_PARAM_QUERY, query.as_bytes())
        });
        let opened = self.channel.call(xen, XENSND_OP_OPEN, open.as_bytes());
        let answer = asked.map(|ticket| {
            let payload = ticket.and_then(|ticket| self.channel.wait_for(xen, ticket))?;
            HwParam::read_from_prefix(&payload)
                .map(|(p, _)| p)
                .map_err(|_| SndError::BadResponse)
        });
        match opened {
            Ok(_) => {
                self.buffer = Some(buffer);
                self.params = Some(params);
                self.sizes = Sizes {
                    frame: params.frame_len(),
                    period: params.period_len(),
                    buffer: params.buffer_len(),
                };
                self.state = ProtocolState::Open;
                (answer, Ok(()))
            }
            Err(e) => {
                self.leftovers.extend(buffer.release(xen));
                (answer, Err(e))
            }
        }
    }

    fn reset_accounting(&mut self) {
        self.submitted = 0;
        self.completed = 0;
        self.forget_transfers();
        self.captured.clear();
        self.failed = None;
        self.consumed = 0;
        self.last_underrun_at = None;
        self.draining = false;
        self.run_time = (0, None);
        self.counters.bytes = 0;
        self.channel.reset_position();
        self.channel.set_position_limit(match self.direction {
            Direction::Playback => Some(0),
            Direction::Capture => None,
        });
    }

    /// `XENSND_OP_CLOSE`, then revoke the buffer. The buffer is released even
    /// when the backend fails to answer (it is told again at reconnect).
    pub fn close(&mut self, xen: &mut X) -> Result<(), SndError> {
        if self.state == ProtocolState::Closed {
            return Ok(());
        }
        // Answers to transfers still in flight are of no use any more.
        self.forget_transfers();
        let result = self.channel.call(xen, XENSND_OP_CLOSE, &[]).map(|_| ());
        self.state = ProtocolState::Closed;
        self.params = None;
        self.sizes = Sizes::default();
        self.captured.clear();
        if let Some(buffer) = self.buffer.take() {
            self.leftovers.extend(buffer.release(xen));
        }
        self.retry_leftovers(xen);
        result
    }

    /// Drop every transfer in flight; their answers are dropped when they come.
    fn forget_transfers(&mut self) {
        for transfer in self.transfers.drain(..) {
            self.channel.forget(transfer.ticket);
        }
    }

    /// Try again to revoke grants the backend held at an earlier teardown.
    pub fn retry_leftovers(&mut self, xen: &mut X) {
        self.leftovers.retain(|g| xen.revoke(g.gref).is_err());
    }

    /// Send `trigger` if the lifecycle ([`ProtocolState::trigger`]) allows
    /// it in this state, and move on once the backend accepted it.
    fn trigger(&mut self, xen: &mut X, trigger: Trigger) -> Result<(), SndError> {
        let next = self
            .state
            .trigger(trigger)
            .map_err(|_| SndError::InvalidState)?;
        let request = TriggerRequest {
            trigger_type: trigger.code(),
        };
        self.channel
            .call(xen, XENSND_OP_TRIGGER, request.as_bytes())?;
        self.state = next;
        Ok(())
    }

    /// TRIGGER START (from Open or Stopped; not after a failed WRITE:
    /// `open` again).
    ///
    /// From Stopped the backend's positions are its own: sndback continues
    /// from where it stopped, snd_be restarts from the bytes written at its
    /// last underrun (0 if none; ALSA's pointer restarts after
    /// `snd_pcm_drop`), below the position held here, which this stream
    /// takes for bad positions. The PCM layer therefore always opens again
    /// (`prepare`) after a stop.
    pub fn start(&mut self, xen: &mut X) -> Result<(), SndError> {
        if self.failed.is_some() {
            return Err(SndError::InvalidState);
        }
        self.trigger(xen, Trigger::Start)?;
        self.run_time.1 = Some(xen.now_ns());
        Ok(())
    }

    /// TRIGGER PAUSE (from Running).
    pub fn pause(&mut self, xen: &mut X) -> Result<(), SndError> {
        self.trigger(xen, Trigger::Pause)?;
        self.stop_run_time(xen.now_ns());
        Ok(())
    }

    /// TRIGGER RESUME (from Paused).
    pub fn resume(&mut self, xen: &mut X) -> Result<(), SndError> {
        self.trigger(xen, Trigger::Resume)?;
        self.run_time.1 = Some(xen.now_ns());
        Ok(())
    }

    /// TRIGGER STOP (from Running or Paused).
    pub fn stop(&mut self, xen: &mut X) -> Result<(), SndError> {
        self.trigger(xen, Trigger::Stop)?;
        self.stop_run_time(xen.now_ns());
        Ok(())
    }

    /// Bytes the backend reports as played or captured since OPEN
    /// (playback: at most the bytes written, see the module docs).
    #[inline]
    pub fn position_bytes(&self) -> u64 {
        self.channel.position().bytes
    }

    /// Frames played or captured since OPEN.
    pub fn position_frames(&self) -> u64 {
        let frame = self.params.map_or(1, |p| p.frame_len().max(1)) as u64;
        self.position_bytes() / frame
    }

    /// Whole periods elapsed since OPEN.
    pub fn periods_elapsed(&self) -> u64 {
        let period = self.params.map_or(1, |p| p.period_len().max(1)) as u64;
        self.position_bytes() / period
    }

    /// Playback: bytes queued for the backend and not yet played (delay).
    pub fn delay_bytes(&self) -> u64 {
        match self.direction {
            Direction::Playback => self.submitted.saturating_sub(self.position_bytes()),
            Direction::Capture => self.position_bytes().saturating_sub(self.consumed),
        }
    }

    /// Playback: bytes that can be written now without blocking.
    /// Capture: bytes that can be read now without blocking.
    #[inline]
    pub fn available_bytes(&self) -> u64 {
        match self.direction {
            Direction::Playback => {
                // Never get more than a buffer ahead of what was played, and
                // never overwrite a region whose WRITE is still in flight.
                // (The buffer is 0 bytes while closed: nothing is available.)
                let played = self.position_bytes().min(self.completed);
                (self.sizes.buffer as u64).saturating_sub(self.submitted.saturating_sub(played))
            }
            Direction::Capture => self
                .captured
                .iter()
                .filter(|c| c.lost.is_none())
                .map(|c| (c.len - c.taken) as u64)
                .sum(),
        }
    }

    /// Take in responses and events; account completions, underruns and
    /// overruns. Called by every operation; call it from an idle loop too.
    #[inline]
    pub fn poll(&mut self, xen: &mut X) -> Result<(), SndError> {
        if self.channel.idle(xen) && self.channel.arrivals() == self.seen_arrivals {
            // Nothing arrived: no completion, no new position.
            return Ok(());
        }
        self.poll_arrivals(xen)
    }

    /// [`Stream::poll`] when the channel has something to take in.
    #[inline(never)]
    fn poll_arrivals(&mut self, xen: &mut X) -> Result<(), SndError> {
        let polled = self.channel.poll_all(xen);
        if polled.is_ok() && self.channel.arrivals() == self.seen_arrivals {
            // Nothing arrived: no completion, no new position.
            return Ok(());
        }
        self.seen_arrivals = self.channel.arrivals();
        while let Some(&transfer) = self.transfers.front() {
            let Some(outcome) = self.channel.take_outcome(transfer.ticket) else {
                break;
            };
            self.transfers.pop_front();
            let lost = match (outcome, self.direction) {
                (Ok(_), _) => None,
                (Err(e), Direction::Playback) => {
                    // The backend may not have these bytes: the position
                    // could never reach what was written. Stop; the
                    // application must prepare (open) again.
                    self.forget_transfers();
                    self.failed = Some(e);
                    self.state = ProtocolState::Stopped;
                    return Err(e);
                }
                // Capture: these bytes are lost; the READs after it stand.
                (Err(e), Direction::Capture) => Some(e),
            };
            self.completed = transfer.offset + transfer.len as u64;
            if self.direction == Direction::Capture {
                self.captured.push_back(Captured {
                    offset: transfer.offset,
                    len: transfer.len,
                    taken: 0,
                    lost,
                });
            }
        }
        self.account_xruns();
        polled
    }

    fn account_xruns(&mut self) {
        if self.state != ProtocolState::Running {
            return;
        }
        let position = self.position_bytes();
        match self.direction {
            Direction::Playback => {
                // The backend played everything we gave while running (its
                // position reached or passed the end; positions past it
                // are clamped): an underrun, counted once per dry spell
                // (per amount written). See the module docs.
                if self.submitted > 0
                    && !self.draining
                    && position >= self.submitted
                    && self.last_underrun_at != Some(self.submitted)
                {
                    self.counters.underruns += 1;
                    self.last_underrun_at = Some(self.submitted);
                }
            }
            Direction::Capture => {
                let Some(params) = self.params else { return };
                if position.saturating_sub(self.consumed) > params.buffer_len() as u64
                    && self.last_underrun_at != Some(position / params.buffer_len() as u64)
                {
                    self.counters.overruns += 1;
                    self.last_underrun_at = Some(position / params.buffer_len() as u64);
                }
            }
        }
    }

    /// Block until something happens (or the earliest request deadline).
    /// `for_response`: what we wait for is a response, so the backend is
    /// asked to notify it (position events always notify: waits for room
    /// that only the next position event can make do not ask, which keeps
    /// the backend at one notification per period).
    /// Never past `limit_ns`.
    fn wait(&mut self, xen: &mut X, for_response: bool, limit_ns: u64) -> Result<(), SndError> {
        if for_response && self.channel.arm_response_notification(xen)? {
            // A response arrived meanwhile: no need to block.
            return Ok(());
        }
        self.counters.blocking_waits += 1;
        let deadline = self
            .channel
            .next_deadline()
            .unwrap_or_else(|| xen.now_ns().saturating_add(self.channel.timeout_ns()))
            .min(limit_ns);
        self.channel.block(xen, deadline)
    }

    /// Whether playback waiting for room needs a response to go on (rather
    /// than a position event): when not running (no events come), when
    /// the pipeline or the ring is full, or when the backend reported a
    /// position beyond the last completed WRITE (room waits for answers).
    fn room_needs_response(&self) -> bool {
        self.state != ProtocolState::Running
            || self.transfers.len() >= self.depth
            || self.channel.free_slots() == 0
            || self.position_bytes() > self.completed
    }

    /// Playback: the next writable region of the shared buffer (offset and
    /// length in buffer bytes), at most one period and never across the
    /// buffer's end; `None` when the buffer is full or too many requests are
    /// in flight.
    #[inline]
    fn next_region(&self, wanted: usize) -> Option<(usize, usize)> {
        let Sizes {
            frame,
            period,
            buffer,
        } = self.sizes;
        if buffer == 0 || self.transfers.len() >= self.depth || self.channel.free_slots() == 0 {
            return None;
        }
        let offset = (self.submitted % buffer as u64) as usize;
        let len = wanted
            .min(self.available_bytes() as usize)
            .min(period)
            .min(buffer - offset);
        let len = len - len % frame;
        (len > 0).then_some((offset, len))
    }

    #[inline]
    fn send_transfer(
        &mut self,
        xen: &mut X,
        operation: u8,
        offset: usize,
        len: usize,
    ) -> Result<(), SndError> {
        let rw = RwRequest {
            offset: offset as u32,
            length: len as u32,
        };
        let ticket = self.channel.submit(xen, operation, rw.as_bytes())?;
        self.transfers.push_back(Transfer {
            ticket,
            offset: self.submitted,
            len,
        });
        self.submitted += len as u64;
        self.counters.bytes = self.submitted;
        self.counters.max_in_flight = self.counters.max_in_flight.max(self.transfers.len());
        if self.direction == Direction::Playback {
            self.channel.set_position_limit(Some(self.submitted));
        }
        Ok(())
    }

    /// Playback: poll, unless what we already know leaves room for
    /// `wanted` bytes (whole periods while the pipeline has room): what a
    /// poll could bring only adds room, and whatever else it brings (an
    /// error status) is taken in by the next one. Saves a look at the
    /// shared pages right after the caller's own poll.
    #[inline]
    fn poll_unless_room(&mut self, xen: &mut X, wanted: usize) -> Result<(), SndError> {
        let pipeline_free = self.depth.saturating_sub(self.transfers.len());
        let requests = wanted.div_ceil(self.sizes.period.max(1));
        let room = self.available_bytes() >= wanted as u64
            && pipeline_free >= requests
            && self.channel.free_slots() as usize >= requests;
        if room && self.channel.broken().is_none() {
            Ok(())
        } else {
            self.poll(xen)
        }
    }

    /// Playback in a state that writes: the sizes to write with.
    #[inline]
    fn check_playback(&self) -> Result<Sizes, SndError> {
        if self.direction != Direction::Playback {
            return Err(SndError::InvalidState);
        }
        if let Some(error) = self.failed {
            return Err(error);
        }
        match self.state {
            ProtocolState::Open | ProtocolState::Running | ProtocolState::Paused
                if self.sizes.frame > 0 =>
            {
                Ok(self.sizes)
            }
            _ => Err(SndError::InvalidState),
        }
    }

    /// Playback without blocking: queue as many whole frames of `data` as fit
    /// now; returns the number of bytes taken (0 when none fit right now).
    pub fn try_write(&mut self, xen: &mut X, data: &[u8]) -> Result<usize, SndError> {
        let sizes = self.check_playback()?;
        if data.len() % sizes.frame != 0 {
            return Err(SndError::Unsupported);
        }
        self.poll_unless_room(xen, data.len())?;
        let mut done = 0;
        while done < data.len() {
            let Some((offset, len)) = self.next_region(data.len() - done) else {
                break;
            };
            if let Some(buffer) = &self.buffer {
                buffer.write(offset, &data[done..done + len]);
            }
            match self.send_transfer(xen, XENSND_OP_WRITE, offset, len) {
                Ok(()) => done += len,
                // What was sent is the caller's to know; the error comes again.
                Err(_) if done > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Playback, blocking: queue all of `data` (whole frames), waiting for
    /// the backend to make room. A prepared stream starts by itself once its
    /// buffer is full, like ALSA's default start threshold.
    ///
    /// While running, it waits until a whole period (or all that is left,
    /// if less) fits before sending, like ALSA's `avail_min`: position
    /// events arrive just past a period boundary, so taking whatever fits
    /// would send a WRITE of a frame or two and then one of the rest of
    /// the period, every period.
    ///
    /// Returns within [`Stream::transfer_deadline`] (`d(n) + S + T`, plus
    /// `T` for the TRIGGER START of a prepared stream): then, and when the
    /// stream is paused with no room, it returns the bytes queued so far, or fails
    /// (`Timeout`, `InvalidState`) when there are none. Any error after
    /// some bytes were queued returns their count (the error comes again
    /// next time): an `Err` means this call queued nothing.
    pub fn write(&mut self, xen: &mut X, data: &[u8]) -> Result<usize, SndError> {
        let mut done = 0;
        match self.write_from(xen, data, &mut done) {
            Err(_) if done > 0 => Ok(done),
            other => other,
        }
    }

    fn write_from(
        &mut self,
        xen: &mut X,
        data: &[u8],
        done: &mut usize,
    ) -> Result<usize, SndError> {
        let period = self.check_playback()?.period;
        let deadline = self.transfer_deadline(xen.now_ns(), data.len());
        while *done < data.len() {
            let limit = deadline;
            if self.state == ProtocolState::Running {
                self.poll(xen)?;
                let wanted = (data.len() - *done).min(period) as u64;
                if self.available_bytes() < wanted {
                    self.wait_for_room(xen, limit)?;
                    continue;
                }
            }
            let n = self.try_write(xen, &data[*done..])?;
            *done += n;
            if *done < data.len() && n == 0 {
                self.wait_for_room(xen, limit)?;
            }
        }
        Ok(*done)
    }

    /// Playback found no room: start a prepared stream whose buffer is
    /// full (nothing in flight that could free room), otherwise block until
    /// the backend answers or reports progress, at most until
    /// `deadline_ns` (then `Timeout`). A paused stream with no room fails
    /// with `InvalidState` (nothing would make room).
    pub fn wait_for_room(&mut self, xen: &mut X, deadline_ns: u64) -> Result<(), SndError> {
        self.check_playback()?;
        if self.state == ProtocolState::Open && self.transfers.is_empty() {
            return self.start(xen);
        }
        if self.state == ProtocolState::Paused && self.available_bytes() == 0 {
            return Err(SndError::InvalidState);
        }
        if xen.now_ns() >= deadline_ns {
            return Err(SndError::Timeout {
                operation: XENSND_OP_WRITE,
            });
        }
        let for_response = self.room_needs_response();
        self.wait(xen, for_response, deadline_ns)?;
        self.poll(xen)
    }

    /// Zero-copy playback: let `fill` write up to `max_bytes` (whole frames)
    /// directly into the shared buffer pages, then send them. `fill` gets
    /// (page, offset in page, length, byte offset from the start of this
    /// write) per page segment and writes through `SharedPage::write`.
    /// Returns the bytes committed (0 when no room right now).
    pub fn write_in_place<F>(
        &mut self,
        xen: &mut X,
        max_bytes: usize,
        mut fill: F,
    ) -> Result<usize, SndError>
    where
        F: FnMut(&X::Page, usize, usize, usize),
    {
        let sizes = self.check_playback()?;
        let wanted = max_bytes - max_bytes % sizes.frame;
        self.poll_unless_room(xen, wanted)?;
        let Some((offset, len)) = self.next_region(wanted) else {
            return Ok(0);
        };
        if let Some(buffer) = &self.buffer {
            let mut written = 0;
            for (page, in_page, n) in buffer.segments(offset, len) {
                fill(page, in_page, n, written);
                written += n;
            }
        }
        self.send_transfer(xen, XENSND_OP_WRITE, offset, len)?;
        Ok(len)
    }

    /// Playback without blocking: the bytes one
    /// [`write_in_place`](Self::write_in_place) could take now (whole
    /// frames, at most a period, not past the buffer's end; 0 when none).
    pub fn writable_now(&mut self, xen: &mut X) -> Result<usize, SndError> {
        let sizes = self.check_playback()?;
        self.poll_unless_room(xen, sizes.period)?;
        Ok(self.next_region(usize::MAX).map_or(0, |(_, len)| len))
    }

    /// Playback: wait until everything queued has been played, then stop.
    /// Fails with `Timeout` when that takes longer than the queued audio
    /// should (`d(queued) + S + T`, then TRIGGER STOP), however the
    /// position moves.
    pub fn drain(&mut self, xen: &mut X) -> Result<(), SndError> {
        self.check_playback()?;
        if self.state == ProtocolState::Open && self.submitted > 0 {
            self.start(xen)?;
        }
        self.draining = true;
        let result = self.drain_running(xen);
        self.draining = false;
        result
    }

    fn drain_running(&mut self, xen: &mut X) -> Result<(), SndError> {
        let queued = self.submitted.saturating_sub(self.position_bytes());
        let deadline = self.transfer_deadline(xen.now_ns(), queued as usize);
        let timeout = SndError::Timeout {
            operation: XENSND_OP_WRITE,
        };
        while self.state == ProtocolState::Running && self.position_bytes() < self.submitted {
            self.poll(xen)?;
            let now = xen.now_ns();
            let limit = deadline;
            if now >= limit {
                return Err(timeout);
            }
            self.channel.block(xen, limit.min(now + 10_000_000))?;
        }
        // Wait for the last WRITE answers too.
        while !self.transfers.is_empty() {
            self.poll(xen)?;
            if self.transfers.is_empty() {
                break;
            }
            if xen.now_ns() >= deadline {
                return Err(timeout);
            }
            self.wait(xen, true, deadline)?;
        }
        if self.state == ProtocolState::Running || self.state == ProtocolState::Paused {
            self.stop(xen)?;
        }
        Ok(())
    }

    fn check_capture(&self) -> Result<StreamConfig, SndError> {
        if self.direction != Direction::Capture {
            return Err(SndError::InvalidState);
        }
        match self.state {
            ProtocolState::Open | ProtocolState::Running | ProtocolState::Paused => {
                self.params_or_err()
            }
            _ => Err(SndError::InvalidState),
        }
    }

    /// Capture: send READs for chunks the backend says it has captured.
    fn request_captured(&mut self, xen: &mut X) -> Result<(), SndError> {
        let params = self.check_capture()?;
        let buffer = params.buffer_len();
        let chunk = params.period_len();
        loop {
            if self.transfers.len() >= self.depth || self.channel.free_slots() == 0 {
                return Ok(());
            }
            // Keep a buffer's worth at most between READ and copy-out.
            let pending: u64 = self.submitted - self.consumed;
            if pending + chunk as u64 > buffer as u64 {
                return Ok(());
            }
            // Ask only for what the backend has captured: its position
            // events say so; until the first one arrives (or with a backend
            // that sends none), the time the stream has been running does.
            let captured = if self.channel.position().updates > 0 {
                self.position_bytes()
            } else {
                self.captured_by_time(xen.now_ns(), &params)
            };
            if captured < self.submitted + chunk as u64 {
                return Ok(());
            }
            let offset = (self.submitted % buffer as u64) as usize;
            let len = chunk.min(buffer - offset);
            self.send_transfer(xen, XENSND_OP_READ, offset, len)?;
        }
    }

    fn stop_run_time(&mut self, now_ns: u64) {
        if let Some(since) = self.run_time.1.take() {
            self.run_time.0 += now_ns.saturating_sub(since);
        }
    }

    /// Bytes a device running at the stream's rate has produced so far.
    fn captured_by_time(&self, now_ns: u64, params: &StreamConfig) -> u64 {
        let running = self.run_time.0
            + self
                .run_time
                .1
                .map_or(0, |since| now_ns.saturating_sub(since));
        let frames = running as u128 * params.rate as u128 / 1_000_000_000;
        frames as u64 * params.frame_len() as u64
    }

    /// Capture without blocking: copy out captured whole frames into `out`;
    /// returns bytes copied (0 when nothing is ready). Reaching the bytes
    /// of a READ that failed: if bytes were copied, stops before them;
    /// otherwise skips them (counted in `lost_bytes`) and fails with the
    /// READ's error.
    pub fn try_read(&mut self, xen: &mut X, out: &mut [u8]) -> Result<usize, SndError> {
        let params = self.check_capture()?;
        if out.len() % params.frame_len() != 0 {
            return Err(SndError::Unsupported);
        }
        self.poll(xen)?;
        self.request_captured(xen)?;
        let mut done = 0;
        while done < out.len() {
            if done > 0 && self.captured.front().is_some_and(|c| c.lost.is_some()) {
                break;
            }
            let Some((at, n)) = self.front_captured(out.len() - done)? else {
                break;
            };
            if let Some(buffer) = &self.buffer {
                buffer.read(at, &mut out[done..done + n]);
            }
            self.take_front(n);
            done += n;
        }
        Ok(done)
    }

    /// Capture without blocking, without taking: copy the next captured
    /// bytes of one READ (whole frames, contiguous in the buffer) into
    /// `out`, resized to them (empty when nothing is ready);
    /// [`release_captured`](Self::release_captured) takes them. A failed
    /// READ in front is skipped and reported as `try_read` does.
    pub fn peek_captured(&mut self, xen: &mut X, out: &mut Vec<u8>) -> Result<(), SndError> {
        self.check_capture()?;
        self.poll(xen)?;
        self.request_captured(xen)?;
        out.clear();
        if let Some((at, n)) = self.front_captured(usize::MAX)? {
            out.resize(n, 0);
            if let Some(buffer) = &self.buffer {
                buffer.read(at, out);
            }
        }
        Ok(())
    }

    /// Take the first `bytes` of what [`peek_captured`](Self::peek_captured)
    /// copied: `InvalidState` if that is more than the front READ holds.
    pub fn release_captured(&mut self, bytes: usize) -> Result<(), SndError> {
        self.check_capture()?;
        let left = match self.captured.front() {
            Some(chunk) if chunk.lost.is_none() => chunk.len - chunk.taken,
            _ => 0,
        };
        if bytes > left {
            return Err(SndError::InvalidState);
        }
        self.take_front(bytes);
        Ok(())
    }

    /// Where the next captured bytes are: the buffer offset and length (at
    /// most `max`) of the rest of the front READ; `None` when nothing is
    /// captured. A failed READ in front is skipped (counted in
    /// `lost_bytes`) and its error returned.
    fn front_captured(&mut self, max: usize) -> Result<Option<(usize, usize)>, SndError> {
        let buffer_len = self.params_or_err()?.buffer_len() as u64;
        let Some(chunk) = self.captured.front() else {
            return Ok(None);
        };
        let left = chunk.len - chunk.taken;
        if let Some(error) = chunk.lost {
            self.consumed += left as u64;
            self.counters.lost_bytes += left as u64;
            self.captured.pop_front();
            return Err(error);
        }
        let at = ((chunk.offset + chunk.taken as u64) % buffer_len) as usize;
        Ok(Some((at, left.min(max))))
    }

    /// Take `n` bytes (at most what `front_captured` offered) of the front READ.
    fn take_front(&mut self, n: usize) {
        let Some(chunk) = self.captured.front_mut() else {
            return;
        };
        chunk.taken += n;
        self.consumed += n as u64;
        if chunk.taken == chunk.len {
            self.captured.pop_front();
        }
    }

    /// Capture, blocking: fill all of `out`. A prepared stream is started.
    /// Returns within [`Stream::transfer_deadline`] (`d(n) + S + T`, plus
    /// `T` for the TRIGGER START of a prepared stream): then, and when
    /// the stream is paused with nothing captured and no READ in flight,
    /// it returns the bytes read so far, or fails (`Timeout`,
    /// `InvalidState`) when there are none. Any other error after some
    /// bytes were read also returns them (the error comes again next time).
    pub fn read(&mut self, xen: &mut X, out: &mut [u8]) -> Result<usize, SndError> {
        let mut done = 0;
        match self.read_into(xen, out, &mut done) {
            Err(_) if done > 0 => Ok(done),
            other => other,
        }
    }

    fn read_into(
        &mut self,
        xen: &mut X,
        out: &mut [u8],
        done: &mut usize,
    ) -> Result<usize, SndError> {
        if self.state == ProtocolState::Open {
            self.start(xen)?;
        }
        let period_ns = self.params.map_or(1_000_000, |p| {
            (p.period_frames as u64 * 1_000_000_000 / p.rate.max(1) as u64).max(1_000_000)
        });
        let deadline = self.transfer_deadline(xen.now_ns(), out.len());
        while *done < out.len() {
            let n = self.try_read(xen, &mut out[*done..])?;
            *done += n;
            if *done < out.len() && n == 0 {
                let now = xen.now_ns();
                let limit = deadline;
                let stuck = self.state == ProtocolState::Paused
                    && self.transfers.is_empty()
                    && self.available_bytes() == 0;
                if now >= limit || stuck {
                    return Err(if stuck {
                        SndError::InvalidState
                    } else {
                        SndError::Timeout {
                            operation: XENSND_OP_READ,
                        }
                    });
                }
                // Until the next response, event or period, whichever is
                // first: a READ in flight is what we wait for, so ask the
                // backend to notify its answer.
                if !self.transfers.is_empty() && self.channel.arm_response_notification(xen)? {
                    continue;
                }
                self.counters.blocking_waits += 1;
                let next_period = now.saturating_add(period_ns).min(limit);
                let deadline = self
                    .channel
                    .next_deadline()
                    .map_or(next_period, |d| d.min(next_period));
                self.channel.block(xen, deadline)?;
            }
        }
        Ok(*done)
    }

    /// Where `length` bytes of control values can travel now: an offset
    /// into the shared buffer whose bytes hold no audio the backend still
    /// needs, or `None` when there is no such room right now.
    ///
    /// Playback: the bytes from the oldest one not yet played or whose
    /// WRITE has not completed up to the last one written are needed; the
    /// rest of the circular buffer (played audio) is free. Capture: the bytes
    /// from the oldest one not yet copied out to the application up to the
    /// end of the last READ are needed. Of the free space, the last
    /// `length` bytes before the oldest needed byte are used: the next
    /// audio writes reach them last. The offset is a multiple of 4 (the
    /// values are `i32`s) and of the frame size (a backend may insist on
    /// frame-aligned offsets).
    fn control_region(&self, length: usize) -> Option<usize> {
        let params = self.params?;
        let buffer = params.buffer_len();
        let oldest_needed = match self.direction {
            Direction::Playback => self.position_bytes().min(self.completed),
            Direction::Capture => self.consumed,
        };
        let needed = self.submitted.saturating_sub(oldest_needed) as usize;
        let free = buffer.saturating_sub(needed);
        let start = (self.submitted % buffer as u64) as usize;
        let frame = params.frame_len();
        let align = frame * 4 / gcd(frame, 4);
        // The free space is one piece, or two when it wraps past the end;
        // the later piece is tried first. A buffer with nothing needed is
        // free as a whole.
        let first_end = (start + free).min(buffer);
        let wrapped_end = start + free - first_end;
        let whole = if needed == 0 { buffer } else { 0 };
        [(0, wrapped_end), (start, first_end), (0, whole)]
            .into_iter()
            .find_map(|(from, to)| {
                let at = to.checked_sub(length)? / align * align;
                (at >= from).then_some(at)
            })
    }

    /// Wait until [`Stream::control_region`] finds room for `length` bytes
    /// (at most a request timeout): playback gets room as the backend plays;
    /// a stream that cannot make progress (capture, whose room only the
    /// application's reads make, or playback that is not running with
    /// nothing in flight) fails at once with [`SndError::NoControlRoom`].
    fn wait_for_control_room(
        &mut self,
        xen: &mut X,
        operation: u8,
        length: usize,
    ) -> Result<usize, SndError> {
        let params = self.params_or_err()?;
        if params.buffer_len() < length {
            return Err(SndError::Unsupported);
        }
        let give_up = xen.now_ns().saturating_add(self.channel.timeout_ns());
        loop {
            self.poll(xen)?;
            if let Some(offset) = self.control_region(length) {
                return Ok(offset);
            }
            let progress = self.direction == Direction::Playback
                && (self.state == ProtocolState::Running || !self.transfers.is_empty());
            if !progress {
                return Err(SndError::NoControlRoom);
            }
            if xen.now_ns() >= give_up {
                return Err(SndError::Timeout { operation });
            }
            if self.room_needs_response() && self.channel.arm_response_notification(xen)? {
                continue;
            }
            let wake = self
                .channel
                .next_deadline()
                .map_or(give_up, |deadline| deadline.min(give_up));
            self.channel.block(xen, wake)?;
        }
    }

    /// Exchange per-channel control values through a region of the shared
    /// buffer that holds no audio the backend still needs
    /// ([`Stream::control_region`]): `values` (if any) are written first,
    /// the request is sent, and the region is read back (what GET_VOLUME
    /// returns). The data path does not run while the request is in
    /// flight, so the region stays reserved until the response arrives.
    fn control(
        &mut self,
        xen: &mut X,
        operation: u8,
        values: Option<&[u8]>,
        length: usize,
    ) -> Result<Vec<u8>, SndError> {
        let offset = self.wait_for_control_room(xen, operation, length)?;
        let buffer = self.buffer.as_ref().ok_or(SndError::InvalidState)?;
        if let Some(values) = values {
            buffer.write(offset, values);
        }
        let rw = RwRequest {
            offset: offset as u32,
            length: length as u32,
        };
        self.channel.call(xen, operation, rw.as_bytes())?;
        let buffer = self.buffer.as_ref().ok_or(SndError::InvalidState)?;
        let mut bytes = alloc::vec![0u8; length];
        buffer.read(offset, &mut bytes);
        Ok(bytes)
    }

    /// `XENSND_OP_SET_VOLUME`: one `i32` per channel in 0.001 dB (0 = 0 dB).
    pub fn set_volume(&mut self, xen: &mut X, millidecibels: &[i32]) -> Result<(), SndError> {
        let channels = self.params_or_err()?.channels as usize;
        if millidecibels.len() != channels {
            return Err(SndError::Unsupported);
        }
        let bytes: Vec<u8> = millidecibels.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.control(xen, XENSND_OP_SET_VOLUME, Some(&bytes), channels * 4)
            .map(|_| ())
    }

    /// `XENSND_OP_GET_VOLUME`: the backend's per-channel volume in 0.001 dB.
    pub fn volume(&mut self, xen: &mut X) -> Result<Vec<i32>, SndError> {
        let channels = self.params_or_err()?.channels as usize;
        let zeros = alloc::vec![0u8; channels * 4];
        let bytes = self.control(xen, XENSND_OP_GET_VOLUME, Some(&zeros), channels * 4)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// `XENSND_OP_MUTE` / `XENSND_OP_UNMUTE` for every channel. The header
    /// calls each channel's flag a `uint8_t` but draws it at offset `i * 4`;
    /// we send a little-endian `1` in a 4-byte slot per channel, which reads
    /// as non-zero under either interpretation.
    pub fn set_mute(&mut self, xen: &mut X, mute: bool) -> Result<(), SndError> {
        let channels = self.params_or_err()?.channels as usize;
        let ones: Vec<u8> = (0..channels).flat_map(|_| 1u32.to_le_bytes()).collect();
        let operation = if mute {
            XENSND_OP_MUTE
        } else {
            XENSND_OP_UNMUTE
        };
        self.control(xen, operation, Some(&ones), channels * 4)
            .map(|_| ())
    }

    /// Tear the stream down (no CLOSE is sent: the backend is gone or
    /// going). Returns grants still mapped by the backend.
    pub fn teardown(mut self, xen: &mut X) -> Vec<Granted<X::Page>> {
        if let Some(buffer) = self.buffer.take() {
            self.leftovers.extend(buffer.release(xen));
        }
        let mut stuck = self.leftovers;
        stuck.extend(self.channel.close(xen));
        stuck
    }
}

/// Greatest common divisor (for the control values' alignment).
fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
