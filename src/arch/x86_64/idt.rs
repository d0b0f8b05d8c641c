//! The IDT, exception reports and the event-channel upcall vector (Intel SDM
//! vol. 3, 6.10-6.15).
//!
//! Every exception (vectors 0-31) goes through a stub in `vectors.S` to
//! `xensnd_interrupt_dispatch`, which prints
//! `EXCEPTION: <name> (vector N) error=0x.. rip=0x.. cr2=0x..` and stops the
//! guest with a crash status. The double fault runs on its own IST stack
//! (see [`super::gdt`]), so even a stack overflow is reported.
//! [`EVENT_CALLBACK_VECTOR`] is the vector for Xen's event-channel upcall
//! (`HVM_PARAM_CALLBACK_IRQ` type 2); its handler is registered with
//! [`register_event_handler`] and returns normally.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use super::{console, cpu, gdt, power};

/// The vector Xen's event-channel upcall is delivered on (the value to put
/// in bits 7:0 of `HVM_PARAM_CALLBACK_IRQ` with type 2 in bits 63:56).
pub const EVENT_CALLBACK_VECTOR: u8 = 243;

/// Number of architectural exception vectors.
const EXCEPTION_COUNT: usize = 32;

/// Exception names, by vector.
const EXCEPTION_NAMES: [&str; EXCEPTION_COUNT] = [
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved (15)",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point exception",
    "virtualization exception",
    "control protection exception",
    "reserved (22)",
    "reserved (23)",
    "reserved (24)",
    "reserved (25)",
    "reserved (26)",
    "reserved (27)",
    "hypervisor injection exception",
    "VMM communication exception",
    "security exception",
    "reserved (31)",
];

/// The name of an exception vector (`None` for vectors 32 and up).
pub fn exception_name(vector: u64) -> Option<&'static str> {
    usize::try_from(vector)
        .ok()
        .and_then(|index| EXCEPTION_NAMES.get(index))
        .copied()
}

/// The stack as `vectors.S` leaves it for the dispatcher: the saved
/// caller-saved registers, the vector, the error code (0 if the CPU pushed
/// none) and the CPU's interrupt frame.
#[repr(C)]
#[derive(Debug)]
pub struct InterruptFrame {
    /// Saved r11.
    pub r11: u64,
    /// Saved r10.
    pub r10: u64,
    /// Saved r9.
    pub r9: u64,
    /// Saved r8.
    pub r8: u64,
    /// Saved rdi.
    pub rdi: u64,
    /// Saved rsi.
    pub rsi: u64,
    /// Saved rdx.
    pub rdx: u64,
    /// Saved rcx.
    pub rcx: u64,
    /// Saved rax.
    pub rax: u64,
    /// The vector number.
    pub vector: u64,
    /// The error code.
    pub error_code: u64,
    /// Interrupted instruction pointer.
    pub rip: u64,
    /// Interrupted code segment.
    pub cs: u64,
    /// Interrupted RFLAGS.
    pub rflags: u64,
    /// Interrupted stack pointer.
    pub rsp: u64,
    /// Interrupted stack segment.
    pub ss: u64,
}
const _: () = assert!(size_of::<InterruptFrame>() == 16 * 8);

/// A 64-bit interrupt gate.
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32,
}
const _: () = assert!(size_of::<Gate>() == 16);

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        attributes: 0,
        offset_middle: 0,
        offset_high: 0,
        reserved: 0,
    };

    fn interrupt(handler: u64, ist: u8) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector: gdt::CODE_SELECTOR,
            ist,
            attributes: 0x8e, // present, DPL 0, 64-bit interrupt gate
            offset_middle: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct IdtCell(UnsafeCell<[Gate; 256]>);

// SAFETY: written only by `init`, once, before LIDT and with interrupts off
// (guarded by INITIALISED); afterwards only read by the CPU.
unsafe impl Sync for IdtCell {}

static IDT: IdtCell = IdtCell(UnsafeCell::new([Gate::MISSING; 256]));
static INITIALISED: AtomicBool = AtomicBool::new(false);
static EVENT_HANDLER: spin::Once<fn()> = spin::Once::new();

extern "C" {
    /// Entry stubs for vectors 0..31, then [`EVENT_CALLBACK_VECTOR`]
    /// (`vectors.S`).
    static xensnd_vector_table: [u64; EXCEPTION_COUNT + 1];
}

#[repr(C, packed)]
struct DescriptorTablePointer {
    limit: u16,
    base: u64,
}

/// Fill and load the IDT. Only the first call does anything; call after
/// [`gdt::init`] (the double fault uses its IST stack).
pub fn init() {
    if INITIALISED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: the table is an immutable array of addresses in .rodata.
    let stubs = unsafe { &xensnd_vector_table };
    // SAFETY: first and only call (INITIALISED), one vCPU, interrupts off:
    // nothing else accesses the IDT while we fill it.
    let idt = unsafe { &mut *IDT.0.get() };
    for (vector, &stub) in stubs.iter().take(EXCEPTION_COUNT).enumerate() {
        let ist = if vector == 8 {
            gdt::DOUBLE_FAULT_IST
        } else {
            0
        };
        idt[vector] = Gate::interrupt(stub, ist);
    }
    idt[usize::from(EVENT_CALLBACK_VECTOR)] = Gate::interrupt(stubs[EXCEPTION_COUNT], 0);
    let pointer = DescriptorTablePointer {
        limit: (size_of::<[Gate; 256]>() - 1) as u16,
        base: IDT.0.get() as u64,
    };
    // SAFETY: the IDT lives in a static and every present gate points at a
    // stub in vectors.S; the pointer is read by LIDT only.
    unsafe {
        asm!("lidt [{}]", in(reg) &raw const pointer, options(readonly, nostack, preserves_flags))
    };
}

/// Register the handler of [`EVENT_CALLBACK_VECTOR`] (the Xen event-channel
/// upcall). It runs in interrupt context with interrupts disabled: it must
/// not allocate, block or take a lock that the interrupted code may hold.
/// Only one handler can be registered; a second call returns `false`.
pub fn register_event_handler(handler: fn()) -> bool {
    let mut installed = false;
    EVENT_HANDLER.call_once(|| {
        installed = true;
        handler
    });
    installed
}

/// Raise [`EVENT_CALLBACK_VECTOR`] in software (`int`): runs the registered
/// handler through the same entry and return path as a Xen upcall. For
/// self-tests of the interrupt path; does nothing visible without a handler.
pub fn raise_event_callback() {
    assert!(INITIALISED.load(Ordering::Acquire), "IDT not loaded");
    // SAFETY: the gate for this vector is installed by `init` (asserted
    // above) and its stub saves and restores every caller-saved register;
    // the handler is a safe `fn()`. The asm is treated as a call (no
    // `nomem`), so memory the handler touches is re-read afterwards.
    unsafe { asm!("int {vector}", vector = const EVENT_CALLBACK_VECTOR) };
}

/// Called by `vectors.S` for every interrupt and exception.
#[no_mangle]
extern "C" fn xensnd_interrupt_dispatch(frame: &InterruptFrame) {
    if frame.vector == u64::from(EVENT_CALLBACK_VECTOR) {
        if let Some(handler) = EVENT_HANDLER.get() {
            handler();
        }
        return;
    }
    match exception_name(frame.vector) {
        Some(name) => report_exception(name, frame),
        None => {
            // Only vectors with a gate reach here; nothing else is routed.
            console::write_fmt(format_args!(
                "unexpected interrupt vector {}\n",
                frame.vector
            ));
        }
    }
}

fn report_exception(name: &str, frame: &InterruptFrame) -> ! {
    cpu::disable_interrupts();
    console::enter_crash_mode();
    console::write_fmt(format_args!(
        "EXCEPTION: {} (vector {}) error={:#x} rip={:#x} cr2={:#x}\n",
        name,
        frame.vector,
        frame.error_code,
        frame.rip,
        cpu::read_cr2(),
    ));
    console::write_fmt(format_args!(
        "  rsp={:#x} rflags={:#x} cs={:#x} ss={:#x} rax={:#x} rdi={:#x} rsi={:#x}\n",
        frame.rsp, frame.rflags, frame.cs, frame.ss, frame.rax, frame.rdi, frame.rsi,
    ));
    power::crash()
}
