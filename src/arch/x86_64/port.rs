//! x86 port I/O (`in`/`out`, Intel SDM vol. 2): the primitive under the debug
//! console (port 0xe9) and QEMU's `isa-debug-exit` device.

use core::arch::asm;

/// Write one byte to an I/O port.
///
/// # Safety
/// Writing a port can reconfigure hardware; the caller must know what device
/// (if any) sits at `port` and that the write is harmless or intended.
#[inline]
pub unsafe fn write_u8(port: u16, value: u8) {
    // SAFETY: the caller vouches for the effect of the write (see above);
    // `out` touches no memory and no stack.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    };
}

/// Write a 32-bit value to an I/O port.
///
/// # Safety
/// As for [`write_u8`].
#[inline]
pub unsafe fn write_u32(port: u16, value: u32) {
    // SAFETY: the caller vouches for the effect of the write (see above);
    // `out` touches no memory and no stack.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
    };
}

/// Read one byte from an I/O port.
///
/// # Safety
/// Reading a port can have side effects on the device behind it; the caller
/// must know what sits at `port`.
#[inline]
pub unsafe fn read_u8(port: u16) -> u8 {
    let value: u8;
    // SAFETY: the caller vouches for the effect of the read (see above);
    // `in` touches no memory and no stack.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack, preserves_flags))
    };
    value
}
