//! `control/shutdown` handling against the simulated toolstack.

use xen_guest::shutdown::{ShutdownRequest, ShutdownWatch};
use xen_guest::Clock;
use xensnd_sim::{SimCore, SimPeer, SimXen};

#[test]
fn parse_values() {
    assert_eq!(
        ShutdownRequest::parse(b"poweroff"),
        Ok(Some(ShutdownRequest::Poweroff))
    );
    assert_eq!(
        ShutdownRequest::parse(b"reboot"),
        Ok(Some(ShutdownRequest::Reboot))
    );
    assert_eq!(
        ShutdownRequest::parse(b"halt"),
        Ok(Some(ShutdownRequest::Halt))
    );
    assert_eq!(
        ShutdownRequest::parse(b"suspend\0"),
        Ok(Some(ShutdownRequest::Suspend))
    );
    assert_eq!(ShutdownRequest::parse(b""), Ok(None));
    assert_eq!(ShutdownRequest::parse(b"explode"), Err(()));
    for request in [
        ShutdownRequest::Poweroff,
        ShutdownRequest::Reboot,
        ShutdownRequest::Halt,
        ShutdownRequest::Suspend,
    ] {
        assert_eq!(
            ShutdownRequest::parse(request.as_str().as_bytes()),
            Ok(Some(request))
        );
    }
}

/// The toolstack running `xl shutdown`/`xl reboot` at a given time.
struct Xl {
    conn: u32,
    at: u64,
    word: &'static str,
    done: bool,
}

impl SimPeer for Xl {
    fn step(&mut self, core: &mut SimCore) -> bool {
        if self.done || core.now_ns() < self.at {
            return false;
        }
        self.done = true;
        core.store()
            .write(
                self.conn,
                0,
                "/local/domain/9/control/shutdown",
                self.word.as_bytes(),
            )
            .unwrap();
        true
    }
    fn next_deadline(&self) -> Option<u64> {
        (!self.done).then_some(self.at)
    }
}

fn run(word: &'static str) -> (ShutdownRequest, u64, SimXen) {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(9);
    let mut store = guest.xenstore().unwrap();
    let mut watch = ShutdownWatch::register(&mut store, &mut guest).unwrap();
    let conn = sim.with_core(|core| core.store().connect_local(0));
    let at = 2_000_000_000;
    sim.add_peer(Box::new(Xl {
        conn,
        at,
        word,
        done: false,
    }));
    // The guest's main loop: do work, poll, sleep up to 100 ms.
    let request = loop {
        if let Some(request) = watch.poll(&mut store, &mut guest).unwrap() {
            break request;
        }
        assert!(guest.now_ns() < at + 10_000_000_000, "no shutdown seen");
        guest.wait_until(guest.now_ns() + 100_000_000);
    };
    let latency = guest.now_ns() - at;
    watch.unregister(&mut store, &mut guest).unwrap();
    (request, latency, sim)
}

#[test]
fn xl_shutdown_gives_poweroff_within_a_second_and_is_acknowledged() {
    let (request, latency, sim) = run("poweroff");
    assert_eq!(request, ShutdownRequest::Poweroff);
    assert!(latency < 1_000_000_000, "latency {latency} ns");
    assert_eq!(
        sim.store_read("/local/domain/9/control/shutdown").unwrap(),
        b""
    );
}

#[test]
fn xl_reboot_gives_reboot() {
    let (request, latency, sim) = run("reboot");
    assert_eq!(request, ShutdownRequest::Reboot);
    assert!(latency < 1_000_000_000);
    assert_eq!(
        sim.store_read("/local/domain/9/control/shutdown").unwrap(),
        b""
    );
}

#[test]
fn unknown_words_are_acknowledged_and_ignored() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(9);
    let mut store = guest.xenstore().unwrap();
    let mut watch = ShutdownWatch::register(&mut store, &mut guest).unwrap();
    guest.wait_until(1);
    assert_eq!(watch.poll(&mut store, &mut guest).unwrap(), None);
    sim.xl_shutdown(9, "dance").unwrap();
    guest.wait_until(guest.now_ns() + 1);
    assert_eq!(watch.poll(&mut store, &mut guest).unwrap(), None);
    assert_eq!(
        sim.store_read("/local/domain/9/control/shutdown").unwrap(),
        b""
    );
    // Our own acknowledgement fires the watch again but reads "": nothing.
    guest.wait_until(guest.now_ns() + 1);
    assert_eq!(watch.poll(&mut store, &mut guest).unwrap(), None);
    sim.xl_shutdown(9, "halt").unwrap();
    guest.wait_until(guest.now_ns() + 1);
    assert_eq!(
        watch.poll(&mut store, &mut guest).unwrap(),
        Some(ShutdownRequest::Halt)
    );
}

#[test]
fn sched_shutdown_reasons_match_sched_h() {
    assert_eq!(ShutdownRequest::Poweroff.sched_shutdown_reason(), 0);
    assert_eq!(ShutdownRequest::Halt.sched_shutdown_reason(), 0);
    assert_eq!(ShutdownRequest::Reboot.sched_shutdown_reason(), 1);
    assert_eq!(ShutdownRequest::Suspend.sched_shutdown_reason(), 2);
}

/// The runtime's form (`src/rt.rs`): the watch and a read of the node in
/// one batch. Nothing pending: the registration's event costs no read at
/// the first poll, and a later `xl shutdown` is still seen. A request
/// already there when the guest boots is read and acknowledged at the
/// first poll.
#[test]
fn a_batched_watch_and_read_skip_the_registration_event_and_miss_nothing() {
    for pending in [None, Some("poweroff")] {
        let sim = SimXen::new();
        let mut guest = sim.add_guest(9);
        if let Some(word) = pending {
            sim.xl_shutdown(9, word).unwrap();
        }
        let mut store = guest.xenstore().unwrap();
        let requests = ShutdownWatch::batch_requests();
        let mut replies = store.batch(&mut guest, &requests).unwrap().into_iter();
        let mut watch =
            ShutdownWatch::from_batch(replies.next().unwrap(), replies.next().unwrap()).unwrap();
        guest.wait_until(guest.now_ns() + 1);
        let before = store.round_trips();
        let first = watch.poll(&mut store, &mut guest).unwrap();
        if pending.is_none() {
            assert_eq!(first, None);
            assert_eq!(store.round_trips(), before, "no read for the registration");
            sim.xl_shutdown(9, "reboot").unwrap();
            guest.wait_until(guest.now_ns() + 1);
            assert_eq!(
                watch.poll(&mut store, &mut guest).unwrap(),
                Some(ShutdownRequest::Reboot)
            );
        } else {
            assert_eq!(first, Some(ShutdownRequest::Poweroff), "pending at boot");
        }
        assert_eq!(
            sim.store_read("/local/domain/9/control/shutdown").unwrap(),
            b"",
            "acknowledged"
        );
    }
}
