//! The grant table (v1) frames: mapped with `XENMEM_add_to_physmap`
//! (`XENMAPSPACE_grant_table`, one frame per index) at consecutive free
//! guest frames, and accessed as [`GrantEntries`] (`grant_table.h`,
//! `struct grant_entry_v1`).
//!
//! `flags` is the word Xen updates concurrently (`GTF_reading` /
//! `GTF_writing` while the grantee maps the frame), so it is accessed with
//! 16-bit atomics and revoked with a 16-bit `cmpxchg`.

use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicU16, AtomicU32, Ordering};

use super::hypercall;
use xen_abi::grant_table::GrantEntryV1;
use xen_abi::memory::XENMAPSPACE_grant_table;
use xen_guest::grant::{GrantEntries, ENTRIES_PER_FRAME};
use xen_guest::{DomId, Gfn, GrantRef, XenError, PAGE_SIZE};

/// Frames we map at most (8 x 512 = 4096 entries: enough for a 16 MiB
/// buffer per stream plus rings).
pub const MAX_FRAMES: u32 = 8;

const FLAGS: usize = offset_of!(GrantEntryV1, flags);
const DOMID: usize = offset_of!(GrantEntryV1, domid);
const FRAME: usize = offset_of!(GrantEntryV1, frame);
const ENTRY_SIZE: usize = size_of::<GrantEntryV1>();

/// The mapped grant frames: `frames` pages from `first_gfn` on.
#[derive(Debug)]
pub struct GrantFrames {
    address: usize,
    frames: u32,
}

impl GrantFrames {
    /// Ask Xen how many grant frames we may have (`GNTTABOP_query_size`)
    /// and map `min(maximum, wanted)` of them from `first_gfn` on. Returns
    /// the frames mapped (the first `mapped` entries of the range are used;
    /// mapping stops at the first failure if at least one frame worked).
    ///
    /// # Safety
    /// The `wanted` frames from `first_gfn` must be free guest frames (no
    /// RAM the guest uses) inside the identity map, used for nothing else
    /// afterwards. Call once.
    pub unsafe fn map(first_gfn: Gfn, wanted: u32) -> Result<Self, XenError> {
        let (_, maximum) = hypercall::grant_table_query_size()?;
        let count = maximum.min(wanted);
        if count == 0 {
            return Err(XenError::Exhausted);
        }
        let mut mapped = 0;
        for index in 0..count {
            // SAFETY: the caller vouches for the frames first_gfn..+wanted;
            // index < count <= wanted.
            let result = unsafe {
                hypercall::add_to_physmap(
                    XENMAPSPACE_grant_table,
                    u64::from(index),
                    first_gfn + u64::from(index),
                )
            };
            match result {
                Ok(()) => mapped += 1,
                Err(error) if mapped == 0 => return Err(error),
                Err(error) => {
                    log::warn!("grant frame {index}: add_to_physmap failed: {error:?}");
                    break;
                }
            }
        }
        Ok(Self {
            address: first_gfn as usize * PAGE_SIZE,
            frames: mapped,
        })
    }

    /// Number of mapped frames.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    fn entry(&self, gref: GrantRef, field: usize) -> usize {
        assert!(
            gref < self.capacity(),
            "grant reference {gref} outside the mapped table"
        );
        self.address + gref as usize * ENTRY_SIZE + field
    }

    fn flags(&self, gref: GrantRef) -> &AtomicU16 {
        // SAFETY: the entry lies in a mapped grant frame (checked in
        // `entry`), `flags` is 2-byte aligned, and every access to it is
        // atomic; the frames stay mapped for the life of the domain.
        unsafe { AtomicU16::from_ptr(self.entry(gref, FLAGS) as *mut u16) }
    }
}

impl GrantEntries for GrantFrames {
    fn capacity(&self) -> u32 {
        self.frames * ENTRIES_PER_FRAME
    }

    fn write_domid_frame(&self, gref: GrantRef, domid: DomId, frame: u32) {
        // SAFETY: see `flags`; `domid` is 2-byte aligned.
        unsafe { AtomicU16::from_ptr(self.entry(gref, DOMID) as *mut u16) }
            .store(domid, Ordering::Relaxed);
        // SAFETY: see `flags`; `frame` is 4-byte aligned.
        unsafe { AtomicU32::from_ptr(self.entry(gref, FRAME) as *mut u32) }
            .store(frame, Ordering::Relaxed);
    }

    fn store_flags(&self, gref: GrantRef, flags: u16) {
        // Release: domid and frame are visible before the flags (the
        // GrantManager also issues wmb() before calling this).
        self.flags(gref).store(flags, Ordering::Release);
    }

    fn load_flags(&self, gref: GrantRef) -> u16 {
        self.flags(gref).load(Ordering::Acquire)
    }

    fn compare_exchange_flags(&self, gref: GrantRef, current: u16, new: u16) -> Result<u16, u16> {
        self.flags(gref)
            .compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst)
    }
}
