//! The xensnd guest image: the Rust entry called by the PVH entry
//! (`boot/entry.S`), the panic handler and the boot sequence.
//!
//! Boot: bring up the platform (`arch::init`), route `log` to the console,
//! print the banner, memory map and heap, run a fault self-test if the
//! command line asks for one (`test=panic|pagefault|doublefault|interrupt`).
//! Without Xen (plain QEMU) it then powers off. Under Xen it brings up the
//! Xen services (`arch::platform::XenPlatform`: events, grants, timer,
//! XenStore), watches `control/shutdown`, probes the vsnd frontend, runs the
//! demo chosen by the command line (`app::run`: `demo=tone|chime|record|
//! loopback|list|idle`, ...), prints `XENSND-DONE ok` or
//! `XENSND-DONE failed: <why>` and `XENSND-TIMING` figures, and powers off
//! (crash status on failure; `demo=idle` waits for `xl shutdown` /
//! `xl reboot`). Options: `log=off|error|warn|info|debug|trace`.
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

    use alloc::format;
    use alloc::string::String;
    use log::{debug, error, info, warn, LevelFilter};
    use xen_guest::shutdown::{ShutdownRequest, ShutdownWatch};
    use xen_guest::xenstore::{reply_string, BatchRequest};
    use xen_guest::{Clock, DomId};
    use xensnd::arch::cmdline::CommandLine;
    use xensnd::arch::platform::XenPlatform;
    use xensnd::arch::{console, cpu, fault_injection, heap, idt, memmap, power, Boot};
    use xensnd_demo as app;
    use xensnd_sndif::frontend::{Frontend, FrontendOptions};

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
        // The reference point of the XENSND-TIMING figures: a few
        // microseconds after the PVH entry (entry.S only builds page tables).
        let entry_tsc = cpu::read_tsc();
        let boot = xensnd::arch::init(start_info_paddr);
        let mut stamps = Stamps::new(entry_tsc);
        stamps.mark("init");
        let command_line = CommandLine::new(boot.start_info.command_line());
        console::init_logger(log_level(&command_line));
        // The report in one console write (one trap, one notification).
        console::hold();
        report_boot(&boot, &command_line);
        check_heap();
        console::release();
        stamps.mark("report");
        run_self_test(&command_line);
        // Without Xen there is nothing more to do; a `test=` boot self-test
        // is a run of its own (and `test=interrupt` holds the event vector).
        if boot.xen.is_none() || command_line.get("test").is_some() {
            info!("boot complete, powering off");
            power::poweroff()
        }
        match run_under_xen(&boot, &command_line, &mut stamps) {
            Ok(Ending::PowerOff) => {
                info!("XENSND-DONE ok");
                info!("boot complete, powering off");
                power::poweroff()
            }
            Ok(Ending::Reboot) => {
                info!("XENSND-DONE ok");
                info!("rebooting");
                power::reboot()
            }
            Err(message) => {
                error!("XENSND-DONE failed: {message}");
                power::crash()
            }
        }
    }

    /// TSC values taken at boot stages, printed as one `XENSND-TIMING
    /// stages_us=` line at the end (printing early costs console time).
    /// Not on the heap: boot's heap check expects an empty heap.
    struct Stamps {
        entry_tsc: u64,
        marks: heapless::Vec<(&'static str, u64), 8>,
    }

    impl Stamps {
        fn new(entry_tsc: u64) -> Self {
            Self {
                entry_tsc,
                marks: heapless::Vec::new(),
            }
        }

        /// Past eight marks, later ones are dropped.
        fn mark(&mut self, stage: &'static str) {
            let _ = self.marks.push((stage, cpu::read_tsc()));
        }

        /// `stage:microseconds_since_entry,...`, on the PV clock's scale.
        fn render(&self, xen: &XenPlatform) -> String {
            let to_now = xen.ns_since_tsc(self.entry_tsc);
            let mut text = String::new();
            for (index, (stage, tsc)) in self.marks.iter().enumerate() {
                let since_entry = to_now.saturating_sub(xen.ns_since_tsc(*tsc));
                let separator = if index == 0 { "" } else { "," };
                text.push_str(&format!("{separator}{stage}:{}", since_entry / 1000));
            }
            text
        }
    }

    /// How a successful run ends.
    enum Ending {
        /// Power off (the demo finished, or `xl shutdown`).
        PowerOff,
        /// `xl reboot`.
        Reboot,
    }

    /// The guest proper under Xen: platform, XenStore, shutdown watch,
    /// frontend, demo. `Err` carries the reason for `XENSND-DONE failed`.
    fn run_under_xen(
        boot: &Boot,
        command_line: &CommandLine<'_>,
        stamps: &mut Stamps,
    ) -> Result<Ending, String> {
        let entry_tsc = stamps.entry_tsc;
        let options = app::run::Options::parse(command_line.options())?;
        let (mut xen, mut store) =
            XenPlatform::new(boot).map_err(|error| format!("platform: {error}"))?;
        let layout = xen.layout();
        info!(
            "platform: shared info at gfn {:#x}, {} of {} grant frames at gfn {:#x}, timer port {}, XenStore gfn {:#x} port {}",
            layout.shared_info_gfn,
            layout.grant_frames,
            layout.grant_frames_max,
            layout.grant_gfn,
            layout.timer_port,
            layout.store_gfn,
            layout.store_port
        );
        stamps.mark("xen");
        // domid, name and the control/shutdown watch in one round trip.
        let requests = [
            BatchRequest::Read("domid"),
            BatchRequest::Read("name"),
            ShutdownWatch::watch_request(),
        ];
        let [domid_reply, name_reply, watch_reply]: [_; 3] = store
            .batch(&mut xen, &requests)
            .map_err(|error| format!("XenStore: {error}"))?
            .try_into()
            .map_err(|_| String::from("XenStore: batch reply count"))?;
        let domid_text = domid_reply
            .and_then(reply_string)
            .map_err(|error| format!("XenStore read of domid: {error}"))?;
        let domid: DomId = domid_text
            .trim()
            .parse()
            .map_err(|_| format!("XenStore read of domid: {domid_text:?} is not a number"))?;
        xen.set_domid(domid);
        let name = name_reply.and_then(reply_string).unwrap_or_default();
        // What XS_GET_DOMAIN_PATH answers for every domain (xenstored:
        // "/local/domain/<domid>"), without the round trip.
        let path = format!("/local/domain/{domid}");
        info!("XenStore: domain {domid} (name {name:?}, path {path})");
        let watch = ShutdownWatch::from_watch_reply(watch_reply)
            .map_err(|error| format!("watch control/shutdown: {error}"))?;
        stamps.mark("store");
        let platform_us = xen.ns_since_tsc(entry_tsc) / 1000;
        // Entry on the Unix clock: dom0 tools (sndback's first_write_unix_ns)
        // subtract it to get entry -> first WRITE.
        match xen.unix_ns_at_tsc(entry_tsc) {
            Some(unix_ns) => info!("XENSND-TIMING entry_unix_ns={unix_ns}"),
            None => info!("XENSND-TIMING entry_unix_ns=unknown (no Xen wall clock)"),
        }
        // Entry on the PV clock (Xen system time), for the benchmark
        // (tests/xen/bench): with the demo's `play_start_clock_ns`.
        let entry_clock_ns = xen.now_ns().saturating_sub(xen.ns_since_tsc(entry_tsc));

        let frontend_options = frontend_options(command_line)?;
        let probe = Frontend::probe(xen, store, frontend_options)
            .map_err(|error| format!("vsnd frontend: {error}"))?;
        let frontend = probe.frontend;
        // Blocking stream calls follow control/shutdown from now on: one
        // that waits when `xl shutdown` comes ends with ErrorKind::Shutdown.
        frontend.follow_shutdown(watch);
        stamps.mark("probe");
        let probe_us = frontend.with_platform(|xen| xen.ns_since_tsc(entry_tsc)) / 1000;
        let probe_clock_ns = frontend.with_platform(|xen| xen.now_ns());
        for (path, error) in &probe.failed {
            error!("vsnd device {path} failed: {error}");
        }
        info!(
            "vsnd: {} device(s) connected, {} stream(s), {} failed",
            frontend.connected_devices(),
            frontend.streams().len(),
            probe.failed.len()
        );

        let demo_given = command_line.get("demo").is_some();
        let mut ending = Ending::PowerOff;
        let outcome = if !demo_given && frontend.streams().is_empty() && probe.failed.is_empty() {
            info!("no vsnd device and no demo= option: nothing to play");
            Ok(())
        } else if options.demo == "idle" {
            let outcome = app::run::run(&frontend, &options);
            if outcome.is_ok() {
                info!("idle: waiting for xl shutdown / xl reboot (control/shutdown)");
                ending = ending_for(wait_for_shutdown(&frontend));
            }
            outcome
        } else {
            app::run::run(&frontend, &options)
        };
        stamps.mark("app");
        let app_us = frontend.with_platform(|xen| xen.ns_since_tsc(entry_tsc)) / 1000;
        let app_clock_ns = frontend.with_platform(|xen| xen.now_ns());
        // A request that came in while the demo ran is honoured now; the
        // demo stopped for it is not a failure.
        let outcome = match frontend.shutdown_request() {
            Some(request) => {
                ending = ending_for(request);
                Ok(())
            }
            None => outcome,
        };
        frontend.shutdown();
        let statistics = frontend.with_platform(|xen| xen.statistics());
        info!(
            "XENSND-TIMING entry_to_platform_us={platform_us} entry_to_probe_done_us={probe_us} entry_to_app_done_us={app_us}"
        );
        let stages = frontend.with_platform(|xen| stamps.render(xen));
        let mut handshake = String::new();
        for (index, (step, clock_ns)) in frontend.handshake_marks().iter().enumerate() {
            let separator = if index == 0 { "" } else { "," };
            let since_entry_us = clock_ns.saturating_sub(entry_clock_ns) / 1000;
            handshake.push_str(&format!("{separator}{step}:{since_entry_us}"));
        }
        info!("XENSND-TIMING stages_us={stages} handshake_us={handshake}");
        info!(
            "XENSND-TIMING entry_clock_ns={entry_clock_ns} probe_done_clock_ns={probe_clock_ns} app_done_clock_ns={app_clock_ns}"
        );
        info!(
            "platform: {} upcalls ({} deferred), {} halts, {} timers armed ({} already due), {} grants live, {} pages leaked, {} leftover grants",
            statistics.upcalls,
            statistics.upcalls_deferred,
            statistics.halts,
            statistics.timers_armed,
            statistics.timers_already_passed,
            statistics.grants_live,
            statistics.pages_leaked,
            frontend.leftover_grants()
        );
        outcome?;
        if !probe.failed.is_empty() {
            return Err(format!(
                "{} vsnd device(s) failed, first: {}: {}",
                probe.failed.len(),
                probe.failed[0].0,
                probe.failed[0].1
            ));
        }
        Ok(ending)
    }

    /// `timeout-ms=` (time a request may take) and `depth=` (requests in
    /// flight per stream), as documented in `app::run`.
    fn frontend_options(command_line: &CommandLine<'_>) -> Result<FrontendOptions, String> {
        let mut options = FrontendOptions::default();
        if let Some(value) = command_line.get("timeout-ms") {
            let milliseconds: u64 = value
                .parse()
                .map_err(|_| format!("option timeout-ms={value}: not a number"))?;
            options.request_timeout_ns = milliseconds.saturating_mul(1_000_000);
        }
        if let Some(value) = command_line.get("depth") {
            options.depth = value
                .parse()
                .map_err(|_| format!("option depth={value}: not a number"))?;
        }
        Ok(options)
    }

    fn ending_for(request: ShutdownRequest) -> Ending {
        match request {
            ShutdownRequest::Reboot => Ending::Reboot,
            _ => Ending::PowerOff,
        }
    }

    /// Halt until the toolstack writes `control/shutdown` (each XenStore
    /// event wakes the CPU; the one-second timer is only a safety net), and
    /// follow the backends meanwhile.
    fn wait_for_shutdown(frontend: &Frontend<XenPlatform>) -> ShutdownRequest {
        loop {
            if let Some(request) = frontend.shutdown_request() {
                return request;
            }
            frontend.poll();
            frontend.with_platform(|xen| {
                let deadline = xen.now_ns().saturating_add(1_000_000_000);
                xen.wait_until(deadline);
            });
        }
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
        // The regions and the image at debug level: every console line costs
        // boot time under Xen (a trap and a notification each).
        for region in map {
            debug!(
                "  {:#012x}-{:#012x} {:>10} KiB {}",
                region.start,
                region.end(),
                region.size / 1024,
                region.kind_name()
            );
        }
        debug!(
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
