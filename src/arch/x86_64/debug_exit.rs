//! QEMU's `isa-debug-exit` device: end the emulator with a status code.
//!
//! With `-device isa-debug-exit,iobase=0xf4,iosize=0x04`, a write of `value`
//! to port 0xf4 makes QEMU exit with status `(value << 1) | 1`. Used only when
//! no hypervisor is detected (plain QEMU); under Xen the guest shuts down
//! with `SCHEDOP_shutdown` instead.

use super::port;

/// The device's I/O port (its `iobase`).
pub const PORT: u16 = 0xf4;

/// Value written for a successful run: QEMU exits with
/// [`QEMU_STATUS_SUCCESS`].
pub const VALUE_SUCCESS: u32 = 0x10;

/// Value written after a crash (panic, exception): QEMU exits with
/// [`QEMU_STATUS_FAILURE`].
pub const VALUE_FAILURE: u32 = 0x11;

/// QEMU's exit status after [`VALUE_SUCCESS`]: `(0x10 << 1) | 1`.
pub const QEMU_STATUS_SUCCESS: i32 = 33;

/// QEMU's exit status after [`VALUE_FAILURE`]: `(0x11 << 1) | 1`.
pub const QEMU_STATUS_FAILURE: i32 = 35;

/// Ask QEMU to exit with `(value << 1) | 1`. Returns only if there is no
/// such device (real hardware, Xen, QEMU without the device).
pub fn exit(value: u32) {
    // SAFETY: port 0xf4 is only written when no hypervisor is present, i.e.
    // under plain QEMU where it is the isa-debug-exit device; with no device
    // there the write is ignored.
    unsafe { port::write_u32(PORT, value) };
}
