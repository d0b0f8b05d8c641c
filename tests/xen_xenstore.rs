//! XenStore client against the simulated xenstored, over the real ring
//! protocol.

use std::cell::Cell;
use std::rc::Rc;

use xen_guest::xenstore::{
    Errno, MessageType, TxId, XenStore, XsError, MAX_TRANSACTION_ATTEMPTS, REQ_PROD, RSP_CONS,
    RSP_OFFSET, RSP_PROD,
};
use xen_guest::{Clock, SharedPage};
use xensnd_sim::{GuestConfig, SimCore, SimGuest, SimPeer, SimXen};

const DOMID: u16 = 5;

fn setup() -> (SimXen, SimGuest, XenStore<xensnd_sim::SimPage>) {
    let sim = SimXen::new();
    let guest = sim.add_guest(DOMID);
    let store = guest.xenstore().expect("fresh ring");
    (sim, guest, store)
}

/// A peer that runs `action` once when simulated time reaches `at_ns`.
struct AtTime<F: FnMut(&mut SimCore)> {
    at_ns: u64,
    action: Option<F>,
}

impl<F: FnMut(&mut SimCore)> SimPeer for AtTime<F> {
    fn step(&mut self, core: &mut SimCore) -> bool {
        if core.now_ns() >= self.at_ns {
            if let Some(mut action) = self.action.take() {
                action(core);
                return true;
            }
        }
        false
    }

    fn next_deadline(&self) -> Option<u64> {
        self.action.as_ref().map(|_| self.at_ns)
    }
}

fn at_time<F: FnMut(&mut SimCore) + 'static>(at_ns: u64, action: F) -> Box<dyn SimPeer> {
    Box::new(AtTime {
        at_ns,
        action: Some(action),
    })
}

#[test]
fn read_write_directory_mkdir_rm() {
    let (sim, mut guest, mut store) = setup();
    let env = &mut guest;
    store.write(env, "device/vsnd/0/state", b"1").unwrap();
    assert_eq!(store.read(env, "device/vsnd/0/state").unwrap(), b"1");
    // Relative paths resolve under /local/domain/5.
    assert_eq!(
        sim.store_read("/local/domain/5/device/vsnd/0/state")
            .unwrap(),
        b"1"
    );
    assert_eq!(
        store
            .read_string(env, "/local/domain/5/device/vsnd/0/state")
            .unwrap(),
        "1"
    );

    store.mkdir(env, "device/vsnd/0/0").unwrap();
    store.write(env, "device/vsnd/0/name", b"card").unwrap();
    let mut children = store.directory(env, "device/vsnd/0").unwrap();
    children.sort();
    assert_eq!(children, ["0", "name", "state"]);
    assert_eq!(store.read(env, "device/vsnd/0/0").unwrap(), b"");
    // mkdir of an existing node is fine and keeps its value.
    store.mkdir(env, "device/vsnd/0/name").unwrap();
    assert_eq!(store.read(env, "device/vsnd/0/name").unwrap(), b"card");

    store.rm(env, "device/vsnd/0").unwrap();
    assert_eq!(
        store.read(env, "device/vsnd/0/state"),
        Err(XsError::Store(Errno::NotFound))
    );
    assert_eq!(
        store.directory(env, "device/vsnd").unwrap(),
        Vec::<String>::new()
    );
    // rm of a missing node whose parent exists succeeds; deeper is ENOENT.
    store.rm(env, "device/vsnd/7").unwrap();
    assert_eq!(
        store.rm(env, "device/nothing/here"),
        Err(XsError::Store(Errno::NotFound))
    );

    assert_eq!(
        store.get_domain_path(env, DOMID).unwrap(),
        "/local/domain/5"
    );
    assert_eq!(store.get_domain_path(env, 0).unwrap(), "/local/domain/0");
    assert_eq!(store.in_flight(), 0);
}

#[test]
fn binary_values_and_empty_values_round_trip() {
    let (_sim, mut guest, mut store) = setup();
    let value: Vec<u8> = (0..=255u8).collect();
    store.write(&mut guest, "blob", &value).unwrap();
    assert_eq!(store.read(&mut guest, "blob").unwrap(), value);
    store.write(&mut guest, "empty", b"").unwrap();
    assert_eq!(store.read(&mut guest, "empty").unwrap(), b"");
}

#[test]
fn errors_are_typed() {
    let (sim, mut guest, mut store) = setup();
    let env = &mut guest;
    assert_eq!(
        store.read(env, "missing"),
        Err(XsError::Store(Errno::NotFound))
    );
    assert!(store.read(env, "missing").unwrap_err().is_not_found());
    assert_eq!(
        store.directory(env, "missing"),
        Err(XsError::Store(Errno::NotFound))
    );
    assert_eq!(
        store.unwatch(env, "x", "never"),
        Err(XsError::Store(Errno::NotFound))
    );
    store.watch(env, "x", "tok").unwrap();
    assert_eq!(
        store.watch(env, "x", "tok"),
        Err(XsError::Store(Errno::Exists))
    );
    assert_eq!(
        store.transaction_end(env, TxId(999), true),
        Err(XsError::Store(Errno::NotFound))
    );
    // Checked before anything is sent.
    let served = sim.store_requests_served();
    assert_eq!(store.read(env, ""), Err(XsError::InvalidPath));
    assert_eq!(store.read(env, "has space"), Err(XsError::InvalidPath));
    assert_eq!(store.read(env, "a//b"), Err(XsError::InvalidPath));
    assert_eq!(store.read(env, "trailing/"), Err(XsError::InvalidPath));
    assert_eq!(
        store.read(env, &"a".repeat(2049)),
        Err(XsError::InvalidPath)
    );
    assert_eq!(
        store.read(env, &format!("/{}", "a".repeat(3072))),
        Err(XsError::InvalidPath)
    );
    assert_eq!(
        store.write(env, "big", &[0u8; 4096]),
        Err(XsError::TooLarge)
    );
    assert_eq!(store.watch(env, "x", ""), Err(XsError::InvalidPath));
    assert_eq!(sim.store_requests_served(), served);
    // The longest payload that fits is accepted: "big\0" + 4092 bytes.
    store.write(env, "big", &[7u8; 4092]).unwrap();
    assert_eq!(store.read(env, "big").unwrap(), vec![7u8; 4092]);
}

#[test]
fn errno_strings_parse() {
    for (text, errno) in [
        ("ENOENT", Errno::NotFound),
        ("EAGAIN", Errno::Again),
        ("EACCES", Errno::AccessDenied),
        ("EINVAL", Errno::Invalid),
        ("EEXIST", Errno::Exists),
        ("EBUSY", Errno::Busy),
        ("ENOSPC", Errno::NoSpace),
        ("E2BIG", Errno::TooBig),
        ("EPERM", Errno::NotPermitted),
        ("EQUOTA", Errno::Unknown),
    ] {
        assert_eq!(Errno::parse(text.as_bytes()), errno, "{text}");
        assert_eq!(
            Errno::parse(format!("{text}\0").as_bytes()),
            errno,
            "{text} with NUL"
        );
        if errno != Errno::Unknown {
            assert_eq!(errno.as_str(), text);
        }
    }
}

#[test]
fn watch_fires_on_registration_and_on_changes_below() {
    let (sim, mut guest, mut store) = setup();
    let env = &mut guest;
    store.watch(env, "device", "dev").unwrap();
    store
        .watch(env, "/local/domain/5/control/shutdown", "abs")
        .unwrap();
    let deadline = env.now_ns() + 1_000_000_000;
    let first = store.wait_watch_event(env, "dev", deadline).unwrap();
    assert_eq!(first.path, "device");
    assert_eq!(
        store.wait_watch_event(env, "abs", deadline).unwrap().path,
        "/local/domain/5/control/shutdown"
    );

    sim.store_write("/local/domain/5/device/vsnd/0/state", b"2")
        .unwrap();
    let event = store.wait_watch_event(env, "dev", deadline).unwrap();
    // A relative watch reports relative paths; the parents created on the
    // way do not fire separately (as with C xenstored).
    assert_eq!(event.path, "device/vsnd/0/state");
    assert_eq!(
        store.wait_watch_event(env, "dev", env.now_ns()),
        Err(XsError::Timeout)
    );

    // Changes elsewhere do not fire; removing an ancestor does.
    sim.store_write("/local/domain/5/other", b"x").unwrap();
    sim.store_rm("/local/domain/5").unwrap();
    let event = store
        .wait_watch_event(env, "abs", env.now_ns() + 1000)
        .unwrap();
    assert_eq!(event.path, "/local/domain/5");
    assert!(store.take_watch_event("abs").is_none());

    store.unwatch(env, "device", "dev").unwrap();
    sim.store_write("/local/domain/5/device/x", b"1").unwrap();
    assert_eq!(
        store.wait_watch_event(env, "dev", env.now_ns() + 1000),
        Err(XsError::Timeout)
    );
}

#[test]
fn watch_events_interleaved_between_replies_are_queued_and_replies_matched() {
    let (sim, mut guest, mut store) = setup();
    let env = &mut guest;
    store.write(env, "a", b"A").unwrap();
    store.write(env, "b", b"B").unwrap();
    store.watch(env, "watched", "w").unwrap();
    sim.set_store_paused(DOMID, true);
    // Three requests in flight: read, write to the watched node (its event
    // comes between the replies), read.
    let first = store
        .submit(env, MessageType::Read, TxId::NONE, b"a\0")
        .unwrap();
    let second = store
        .submit(env, MessageType::Write, TxId::NONE, b"watched/node\0value")
        .unwrap();
    let third = store
        .submit(env, MessageType::Read, TxId::NONE, b"b\0")
        .unwrap();
    assert_eq!(store.in_flight(), 3);
    // The toolstack also writes meanwhile: its event lands before all replies.
    sim.store_write("/local/domain/5/watched/other", b"1")
        .unwrap();
    sim.set_store_paused(DOMID, false);

    // Wait in reverse order.
    assert_eq!(store.wait_reply(env, third).unwrap(), b"B");
    assert_eq!(store.wait_reply(env, second).unwrap(), b"OK\0");
    assert_eq!(store.wait_reply(env, first).unwrap(), b"A");
    assert_eq!(store.in_flight(), 0);

    let mut paths = Vec::new();
    store.dispatch_watch_events(|event| {
        assert_eq!(event.token, "w");
        paths.push(event.path.clone());
    });
    assert_eq!(paths, ["watched", "watched/other", "watched/node"]);
}

#[test]
fn events_for_several_tokens_are_dispatched_by_token() {
    let (sim, mut guest, mut store) = setup();
    let env = &mut guest;
    store.watch(env, "one", "t1").unwrap();
    store.watch(env, "two", "t2").unwrap();
    store.poll(env).unwrap();
    while store.next_watch_event().is_some() {}
    sim.store_write("/local/domain/5/two", b"2").unwrap();
    sim.store_write("/local/domain/5/one", b"1").unwrap();
    sim.store_write("/local/domain/5/two", b"22").unwrap();
    let deadline = env.now_ns() + 1_000_000;
    assert_eq!(
        store.wait_watch_event(env, "t1", deadline).unwrap().path,
        "one"
    );
    assert_eq!(store.queued_watch_events(), 2);
    assert_eq!(store.take_watch_event("t2").unwrap().path, "two");
    assert_eq!(store.take_watch_event("t2").unwrap().path, "two");
    assert!(store.take_watch_event("t1").is_none());
}

#[test]
fn events_of_a_token_family_are_taken_leaving_the_others() {
    let (sim, mut guest, mut store) = setup();
    let env = &mut guest;
    store.watch(env, "one", "fe/1/0").unwrap();
    store.watch(env, "two", "other").unwrap();
    store.watch(env, "three", "fe/2/0").unwrap();
    store.poll(env).unwrap();
    while store.next_watch_event().is_some() {}
    sim.store_write("/local/domain/5/two", b"2").unwrap();
    sim.store_write("/local/domain/5/one", b"1").unwrap();
    sim.store_write("/local/domain/5/three", b"3").unwrap();
    for _ in 0..100 {
        store.poll(env).unwrap();
        if store.queued_watch_events() == 3 {
            break;
        }
        let soon = env.now_ns() + 10_000;
        env.wait_until(soon);
    }
    assert_eq!(store.queued_watch_events(), 3);
    let family = |token: &str| token.starts_with("fe/");
    assert_eq!(store.take_watch_event_where(family).unwrap().path, "one");
    assert_eq!(store.take_watch_event_where(family).unwrap().path, "three");
    assert!(store.take_watch_event_where(family).is_none());
    assert_eq!(store.take_watch_event("other").unwrap().path, "two");
    assert_eq!(store.queued_watch_events(), 0);
}

#[test]
fn transaction_commits_atomically() {
    let (sim, mut guest, mut store) = setup();
    sim.store_watch("/local/domain/5/ring", "toolstack")
        .unwrap();
    while sim.store_take_event().is_some() {}
    let value = store
        .transaction(&mut guest, |tx| {
            tx.write("ring/ref", b"8")?;
            tx.write("ring/port", b"3")?;
            // Inside the transaction we see our own writes...
            assert_eq!(tx.read("ring/ref")?, b"8");
            Ok(42)
        })
        .unwrap();
    assert_eq!(value, 42);
    assert_eq!(sim.store_read("/local/domain/5/ring/ref").unwrap(), b"8");
    assert_eq!(sim.store_read("/local/domain/5/ring/port").unwrap(), b"3");
    assert!(sim.store_take_event().is_some());
}

#[test]
fn transaction_is_invisible_until_commit_and_abort_discards() {
    let (sim, mut guest, mut store) = setup();
    let outcome = store.transaction(&mut guest, |tx| -> Result<(), XsError> {
        tx.write("pending", b"1")?;
        assert_eq!(
            sim.store_read("/local/domain/5/pending"),
            Err(Errno::NotFound)
        );
        Err(XsError::Store(Errno::Invalid))
    });
    assert_eq!(outcome, Err(XsError::Store(Errno::Invalid)));
    assert_eq!(
        sim.store_read("/local/domain/5/pending"),
        Err(Errno::NotFound)
    );
}

#[test]
fn transaction_retries_on_eagain_after_a_conflicting_write() {
    let (sim, mut guest, mut store) = setup();
    store.write(&mut guest, "counter", b"10").unwrap();
    let attempts = Cell::new(0);
    let toolstack = sim.clone();
    let result = store
        .transaction(&mut guest, |tx| {
            attempts.set(attempts.get() + 1);
            let value: u32 = tx.read_string("counter")?.parse().unwrap();
            if attempts.get() == 1 {
                // Another client changes the node between start and end.
                toolstack
                    .store_write("/local/domain/5/counter", b"100")
                    .unwrap();
            }
            tx.write("counter", (value + 1).to_string().as_bytes())?;
            Ok(value + 1)
        })
        .unwrap();
    assert_eq!(attempts.get(), 2);
    assert_eq!(result, 101);
    assert_eq!(sim.store_read("/local/domain/5/counter").unwrap(), b"101");
}

#[test]
fn transaction_gives_up_after_bounded_attempts() {
    let (sim, mut guest, mut store) = setup();
    let attempts = Cell::new(0u32);
    let toolstack = sim.clone();
    let result = store.transaction(&mut guest, |tx| {
        attempts.set(attempts.get() + 1);
        let _ = tx.read("contended");
        toolstack
            .store_write(
                "/local/domain/5/contended",
                attempts.get().to_string().as_bytes(),
            )
            .unwrap();
        tx.write("contended", b"mine")
    });
    assert_eq!(result, Err(XsError::Store(Errno::Again)));
    assert_eq!(attempts.get(), MAX_TRANSACTION_ATTEMPTS);
    // A body that returns EAGAIN itself is retried as well.
    let attempts = Cell::new(0u32);
    let result = store.transaction(&mut guest, |_tx| {
        attempts.set(attempts.get() + 1);
        if attempts.get() < 3 {
            Err(XsError::Store(Errno::Again))
        } else {
            Ok(())
        }
    });
    assert_eq!(result, Ok(()));
    assert_eq!(attempts.get(), 3);
}

#[test]
fn requests_and_replies_larger_than_the_ring_stream() {
    let (_sim, mut guest, mut store) = setup();
    let value: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
    store.write(&mut guest, "large", &value).unwrap();
    assert_eq!(store.read(&mut guest, "large").unwrap(), value);
}

#[test]
fn a_request_bigger_than_the_free_space_waits_for_the_server() {
    let (sim, mut guest, mut store) = setup();
    sim.set_store_paused(DOMID, true);
    // Fill most of the request ring with requests nobody serves yet.
    let mut pending = Vec::new();
    for index in 0..20 {
        let payload = format!("filler/{index:02}\0{}", "x".repeat(20));
        pending.push(
            store
                .submit(
                    &mut guest,
                    MessageType::Write,
                    TxId::NONE,
                    payload.as_bytes(),
                )
                .unwrap(),
        );
    }
    let page = guest.store_page();
    assert!(page.load_u32(REQ_PROD) > 900, "ring nearly full");
    // xenstored comes back at 10 ms; the big request must wait for it.
    sim.add_peer(at_time(10_000_000, |core: &mut SimCore| {
        core.set_store_paused(DOMID, false)
    }));
    let big = vec![b'b'; 3000];
    store.write(&mut guest, "big", &big).unwrap();
    assert!(guest.now_ns() >= 10_000_000);
    for id in pending {
        assert_eq!(store.wait_reply(&mut guest, id).unwrap(), b"OK\0");
    }
    assert_eq!(store.read(&mut guest, "big").unwrap(), big);
    assert_eq!(
        store.read(&mut guest, "filler/19").unwrap(),
        "x".repeat(20).as_bytes()
    );
}

#[test]
fn ring_indices_wrap_around_at_2_pow_32() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest_with(
        DOMID,
        GuestConfig {
            store_ring_start: u32::MAX - 700,
            ..GuestConfig::default()
        },
    );
    let mut store = guest.xenstore().unwrap();
    for round in 0..8u32 {
        let value = vec![b'0' + round as u8; 900 + round as usize * 50];
        let path = format!("wrap/{round}");
        store.write(&mut guest, &path, &value).unwrap();
        assert_eq!(store.read(&mut guest, &path).unwrap(), value);
    }
    let page = guest.store_page();
    assert!(page.load_u32(REQ_PROD) < 100_000, "request index wrapped");
    assert!(page.load_u32(RSP_PROD) < 100_000, "response index wrapped");
    assert!(!sim.store_ring_broken(DOMID));
}

#[test]
fn a_store_that_does_not_answer_times_out() {
    let (sim, mut guest, mut store) = setup();
    store.set_timeout_ns(250_000_000);
    sim.set_store_paused(DOMID, true);
    let start = guest.now_ns();
    assert_eq!(store.read(&mut guest, "anything"), Err(XsError::Timeout));
    assert_eq!(guest.now_ns() - start, 250_000_000);
    // A late reply to the abandoned request is ignored.
    sim.set_store_paused(DOMID, false);
    store.write(&mut guest, "anything", b"1").unwrap();
    assert_eq!(store.read(&mut guest, "anything").unwrap(), b"1");
    assert_eq!(store.dropped_events(), 1);
}

fn write_reply(page: &xensnd_sim::SimPage, kind: u32, req_id: u32, length: u32, payload: &[u8]) {
    let prod = page.load_u32(RSP_PROD);
    let mut bytes = Vec::new();
    for word in [kind, req_id, 0, length] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.extend_from_slice(payload);
    for (index, byte) in bytes.iter().enumerate() {
        let position = prod.wrapping_add(index as u32) & 1023;
        page.write(RSP_OFFSET + position as usize, &[*byte]);
    }
    page.store_u32(RSP_PROD, prod.wrapping_add(bytes.len() as u32));
}

#[test]
fn a_reply_longer_than_the_payload_limit_is_an_error_not_a_panic() {
    let (sim, mut guest, mut store) = setup();
    sim.set_store_paused(DOMID, true);
    let id = store
        .submit(&mut guest, MessageType::Read, TxId::NONE, b"x\0")
        .unwrap();
    write_reply(&guest.store_page(), 2, id.0, 5000, b"");
    assert!(matches!(
        store.wait_reply(&mut guest, id),
        Err(XsError::Malformed(_))
    ));
    // The stream is desynchronised: the client stays failed.
    assert!(matches!(
        store.read(&mut guest, "x"),
        Err(XsError::Malformed(_))
    ));
}

#[test]
fn rsp_prod_running_ahead_is_an_error() {
    let (sim, mut guest, mut store) = setup();
    sim.set_store_paused(DOMID, true);
    let id = store
        .submit(&mut guest, MessageType::Read, TxId::NONE, b"x\0")
        .unwrap();
    let page = guest.store_page();
    let cons = page.load_u32(RSP_CONS);
    page.store_u32(RSP_PROD, cons.wrapping_add(1025));
    assert!(matches!(
        store.wait_reply(&mut guest, id),
        Err(XsError::Malformed(_))
    ));
}

#[test]
fn unsolicited_replies_and_garbage_events_are_dropped_and_error_replies_typed() {
    let (sim, mut guest, mut store) = setup();
    sim.set_store_paused(DOMID, true);
    let id = store
        .submit(&mut guest, MessageType::Read, TxId::NONE, b"x\0")
        .unwrap();
    let page = guest.store_page();
    write_reply(&page, 2, id.0 + 100, 3, b"bad");
    write_reply(&page, 15, 0, 4, b"\0\0\0\0");
    write_reply(&page, 16, id.0, 7, b"EQUOTA\0");
    assert_eq!(
        store.wait_reply(&mut guest, id),
        Err(XsError::Store(Errno::Unknown))
    );
    assert_eq!(store.dropped_events(), 2);
    assert_eq!(store.queued_watch_events(), 0);
}

#[test]
fn inconsistent_indices_at_connect_are_rejected() {
    let (_sim, guest, _store) = setup();
    let page = guest.store_page();
    page.store_u32(RSP_PROD, 5000);
    assert!(matches!(
        XenStore::new(page, guest.store_port()),
        Err(XsError::Malformed(_))
    ));
}

#[test]
fn many_clients_of_the_toolstack_see_guest_writes() {
    let (sim, mut guest, mut store) = setup();
    sim.store_watch("/local/domain/5/device", "backend")
        .unwrap();
    assert_eq!(
        sim.store_take_event().unwrap().path,
        "/local/domain/5/device"
    );
    store.write(&mut guest, "device/x", b"1").unwrap();
    let seen = Rc::new(Cell::new(0));
    while let Some(event) = sim.store_take_event() {
        assert_eq!(event.token, "backend");
        seen.set(seen.get() + 1);
    }
    assert_eq!(seen.get(), 1);
}

#[test]
fn garbage_in_the_response_ring_never_panics() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..300 {
        let (sim, mut guest, mut store) = setup();
        store.set_timeout_ns(1_000_000);
        sim.set_store_paused(DOMID, true);
        let id = store
            .submit(&mut guest, MessageType::Read, TxId::NONE, b"x\0")
            .unwrap();
        let page = guest.store_page();
        let length = (next() % 1100) as usize;
        let mut bytes: Vec<u8> = (0..length).map(|_| next() as u8).collect();
        if round % 3 == 0 && bytes.len() >= 16 {
            // A plausible header with a random length and our id.
            bytes[0..4].copy_from_slice(&2u32.to_le_bytes());
            bytes[4..8].copy_from_slice(&id.0.to_le_bytes());
            bytes[12..16].copy_from_slice(&((next() % 5000) as u32).to_le_bytes());
        }
        let cons = page.load_u32(RSP_CONS);
        for (index, byte) in bytes.iter().enumerate() {
            page.write(RSP_OFFSET + ((cons as usize + index) & 1023), &[*byte]);
        }
        let prod = if round % 5 == 0 {
            next() as u32
        } else {
            cons.wrapping_add(length as u32)
        };
        page.store_u32(RSP_PROD, prod);
        // Any outcome but a panic is fine; Ok only with a well-formed reply.
        match store.wait_reply(&mut guest, id) {
            Ok(payload) => assert!(payload.len() <= 4096),
            Err(XsError::Malformed(_) | XsError::Timeout | XsError::Store(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
        let _ = store.poll(&mut guest);
    }
}

#[test]
fn every_xsd_error_string_has_a_typed_errno() {
    for (_, text) in xen_abi::xs_wire::XSD_ERRORS {
        let errno = Errno::parse(text.as_bytes());
        assert_ne!(errno, Errno::Unknown, "{text}");
        assert_eq!(errno.as_str(), text);
    }
}

#[test]
fn a_session_pairs_the_client_with_the_platform() {
    let (sim, mut guest, mut store) = setup();
    let mut session = store.session(&mut guest);
    assert_eq!(session.read_optional("device/vsnd/0/backend-id"), Ok(None));
    session.write("device/vsnd/0/backend-id", b"0").unwrap();
    assert_eq!(
        session.read_optional("device/vsnd/0/backend-id"),
        Ok(Some("0".to_string()))
    );
    session
        .transaction(|tx| {
            tx.write("device/vsnd/0/0/0/ring-ref", b"8")?;
            tx.write("device/vsnd/0/0/0/event-channel", b"5")
        })
        .unwrap();
    assert_eq!(
        session.directory("device/vsnd/0/0/0").unwrap(),
        ["event-channel", "ring-ref"]
    );
    session.rm("device").unwrap();
    assert_eq!(
        sim.store_read("/local/domain/5/device"),
        Err(Errno::NotFound)
    );
}
