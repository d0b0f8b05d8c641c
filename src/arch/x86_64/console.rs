//! The guest console: port 0xe9 always, plus Xen's PV console ring under Xen,
//! and the `log` facade on top.
//!
//! The PV console follows `io/console.h`: a page with `in[1024]`,
//! `out[2048]`, then `in_cons`, `in_prod`, `out_cons`, `out_prod`. Its frame
//! and event channel come from `HVM_PARAM_CONSOLE_PFN` /
//! `HVM_PARAM_CONSOLE_EVTCHN`. We produce into `out` and xenconsoled (dom0)
//! consumes, which is what `xl console` and xenconsoled's log show. Newlines
//! become "\r\n" on the ring (it feeds a terminal). If the ring stays full
//! for [`RING_FULL_TIMEOUT_MS`] the console is marked stalled: later output
//! that does not fit is dropped from the ring (port 0xe9 still gets it)
//! until the consumer catches up, so a dead consoled never hangs the guest.
//! Output from an interrupt handler that interrupted a console writer goes
//! to port 0xe9 only (one vCPU: waiting for the lock would deadlock).

use core::fmt::{self, Write};
use core::mem::offset_of;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use super::hypercall;
use super::{cpu, debugcon};
use xen_abi::console::{XenconsInterface, XENCONS_OUT_RING_SIZE};
use xen_abi::hvm::{HVM_PARAM_CONSOLE_EVTCHN, HVM_PARAM_CONSOLE_PFN};
use xen_guest::barrier;

/// How long a write waits for room in a full PV console ring before the
/// console is considered stalled.
pub const RING_FULL_TIMEOUT_MS: u64 = 2000;

/// Size of `out[]` in `struct xencons_interface`.
const OUT_SIZE: u32 = XENCONS_OUT_RING_SIZE as u32;
/// Offset of `out[]`.
const OUT_OFFSET: usize = offset_of!(XenconsInterface, output);
/// Offset of `out_cons`.
const OUT_CONS_OFFSET: usize = offset_of!(XenconsInterface, out_cons);
/// Offset of `out_prod`.
const OUT_PROD_OFFSET: usize = offset_of!(XenconsInterface, out_prod);
/// TSC rate assumed when Xen does not report one (only bounds the wait).
const FALLBACK_TSC_KHZ: u64 = 1_000_000;

/// The PV console ring we write to.
struct PvConsole {
    /// Virtual (= physical) address of the `xencons_interface` page; 0
    /// while none is attached (port 0xe9 only).
    page: usize,
    /// Event channel to notify after producing.
    port: u32,
    /// Our own copy of `out_prod` (we are the only producer).
    producer: u32,
    /// The consumer stopped consuming (see the module docs).
    stalled: bool,
}

impl PvConsole {
    fn load(&self, offset: usize) -> u32 {
        // SAFETY: `page` is the console page Xen gave us (identity-mapped,
        // never reused for anything else); the index fields are aligned u32s
        // that the other domain may change at any time, hence volatile.
        unsafe { ptr::read_volatile((self.page + offset) as *const u32) }
    }

    fn store(&self, offset: usize, value: u32) {
        // SAFETY: as in `load`; we own the producer index.
        unsafe { ptr::write_volatile((self.page + offset) as *mut u32, value) };
    }

    fn store_byte(&self, index: u32, byte: u8) {
        let offset = OUT_OFFSET + (index % OUT_SIZE) as usize;
        // SAFETY: offset < OUT_OFFSET + OUT_SIZE, inside the console page.
        unsafe { ptr::write_volatile((self.page + offset) as *mut u8, byte) };
    }

    /// Free bytes in `out[]`; 0 if the consumer index is nonsense.
    fn space(&self) -> u32 {
        let consumer = self.load(OUT_CONS_OFFSET);
        // Read out_cons before overwriting the bytes it releases
        // (the xen_mb() before the data writes in console producers).
        barrier::mb();
        let used = self.producer.wrapping_sub(consumer);
        OUT_SIZE.saturating_sub(used)
    }

    fn notify(&self) {
        // Nothing useful to do if the notification fails: the bytes are in
        // the ring and port 0xe9 has them too.
        let _ = hypercall::event_channel_send(self.port);
    }

    /// Wait (yielding to dom0) until the ring has room or the timeout passes.
    fn wait_for_space(&mut self) -> u32 {
        let khz = match hypercall::tsc_khz() {
            0 => FALLBACK_TSC_KHZ,
            khz => u64::from(khz),
        };
        let deadline = cpu::read_tsc().saturating_add(khz.saturating_mul(RING_FULL_TIMEOUT_MS));
        loop {
            let space = self.space();
            if space > 0 {
                self.stalled = false;
                return space;
            }
            if self.stalled || cpu::read_tsc() >= deadline {
                self.stalled = true;
                return 0;
            }
            self.notify();
            let _ = hypercall::sched_yield();
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut pending = bytes.iter().flat_map(|&byte| {
            let carriage_return = (byte == b'\n').then_some(b'\r');
            carriage_return.into_iter().chain(core::iter::once(byte))
        });
        let mut next = pending.next();
        while next.is_some() {
            let space = match self.space() {
                0 => self.wait_for_space(),
                space => space,
            };
            if space == 0 {
                return; // stalled: the rest goes to port 0xe9 only
            }
            let mut written = 0;
            while written < space {
                let Some(byte) = next else { break };
                self.store_byte(self.producer.wrapping_add(written), byte);
                written += 1;
                next = pending.next();
            }
            // The bytes must be visible before the index that publishes them.
            barrier::wmb();
            self.producer = self.producer.wrapping_add(written);
            self.store(OUT_PROD_OFFSET, self.producer);
        }
        self.notify();
    }
}

/// Bytes [`hold`] keeps at most before writing them out anyway.
const HELD_CAPACITY: usize = 4096;

struct Console {
    /// The PV console ring (`page` 0 until [`init`] attaches it: not an
    /// `Option`, so the whole static is zeros and lands in .bss, not 4 KiB
    /// of .data in the image).
    pv: PvConsole,
    /// Output kept back by [`hold`] until [`release`].
    held: Option<heapless::Vec<u8, HELD_CAPACITY>>,
}

impl Console {
    fn write_bytes(&mut self, bytes: &[u8]) {
        if let Some(held) = &mut self.held {
            if held.extend_from_slice(bytes).is_ok() {
                return;
            }
            self.flush_held();
        }
        self.write_out(bytes);
    }

    /// Write out what was held (held output stays on until [`release`]).
    fn flush_held(&mut self) {
        if let Some(held) = self.held.take() {
            self.write_out(&held);
            self.held = Some(heapless::Vec::new());
        }
    }

    fn write_out(&mut self, bytes: &[u8]) {
        debugcon::write_bytes(bytes);
        if self.pv.page != 0 {
            self.pv.write(bytes);
        }
    }
}

impl Write for Console {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.write_bytes(text.as_bytes());
        Ok(())
    }
}

static CONSOLE: spin::Mutex<Console> = spin::Mutex::new(Console {
    pv: PvConsole {
        page: 0,
        port: 0,
        producer: 0,
        stalled: false,
    },
    held: None,
});
static CRASHING: AtomicBool = AtomicBool::new(false);

/// Where the PV console is, as Xen told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PvConsoleInfo {
    /// Frame number of the console page.
    pub pfn: u64,
    /// Its event channel.
    pub port: u32,
}

/// Attach the PV console ring if we run on Xen and it has one. Returns where
/// it is (or `None`: port 0xe9 only).
pub fn init() -> Option<PvConsoleInfo> {
    if !hypercall::is_available() {
        return None;
    }
    let pfn = hypercall::hvm_get_param(HVM_PARAM_CONSOLE_PFN).ok()?;
    let port = hypercall::hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN).ok()?;
    // The page must be inside the identity map (boot/entry.S: low 4 GiB) and
    // not page 0; Xen puts it among the special pages below 4 GiB.
    if pfn == 0 || pfn >= super::IDENTITY_MAP_LIMIT / 4096 {
        return None;
    }
    let port = u32::try_from(port).ok()?;
    let page = usize::try_from(pfn * 4096).ok()?;
    let mut console = CONSOLE.lock();
    let mut pv = PvConsole {
        page,
        port,
        producer: 0,
        stalled: false,
    };
    pv.producer = pv.load(OUT_PROD_OFFSET);
    console.pv = pv;
    Some(PvConsoleInfo { pfn, port })
}

/// Switch to crash mode: from now on writers take the console even if the
/// code that crashed held it (it never resumes: crash paths end in shutdown).
/// Output kept back by [`hold`] is written out first.
pub fn enter_crash_mode() {
    CRASHING.store(true, Ordering::Release);
    unlock_if_crashing();
    if let Some(mut console) = CONSOLE.try_lock() {
        console.flush_held();
        console.held = None;
    }
}

/// Keep console output back (up to 4 KiB) until [`release`], to write a
/// run of lines at once: under Xen every write costs a trap for port 0xe9
/// and a notification hypercall for the PV console, whatever its length.
/// Use around code that cannot wait for anything (the boot report).
pub fn hold() {
    let mut console = CONSOLE.lock();
    if console.held.is_none() {
        console.held = Some(heapless::Vec::new());
    }
}

/// Write out what [`hold`] kept back and write directly again.
pub fn release() {
    let mut console = CONSOLE.lock();
    console.flush_held();
    console.held = None;
}

/// In crash mode, take the console from whoever holds it.
fn unlock_if_crashing() {
    if CRASHING.load(Ordering::Acquire) && CONSOLE.is_locked() {
        // SAFETY: crash mode: the holder was interrupted by the fault or
        // panic we are reporting and never resumes (one vCPU, the crash path
        // ends in shutdown), so nobody else uses the console now.
        unsafe { CONSOLE.force_unlock() };
    }
}

/// Port 0xe9 alone: used when the console is busy. With one vCPU a busy
/// console means an interrupt handler interrupted a writer, and spinning on
/// the lock would never end.
struct DebugconWriter;

impl Write for DebugconWriter {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        debugcon::write_bytes(text.as_bytes());
        Ok(())
    }
}

/// Write raw bytes to the console(s).
pub fn write_bytes(bytes: &[u8]) {
    unlock_if_crashing();
    match CONSOLE.try_lock() {
        Some(mut console) => console.write_bytes(bytes),
        None => debugcon::write_bytes(bytes),
    }
}

/// Write a string to the console(s).
pub fn write_str(text: &str) {
    write_bytes(text.as_bytes());
}

/// Write formatted text to the console(s) (one lock for the whole text).
pub fn write_fmt(arguments: fmt::Arguments<'_>) {
    unlock_if_crashing();
    // Formatting errors only come from our writers, which never fail.
    let _ = match CONSOLE.try_lock() {
        Some(mut console) => console.write_fmt(arguments),
        None => DebugconWriter.write_fmt(arguments),
    };
}

/// The `log` backend: one line per record, `[LEVEL] message`.
struct ConsoleLogger;

impl log::Log for ConsoleLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            write_fmt(format_args!("[{:<5}] {}\n", record.level(), record.args()));
        }
    }

    fn flush(&self) {}
}

static LOGGER: ConsoleLogger = ConsoleLogger;

/// Route the `log` facade to the console with `level` as the maximum level.
/// Calling it again only changes the level.
pub fn init_logger(level: log::LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
