//! The long-mode GDT and TSS (Intel SDM vol. 3, 3.4.5 and 8.7).
//!
//! Replaces the boot GDT of `boot/entry.S` with one that keeps its selectors
//! (code 0x08, data 0x10) and adds a 64-bit TSS (0x18) whose IST slot 1 is a
//! separate stack for the double-fault handler, so a stack overflow still
//! gets reported.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// Kernel code segment selector.
pub const CODE_SELECTOR: u16 = 0x08;
/// Kernel data segment selector.
pub const DATA_SELECTOR: u16 = 0x10;
/// TSS selector.
pub const TSS_SELECTOR: u16 = 0x18;
/// IST slot (1-based, as in the IDT gate) of the double-fault stack.
pub const DOUBLE_FAULT_IST: u8 = 1;

/// 64-bit task-state segment.
#[repr(C, packed(4))]
struct TaskStateSegment {
    reserved0: u32,
    privilege_stacks: [u64; 3],
    reserved1: u64,
    interrupt_stacks: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    io_map_base: u16,
}
const _: () = assert!(size_of::<TaskStateSegment>() == 104);

#[repr(C, align(16))]
struct Tables {
    gdt: [u64; 5],
    tss: TaskStateSegment,
}

/// The GDT and TSS, written once by [`init`] and afterwards only by the CPU
/// (LTR sets the busy bit of the TSS descriptor).
struct TablesCell(UnsafeCell<Tables>);

// SAFETY: the tables are written only by `init`, which runs once on the boot
// CPU before anything reads them (guarded by INITIALISED); there is one vCPU.
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(Tables {
    gdt: [0; 5],
    tss: TaskStateSegment {
        reserved0: 0,
        privilege_stacks: [0; 3],
        reserved1: 0,
        interrupt_stacks: [0; 7],
        reserved2: 0,
        reserved3: 0,
        io_map_base: size_of::<TaskStateSegment>() as u16,
    },
}));

static INITIALISED: AtomicBool = AtomicBool::new(false);

extern "C" {
    /// Top of the double-fault stack (`boot/entry.S`).
    static xensnd_double_fault_stack_top: u8;
}

#[repr(C, packed)]
struct DescriptorTablePointer {
    limit: u16,
    base: u64,
}

/// Install the GDT and TSS. Only the first call does anything.
pub fn init() {
    if INITIALISED.swap(true, Ordering::AcqRel) {
        return;
    }
    let tables = TABLES.0.get();
    // SAFETY: first and only call (INITIALISED), one vCPU, interrupts off:
    // nothing else accesses the tables while we fill them.
    let tss_base = unsafe {
        (*tables).tss.interrupt_stacks[usize::from(DOUBLE_FAULT_IST - 1)] =
            (&raw const xensnd_double_fault_stack_top) as u64;
        (&raw const (*tables).tss) as u64
    };
    let tss_limit = (size_of::<TaskStateSegment>() - 1) as u64;
    let tss_low = (tss_limit & 0xffff)
        | ((tss_base & 0xff_ffff) << 16)
        | (0x89 << 40) // present, DPL 0, type 9 (available 64-bit TSS)
        | (((tss_limit >> 16) & 0xf) << 48)
        | (((tss_base >> 24) & 0xff) << 56);
    let tss_high = tss_base >> 32;
    // SAFETY: as above, exclusive access during initialisation.
    let gdt_base = unsafe {
        (*tables).gdt = [
            0,
            0x00af_9a00_0000_ffff, // 64-bit code, present, DPL 0
            0x00cf_9200_0000_ffff, // data, present, writable
            tss_low,
            tss_high,
        ];
        (&raw const (*tables).gdt) as u64
    };
    let pointer = DescriptorTablePointer {
        limit: (5 * 8 - 1) as u16,
        base: gdt_base,
    };
    // SAFETY: the GDT lives in a static, keeps the boot selectors' meaning
    // and is complete; CS is reloaded with a far return to the next label,
    // the data segments with the data selector, then the TSS is loaded.
    unsafe {
        asm!(
            "lgdt ({pointer})",
            "pushq ${code}",
            "leaq 2f(%rip), {scratch}",
            "pushq {scratch}",
            "lretq",
            "2:",
            "movl ${data}, {scratch:e}",
            "movl {scratch:e}, %ds",
            "movl {scratch:e}, %es",
            "movl {scratch:e}, %ss",
            "movw ${tss}, {scratch:x}",
            "ltr {scratch:x}",
            pointer = in(reg) &raw const pointer,
            scratch = out(reg) _,
            code = const CODE_SELECTOR,
            data = const DATA_SELECTOR,
            tss = const TSS_SELECTOR,
            options(att_syntax, preserves_flags),
        );
    }
}
