//! Other domains' granted pages, mapped into this guest
//! (`GNTTABOP_map_grant_ref` with `GNTMAP_host_map`): what a backend
//! (`crate::serve`) needs to use a frontend's rings and buffers.
//!
//! On an HVM/PVH guest `host_addr` is a guest-physical address: Xen puts
//! the peer's frame into our physical map there. We map at the frames of a
//! window the platform reserved in the hole above RAM
//! (`PlatformLayout::foreign_gfn`), inside the identity map, so nothing of
//! ours is replaced and the frame is reachable at once (Linux maps at
//! ballooned-out frames for the same reason). Which slots are free is
//! [`xen_guest::foreign::ForeignSlots`]; this module only makes the calls.
//!
//! A [`ForeignPage`] unmaps its frame and gives its slot back when dropped
//! (the engine drops its pages when a stream closes or a device goes
//! away). A slot whose unmap failed is never handed out again.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use super::hypercall;
use super::page::XenPage;
use xen_abi::grant_table::{
    GNTMAP_host_map, GNTMAP_readonly, GNTST_okay, GnttabMapGrantRef, GnttabUnmapGrantRef,
};
use xen_guest::foreign::ForeignSlots;
use xen_guest::{DomId, Gfn, GrantRef, SharedPage, XenError, PAGE_SIZE};

/// The window's slots, once [`init`] ran. Only normal code touches it.
static WINDOW: spin::Mutex<Option<ForeignSlots>> = spin::Mutex::new(None);
/// Slots lost because their unmap failed.
static LOST: AtomicU64 = AtomicU64::new(0);

/// A status no Xen operation writes: an entry still holding it was not
/// processed.
const UNTOUCHED: i16 = i16::MAX;

/// Use `frames` frames from `first` (the platform's reserved window) for
/// foreign mappings. Returns false if a window is already set up or it
/// is empty.
pub fn init(first: Gfn, frames: u64) -> bool {
    let mut window = WINDOW.lock();
    if window.is_some() || frames == 0 {
        return false;
    }
    *window = Some(ForeignSlots::new(first, frames));
    true
}

/// `(slots in use, slots in the window, slots lost to failed unmaps)`.
pub fn usage() -> (u64, u64, u64) {
    let window = WINDOW.lock();
    let (in_use, len) = window
        .as_ref()
        .map_or((0, 0), |slots| (slots.in_use(), slots.len()));
    (in_use, len, LOST.load(Ordering::Relaxed))
}

/// A page of another domain mapped at a slot of the window; unmapped (and
/// its slot freed) when dropped.
#[derive(Debug)]
pub struct ForeignPage {
    page: XenPage,
    handle: u32,
}

impl SharedPage for ForeignPage {
    fn gfn(&self) -> Gfn {
        self.page.gfn()
    }
    fn load_u32(&self, offset: usize) -> u32 {
        self.page.load_u32(offset)
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

impl Drop for ForeignPage {
    fn drop(&mut self) {
        let gfn = self.page.gfn();
        // The inner page is never used again (it goes with `self`).
        unmap_slot(gfn, self.handle);
    }
}

/// Unmap the mapping `handle` at `gfn` and free its slot; a slot whose
/// unmap failed stays taken (the peer's page may still be there).
fn unmap_slot(gfn: Gfn, handle: u32) {
    let mut entry = [GnttabUnmapGrantRef {
        host_addr: gfn * PAGE_SIZE as u64,
        dev_bus_addr: 0,
        handle,
        status: UNTOUCHED,
        pad: 0,
    }];
    // SAFETY: called once per mapping, when its only accessor (the
    // `ForeignPage`, or a page never handed out) is gone.
    let result = unsafe { hypercall::grant_table_unmap(&mut entry) };
    if result.is_ok() && entry[0].status == GNTST_okay {
        if let Some(slots) = WINDOW.lock().as_mut() {
            slots.release(gfn);
        }
    } else {
        LOST.fetch_add(1, Ordering::Relaxed);
        log::error!(
            "GNTTABOP_unmap_grant_ref of gfn {gfn:#x} (handle {handle}) failed: {result:?}, status {}: slot kept",
            entry[0].status
        );
    }
}

/// Map `grefs` of domain `dom` in one call, read-only unless `writable`:
/// all or nothing (on any failure every page that did map is unmapped).
pub fn map_many(
    dom: DomId,
    grefs: &[GrantRef],
    writable: bool,
) -> Result<Vec<ForeignPage>, XenError> {
    let frames = WINDOW
        .lock()
        .as_mut()
        .ok_or(XenError::Invalid)?
        .take_many(grefs.len())
        .ok_or(XenError::Exhausted)?;
    let flags = GNTMAP_host_map | if writable { 0 } else { GNTMAP_readonly };
    let mut entries: Vec<GnttabMapGrantRef> = frames
        .iter()
        .zip(grefs)
        .map(|(&gfn, &reference)| GnttabMapGrantRef {
            host_addr: gfn * PAGE_SIZE as u64,
            flags,
            reference,
            dom,
            status: UNTOUCHED,
            handle: 0,
            dev_bus_addr: 0,
        })
        .collect();
    // SAFETY: the frames are slots just taken from the window: free frames
    // above RAM that back nothing and hold no other mapping.
    let result = unsafe { hypercall::grant_table_map(&mut entries) };
    let mut failure = result.err();
    let mut pages = Vec::with_capacity(entries.len());
    for (entry, &gfn) in entries.iter().zip(&frames) {
        if entry.status == GNTST_okay {
            // SAFETY: Xen mapped the peer's frame at `gfn`, a window slot
            // inside the identity map holding no Rust data; the mapping
            // lives until this page's `ForeignPage` is dropped, and the
            // slot has no other owner.
            match unsafe { XenPage::foreign(gfn) } {
                Ok(page) => pages.push(ForeignPage {
                    page,
                    handle: entry.handle,
                }),
                Err(error) => {
                    unmap_slot(gfn, entry.handle);
                    failure.get_or_insert(error);
                }
            }
        } else {
            // Not mapped (refused, or not reached): the slot is free again.
            if let Some(slots) = WINDOW.lock().as_mut() {
                slots.release(gfn);
            }
            let status = if entry.status == UNTOUCHED {
                xen_abi::grant_table::GNTST_general_error
            } else {
                entry.status
            };
            failure.get_or_insert(XenError::Hypercall(i32::from(status)));
        }
    }
    match failure {
        // Dropping what did map unmaps it: nothing stays.
        Some(error) => Err(error),
        None => Ok(pages),
    }
}

/// Map one page (see [`map_many`]).
pub fn map(dom: DomId, gref: GrantRef, writable: bool) -> Result<ForeignPage, XenError> {
    map_many(dom, &[gref], writable)?
        .pop()
        .ok_or(XenError::Invalid)
}
