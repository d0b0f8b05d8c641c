//! `xen.h`, `version.h`, `features.h`: hypercall numbers, domain ids, VIRQs and version queries.
//!
//! Implements the numbering of Xen's public `xen.h` (hypercalls, `VIRQ_*`,
//! `DOMID_*`, `CONSOLEIO_*`), `version.h` (`XENVER_*`) and `features.h`
//! (`XENFEAT_*`) for x86_64. The hypercall page entry of hypercall `N` is at
//! byte `32 * N`.
#![forbid(unsafe_code)]
#![allow(non_upper_case_globals, reason = "constants keep their C names")]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `__HYPERVISOR_set_trap_table`: hypercall number 0.
pub const __HYPERVISOR_set_trap_table: u32 = 0;
/// `__HYPERVISOR_mmu_update`: hypercall number 1.
pub const __HYPERVISOR_mmu_update: u32 = 1;
/// `__HYPERVISOR_set_gdt`: hypercall number 2.
pub const __HYPERVISOR_set_gdt: u32 = 2;
/// `__HYPERVISOR_stack_switch`: hypercall number 3.
pub const __HYPERVISOR_stack_switch: u32 = 3;
/// `__HYPERVISOR_set_callbacks`: hypercall number 4.
pub const __HYPERVISOR_set_callbacks: u32 = 4;
/// `__HYPERVISOR_fpu_taskswitch`: hypercall number 5.
pub const __HYPERVISOR_fpu_taskswitch: u32 = 5;
/// `__HYPERVISOR_sched_op_compat`: hypercall number 6.
pub const __HYPERVISOR_sched_op_compat: u32 = 6;
/// `__HYPERVISOR_platform_op`: hypercall number 7.
pub const __HYPERVISOR_platform_op: u32 = 7;
/// `__HYPERVISOR_set_debugreg`: hypercall number 8.
pub const __HYPERVISOR_set_debugreg: u32 = 8;
/// `__HYPERVISOR_get_debugreg`: hypercall number 9.
pub const __HYPERVISOR_get_debugreg: u32 = 9;
/// `__HYPERVISOR_update_descriptor`: hypercall number 10.
pub const __HYPERVISOR_update_descriptor: u32 = 10;
/// `__HYPERVISOR_memory_op`: hypercall number 12.
pub const __HYPERVISOR_memory_op: u32 = 12;
/// `__HYPERVISOR_multicall`: hypercall number 13.
pub const __HYPERVISOR_multicall: u32 = 13;
/// `__HYPERVISOR_update_va_mapping`: hypercall number 14.
pub const __HYPERVISOR_update_va_mapping: u32 = 14;
/// `__HYPERVISOR_set_timer_op`: hypercall number 15.
pub const __HYPERVISOR_set_timer_op: u32 = 15;
/// `__HYPERVISOR_event_channel_op_compat`: hypercall number 16.
pub const __HYPERVISOR_event_channel_op_compat: u32 = 16;
/// `__HYPERVISOR_xen_version`: hypercall number 17.
pub const __HYPERVISOR_xen_version: u32 = 17;
/// `__HYPERVISOR_console_io`: hypercall number 18.
pub const __HYPERVISOR_console_io: u32 = 18;
/// `__HYPERVISOR_physdev_op_compat`: hypercall number 19.
pub const __HYPERVISOR_physdev_op_compat: u32 = 19;
/// `__HYPERVISOR_grant_table_op`: hypercall number 20.
pub const __HYPERVISOR_grant_table_op: u32 = 20;
/// `__HYPERVISOR_vm_assist`: hypercall number 21.
pub const __HYPERVISOR_vm_assist: u32 = 21;
/// `__HYPERVISOR_update_va_mapping_otherdomain`: hypercall number 22.
pub const __HYPERVISOR_update_va_mapping_otherdomain: u32 = 22;
/// `__HYPERVISOR_iret`: hypercall number 23.
pub const __HYPERVISOR_iret: u32 = 23;
/// `__HYPERVISOR_vcpu_op`: hypercall number 24.
pub const __HYPERVISOR_vcpu_op: u32 = 24;
/// `__HYPERVISOR_set_segment_base`: hypercall number 25.
pub const __HYPERVISOR_set_segment_base: u32 = 25;
/// `__HYPERVISOR_mmuext_op`: hypercall number 26.
pub const __HYPERVISOR_mmuext_op: u32 = 26;
/// `__HYPERVISOR_xsm_op`: hypercall number 27.
pub const __HYPERVISOR_xsm_op: u32 = 27;
/// `__HYPERVISOR_nmi_op`: hypercall number 28.
pub const __HYPERVISOR_nmi_op: u32 = 28;
/// `__HYPERVISOR_sched_op`: hypercall number 29.
pub const __HYPERVISOR_sched_op: u32 = 29;
/// `__HYPERVISOR_callback_op`: hypercall number 30.
pub const __HYPERVISOR_callback_op: u32 = 30;
/// `__HYPERVISOR_xenoprof_op`: hypercall number 31.
pub const __HYPERVISOR_xenoprof_op: u32 = 31;
/// `__HYPERVISOR_event_channel_op`: hypercall number 32.
pub const __HYPERVISOR_event_channel_op: u32 = 32;
/// `__HYPERVISOR_physdev_op`: hypercall number 33.
pub const __HYPERVISOR_physdev_op: u32 = 33;
/// `__HYPERVISOR_hvm_op`: hypercall number 34.
pub const __HYPERVISOR_hvm_op: u32 = 34;
/// `__HYPERVISOR_sysctl`: hypercall number 35.
pub const __HYPERVISOR_sysctl: u32 = 35;
/// `__HYPERVISOR_domctl`: hypercall number 36.
pub const __HYPERVISOR_domctl: u32 = 36;
/// `__HYPERVISOR_kexec_op`: hypercall number 37.
pub const __HYPERVISOR_kexec_op: u32 = 37;
/// `__HYPERVISOR_tmem_op`: hypercall number 38.
pub const __HYPERVISOR_tmem_op: u32 = 38;
/// `__HYPERVISOR_argo_op`: hypercall number 39.
pub const __HYPERVISOR_argo_op: u32 = 39;
/// `__HYPERVISOR_xenpmu_op`: hypercall number 40.
pub const __HYPERVISOR_xenpmu_op: u32 = 40;
/// `__HYPERVISOR_dm_op`: hypercall number 41.
pub const __HYPERVISOR_dm_op: u32 = 41;
/// `__HYPERVISOR_hypfs_op`: hypercall number 42.
pub const __HYPERVISOR_hypfs_op: u32 = 42;
/// `__HYPERVISOR_arch_0`: architecture-specific hypercall 0.
pub const __HYPERVISOR_arch_0: u32 = 48;
/// `__HYPERVISOR_arch_1`: architecture-specific hypercall 1.
pub const __HYPERVISOR_arch_1: u32 = 49;
/// `__HYPERVISOR_arch_2`: architecture-specific hypercall 2.
pub const __HYPERVISOR_arch_2: u32 = 50;
/// `__HYPERVISOR_arch_3`: architecture-specific hypercall 3.
pub const __HYPERVISOR_arch_3: u32 = 51;
/// `__HYPERVISOR_arch_4`: architecture-specific hypercall 4.
pub const __HYPERVISOR_arch_4: u32 = 52;
/// `__HYPERVISOR_arch_5`: architecture-specific hypercall 5.
pub const __HYPERVISOR_arch_5: u32 = 53;
/// `__HYPERVISOR_arch_6`: architecture-specific hypercall 6.
pub const __HYPERVISOR_arch_6: u32 = 54;
/// `__HYPERVISOR_arch_7`: architecture-specific hypercall 7.
pub const __HYPERVISOR_arch_7: u32 = 55;
/// `VIRQ_TIMER`: timebase update or requested timeout (per vCPU).
pub const VIRQ_TIMER: u32 = 0;
/// `VIRQ_DEBUG`: request to dump debug info.
pub const VIRQ_DEBUG: u32 = 1;
/// `VIRQ_CONSOLE`: bytes received on the emergency console (dom0).
pub const VIRQ_CONSOLE: u32 = 2;
/// `VIRQ_DOM_EXC`: exceptional event for some domain (dom0).
pub const VIRQ_DOM_EXC: u32 = 3;
/// `VIRQ_TBUF`: trace buffer has records (dom0).
pub const VIRQ_TBUF: u32 = 4;
/// `VIRQ_DEBUGGER`: a domain paused for debugging (dom0).
pub const VIRQ_DEBUGGER: u32 = 6;
/// `VIRQ_XENOPROF`: XenOprofile sample available.
pub const VIRQ_XENOPROF: u32 = 7;
/// `VIRQ_CON_RING`: bytes received on the console (dom0).
pub const VIRQ_CON_RING: u32 = 8;
/// `VIRQ_PCPU_STATE`: physical CPU state changed (dom0).
pub const VIRQ_PCPU_STATE: u32 = 9;
/// `VIRQ_MEM_EVENT`: a memory event occurred (dom0).
pub const VIRQ_MEM_EVENT: u32 = 10;
/// `VIRQ_ARGO`: Argo interdomain message notification.
pub const VIRQ_ARGO: u32 = 11;
/// `VIRQ_ENOMEM`: Xen low on heap memory (dom0).
pub const VIRQ_ENOMEM: u32 = 12;
/// `VIRQ_XENPMU`: PMC interrupt.
pub const VIRQ_XENPMU: u32 = 13;
/// `VIRQ_ARCH_0`: architecture-specific virtual IRQ 0.
pub const VIRQ_ARCH_0: u32 = 16;
/// `VIRQ_ARCH_1`: architecture-specific virtual IRQ 1.
pub const VIRQ_ARCH_1: u32 = 17;
/// `VIRQ_ARCH_2`: architecture-specific virtual IRQ 2.
pub const VIRQ_ARCH_2: u32 = 18;
/// `VIRQ_ARCH_3`: architecture-specific virtual IRQ 3.
pub const VIRQ_ARCH_3: u32 = 19;
/// `VIRQ_ARCH_4`: architecture-specific virtual IRQ 4.
pub const VIRQ_ARCH_4: u32 = 20;
/// `VIRQ_ARCH_5`: architecture-specific virtual IRQ 5.
pub const VIRQ_ARCH_5: u32 = 21;
/// `VIRQ_ARCH_6`: architecture-specific virtual IRQ 6.
pub const VIRQ_ARCH_6: u32 = 22;
/// `VIRQ_ARCH_7`: architecture-specific virtual IRQ 7.
pub const VIRQ_ARCH_7: u32 = 23;
/// `NR_VIRQS`: number of virtual IRQs.
pub const NR_VIRQS: u32 = 24;

/// `CONSOLEIO_write`: `console_io` command writing bytes to the Xen console.
pub const CONSOLEIO_write: u32 = 0;
/// `CONSOLEIO_read`: `console_io` command reading bytes from the Xen console.
pub const CONSOLEIO_read: u32 = 1;

/// `DOMID_FIRST_RESERVED`: domain ids from here up are special.
pub const DOMID_FIRST_RESERVED: u16 = 0x7FF0;
/// `DOMID_SELF`: the calling domain.
pub const DOMID_SELF: u16 = 0x7FF0;
/// `DOMID_IO`: the I/O pseudo-domain.
pub const DOMID_IO: u16 = 0x7FF1;
/// `DOMID_XEN`: the hypervisor pseudo-domain.
pub const DOMID_XEN: u16 = 0x7FF2;
/// `DOMID_COW`: the copy-on-write pseudo-domain.
pub const DOMID_COW: u16 = 0x7FF3;
/// `DOMID_INVALID`: no domain.
pub const DOMID_INVALID: u16 = 0x7FF4;
/// `DOMID_IDLE`: the idle domain.
pub const DOMID_IDLE: u16 = 0x7FFF;
/// `DOMID_MASK`: mask of valid domain-id bits.
pub const DOMID_MASK: u16 = 0x7FFF;

/// `XEN_PAGE_SHIFT` (`io/ring.h`): log2 of the page size Xen's interfaces use.
pub const XEN_PAGE_SHIFT: u32 = 12;
/// `XEN_PAGE_SIZE` (`1 << XEN_PAGE_SHIFT`): 4 KiB.
pub const XEN_PAGE_SIZE: usize = 1 << XEN_PAGE_SHIFT;

/// `XEN_HVM_DEBUGCONS_IOPORT` (`arch-x86/xen.h`): bytes written to this I/O
/// port appear in `xl dmesg` when the guest log level allows it.
pub const XEN_HVM_DEBUGCONS_IOPORT: u16 = 0xe9;

/// `XEN_GUEST_HANDLE(type)` on x86_64: the guest address of a buffer that a
/// hypercall reads or writes (in C a struct holding one pointer).
#[doc(alias = "XEN_GUEST_HANDLE")]
#[repr(transparent)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct GuestHandle(pub u64);
const _: () = assert!(core::mem::size_of::<GuestHandle>() == 8);

/// `XENVER_version`: `xen_version` command returning `major << 16 | minor`.
pub const XENVER_version: u32 = 0;
/// `XENVER_extraversion`: `xen_version` command filling a `xen_extraversion_t`.
pub const XENVER_extraversion: u32 = 1;
/// `XENVER_get_features`: `xen_version` command filling a [`XenFeatureInfo`].
pub const XENVER_get_features: u32 = 6;
/// `XENVER_pagesize`: `xen_version` command returning the page size.
pub const XENVER_pagesize: u32 = 7;
/// `XEN_EXTRAVERSION_LEN`: bytes of `xen_extraversion_t`.
pub const XEN_EXTRAVERSION_LEN: usize = 16;

/// `struct xen_feature_info`: argument of `XENVER_get_features`.
#[doc(alias = "xen_feature_info")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct XenFeatureInfo {
    /// `submap_idx`: which 32-bit submap to return (in).
    pub submap_idx: u32,
    /// `submap`: the 32-bit feature submap (out); bit `n` is `XENFEAT_*` `32 * submap_idx + n`.
    pub submap: u32,
}
const _: () = assert!(core::mem::size_of::<XenFeatureInfo>() == 8);

/// `XENFEAT_writable_page_tables`: feature bit 0.
pub const XENFEAT_writable_page_tables: u32 = 0;
/// `XENFEAT_writable_descriptor_tables`: feature bit 1.
pub const XENFEAT_writable_descriptor_tables: u32 = 1;
/// `XENFEAT_auto_translated_physmap`: feature bit 2.
pub const XENFEAT_auto_translated_physmap: u32 = 2;
/// `XENFEAT_supervisor_mode_kernel`: feature bit 3.
pub const XENFEAT_supervisor_mode_kernel: u32 = 3;
/// `XENFEAT_pae_pgdir_above_4gb`: feature bit 4.
pub const XENFEAT_pae_pgdir_above_4gb: u32 = 4;
/// `XENFEAT_mmu_pt_update_preserve_ad`: feature bit 5.
pub const XENFEAT_mmu_pt_update_preserve_ad: u32 = 5;
/// `XENFEAT_highmem_assist`: feature bit 6.
pub const XENFEAT_highmem_assist: u32 = 6;
/// `XENFEAT_gnttab_map_avail_bits`: feature bit 7.
pub const XENFEAT_gnttab_map_avail_bits: u32 = 7;
/// `XENFEAT_hvm_callback_vector`: feature bit 8.
pub const XENFEAT_hvm_callback_vector: u32 = 8;
/// `XENFEAT_hvm_safe_pvclock`: feature bit 9.
pub const XENFEAT_hvm_safe_pvclock: u32 = 9;
/// `XENFEAT_hvm_pirqs`: feature bit 10.
pub const XENFEAT_hvm_pirqs: u32 = 10;
/// `XENFEAT_dom0`: feature bit 11.
pub const XENFEAT_dom0: u32 = 11;
/// `XENFEAT_memory_op_vnode_supported`: feature bit 13.
pub const XENFEAT_memory_op_vnode_supported: u32 = 13;
/// `XENFEAT_ARM_SMCCC_supported`: feature bit 14.
pub const XENFEAT_ARM_SMCCC_supported: u32 = 14;
/// `XENFEAT_linux_rsdp_unrestricted`: feature bit 15.
pub const XENFEAT_linux_rsdp_unrestricted: u32 = 15;
/// `XENFEAT_not_direct_mapped`: feature bit 16.
pub const XENFEAT_not_direct_mapped: u32 = 16;
/// `XENFEAT_direct_mapped`: feature bit 17.
pub const XENFEAT_direct_mapped: u32 = 17;
/// `XENFEAT_NR_SUBMAPS`: number of 32-bit feature submaps.
pub const XENFEAT_NR_SUBMAPS: u32 = 1;
