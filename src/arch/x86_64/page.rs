//! Guest pages shared with other domains: zeroed 4 KiB heap pages (buffers,
//! rings) and Xen's special pages (the XenStore ring), with the accessors of
//! [`SharedPage`]: atomic loads and stores of the ring indices, bulk copies
//! (each byte read or written once, fenced off from the compiler) of
//! everything else.
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
use core::sync::atomic::{compiler_fence, AtomicU32, AtomicUsize, Ordering};

use xen_guest::{Gfn, PAGE_SIZE};
use xen_guest::{SharedPage, XenError};

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

/// One 4 KiB guest page, accessed with atomic index loads/stores and fenced
/// bulk copies (the other domain may write it at any time).
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

    /// The frame `gfn` of the foreign-mapping window while another
    /// domain's page is mapped there (`super::foreign::ForeignPage`, which
    /// unmaps it after this page is gone). Never freed by this type.
    ///
    /// # Safety
    /// `gfn` must lie inside the identity map, hold a foreign mapping for
    /// the whole life of the returned page, back no Rust data, and have no
    /// other [`XenPage`] (one owner per page).
    pub unsafe fn foreign(gfn: Gfn) -> Result<Self, XenError> {
        // SAFETY: the caller's guarantees are those of `special` (a frame
        // kept mapped for the page's life, no Rust data, one owner).
        unsafe { Self::special(gfn) }
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
        // SAFETY: `offset..offset + out.len()` is inside the page (checked),
        // which is mapped and ours for our lifetime; `out` is our own memory
        // and cannot overlap a shared page (no Rust reference to a shared
        // page's bytes outlives `with_bytes_mut`). The other domain may
        // write the range meanwhile: one bulk copy reads each byte once
        // into `out`, and the bytes carry no invariant for the copy itself
        // (audio, or ring entries that the caller validates in `out`); a
        // torn or changing value only gives `out` some mix of old and new
        // bytes. The compiler fence below keeps the compiler from turning
        // later reads of `out` into second reads of the page (it may not
        // assume the page unchanged across the fence), so what the caller
        // validates is what it uses: no double fetch.
        unsafe { ptr::copy_nonoverlapping(self.at(offset), out.as_mut_ptr(), out.len()) };
        compiler_fence(Ordering::SeqCst);
    }

    fn write(&self, offset: usize, data: &[u8]) {
        Self::check(offset, data.len());
        // SAFETY: in bounds (checked) and mapped, as in `read`; `data` is
        // our own memory, not a shared page, so the ranges do not overlap.
        // One bulk copy writes each byte once; the peer may read the range
        // meanwhile, but it acts on it only after we publish an index
        // behind a write barrier (`barrier::wmb`). The fence keeps the
        // compiler from dropping or deferring the stores as unobserved.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), self.at(offset), data.len()) };
        compiler_fence(Ordering::SeqCst);
    }

    /// Direct access to the page (the zero-copy path): the caller promises
    /// the other domain does not use this range meanwhile (see the trait).
    fn with_bytes_mut<R>(&self, offset: usize, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        Self::check(offset, len);
        // SAFETY: in bounds (checked) and mapped; the range is not in use by
        // the other domain (the trait's contract), and no other Rust
        // reference to it exists: every other accessor is a raw access
        // (atomic or bulk copy) that cannot run while `f` holds the slice
        // (`&self` methods are not re-entered from `f` by our callers, and
        // interrupt handlers never touch buffer pages).
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
