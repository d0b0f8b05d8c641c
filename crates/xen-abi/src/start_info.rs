//! `arch-x86/hvm/start_info.h`: the PVH boot information.
//!
//! At the PVH entry point `ebx` holds the physical address of a
//! [`HvmStartInfo`]; it points at the module list, the command line and the
//! memory map. The `SIF_*` flags come from `xen.h`.
#![forbid(unsafe_code)]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `XEN_HVM_START_MAGIC_VALUE`: [`HvmStartInfo::magic`].
pub const XEN_HVM_START_MAGIC_VALUE: u32 = 0x336e_c578;

/// `XEN_HVM_MEMMAP_TYPE_RAM`: usable RAM.
pub const XEN_HVM_MEMMAP_TYPE_RAM: u32 = 1;
/// `XEN_HVM_MEMMAP_TYPE_RESERVED`: reserved.
pub const XEN_HVM_MEMMAP_TYPE_RESERVED: u32 = 2;
/// `XEN_HVM_MEMMAP_TYPE_ACPI`: ACPI tables (reclaimable).
pub const XEN_HVM_MEMMAP_TYPE_ACPI: u32 = 3;
/// `XEN_HVM_MEMMAP_TYPE_NVS`: ACPI non-volatile storage.
pub const XEN_HVM_MEMMAP_TYPE_NVS: u32 = 4;
/// `XEN_HVM_MEMMAP_TYPE_UNUSABLE`: unusable.
pub const XEN_HVM_MEMMAP_TYPE_UNUSABLE: u32 = 5;
/// `XEN_HVM_MEMMAP_TYPE_DISABLED`: disabled.
pub const XEN_HVM_MEMMAP_TYPE_DISABLED: u32 = 6;
/// `XEN_HVM_MEMMAP_TYPE_PMEM`: persistent memory.
pub const XEN_HVM_MEMMAP_TYPE_PMEM: u32 = 7;

/// `SIF_PRIVILEGED` (`xen.h`): the domain is privileged.
pub const SIF_PRIVILEGED: u32 = 1 << 0;
/// `SIF_INITDOMAIN` (`xen.h`): the domain is the initial control domain.
pub const SIF_INITDOMAIN: u32 = 1 << 1;
/// `SIF_MULTIBOOT_MOD` (`xen.h`): modules are multiboot modules.
pub const SIF_MULTIBOOT_MOD: u32 = 1 << 2;
/// `SIF_MOD_START_PFN` (`xen.h`): `mod_start` is a frame number.
pub const SIF_MOD_START_PFN: u32 = 1 << 3;
/// `SIF_VIRT_P2M_4TOOLS` (`xen.h`): tools understand a virtually mapped p2m list.
pub const SIF_VIRT_P2M_4TOOLS: u32 = 1 << 4;
/// `SIF_PM_MASK` (`xen.h`): bits reserved for power-management options.
pub const SIF_PM_MASK: u32 = 0xFF << 8;

/// `struct hvm_start_info`: what `ebx` points at on PVH entry.
#[doc(alias = "hvm_start_info")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct HvmStartInfo {
    /// `magic`: [`XEN_HVM_START_MAGIC_VALUE`].
    pub magic: u32,
    /// `version`: 0, or 1 when the memory map fields are valid.
    pub version: u32,
    /// `flags`: `SIF_*`.
    pub flags: u32,
    /// `nr_modules`: entries at `modlist_paddr`.
    pub nr_modules: u32,
    /// `modlist_paddr`: physical address of [`HvmModlistEntry`] array.
    pub modlist_paddr: u64,
    /// `cmdline_paddr`: physical address of the NUL-terminated command line, or 0.
    pub cmdline_paddr: u64,
    /// `rsdp_paddr`: physical address of the ACPI RSDP, or 0.
    pub rsdp_paddr: u64,
    /// `memmap_paddr` (version 1): physical address of [`HvmMemmapTableEntry`] array.
    pub memmap_paddr: u64,
    /// `memmap_entries` (version 1): entries at `memmap_paddr`.
    pub memmap_entries: u32,
    /// `reserved`: zero.
    pub reserved: u32,
}
const _: () = assert!(core::mem::size_of::<HvmStartInfo>() == 56);

/// `struct hvm_modlist_entry`: one boot module.
#[doc(alias = "hvm_modlist_entry")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct HvmModlistEntry {
    /// `paddr`: physical address of the module.
    pub paddr: u64,
    /// `size`: bytes.
    pub size: u64,
    /// `cmdline_paddr`: physical address of its command line, or 0.
    pub cmdline_paddr: u64,
    /// `reserved`.
    pub reserved: u64,
}
const _: () = assert!(core::mem::size_of::<HvmModlistEntry>() == 32);

/// `struct hvm_memmap_table_entry`: one region of the memory map.
#[doc(alias = "hvm_memmap_table_entry")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct HvmMemmapTableEntry {
    /// `addr`: base physical address.
    pub addr: u64,
    /// `size`: bytes.
    pub size: u64,
    /// `type`: `XEN_HVM_MEMMAP_TYPE_*`.
    #[doc(alias = "type")]
    pub memory_type: u32,
    /// `reserved`: zero.
    pub reserved: u32,
}
const _: () = assert!(core::mem::size_of::<HvmMemmapTableEntry>() == 24);
