//! Reading `struct hvm_start_info` (`arch-x86/hvm/start_info.h`): the PVH
//! boot information whose physical address Xen or QEMU passes in %ebx.
//!
//! Everything is copied out of guest memory into a [`StartInfo`] after
//! validation (magic, addresses inside the identity map), so the memory it
//! came from may be reused afterwards; its ranges are still reported so the
//! heap avoids them.

use core::fmt;
use core::ops::Range;
use core::ptr;

use zerocopy::FromBytes;

use super::memmap::{self, MemoryRegion};
use xen_abi::start_info::{
    HvmMemmapTableEntry, HvmModlistEntry, HvmStartInfo, XEN_HVM_MEMMAP_TYPE_ACPI,
    XEN_HVM_MEMMAP_TYPE_DISABLED, XEN_HVM_MEMMAP_TYPE_NVS, XEN_HVM_MEMMAP_TYPE_PMEM,
    XEN_HVM_MEMMAP_TYPE_RAM, XEN_HVM_MEMMAP_TYPE_RESERVED, XEN_HVM_MEMMAP_TYPE_UNUSABLE,
    XEN_HVM_START_MAGIC_VALUE,
};

/// `XEN_HVM_START_MAGIC_VALUE`.
pub const MAGIC: u32 = XEN_HVM_START_MAGIC_VALUE;
/// Longest command line kept (Xen's limit for a guest command line is 1024
/// bytes including the terminating NUL).
pub const COMMAND_LINE_CAPACITY: usize = 1024;
/// Most memory-map entries kept.
pub const MEMORY_MAP_CAPACITY: usize = 64;
/// Most reserved ranges recorded (start info, map, command line, modules).
pub const RESERVED_CAPACITY: usize = 16;

// `memmap` keeps its own copy of the type numbers (it is also built by the
// host tests on its own); they must agree with the ABI.
const _: () = assert!(memmap::TYPE_RAM == XEN_HVM_MEMMAP_TYPE_RAM);
const _: () = assert!(memmap::TYPE_RESERVED == XEN_HVM_MEMMAP_TYPE_RESERVED);
const _: () = assert!(memmap::TYPE_ACPI == XEN_HVM_MEMMAP_TYPE_ACPI);
const _: () = assert!(memmap::TYPE_NVS == XEN_HVM_MEMMAP_TYPE_NVS);
const _: () = assert!(memmap::TYPE_UNUSABLE == XEN_HVM_MEMMAP_TYPE_UNUSABLE);
const _: () = assert!(memmap::TYPE_DISABLED == XEN_HVM_MEMMAP_TYPE_DISABLED);
const _: () = assert!(memmap::TYPE_PMEM == XEN_HVM_MEMMAP_TYPE_PMEM);

/// Why the start info could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartInfoError {
    /// The pointer, or a structure it points to, is outside readable memory.
    BadAddress(u64),
    /// The magic value is wrong.
    BadMagic(u32),
}

impl fmt::Display for StartInfoError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartInfoError::BadAddress(address) => {
                write!(formatter, "address {address:#x} outside the identity map")
            }
            StartInfoError::BadMagic(magic) => {
                write!(formatter, "bad magic {magic:#x} (want {MAGIC:#x})")
            }
        }
    }
}

/// The validated, copied-out start info.
#[derive(Debug, Clone)]
pub struct StartInfo {
    /// Physical address of the structure.
    pub paddr: u64,
    /// Structure version (1 has the memory map).
    pub version: u32,
    /// `SIF_*` flags.
    pub flags: u32,
    /// Number of modules.
    pub module_count: u32,
    /// Physical address of the ACPI RSDP (0 if none).
    pub rsdp_paddr: u64,
    command_line: heapless::String<COMMAND_LINE_CAPACITY>,
    /// The command line was longer than [`COMMAND_LINE_CAPACITY`] or not
    /// UTF-8 and was cut.
    pub command_line_truncated: bool,
    /// The memory map (empty if the structure has none).
    pub memory_map: heapless::Vec<MemoryRegion, MEMORY_MAP_CAPACITY>,
    /// Entries beyond [`MEMORY_MAP_CAPACITY`] were dropped.
    pub memory_map_truncated: bool,
    /// Memory the boot data occupies (keep the heap away from it).
    pub reserved: heapless::Vec<Range<u64>, RESERVED_CAPACITY>,
}

impl StartInfo {
    /// The command line (`""` if none).
    pub fn command_line(&self) -> &str {
        &self.command_line
    }
}

fn check_range(address: u64, length: u64) -> Result<(), StartInfoError> {
    let end = address
        .checked_add(length)
        .ok_or(StartInfoError::BadAddress(address))?;
    if address == 0 || end > super::IDENTITY_MAP_LIMIT {
        return Err(StartInfoError::BadAddress(address));
    }
    Ok(())
}

/// Copy a `T` out of guest-physical memory.
fn read_physical<T: FromBytes>(address: u64) -> Result<T, StartInfoError> {
    check_range(address, size_of::<T>() as u64)?;
    // SAFETY: the range lies in the identity map (checked above: mapped and
    // readable RAM or firmware data, nothing Rust owns mutably), and
    // `T: FromBytes` is valid for any bytes; the read is unaligned-safe.
    Ok(unsafe { ptr::read_unaligned(address as *const T) })
}

fn push_reserved(info: &mut StartInfo, start: u64, length: u64) {
    if length > 0 {
        // A full list only loses a hint; the heap may then overlap a module.
        let _ = info.reserved.push(start..start.saturating_add(length));
    }
}

/// Read and validate the start info at `paddr`.
pub fn read(paddr: u64) -> Result<StartInfo, StartInfoError> {
    let raw: HvmStartInfo = read_physical(paddr)?;
    if raw.magic != MAGIC {
        return Err(StartInfoError::BadMagic(raw.magic));
    }
    let mut info = StartInfo {
        paddr,
        version: raw.version,
        flags: raw.flags,
        module_count: raw.nr_modules,
        rsdp_paddr: raw.rsdp_paddr,
        command_line: heapless::String::new(),
        command_line_truncated: false,
        memory_map: heapless::Vec::new(),
        memory_map_truncated: false,
        reserved: heapless::Vec::new(),
    };
    push_reserved(&mut info, paddr, size_of::<HvmStartInfo>() as u64);

    if raw.cmdline_paddr != 0 {
        read_command_line(&mut info, raw.cmdline_paddr)?;
    }

    if raw.version >= 1 && raw.memmap_entries > 0 {
        let entry_size = size_of::<HvmMemmapTableEntry>() as u64;
        let length = u64::from(raw.memmap_entries) * entry_size;
        check_range(raw.memmap_paddr, length)?;
        push_reserved(&mut info, raw.memmap_paddr, length);
        for index in 0..u64::from(raw.memmap_entries) {
            let entry: HvmMemmapTableEntry = read_physical(raw.memmap_paddr + index * entry_size)?;
            let region = MemoryRegion {
                start: entry.addr,
                size: entry.size,
                kind: entry.memory_type,
            };
            if info.memory_map.push(region).is_err() {
                info.memory_map_truncated = true;
                break;
            }
        }
    }

    if raw.nr_modules > 0 && raw.modlist_paddr != 0 {
        let entry_size = size_of::<HvmModlistEntry>() as u64;
        let length = u64::from(raw.nr_modules) * entry_size;
        check_range(raw.modlist_paddr, length)?;
        push_reserved(&mut info, raw.modlist_paddr, length);
        for index in 0..u64::from(raw.nr_modules) {
            let module: HvmModlistEntry = read_physical(raw.modlist_paddr + index * entry_size)?;
            push_reserved(&mut info, module.paddr, module.size);
            push_reserved(&mut info, module.cmdline_paddr, 1);
        }
    }
    Ok(info)
}

fn read_command_line(info: &mut StartInfo, address: u64) -> Result<(), StartInfoError> {
    let mut bytes = [0u8; COMMAND_LINE_CAPACITY];
    let mut length = 0;
    let mut terminated = false;
    while length < COMMAND_LINE_CAPACITY {
        let byte: u8 = read_physical(address + length as u64)?;
        if byte == 0 {
            terminated = true;
            break;
        }
        bytes[length] = byte;
        length += 1;
    }
    push_reserved(info, address, length as u64 + 1);
    let text = match core::str::from_utf8(&bytes[..length]) {
        Ok(text) => text,
        Err(error) => {
            info.command_line_truncated = true;
            // Cannot fail: `valid_up_to` marks the end of valid UTF-8.
            core::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default()
        }
    };
    info.command_line_truncated |= !terminated;
    // Cannot fail: the text is at most COMMAND_LINE_CAPACITY bytes.
    let _ = info.command_line.push_str(text);
    Ok(())
}
