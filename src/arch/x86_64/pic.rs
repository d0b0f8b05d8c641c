//! The legacy 8259 interrupt controllers of a plain PC (QEMU without Xen).
//!
//! Firmware leaves them delivering IRQ 0-7 on vectors 8-15, which collide
//! with CPU exceptions (the timer would look like a double fault the first
//! time interrupts are enabled). [`disable`] moves them to vectors 0x20-0x2f
//! and masks every line. A PVH guest under Xen has no 8259s.

use super::port;

const PRIMARY_COMMAND: u16 = 0x20;
const PRIMARY_DATA: u16 = 0x21;
const SECONDARY_COMMAND: u16 = 0xa0;
const SECONDARY_DATA: u16 = 0xa1;

/// First vector of the remapped controllers (IRQ 0); IRQ 15 is 0x2f.
pub const REMAPPED_BASE: u8 = 0x20;

/// Remap both controllers above the exception vectors and mask all lines.
pub fn disable() {
    let writes: [(u16, u8); 10] = [
        (PRIMARY_COMMAND, 0x11),             // ICW1: initialise, ICW4 follows
        (SECONDARY_COMMAND, 0x11),           //
        (PRIMARY_DATA, REMAPPED_BASE),       // ICW2: vector base
        (SECONDARY_DATA, REMAPPED_BASE + 8), //
        (PRIMARY_DATA, 0x04),                // ICW3: secondary on IRQ 2
        (SECONDARY_DATA, 0x02),              // ICW3: cascade identity
        (PRIMARY_DATA, 0x01),                // ICW4: 8086 mode
        (SECONDARY_DATA, 0x01),              //
        (PRIMARY_DATA, 0xff),                // mask every line
        (SECONDARY_DATA, 0xff),              //
    ];
    for (register, value) in writes {
        // SAFETY: the standard 8259 initialisation sequence on the standard
        // ports of a PC; it only changes interrupt routing, and all lines end
        // up masked. Called only without Xen (plain QEMU/PC).
        unsafe { port::write_u8(register, value) };
    }
}
