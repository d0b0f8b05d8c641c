//! The xensnd guest image: the Rust entry called by the PVH entry
//! (`boot/entry.S`), the panic handler and the boot sequence.
//!
//! Boot: bring up the platform (`arch::init`), route `log` to the console,
//! print the banner, memory map and heap, run a fault self-test if the
//! command line asks for one (`test=panic|pagefault|doublefault|interrupt`), then
//! power off. Options: `log=off|error|warn|info|debug|trace`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_code)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("xensnd is a Xen guest image: build it with --target x86_64-unknown-none");
}

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod guest {
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicU32, Ordering};

    use log::{debug, info, warn, LevelFilter};
    use xensnd::arch::cmdline::CommandLine;
    use xensnd::arch::{console, fault_injection, heap, idt, memmap, power, Boot};

    /// The version in the banner.
    const VERSION: &str = env!("CARGO_PKG_VERSION");

    /// Called by `boot/entry.S` in long mode on the boot stack with the
    /// physical address of `hvm_start_info`.
    #[allow(
        unsafe_code,
        reason = "the entry symbol boot/entry.S calls must not be mangled"
    )]
    #[no_mangle]
    extern "C" fn kernel_main(start_info_paddr: u64) -> ! {
        let boot = xensnd::arch::init(start_info_paddr);
        let command_line = CommandLine::new(boot.start_info.command_line());
        console::init_logger(log_level(&command_line));
        report_boot(&boot, &command_line);
        check_heap();
        run_self_test(&command_line);
        info!("boot complete, powering off");
        power::poweroff()
    }

    fn log_level(command_line: &CommandLine<'_>) -> LevelFilter {
        match command_line.get("log") {
            Some("off") => LevelFilter::Off,
            Some("error") => LevelFilter::Error,
            Some("warn") => LevelFilter::Warn,
            Some("debug") => LevelFilter::Debug,
            Some("trace") => LevelFilter::Trace,
            _ => LevelFilter::Info,
        }
    }

    fn report_boot(boot: &Boot, command_line: &CommandLine<'_>) {
        let detected = if boot.xen.is_some() { "yes" } else { "no" };
        info!("xensnd {VERSION} booting (PVH, Xen detected: {detected})");
        if let Some(xen) = boot.xen {
            info!(
                "Xen {}.{} (CPUID base {:#x}, TSC {} kHz)",
                xen.major, xen.minor, xen.cpuid_base, xen.tsc_khz
            );
        }
        match boot.pv_console {
            Some(pv) => info!("PV console: pfn {:#x}, event channel {}", pv.pfn, pv.port),
            None => debug!("PV console: none (port 0xe9 only)"),
        }
        let start_info = &boot.start_info;
        info!(
            "start info at {:#x}, version {}, {} module(s), command line: \"{}\"{}",
            start_info.paddr,
            start_info.version,
            start_info.module_count,
            command_line.as_str(),
            if start_info.command_line_truncated {
                " (truncated)"
            } else {
                ""
            },
        );
        for (key, value) in command_line.options() {
            debug!("option {key}={value}");
        }
        let map = &start_info.memory_map;
        info!(
            "memory map: {} entries, {} KiB RAM{}",
            map.len(),
            memmap::total_ram(map) / 1024,
            if start_info.memory_map_truncated {
                " (truncated)"
            } else {
                ""
            },
        );
        for region in map {
            info!(
                "  {:#012x}-{:#012x} {:>10} KiB {}",
                region.start,
                region.end(),
                region.size / 1024,
                region.kind_name()
            );
        }
        info!(
            "image: {:#x}-{:#x} ({} KiB)",
            boot.image.start,
            boot.image.end,
            (boot.image.end - boot.image.start) / 1024
        );
        info!(
            "heap: {:#x}-{:#x} ({} KiB)",
            boot.heap.start,
            boot.heap.end,
            (boot.heap.end - boot.heap.start) / 1024
        );
    }

    /// Allocate, use and free a little memory: proves the allocator works.
    fn check_heap() {
        let numbers: Vec<u64> = (0..1000).collect();
        let sum: u64 = numbers.iter().sum();
        let in_use = heap::statistics().used;
        drop(numbers);
        assert_eq!(sum, 499_500, "heap check: vector contents corrupted");
        debug!(
            "heap check: allocated {in_use} bytes, sum {sum}, now {} in use",
            heap::statistics().used
        );
    }

    fn run_self_test(command_line: &CommandLine<'_>) {
        match command_line.get("test") {
            None => {}
            Some("panic") => panic!("test=panic requested on the command line"),
            Some("pagefault") => {
                info!(
                    "self-test: reading unmapped address {:#x}",
                    fault_injection::UNMAPPED_ADDRESS
                );
                fault_injection::page_fault()
            }
            Some("doublefault") => {
                info!("self-test: overflowing the stack into its guard page");
                fault_injection::stack_overflow()
            }
            Some("interrupt") => interrupt_self_test(),
            Some(other) => warn!("unknown self-test \"{other}\" ignored"),
        }
    }

    static UPCALLS: AtomicU32 = AtomicU32::new(0);

    fn count_upcall() {
        UPCALLS.fetch_add(1, Ordering::Relaxed);
    }

    /// Run the event-callback vector's entry and return path three times.
    fn interrupt_self_test() {
        assert!(
            idt::register_event_handler(count_upcall),
            "event handler already registered"
        );
        let sentinel = core::hint::black_box(0x5eed_u64);
        for _ in 0..3 {
            idt::raise_event_callback();
        }
        let upcalls = UPCALLS.load(Ordering::Relaxed);
        assert_eq!(
            upcalls, 3,
            "event callback ran {upcalls} times for 3 interrupts"
        );
        assert_eq!(
            core::hint::black_box(sentinel),
            0x5eed,
            "registers corrupted by the interrupt path"
        );
        info!(
            "self-test: {upcalls} upcalls on vector {} handled and returned",
            idt::EVENT_CALLBACK_VECTOR
        );
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        static PANICKING: core::sync::atomic::AtomicBool =
            core::sync::atomic::AtomicBool::new(false);
        if PANICKING.swap(true, core::sync::atomic::Ordering::AcqRel) {
            xensnd::arch::debugcon::write_bytes(b"PANIC while panicking\n");
            power::crash()
        }
        console::enter_crash_mode();
        match info.location() {
            Some(location) => console::write_fmt(format_args!(
                "PANIC at {}:{}:{}: {}\n",
                location.file(),
                location.line(),
                location.column(),
                info.message()
            )),
            None => console::write_fmt(format_args!("PANIC: {}\n", info.message())),
        }
        power::crash()
    }
}
