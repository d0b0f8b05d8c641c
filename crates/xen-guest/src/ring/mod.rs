//! The generic Xen shared ring (`io/ring.h`), both halves, and the sndif
//! event page (`io/sndif.h`, "Back to front events delivery").
//!
//! The page is shared with another domain that can write it at any time, so
//! both halves keep their own (private) producer and consumer indices, read
//! the peer's index once per call into a local, validate it against what is
//! possible, and copy each slot out before anyone looks at it. Nothing a peer
//! writes can make these types index outside the page or panic.
//!
//! The method names follow the `ring.h` macros they implement
//! (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`, `RING_FINAL_CHECK_FOR_RESPONSES`, ...).
#![forbid(unsafe_code)]

use crate::{barrier, SharedPage, PAGE_SIZE};
use xen_abi::ring::{
    ring_size, SRING_ENTRIES_OFFSET, SRING_REQ_EVENT, SRING_REQ_PROD, SRING_RSP_EVENT,
    SRING_RSP_PROD,
};
use xen_abi::sndif::{
    XENSND_EVENT_PAGE_IN_CONS, XENSND_EVENT_PAGE_IN_PROD, XENSND_IN_RING_LEN, XENSND_IN_RING_OFFS,
};

/// Size in bytes of one sndif ring entry (request, response or event).
pub const ENTRY_SIZE: usize = 64;

/// One ring entry, copied out of (or into) the shared page.
pub type Entry = [u8; ENTRY_SIZE];

/// Slots in a one-page ring of 64-byte entries (`__CONST_RING_SIZE`): 32.
pub const RING_SLOTS: u32 = ring_size(PAGE_SIZE, ENTRY_SIZE);

/// What went wrong with a shared ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingError {
    /// The peer published a producer index that claims more entries than it
    /// could have produced. The ring is unusable: tear it down.
    BadProducer {
        /// The producer index the peer wrote.
        producer: u32,
        /// Our consumer index.
        consumer: u32,
    },
    /// No free slot (our own bookkeeping; not the peer's fault).
    Full,
    /// A response was pushed with no request left to answer.
    NothingToAnswer,
}

fn slot_offset(index: u32) -> usize {
    SRING_ENTRIES_OFFSET + (index & (RING_SLOTS - 1)) as usize * ENTRY_SIZE
}

/// `old` and `new` are the producer before and after a push; `event` is the
/// consumer's `*_event`. True when the consumer asked to be woken for an
/// index in `(old, new]` (the `RING_PUSH_*_AND_CHECK_NOTIFY` test).
fn needs_notify(old: u32, new: u32, event: u32) -> bool {
    new.wrapping_sub(event) < new.wrapping_sub(old)
}

/// The frontend half of a ring: produces requests, consumes responses.
#[derive(Debug)]
pub struct FrontRing<P: SharedPage> {
    page: P,
    /// `req_prod_pvt`: requests written but maybe not yet published.
    request_producer: u32,
    /// The `req_prod` we last published (never read back from the page).
    request_published: u32,
    /// `rsp_cons`.
    response_consumer: u32,
}

impl<P: SharedPage> FrontRing<P> {
    /// `SHARED_RING_INIT` + `FRONT_RING_INIT`: take a page we own and zero,
    /// set producers to 0 and both event thresholds to 1.
    pub fn init(page: P) -> Self {
        page.write(0, &[0u8; PAGE_SIZE]);
        page.store_u32(SRING_REQ_EVENT, 1);
        page.store_u32(SRING_RSP_EVENT, 1);
        Self::with_indices(page, 0)
    }

    /// Like [`FrontRing::init`] but starting every index at `start`
    /// (tests use it to cross the 2^32 wrap-around).
    pub fn init_at(page: P, start: u32) -> Self {
        page.write(0, &[0u8; PAGE_SIZE]);
        page.store_u32(SRING_REQ_PROD, start);
        page.store_u32(SRING_RSP_PROD, start);
        page.store_u32(SRING_REQ_EVENT, start.wrapping_add(1));
        page.store_u32(SRING_RSP_EVENT, start.wrapping_add(1));
        Self::with_indices(page, start)
    }

    fn with_indices(page: P, start: u32) -> Self {
        Self {
            page,
            request_producer: start,
            request_published: start,
            response_consumer: start,
        }
    }

    /// The ring page.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Give the page back (after the peer can no longer use it).
    pub fn into_page(self) -> P {
        self.page
    }

    /// Requests written and not yet answered (published or not).
    #[inline]
    pub fn in_flight(&self) -> u32 {
        self.request_producer.wrapping_sub(self.response_consumer)
    }

    /// `RING_FREE_REQUESTS`.
    #[inline]
    pub fn free_requests(&self) -> u32 {
        RING_SLOTS - self.in_flight()
    }

    /// Write a request into the next private slot (`RING_GET_REQUEST` + `req_prod_pvt++`).
    /// It becomes visible to the backend at the next
    /// [`FrontRing::push_requests_and_check_notify`].
    pub fn push_request(&mut self, request: &Entry) -> Result<(), RingError> {
        if self.free_requests() == 0 {
            return Err(RingError::Full);
        }
        self.page.write(slot_offset(self.request_producer), request);
        self.request_producer = self.request_producer.wrapping_add(1);
        Ok(())
    }

    /// `RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`: publish private requests; true
    /// when the backend asked to be notified.
    pub fn push_requests_and_check_notify(&mut self) -> bool {
        let old = self.request_published;
        let new = self.request_producer;
        if old == new {
            return false;
        }
        // Order: the request slots must be visible before the new req_prod.
        barrier::wmb();
        self.page.store_u32(SRING_REQ_PROD, new);
        self.request_published = new;
        // Order: req_prod must be visible before we read req_event, or the
        // backend may set req_event after our read and never be woken.
        barrier::mb();
        let event = self.page.load_u32(SRING_REQ_EVENT);
        needs_notify(old, new, event)
    }

    /// Responses available, after validating the backend's `rsp_prod`
    /// (read once) against the requests we actually published.
    #[inline]
    fn unconsumed_responses(&self) -> Result<u32, RingError> {
        let producer = self.page.load_u32(SRING_RSP_PROD);
        let available = producer.wrapping_sub(self.response_consumer);
        let outstanding = self.request_published.wrapping_sub(self.response_consumer);
        if available > outstanding {
            return Err(RingError::BadProducer {
                producer,
                consumer: self.response_consumer,
            });
        }
        Ok(available)
    }

    /// Whether the backend's `rsp_prod` (one read) differs from our
    /// consumer: responses to take, or a bad producer that
    /// [`FrontRing::take_response`] reports.
    #[inline]
    pub fn has_unconsumed_responses(&self) -> bool {
        self.page.load_u32(SRING_RSP_PROD) != self.response_consumer
    }

    /// Copy the next response out of the ring (`RING_GET_RESPONSE` +
    /// `rsp_cons++`), or `None` when there is none.
    pub fn take_response(&mut self) -> Result<Option<Entry>, RingError> {
        if self.unconsumed_responses()? == 0 {
            return Ok(None);
        }
        // Order: read rsp_prod before the slot contents it covers.
        barrier::rmb();
        let mut entry = [0u8; ENTRY_SIZE];
        self.page
            .read(slot_offset(self.response_consumer), &mut entry);
        self.response_consumer = self.response_consumer.wrapping_add(1);
        Ok(Some(entry))
    }

    /// `RING_FINAL_CHECK_FOR_RESPONSES`: true when responses are waiting;
    /// otherwise re-arm `rsp_event` and check once more to close the race
    /// with a backend that produced meanwhile.
    pub fn final_check_for_responses(&mut self) -> Result<bool, RingError> {
        if self.unconsumed_responses()? > 0 {
            return Ok(true);
        }
        self.page
            .store_u32(SRING_RSP_EVENT, self.response_consumer.wrapping_add(1));
        // Order: rsp_event must be visible before we re-read rsp_prod.
        barrier::mb();
        Ok(self.unconsumed_responses()? > 0)
    }
}

/// The backend half of a ring: consumes requests, produces responses.
#[derive(Debug)]
pub struct BackRing<P: SharedPage> {
    page: P,
    /// `req_cons`.
    request_consumer: u32,
    /// `rsp_prod_pvt`.
    response_producer: u32,
    /// The `rsp_prod` we last published.
    response_published: u32,
}

impl<P: SharedPage> BackRing<P> {
    /// `BACK_RING_INIT` on a page the frontend initialised (indices at 0).
    pub fn attach(page: P) -> Self {
        Self::attach_at(page, 0)
    }

    /// `BACK_RING_ATTACH` with a starting index (tests cross 2^32 with it).
    pub fn attach_at(page: P, start: u32) -> Self {
        Self {
            page,
            request_consumer: start,
            response_producer: start,
            response_published: start,
        }
    }

    /// The ring page.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Give the page back.
    pub fn into_page(self) -> P {
        self.page
    }

    /// `RING_UNCONSUMED_REQUESTS` with the frontend's `req_prod` read once and
    /// validated: it may not claim more than a ring's worth beyond our
    /// consumer (`RING_REQUEST_PROD_OVERFLOW`).
    fn unconsumed_requests(&self) -> Result<u32, RingError> {
        let producer = self.page.load_u32(SRING_REQ_PROD);
        let available = producer.wrapping_sub(self.request_consumer);
        if available > RING_SLOTS {
            return Err(RingError::BadProducer {
                producer,
                consumer: self.request_consumer,
            });
        }
        // Slots we consumed but have not answered yet cannot hold new requests.
        let unanswered = self.request_consumer.wrapping_sub(self.response_producer);
        Ok(available.min(RING_SLOTS - unanswered))
    }

    /// Copy the next request out of the ring, or `None`.
    pub fn take_request(&mut self) -> Result<Option<Entry>, RingError> {
        if self.unconsumed_requests()? == 0 {
            return Ok(None);
        }
        // Order: read req_prod before the slot contents it covers.
        barrier::rmb();
        let mut entry = [0u8; ENTRY_SIZE];
        self.page
            .read(slot_offset(self.request_consumer), &mut entry);
        self.request_consumer = self.request_consumer.wrapping_add(1);
        Ok(Some(entry))
    }

    /// Write a response into the next private slot. Each response answers
    /// one consumed request; a response with none left is refused.
    pub fn push_response(&mut self, response: &Entry) -> Result<(), RingError> {
        if self.response_producer == self.request_consumer {
            return Err(RingError::NothingToAnswer);
        }
        self.page
            .write(slot_offset(self.response_producer), response);
        self.response_producer = self.response_producer.wrapping_add(1);
        Ok(())
    }

    /// `RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`.
    pub fn push_responses_and_check_notify(&mut self) -> bool {
        let old = self.response_published;
        let new = self.response_producer;
        if old == new {
            return false;
        }
        // Order: response slots before rsp_prod.
        barrier::wmb();
        self.page.store_u32(SRING_RSP_PROD, new);
        self.response_published = new;
        // Order: rsp_prod before reading rsp_event.
        barrier::mb();
        let event = self.page.load_u32(SRING_RSP_EVENT);
        needs_notify(old, new, event)
    }

    /// `RING_FINAL_CHECK_FOR_REQUESTS`.
    pub fn final_check_for_requests(&mut self) -> Result<bool, RingError> {
        if self.unconsumed_requests()? > 0 {
            return Ok(true);
        }
        self.page
            .store_u32(SRING_REQ_EVENT, self.request_consumer.wrapping_add(1));
        // Order: req_event before re-reading req_prod.
        barrier::mb();
        Ok(self.unconsumed_requests()? > 0)
    }
}

/// Slots in the event page's ring (63: indices are taken modulo, not masked).
pub const EVENT_SLOTS: u32 = XENSND_IN_RING_LEN as u32;

fn event_offset(index: u32) -> usize {
    XENSND_IN_RING_OFFS + (index % EVENT_SLOTS) as usize * ENTRY_SIZE
}

/// Events lost because the backend ran more than a ring ahead of us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventOverrun {
    /// The backend's `in_prod`.
    pub producer: u32,
    /// Our `in_cons` before resynchronising.
    pub consumer: u32,
}

/// The frontend (consumer) side of the sndif event page.
#[derive(Debug)]
pub struct EventConsumer<P: SharedPage> {
    page: P,
    consumer: u32,
}

impl<P: SharedPage> EventConsumer<P> {
    /// Take a page we own, zero it (`in_cons = in_prod = 0`).
    pub fn init(page: P) -> Self {
        page.write(0, &[0u8; PAGE_SIZE]);
        Self { page, consumer: 0 }
    }

    /// The event page.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Give the page back.
    pub fn into_page(self) -> P {
        self.page
    }

    /// Whether the backend published an event we have not taken (one read
    /// of `in_prod`; [`EventConsumer::take_event`] validates it).
    #[inline]
    pub fn has_events(&self) -> bool {
        self.page.load_u32(XENSND_EVENT_PAGE_IN_PROD) != self.consumer
    }

    /// Copy out the next event, or `None`. When the backend's `in_prod` is
    /// more than a ring ahead (it overwrote events we never saw) or behind
    /// us, we skip to its producer and report the overrun; the caller
    /// resynchronises from the next event.
    pub fn take_event(&mut self) -> Result<Option<Entry>, EventOverrun> {
        let producer = self.page.load_u32(XENSND_EVENT_PAGE_IN_PROD);
        let available = producer.wrapping_sub(self.consumer);
        if available == 0 {
            return Ok(None);
        }
        if available > EVENT_SLOTS {
            let consumer = self.consumer;
            self.consumer = producer;
            self.publish_consumer();
            return Err(EventOverrun { producer, consumer });
        }
        // Order: read in_prod before the event it covers.
        barrier::rmb();
        let mut entry = [0u8; ENTRY_SIZE];
        self.page.read(event_offset(self.consumer), &mut entry);
        self.consumer = self.consumer.wrapping_add(1);
        self.publish_consumer();
        Ok(Some(entry))
    }

    #[inline]
    fn publish_consumer(&mut self) {
        // Order: finish reading the slot before handing it back.
        barrier::mb();
        self.page
            .store_u32(XENSND_EVENT_PAGE_IN_CONS, self.consumer);
    }
}

/// The backend (producer) side of the sndif event page.
#[derive(Debug)]
pub struct EventProducer<P: SharedPage> {
    page: P,
    producer: u32,
}

impl<P: SharedPage> EventProducer<P> {
    /// Attach to a page the frontend initialised.
    pub fn attach(page: P) -> Self {
        Self { page, producer: 0 }
    }

    /// The event page.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Give the page back.
    pub fn into_page(self) -> P {
        self.page
    }

    /// Write an event and publish it. Refuses ([`RingError::Full`]) when
    /// the frontend has not consumed a ring's worth, or wrote an `in_cons`
    /// that makes no sense; the caller counts the drop. The caller notifies
    /// the event channel after a successful push.
    pub fn push_event(&mut self, event: &Entry) -> Result<(), RingError> {
        let consumer = self.page.load_u32(XENSND_EVENT_PAGE_IN_CONS);
        if self.producer.wrapping_sub(consumer) >= EVENT_SLOTS {
            return Err(RingError::Full);
        }
        self.page.write(event_offset(self.producer), event);
        // Order: the event before the producer index that covers it.
        barrier::wmb();
        self.producer = self.producer.wrapping_add(1);
        self.page
            .store_u32(XENSND_EVENT_PAGE_IN_PROD, self.producer);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
