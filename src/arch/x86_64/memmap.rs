//! The PVH memory map (`hvm_memmap_table_entry` types of
//! `arch-x86/hvm/start_info.h`) and the choice of the heap region.
//!
//! Pure logic with no `unsafe`, so the host tests include this file directly
//! (`tests/boot_parsers.rs`).
#![forbid(unsafe_code)]

use core::ops::Range;

/// Page size used for aligning the heap.
pub const PAGE_SIZE: u64 = 4096;

/// `XEN_HVM_MEMMAP_TYPE_RAM`.
pub const TYPE_RAM: u32 = 1;
/// `XEN_HVM_MEMMAP_TYPE_RESERVED`.
pub const TYPE_RESERVED: u32 = 2;
/// `XEN_HVM_MEMMAP_TYPE_ACPI`.
pub const TYPE_ACPI: u32 = 3;
/// `XEN_HVM_MEMMAP_TYPE_NVS`.
pub const TYPE_NVS: u32 = 4;
/// `XEN_HVM_MEMMAP_TYPE_UNUSABLE`.
pub const TYPE_UNUSABLE: u32 = 5;
/// `XEN_HVM_MEMMAP_TYPE_DISABLED`.
pub const TYPE_DISABLED: u32 = 6;
/// `XEN_HVM_MEMMAP_TYPE_PMEM`.
pub const TYPE_PMEM: u32 = 7;

/// One entry of the memory map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Physical start address.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
    /// `XEN_HVM_MEMMAP_TYPE_*`.
    pub kind: u32,
}

impl MemoryRegion {
    /// The end address (exclusive), saturating at `u64::MAX`.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.size)
    }

    /// Whether this is usable RAM.
    pub fn is_ram(&self) -> bool {
        self.kind == TYPE_RAM
    }

    /// A short name for the type.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            TYPE_RAM => "RAM",
            TYPE_RESERVED => "reserved",
            TYPE_ACPI => "ACPI",
            TYPE_NVS => "ACPI NVS",
            TYPE_UNUSABLE => "unusable",
            TYPE_DISABLED => "disabled",
            TYPE_PMEM => "persistent",
            _ => "unknown",
        }
    }
}

/// Total bytes of RAM in the map.
pub fn total_ram(regions: &[MemoryRegion]) -> u64 {
    regions
        .iter()
        .filter(|region| region.is_ram())
        .fold(0u64, |total, region| total.saturating_add(region.size))
}

fn align_up(value: u64, alignment: u64) -> Option<u64> {
    value
        .checked_add(alignment - 1)
        .map(|value| value & !(alignment - 1))
}

fn align_down(value: u64, alignment: u64) -> u64 {
    value & !(alignment - 1)
}

/// Choose the heap: the largest page-aligned stretch of RAM inside
/// `[floor, ceiling)` that overlaps none of the `reserved` ranges (the
/// image, start info, memory map, command line, modules, special pages),
/// cut to at most `max_size` bytes (keeping its start). `None` if no such
/// stretch of at least one page exists. Overlapping or unsorted map entries
/// are fine: a stretch never extends past the RAM entry it comes from.
pub fn select_heap(
    regions: &[MemoryRegion],
    reserved: &[Range<u64>],
    floor: u64,
    ceiling: u64,
    max_size: u64,
) -> Option<Range<u64>> {
    let mut best: Option<Range<u64>> = None;
    for region in regions.iter().filter(|region| region.is_ram()) {
        let Some(low) = align_up(region.start.max(floor), PAGE_SIZE) else {
            continue;
        };
        let high = align_down(region.end().min(ceiling), PAGE_SIZE);
        if low >= high {
            continue;
        }
        // A free stretch starts at the region start or right after a
        // reserved range, and runs to the next reserved range (or the end).
        let starts = core::iter::once(low).chain(
            reserved
                .iter()
                .filter_map(|range| align_up(range.end, PAGE_SIZE))
                .filter(|&start| start > low && start < high),
        );
        for start in starts {
            if reserved
                .iter()
                .any(|range| range.start <= start && start < range.end)
            {
                continue;
            }
            let end = reserved
                .iter()
                .filter(|range| {
                    range.end > range.start && range.start >= start && range.start < high
                })
                .map(|range| align_down(range.start, PAGE_SIZE))
                .fold(high, u64::min);
            if end <= start {
                continue;
            }
            let is_better = best
                .as_ref()
                .is_none_or(|current| end - start > current.end - current.start);
            if is_better {
                best = Some(start..end);
            }
        }
    }
    best.map(|range| range.start..range.end.min(range.start.saturating_add(max_size)))
        .filter(|range| range.end - range.start >= PAGE_SIZE)
}

/// Choose `pages` consecutive free guest frames to map Xen pages into
/// (shared info, grant frames): the first page-aligned address at or above
/// the end of the highest RAM below `ceiling` where the whole range
/// overlaps no memory-map entry (of any type) and none of `avoid`, and
/// ends at or below `ceiling`. Returns the start address, or `None`.
///
/// A hole above RAM holds no guest data, so `XENMEM_add_to_physmap` there
/// replaces nothing; Linux and the Windows PV drivers do the same with an
/// unused MMIO range.
pub fn select_free_frames(
    regions: &[MemoryRegion],
    avoid: &[Range<u64>],
    pages: u64,
    ceiling: u64,
) -> Option<u64> {
    let length = pages.checked_mul(PAGE_SIZE)?;
    if length == 0 {
        return None;
    }
    let ram_top = regions
        .iter()
        .filter(|region| region.is_ram() && region.start < ceiling)
        .map(|region| region.end().min(ceiling))
        .max()?;
    let occupied = regions
        .iter()
        .filter(|region| region.size > 0)
        .map(|region| region.start..region.end())
        .chain(
            avoid
                .iter()
                .filter(|range| range.end > range.start)
                .cloned(),
        );
    // Every candidate start is the RAM top or the end of an occupied range
    // above it; try them lowest first.
    let mut best: Option<u64> = None;
    let candidates = core::iter::once(ram_top).chain(occupied.clone().map(|range| range.end));
    for candidate in candidates {
        let Some(start) = align_up(candidate, PAGE_SIZE) else {
            continue;
        };
        if start < ram_top {
            continue;
        }
        let Some(end) = start.checked_add(length) else {
            continue;
        };
        if end > ceiling {
            continue;
        }
        let overlaps = occupied
            .clone()
            .any(|range| range.start < end && start < range.end);
        if !overlaps && best.is_none_or(|current| start < current) {
            best = Some(start);
        }
    }
    best
}
