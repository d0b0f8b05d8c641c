//! Host tests of the guest's pure boot logic: the command-line parser and the
//! heap-region choice. The files live under `src/arch/x86_64/` (built only
//! for the guest target) and are included here directly; both are
//! `#![forbid(unsafe_code)]` and depend on `core` alone.

#[allow(
    dead_code,
    reason = "the guest uses more of the module than these tests"
)]
#[path = "../src/arch/x86_64/cmdline.rs"]
mod cmdline;

#[allow(
    dead_code,
    reason = "the guest uses more of the module than these tests"
)]
#[path = "../src/arch/x86_64/memmap.rs"]
mod memmap;

use cmdline::CommandLine;
use memmap::{select_heap, total_ram, MemoryRegion, PAGE_SIZE, TYPE_RAM, TYPE_RESERVED};

fn options(text: &str) -> Vec<(&str, &str)> {
    CommandLine::new(text).options().collect()
}

#[test]
fn command_line_key_value_and_bare_options() {
    assert_eq!(
        options("log=debug test=panic verbose"),
        vec![("log", "debug"), ("test", "panic"), ("verbose", "")]
    );
}

#[test]
fn command_line_whitespace_and_empty() {
    assert_eq!(options(""), vec![]);
    assert_eq!(options("   \t\n "), vec![]);
    assert_eq!(options("  a=1\t\tb=2\n"), vec![("a", "1"), ("b", "2")]);
}

#[test]
fn command_line_quoted_values() {
    assert_eq!(
        options(r#"name="two words" next=x"#),
        vec![("name", "two words"), ("next", "x")]
    );
    // An unterminated quote runs to the end of the line.
    assert_eq!(options(r#"name="open ended"#), vec![("name", "open ended")]);
    assert_eq!(options(r#"empty="" x"#), vec![("empty", ""), ("x", "")]);
}

#[test]
fn command_line_values_may_contain_equals_and_empty_values() {
    assert_eq!(
        options("a=b=c d= e"),
        vec![("a", "b=c"), ("d", ""), ("e", "")]
    );
}

#[test]
fn command_line_last_option_wins() {
    let line = CommandLine::new("log=info x log=trace");
    assert_eq!(line.get("log"), Some("trace"));
    assert_eq!(line.get("x"), Some(""));
    assert_eq!(line.get("missing"), None);
    assert!(line.contains("x"));
    assert!(!line.contains("lo"));
    assert_eq!(line.as_str(), "log=info x log=trace");
}

#[test]
fn command_line_non_ascii_is_kept_whole() {
    assert_eq!(options("name=café k=ü"), vec![("name", "café"), ("k", "ü")]);
}

fn ram(start: u64, size: u64) -> MemoryRegion {
    MemoryRegion {
        start,
        size,
        kind: TYPE_RAM,
    }
}

fn reserved(start: u64, size: u64) -> MemoryRegion {
    MemoryRegion {
        start,
        size,
        kind: TYPE_RESERVED,
    }
}

/// A one-range reserved list.
fn only(range: std::ops::Range<u64>) -> [std::ops::Range<u64>; 1] {
    [range]
}

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The map QEMU 7.2 gives a `-m 64` PVH guest.
fn qemu_map() -> Vec<MemoryRegion> {
    vec![
        ram(0, 0x9fc00),
        reserved(0x9fc00, 0x400),
        reserved(0xf0000, 0x10000),
        ram(0x10_0000, 0x3fe_0000 - 0x10_0000),
        reserved(0x3fe_0000, 0x2_0000),
        reserved(0xfffc_0000, 0x4_0000),
        reserved(0xfd_0000_0000, 0x3_0000_0000),
    ]
}

#[test]
fn heap_is_the_ram_above_the_image() {
    let image_end = 0x13_9000;
    let heap = select_heap(
        &qemu_map(),
        &[0x10_0000..image_end, 0x21e0..0x2218],
        image_end,
        4 * GIB,
        256 * MIB,
    );
    assert_eq!(heap, Some(image_end..0x3fe_0000));
    assert_eq!(total_ram(&qemu_map()), 0x9fc00 + 0x3fe_0000 - 0x10_0000);
}

#[test]
fn heap_avoids_reserved_ranges_and_takes_the_largest_gap() {
    // Boot data in the middle of RAM: 1..9 MiB RAM, start info at 3 MiB,
    // a module at 5..6 MiB; the largest free gap is 6..9 MiB.
    let map = [ram(MIB, 8 * MIB)];
    let boot_data = [3 * MIB..3 * MIB + 56, 5 * MIB..6 * MIB];
    let heap = select_heap(&map, &boot_data, MIB, 4 * GIB, 256 * MIB);
    assert_eq!(heap, Some(6 * MIB..9 * MIB));
}

#[test]
fn heap_rounds_inwards_to_pages() {
    let map = [ram(MIB + 1, 4 * MIB)];
    let boot_data = only(2 * MIB + 10..2 * MIB + 20);
    let heap = select_heap(&map, &boot_data, 0, 4 * GIB, 256 * MIB).unwrap();
    assert_eq!(heap.start % PAGE_SIZE, 0);
    assert_eq!(heap.end % PAGE_SIZE, 0);
    // Above the boot data: from the page after it to the last full page.
    assert_eq!(heap, 2 * MIB + PAGE_SIZE..5 * MIB);
}

#[test]
fn heap_is_capped_and_stays_below_the_ceiling() {
    let map = [ram(0, 8 * GIB)];
    let heap = select_heap(&map, &[], 2 * MIB, 4 * GIB, 256 * MIB);
    assert_eq!(heap, Some(2 * MIB..2 * MIB + 256 * MIB));
    let map = [ram(3 * GIB + 512 * MIB, GIB)];
    let heap = select_heap(&map, &[], 0, 4 * GIB, 8 * GIB);
    assert_eq!(heap, Some(3 * GIB + 512 * MIB..4 * GIB));
}

#[test]
fn heap_ignores_non_ram_and_reports_nothing_without_ram() {
    assert_eq!(
        select_heap(&[reserved(MIB, 64 * MIB)], &[], 0, 4 * GIB, GIB),
        None
    );
    assert_eq!(select_heap(&[], &[], 0, 4 * GIB, GIB), None);
    // Less than a page of RAM is no heap either.
    assert_eq!(select_heap(&[ram(MIB, 100)], &[], 0, 4 * GIB, GIB), None);
}

#[test]
fn heap_survives_hostile_entries() {
    // Overflowing sizes, reserved ranges covering everything, empty ranges.
    let map = [ram(u64::MAX - 10, 100), ram(MIB, 2 * MIB)];
    assert_eq!(
        select_heap(&map, &only(0..u64::MAX), 0, u64::MAX, GIB),
        None
    );
    let heap = select_heap(&map, &only(5 * MIB..5 * MIB), 0, 4 * GIB, GIB);
    assert_eq!(heap, Some(MIB..3 * MIB));
}

#[test]
fn region_names_and_ends() {
    assert_eq!(ram(0, 10).kind_name(), "RAM");
    assert_eq!(reserved(0, 10).kind_name(), "reserved");
    assert_eq!(ram(u64::MAX, 10).end(), u64::MAX);
}
