//! Xen detection and hypercalls through the hypercall page.
//!
//! Implements `arch-x86/cpuid.h` (leaves 0x40000x00..03: signature, version,
//! hypercall-page MSR, TSC frequency) and the x86_64 hypercall ABI of
//! `xen.h`: hypercall `N` is a `call` to `page + 32 * N` with arguments in
//! rdi, rsi, rdx, r10, r8 and the result in rax (negative = `-XEN_Exxx`).
//! The typed wrappers cover what boot and the consoles need: `sched_op`
//! (yield, shutdown), `hvm_op` (get_param), `event_channel_op` (send) and
//! `console_io` (write), and what the platform (`super::platform`) needs:
//! `event_channel_op` (alloc_unbound, bind_virq, unmask, close),
//! `memory_op` (add_to_physmap), `grant_table_op` (query_size) and
//! `vcpu_op` (one-shot timer); and what serving another domain needs
//! (`super::foreign`): `grant_table_op` (map_grant_ref, unmap_grant_ref)
//! and `event_channel_op` (bind_interdomain).

use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::cpu;
use xen_abi::errno::XEN_ENOSYS;
use xen_abi::event_channel::{
    EVTCHNOP_alloc_unbound, EVTCHNOP_bind_interdomain, EVTCHNOP_bind_virq, EVTCHNOP_close,
    EVTCHNOP_send, EVTCHNOP_unmask, EvtchnAllocUnbound, EvtchnBindInterdomain, EvtchnBindVirq,
    EvtchnClose, EvtchnSend, EvtchnUnmask,
};
use xen_abi::grant_table::{
    GNTST_okay, GNTTABOP_map_grant_ref, GNTTABOP_query_size, GNTTABOP_unmap_grant_ref,
    GnttabMapGrantRef, GnttabQuerySize, GnttabUnmapGrantRef,
};
use xen_abi::hvm::{HVMOP_get_param, HVMOP_set_param, XenHvmParam};
use xen_abi::memory::{XENMEM_add_to_physmap, XenAddToPhysmap};
use xen_abi::sched::{
    SCHEDOP_shutdown, SCHEDOP_yield, SHUTDOWN_crash, SHUTDOWN_poweroff, SHUTDOWN_reboot,
    SchedShutdown,
};
use xen_abi::vcpu::{
    VCPUOP_set_singleshot_timer, VCPUOP_stop_periodic_timer, VCPU_SSHOTTMR_future,
    VcpuSetSingleshotTimer,
};
use xen_abi::xen::{
    __HYPERVISOR_console_io, __HYPERVISOR_event_channel_op, __HYPERVISOR_grant_table_op,
    __HYPERVISOR_hvm_op, __HYPERVISOR_memory_op, __HYPERVISOR_sched_op, __HYPERVISOR_vcpu_op,
    CONSOLEIO_write,
};
use xen_guest::{DomId, Gfn, Port, XenError, DOMID_SELF};

/// Shutdown reasons (`SHUTDOWN_*` in `sched.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ShutdownReason {
    /// `SHUTDOWN_poweroff`: exited normally.
    PowerOff = SHUTDOWN_poweroff,
    /// `SHUTDOWN_reboot`.
    Reboot = SHUTDOWN_reboot,
    /// `SHUTDOWN_crash`: tell the toolstack we crashed.
    Crash = SHUTDOWN_crash,
}

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

fn entry(op: u32) -> usize {
    // The page holds 128 stubs of 32 bytes; a larger number would call
    // whatever follows the page.
    assert!(op < 128, "hypercall number {op} outside the hypercall page");
    (&raw const xensnd_hypercall_page) as usize + 32 * op as usize
}

/// Raw hypercall with no argument.
///
/// # Safety
/// The hypercall page must be installed ([`is_available`]), `op` must be a
/// hypercall number, and the call must be valid for Xen (see the typed
/// wrappers for what each operation reads and writes).
pub unsafe fn hypercall0(op: u32) -> i64 {
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
pub unsafe fn hypercall1(op: u32, a1: u64) -> i64 {
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
pub unsafe fn hypercall2(op: u32, a1: u64, a2: u64) -> i64 {
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
pub unsafe fn hypercall3(op: u32, a1: u64, a2: u64, a3: u64) -> i64 {
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
pub unsafe fn hypercall4(op: u32, a1: u64, a2: u64, a3: u64, a4: u64) -> i64 {
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
pub unsafe fn hypercall5(op: u32, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
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
        Err(XenError::Hypercall(-XEN_ENOSYS))
    }
}

/// Call `op(command, &mut argument)` for an argument struct without guest
/// handles (so Xen reads and writes only the struct itself).
///
/// # Safety
/// The page must be installed, and `command` must be an operation of `op`
/// whose argument is a `T` that Xen only reads/writes in place (no guest
/// handles or addresses inside it that Xen would follow).
unsafe fn call_with<T>(op: u32, command: u32, argument: &mut T) -> Result<u64, XenError> {
    // SAFETY: the caller guarantees op/command/T match and the page exists;
    // the struct is borrowed mutably for the whole call.
    check(unsafe { hypercall2(op, u64::from(command), (argument as *mut T) as u64) })
}

/// `SCHEDOP_yield`: let other vCPUs (dom0's consoled, a backend) run.
pub fn sched_yield() -> Result<(), XenError> {
    require_xen()?;
    // SAFETY: the page is installed; SCHEDOP_yield ignores its argument.
    check(unsafe { hypercall2(__HYPERVISOR_sched_op, u64::from(SCHEDOP_yield), 0) }).map(drop)
}

/// `SCHEDOP_shutdown`: stop this domain with `reason`. Returns only if Xen
/// refused (or is absent), with the error.
pub fn sched_shutdown(reason: ShutdownReason) -> XenError {
    if let Err(error) = require_xen() {
        return error;
    }
    let mut argument = SchedShutdown {
        reason: reason as u32,
    };
    // SAFETY: the page is installed; SCHEDOP_shutdown takes a sched_shutdown.
    match unsafe { call_with(__HYPERVISOR_sched_op, SCHEDOP_shutdown, &mut argument) } {
        Err(error) => error,
        Ok(_) => XenError::Invalid,
    }
}

/// `HVMOP_get_param` for this domain (`HVM_PARAM_*` in `xen_abi::hvm`).
pub fn hvm_get_param(index: u32) -> Result<u64, XenError> {
    require_xen()?;
    let mut argument = XenHvmParam {
        domid: DOMID_SELF,
        pad: 0,
        index,
        value: 0,
    };
    // SAFETY: the page is installed; HVMOP_get_param takes a xen_hvm_param.
    unsafe { call_with(__HYPERVISOR_hvm_op, HVMOP_get_param, &mut argument) }?;
    Ok(argument.value)
}

/// `HVMOP_set_param` for this domain, e.g. `HVM_PARAM_CALLBACK_IRQ` with
/// `(HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | EVENT_CALLBACK_VECTOR`.
pub fn hvm_set_param(index: u32, value: u64) -> Result<(), XenError> {
    require_xen()?;
    let mut argument = XenHvmParam {
        domid: DOMID_SELF,
        pad: 0,
        index,
        value,
    };
    // SAFETY: the page is installed; HVMOP_set_param takes a xen_hvm_param.
    unsafe { call_with(__HYPERVISOR_hvm_op, HVMOP_set_param, &mut argument) }.map(drop)
}

/// `EVTCHNOP_send`: signal the remote end of `port`.
pub fn event_channel_send(port: Port) -> Result<(), XenError> {
    require_xen()?;
    let mut argument = EvtchnSend { port };
    // SAFETY: the page is installed; EVTCHNOP_send takes an evtchn_send.
    unsafe { call_with(__HYPERVISOR_event_channel_op, EVTCHNOP_send, &mut argument) }.map(drop)
}

/// `EVTCHNOP_alloc_unbound`: a new local port that `remote` may bind to.
pub fn event_channel_alloc_unbound(remote: DomId) -> Result<Port, XenError> {
    require_xen()?;
    let mut argument = EvtchnAllocUnbound {
        dom: DOMID_SELF,
        remote_dom: remote,
        port: 0,
    };
    // SAFETY: the page is installed; EVTCHNOP_alloc_unbound takes an
    // evtchn_alloc_unbound.
    unsafe {
        call_with(
            __HYPERVISOR_event_channel_op,
            EVTCHNOP_alloc_unbound,
            &mut argument,
        )
    }?;
    Ok(argument.port)
}

/// `EVTCHNOP_close`.
pub fn event_channel_close(port: Port) -> Result<(), XenError> {
    require_xen()?;
    let mut argument = EvtchnClose { port };
    // SAFETY: the page is installed; EVTCHNOP_close takes an evtchn_close.
    unsafe { call_with(__HYPERVISOR_event_channel_op, EVTCHNOP_close, &mut argument) }.map(drop)
}

/// `EVTCHNOP_unmask`.
pub fn event_channel_unmask(port: Port) -> Result<(), XenError> {
    require_xen()?;
    let mut argument = EvtchnUnmask { port };
    // SAFETY: the page is installed; EVTCHNOP_unmask takes an evtchn_unmask.
    unsafe {
        call_with(
            __HYPERVISOR_event_channel_op,
            EVTCHNOP_unmask,
            &mut argument,
        )
    }
    .map(drop)
}

/// `XENMEM_add_to_physmap` for this domain: make frame `index` of `space`
/// (`XENMAPSPACE_shared_info` 0 / `XENMAPSPACE_grant_table` 1) appear at
/// guest frame `gfn`.
///
/// # Safety
/// Whatever was at `gfn` is replaced: `gfn` must back no Rust data (pick a
/// free frame outside RAM or one taken out of the allocator for good), and
/// it must lie in the identity map to be accessed afterwards.
pub unsafe fn add_to_physmap(space: u32, index: u64, gfn: Gfn) -> Result<(), XenError> {
    require_xen()?;
    let mut argument = XenAddToPhysmap {
        domid: DOMID_SELF,
        size: 0,
        space,
        idx: index,
        gpfn: gfn,
    };
    // SAFETY: the page is installed; XENMEM_add_to_physmap takes a
    // xen_add_to_physmap; the caller vouches for the target frame.
    unsafe { call_with(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &mut argument) }.map(drop)
}

/// `CONSOLEIO_write`: write to Xen's own console. From a domU this only
/// reaches the log on debug builds of Xen; the PV console ring
/// ([`super::console`]) is the real one.
pub fn console_io_write(bytes: &[u8]) -> Result<(), XenError> {
    require_xen()?;
    // SAFETY: the page is installed; Xen reads `bytes.len()` bytes from the
    // slice, which outlives the call.
    check(unsafe {
        hypercall3(
            __HYPERVISOR_console_io,
            u64::from(CONSOLEIO_write),
            bytes.len() as u64,
            bytes.as_ptr() as u64,
        )
    })
    .map(drop)
}

/// `EVTCHNOP_bind_virq`: a new local port that fires for `virq` on `vcpu`.
pub fn event_channel_bind_virq(virq: u32, vcpu: u32) -> Result<Port, XenError> {
    require_xen()?;
    let mut argument = EvtchnBindVirq {
        virq,
        vcpu,
        port: 0,
    };
    // SAFETY: the page is installed; EVTCHNOP_bind_virq takes an
    // evtchn_bind_virq.
    unsafe {
        call_with(
            __HYPERVISOR_event_channel_op,
            EVTCHNOP_bind_virq,
            &mut argument,
        )
    }?;
    Ok(argument.port)
}

/// `GNTTABOP_query_size` for this domain: `(frames in use, maximum frames)`.
pub fn grant_table_query_size() -> Result<(u32, u32), XenError> {
    require_xen()?;
    let mut argument = GnttabQuerySize {
        dom: DOMID_SELF,
        ..GnttabQuerySize::default()
    };
    // SAFETY: the page is installed; GNTTABOP_query_size takes a count (1)
    // and one gnttab_query_size, which Xen reads and writes in place.
    check(unsafe {
        hypercall3(
            __HYPERVISOR_grant_table_op,
            u64::from(GNTTABOP_query_size),
            (&raw mut argument) as u64,
            1,
        )
    })?;
    if argument.status != GNTST_okay {
        return Err(XenError::Hypercall(i32::from(argument.status)));
    }
    Ok((argument.nr_frames, argument.max_nr_frames))
}

/// Whether a one-shot timer was armed or its deadline had already passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerArmed {
    /// Armed: `VIRQ_TIMER` fires at the deadline.
    Armed,
    /// The deadline is not in the future (`-ETIME`); nothing was armed.
    AlreadyPassed,
}

/// `VCPUOP_set_singleshot_timer` for `vcpu` at absolute Xen system time
/// `deadline_ns`, with `VCPU_SSHOTTMR_future` (a past deadline fails
/// instead of firing at once).
pub fn vcpu_set_singleshot_timer(vcpu: u32, deadline_ns: u64) -> Result<TimerArmed, XenError> {
    require_xen()?;
    let mut argument = VcpuSetSingleshotTimer {
        timeout_abs_ns: deadline_ns,
        flags: VCPU_SSHOTTMR_future,
        pad: 0,
    };
    // SAFETY: the page is installed; VCPUOP_set_singleshot_timer takes the
    // vCPU number and a vcpu_set_singleshot_timer that Xen only reads.
    let result = unsafe {
        hypercall3(
            __HYPERVISOR_vcpu_op,
            u64::from(VCPUOP_set_singleshot_timer),
            u64::from(vcpu),
            (&raw mut argument) as u64,
        )
    };
    match check(result) {
        Ok(_) => Ok(TimerArmed::Armed),
        Err(XenError::Hypercall(error)) if error == -xen_abi::errno::XEN_ETIME => {
            Ok(TimerArmed::AlreadyPassed)
        }
        Err(error) => Err(error),
    }
}

/// `VCPUOP_stop_periodic_timer` for `vcpu`: no periodic `VIRQ_TIMER`
/// ticks, only the one-shot timer we arm.
pub fn vcpu_stop_periodic_timer(vcpu: u32) -> Result<(), XenError> {
    require_xen()?;
    // SAFETY: the page is installed; VCPUOP_stop_periodic_timer takes the
    // vCPU number and ignores its pointer argument.
    check(unsafe {
        hypercall3(
            __HYPERVISOR_vcpu_op,
            u64::from(VCPUOP_stop_periodic_timer),
            u64::from(vcpu),
            0,
        )
    })
    .map(drop)
}

/// `EVTCHNOP_bind_interdomain`: a new local port connected to `remote_port`
/// of domain `remote` (an unbound port it allocated for us).
pub fn event_channel_bind_interdomain(remote: DomId, remote_port: Port) -> Result<Port, XenError> {
    require_xen()?;
    let mut argument = EvtchnBindInterdomain {
        remote_dom: remote,
        pad: 0,
        remote_port,
        local_port: 0,
    };
    // SAFETY: the page is installed; EVTCHNOP_bind_interdomain takes an
    // evtchn_bind_interdomain, which Xen reads and writes in place.
    unsafe {
        call_with(
            __HYPERVISOR_event_channel_op,
            EVTCHNOP_bind_interdomain,
            &mut argument,
        )
    }?;
    Ok(argument.local_port)
}

/// `GNTTABOP_map_grant_ref` over `entries` in one call: each maps
/// (`dom`, `ref`) at guest-physical `host_addr` (`GNTMAP_host_map`, on
/// an HVM/PVH guest a frame number << 12). The call's result is returned;
/// every entry's own `status` (and `handle`) is the caller's to check: an
/// entry can fail while others succeed.
///
/// # Safety
/// Every `host_addr` must be a page-aligned frame that backs no Rust data
/// and no other mapping (a free slot of the foreign window above RAM, see
/// `super::foreign`): whatever was there is replaced by the peer's page.
pub unsafe fn grant_table_map(entries: &mut [GnttabMapGrantRef]) -> Result<(), XenError> {
    require_xen()?;
    let count = u32::try_from(entries.len()).map_err(|_| XenError::Invalid)?;
    // SAFETY: the page is installed; GNTTABOP_map_grant_ref takes an array
    // of `count` gnttab_map_grant_ref that Xen reads and writes in place
    // (the slice is borrowed mutably for the call); the caller vouches for
    // the frames at each host_addr.
    check(unsafe {
        hypercall3(
            __HYPERVISOR_grant_table_op,
            u64::from(GNTTABOP_map_grant_ref),
            entries.as_mut_ptr() as u64,
            u64::from(count),
        )
    })
    .map(drop)
}

/// `GNTTABOP_unmap_grant_ref` over `entries` in one call (each with the
/// `host_addr` and `handle` of its map). As with [`grant_table_map`],
/// each entry's `status` is the caller's to check.
///
/// # Safety
/// Nothing may use the frames at the entries' `host_addr` afterwards until
/// they are mapped again (no Rust reference or accessor into them lives on).
pub unsafe fn grant_table_unmap(entries: &mut [GnttabUnmapGrantRef]) -> Result<(), XenError> {
    require_xen()?;
    let count = u32::try_from(entries.len()).map_err(|_| XenError::Invalid)?;
    // SAFETY: the page is installed; GNTTABOP_unmap_grant_ref takes an
    // array of `count` gnttab_unmap_grant_ref that Xen reads and writes in
    // place; the caller guarantees nothing uses the frames afterwards.
    check(unsafe {
        hypercall3(
            __HYPERVISOR_grant_table_op,
            u64::from(GNTTABOP_unmap_grant_ref),
            entries.as_mut_ptr() as u64,
            u64::from(count),
        )
    })
    .map(drop)
}
