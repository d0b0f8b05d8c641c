//! Ring tests: both halves over one plain-memory page, plus a hostile peer
//! writing indices directly.
use super::*;
use alloc::rc::Rc;
use core::cell::RefCell;
use std::vec::Vec;
use xen_abi::sndif::XENSND_EVENT_PAGE_IN_PROD;

/// A page in host memory; clones share the bytes (both "domains" see it).
#[derive(Clone)]
struct TestPage(Rc<RefCell<Vec<u8>>>);

impl TestPage {
    fn new() -> Self {
        Self(Rc::new(RefCell::new(std::vec![0xa5; PAGE_SIZE])))
    }
}

impl SharedPage for TestPage {
    fn gfn(&self) -> u64 {
        0
    }
    fn load_u32(&self, offset: usize) -> u32 {
        let b = self.0.borrow();
        u32::from_le_bytes(b[offset..offset + 4].try_into().unwrap())
    }
    fn store_u32(&self, offset: usize, value: u32) {
        self.0.borrow_mut()[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }
    fn read(&self, offset: usize, out: &mut [u8]) {
        out.copy_from_slice(&self.0.borrow()[offset..offset + out.len()]);
    }
    fn write(&self, offset: usize, data: &[u8]) {
        self.0.borrow_mut()[offset..offset + data.len()].copy_from_slice(data);
    }
}

fn entry(tag: u32) -> Entry {
    let mut e = [0u8; ENTRY_SIZE];
    e[..4].copy_from_slice(&tag.to_le_bytes());
    e[60..].copy_from_slice(&(!tag).to_le_bytes());
    e
}

fn tag(e: &Entry) -> u32 {
    let t = u32::from_le_bytes(e[..4].try_into().unwrap());
    assert_eq!(
        u32::from_le_bytes(e[60..].try_into().unwrap()),
        !t,
        "torn entry"
    );
    t
}

#[test]
fn sndif_ring_has_32_slots_and_63_event_slots() {
    assert_eq!(RING_SLOTS, 32);
    assert_eq!(EVENT_SLOTS, 63);
}

#[test]
fn init_writes_the_shared_ring_header() {
    let page = TestPage::new();
    let _front = FrontRing::init(page.clone());
    assert_eq!(page.load_u32(SRING_REQ_PROD), 0);
    assert_eq!(page.load_u32(SRING_RSP_PROD), 0);
    assert_eq!(page.load_u32(SRING_REQ_EVENT), 1);
    assert_eq!(page.load_u32(SRING_RSP_EVENT), 1);
}

fn round_trip(start: u32, rounds: u32) {
    let page = TestPage::new();
    let mut front = FrontRing::init_at(page.clone(), start);
    let mut back = BackRing::attach_at(page, start);
    let mut next = 0u32;
    let mut answered = 0u32;
    for round in 0..rounds {
        // A varying batch size exercises every slot position.
        let batch = 1 + round % RING_SLOTS;
        for _ in 0..batch {
            front.push_request(&entry(next)).unwrap();
            next += 1;
        }
        front.push_requests_and_check_notify();
        while let Some(req) = back.take_request().unwrap() {
            let mut rsp = req;
            rsp[4] = 0x77;
            back.push_response(&rsp).unwrap();
        }
        back.push_responses_and_check_notify();
        while let Some(rsp) = front.take_response().unwrap() {
            assert_eq!(tag(&rsp), answered);
            assert_eq!(rsp[4], 0x77);
            answered += 1;
        }
        assert_eq!(front.in_flight(), 0);
    }
    assert_eq!(answered, next);
}

#[test]
fn requests_and_responses_round_trip_in_order() {
    round_trip(0, 100);
}

#[test]
fn indices_wrap_around_2_pow_32() {
    round_trip(u32::MAX - 40, 100);
}

#[test]
fn a_full_ring_refuses_more_requests() {
    let page = TestPage::new();
    let mut front = FrontRing::init(page);
    for i in 0..RING_SLOTS {
        front.push_request(&entry(i)).unwrap();
    }
    assert_eq!(front.free_requests(), 0);
    assert_eq!(front.push_request(&entry(99)), Err(RingError::Full));
}

#[test]
fn notification_follows_the_peers_event_threshold() {
    let page = TestPage::new();
    let mut front = FrontRing::init(page.clone());
    let mut back = BackRing::attach(page.clone());
    // req_event = 1: the first request must notify.
    front.push_request(&entry(0)).unwrap();
    assert!(front.push_requests_and_check_notify());
    // The backend has not re-armed (req_event still 1): no notification for the second.
    front.push_request(&entry(1)).unwrap();
    assert!(!front.push_requests_and_check_notify());
    // The backend drains and re-arms: the next push notifies again.
    while back.take_request().unwrap().is_some() {}
    assert!(!back.final_check_for_requests().unwrap());
    front.push_request(&entry(2)).unwrap();
    assert!(front.push_requests_and_check_notify());
    // Nothing to publish: no notification.
    assert!(!front.push_requests_and_check_notify());
}

#[test]
fn final_check_sees_a_response_produced_before_rearming() {
    let page = TestPage::new();
    let mut front = FrontRing::init(page.clone());
    let mut back = BackRing::attach(page);
    front.push_request(&entry(5)).unwrap();
    front.push_requests_and_check_notify();
    assert!(!front.final_check_for_responses().unwrap());
    let req = back.take_request().unwrap().unwrap();
    back.push_response(&req).unwrap();
    // rsp_event was re-armed by the final check, so the backend notifies.
    assert!(back.push_responses_and_check_notify());
    assert!(front.final_check_for_responses().unwrap());
    assert_eq!(tag(&front.take_response().unwrap().unwrap()), 5);
}

#[test]
fn hostile_rsp_prod_beyond_outstanding_requests_is_rejected() {
    let page = TestPage::new();
    let mut front = FrontRing::init(page.clone());
    front.push_request(&entry(1)).unwrap();
    front.push_requests_and_check_notify();
    // One request outstanding; the backend claims two responses.
    page.store_u32(SRING_RSP_PROD, 2);
    assert_eq!(
        front.take_response(),
        Err(RingError::BadProducer {
            producer: 2,
            consumer: 0
        })
    );
    // Going backwards is just as impossible.
    page.store_u32(SRING_RSP_PROD, u32::MAX);
    assert!(front.take_response().is_err());
    assert!(front.final_check_for_responses().is_err());
}

#[test]
fn unpublished_requests_cannot_be_answered() {
    let page = TestPage::new();
    let mut front = FrontRing::init(page.clone());
    front.push_request(&entry(1)).unwrap();
    // Written but not published: a response for it is bogus.
    page.store_u32(SRING_RSP_PROD, 1);
    assert!(front.take_response().is_err());
}

#[test]
fn hostile_req_prod_beyond_a_ring_is_rejected() {
    let page = TestPage::new();
    let _front = FrontRing::init(page.clone());
    let mut back = BackRing::attach(page.clone());
    page.store_u32(SRING_REQ_PROD, RING_SLOTS + 1);
    assert!(matches!(
        back.take_request(),
        Err(RingError::BadProducer { .. })
    ));
    page.store_u32(SRING_REQ_PROD, u32::MAX);
    assert!(back.take_request().is_err());
    assert!(back.final_check_for_requests().is_err());
}

#[test]
fn backend_does_not_consume_slots_it_has_not_answered() {
    let page = TestPage::new();
    let mut front = FrontRing::init(page.clone());
    let mut back = BackRing::attach(page.clone());
    for i in 0..RING_SLOTS {
        front.push_request(&entry(i)).unwrap();
    }
    front.push_requests_and_check_notify();
    for _ in 0..RING_SLOTS {
        back.take_request().unwrap().unwrap();
    }
    // A lying frontend pushes req_prod another ring ahead: the slots are
    // still unanswered, so nothing more may be read.
    page.store_u32(SRING_REQ_PROD, 2 * RING_SLOTS);
    assert_eq!(back.take_request(), Ok(None));
    assert_eq!(back.push_response(&entry(0)), Ok(()));
    assert_eq!(
        back.push_response(&entry(0)).map(|_| ()),
        Ok(()),
        "second answer for the second request"
    );
}

#[test]
fn backend_refuses_responses_without_requests() {
    let page = TestPage::new();
    let _front = FrontRing::init(page.clone());
    let mut back = BackRing::attach(page);
    assert_eq!(
        back.push_response(&entry(0)),
        Err(RingError::NothingToAnswer)
    );
}

#[test]
fn events_flow_and_wrap_modulo_63() {
    let page = TestPage::new();
    let mut consumer = EventConsumer::init(page.clone());
    let mut producer = EventProducer::attach(page.clone());
    let mut next = 0;
    for round in 0..40u32 {
        let batch = 1 + round % EVENT_SLOTS;
        for _ in 0..batch {
            producer.push_event(&entry(next)).unwrap();
            next += 1;
        }
        let mut seen = Vec::new();
        while let Some(e) = consumer.take_event().unwrap() {
            seen.push(tag(&e));
        }
        assert_eq!(seen.len() as u32, batch);
        assert_eq!(*seen.last().unwrap(), next - 1);
    }
    assert_eq!(page.load_u32(XENSND_EVENT_PAGE_IN_CONS), next);
}

#[test]
fn event_producer_stops_at_a_full_page() {
    let page = TestPage::new();
    let _consumer = EventConsumer::init(page.clone());
    let mut producer = EventProducer::attach(page);
    for i in 0..EVENT_SLOTS {
        producer.push_event(&entry(i)).unwrap();
    }
    assert_eq!(producer.push_event(&entry(63)), Err(RingError::Full));
}

#[test]
fn event_overrun_resynchronises_to_the_producer() {
    let page = TestPage::new();
    let mut consumer = EventConsumer::init(page.clone());
    page.store_u32(XENSND_EVENT_PAGE_IN_PROD, 1000);
    assert_eq!(
        consumer.take_event(),
        Err(EventOverrun {
            producer: 1000,
            consumer: 0
        })
    );
    assert_eq!(consumer.take_event(), Ok(None));
    assert_eq!(page.load_u32(XENSND_EVENT_PAGE_IN_CONS), 1000);
    // An in_prod behind us (going backwards) is also an overrun, not a panic.
    page.store_u32(XENSND_EVENT_PAGE_IN_PROD, 10);
    assert!(consumer.take_event().is_err());
}
