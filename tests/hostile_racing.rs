//! Hostile backend on another CPU: it keeps producing events while the
//! frontend consumes them (here: every read of `in_prod` finds one more
//! valid event). One poll must do bounded work and return, not follow the
//! producer forever. The simulator is single-threaded, so the race is
//! modelled by a page that advances `in_prod` whenever it is read.

use std::cell::Cell;
use std::rc::Rc;

use xen_abi::sndif::{XENSND_EVENT_PAGE_IN_PROD, XENSND_IN_RING_OFFS};
use xen_guest::{
    Clock, DomId, EventChannels, Gfn, GrantRef, GrantTable, PageAllocator, Platform, Port,
    SharedPage, XenError,
};
use xensnd_sim::{SimGuest, SimPage, SimXen};
use xensnd_sndif::channel::Channel;

/// A page that, when racing, produces one more event at every `in_prod` read.
#[derive(Debug)]
struct RacingPage {
    page: SimPage,
    racing: Rc<Cell<bool>>,
    produced: Rc<Cell<u64>>,
}

impl SharedPage for RacingPage {
    fn gfn(&self) -> Gfn {
        self.page.gfn()
    }
    fn load_u32(&self, offset: usize) -> u32 {
        let value = self.page.load_u32(offset);
        if offset != XENSND_EVENT_PAGE_IN_PROD || !self.racing.get() {
            return value;
        }
        // The backend writes event `value` (a CUR_POS, ids in sequence,
        // position growing) and publishes it.
        let mut event = [0u8; 64];
        event[..2].copy_from_slice(&(value as u16).to_le_bytes());
        event[8..16].copy_from_slice(&u64::from(value).to_le_bytes());
        self.page
            .write(XENSND_IN_RING_OFFS + (value % 63) as usize * 64, &event);
        self.page.store_u32(offset, value.wrapping_add(1));
        self.produced.set(self.produced.get() + 1);
        value.wrapping_add(1)
    }
    fn store_u32(&self, offset: usize, value: u32) {
        self.page.store_u32(offset, value);
    }
    fn read(&self, offset: usize, out: &mut [u8]) {
        self.page.read(offset, out);
    }
    fn write(&self, offset: usize, data: &[u8]) {
        self.page.write(offset, data);
    }
}

/// SimGuest whose second allocated page (the channel's event page) races.
struct RacingGuest {
    guest: SimGuest,
    allocated: usize,
    racing: Rc<Cell<bool>>,
    produced: Rc<Cell<u64>>,
}

impl EventChannels for RacingGuest {
    fn alloc_unbound(&mut self, remote: DomId) -> Result<Port, XenError> {
        self.guest.alloc_unbound(remote)
    }
    fn notify(&mut self, port: Port) {
        self.guest.notify(port)
    }
    fn unmask(&mut self, port: Port) {
        self.guest.unmask(port)
    }
    fn close(&mut self, port: Port) {
        EventChannels::close(&mut self.guest, port)
    }
    fn take_pending(&mut self, port: Port) -> bool {
        self.guest.take_pending(port)
    }
}

impl GrantTable for RacingGuest {
    fn grant(&mut self, domid: DomId, gfn: Gfn, readonly: bool) -> Result<GrantRef, XenError> {
        self.guest.grant(domid, gfn, readonly)
    }
    fn revoke(&mut self, gref: GrantRef) -> Result<(), XenError> {
        self.guest.revoke(gref)
    }
}

impl PageAllocator for RacingGuest {
    type Page = RacingPage;
    fn alloc_page(&mut self) -> Result<RacingPage, XenError> {
        let page = self.guest.alloc_page()?;
        self.allocated += 1;
        let racing = if self.allocated == 2 {
            Rc::clone(&self.racing)
        } else {
            Rc::new(Cell::new(false))
        };
        Ok(RacingPage {
            page,
            racing,
            produced: Rc::clone(&self.produced),
        })
    }
}

impl Clock for RacingGuest {
    fn now_ns(&self) -> u64 {
        self.guest.now_ns()
    }
    fn wait_until(&mut self, deadline_ns: u64) {
        self.guest.wait_until(deadline_ns)
    }
}

impl Platform for RacingGuest {}

#[test]
fn hostile_backend_producing_events_as_fast_as_they_are_read_cannot_hold_poll() {
    let sim = SimXen::new();
    let racing = Rc::new(Cell::new(false));
    let produced = Rc::new(Cell::new(0));
    let mut guest = RacingGuest {
        guest: sim.add_guest(5),
        allocated: 0,
        racing: Rc::clone(&racing),
        produced: Rc::clone(&produced),
    };
    let mut channel = Channel::new(&mut guest, 0).unwrap();
    racing.set(true);
    // Each poll returns after a bounded number of events.
    for round in 1..=3u64 {
        channel.poll(&mut guest).unwrap();
        let stats = channel.stats();
        assert!(
            stats.events <= round * 64,
            "poll followed the producer: {stats:?}"
        );
        assert!(stats.events >= round, "{stats:?}");
    }
    // Every event was valid: positions were tracked, no gap, no overrun.
    let stats = channel.stats();
    assert_eq!(
        stats.event_gaps + stats.event_overruns + stats.bad_positions,
        0
    );
    assert_eq!(channel.position().updates, stats.events);
    racing.set(false);
    assert!(channel.close(&mut guest).is_empty());
    assert_eq!(sim.granted_refs(5), Vec::<u32>::new());
}
