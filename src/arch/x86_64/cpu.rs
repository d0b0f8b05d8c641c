//! CPU instructions: CPUID, MSRs, CR2, the time-stamp counter, the interrupt
//! flag and halting (Intel SDM vol. 2 and vol. 3 chapter 2).

use core::arch::asm;

/// The four registers CPUID returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpuid {
    /// EAX.
    pub eax: u32,
    /// EBX.
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
}

/// Execute CPUID for `leaf` / `subleaf`.
#[inline]
pub fn cpuid(leaf: u32, subleaf: u32) -> Cpuid {
    let eax: u32;
    let ebx: u64;
    let ecx: u32;
    let edx: u32;
    // SAFETY: CPUID only reports processor information. LLVM reserves rbx,
    // so it is saved in a scratch register around the instruction.
    unsafe {
        asm!(
            "mov {saved}, rbx",
            "cpuid",
            "xchg {saved}, rbx",
            saved = out(reg) ebx,
            inout("eax") leaf => eax,
            inout("ecx") subleaf => ecx,
            out("edx") edx,
            options(nomem, nostack, preserves_flags),
        );
    }
    Cpuid {
        eax,
        // CPUID writes only the low half of rbx (the upper half is zeroed).
        ebx: ebx as u32,
        ecx,
        edx,
    }
}

/// Read a model-specific register.
///
/// # Safety
/// `msr` must exist on this CPU (reading a missing MSR raises #GP).
#[inline]
pub unsafe fn read_msr(msr: u32) -> u64 {
    let low: u32;
    let high: u32;
    // SAFETY: the caller guarantees the MSR exists; RDMSR has no memory effects.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags))
    };
    (u64::from(high) << 32) | u64::from(low)
}

/// Write a model-specific register.
///
/// # Safety
/// `msr` must exist and `value` must be valid for it; some MSRs make the CPU
/// or the hypervisor write memory (the Xen hypercall-page MSR does), so the
/// caller must own whatever memory the write hands out.
#[inline]
pub unsafe fn write_msr(msr: u32, value: u64) {
    // SAFETY: the caller guarantees the MSR, the value and any memory the
    // write gives away; the asm itself touches no Rust-visible memory.
    unsafe {
        asm!(
            "wrmsr",
            in("ecx") msr,
            in("eax") value as u32,
            in("edx") (value >> 32) as u32,
            options(nostack, preserves_flags),
        )
    };
}

/// CR2: the linear address of the last page fault.
#[inline]
pub fn read_cr2() -> u64 {
    let value: u64;
    // SAFETY: reading CR2 has no side effects (we run in ring 0).
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// The time-stamp counter (RDTSC).
#[inline]
pub fn read_tsc() -> u64 {
    let low: u32;
    let high: u32;
    // SAFETY: RDTSC only reads the counter (CR4.TSD is clear in ring 0 anyway).
    unsafe {
        asm!("rdtsc", out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags))
    };
    (u64::from(high) << 32) | u64::from(low)
}

/// Disable maskable interrupts (CLI). The guest runs with them disabled
/// except inside [`halt`].
#[inline]
pub fn disable_interrupts() {
    // SAFETY: clearing IF only defers interrupts; no memory is touched.
    unsafe { asm!("cli", options(nomem, nostack)) };
}

/// Whether maskable interrupts are enabled (RFLAGS.IF).
#[inline]
pub fn interrupts_enabled() -> bool {
    let flags: u64;
    // SAFETY: pushes RFLAGS and pops it into a register: a balanced use of
    // the stack and no other effect.
    unsafe { asm!("pushfq", "pop {}", out(reg) flags, options(nomem, preserves_flags)) };
    flags & (1 << 9) != 0
}

/// Sleep until the next interrupt, without losing a wake-up.
///
/// Call this with interrupts disabled, after checking (with interrupts still
/// disabled) that there is nothing to do. It executes `sti; hlt; cli`: STI
/// only takes effect after the next instruction, so an interrupt that became
/// pending after the check is taken *during* HLT and wakes it; none can
/// slip in between the check and the halt. The interrupt handler runs, then
/// this returns with interrupts disabled again. It may also return for an
/// unrelated interrupt: callers re-check their condition in a loop.
#[inline]
pub fn halt() {
    // SAFETY: interrupts are only enabled for the duration of HLT; the IDT is
    // installed (arch::init) before anything waits, and handlers preserve
    // every register they use.
    unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// Stop this CPU for good: interrupts off, halt forever.
pub fn stop() -> ! {
    loop {
        // SAFETY: with interrupts disabled HLT only wakes for NMI/SMI, after
        // which we halt again; no memory is touched.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
