//! Changes to the boot page tables of `boot/entry.S` (identity map of the
//! low 4 GiB; the first 2 MiB through a table of 4 KiB pages).

use core::arch::asm;
use core::ptr;

extern "C" {
    /// The page table for the first 2 MiB (`boot/entry.S`), 512 entries.
    static mut xensnd_low_page_table: [u64; 512];
}

/// Unmap page 0 so that null-pointer accesses fault. Call after the start
/// info has been copied out: firmware (QEMU's PVH option ROM) may keep boot
/// data in page 0.
pub fn unmap_null_page() {
    // SAFETY: entry 0 of the low page table maps page 0, which holds no Rust
    // data (the image starts at 1 MiB and the start info has been copied);
    // the TLB entry is flushed right after.
    unsafe {
        ptr::write_volatile(&raw mut xensnd_low_page_table[0], 0);
        asm!("invlpg [{}]", in(reg) 0u64, options(nostack, preserves_flags));
    }
}
