//! Hardware and hypervisor access for the guest: the one layer with `unsafe`.
//!
//! Only x86_64 PVH exists (`x86_64`): the PVH entry (`boot/entry.S`), GDT/IDT,
//! port I/O, CPUID/MSRs, the Xen hypercall page, the consoles, the heap and
//! power-off. Everything is re-exported here so callers write
//! `xensnd::arch::console::write_str(..)` without naming the architecture.

pub mod x86_64;

pub use self::x86_64::*;
