//! Deliberate faults for the boot tests (`test=pagefault`,
//! `test=doublefault` on the command line): they prove that the exception
//! reports and the double-fault IST stack work.

use core::hint::black_box;
use core::ptr;

/// An address that is never mapped: beyond the 4 GiB identity map.
pub const UNMAPPED_ADDRESS: u64 = 0x00de_adbe_e000;

/// Read from [`UNMAPPED_ADDRESS`]: raises a page fault (vector 14) with
/// CR2 = that address. The fault handler stops the guest.
pub fn page_fault() -> ! {
    // SAFETY: not sound in the usual sense: the read is meant to fault, and
    // the page-fault handler never returns here (it reports and stops the
    // guest), so no value is ever produced from unmapped memory.
    let value = unsafe { ptr::read_volatile(UNMAPPED_ADDRESS as *const u64) };
    panic!("read of unmapped address {UNMAPPED_ADDRESS:#x} returned {value:#x}")
}

/// Overflow the stack into its unmapped guard page. The page fault cannot be
/// delivered on the exhausted stack, so the CPU raises a double fault
/// (vector 8), which runs on its own IST stack.
pub fn stack_overflow() -> ! {
    let depth = recurse(0);
    panic!("recursion of depth {depth} did not overflow the stack")
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 512];
    frame[(depth % 512) as usize] = depth as u8;
    black_box(&mut frame);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + u64::from(black_box(frame[7]))
}
