//! `hvm/hvm_op.h` and `hvm/params.h`: the `hvm_op` hypercall and HVM parameters.
//!
//! Implements `HVMOP_set_param`/`HVMOP_get_param` with `struct xen_hvm_param`
//! and the `HVM_PARAM_*` indices a PVH guest reads (XenStore and console
//! rings) or writes (the event-channel callback).
#![forbid(unsafe_code)]
#![allow(non_upper_case_globals, reason = "constants keep their C names")]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `HVMOP_set_param`: write an HVM parameter.
pub const HVMOP_set_param: u32 = 0;
/// `HVMOP_get_param`: read an HVM parameter.
pub const HVMOP_get_param: u32 = 1;

/// `struct xen_hvm_param`: argument of `HVMOP_set_param` / `HVMOP_get_param`.
#[doc(alias = "xen_hvm_param")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct XenHvmParam {
    /// `domid`: the domain (`DOMID_SELF`).
    pub domid: u16,
    /// `pad`.
    pub pad: u16,
    /// `index`: `HVM_PARAM_*`.
    pub index: u32,
    /// `value`: in for set, out for get.
    pub value: u64,
}
const _: () = assert!(core::mem::size_of::<XenHvmParam>() == 16);

/// `HVM_PARAM_CALLBACK_IRQ`: how event-channel upcalls reach vCPU 0;
/// the type is in bits 63:56 (`HVM_PARAM_CALLBACK_TYPE_*`).
pub const HVM_PARAM_CALLBACK_IRQ: u32 = 0;
/// `HVM_PARAM_CALLBACK_IRQ_TYPE_MASK`: the type bits of the callback value.
pub const HVM_PARAM_CALLBACK_IRQ_TYPE_MASK: u64 = 0xFF00_0000_0000_0000;
/// The shift of the type in the callback value (the lowest bit of
/// `HVM_PARAM_CALLBACK_IRQ_TYPE_MASK`; the header has no name for it).
pub const HVM_PARAM_CALLBACK_IRQ_TYPE_SHIFT: u32 = 56;
/// `HVM_PARAM_CALLBACK_TYPE_GSI`: bits 55:0 are a GSI.
pub const HVM_PARAM_CALLBACK_TYPE_GSI: u64 = 0;
/// `HVM_PARAM_CALLBACK_TYPE_PCI_INTX`: bits 55:0 are a PCI INTx line.
pub const HVM_PARAM_CALLBACK_TYPE_PCI_INTX: u64 = 1;
/// `HVM_PARAM_CALLBACK_TYPE_VECTOR` (x86): bits 7:0 are an IDT vector
/// (needs `XENFEAT_hvm_callback_vector`; no local APIC EOI).
pub const HVM_PARAM_CALLBACK_TYPE_VECTOR: u64 = 2;

/// `HVM_PARAM_STORE_PFN`: the guest frame of the XenStore ring.
pub const HVM_PARAM_STORE_PFN: u32 = 1;
/// `HVM_PARAM_STORE_EVTCHN`: the event channel of the XenStore ring.
pub const HVM_PARAM_STORE_EVTCHN: u32 = 2;
/// `HVM_PARAM_IOREQ_PFN`: the device-model I/O request page.
pub const HVM_PARAM_IOREQ_PFN: u32 = 5;
/// `HVM_PARAM_BUFIOREQ_PFN`: the buffered I/O request page.
pub const HVM_PARAM_BUFIOREQ_PFN: u32 = 6;
/// `HVM_PARAM_VIRIDIAN`: Hyper-V enlightenments.
pub const HVM_PARAM_VIRIDIAN: u32 = 9;
/// `HVM_PARAM_TIMER_MODE`: virtual timer mode.
pub const HVM_PARAM_TIMER_MODE: u32 = 10;
/// `HVM_PARAM_HPET_ENABLED`: whether the HPET is emulated.
pub const HVM_PARAM_HPET_ENABLED: u32 = 11;
/// `HVM_PARAM_IDENT_PT`: identity page table for real mode.
pub const HVM_PARAM_IDENT_PT: u32 = 12;
/// `HVM_PARAM_ACPI_S_STATE`: the ACPI sleep state.
pub const HVM_PARAM_ACPI_S_STATE: u32 = 14;
/// `HVM_PARAM_VM86_TSS`: TSS for vm86 emulation.
pub const HVM_PARAM_VM86_TSS: u32 = 15;
/// `HVM_PARAM_VPT_ALIGN`: align virtual timers.
pub const HVM_PARAM_VPT_ALIGN: u32 = 16;
/// `HVM_PARAM_CONSOLE_PFN`: the guest frame of the PV console ring.
pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
/// `HVM_PARAM_CONSOLE_EVTCHN`: the event channel of the PV console ring.
pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;
/// `HVM_PARAM_ACPI_IOPORTS_LOCATION`.
pub const HVM_PARAM_ACPI_IOPORTS_LOCATION: u32 = 19;
/// `HVM_PARAM_PAGING_RING_PFN`.
pub const HVM_PARAM_PAGING_RING_PFN: u32 = 27;
/// `HVM_PARAM_MONITOR_RING_PFN`.
pub const HVM_PARAM_MONITOR_RING_PFN: u32 = 28;
/// `HVM_PARAM_SHARING_RING_PFN`.
pub const HVM_PARAM_SHARING_RING_PFN: u32 = 29;
/// `HVM_PARAM_TRIPLE_FAULT_REASON`.
pub const HVM_PARAM_TRIPLE_FAULT_REASON: u32 = 31;
/// `HVM_PARAM_IOREQ_SERVER_PFN`.
pub const HVM_PARAM_IOREQ_SERVER_PFN: u32 = 32;
/// `HVM_PARAM_NR_IOREQ_SERVER_PAGES`.
pub const HVM_PARAM_NR_IOREQ_SERVER_PAGES: u32 = 33;
/// `HVM_PARAM_VM_GENERATION_ID_ADDR`.
pub const HVM_PARAM_VM_GENERATION_ID_ADDR: u32 = 34;
/// `HVM_PARAM_ALTP2M`.
pub const HVM_PARAM_ALTP2M: u32 = 35;
/// `HVM_PARAM_X87_FIP_WIDTH`.
pub const HVM_PARAM_X87_FIP_WIDTH: u32 = 36;
/// `HVM_PARAM_VM86_TSS_SIZED`.
pub const HVM_PARAM_VM86_TSS_SIZED: u32 = 37;
/// `HVM_PARAM_MCA_CAP`.
pub const HVM_PARAM_MCA_CAP: u32 = 38;
/// `HVM_NR_PARAMS`: number of HVM parameters.
pub const HVM_NR_PARAMS: u32 = 39;
