//! The foreign-mapping window: which guest frames of a reserved range are
//! free to map another domain's granted pages at (`GNTTABOP_map_grant_ref`
//! with `GNTMAP_host_map`, whose `host_addr` is a guest-physical address on
//! an HVM/PVH guest).
//!
//! The platform reserves the range in a hole above RAM (no guest memory is
//! replaced by a mapping there, as Linux uses ballooned-out frames); this
//! is only the bookkeeping: a bitmap of the window's slots, handed out one
//! at a time or as an all-or-nothing batch, and taken back on unmap. A slot
//! whose unmap failed is never given back (the peer's page would still be
//! there), so [`ForeignSlots::release`] is the caller's decision.

use alloc::vec::Vec;

use crate::Gfn;

/// Free and used slots of a window of `len` guest frames from `first`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignSlots {
    first: Gfn,
    len: u64,
    /// One bit per slot, set = in use.
    used: Vec<u64>,
    in_use: u64,
    /// Where the next search starts (slots are reused round-robin, so a
    /// frame just unmapped is not the next one mapped).
    cursor: u64,
}

impl ForeignSlots {
    /// A window of `len` frames from `first`, all free.
    pub fn new(first: Gfn, len: u64) -> Self {
        let words = usize::try_from(len.div_ceil(64)).unwrap_or(0);
        Self {
            first,
            len,
            used: alloc::vec![0; words],
            in_use: 0,
            cursor: 0,
        }
    }

    /// The window's first frame.
    pub fn first(&self) -> Gfn {
        self.first
    }

    /// Slots in the window.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the window has no slots at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots in use.
    pub fn in_use(&self) -> u64 {
        self.in_use
    }

    /// Slots free.
    pub fn free(&self) -> u64 {
        self.len - self.in_use
    }

    fn is_used(&self, index: u64) -> bool {
        self.used[(index / 64) as usize] & (1 << (index % 64)) != 0
    }

    fn set(&mut self, index: u64, used: bool) {
        let word = &mut self.used[(index / 64) as usize];
        if used {
            *word |= 1 << (index % 64);
        } else {
            *word &= !(1 << (index % 64));
        }
    }

    /// One free slot's frame, now in use; `None` if the window is full.
    pub fn take(&mut self) -> Option<Gfn> {
        self.take_many(1).map(|frames| frames[0])
    }

    /// `count` free slots' frames (not necessarily adjacent), now in use;
    /// `None`, with nothing taken, if fewer than `count` are free.
    pub fn take_many(&mut self, count: usize) -> Option<Vec<Gfn>> {
        let wanted = u64::try_from(count).ok()?;
        if wanted > self.free() {
            return None;
        }
        let mut frames = Vec::new();
        frames.try_reserve_exact(count).ok()?;
        let mut index = self.cursor;
        while frames.len() < count {
            if index >= self.len {
                index = 0;
            }
            if !self.is_used(index) {
                self.set(index, true);
                frames.push(self.first + index);
            }
            index += 1;
        }
        self.cursor = index;
        self.in_use += wanted;
        Some(frames)
    }

    /// Give the slot at `gfn` back. Returns false (and changes nothing) if
    /// `gfn` is outside the window or its slot was free.
    pub fn release(&mut self, gfn: Gfn) -> bool {
        let Some(index) = gfn
            .checked_sub(self.first)
            .filter(|&index| index < self.len)
        else {
            return false;
        };
        if !self.is_used(index) {
            return false;
        }
        self.set(index, false);
        self.in_use -= 1;
        true
    }

    /// Whether `gfn` is a slot of this window in use.
    pub fn contains(&self, gfn: Gfn) -> bool {
        gfn.checked_sub(self.first)
            .is_some_and(|index| index < self.len && self.is_used(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_distinct_frames_inside_the_window() {
        let mut slots = ForeignSlots::new(0x1000, 100);
        let mut seen = alloc::collections::BTreeSet::new();
        for _ in 0..100 {
            let gfn = slots.take().unwrap();
            assert!((0x1000..0x1000 + 100).contains(&gfn));
            assert!(seen.insert(gfn), "frame {gfn:#x} handed out twice");
            assert!(slots.contains(gfn));
        }
        assert_eq!(slots.in_use(), 100);
        assert_eq!(slots.free(), 0);
    }

    #[test]
    fn exhaustion_then_release_makes_room() {
        let mut slots = ForeignSlots::new(0x500, 3);
        let a = slots.take().unwrap();
        let b = slots.take().unwrap();
        let c = slots.take().unwrap();
        assert_eq!(slots.take(), None);
        assert_eq!(slots.take_many(1), None);
        assert!(slots.release(b));
        assert!(!slots.contains(b));
        assert_eq!(slots.take(), Some(b));
        assert_eq!(slots.take(), None);
        for gfn in [a, b, c] {
            assert!(slots.release(gfn));
        }
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn a_batch_is_all_or_nothing() {
        let mut slots = ForeignSlots::new(0, 130);
        let first = slots.take_many(100).unwrap();
        assert_eq!(first.len(), 100);
        let before = slots.clone();
        assert_eq!(slots.take_many(31), None);
        assert_eq!(slots, before, "a refused batch took nothing");
        let rest = slots.take_many(30).unwrap();
        assert_eq!(rest.len(), 30);
        let mut all: Vec<Gfn> = first.iter().chain(&rest).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 130);
        assert_eq!(slots.take_many(1), None);
        assert_eq!(slots.take_many(0), Some(Vec::new()));
    }

    #[test]
    fn release_checks_the_window_and_double_release() {
        let mut slots = ForeignSlots::new(0x2000, 64);
        let gfn = slots.take().unwrap();
        assert!(!slots.release(0x1fff));
        assert!(!slots.release(0x2000 + 64));
        assert!(slots.release(gfn));
        assert!(!slots.release(gfn), "a free slot cannot be released again");
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn a_freed_slot_is_not_the_next_one_taken() {
        let mut slots = ForeignSlots::new(0, 8);
        let a = slots.take().unwrap();
        assert!(slots.release(a));
        assert_ne!(slots.take(), Some(a));
    }

    #[test]
    fn batches_wrap_around_and_skip_used_slots() {
        let mut slots = ForeignSlots::new(10, 6);
        let all = slots.take_many(6).unwrap();
        for gfn in [all[1], all[3], all[5]] {
            assert!(slots.release(gfn));
        }
        let mut again = slots.take_many(3).unwrap();
        again.sort_unstable();
        assert_eq!(again, [all[1], all[3], all[5]]);
    }

    #[test]
    fn an_empty_window_has_nothing_to_give() {
        let mut slots = ForeignSlots::new(0x100, 0);
        assert!(slots.is_empty());
        assert_eq!(slots.take(), None);
        assert_eq!(slots.take_many(0), Some(Vec::new()));
    }
}
