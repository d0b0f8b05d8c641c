//! One stream's transport: the request ring, the event page, their grants
//! and event channels, and the table of requests in flight
//! (`io/sndif.h`, "Request/response" and "Back to front events delivery").
//!
//! Beyond Linux's xen-snd-front this allows many requests in flight, matches
//! each response to its request by id *and* operation, lets a request time
//! out without a late answer ever completing a newer one, validates every
//! status and position, and resynchronises on an event-id gap instead of
//! ignoring every later event.
//!
//! Completions are keyed by [`Ticket`]: the wire id, the operation and a
//! serial number that never repeats on the channel, so a completion can
//! only be claimed by the request it belongs to. A request whose owner
//! gives up ([`Channel::forget`]) has its completion dropped; a request
//! that timed out keeps its id reserved until its late answer comes (or
//! [`RING_SLOTS`] newer requests timed out), so no new request can take
//! that answer after the 16-bit ids wrap. Every table the backend can make
//! grow is bounded by [`RING_SLOTS`]: requests in flight plus unclaimed
//! completions, and ids of timed-out requests.
//!
//! Blocking ([`Channel::block`]) follows the device's XenBus state and
//! `control/shutdown` through a [`DeviceWatch`] when the frontend set one.
#![forbid(unsafe_code)]

use alloc::vec::Vec;
use zerocopy::FromBytes;

use super::buffer::Granted;
use super::watch::DeviceWatch;
use super::SndError;
use xen_abi::sndif::{CurPosEvent, Event, Request, Response, XENSND_EVT_CUR_POS, XENSND_OP_WRITE};
use xen_guest::ring::{Entry, EventConsumer, FrontRing, RingError, EVENT_SLOTS, RING_SLOTS};
use xen_guest::{DomId, GrantRef, Platform, Port, SharedPage};

/// Default time a request may take before the app sees a timeout
/// (Linux's xen-snd-front uses the same 3 s).
pub const DEFAULT_TIMEOUT_NS: u64 = 3_000_000_000;

/// Largest status magnitude we accept as a Xen errno.
const MAX_ERRNO: i32 = 4095;

/// One submitted request: what [`Channel::submit`] returns and the only key
/// its completion can be claimed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// Request id on the wire (wraps at 16 bits).
    pub id: u16,
    /// Operation (`XENSND_OP_*`).
    pub operation: u8,
    /// Submission number on this channel (never repeats).
    serial: u64,
}

/// A completed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The request.
    pub ticket: Ticket,
    /// The outcome: the 56-byte response payload, or why it failed.
    pub result: Result<[u8; 56], SndError>,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    ticket: Ticket,
    deadline_ns: u64,
    /// Its owner gave up: the answer is dropped when it comes.
    abandoned: bool,
}

/// Things the backend did wrong that we survived; counted for diagnostics
/// and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Requests submitted.
    pub requests: u64,
    /// Notifications sent to the backend.
    pub notifications_sent: u64,
    /// Responses whose id matched nothing in flight (late or invented).
    pub unexpected_responses: u64,
    /// Responses whose operation did not match their request.
    pub mismatched_responses: u64,
    /// Responses with a status that is neither 0 nor a negative errno.
    pub bad_status: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Answers to requests that had timed out (dropped).
    pub late_responses: u64,
    /// Events received.
    pub events: u64,
    /// Event-id gaps we resynchronised over.
    pub event_gaps: u64,
    /// Times the backend ran more than a page of events ahead.
    pub event_overruns: u64,
    /// Events of a type we do not know.
    pub unknown_events: u64,
    /// Positions that went backwards or beyond what is possible.
    pub bad_positions: u64,
    /// Blocking waits that asked the backend to notify the next response
    /// (set `rsp_event`); the data path does not.
    pub armed_waits: u64,
    /// Round trips: waits for responses to requests sent since the
    /// previous wait (however many were sent, and whether or not the
    /// responses were already there). Submitting without waiting adds
    /// none.
    pub round_trips: u64,
}

/// Stream position as reported by `XENSND_EVT_CUR_POS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Bytes played or captured since OPEN, as far as the backend told us.
    pub bytes: u64,
    /// Valid position events received since OPEN.
    pub updates: u64,
}

/// The transport of one stream.
pub struct Channel<X: Platform> {
    backend: DomId,
    ring: FrontRing<X::Page>,
    ring_gref: GrantRef,
    events: EventConsumer<X::Page>,
    events_gref: GrantRef,
    ring_port: Port,
    events_port: Port,
    next_id: u16,
    next_serial: u64,
    next_event_id: Option<u16>,
    in_flight: Vec<InFlight>,
    /// Earliest deadline in `in_flight` (`u64::MAX`: none).
    next_deadline_ns: u64,
    completed: Vec<Completion>,
    /// Ids and operations of requests that timed out and were not answered
    /// yet (oldest first, at most [`RING_SLOTS`]): not reused, so a late
    /// answer cannot complete a newer request.
    late: Vec<(u16, u8)>,
    watch: Option<DeviceWatch<X::Page>>,
    position: Position,
    position_limit: Option<u64>,
    /// How far past `position_limit` a position may be (then clamped to it).
    position_slack: u64,
    broken: Option<SndError>,
    timeout_ns: u64,
    stats: ChannelStats,
    /// Responses, events and timeouts taken in so far (changes whenever a
    /// poll found something).
    arrivals: u64,
    /// Requests were submitted since the last wait for responses.
    sent_since_wait: bool,
    /// A WRITE was submitted on this channel.
    wrote: bool,
}

impl<X: Platform> core::fmt::Debug for Channel<X> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Channel")
            .field("backend", &self.backend)
            .field("ring_gref", &self.ring_gref)
            .field("events_gref", &self.events_gref)
            .field("ring_port", &self.ring_port)
            .field("events_port", &self.events_port)
            .field("in_flight", &self.in_flight.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// Pages of a channel the backend still had mapped at teardown.
pub type Leftovers<X> = Vec<Granted<<X as xen_guest::PageAllocator>::Page>>;

impl<X: Platform> Channel<X> {
    /// Allocate and grant the ring and event pages and two unbound event
    /// channels for `backend`. Everything is undone on failure.
    pub fn new(xen: &mut X, backend: DomId) -> Result<Self, SndError> {
        let ring_page = xen.alloc_page()?;
        let events_page = xen.alloc_page()?;
        let ring = FrontRing::init(ring_page);
        let events = EventConsumer::init(events_page);
        let ring_gref = xen.grant(backend, ring.page().gfn(), false)?;
        let events_gref = match xen.grant(backend, events.page().gfn(), false) {
            Ok(g) => g,
            Err(e) => {
                let _ = xen.revoke(ring_gref);
                return Err(e.into());
            }
        };
        let ports = xen.alloc_unbound(backend).and_then(|ring_port| {
            xen.alloc_unbound(backend)
                .map(|events_port| (ring_port, events_port))
                .inspect_err(|_| xen.close(ring_port))
        });
        let (ring_port, events_port) = match ports {
            Ok(p) => p,
            Err(e) => {
                let _ = xen.revoke(ring_gref);
                let _ = xen.revoke(events_gref);
                return Err(e.into());
            }
        };
        Ok(Channel {
            backend,
            ring,
            ring_gref,
            events,
            events_gref,
            ring_port,
            events_port,
            next_id: 0,
            next_serial: 0,
            next_event_id: None,
            in_flight: Vec::new(),
            next_deadline_ns: u64::MAX,
            completed: Vec::new(),
            late: Vec::new(),
            watch: None,
            position: Position::default(),
            position_limit: None,
            position_slack: 0,
            broken: None,
            timeout_ns: DEFAULT_TIMEOUT_NS,
            stats: ChannelStats::default(),
            arrivals: 0,
            sent_since_wait: false,
            wrote: false,
        })
    }

    /// The XenStore nodes the frontend writes for this stream, as
    /// (`ring-ref`, `event-channel`, `evt-ring-ref`, `evt-event-channel`).
    pub fn xenstore_values(&self) -> [(&'static str, u32); 4] {
        use xen_abi::sndif::*;
        [
            (XENSND_FIELD_RING_REF, self.ring_gref),
            (XENSND_FIELD_EVT_CHNL, self.ring_port),
            (XENSND_FIELD_EVT_RING_REF, self.events_gref),
            (XENSND_FIELD_EVT_EVT_CHNL, self.events_port),
        ]
    }

    /// The backend domain.
    pub fn backend(&self) -> DomId {
        self.backend
    }

    /// The request ring's event channel.
    pub fn ring_port(&self) -> Port {
        self.ring_port
    }

    /// The event page's event channel.
    pub fn events_port(&self) -> Port {
        self.events_port
    }

    /// Counters of what happened on this channel.
    pub fn stats(&self) -> ChannelStats {
        self.stats
    }

    /// Set how long a request may take.
    pub fn set_timeout_ns(&mut self, timeout_ns: u64) {
        self.timeout_ns = timeout_ns;
    }

    /// The request timeout.
    pub fn timeout_ns(&self) -> u64 {
        self.timeout_ns
    }

    /// Why the channel is unusable, if it is.
    #[inline]
    pub fn broken(&self) -> Option<SndError> {
        self.broken
    }

    /// Requests sent and not yet completed or timed out.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Completions nobody claimed yet (at most [`RING_SLOTS`] with the
    /// requests in flight).
    pub fn unclaimed(&self) -> usize {
        self.completed.len()
    }

    /// Ids held back because their requests timed out unanswered.
    pub fn late_ids(&self) -> usize {
        self.late.len()
    }

    /// Follow the device's XenBus state and `control/shutdown` while
    /// blocking (see [`Channel::block`]).
    pub fn set_watch(&mut self, watch: Option<DeviceWatch<X::Page>>) {
        self.watch = watch;
    }

    /// Whether a blocking call must give up now: the backend left
    /// Connected ([`SndError::Disconnected`]) or the domain is shutting
    /// down ([`SndError::Shutdown`]). `Ok` without a watch.
    pub fn check_watch(&self, xen: &mut X) -> Result<(), SndError> {
        match &self.watch {
            Some(watch) => watch.check(xen),
            None => Ok(()),
        }
    }

    /// Look at XenBus and `control/shutdown` ([`Channel::check_watch`]),
    /// then block until an event arrives or `deadline_ns` passes (see
    /// [`xen_guest::Clock::wait_until`]). A XenStore event ends the wait,
    /// and the caller's next wait looks again: a change is seen as it comes.
    ///
    /// The look at XenStore may scan the event bitmaps (any XenStore I/O
    /// does), and a scan moves a notification that came after the caller's
    /// final check ([`Channel::arm_response_notification`]) into the
    /// dispatcher's flags and clears Xen's `evtchn_upcall_pending`: Xen does
    /// not deliver it again, and the halt would sleep through it to the
    /// deadline (seen under Xen as a request answered at once but taken in
    /// only at its 10 s timeout). So a notification of this channel that
    /// the look took in ends the wait at once (the caller polls again).
    pub fn block(&mut self, xen: &mut X, deadline_ns: u64) -> Result<(), SndError> {
        self.check_watch(xen)?;
        let ring = xen.take_pending(self.ring_port);
        let events = xen.take_pending(self.events_port);
        if ring || events {
            return Ok(());
        }
        xen.wait_until(deadline_ns);
        Ok(())
    }

    /// Free request slots.
    #[inline]
    pub fn free_slots(&self) -> u32 {
        self.ring.free_requests()
    }

    /// The last valid position.
    #[inline]
    pub fn position(&self) -> Position {
        self.position
    }

    /// Start position accounting from zero (after OPEN).
    pub fn reset_position(&mut self) {
        self.position = Position::default();
        self.position_limit = None;
    }

    /// The position cannot be above `limit` bytes (for playback: bytes
    /// handed to the backend so far). A position reported up to the slack
    /// ([`Channel::set_position_slack`]) past it is taken as `limit` (a
    /// device running dry keeps counting); one further past is impossible
    /// and ignored. `None`: no upper bound known.
    #[inline]
    pub fn set_position_limit(&mut self, limit: Option<u64>) {
        self.position_limit = limit;
    }

    /// How many bytes past the limit a reported position is clamped
    /// rather than ignored (for playback: one buffer).
    pub fn set_position_slack(&mut self, slack: u64) {
        self.position_slack = slack;
    }

    /// Send a request; returns its ticket. The payload is the 56-byte `op`
    /// union. It times out one request timeout from now. Fails with
    /// [`SndError::Busy`] when the ring is full (or as many requests as it
    /// holds are still unanswered or unclaimed).
    #[inline]
    pub fn submit(
        &mut self,
        xen: &mut X,
        operation: u8,
        payload: &[u8],
    ) -> Result<Ticket, SndError> {
        let deadline_ns = xen.now_ns().saturating_add(self.timeout_ns);
        self.submit_until(xen, operation, payload, deadline_ns)
    }

    /// [`Channel::submit`], timing out at `deadline_ns`.
    pub fn submit_until(
        &mut self,
        xen: &mut X,
        operation: u8,
        payload: &[u8],
        deadline_ns: u64,
    ) -> Result<Ticket, SndError> {
        if let Some(e) = self.broken {
            return Err(e);
        }
        // Responses with ids we never sent free ring slots without
        // completing anything: never track more requests (and answers
        // nobody claimed yet) than the ring holds; the stale ones leave by
        // timing out.
        if self.in_flight.len() + self.completed.len() >= RING_SLOTS as usize {
            return Err(SndError::Busy);
        }
        let id = self.free_id();
        let request = Request::new(id, operation, payload);
        let entry: &Entry = zerocopy::transmute_ref!(&request);
        match self.ring.push_request(entry) {
            Ok(()) => {}
            Err(RingError::Full) => return Err(SndError::Busy),
            Err(e) => return Err(self.fail(e)),
        }
        // The first WRITE snapshots the boot's round trips (before it
        // counts itself).
        let first_write = operation == XENSND_OP_WRITE && !self.wrote;
        self.wrote |= first_write;
        self.sent_since_wait = true;
        if let Some(watch) = &self.watch {
            watch.note(first_write, 1, 0);
        }
        self.next_id = id.wrapping_add(1);
        let ticket = Ticket {
            id,
            operation,
            serial: self.next_serial,
        };
        self.next_serial += 1;
        self.in_flight.push(InFlight {
            ticket,
            deadline_ns,
            abandoned: false,
        });
        self.next_deadline_ns = self.next_deadline_ns.min(deadline_ns);
        self.stats.requests += 1;
        if self.ring.push_requests_and_check_notify() {
            xen.notify(self.ring_port);
            self.stats.notifications_sent += 1;
        }
        Ok(ticket)
    }

    /// The next id that no request in flight and no unanswered timed-out
    /// request holds (at most `2 * RING_SLOTS` are held, so this ends fast).
    fn free_id(&self) -> u16 {
        let mut id = self.next_id;
        while self.in_flight.iter().any(|p| p.ticket.id == id)
            || self.late.iter().any(|&(late, _)| late == id)
        {
            id = id.wrapping_add(1);
        }
        id
    }

    /// The owner of `ticket` gives up on it: its completion is dropped now
    /// or, while it is in flight, when it comes. Its id stays reserved
    /// until then.
    pub fn forget(&mut self, ticket: Ticket) {
        if let Some(index) = self.completed.iter().position(|c| c.ticket == ticket) {
            self.completed.swap_remove(index);
        } else if let Some(pending) = self.in_flight.iter_mut().find(|p| p.ticket == ticket) {
            pending.abandoned = true;
        }
    }

    fn fail(&mut self, error: RingError) -> SndError {
        let e = SndError::Protocol(error);
        self.broken = Some(e);
        // Nothing in flight can complete any more.
        self.next_deadline_ns = u64::MAX;
        for pending in self.in_flight.drain(..) {
            if !pending.abandoned {
                self.completed.push(Completion {
                    ticket: pending.ticket,
                    result: Err(SndError::Disconnected),
                });
            }
        }
        e
    }

    /// Take in everything the backend produced: responses, events and
    /// expired deadlines. Errors only when the ring itself became unusable.
    ///
    /// This does not ask the backend for a notification (`rsp_event` is
    /// left alone): on the data path responses are picked up by the next
    /// poll, which position events (or the caller's timer) bring about.
    /// Before blocking for a response, call
    /// [`Channel::arm_response_notification`].
    #[inline]
    pub fn poll(&mut self, xen: &mut X) -> Result<(), SndError> {
        if self.idle(xen) {
            return Ok(());
        }
        self.poll_all(xen)
    }

    /// Whether a [`Channel::poll`] now would find nothing: no response, no
    /// event, no deadline passed, not broken. The data path polls several
    /// times per period and mostly finds nothing: two index loads and the
    /// clock decide that without the full look (which validates whatever
    /// the indices claim).
    #[inline]
    pub fn idle(&self, xen: &X) -> bool {
        self.broken.is_none()
            && !self.ring.has_unconsumed_responses()
            && !self.events.has_events()
            && self.next_deadline_ns > xen.now_ns()
    }

    /// [`Channel::poll`] past its look at the indices: the full look.
    #[inline(never)]
    pub(crate) fn poll_all(&mut self, xen: &mut X) -> Result<(), SndError> {
        if let Some(e) = self.broken {
            return Err(e);
        }
        // The pending flags only tell us to look, and we always look: they
        // are not taken here (the blocking paths start from a fresh look
        // at the indices, not from the flags).
        loop {
            match self.ring.take_response() {
                Ok(Some(entry)) => self.handle_response(&entry),
                Ok(None) => break,
                Err(e) => return Err(self.fail(e)),
            }
        }
        // A backend producing as fast as we consume must not hold us here:
        // at most a ring's worth per poll, the rest waits for the next one.
        for _ in 0..EVENT_SLOTS {
            match self.events.take_event() {
                Ok(Some(entry)) => self.handle_event(&entry),
                Ok(None) => break,
                Err(_) => {
                    self.stats.event_overruns += 1;
                    self.next_event_id = None;
                }
            }
        }
        if self.next_deadline_ns <= xen.now_ns() {
            self.expire(xen.now_ns());
        }
        Ok(())
    }

    /// Before blocking for a response: ask the backend to notify the next
    /// response it produces (`RING_FINAL_CHECK_FOR_RESPONSES` sets
    /// `rsp_event`). Returns true when responses or events arrived
    /// meanwhile: poll again instead of blocking. Without this call the backend is only
    /// asked for a notification once per such wait, not per response (a
    /// backend that notifies anyway is fine too).
    pub fn arm_response_notification(&mut self, xen: &mut X) -> Result<bool, SndError> {
        if let Some(e) = self.broken {
            return Err(e);
        }
        self.note_wait();
        // Forget old flags: the halt that follows wakes on new events only.
        xen.take_pending(self.ring_port);
        xen.take_pending(self.events_port);
        match self.ring.final_check_for_responses() {
            Ok(ready) => {
                self.stats.armed_waits += 1;
                // An event whose notification the look above consumed
                // would not wake the halt either.
                Ok(ready || self.events.has_events())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Changes whenever a poll took in a response, an event or a timeout
    /// (callers skip their own bookkeeping when it did not).
    #[inline]
    pub fn arrivals(&self) -> u64 {
        self.arrivals
    }

    fn handle_response(&mut self, entry: &Entry) {
        self.arrivals += 1;
        // The entry is our private copy: validate it, then use it.
        let Ok(response) = Response::read_from_bytes(entry) else {
            return;
        };
        let Some(index) = self
            .in_flight
            .iter()
            .position(|p| p.ticket.id == response.id)
        else {
            // The late answer of a request that timed out frees its id.
            match self
                .late
                .iter()
                .position(|&late| late == (response.id, response.operation))
            {
                Some(late) => {
                    // `remove`, not `swap_remove`: the table stays oldest
                    // first, so `expire` releases the oldest ids.
                    self.late.remove(late);
                    self.stats.late_responses += 1;
                }
                None => self.stats.unexpected_responses += 1,
            }
            return;
        };
        let pending = self.in_flight.swap_remove(index);
        if pending.abandoned {
            return;
        }
        let operation = pending.ticket.operation;
        let result = if response.operation != operation {
            self.stats.mismatched_responses += 1;
            Err(SndError::BadResponse)
        } else if response.status == 0 {
            Ok(response.resp)
        } else if (-MAX_ERRNO..0).contains(&response.status) {
            Err(SndError::Backend {
                operation,
                status: response.status,
            })
        } else {
            self.stats.bad_status += 1;
            Err(SndError::BadResponse)
        };
        self.completed.push(Completion {
            ticket: pending.ticket,
            result,
        });
    }

    fn handle_event(&mut self, entry: &Entry) {
        self.arrivals += 1;
        let Ok(event) = Event::read_from_bytes(entry) else {
            return;
        };
        self.stats.events += 1;
        if let Some(expected) = self.next_event_id {
            if event.id != expected {
                self.stats.event_gaps += 1;
            }
        }
        self.next_event_id = Some(event.id.wrapping_add(1));
        if event.event_type != XENSND_EVT_CUR_POS {
            self.stats.unknown_events += 1;
            return;
        }
        let Ok((cur_pos, _)) = CurPosEvent::read_from_prefix(&event.op) else {
            return;
        };
        let position = cur_pos.position;
        let too_far = self
            .position_limit
            .is_some_and(|limit| position > limit.saturating_add(self.position_slack));
        if position < self.position.bytes || too_far {
            self.stats.bad_positions += 1;
            return;
        }
        // Past the limit but within the slack: as far as it can be.
        let position = self
            .position_limit
            .map_or(position, |limit| position.min(limit));
        self.position = Position {
            bytes: position,
            updates: self.position.updates + 1,
        };
    }

    fn expire(&mut self, now_ns: u64) {
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].deadline_ns <= now_ns {
                let pending = self.in_flight.swap_remove(i);
                self.stats.timeouts += 1;
                self.arrivals += 1;
                let Ticket { id, operation, .. } = pending.ticket;
                // The answer may still come: keep its id out of use.
                if self.late.len() >= RING_SLOTS as usize {
                    // Release the oldest (its answer is the least likely
                    // to come); the order must survive (no swap_remove).
                    self.late.remove(0);
                }
                self.late.push((id, operation));
                if !pending.abandoned {
                    self.completed.push(Completion {
                        ticket: pending.ticket,
                        result: Err(SndError::Timeout { operation }),
                    });
                }
            } else {
                i += 1;
            }
        }
        self.next_deadline_ns = self
            .in_flight
            .iter()
            .map(|p| p.deadline_ns)
            .min()
            .unwrap_or(u64::MAX);
    }

    /// Claim the completion of `ticket`, if it has completed.
    #[inline]
    pub fn take_completion(&mut self, ticket: Ticket) -> Option<Completion> {
        let index = self.completed.iter().position(|c| c.ticket == ticket)?;
        Some(self.completed.swap_remove(index))
    }

    /// Claim the completion of `ticket` for its outcome only (a WRITE or
    /// READ: the payload means nothing), without moving the payload out.
    #[inline]
    pub fn take_outcome(&mut self, ticket: Ticket) -> Option<Result<(), SndError>> {
        let index = self.completed.iter().position(|c| c.ticket == ticket)?;
        let outcome = match &self.completed[index].result {
            Ok(_) => Ok(()),
            Err(error) => Err(*error),
        };
        // Mostly the only one: dropping the last is cheaper than moving it.
        if index + 1 == self.completed.len() {
            self.completed.pop();
        } else {
            self.completed.swap_remove(index);
        }
        Some(outcome)
    }

    /// Claim the oldest completion of any request.
    pub fn take_any_completion(&mut self) -> Option<Completion> {
        if self.completed.is_empty() {
            None
        } else {
            Some(self.completed.remove(0))
        }
    }

    /// Earliest deadline of the requests in flight.
    pub fn next_deadline(&self) -> Option<u64> {
        self.in_flight.iter().map(|p| p.deadline_ns).min()
    }

    /// Block until the request of `ticket` completes (or times out: at its
    /// deadline, one request timeout after it was submitted), the backend
    /// leaves Connected or the domain is shutting down. On every error but
    /// its own completion the request is forgotten ([`Channel::forget`]).
    pub fn wait_for(&mut self, xen: &mut X, ticket: Ticket) -> Result<[u8; 56], SndError> {
        let result = self.wait_for_inner(xen, ticket);
        if result.is_err() {
            self.forget(ticket);
        }
        result
    }

    /// A wait for responses begins: a round trip if requests were sent
    /// since the last one.
    fn note_wait(&mut self) {
        if self.sent_since_wait {
            self.sent_since_wait = false;
            self.stats.round_trips += 1;
            if let Some(watch) = &self.watch {
                watch.note(false, 0, 1);
            }
        }
    }

    fn wait_for_inner(&mut self, xen: &mut X, ticket: Ticket) -> Result<[u8; 56], SndError> {
        self.note_wait();
        loop {
            let poll = self.poll(xen);
            if let Some(done) = self.take_completion(ticket) {
                return done.result;
            }
            poll?;
            if self.arm_response_notification(xen)? {
                continue;
            }
            let deadline = self
                .next_deadline()
                .unwrap_or_else(|| xen.now_ns().saturating_add(self.timeout_ns));
            self.block(xen, deadline)?;
        }
    }

    /// Submit a request and wait for its answer (waiting for a free slot
    /// first if the ring is full). Returns within one request timeout of
    /// the call (the request times out at the call's start plus the
    /// timeout), plus the XenStore reads that follow a XenStore event.
    pub fn call(
        &mut self,
        xen: &mut X,
        operation: u8,
        payload: &[u8],
    ) -> Result<[u8; 56], SndError> {
        let give_up = xen.now_ns().saturating_add(self.timeout_ns);
        let ticket = loop {
            match self.submit_until(xen, operation, payload, give_up) {
                Err(SndError::Busy) => {
                    self.poll(xen)?;
                    if xen.now_ns() >= give_up {
                        return Err(SndError::Timeout { operation });
                    }
                    if self.arm_response_notification(xen)? {
                        continue;
                    }
                    let deadline = self.next_deadline().unwrap_or(give_up).min(give_up);
                    self.block(xen, deadline)?;
                }
                other => break other?,
            }
        };
        self.wait_for(xen, ticket)
    }

    /// Close the event channels and revoke the grants. Pages the backend
    /// still maps come back and must not be reused.
    pub fn close(self, xen: &mut X) -> Leftovers<X> {
        xen.close(self.ring_port);
        xen.close(self.events_port);
        let mut stuck = Vec::new();
        let ring_page = self.ring.into_page();
        if xen.revoke(self.ring_gref).is_err() {
            stuck.push(Granted {
                page: ring_page,
                gref: self.ring_gref,
            });
        }
        let events_page = self.events.into_page();
        if xen.revoke(self.events_gref).is_err() {
            stuck.push(Granted {
                page: events_page,
                gref: self.events_gref,
            });
        }
        stuck
    }
}
