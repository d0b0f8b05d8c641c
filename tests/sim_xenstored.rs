//! The simulated xenstored on its own (local connections), and the
//! simulation's platform used generically as frontend code uses it.

use xen_guest::xenstore::{Errno, WatchEvent};
use xen_guest::{Clock, EventChannels, GrantTable, Platform, Port, SharedPage};
use xensnd_sim::{SimCore, SimPage, SimPeer, SimXen, XenStored};

fn event(path: &str, token: &str) -> Option<WatchEvent> {
    Some(WatchEvent {
        path: path.to_string(),
        token: token.to_string(),
    })
}

#[test]
fn tree_operations() {
    let mut store = XenStored::new();
    let conn = store.connect_local(3);
    assert_eq!(store.read(conn, 0, "/"), Ok(Vec::new()));
    store.write(conn, 0, "a/b/c", b"v").unwrap();
    assert_eq!(store.read(conn, 0, "/local/domain/3/a/b/c").unwrap(), b"v");
    assert_eq!(
        store.read(conn, 0, "a/b").unwrap(),
        b"",
        "parents are created empty"
    );
    assert_eq!(store.directory(conn, 0, "/local/domain").unwrap(), ["3"]);
    store.write(conn, 0, "a/b2", b"").unwrap();
    assert_eq!(store.directory(conn, 0, "a").unwrap(), ["b", "b2"]);
    // A sibling whose name extends ours is not a child.
    store.write(conn, 0, "a/b-x", b"").unwrap();
    store.rm(conn, 0, "a/b").unwrap();
    assert_eq!(store.directory(conn, 0, "a").unwrap(), ["b-x", "b2"]);
    assert_eq!(store.read(conn, 0, "a/b/c"), Err(Errno::NotFound));
    assert_eq!(store.rm(conn, 0, "/"), Err(Errno::Invalid));
    assert_eq!(store.read(conn, 0, "bad path"), Err(Errno::Invalid));
}

#[test]
fn watches_fire_at_registration_on_changes_and_on_removal_of_an_ancestor() {
    let mut store = XenStored::new();
    let watcher = store.connect_local(3);
    let writer = store.connect_local(0);
    store.watch(watcher, "dev/x", "tok").unwrap();
    assert_eq!(store.take_event(watcher), event("dev/x", "tok"));
    store
        .write(writer, 0, "/local/domain/3/dev/x/y", b"1")
        .unwrap();
    assert_eq!(store.take_event(watcher), event("dev/x/y", "tok"));
    store
        .write(writer, 0, "/local/domain/3/dev/z", b"1")
        .unwrap();
    assert_eq!(store.take_event(watcher), None);
    store.rm(writer, 0, "/local/domain/3/dev").unwrap();
    // The removed ancestor is outside the relative prefix: reported as is.
    assert_eq!(store.take_event(watcher), event("dev", "tok"));
    assert_eq!(store.take_event(watcher), None);
    store.unwatch(watcher, "dev/x", "tok").unwrap();
    store
        .write(writer, 0, "/local/domain/3/dev/x", b"1")
        .unwrap();
    assert_eq!(store.take_event(watcher), None);
}

#[test]
fn transactions_snapshot_conflict_and_fire_on_commit() {
    let mut store = XenStored::new();
    let mine = store.connect_local(0);
    let other = store.connect_local(0);
    store.watch(other, "/data", "w").unwrap();
    store.take_event(other);
    store.write(mine, 0, "/data/a", b"1").unwrap();
    store.take_event(other);

    let tx = store.transaction_start(mine).unwrap();
    store.write(mine, tx, "/data/b", b"2").unwrap();
    assert_eq!(store.read(mine, tx, "/data/b").unwrap(), b"2");
    assert_eq!(store.read(other, 0, "/data/b"), Err(Errno::NotFound));
    assert_eq!(store.take_event(other), None, "nothing fires before commit");
    // Another connection cannot use our transaction.
    assert_eq!(store.read(other, tx, "/data/b"), Err(Errno::NotFound));
    store.transaction_end(mine, tx, true).unwrap();
    assert_eq!(store.read(other, 0, "/data/b").unwrap(), b"2");
    assert_eq!(store.take_event(other), event("/data/b", "w"));
    assert_eq!(store.transaction_end(mine, tx, true), Err(Errno::NotFound));

    // A node read in the transaction changed: EAGAIN, nothing applied.
    let tx = store.transaction_start(mine).unwrap();
    store.read(mine, tx, "/data/a").unwrap();
    store.write(mine, tx, "/data/c", b"3").unwrap();
    store.write(other, 0, "/data/a", b"changed").unwrap();
    assert_eq!(store.transaction_end(mine, tx, true), Err(Errno::Again));
    assert_eq!(store.read(other, 0, "/data/c"), Err(Errno::NotFound));

    // A directory listed in the transaction gained a child: EAGAIN.
    let tx = store.transaction_start(mine).unwrap();
    store.directory(mine, tx, "/data").unwrap();
    store.write(other, 0, "/data/new", b"").unwrap();
    assert_eq!(store.transaction_end(mine, tx, true), Err(Errno::Again));

    // Unrelated changes do not conflict.
    let tx = store.transaction_start(mine).unwrap();
    store.write(mine, tx, "/data/d", b"4").unwrap();
    store.write(other, 0, "/elsewhere", b"x").unwrap();
    store.transaction_end(mine, tx, true).unwrap();
    assert_eq!(store.read(other, 0, "/data/d").unwrap(), b"4");

    // Abort discards.
    let tx = store.transaction_start(mine).unwrap();
    store.rm(mine, tx, "/data").unwrap();
    store.transaction_end(mine, tx, false).unwrap();
    assert_eq!(store.read(other, 0, "/data/a").unwrap(), b"changed");
}

#[test]
#[should_panic(expected = "out of range")]
fn page_accesses_outside_the_page_panic() {
    let page = SimPage::new(1);
    page.write(4090, &[0; 8]);
}

#[test]
fn pages_are_shared_by_handle() {
    let page = SimPage::new(7);
    let alias = page.clone();
    page.store_u32(4092, 0xdead_beef);
    assert_eq!(alias.load_u32(4092), 0xdead_beef);
    assert_eq!(alias.gfn(), 7);
    assert!(alias.same_page(&page));
    assert!(!SimPage::new(7).same_page(&page));
}

/// What a frontend does, written only against [`Platform`]: share a page
/// with the backend and set up a channel.
fn frontend_connect<P: Platform>(platform: &mut P) -> (P::Page, u32, Port) {
    let page = platform.alloc_page().unwrap();
    page.store_u32(0, 0x1234_5678);
    let gref = platform.grant(0, page.gfn(), false).unwrap();
    let port = platform.alloc_unbound(0).unwrap();
    (page, gref, port)
}

/// A backend model: maps the page, binds the channel, echoes a word back
/// and notifies.
struct EchoBackend {
    guest: u16,
    gref: u32,
    port: Port,
    local_port: Option<Port>,
    mapping: Option<xensnd_sim::SimMapping>,
}

impl SimPeer for EchoBackend {
    fn step(&mut self, core: &mut SimCore) -> bool {
        if self.local_port.is_none() {
            self.local_port = Some(
                core.evtchn_bind_interdomain(0, self.guest, self.port)
                    .unwrap(),
            );
            self.mapping = Some(core.map_grant(0, self.guest, self.gref, true).unwrap());
            return true;
        }
        let local = self.local_port.unwrap();
        if core.evtchn_take_pending(0, local) {
            let page = &self.mapping.as_ref().unwrap().page;
            let word = page.load_u32(0);
            page.store_u32(4, word.wrapping_add(1));
            core.evtchn_send(0, local).unwrap();
            return true;
        }
        false
    }
}

#[test]
fn frontend_code_runs_against_the_simulated_platform() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(12);
    assert_eq!(guest.domid(), Some(12));
    let (page, gref, port) = frontend_connect(&mut guest);
    sim.add_peer(Box::new(EchoBackend {
        guest: 12,
        gref,
        port,
        local_port: None,
        mapping: None,
    }));
    // Let the backend connect, then kick it and wait for its answer.
    sim.run_until_idle(10);
    guest.notify(port);
    let deadline = guest.now_ns() + 1_000_000;
    while !guest.take_pending(port) {
        assert!(guest.now_ns() < deadline, "no answer");
        guest.wait_until(deadline);
    }
    assert_eq!(page.load_u32(4), 0x1234_5679);
    // The backend still maps the page: the grant cannot be revoked.
    assert_eq!(guest.revoke(gref), Err(xen_guest::XenError::StillMapped));
}
