//! The x86_64 PVH guest platform: entry, CPU tables, Xen access, consoles,
//! heap and power-off (Xen's PVH boot ABI, `docs/misc/pvh.pandoc`).
//!
//! `boot/entry.S` enters long mode and calls `kernel_main` (which
//! `xensnd::main!` defines), and the runtime (`rt::start`) calls [`init`]
//! first. [`init`] installs the GDT/TSS and IDT,
//! detects Xen and installs the hypercall page (without Xen: masks the
//! legacy PICs), attaches the PV console, reads the start info, unmaps
//! page 0 and sets up the heap. Under Xen, [`platform::XenPlatform`] then
//! brings up events, grants, time and XenStore for the frontend.

use core::ops::Range;
use core::sync::atomic::{AtomicBool, Ordering};

use xen_abi::hvm::{HVM_PARAM_CONSOLE_PFN, HVM_PARAM_STORE_PFN};

core::arch::global_asm!(include_str!("../../../boot/entry.S"), options(att_syntax));
core::arch::global_asm!(include_str!("vectors.S"), options(att_syntax));

pub mod cmdline;
pub mod console;
pub mod cpu;
pub mod debug_exit;
pub mod debugcon;
pub mod fault_injection;
pub mod foreign;
pub mod gdt;
pub mod grant_frames;
pub mod heap;
pub mod hypercall;
pub mod idt;
pub mod memmap;
pub mod page;
pub mod paging;
pub mod pic;
pub mod platform;
pub mod port;
pub mod power;
pub mod shared_info;
pub mod start_info;

/// `boot/entry.S` identity-maps physical memory below this address.
pub const IDENTITY_MAP_LIMIT: u64 = 4 << 30;

/// Largest heap we set up; the rest of RAM stays free for later use.
pub const MAX_HEAP_SIZE: u64 = 256 << 20;

extern "C" {
    /// First byte of the loaded image (`linker.ld`).
    static __image_start: u8;
    /// End of the image including .bss (`linker.ld`).
    static __image_end: u8;
}

/// Physical range of the loaded image (code, data, .bss, boot stacks).
pub fn image_range() -> Range<u64> {
    (&raw const __image_start) as u64..(&raw const __image_end) as u64
}

/// What boot found out.
#[derive(Debug)]
pub struct Boot {
    /// The hypervisor, if we run on Xen.
    pub xen: Option<hypercall::XenInfo>,
    /// The PV console, if attached.
    pub pv_console: Option<console::PvConsoleInfo>,
    /// The start info (command line, memory map).
    pub start_info: start_info::StartInfo,
    /// The loaded image.
    pub image: Range<u64>,
    /// The heap region.
    pub heap: Range<u64>,
}

static BOOTED: AtomicBool = AtomicBool::new(false);

/// Bring the platform up. Call once, first thing, with the `%ebx` value the
/// PVH entry received. Panics (which reports and stops the guest) if the
/// start info is unusable or there is no RAM for a heap.
pub fn init(start_info_paddr: u64) -> Boot {
    assert!(
        !BOOTED.swap(true, Ordering::AcqRel),
        "arch::init called twice"
    );
    gdt::init();
    idt::init();
    let xen = hypercall::init();
    if xen.is_none() {
        pic::disable();
    }
    let pv_console = console::init();
    let start_info = match start_info::read(start_info_paddr) {
        Ok(info) => info,
        Err(error) => panic!("unusable hvm_start_info at {start_info_paddr:#x}: {error}"),
    };
    paging::unmap_null_page();
    let image = image_range();

    let mut reserved: heapless::Vec<Range<u64>, { start_info::RESERVED_CAPACITY + 4 }> =
        heapless::Vec::new();
    // Cannot fail: the capacity leaves room for the image and the special
    // pages after the start-info ranges.
    let _ = reserved.extend_from_slice(&start_info.reserved);
    let _ = reserved.push(image.clone());
    if xen.is_some() {
        for param in [HVM_PARAM_CONSOLE_PFN, HVM_PARAM_STORE_PFN] {
            if let Ok(pfn) = hypercall::hvm_get_param(param) {
                let start = pfn.saturating_mul(4096);
                let _ = reserved.push(start..start.saturating_add(4096));
            }
        }
    }
    let Some(heap) = memmap::select_heap(
        &start_info.memory_map,
        &reserved,
        image.end,
        IDENTITY_MAP_LIMIT,
        MAX_HEAP_SIZE,
    ) else {
        panic!(
            "no free RAM for the heap in the memory map ({} entries)",
            start_info.memory_map.len()
        );
    };
    // SAFETY: `select_heap` returns RAM (per the memory map) inside the
    // identity map, above the image, and clear of the boot data, the console
    // and XenStore pages; nothing else in the guest uses it.
    unsafe { heap::init(heap.clone()) };
    Boot {
        xen,
        pv_console,
        start_info,
        image,
        heap,
    }
}
