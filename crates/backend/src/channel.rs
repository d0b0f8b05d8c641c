//! One stream as a host serves it: request ring + event page + engine.
//!
//! `io/sndif.h`, "Request/response ring" and "Back to front events
//! delivery": requests arrive on the ring (notified on `event-channel`),
//! responses go back on it, CUR_POS events go to the event page (notified
//! on `evt-event-channel`). The host calls [`StreamChannel::service`] when
//! the ring's channel fires and when the deadline it returned passes, and
//! sends the notifications the result asks for.
#![forbid(unsafe_code)]

use super::buffer::GrantMapper;
use super::stream::Stream;
use xen_guest::ring::{BackRing, EventProducer, RingError};
use xen_guest::SharedPage;

/// What the host must do after [`StreamChannel::service`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceResult {
    /// Notify the request ring's event channel (responses were published
    /// and the frontend asked to be told).
    pub notify_ring: bool,
    /// Notify the event page's event channel (an event was published).
    pub notify_events: bool,
    /// Call again at this time (host nanoseconds) for the next event.
    pub next_deadline_ns: Option<u64>,
}

/// Most requests served in one call before we let other streams run; the
/// rest are picked up by the next call (the result asks for it at once).
pub const REQUESTS_PER_SERVICE: usize = 64;

/// A stream's ring, event page and engine.
pub struct StreamChannel<P: SharedPage> {
    ring: BackRing<P>,
    events: EventProducer<P>,
    stream: Stream<P>,
    broken: bool,
}

impl<P: SharedPage> core::fmt::Debug for StreamChannel<P> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("StreamChannel")
            .field("stream", &self.stream)
            .field("broken", &self.broken)
            .finish()
    }
}

impl<P: SharedPage> StreamChannel<P> {
    /// Attach to a ring page and an event page the frontend initialised.
    pub fn new(ring_page: P, event_page: P, stream: Stream<P>) -> Self {
        Self {
            ring: BackRing::attach(ring_page),
            events: EventProducer::attach(event_page),
            stream,
            broken: false,
        }
    }

    /// The engine.
    pub fn stream(&self) -> &Stream<P> {
        &self.stream
    }

    /// The engine, mutably.
    pub fn stream_mut(&mut self) -> &mut Stream<P> {
        &mut self.stream
    }

    /// Whether the frontend corrupted the ring (a producer index beyond
    /// what it could have produced). A broken channel serves nothing more;
    /// the host should tear the device down.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Count a notification received on the ring's event channel.
    pub fn note_notification(&mut self) {
        self.stream.counters_mut().notifications_in += 1;
    }

    /// Serve every pending request, then publish due events.
    pub fn service<M: GrantMapper<Page = P>>(
        &mut self,
        mapper: &mut M,
        now_ns: u64,
    ) -> ServiceResult {
        let mut result = ServiceResult::default();
        if self.broken {
            return result;
        }
        match self.serve_requests(mapper, now_ns) {
            Ok((notify, more)) => {
                result.notify_ring = notify;
                if more {
                    result.next_deadline_ns = Some(now_ns);
                }
            }
            Err(error) => {
                log::error!(
                    "{}: request ring corrupted ({error:?}); no more requests served",
                    self.stream.label()
                );
                self.broken = true;
                return result;
            }
        }
        result.notify_events = self.publish_events(now_ns);
        if result.notify_ring {
            self.stream.counters_mut().notifications_out += 1;
        }
        if result.notify_events {
            self.stream.counters_mut().event_notifications_out += 1;
        }
        let next = self.stream.next_event_ns();
        result.next_deadline_ns = match (result.next_deadline_ns, next) {
            (Some(left), Some(right)) => Some(left.min(right)),
            (left, right) => left.or(right),
        };
        result
    }

    /// Returns (notify, more requests left).
    fn serve_requests<M: GrantMapper<Page = P>>(
        &mut self,
        mapper: &mut M,
        now_ns: u64,
    ) -> Result<(bool, bool), RingError> {
        let mut served = 0;
        let result = self.serve_pass(mapper, now_ns, &mut served);
        if served > 0 {
            self.stream.counters_mut().count_batch();
        }
        result
    }

    /// One service pass; `served` counts the requests it took.
    fn serve_pass<M: GrantMapper<Page = P>>(
        &mut self,
        mapper: &mut M,
        now_ns: u64,
        served: &mut usize,
    ) -> Result<(bool, bool), RingError> {
        let mut notify = false;
        loop {
            while let Some(request) = self.ring.take_request()? {
                let response = self.stream.handle(&request, mapper, now_ns);
                self.ring.push_response(&response)?;
                *served += 1;
                if *served >= REQUESTS_PER_SERVICE {
                    notify |= self.ring.push_responses_and_check_notify();
                    return Ok((notify, true));
                }
            }
            notify |= self.ring.push_responses_and_check_notify();
            if !self.ring.final_check_for_requests()? {
                return Ok((notify, false));
            }
        }
    }

    /// Publish the due CUR_POS event, if any. Returns whether to notify.
    pub fn publish_events(&mut self, now_ns: u64) -> bool {
        let Some(event) = self.stream.due_event(now_ns) else {
            return false;
        };
        match self.events.push_event(&event) {
            Ok(()) => {
                self.stream.event_published();
                self.stream.counters_mut().answer.event_sent(now_ns);
                true
            }
            Err(_) => {
                self.stream.event_dropped();
                log::debug!("{}: event page full; CUR_POS dropped", self.stream.label());
                false
            }
        }
    }

    /// Close the stream (teardown) and give the pages back.
    pub fn into_pages(mut self) -> (P, P, Stream<P>) {
        if let Err(error) = self.stream.close() {
            log::warn!("{}: close at teardown: {error}", self.stream.label());
        }
        self.stream.report_suppressed();
        (self.ring.into_page(), self.events.into_page(), self.stream)
    }
}
