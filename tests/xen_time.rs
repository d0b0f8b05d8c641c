//! PV clock arithmetic, the version protocol, timer ordering, simulated time.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use xen_guest::time::{
    read_clock_ns, scale_delta, MonotonicClock, PvClockSnapshot, PvClockSource, TimerQueue,
};
use xen_guest::Clock;
use xensnd_sim::{SimCore, SimPeer, SimXen};

fn reference(delta: u64, mul: u32, shift: i8) -> u64 {
    let shifted = if shift < 0 {
        delta >> -shift
    } else {
        delta << shift
    };
    ((u128::from(shifted) * u128::from(mul)) >> 32) as u64
}

#[test]
fn worked_examples() {
    // mul 0.5, no shift: a 2 GHz TSC.
    let clock = PvClockSnapshot {
        tsc_timestamp: 500,
        system_time: 1000,
        tsc_to_system_mul: 0x8000_0000,
        tsc_shift: 0,
    };
    assert_eq!(clock.ns_at(2500), 2000);
    assert_eq!(clock.ns_at(500), 1000);
    // A TSC behind the timestamp counts as no time passed.
    assert_eq!(clock.ns_at(100), 1000);
    // 3 GHz: shift -1, mul 2/3: one second of ticks is 999 999 999 ns
    // (1.5e9 * 0xAAAAAAAA / 2^32 = 999999999.77, truncated).
    assert_eq!(scale_delta(3_000_000_000, 0xAAAA_AAAA, -1), 999_999_999);
    // Left shift: 2 * 0.25 = 0.5 ns per tick.
    assert_eq!(scale_delta(1_000_000, 0x4000_0000, 1), 500_000);
    // A large delta with the largest multiplier does not overflow:
    // 2^40 * (2^32 - 1) / 2^32 = 2^40 - 2^8.
    assert_eq!(scale_delta(1 << 40, u32::MAX, 0), (1 << 40) - 256);
    // An hour at 1 GHz (mul 1.0 is not representable; Xen uses shift +1,
    // mul 0.5).
    assert_eq!(
        scale_delta(3_600_000_000_000, 0x8000_0000, 1),
        3_600_000_000_000
    );
}

#[test]
fn scale_matches_a_128_bit_reference() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state
    };
    for _ in 0..10_000 {
        let delta = next() >> (next() % 40);
        let mul = (next() >> 32) as u32;
        let shift = (next() % 8) as i8 - 4;
        let shifted_ok = shift <= 0 || delta.leading_zeros() >= shift as u32;
        if !shifted_ok {
            continue;
        }
        assert_eq!(
            scale_delta(delta, mul, shift),
            reference(delta, mul, shift),
            "{delta} {mul} {shift}"
        );
    }
}

/// A source whose version changes while being read a few times.
struct Flaky {
    versions: RefCell<VecDeque<u32>>,
    reads: Cell<u32>,
    fields: Cell<PvClockSnapshot>,
    tsc: Cell<u64>,
}

impl PvClockSource for Flaky {
    fn version(&self) -> u32 {
        self.reads.set(self.reads.get() + 1);
        let mut versions = self.versions.borrow_mut();
        if versions.len() > 1 {
            versions.pop_front().unwrap()
        } else {
            versions[0]
        }
    }
    fn fields(&self) -> PvClockSnapshot {
        let fields = self.fields.get();
        // Each read sees the hypervisor half-way through: bump the time.
        let mut next = fields;
        next.system_time += 1_000_000;
        self.fields.set(next);
        fields
    }
    fn rdtsc(&self) -> u64 {
        self.tsc.get()
    }
}

#[test]
fn version_protocol_retries_while_odd_or_changed() {
    let source = Flaky {
        // Read 1: odd (update in progress). Read 2: 2 then 4 (changed).
        // Read 3: 4 and 4: consistent.
        versions: RefCell::new(VecDeque::from([1, 1, 2, 4, 4])),
        reads: Cell::new(0),
        fields: Cell::new(PvClockSnapshot {
            tsc_timestamp: 0,
            system_time: 0,
            tsc_to_system_mul: 0x8000_0000,
            tsc_shift: 0,
        }),
        tsc: Cell::new(2000),
    };
    // The third snapshot has system_time 2 ms.
    assert_eq!(read_clock_ns(&source), 2_000_000 + 1000);
    assert_eq!(source.reads.get(), 6);
}

struct Backwards {
    times: RefCell<VecDeque<u64>>,
}

impl PvClockSource for Backwards {
    fn version(&self) -> u32 {
        2
    }
    fn fields(&self) -> PvClockSnapshot {
        PvClockSnapshot {
            tsc_timestamp: 0,
            system_time: self.times.borrow_mut().pop_front().unwrap(),
            tsc_to_system_mul: 0,
            tsc_shift: 0,
        }
    }
    fn rdtsc(&self) -> u64 {
        0
    }
}

#[test]
fn monotonic_clock_never_goes_back() {
    let source = Backwards {
        times: RefCell::new(VecDeque::from([100, 90, 150, 149])),
    };
    let mut clock = MonotonicClock::new();
    let seen: Vec<u64> = (0..4).map(|_| clock.now_ns(&source)).collect();
    assert_eq!(seen, [100, 100, 150, 150]);
}

#[test]
fn timers_fire_in_deadline_order_with_ties_in_schedule_order() {
    let mut queue = TimerQueue::new();
    let late = queue.schedule(30);
    let early = queue.schedule(10);
    let middle = queue.schedule(20);
    let tie = queue.schedule(10);
    assert_eq!(queue.len(), 4);
    assert_eq!(queue.next_deadline(), Some(10));
    assert_eq!(queue.pop_expired(9), None);
    assert_eq!(queue.pop_expired(15), Some(early));
    assert_eq!(queue.pop_expired(15), Some(tie));
    assert_eq!(queue.pop_expired(15), None);
    assert!(queue.cancel(middle));
    assert!(!queue.cancel(middle));
    assert!(!queue.is_scheduled(middle));
    assert_eq!(queue.next_deadline(), Some(30));
    assert_eq!(queue.pop_expired(u64::MAX), Some(late));
    assert!(queue.is_empty());
    assert_eq!(queue.next_deadline(), None);
}

struct Alarm {
    at: u64,
    rang: bool,
}

impl SimPeer for Alarm {
    fn step(&mut self, core: &mut SimCore) -> bool {
        if !self.rang && core.now_ns() >= self.at {
            self.rang = true;
            return true;
        }
        false
    }
    fn next_deadline(&self) -> Option<u64> {
        (!self.rang).then_some(self.at)
    }
}

#[test]
fn simulated_wait_jumps_to_the_earliest_deadline() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(1);
    assert_eq!(guest.now_ns(), 0);
    guest.wait_until(5_000);
    assert_eq!(guest.now_ns(), 5_000);
    sim.add_peer(Box::new(Alarm {
        at: 7_000,
        rang: false,
    }));
    guest.wait_until(1_000_000);
    assert_eq!(guest.now_ns(), 7_000, "a peer timer comes first");
    guest.wait_until(1_000_000);
    // The peer ran (progress): a spurious wake-up, time unchanged.
    assert_eq!(guest.now_ns(), 7_000);
    guest.wait_until(1_000_000);
    assert_eq!(guest.now_ns(), 1_000_000);
    // A deadline in the past does not move time back.
    guest.wait_until(10);
    assert_eq!(guest.now_ns(), 1_000_000);
}

#[test]
fn an_event_wakes_the_waiter_early() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(1);
    let mut store = guest.xenstore().unwrap();
    let id = store
        .submit(
            &mut guest,
            xen_guest::xenstore::MessageType::Read,
            xen_guest::xenstore::TxId::NONE,
            b"/local\0",
        )
        .unwrap();
    // xenstored answers: the wait returns at once, time does not move.
    guest.wait_until(1_000_000_000);
    assert_eq!(guest.now_ns(), 0);
    assert_eq!(store.wait_reply(&mut guest, id).unwrap(), b"");
}

#[test]
fn sleep_waits_out_spurious_wake_ups() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(1);
    sim.add_peer(Box::new(Alarm {
        at: 3_000,
        rang: false,
    }));
    xen_guest::time::sleep_ns(&mut guest, 10_000);
    assert_eq!(guest.now_ns(), 10_000);
    xen_guest::time::sleep_until(&mut guest, 5);
    assert_eq!(guest.now_ns(), 10_000);
}
