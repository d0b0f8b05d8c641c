//! Early console on I/O port 0xe9 (Bochs/QEMU "debugcon", Xen's HVM debug port).
//!
//! QEMU shows the bytes with `-debugcon stdio` (or `file:`). Under Xen, port
//! 0xe9 writes from an HVM/PVH guest go to the hypervisor log, visible with
//! `xl dmesg` when Xen runs with `guest_loglvl=all`. Works from the first
//! instruction on: no set-up, no memory.

use super::port;

/// The debug console port.
pub const PORT: u16 = 0xe9;

/// Write bytes to the debug console.
/// One `rep outsb` for the lot: every `out` to the port traps to the
/// hypervisor, and a string write is one trap per batch instead of per byte.
pub fn write_bytes(bytes: &[u8]) {
    // SAFETY: port 0xe9 is the debug console under QEMU and Xen; writing
    // it has no effect other than logging the bytes (or nothing at all).
    unsafe { port::write_bytes(PORT, bytes) };
}
