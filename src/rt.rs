//! The runtime: what runs before and after an application's `main`.
//!
//! An application is a binary crate for `x86_64-unknown-none` that names its
//! entry with [`main!`](crate::main):
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! use xensnd::rt::{AppResult, Runtime};
//!
//! fn app(rt: &mut Runtime) -> AppResult {
//!     log::info!("{} sound stream(s)", rt.sound().streams().len());
//!     Ok(())
//! }
//!
//! xensnd::main!(app);
//! ```
//!
//! [`start`] (called from the PVH entry through that macro) brings the
//! platform up (CPU tables, hypercall page, consoles, heap: `arch::init`),
//! routes `log` to the console (`log=` on the command line sets the level),
//! reports the boot, runs a `test=` self-test if asked, and, under Xen,
//! brings up the Xen services (events, grants, timer, XenStore), reads the
//! domain's id and name and watches `control/shutdown` in the same XenStore
//! round trip as the vsnd configuration, and connects every vsnd card of
//! the domain ([`Frontend::probe_with`]:
//! `timeout-ms=` and `depth=` set its request timeout and requests in
//! flight). Then it calls the application with a [`Runtime`]: the sound
//! cards and their streams, the clock (Xen's PV clock; waits halt the CPU
//! until an event or the deadline), the command line and the toolstack's
//! shutdown request.
//!
//! When the application returns, the runtime closes what is still open,
//! prints `XENSND-DONE ok` (or `XENSND-DONE failed: <error>`) and powers the
//! domain off: with the crash status on an error or a panic (so `xl`'s
//! `on_crash` applies), rebooting when `xl reboot` asked for it. A blocking
//! stream call that waits when `xl shutdown` comes ends with
//! `ErrorKind::Shutdown`; an application that stops for it has not failed.
//! Without Xen (plain QEMU) there is no sound: the runtime powers off after
//! the boot report, without calling the application.
//!
//! The timing figures the benchmark reads (`XENSND-TIMING`) are kept, not
//! printed: [`Runtime::report_timing`] prints them when the application
//! wants them (the demo does).
#![deny(unsafe_code)]

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::Cell;
use core::sync::atomic::{AtomicU32, Ordering};

use log::{debug, error, info, warn, LevelFilter};

use crate::arch::cmdline::CommandLine;
use crate::arch::platform::{PlatformStatistics, XenPlatform};
use crate::arch::{console, cpu, fault_injection, heap, idt, memmap, power, Boot};
use crate::pcm::Clock;
use crate::sndif::frontend::{Frontend, FrontendError, FrontendOptions, StreamInfo};
use crate::sndif::roundtrips::RoundTrips;
use crate::xen::shutdown::{ShutdownRequest, ShutdownWatch};
use crate::xen::xenstore::{reply_string, BatchRequest};
use crate::xen::{Clock as _, DomId};

/// What an application's `main` returns: `Ok` powers the domain off (or
/// reboots it when `xl reboot` asked), `Err` reports the error and stops
/// the domain with the crash status. `?` converts any error type that
/// implements `core::error::Error`, and `String`/`&str` messages.
pub type AppResult = Result<(), Box<dyn core::error::Error>>;

/// An application's `main`.
pub type AppMain = fn(&mut Runtime) -> AppResult;

/// The version in the banner.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What an application gets from the runtime.
pub struct Runtime {
    sound: Frontend<XenPlatform>,
    failed: Vec<(String, FrontendError)>,
    command_line: &'static str,
    domid: DomId,
    name: String,
    shutdown: Cell<Option<ShutdownRequest>>,
    timing: Timing,
}

impl Runtime {
    /// The sound cards (vsnd devices) of this domain and their streams:
    /// [`Frontend::streams`] lists them, `SndPlayback::open_unique_id` and
    /// `SndCapture::open_unique_id` (`xensnd::sndif::pcm`) open one. Every
    /// card that connected is here; the ones that did not are in
    /// [`Runtime::failed_cards`].
    pub fn sound(&self) -> &Frontend<XenPlatform> {
        &self.sound
    }

    /// Every stream of every connected card, as configured in XenStore
    /// (card and PCM names, direction, `unique-id`, what it allows).
    pub fn streams(&self) -> Vec<StreamInfo> {
        self.sound.streams()
    }

    /// The vsnd cards that did not connect, with why (each was logged).
    pub fn failed_cards(&self) -> &[(String, FrontendError)] {
        &self.failed
    }

    /// The clock: Xen's PV clock, waits that halt until an event or the
    /// deadline. The runtime is the clock too ([`Clock`] is implemented
    /// for it); this is for code that wants a `&impl Clock`.
    pub fn clock(&self) -> &Self {
        self
    }

    /// The command line (`extra=` in the xl config): `key=value` options.
    pub fn command_line(&self) -> CommandLine<'static> {
        CommandLine::new(self.command_line)
    }

    /// The value of the last command-line option named `key`.
    pub fn option(&self, key: &str) -> Option<&'static str> {
        self.command_line().get(key)
    }

    /// This domain's id.
    pub fn domid(&self) -> DomId {
        self.domid
    }

    /// This domain's name (`name` in XenStore; empty if unreadable).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the toolstack asked for through `control/shutdown`
    /// (`xl shutdown`, `xl reboot`), if it did; never blocks. The runtime
    /// acts on it when the application returns.
    pub fn shutdown_request(&self) -> Option<ShutdownRequest> {
        if self.shutdown.get().is_none() {
            self.shutdown.set(self.sound.shutdown_request());
        }
        self.shutdown.get()
    }

    /// Wait (halted between events) until the toolstack asks the domain to
    /// shut down or reboot, following the sound backends meanwhile.
    pub fn wait_for_shutdown(&self) -> ShutdownRequest {
        loop {
            if let Some(request) = self.shutdown_request() {
                return request;
            }
            // Each XenStore event wakes the CPU; the second is a safety net.
            self.wait_until(self.now_ns().saturating_add(1_000_000_000));
        }
    }

    /// Serve the vsnd devices the toolstack gives this domain
    /// (`/local/domain/<our domid>/backend/vsnd`, `backend=` this domain in
    /// the guests' `vsnd` lines) with the backend engine: `settings` as for
    /// `sndback` (its `backend_root` is replaced by ours, its page caps cut
    /// to the foreign-mapping window's 1024 pages), `media` makes
    /// every stream's sink and source. The server does its work in
    /// [`VsndServer::poll`](crate::serve::VsndServer::poll) and
    /// [`VsndServer::run_until`](crate::serve::VsndServer::run_until); this
    /// domain's own cards stay usable meanwhile. Fails without a
    /// foreign-mapping window or when the root cannot be watched.
    #[cfg(feature = "backend")]
    pub fn serve_vsnd(
        &self,
        mut settings: crate::backend::xenbus::DeviceSettings,
        media: crate::serve::MediaFactory,
    ) -> Result<crate::serve::VsndServer<'_>, String> {
        use crate::arch::platform::FOREIGN_WINDOW_FRAMES;
        settings.backend_root = format!("/local/domain/{}/backend/vsnd", self.domid);
        // A driver domain removes the backend nodes of a destroyed guest
        // itself (libxl waits 10 s for it otherwise).
        settings.remove_gone_devices = true;
        // No more pages than the window holds: a device past that is
        // refused by the quota (ENOSPC), not by a failed mapping.
        let mut caps = settings.quota.caps();
        let window = u32::try_from(FOREIGN_WINDOW_FRAMES).unwrap_or(u32::MAX);
        if caps.pages_total > window {
            caps.pages_total = window;
            caps.pages_per_domain = caps.pages_per_domain.min(window);
            settings.quota = crate::backend::Ledger::new(caps);
        }
        let layout = self.sound.with_platform(|xen| xen.layout());
        crate::serve::VsndServer::start(
            &self.sound,
            settings,
            media,
            (layout.foreign_gfn, FOREIGN_WINDOW_FRAMES),
        )
    }

    /// The platform's counters (upcalls, halts, timers, grants).
    pub fn platform_statistics(&self) -> PlatformStatistics {
        self.sound.with_platform(|xen| xen.statistics())
    }

    /// Print the boot's timing figures and the platform's counters
    /// (`XENSND-TIMING` lines, which `make bench` reads): entry to the
    /// platform, to the probe's end and to now, the stages and the vsnd
    /// handshake steps since entry, and the PV clock at those points; and
    /// the round trips before the first WRITE and in all
    /// (`XENSND-ROUNDTRIPS before_first_write ...` and `... total ...`:
    /// see `Frontend::boot_round_trips`).
    pub fn report_timing(&self) {
        let timing = &self.timing;
        let (now_us, stages, unix_ns) = self.sound.with_platform(|xen| {
            (
                xen.ns_since_tsc(timing.entry_tsc) / 1000,
                timing.render_stages(xen),
                xen.unix_ns_at_tsc(timing.entry_tsc),
            )
        });
        let now_clock_ns = self.now_ns();
        match unix_ns {
            Some(unix_ns) => info!("XENSND-TIMING entry_unix_ns={unix_ns}"),
            None => info!("XENSND-TIMING entry_unix_ns=unknown (no Xen wall clock)"),
        }
        info!(
            "XENSND-TIMING entry_to_platform_us={} entry_to_probe_done_us={} entry_to_app_done_us={now_us}",
            timing.platform_us, timing.probe_us
        );
        let mut handshake = String::new();
        for (index, (step, clock_ns)) in self.sound.handshake_marks().iter().enumerate() {
            let separator = if index == 0 { "" } else { "," };
            let since_entry_us = clock_ns.saturating_sub(timing.entry_clock_ns) / 1000;
            handshake.push_str(&format!("{separator}{step}:{since_entry_us}"));
        }
        info!("XENSND-TIMING stages_us={stages} handshake_us={handshake}");
        info!(
            "XENSND-TIMING entry_clock_ns={} probe_done_clock_ns={} app_done_clock_ns={now_clock_ns}",
            timing.entry_clock_ns, timing.probe_clock_ns
        );
        // The boot's critical path in round trips (counts, not time): as
        // they were at the first WRITE, and now.
        report_round_trips("before_first_write", self.sound.boot_round_trips());
        report_round_trips("total", Some(self.sound.round_trips()));
        let statistics = self.platform_statistics();
        info!(
            "platform: {} upcalls ({} deferred), {} halts, {} timers armed ({} already due), {} grants live, {} pages leaked, {} leftover grants",
            statistics.upcalls,
            statistics.upcalls_deferred,
            statistics.halts,
            statistics.timers_armed,
            statistics.timers_already_passed,
            statistics.grants_live,
            statistics.pages_leaked,
            self.sound.leftover_grants()
        );
    }
}

/// One `XENSND-ROUNDTRIPS <label> ...` line (`make bench` reads the
/// `before_first_write` one): XenStore round trips and requests, ring round
/// trips and requests (every stream), handshake waits for the backend;
/// `none` when there is nothing to report (no WRITE was sent).
#[inline(never)]
fn report_round_trips(label: &str, counts: Option<RoundTrips>) {
    match counts {
        Some(counts) => info!(
            "XENSND-ROUNDTRIPS {label} xenstore_batches={} xenstore_requests={} ring_round_trips={} ring_requests={} backend_waits={}",
            counts.xenstore_batches,
            counts.xenstore_requests,
            counts.ring_round_trips,
            counts.ring_requests,
            counts.backend_waits
        ),
        None => info!("XENSND-ROUNDTRIPS {label} none (no WRITE sent)"),
    }
}

impl Clock for Runtime {
    fn now_ns(&self) -> u64 {
        self.sound.now_ns()
    }

    fn wait_until(&self, deadline_ns: u64) {
        self.sound.wait_until(deadline_ns)
    }
}

/// TSC values taken at boot stages, and the figures derived from them.
/// Not on the heap before the heap check (it expects an empty heap).
struct Timing {
    entry_tsc: u64,
    marks: heapless::Vec<(&'static str, u64), 8>,
    entry_clock_ns: u64,
    platform_us: u64,
    probe_us: u64,
    probe_clock_ns: u64,
}

impl Timing {
    fn new(entry_tsc: u64) -> Self {
        Self {
            entry_tsc,
            marks: heapless::Vec::new(),
            entry_clock_ns: 0,
            platform_us: 0,
            probe_us: 0,
            probe_clock_ns: 0,
        }
    }

    /// Past eight marks, later ones are dropped.
    fn mark(&mut self, stage: &'static str) {
        let _ = self.marks.push((stage, cpu::read_tsc()));
    }

    /// `stage:microseconds_since_entry,...`, on the PV clock's scale.
    fn render_stages(&self, xen: &XenPlatform) -> String {
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

/// The runtime's start, called by [`main!`](crate::main)'s `kernel_main`
/// with the `%ebx` value of the PVH entry; never returns.
pub fn start(start_info_paddr: u64, app: AppMain) -> ! {
    // The reference point of the XENSND-TIMING figures: a few
    // microseconds after the PVH entry (entry.S only builds page tables).
    let entry_tsc = cpu::read_tsc();
    let boot = crate::arch::init(start_info_paddr);
    let mut timing = Timing::new(entry_tsc);
    timing.mark("init");
    let command_line = CommandLine::new(boot.start_info.command_line());
    console::init_logger(log_level(&command_line));
    // The report in one console write (one trap, one notification).
    console::hold();
    report_boot(&boot, &command_line);
    check_heap();
    console::release();
    timing.mark("report");
    run_self_test(&command_line);
    // Without Xen there is nothing more to do; a `test=` boot self-test
    // is a run of its own (and `test=interrupt` holds the event vector).
    if boot.xen.is_none() || command_line.get("test").is_some() {
        info!("boot complete, powering off");
        power::poweroff()
    }
    let command_line: &'static str = String::from(command_line.as_str()).leak();
    let outcome = bring_up(&boot, command_line, timing).and_then(|mut runtime| {
        let outcome = app(&mut runtime).map_err(|error| error.to_string());
        // A request that came in while the application ran is honoured
        // now; an application stopped for it has not failed.
        let request = runtime.shutdown_request();
        runtime.sound.shutdown();
        match (request, outcome) {
            (Some(ShutdownRequest::Reboot), _) => Ok(Ending::Reboot),
            (Some(_), _) => Ok(Ending::PowerOff),
            (None, Ok(())) => Ok(Ending::PowerOff),
            (None, Err(message)) => Err(message),
        }
    });
    match outcome {
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

/// How a successful run ends.
enum Ending {
    /// Power off (the application finished, or `xl shutdown`).
    PowerOff,
    /// `xl reboot`.
    Reboot,
}

/// Xen services, XenStore, the shutdown watch and the vsnd cards.
fn bring_up(
    boot: &Boot,
    command_line: &'static str,
    mut timing: Timing,
) -> Result<Runtime, String> {
    let entry_tsc = timing.entry_tsc;
    let (xen, store) = XenPlatform::new(boot).map_err(|error| format!("platform: {error}"))?;
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
    timing.mark("xen");
    timing.platform_us = xen.ns_since_tsc(entry_tsc) / 1000;
    // Entry on the PV clock (Xen system time), for the benchmark.
    timing.entry_clock_ns = xen.now_ns().saturating_sub(xen.ns_since_tsc(entry_tsc));
    let options = frontend_options(&CommandLine::new(command_line))?;
    // Our name and the control/shutdown watch go in the probe's first
    // XenStore batch, with domid and the vsnd configuration: one round
    // trip for all of it.
    let [watch_request, shutdown_read] = ShutdownWatch::batch_requests();
    let requests = [BatchRequest::Read("name"), watch_request, shutdown_read];
    let probe = Frontend::probe_with(xen, store, options, &requests)
        .map_err(|error| format!("vsnd frontend: {error}"))?;
    let domid = probe.domid;
    let [name_reply, watch_reply, shutdown_reply]: [_; 3] = probe
        .replies
        .try_into()
        .map_err(|_| String::from("XenStore: batch reply count"))?;
    let name = name_reply.and_then(reply_string).unwrap_or_default();
    // What XS_GET_DOMAIN_PATH answers for every domain (xenstored:
    // "/local/domain/<domid>"), without the round trip.
    info!("XenStore: domain {domid} (name {name:?}, path /local/domain/{domid})");
    let watch = ShutdownWatch::from_batch(watch_reply, shutdown_reply)
        .map_err(|error| format!("watch control/shutdown: {error}"))?;
    let sound = probe.frontend;
    sound.with_platform(|xen| xen.set_domid(domid));
    // Blocking stream calls follow control/shutdown from now on: one that
    // waits when `xl shutdown` comes ends with ErrorKind::Shutdown.
    sound.follow_shutdown(watch);
    timing.mark("probe");
    timing.probe_us = sound.with_platform(|xen| xen.ns_since_tsc(entry_tsc)) / 1000;
    timing.probe_clock_ns = sound.now_ns();
    for (path, error) in &probe.failed {
        error!("vsnd device {path} failed: {error}");
    }
    info!(
        "vsnd: {} device(s) connected, {} stream(s), {} failed",
        sound.connected_devices(),
        sound.streams().len(),
        probe.failed.len()
    );
    Ok(Runtime {
        sound,
        failed: probe.failed,
        command_line,
        domid,
        name,
        shutdown: Cell::new(None),
        timing,
    })
}

/// `timeout-ms=` (time a request may take) and `depth=` (requests in
/// flight per stream).
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

/// Report a panic on the consoles and stop the domain with the crash
/// status.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    static PANICKING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    if PANICKING.swap(true, Ordering::AcqRel) {
        crate::arch::debugcon::write_bytes(b"PANIC while panicking\n");
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
