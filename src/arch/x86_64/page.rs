//! Guest pages shared with other domains: zeroed 4 KiB heap pages (buffers,
//! rings) and Xen's special pages (the XenStore ring), with the accessors of
//! [`SharedPage`] as volatile loads and stores.
//!
//! The heap is identity-mapped (`boot/entry.S`), so a page's guest frame
//! number is its address >> 12. A heap page goes back to the allocator when
//! its [`XenPage`] is dropped, unless the grant table still lists its frame
//! as granted ([`GrantedFrames`], kept by `super::platform`): memory another
//! domain may still map is never reused (XSA-396). Such a page is leaked
//! and counted ([`leaked_pages`]).

use alloc::alloc::{alloc_zeroed, dealloc};
use alloc::collections::BTreeMap;
use core::alloc::Layout;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::xen::{Gfn, PAGE_SIZE};
use crate::xen::{SharedPage, XenError};

/// The layout of one heap page.
const PAGE_LAYOUT: Layout = match Layout::from_size_align(PAGE_SIZE, PAGE_SIZE) {
    Ok(layout) => layout,
    Err(_) => panic!("page layout"),
};

/// Frames currently granted (frame -> number of live grants). Only normal
/// code touches it (never an interrupt handler), so a plain spin lock is
/// safe on our single vCPU.
static GRANTED: spin::Mutex<BTreeMap<Gfn, u32>> = spin::Mutex::new(BTreeMap::new());
/// Heap pages leaked because they were still granted when dropped.
static LEAKED: AtomicUsize = AtomicUsize::new(0);

/// The registry of granted frames that [`XenPage`]'s drop consults.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantedFrames;

impl GrantedFrames {
    /// Record one more grant of `gfn`.
    pub fn add(gfn: Gfn) {
        *GRANTED.lock().entry(gfn).or_insert(0) += 1;
    }

    /// Record that one grant of `gfn` was revoked.
    pub fn remove(gfn: Gfn) {
        let mut granted = GRANTED.lock();
        if let Some(count) = granted.get_mut(&gfn) {
            *count -= 1;
            if *count == 0 {
                granted.remove(&gfn);
            }
        }
    }

    /// Whether `gfn` has a live grant.
    pub fn contains(gfn: Gfn) -> bool {
        GRANTED.lock().contains_key(&gfn)
    }

    /// Number of frames with live grants.
    pub fn count() -> usize {
        GRANTED.lock().len()
    }
}

/// Heap pages leaked because another domain could still map them.
pub fn leaked_pages() -> usize {
    LEAKED.load(Ordering::Relaxed)
}

/// Where a [`XenPage`]'s memory comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backing {
    /// Allocated from the heap by [`XenPage::allocate`]; freed on drop.
    Heap,
    /// A page Xen provides (XenStore ring): never freed.
    Special,
}

/// One 4 KiB guest page, accessed with volatile loads and stores (the other
/// domain may write it at any time).
#[derive(Debug)]
pub struct XenPage {
    address: NonNull<u8>,
    backing: Backing,
}

impl XenPage {
    /// A zeroed page from the heap.
    pub fn allocate() -> Result<Self, XenError> {
        // SAFETY: the layout has a non-zero size.
        let pointer = unsafe { alloc_zeroed(PAGE_LAYOUT) };
        let address = NonNull::new(pointer).ok_or(XenError::Exhausted)?;
        Ok(Self {
            address,
            backing: Backing::Heap,
        })
    }

    /// The page at frame `gfn`, which Xen provides and keeps mapped for the
    /// life of the domain (e.g. `HVM_PARAM_STORE_PFN`).
    ///
    /// # Safety
    /// `gfn` must be a Xen special page inside the identity map
    /// ([`super::IDENTITY_MAP_LIMIT`]) that no Rust data lives in and that
    /// no other [`XenPage`] wraps (one owner per page).
    pub unsafe fn special(gfn: Gfn) -> Result<Self, XenError> {
        let address = gfn
            .checked_mul(PAGE_SIZE as u64)
            .filter(|address| address.saturating_add(PAGE_SIZE as u64) <= super::IDENTITY_MAP_LIMIT)
            .ok_or(XenError::Invalid)?;
        let address = NonNull::new(address as *mut u8).ok_or(XenError::Invalid)?;
        Ok(Self {
            address,
            backing: Backing::Special,
        })
    }

    /// The page's address (identity-mapped: virtual = physical).
    pub fn address(&self) -> u64 {
        self.address.as_ptr() as u64
    }

    fn check(offset: usize, length: usize) {
        assert!(
            offset
                .checked_add(length)
                .is_some_and(|end| end <= PAGE_SIZE),
            "XenPage access out of range: offset {offset} length {length}"
        );
    }

    fn at(&self, offset: usize) -> *mut u8 {
        // Offsets are checked by the callers (`check`), so this stays inside
        // the page.
        self.address.as_ptr().wrapping_add(offset)
    }
}

impl SharedPage for XenPage {
    fn gfn(&self) -> Gfn {
        self.address() / PAGE_SIZE as u64
    }

    fn load_u32(&self, offset: usize) -> u32 {
        Self::check(offset, 4);
        assert!(offset % 4 == 0, "misaligned u32 load at {offset}");
        // SAFETY: in bounds and aligned (checked); the page is mapped and
        // ours for our lifetime. An atomic load is one access the other
        // domain's concurrent writes cannot tear.
        unsafe { AtomicU32::from_ptr(self.at(offset).cast::<u32>()) }.load(Ordering::Relaxed)
    }

    fn store_u32(&self, offset: usize, value: u32) {
        Self::check(offset, 4);
        assert!(offset % 4 == 0, "misaligned u32 store at {offset}");
        // SAFETY: as in `load_u32`.
        unsafe { AtomicU32::from_ptr(self.at(offset).cast::<u32>()) }
            .store(value, Ordering::Relaxed);
    }

    fn read(&self, offset: usize, out: &mut [u8]) {
        Self::check(offset, out.len());
        for (index, byte) in out.iter_mut().enumerate() {
            // SAFETY: offset + index < PAGE_SIZE (checked); volatile because
            // the other domain may write the page concurrently.
            *byte = unsafe { ptr::read_volatile(self.at(offset + index)) };
        }
    }

    fn write(&self, offset: usize, data: &[u8]) {
        Self::check(offset, data.len());
        for (index, byte) in data.iter().enumerate() {
            // SAFETY: as in `read`.
            unsafe { ptr::write_volatile(self.at(offset + index), *byte) };
        }
    }

    /// Direct access to the page (the zero-copy path): the caller promises
    /// the other domain does not use this range meanwhile (see the trait).
    fn with_bytes_mut<R>(&self, offset: usize, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        Self::check(offset, len);
        // SAFETY: in bounds (checked) and mapped; the range is not in use by
        // the other domain (the trait's contract), and no other Rust
        // reference to it exists: every other accessor is a raw volatile
        // access that cannot run while `f` holds the slice (`&self` methods
        // are not re-entered from `f` by our callers, and interrupt handlers
        // never touch buffer pages).
        let bytes = unsafe { core::slice::from_raw_parts_mut(self.at(offset), len) };
        f(bytes)
    }
}

impl Drop for XenPage {
    fn drop(&mut self) {
        if self.backing != Backing::Heap {
            return;
        }
        if GrantedFrames::contains(self.gfn()) {
            // Another domain may still map it: never reuse (XSA-396).
            LEAKED.fetch_add(1, Ordering::Relaxed);
            log::debug!(
                "page {:#x} dropped while still granted: leaked",
                self.address()
            );
            return;
        }
        // SAFETY: the pointer came from `alloc_zeroed(PAGE_LAYOUT)` in
        // `allocate` and is freed once, here; no grant refers to it any more.
        unsafe { dealloc(self.address.as_ptr(), PAGE_LAYOUT) };
    }
}
