//! Xen detection and hypercalls through the hypercall page.
//!
//! Implements `arch-x86/cpuid.h` (leaves 0x40000x00..03: signature, version,
//! hypercall-page MSR, TSC frequency) and the x86_64 hypercall ABI of
//! `xen.h`: hypercall `N` is a `call` to `page + 32 * N` with arguments in
//! rdi, rsi, rdx, r10, r8 and the result in rax (negative = `-XEN_Exxx`).
//! The typed wrappers cover what boot and the consoles need: `sched_op`
//! (yield, shutdown), `hvm_op` (get_param), `event_channel_op` (send) and
//! `console_io` (write). The ABI structs are kept local here for now.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::cpu;
use crate::xen::{Port, XenError, DOMID_SELF};

/// Hypercall numbers (`__HYPERVISOR_*` in `xen.h`).
pub mod number {
    /// `__HYPERVISOR_memory_op`.
    pub const MEMORY_OP: usize = 12;
    /// `__HYPERVISOR_xen_version`.
    pub const XEN_VERSION: usize = 17;
    /// `__HYPERVISOR_console_io`.
    pub const CONSOLE_IO: usize = 18;
    /// `__HYPERVISOR_grant_table_op`.
    pub const GRANT_TABLE_OP: usize = 20;
    /// `__HYPERVISOR_vcpu_op`.
    pub const VCPU_OP: usize = 24;
    /// `__HYPERVISOR_sched_op`.
    pub const SCHED_OP: usize = 29;
    /// `__HYPERVISOR_event_channel_op`.
    pub const EVENT_CHANNEL_OP: usize = 32;
    /// `__HYPERVISOR_hvm_op`.
    pub const HVM_OP: usize = 34;
}

/// `SCHEDOP_yield` (`sched.h`).
const SCHEDOP_YIELD: u64 = 0;
/// `SCHEDOP_shutdown` (`sched.h`).
const SCHEDOP_SHUTDOWN: u64 = 2;
/// `HVMOP_get_param` (`hvm/hvm_op.h`).
const HVMOP_GET_PARAM: u64 = 1;
/// `EVTCHNOP_send` (`event_channel.h`).
const EVTCHNOP_SEND: u64 = 4;
/// `CONSOLEIO_write` (`xen.h`).
const CONSOLEIO_WRITE: u64 = 0;
/// `ENOSYS`: returned by the wrappers when there is no hypervisor.
const ENOSYS: i32 = 38;

/// HVM parameter indices (`hvm/params.h`) used at boot.
pub mod hvm_param {
    /// `HVM_PARAM_CALLBACK_IRQ`.
    pub const CALLBACK_IRQ: u32 = 0;
    /// `HVM_PARAM_STORE_PFN`.
    pub const STORE_PFN: u32 = 1;
    /// `HVM_PARAM_STORE_EVTCHN`.
    pub const STORE_EVTCHN: u32 = 2;
    /// `HVM_PARAM_CONSOLE_PFN`.
    pub const CONSOLE_PFN: u32 = 17;
    /// `HVM_PARAM_CONSOLE_EVTCHN`.
    pub const CONSOLE_EVTCHN: u32 = 18;
}

/// Shutdown reasons (`SHUTDOWN_*` in `sched.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ShutdownReason {
    /// `SHUTDOWN_poweroff`: exited normally.
    PowerOff = 0,
    /// `SHUTDOWN_reboot`.
    Reboot = 1,
    /// `SHUTDOWN_crash`: tell the toolstack we crashed.
    Crash = 3,
}

/// `struct sched_shutdown`.
#[doc(alias = "sched_shutdown")]
#[repr(C)]
struct SchedShutdown {
    reason: u32,
}
const _: () = assert!(size_of::<SchedShutdown>() == 4);

/// `struct xen_hvm_param`.
#[doc(alias = "xen_hvm_param")]
#[repr(C)]
struct HvmParam {
    domid: u16,
    pad: u16,
    index: u32,
    value: u64,
}
const _: () = assert!(size_of::<HvmParam>() == 16);

/// `struct evtchn_send`.
#[doc(alias = "evtchn_send")]
#[repr(C)]
struct EventChannelSend {
    port: u32,
}
const _: () = assert!(size_of::<EventChannelSend>() == 4);

/// What CPUID tells us about the Xen we run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XenInfo {
    /// The CPUID base of Xen's leaves (0x40000000 + n * 0x100).
    pub cpuid_base: u32,
    /// Xen major version.
    pub major: u16,
    /// Xen minor version.
    pub minor: u16,
    /// Guest TSC frequency in kHz (0 if Xen did not say).
    pub tsc_khz: u32,
}

extern "C" {
    /// The page Xen fills with hypercall stubs (`boot/entry.S`, in .bss).
    static xensnd_hypercall_page: u8;
}

static INSTALLED: AtomicBool = AtomicBool::new(false);
static TSC_KHZ: AtomicU32 = AtomicU32::new(0);

/// Look for Xen's CPUID leaves ("XenVMMXenVMM").
pub fn detect() -> Option<XenInfo> {
    (0x4000_0000u32..0x4001_0000)
        .step_by(0x100)
        .find(|&base| {
            let leaf = cpu::cpuid(base, 0);
            leaf.ebx == 0x566e_6558 // "XenV"
                && leaf.ecx == 0x6558_4d4d // "MMXe"
                && leaf.edx == 0x4d4d_566e // "nVMM"
                && leaf.eax >= base + 2
        })
        .map(|base| {
            let version = cpu::cpuid(base + 1, 0);
            let max_leaf = cpu::cpuid(base, 0).eax;
            let tsc_khz = if max_leaf >= base + 3 {
                cpu::cpuid(base + 3, 0).ecx
            } else {
                0
            };
            XenInfo {
                cpuid_base: base,
                major: (version.eax >> 16) as u16,
                minor: version.eax as u16,
                tsc_khz,
            }
        })
}

/// Detect Xen and install the hypercall page (once). Returns `None` without
/// a hypervisor; the typed wrappers then fail with `-ENOSYS`.
pub fn init() -> Option<XenInfo> {
    let info = detect()?;
    if !INSTALLED.load(Ordering::Acquire) {
        let msr = cpu::cpuid(info.cpuid_base + 2, 0).ebx;
        let page = (&raw const xensnd_hypercall_page) as u64;
        // SAFETY: Xen's CPUID leaf names this MSR as the hypercall-page MSR;
        // the value is the physical (= virtual, identity-mapped) address of
        // a page-aligned, otherwise unused .bss page that we hand to Xen to
        // fill with code. Nothing in Rust reads or writes that page.
        unsafe { cpu::write_msr(msr, page) };
        TSC_KHZ.store(info.tsc_khz, Ordering::Relaxed);
        INSTALLED.store(true, Ordering::Release);
    }
    Some(info)
}

/// Whether the hypercall page is installed (we run on Xen).
pub fn is_available() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// The guest TSC frequency in kHz reported by Xen (0 if unknown / no Xen).
pub fn tsc_khz() -> u32 {
    TSC_KHZ.load(Ordering::Relaxed)
}

fn entry(op: usize) -> usize {
    (&raw const xensnd_hypercall_page) as usize + 32 * op
}

/// Raw hypercall with no argument.
///
/// # Safety
/// The hypercall page must be installed ([`is_available`]), `op` must be a
/// hypercall number, and the call must be valid for Xen (see the typed
/// wrappers for what each operation reads and writes).
pub unsafe fn hypercall0(op: usize) -> i64 {
    let result: i64;
    // SAFETY: the caller guarantees the page is installed; the stub at the
    // entry is Xen's `mov $op, %eax; vmcall/vmmcall; ret`. Every
    // caller-saved register is declared clobbered.
    unsafe {
        asm!("call {entry}", entry = in(reg) entry(op), lateout("rax") result, clobber_abi("C"))
    };
    result
}

/// Raw hypercall with one argument (rdi).
///
/// # Safety
/// As for [`hypercall0`]; pointer arguments must point to memory that is
/// valid for what Xen reads or writes for this operation.
pub unsafe fn hypercall1(op: usize, a1: u64) -> i64 {
    let result: i64;
    // SAFETY: see `hypercall0`; the caller vouches for the argument.
    unsafe {
        asm!("call {entry}", entry = in(reg) entry(op), in("rdi") a1, lateout("rax") result, clobber_abi("C"))
    };
    result
}

/// Raw hypercall with two arguments (rdi, rsi).
///
/// # Safety
/// As for [`hypercall1`].
pub unsafe fn hypercall2(op: usize, a1: u64, a2: u64) -> i64 {
    let result: i64;
    // SAFETY: see `hypercall0`; the caller vouches for the arguments.
    unsafe {
        asm!(
            "call {entry}",
            entry = in(reg) entry(op),
            in("rdi") a1,
            in("rsi") a2,
            lateout("rax") result,
            clobber_abi("C"),
        )
    };
    result
}

/// Raw hypercall with three arguments (rdi, rsi, rdx).
///
/// # Safety
/// As for [`hypercall1`].
pub unsafe fn hypercall3(op: usize, a1: u64, a2: u64, a3: u64) -> i64 {
    let result: i64;
    // SAFETY: see `hypercall0`; the caller vouches for the arguments.
    unsafe {
        asm!(
            "call {entry}",
            entry = in(reg) entry(op),
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            lateout("rax") result,
            clobber_abi("C"),
        )
    };
    result
}

/// Raw hypercall with four arguments (rdi, rsi, rdx, r10).
///
/// # Safety
/// As for [`hypercall1`].
pub unsafe fn hypercall4(op: usize, a1: u64, a2: u64, a3: u64, a4: u64) -> i64 {
    let result: i64;
    // SAFETY: see `hypercall0`; the caller vouches for the arguments.
    unsafe {
        asm!(
            "call {entry}",
            entry = in(reg) entry(op),
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            in("r10") a4,
            lateout("rax") result,
            clobber_abi("C"),
        )
    };
    result
}

/// Raw hypercall with five arguments (rdi, rsi, rdx, r10, r8).
///
/// # Safety
/// As for [`hypercall1`].
pub unsafe fn hypercall5(op: usize, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    let result: i64;
    // SAFETY: see `hypercall0`; the caller vouches for the arguments.
    unsafe {
        asm!(
            "call {entry}",
            entry = in(reg) entry(op),
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            in("r10") a4,
            in("r8") a5,
            lateout("rax") result,
            clobber_abi("C"),
        )
    };
    result
}

/// Turn a hypercall result into `Ok(value)` or `Err(Hypercall(-errno))`.
fn check(result: i64) -> Result<u64, XenError> {
    if result < 0 {
        Err(XenError::Hypercall(result as i32))
    } else {
        Ok(result as u64)
    }
}

fn require_xen() -> Result<(), XenError> {
    if is_available() {
        Ok(())
    } else {
        Err(XenError::Hypercall(-ENOSYS))
    }
}

/// `SCHEDOP_yield`: let other vCPUs (dom0's consoled, a backend) run.
pub fn sched_yield() -> Result<(), XenError> {
    require_xen()?;
    // SAFETY: the page is installed; SCHEDOP_yield takes no argument memory.
    check(unsafe { hypercall2(number::SCHED_OP, SCHEDOP_YIELD, 0) }).map(drop)
}

/// `SCHEDOP_shutdown`: stop this domain with `reason`. Returns only if Xen
/// refused (or is absent).
pub fn sched_shutdown(reason: ShutdownReason) -> XenError {
    if let Err(error) = require_xen() {
        return error;
    }
    let argument = SchedShutdown {
        reason: reason as u32,
    };
    // SAFETY: the page is installed; Xen reads the 4-byte struct, which lives
    // on our stack for the duration of the call.
    let result = unsafe {
        hypercall2(
            number::SCHED_OP,
            SCHEDOP_SHUTDOWN,
            (&raw const argument) as u64,
        )
    };
    match check(result) {
        Err(error) => error,
        Ok(_) => XenError::Invalid,
    }
}

/// `HVMOP_get_param` for this domain.
pub fn hvm_get_param(index: u32) -> Result<u64, XenError> {
    require_xen()?;
    let mut argument = HvmParam {
        domid: DOMID_SELF,
        pad: 0,
        index,
        value: 0,
    };
    // SAFETY: the page is installed; Xen reads and writes the 16-byte struct,
    // which lives on our stack for the duration of the call.
    check(unsafe { hypercall2(number::HVM_OP, HVMOP_GET_PARAM, (&raw mut argument) as u64) })?;
    Ok(argument.value)
}

/// `EVTCHNOP_send`: signal the remote end of `port`.
pub fn event_channel_send(port: Port) -> Result<(), XenError> {
    require_xen()?;
    let argument = EventChannelSend { port };
    // SAFETY: the page is installed; Xen reads the 4-byte struct, which lives
    // on our stack for the duration of the call.
    check(unsafe {
        hypercall2(
            number::EVENT_CHANNEL_OP,
            EVTCHNOP_SEND,
            (&raw const argument) as u64,
        )
    })
    .map(drop)
}

/// `CONSOLEIO_write`: write to Xen's own console. From a domU this only
/// reaches the log on debug builds of Xen (or with `guest_loglvl=all` on
/// some versions); the PV console ring ([`super::console`]) is the real one.
pub fn console_io_write(bytes: &[u8]) -> Result<(), XenError> {
    require_xen()?;
    // SAFETY: the page is installed; Xen reads `bytes.len()` bytes from the
    // slice, which outlives the call.
    check(unsafe {
        hypercall3(
            number::CONSOLE_IO,
            CONSOLEIO_WRITE,
            bytes.len() as u64,
            bytes.as_ptr() as u64,
        )
    })
    .map(drop)
}
