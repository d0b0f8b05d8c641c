//! Host tests of the guest platform's pure logic: where the shared-info page
//! and the grant frames go (`select_free_frames` in
//! `src/arch/x86_64/memmap.rs`, included directly like `boot_parsers.rs`).

#[allow(
    dead_code,
    reason = "the guest uses more of the module than these tests"
)]
#[path = "../src/arch/x86_64/memmap.rs"]
mod memmap;

use memmap::{select_free_frames, MemoryRegion, PAGE_SIZE, TYPE_RAM, TYPE_RESERVED};

const FOUR_GIB: u64 = 4 << 30;

fn region(start: u64, size: u64, kind: u32) -> MemoryRegion {
    MemoryRegion { start, size, kind }
}

/// The map Xen gives a 32 MiB PVH guest (RAM, ACPI tables, special pages).
fn xen_map() -> Vec<MemoryRegion> {
    vec![
        region(0, 0x200_0000, TYPE_RAM),
        region(0xfc00_0000, 0x1000, TYPE_RESERVED),
        region(0xfeff_8000, 0x8000, TYPE_RESERVED),
    ]
}

#[test]
fn frames_go_right_above_ram() {
    assert_eq!(
        select_free_frames(&xen_map(), &[], 9, FOUR_GIB),
        Some(0x200_0000)
    );
}

#[test]
fn frames_skip_a_map_entry_right_above_ram() {
    let mut map = xen_map();
    map.push(region(0x200_0000, 0x3000, TYPE_RESERVED));
    assert_eq!(select_free_frames(&map, &[], 9, FOUR_GIB), Some(0x200_3000));
}

#[test]
fn frames_skip_avoided_ranges_and_align_up() {
    let avoid = [0x200_0000..0x200_0800, 0x200_1000..0x200_2001];
    let start = select_free_frames(&xen_map(), &avoid, 2, FOUR_GIB).expect("room");
    assert_eq!(start, 0x200_3000);
    assert_eq!(start % PAGE_SIZE, 0);
}

#[test]
fn frames_never_overlap_anything() {
    let map = vec![
        region(0, 0x100_0000, TYPE_RAM),
        region(0x100_0000, 0x1000, TYPE_RESERVED),
        region(0x100_2000, 0x1000, TYPE_RESERVED),
        region(0x100_a000, 0x1000, TYPE_RAM),
    ];
    // Nine pages do not fit between the entries above the first RAM: the
    // choice starts after the highest RAM.
    let start = select_free_frames(&map, &[], 9, FOUR_GIB).expect("room");
    let end = start + 9 * PAGE_SIZE;
    assert!(start >= 0x100_b000, "{start:#x}");
    for entry in &map {
        assert!(
            end <= entry.start || start >= entry.end(),
            "{start:#x} overlaps {entry:?}"
        );
    }
}

#[test]
fn no_room_below_the_ceiling() {
    let map = vec![region(0, 0xffff_0000, TYPE_RAM)];
    assert_eq!(select_free_frames(&map, &[], 17, FOUR_GIB), None);
    assert_eq!(
        select_free_frames(&map, &[], 16, FOUR_GIB),
        Some(0xffff_0000)
    );
}

#[test]
fn ram_above_the_ceiling_is_ignored() {
    let mut map = xen_map();
    map.push(region(0x1_0000_0000, 0x1000_0000, TYPE_RAM));
    assert_eq!(select_free_frames(&map, &[], 9, FOUR_GIB), Some(0x200_0000));
}

#[test]
fn no_ram_or_no_pages_gives_none() {
    assert_eq!(select_free_frames(&[], &[], 1, FOUR_GIB), None);
    assert_eq!(select_free_frames(&xen_map(), &[], 0, FOUR_GIB), None);
}

/// Shared info, 8 grant frames and the 1024-frame foreign-mapping window
/// (`FOREIGN_WINDOW_FRAMES` in `src/arch/x86_64/platform.rs`): one range.
const FRAMES_WITH_WINDOW: u64 = 1 + 8 + 1024;

#[test]
fn the_foreign_window_fits_above_a_small_guests_ram() {
    let start = select_free_frames(&xen_map(), &[], FRAMES_WITH_WINDOW, FOUR_GIB).expect("room");
    assert_eq!(start, 0x200_0000);
    assert!(start + FRAMES_WITH_WINDOW * PAGE_SIZE <= 0xfc00_0000);
}

#[test]
fn the_foreign_window_fits_below_the_special_pages_of_a_large_guest() {
    // Low RAM up to the MMIO hole, the rest above 4 GiB: the window goes
    // between the hole's first reserved entry and the special pages.
    let map = vec![
        region(0, 0xfc00_0000, TYPE_RAM),
        region(0xfc00_0000, 0x1000, TYPE_RESERVED),
        region(0xfeff_8000, 0x8000, TYPE_RESERVED),
        region(FOUR_GIB, 0x4000_0000, TYPE_RAM),
    ];
    let start = select_free_frames(&map, &[], FRAMES_WITH_WINDOW, FOUR_GIB).expect("room");
    assert_eq!(start, 0xfc00_1000);
    assert!(start + FRAMES_WITH_WINDOW * PAGE_SIZE <= 0xfeff_8000);
}
