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

/// Write every byte of `bytes` to an I/O port with one `rep outsb`: under a
/// hypervisor that is one exit per batch of bytes instead of one per byte.
///
/// # Safety
/// As for [`write_u8`], for each byte.
#[inline]
pub unsafe fn write_bytes(port: u16, bytes: &[u8]) {
    // SAFETY: the caller vouches for the effect of the writes (see above);
    // `rep outsb` reads `bytes.len()` bytes from `bytes` (a valid slice;
    // the direction flag is clear, as the ABI guarantees) and writes no
    // memory.
    unsafe {
        asm!(
            "rep outsb",
            in("dx") port,
            inout("rsi") bytes.as_ptr() => _,
            inout("rcx") bytes.len() => _,
            options(readonly, nostack, preserves_flags)
        )
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
