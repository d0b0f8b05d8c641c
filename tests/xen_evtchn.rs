//! Event channels: the two-level scan and the simulated channels.

use std::cell::{Cell, RefCell};

use xen_guest::evtchn::{scan, EventBitmaps, EventDispatcher, MAX_PORTS};
use xen_guest::{EventChannels, XenError};
use xensnd_sim::{PortState, SimXen};

/// Plain bitmaps for the pure scan.
struct Bitmaps {
    upcall: Cell<bool>,
    selector: Cell<u64>,
    pending: RefCell<[u64; 64]>,
    mask: RefCell<[u64; 64]>,
}

impl Default for Bitmaps {
    fn default() -> Self {
        Self {
            upcall: Cell::new(false),
            selector: Cell::new(0),
            pending: RefCell::new([0; 64]),
            mask: RefCell::new([0; 64]),
        }
    }
}

impl Bitmaps {
    fn raise(&self, port: u32) {
        self.pending.borrow_mut()[(port / 64) as usize] |= 1 << (port % 64);
        self.selector.set(self.selector.get() | 1 << (port / 64));
        self.upcall.set(true);
    }
    fn mask(&self, port: u32) {
        self.mask.borrow_mut()[(port / 64) as usize] |= 1 << (port % 64);
    }
}

impl EventBitmaps for Bitmaps {
    fn clear_upcall_pending(&self) {
        self.upcall.set(false);
    }
    fn take_pending_selector(&self) -> u64 {
        self.selector.replace(0)
    }
    fn pending_word(&self, word: usize) -> u64 {
        self.pending.borrow()[word]
    }
    fn mask_word(&self, word: usize) -> u64 {
        self.mask.borrow()[word]
    }
    fn clear_pending_bits(&self, word: usize, bits: u64) {
        self.pending.borrow_mut()[word] &= !bits;
    }
}

#[test]
fn scan_fires_pending_unmasked_ports_in_order_and_clears_them() {
    let bitmaps = Bitmaps::default();
    for port in [4095, 1, 63, 64, 700, 130] {
        bitmaps.raise(port);
    }
    bitmaps.mask(700);
    let mut fired = Vec::new();
    assert_eq!(scan(&bitmaps, |port| fired.push(port)), 5);
    assert_eq!(fired, [1, 63, 64, 130, 4095]);
    assert!(!bitmaps.upcall.get());
    assert_eq!(bitmaps.selector.get(), 0);
    // The masked port stays pending; the others are cleared.
    assert_eq!(bitmaps.pending.borrow()[700 / 64], 1 << (700 % 64));
    assert_eq!(
        bitmaps.pending.borrow().iter().filter(|w| **w != 0).count(),
        1
    );
    // A second scan with nothing new fires nothing.
    assert_eq!(scan(&bitmaps, |_| panic!("nothing pending")), 0);
}

#[test]
fn a_selector_bit_with_only_masked_ports_fires_nothing() {
    let bitmaps = Bitmaps::default();
    bitmaps.raise(5);
    bitmaps.mask(5);
    assert_eq!(scan(&bitmaps, |_| panic!("masked")), 0);
    assert_eq!(bitmaps.pending.borrow()[0], 1 << 5);
}

static HANDLED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn count_handler(port: u32) {
    HANDLED.fetch_add(port, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn dispatcher_records_ports_and_calls_handlers() {
    let bitmaps = Bitmaps::default();
    let mut dispatcher = EventDispatcher::new();
    dispatcher.register(77, count_handler).unwrap();
    assert_eq!(
        dispatcher.register(MAX_PORTS, count_handler),
        Err(XenError::Invalid)
    );
    bitmaps.raise(77);
    bitmaps.raise(3);
    assert_eq!(dispatcher.upcall(&bitmaps), 2);
    assert_eq!(HANDLED.load(std::sync::atomic::Ordering::SeqCst), 77);
    assert!(dispatcher.any_pending());
    assert!(dispatcher.take_pending(3));
    assert!(!dispatcher.take_pending(3));
    assert!(dispatcher.take_pending(77));
    assert!(!dispatcher.any_pending());
    assert!(!dispatcher.take_pending(MAX_PORTS + 1));
}

#[test]
fn simulated_channel_between_guest_and_backend() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(2);
    let port = guest.alloc_unbound(0).unwrap();
    assert_eq!(
        sim.with_core(|core| core.evtchn_state(2, port)),
        Some(PortState::Unbound { remote: 0 })
    );
    let backend_port = sim
        .with_core(|core| core.evtchn_bind_interdomain(0, 2, port))
        .unwrap();
    // A second bind to the same port fails.
    assert!(sim
        .with_core(|core| core.evtchn_bind_interdomain(0, 2, port))
        .is_err());

    guest.notify(port);
    assert!(sim.with_core(|core| core.evtchn_take_pending(0, backend_port)));
    assert!(!sim.with_core(|core| core.evtchn_take_pending(0, backend_port)));

    assert!(!guest.take_pending(port));
    sim.with_core(|core| core.evtchn_send(0, backend_port))
        .unwrap();
    sim.with_core(|core| core.evtchn_send(0, backend_port))
        .unwrap();
    assert!(guest.take_pending(port));
    assert!(
        !guest.take_pending(port),
        "two sends before a scan coalesce"
    );

    // Masked: the event waits in the pending bitmap until unmask.
    guest.mask(port);
    sim.with_core(|core| core.evtchn_send(0, backend_port))
        .unwrap();
    assert!(!guest.take_pending(port));
    guest.unmask(port);
    assert!(guest.take_pending(port));

    // Close: the backend's end becomes unbound; sends are dropped.
    guest.close(port);
    assert_eq!(
        sim.with_core(|core| core.evtchn_state(0, backend_port)),
        Some(PortState::Unbound { remote: 2 })
    );
    sim.with_core(|core| core.evtchn_send(0, backend_port))
        .unwrap();
    assert!(!guest.take_pending(port));
    assert!(sim.with_core(|core| core.evtchn_send(2, port)).is_err());
}

#[test]
fn loopback_channel_within_one_domain() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(4);
    let first = guest.alloc_unbound(4).unwrap();
    let second = guest.bind_interdomain(4, first).unwrap();
    assert_ne!(first, second);
    guest.notify(second);
    assert!(guest.take_pending(first));
    assert!(!guest.take_pending(second));
    guest.notify(first);
    assert!(guest.take_pending(second));
}

#[test]
fn ports_are_allocated_per_domain_and_reused_after_close() {
    let sim = SimXen::new();
    let mut one = sim.add_guest(1);
    let mut two = sim.add_guest(2);
    // Port 1 is each guest's store channel.
    assert_eq!(one.store_port(), 1);
    assert_eq!(two.store_port(), 1);
    let a = one.alloc_unbound(0).unwrap();
    let b = two.alloc_unbound(0).unwrap();
    assert_eq!((a, b), (2, 2));
    one.close(a);
    assert_eq!(one.alloc_unbound(0).unwrap(), a);
}

#[test]
fn callback_via_vector_encodes_type_2() {
    assert_eq!(
        xen_guest::evtchn::callback_via_vector(0xf3),
        0x0200_0000_0000_00f3
    );
}
