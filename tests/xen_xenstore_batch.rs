//! Pipelined XenStore requests (`XenStore::batch`, `XenStore::read_tree`)
//! against the simulated xenstored, over the real ring protocol.

use xen_guest::xenstore::{reply_string, BatchRequest, Errno, TxId, XenStore, XsError};
use xensnd_sim::{SimGuest, SimXen};

const DOMID: u16 = 7;

fn setup() -> (SimXen, SimGuest, XenStore<xensnd_sim::SimPage>) {
    let sim = SimXen::new();
    let guest = sim.add_guest(DOMID);
    let store = guest.xenstore().expect("fresh ring");
    (sim, guest, store)
}

#[test]
fn batch_replies_come_back_in_order_with_per_request_errors() {
    let (sim, mut guest, mut store) = setup();
    sim.store_write("/local/domain/7/a", b"one").unwrap();
    sim.store_write("/local/domain/7/d/x", b"").unwrap();
    sim.store_write("/local/domain/7/d/y", b"").unwrap();
    let requests = [
        BatchRequest::Read("a"),
        BatchRequest::Read("missing"),
        BatchRequest::Directory("d"),
        BatchRequest::Write(TxId::NONE, "b", b"two"),
        BatchRequest::Read("bad\u{1}path"),
        BatchRequest::Watch("a", "token-a"),
        BatchRequest::GetDomainPath(DOMID),
    ];
    let replies = store.batch(&mut guest, &requests).unwrap();
    assert_eq!(replies.len(), requests.len());
    assert_eq!(replies[0].as_deref(), Ok(&b"one"[..]));
    assert_eq!(replies[1], Err(XsError::Store(Errno::NotFound)));
    let mut names: Vec<&[u8]> = replies[2]
        .as_ref()
        .unwrap()
        .split(|byte| *byte == 0)
        .filter(|name| !name.is_empty())
        .collect();
    names.sort();
    assert_eq!(names, [&b"x"[..], &b"y"[..]]);
    assert!(replies[3].is_ok());
    assert_eq!(replies[4], Err(XsError::InvalidPath));
    assert!(replies[5].is_ok());
    assert_eq!(
        reply_string(replies[6].clone().unwrap()).unwrap(),
        "/local/domain/7"
    );
    // The write happened, the watch is registered (it fired once), and no
    // request is left in flight.
    assert_eq!(sim.store_read("/local/domain/7/b").unwrap(), b"two");
    store.poll(&mut guest).unwrap();
    assert!(store.take_watch_event("token-a").is_some());
    assert_eq!(store.in_flight(), 0);
}

#[test]
fn batch_larger_than_the_ring_completes() {
    let (sim, mut guest, mut store) = setup();
    let paths: Vec<String> = (0..300).map(|i| format!("node-{i:03}")).collect();
    let values: Vec<String> = (0..300).map(|i| format!("value {i}")).collect();
    let writes: Vec<BatchRequest<'_>> = paths
        .iter()
        .zip(&values)
        .map(|(path, value)| BatchRequest::Write(TxId::NONE, path, value.as_bytes()))
        .collect();
    for reply in store.batch(&mut guest, &writes).unwrap() {
        reply.unwrap();
    }
    let reads: Vec<BatchRequest<'_>> = paths.iter().map(|p| BatchRequest::Read(p)).collect();
    let replies = store.batch(&mut guest, &reads).unwrap();
    for (reply, value) in replies.into_iter().zip(&values) {
        assert_eq!(reply.unwrap(), value.as_bytes());
    }
    assert_eq!(
        sim.store_read("/local/domain/7/node-299").unwrap(),
        b"value 299"
    );
    assert_eq!(store.in_flight(), 0);
}

#[test]
fn read_tree_returns_every_node_below_the_root() {
    let (sim, mut guest, mut store) = setup();
    let base = "/local/domain/7/device/vsnd/0";
    let nodes = [
        ("", "x"),
        ("/backend", "/local/domain/0/backend/vsnd/7/0"),
        ("/short-name", "card"),
        ("/0", ""),
        ("/0/name", "main"),
        ("/0/0", ""),
        ("/0/0/type", "p"),
        ("/0/0/unique-id", "spk"),
        ("/0/1/type", "c"),
    ];
    for (suffix, value) in nodes {
        sim.store_write(&format!("{base}{suffix}"), value.as_bytes())
            .unwrap();
    }
    // Unrelated nodes next to the root stay out.
    sim.store_write("/local/domain/7/device/vsnd/1/backend", b"other")
        .unwrap();
    let tree = store.read_tree(&mut guest, base, 64, |_| true).unwrap();
    // `/0/1` was created implicitly by its child (empty value).
    assert_eq!(tree.len(), nodes.len() + 1);
    for (suffix, value) in nodes {
        assert_eq!(
            tree.get(&format!("{base}{suffix}")).map(Vec::as_slice),
            Some(value.as_bytes()),
            "{suffix}"
        );
    }
    assert_eq!(
        tree.get(&format!("{base}/0/1")).map(Vec::as_slice),
        Some(&b""[..])
    );
    // Relative roots work too, with relative keys.
    let relative = store
        .read_tree(&mut guest, "device/vsnd/0/0/0", 64, |_| true)
        .unwrap();
    assert_eq!(
        relative.keys().collect::<Vec<_>>(),
        [
            "device/vsnd/0/0/0",
            "device/vsnd/0/0/0/type",
            "device/vsnd/0/0/0/unique-id"
        ]
    );
}

#[test]
fn read_tree_lists_children_only_where_asked() {
    let (sim, mut guest, mut store) = setup();
    for node in ["d/0/leaf", "d/0/1/deep", "d/name/hidden"] {
        sim.store_write(&format!("/local/domain/7/{node}"), b"v")
            .unwrap();
    }
    let numeric = |name: &str| name.bytes().all(|b| b.is_ascii_digit());
    let before = sim.store_requests_served();
    let tree = store.read_tree(&mut guest, "d", 64, numeric).unwrap();
    assert_eq!(
        tree.keys().collect::<Vec<_>>(),
        ["d", "d/0", "d/0/1", "d/0/1/deep", "d/0/leaf", "d/name"]
    );
    // READ + DIRECTORY for d, d/0, d/0/1; READ only for the three leaves.
    assert_eq!(sim.store_requests_served() - before, 9);
}

#[test]
fn read_tree_of_a_missing_root_is_empty_and_a_huge_tree_is_refused() {
    let (sim, mut guest, mut store) = setup();
    assert!(store
        .read_tree(&mut guest, "device/none", 16, |_| true)
        .unwrap()
        .is_empty());
    for i in 0..20 {
        sim.store_write(&format!("/local/domain/7/big/{i}"), b"v")
            .unwrap();
    }
    assert_eq!(
        store.read_tree(&mut guest, "big", 10, |_| true),
        Err(XsError::TooLarge)
    );
    assert_eq!(
        store
            .read_tree(&mut guest, "big", 21, |_| true)
            .unwrap()
            .len(),
        21
    );
    assert_eq!(store.in_flight(), 0);
}

/// The round-trip rule of `XenStore::stats`: a batch of 3 sent together and
/// then waited for is one round trip (waiting for its 2nd and 3rd replies
/// adds none); single requests are one each; submitting without waiting
/// adds requests but no round trip until the wait; watch events are not
/// replies.
#[test]
fn round_trips_count_waits_for_what_was_sent_since_the_last_wait() {
    let (sim, mut guest, mut store) = setup();
    sim.store_write("/local/domain/7/a", b"one").unwrap();
    assert_eq!(store.stats(), Default::default());
    let batch = [
        BatchRequest::Read("a"),
        BatchRequest::Read("missing"),
        BatchRequest::Watch("a", "token-a"),
    ];
    store.batch(&mut guest, &batch).unwrap();
    assert_eq!(store.stats().requests, 3);
    assert_eq!(store.round_trips(), 1, "a batch of 3 is one round trip");
    store.read(&mut guest, "a").unwrap();
    store.write(&mut guest, "b", b"x").unwrap();
    assert_eq!(store.stats().requests, 5);
    assert_eq!(store.round_trips(), 3, "one per lone request");
    // Two submitted, then both waited for: one round trip.
    use xen_guest::xenstore::MessageType;
    let first = store
        .submit(&mut guest, MessageType::Read, TxId::NONE, b"a\0")
        .unwrap();
    let second = store
        .submit(&mut guest, MessageType::Read, TxId::NONE, b"b\0")
        .unwrap();
    assert_eq!(store.round_trips(), 3, "nothing waited for yet");
    store.wait_reply(&mut guest, first).unwrap();
    store.wait_reply(&mut guest, second).unwrap();
    assert_eq!(store.round_trips(), 4);
    // A watch event is no reply: waiting for one is no round trip.
    sim.store_write("/local/domain/7/a", b"two").unwrap();
    let deadline = guest_now(&guest) + 1_000_000_000;
    store
        .wait_watch_event(&mut guest, "token-a", deadline)
        .unwrap();
    assert_eq!(store.stats().requests, 7);
    assert_eq!(store.round_trips(), 4);
}

fn guest_now(guest: &SimGuest) -> u64 {
    use xen_guest::Clock;
    guest.now_ns()
}
