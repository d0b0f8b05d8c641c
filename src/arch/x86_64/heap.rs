//! The global allocator: `linked_list_allocator::Heap` over the RAM region
//! chosen at boot from the start-info memory map (see [`super::memmap`]).
//!
//! The heap is behind a lock that is never waited for: with one vCPU a taken
//! lock means an interrupt handler interrupted the allocator, and waiting
//! would deadlock. Such a nested allocation fails (null, i.e. an allocation
//! error) and a nested free leaks its block: do not allocate or free memory
//! in interrupt handlers.

use core::alloc::{GlobalAlloc, Layout};
use core::ops::Range;
use core::ptr::{self, NonNull};

use linked_list_allocator::Heap;

struct GuestAllocator {
    heap: spin::Mutex<Heap>,
}

// SAFETY: allocation and deallocation are delegated to `Heap`, which hands
// out disjoint blocks of the region it was given (or null when it cannot),
// serialised by the lock.
unsafe impl GlobalAlloc for GuestAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.heap.try_lock() {
            Some(mut heap) => heap
                .allocate_first_fit(layout)
                .map_or(ptr::null_mut(), NonNull::as_ptr),
            None => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if let (Some(pointer), Some(mut heap)) = (NonNull::new(pointer), self.heap.try_lock()) {
            // SAFETY: GlobalAlloc's contract: `pointer` came from `alloc` on
            // this allocator with this `layout`.
            unsafe { heap.deallocate(pointer, layout) };
        }
    }
}

#[global_allocator]
static ALLOCATOR: GuestAllocator = GuestAllocator {
    heap: spin::Mutex::new(Heap::empty()),
};

/// Heap figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStatistics {
    /// Start address of the heap.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
    /// Bytes allocated now.
    pub used: u64,
}

/// Hand `region` to the allocator. Only the first call has an effect.
///
/// # Safety
/// `region` must be mapped, writable RAM that nothing else uses, now or
/// later (not the image, boot data, shared or special pages).
pub(crate) unsafe fn init(region: Range<u64>) {
    let mut heap = ALLOCATOR.heap.lock();
    if heap.size() == 0 && region.end > region.start {
        // SAFETY: the caller guarantees the region is ours alone; the heap
        // is still empty, so this is its only initialisation.
        unsafe {
            heap.init(
                region.start as *mut u8,
                (region.end - region.start) as usize,
            )
        };
    }
}

/// Current heap figures.
pub fn statistics() -> HeapStatistics {
    let heap = ALLOCATOR.heap.lock();
    HeapStatistics {
        start: heap.bottom() as u64,
        size: heap.size() as u64,
        used: heap.used() as u64,
    }
}
