//! Grant manager against the simulated grant table.

use xen_guest::grant::{
    GrantEntries, GrantManager, FIRST_FREE_REF, GTF_PERMIT_ACCESS, GTF_READING, GTF_READONLY,
    GTF_WRITING,
};
use xen_guest::{GrantTable, PageAllocator, SharedPage, XenError};
use xensnd_sim::SimXen;

const GUEST: u16 = 3;
const BACKEND: u16 = 0;

#[test]
fn refs_start_at_8_and_are_reused_after_revoke() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(GUEST);
    let first = guest.grant(BACKEND, 0x2000, false).unwrap();
    let second = guest.grant(BACKEND, 0x2001, true).unwrap();
    assert_eq!(first, FIRST_FREE_REF);
    assert_eq!(second, FIRST_FREE_REF + 1);
    assert_eq!(sim.granted_refs(GUEST), [8, 9]);
    let entry = sim
        .with_core(|core| core.grant_entry(GUEST, second))
        .unwrap();
    assert_eq!(entry.flags, GTF_PERMIT_ACCESS | GTF_READONLY);
    assert_eq!((entry.domid, entry.frame), (BACKEND, 0x2001));

    guest.revoke(first).unwrap();
    assert_eq!(sim.granted_refs(GUEST), [9]);
    assert_eq!(guest.grant(BACKEND, 0x2002, false).unwrap(), first);
    // Revoking twice, or something never granted, is our bug: Invalid.
    guest.revoke(second).unwrap();
    assert_eq!(guest.revoke(second), Err(XenError::Invalid));
    assert_eq!(guest.revoke(3), Err(XenError::Invalid));
    assert_eq!(guest.revoke(100_000), Err(XenError::Invalid));
}

#[test]
fn revoke_while_mapped_fails_and_the_page_stays_owned() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(GUEST);
    let page = guest.alloc_page().unwrap();
    page.write(0, b"hello backend");
    let granted = guest.grant_page(page, BACKEND, false).unwrap();
    let gref = granted.gref();

    // The backend maps it and sees our bytes; Xen marks the entry in use.
    let mapping = sim.map_grant(BACKEND, GUEST, gref, true).unwrap();
    let mut seen = [0u8; 13];
    mapping.page.read(0, &mut seen);
    assert_eq!(&seen, b"hello backend");
    let flags = sim
        .with_core(|core| core.grant_entry(GUEST, gref))
        .unwrap()
        .flags;
    assert_eq!(
        flags & (GTF_READING | GTF_WRITING),
        GTF_READING | GTF_WRITING
    );

    // XSA-396: revoking now must fail and keep the grant.
    let granted = match guest.revoke_page(granted) {
        Ok(_) => panic!("revoked a page the backend still maps"),
        Err((granted, error)) => {
            assert_eq!(error, XenError::StillMapped);
            granted
        }
    };
    assert_eq!(sim.granted_refs(GUEST), [gref]);
    // The raw trait path refuses too.
    assert_eq!(guest.revoke(gref), Err(XenError::StillMapped));
    // The backend can still use it, and writes reach our page.
    mapping.page.write(100, b"reply");
    let mut reply = [0u8; 5];
    granted.page().read(100, &mut reply);
    assert_eq!(&reply, b"reply");

    sim.unmap_grant(mapping.handle).unwrap();
    let page = granted.revoke(guest.grants()).unwrap();
    assert!(sim.granted_refs(GUEST).is_empty());
    // After revocation the backend cannot map it again.
    assert!(sim.map_grant(BACKEND, GUEST, gref, false).is_err());
    page.write(0, b"reused");
}

#[test]
fn read_only_mapping_also_blocks_revoke_until_every_mapping_is_gone() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(GUEST);
    let page = guest.alloc_page().unwrap();
    let granted = guest.grant_page(page, BACKEND, true).unwrap();
    let gref = granted.gref();
    assert!(granted.readonly());
    assert_eq!(
        sim.map_grant(BACKEND, GUEST, gref, true).unwrap_err(),
        XenError::Hypercall(xensnd_sim::GNTST_PERMISSION_DENIED)
    );
    let first = sim.map_grant(BACKEND, GUEST, gref, false).unwrap();
    let second = sim.map_grant(BACKEND, GUEST, gref, false).unwrap();
    sim.unmap_grant(first.handle).unwrap();
    let (granted, error) = guest.revoke_page(granted).unwrap_err();
    assert_eq!(error, XenError::StillMapped);
    sim.unmap_grant(second.handle).unwrap();
    assert!(sim.unmap_grant(second.handle).is_err());
    guest.revoke_page(granted).unwrap();
}

#[test]
fn only_the_named_domain_may_map() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(GUEST);
    let _other = sim.add_guest(7);
    let page = guest.alloc_page().unwrap();
    let granted = guest.grant_page(page, BACKEND, false).unwrap();
    assert!(sim.map_grant(7, GUEST, granted.gref(), false).is_err());
    assert!(sim.map_grant(BACKEND, GUEST, 5000, false).is_err());
    guest.revoke_page(granted).unwrap();
}

#[test]
fn exhaustion_is_reported_and_frames_above_32_bits_rejected() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest_with(
        GUEST,
        xensnd_sim::GuestConfig {
            grant_frames: 1,
            ..Default::default()
        },
    );
    assert_eq!(guest.grants().free_count(), 512 - 8);
    let refs: Vec<u32> = (0..504)
        .map(|i| guest.grant(BACKEND, 0x3000 + i, false).unwrap())
        .collect();
    assert_eq!(refs.first(), Some(&8));
    assert_eq!(refs.last(), Some(&511));
    assert_eq!(guest.grant(BACKEND, 1, false), Err(XenError::Exhausted));
    guest.revoke(300).unwrap();
    assert_eq!(guest.grant(BACKEND, 1, false), Ok(300));
    let page = xensnd_sim::SimPage::new(0x10);
    assert!(matches!(
        guest.grant_page(page, BACKEND, false),
        Err((_, XenError::Exhausted))
    ));
    guest.revoke(300).unwrap();
    let page = xensnd_sim::SimPage::new(1 << 40);
    let (page, error) = guest.grant_page(page, BACKEND, false).unwrap_err();
    assert_eq!(error, XenError::Invalid);
    assert_eq!(page.gfn(), 1 << 40);
    assert_eq!(guest.grants().granted_count(), 503);
}

/// Entries whose flags Xen changes concurrently: the first compare-exchange
/// loses a race, the revoke retries and succeeds.
struct RacyEntries {
    flags: std::cell::Cell<u16>,
    races: std::cell::Cell<u32>,
}

impl GrantEntries for RacyEntries {
    fn capacity(&self) -> u32 {
        16
    }
    fn write_domid_frame(&self, _gref: u32, _domid: u16, _frame: u32) {}
    fn store_flags(&self, _gref: u32, flags: u16) {
        self.flags.set(flags);
    }
    fn load_flags(&self, _gref: u32) -> u16 {
        self.flags.get()
    }
    fn compare_exchange_flags(&self, _gref: u32, current: u16, new: u16) -> Result<u16, u16> {
        if self.races.get() > 0 {
            self.races.set(self.races.get() - 1);
            // Xen touched the entry meanwhile (e.g. a transient copy).
            return Err(current | 0x100);
        }
        if self.flags.get() == current {
            self.flags.set(new);
            Ok(current)
        } else {
            Err(self.flags.get())
        }
    }
}

#[test]
fn revoke_retries_when_the_flags_change_under_it() {
    let entries = RacyEntries {
        flags: std::cell::Cell::new(0),
        races: std::cell::Cell::new(0),
    };
    let mut manager = GrantManager::new(entries);
    let gref = manager.grant(0, 1, false).unwrap();
    manager.entries().races.set(1);
    // The stale value seen after the race does not match: one more retry.
    manager.entries().flags.set(GTF_PERMIT_ACCESS | 0x100);
    manager.revoke(gref).unwrap();
    assert_eq!(manager.entries().flags.get(), 0);
}

#[test]
fn dropping_a_granted_page_leaves_the_grant_in_place() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(GUEST);
    let page = guest.alloc_page().unwrap();
    let gref = {
        let granted = guest.grant_page(page, BACKEND, false).unwrap();
        assert_eq!(granted.domid(), BACKEND);
        granted.gref()
        // `granted` goes out of scope here without a revoke.
    };
    // The page is leaked on purpose, never revoked behind the backend's back.
    assert_eq!(sim.granted_refs(GUEST), [gref]);
    assert!(sim.map_grant(BACKEND, GUEST, gref, true).is_ok());
    assert_eq!(guest.grants().granted_count(), 1);
}
