//! XenBus states and waits, against the simulated xenstored.

use xen_guest::xenbus::{read_state, wait_for_state, write_state, InvalidTransition, XenbusState};
use xen_guest::xenstore::XsError;
use xen_guest::Clock;
use xensnd_sim::{SimCore, SimPeer, SimXen};

const BACKEND: &str = "/local/domain/0/backend/vsnd/6/0";

/// A simulated backend that moves its state at given times.
struct Backend {
    conn: u32,
    steps: Vec<(u64, XenbusState)>,
}

impl SimPeer for Backend {
    fn step(&mut self, core: &mut SimCore) -> bool {
        match self.steps.first() {
            Some((at, state)) if core.now_ns() >= *at => {
                let value = state.as_u32().to_string();
                core.store()
                    .write(self.conn, 0, &format!("{BACKEND}/state"), value.as_bytes())
                    .unwrap();
                self.steps.remove(0);
                true
            }
            _ => false,
        }
    }
    fn next_deadline(&self) -> Option<u64> {
        self.steps.first().map(|(at, _)| *at)
    }
}

#[test]
fn states_parse_and_print() {
    assert_eq!(XenbusState::parse(b"4"), Some(XenbusState::Connected));
    assert_eq!(XenbusState::parse(b" 2\n"), Some(XenbusState::InitWait));
    assert_eq!(XenbusState::parse(b"6\0"), Some(XenbusState::Closed));
    assert_eq!(XenbusState::parse(b"9"), None);
    assert_eq!(XenbusState::parse(b"x"), None);
    assert_eq!(XenbusState::parse(b""), None);
    assert_eq!(XenbusState::Initialised.as_u32(), 3);
    for value in 0..=8 {
        assert_eq!(XenbusState::from_u32(value).unwrap().as_u32(), value);
    }
}

#[test]
fn lifecycle_transitions() {
    use XenbusState::*;
    let path = [
        Initialising,
        InitWait,
        Initialised,
        Connected,
        Closing,
        Closed,
        Initialising,
    ];
    let mut state = Unknown;
    for next in path {
        state = state.transition(next).unwrap();
    }
    assert_eq!(
        Connected.transition(Initialised),
        Err(InvalidTransition {
            from: Connected,
            to: Initialised
        })
    );
    assert!(Initialised.transition(InitWait).is_err());
    assert!(Closed.transition(Connected).is_err());
    assert!(Closing.transition(Connected).is_err());
    assert!(Connected
        .transition(Reconfiguring)
        .unwrap()
        .transition(Reconfigured)
        .unwrap()
        .transition(Connected)
        .is_ok());
    assert_eq!(Connected.transition(Connected), Ok(Connected));
    assert!(InitWait.transition(Closing).is_ok());
    assert!(Closed.transition(InitWait).is_ok(), "a restarted backend");
}

#[test]
fn read_and_write_state_nodes() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(6);
    let mut store = guest.xenstore().unwrap();
    let frontend = "device/vsnd/0";
    assert_eq!(
        read_state(&mut store, &mut guest, frontend),
        Ok(XenbusState::Unknown)
    );
    write_state(&mut store, &mut guest, frontend, XenbusState::Initialised).unwrap();
    assert_eq!(
        sim.store_read("/local/domain/6/device/vsnd/0/state")
            .unwrap(),
        b"3"
    );
    assert_eq!(
        read_state(&mut store, &mut guest, frontend),
        Ok(XenbusState::Initialised)
    );
    sim.store_write("/local/domain/6/device/vsnd/0/state", b"bogus")
        .unwrap();
    assert!(matches!(
        read_state(&mut store, &mut guest, frontend),
        Err(XsError::Malformed(_))
    ));
}

#[test]
fn wait_for_the_other_end_through_a_watch() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(6);
    let mut store = guest.xenstore().unwrap();
    let conn = sim.with_core(|core| core.store().connect_local(0));
    sim.add_peer(Box::new(Backend {
        conn,
        steps: vec![
            (10_000_000, XenbusState::Initialising),
            (20_000_000, XenbusState::InitWait),
            (50_000_000, XenbusState::Connected),
        ],
    }));
    let state = wait_for_state(
        &mut store,
        &mut guest,
        BACKEND,
        |s| s == XenbusState::InitWait,
        1_000_000_000,
    )
    .unwrap();
    assert_eq!(state, XenbusState::InitWait);
    assert_eq!(guest.now_ns(), 20_000_000);
    let state = wait_for_state(
        &mut store,
        &mut guest,
        BACKEND,
        |s| s >= XenbusState::Connected,
        1_000_000_000,
    )
    .unwrap();
    assert_eq!(state, XenbusState::Connected);
    assert_eq!(guest.now_ns(), 50_000_000);
    // Already there: returns without waiting.
    let state = wait_for_state(
        &mut store,
        &mut guest,
        BACKEND,
        |s| s == XenbusState::Connected,
        0,
    )
    .unwrap();
    assert_eq!(state, XenbusState::Connected);
    assert_eq!(
        store.queued_watch_events(),
        0,
        "the watch was removed and its events dropped"
    );
}

#[test]
fn wait_for_state_times_out_and_removes_its_watch() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(6);
    let mut store = guest.xenstore().unwrap();
    sim.store_write(&format!("{BACKEND}/state"), b"2").unwrap();
    let start = guest.now_ns();
    let result = wait_for_state(
        &mut store,
        &mut guest,
        BACKEND,
        |s| s == XenbusState::Connected,
        300_000_000,
    );
    assert_eq!(result, Err(XsError::Timeout));
    assert_eq!(guest.now_ns() - start, 300_000_000);
    // The watch is gone: later changes queue nothing.
    sim.store_write(&format!("{BACKEND}/state"), b"4").unwrap();
    store.poll(&mut guest).unwrap();
    guest.wait_until(guest.now_ns() + 1);
    store.poll(&mut guest).unwrap();
    assert_eq!(store.queued_watch_events(), 0);
}
