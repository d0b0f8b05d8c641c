//! Grant table v1 manager: reference allocation, granting and revocation.
//!
//! Implements `grant_table.h` version 1 entries (`grant_entry_v1`: `flags`,
//! `domid`, `frame`) as the granting side: write `domid` and `frame`, a write
//! barrier, then `flags`; revoke by compare-exchanging `flags` to zero, which
//! fails while Xen has `GTF_reading`/`GTF_writing` set because the other
//! domain still maps the page (the check XSA-396 is about). References 0..7
//! are reserved (`GNTTAB_NR_RESERVED_ENTRIES`); allocation starts at 8.
#![forbid(unsafe_code)]

use alloc::vec::Vec;
use core::mem::{size_of, ManuallyDrop};

use xen_abi::grant_table;

use super::barrier::wmb;
use super::{DomId, Gfn, GrantRef, GrantTable, SharedPage, XenError, PAGE_SIZE};

/// `GTF_permit_access`: the grantee may map or copy the frame.
pub const GTF_PERMIT_ACCESS: u16 = grant_table::GTF_permit_access;
/// `GTF_readonly`: the grantee may only read.
pub const GTF_READONLY: u16 = grant_table::GTF_readonly;
/// `GTF_reading`: set by Xen while the grantee maps/reads the frame.
pub const GTF_READING: u16 = grant_table::GTF_reading;
/// `GTF_writing`: set by Xen while the grantee maps the frame writable.
pub const GTF_WRITING: u16 = grant_table::GTF_writing;
/// `GNTTAB_NR_RESERVED_ENTRIES`: the first allocatable reference.
pub const FIRST_FREE_REF: GrantRef = grant_table::GNTTAB_NR_RESERVED_ENTRIES;
/// Entries of `grant_entry_v1` (8 bytes) in one 4 KiB grant frame.
pub const ENTRIES_PER_FRAME: u32 = (PAGE_SIZE / size_of::<grant_table::GrantEntryV1>()) as u32;

/// How often revoke re-tries the compare-exchange when Xen changes the
/// flags under it without the page being mapped (it only does so briefly).
const REVOKE_ATTEMPTS: u32 = 64;

/// The raw v1 entries of the mapped grant frames.
///
/// The guest implements this over the frames it mapped with
/// `XENMEM_add_to_physmap`; the simulator over its own table.
pub trait GrantEntries {
    /// Number of entries in the mapped frames.
    fn capacity(&self) -> u32;
    /// Store `domid` and `frame` of entry `gref` (not its flags).
    fn write_domid_frame(&self, gref: GrantRef, domid: DomId, frame: u32);
    /// Store the `flags` of entry `gref`.
    fn store_flags(&self, gref: GrantRef, flags: u16);
    /// Load the `flags` of entry `gref`.
    fn load_flags(&self, gref: GrantRef) -> u16;
    /// Atomically replace the flags with `new` if they equal `current`;
    /// returns the value found (`Err` when it was not `current`).
    fn compare_exchange_flags(&self, gref: GrantRef, current: u16, new: u16) -> Result<u16, u16>;
}

/// Allocates references and grants/revokes access over [`GrantEntries`].
#[derive(Debug)]
pub struct GrantManager<E: GrantEntries> {
    entries: E,
    free: Vec<GrantRef>,
    in_use: Vec<bool>,
}

impl<E: GrantEntries> GrantManager<E> {
    /// A manager for all entries of `entries`, every reference from 8 free.
    pub fn new(entries: E) -> Self {
        let capacity = entries.capacity();
        // Pop from the end: lowest reference first.
        let free = (FIRST_FREE_REF..capacity).rev().collect();
        let in_use = alloc::vec![false; capacity as usize];
        Self {
            entries,
            free,
            in_use,
        }
    }

    /// The raw entries.
    pub fn entries(&self) -> &E {
        &self.entries
    }

    /// References currently granted.
    pub fn granted_count(&self) -> usize {
        self.in_use.iter().filter(|used| **used).count()
    }

    /// References still free.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Grant `domid` access to `frame`; returns the reference.
    pub fn grant_frame(
        &mut self,
        domid: DomId,
        gfn: Gfn,
        readonly: bool,
    ) -> Result<GrantRef, XenError> {
        let frame = u32::try_from(gfn).map_err(|_| XenError::Invalid)?;
        let gref = self.free.pop().ok_or(XenError::Exhausted)?;
        self.in_use[gref as usize] = true;
        self.entries.write_domid_frame(gref, domid, frame);
        // domid and frame must be visible before the entry becomes valid.
        wmb();
        let flags = GTF_PERMIT_ACCESS | if readonly { GTF_READONLY } else { 0 };
        self.entries.store_flags(gref, flags);
        Ok(gref)
    }

    /// End access through `gref`. Fails with [`XenError::StillMapped`] and
    /// leaves the grant in place while the grantee maps it.
    pub fn end_access(&mut self, gref: GrantRef) -> Result<(), XenError> {
        if !self.in_use.get(gref as usize).copied().unwrap_or(false) {
            return Err(XenError::Invalid);
        }
        let mut flags = self.entries.load_flags(gref);
        for _ in 0..REVOKE_ATTEMPTS {
            if flags & (GTF_READING | GTF_WRITING) != 0 {
                return Err(XenError::StillMapped);
            }
            match self.entries.compare_exchange_flags(gref, flags, 0) {
                Ok(_) => {
                    self.in_use[gref as usize] = false;
                    self.free.push(gref);
                    return Ok(());
                }
                Err(found) => flags = found,
            }
        }
        Err(XenError::StillMapped)
    }

    /// Grant `domid` access to `page`, which the returned [`GrantedPage`]
    /// owns until a successful [`GrantManager::revoke_page`]. On failure the
    /// page comes back with the error.
    pub fn grant_page<P: SharedPage>(
        &mut self,
        page: P,
        domid: DomId,
        readonly: bool,
    ) -> Result<GrantedPage<P>, (P, XenError)> {
        match self.grant_frame(domid, page.gfn(), readonly) {
            Ok(gref) => Ok(GrantedPage {
                page: ManuallyDrop::new(page),
                gref,
                domid,
                readonly,
            }),
            Err(error) => Err((page, error)),
        }
    }

    /// Revoke a granted page and get it back; while the grantee still maps
    /// it, the grant stays and the [`GrantedPage`] comes back with the error.
    pub fn revoke_page<P: SharedPage>(
        &mut self,
        granted: GrantedPage<P>,
    ) -> Result<P, (GrantedPage<P>, XenError)> {
        match self.end_access(granted.gref) {
            Ok(()) => {
                let GrantedPage { page, .. } = granted;
                Ok(ManuallyDrop::into_inner(page))
            }
            Err(error) => Err((granted, error)),
        }
    }
}

impl<E: GrantEntries> GrantTable for GrantManager<E> {
    fn grant(&mut self, domid: DomId, gfn: Gfn, readonly: bool) -> Result<GrantRef, XenError> {
        self.grant_frame(domid, gfn, readonly)
    }

    fn revoke(&mut self, gref: GrantRef) -> Result<(), XenError> {
        self.end_access(gref)
    }
}

/// A page granted to another domain. It owns the page while granted: the
/// page comes back only through a successful revoke
/// ([`GrantedPage::revoke`] / [`GrantManager::revoke_page`]). Dropping a
/// `GrantedPage` leaks the page on purpose: memory the other domain may
/// still map must never be reused.
#[derive(Debug)]
pub struct GrantedPage<P: SharedPage> {
    page: ManuallyDrop<P>,
    gref: GrantRef,
    domid: DomId,
    readonly: bool,
}

impl<P: SharedPage> GrantedPage<P> {
    /// The grant reference to hand to the other domain.
    pub fn gref(&self) -> GrantRef {
        self.gref
    }

    /// The domain the page is granted to.
    pub fn domid(&self) -> DomId {
        self.domid
    }

    /// Whether the grant is read-only.
    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// The page, for reading and writing our side while it is granted.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Revoke through `manager` and get the page back (see
    /// [`GrantManager::revoke_page`]).
    pub fn revoke<E: GrantEntries>(
        self,
        manager: &mut GrantManager<E>,
    ) -> Result<P, (Self, XenError)> {
        manager.revoke_page(self)
    }
}
