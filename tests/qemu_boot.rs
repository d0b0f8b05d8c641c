//! Boot tests of the release guest ELF in plain QEMU (TCG, `-kernel`, PVH).
//!
//! Run by `make test-boot` after `make guest` (the tests are `#[ignore]`d so
//! that a plain `cargo test` without the guest image or QEMU passes):
//!
//! ```text
//! cargo test -p xensnd --test qemu_boot -- --ignored --nocapture
//! ```
//!
//! The guest prints on port 0xe9 (`-debugcon`) and ends QEMU through
//! `isa-debug-exit` (port 0xf4): value 0x10 on success gives QEMU exit status
//! 33, value 0x11 after a crash (panic, exception) gives 35. Environment:
//! `XENSND_GUEST_ELF` (default: `target/x86_64-unknown-none/release/xensnd`),
//! `QEMU` (default: `qemu-system-x86_64`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// QEMU exit status for a successful guest run ((0x10 << 1) | 1).
const QEMU_STATUS_SUCCESS: i32 = 33;
/// QEMU exit status after a guest crash ((0x11 << 1) | 1).
const QEMU_STATUS_FAILURE: i32 = 35;
/// Longest a boot may take (TCG boots it in well under a second).
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);
/// The size the release image must stay under. The image now carries the
/// whole guest (XenStore client, sndif frontend, PCM layer, demos): 355 KiB
/// as built (300 KiB stripped) when the platform was wired in; 256 KiB was
/// the boot-only image's limit.
const SIZE_LIMIT: u64 = 512 * 1024;

fn guest_elf() -> PathBuf {
    let path = std::env::var_os("XENSND_GUEST_ELF")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/x86_64-unknown-none/release/xensnd")
        });
    assert!(
        path.is_file(),
        "guest ELF {} missing: run `make guest` first",
        path.display()
    );
    path
}

struct Run {
    status: i32,
    output: String,
}

/// Boot the guest with `command_line` and collect its console output.
fn boot(command_line: &str) -> Run {
    let directory = tempdir();
    let console = directory.join("debugcon.log");
    let qemu = std::env::var("QEMU").unwrap_or_else(|_| "qemu-system-x86_64".into());
    let mut child = Command::new(&qemu)
        .args(["-nodefaults", "-display", "none", "-no-reboot", "-m", "64"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-debugcon")
        .arg(format!("file:{}", console.display()))
        .arg("-kernel")
        .arg(guest_elf())
        .args(["-append", command_line])
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {qemu}: {error}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for QEMU") {
            break status;
        }
        if started.elapsed() > BOOT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            let output = std::fs::read_to_string(&console).unwrap_or_default();
            panic!("guest did not stop within {BOOT_TIMEOUT:?}; console:\n{output}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(&console).expect("reading the debugcon log");
    let _ = std::fs::remove_dir_all(&directory);
    println!(
        "--- `{command_line}`: QEMU exit status {:?} after {:?}\n{output}",
        status.code(),
        started.elapsed()
    );
    Run {
        status: status.code().expect("QEMU killed by a signal"),
        output,
    }
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "xensnd-qemu-boot-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&path).expect("creating a temporary directory");
    path
}

fn assert_contains(run: &Run, needle: &str) {
    assert!(
        run.output.contains(needle),
        "console output lacks {needle:?}:\n{}",
        run.output
    );
}

/// The value after `key=` in the line that contains `anchor`.
fn field<'a>(run: &'a Run, anchor: &str, key: &str) -> &'a str {
    let line = run
        .output
        .lines()
        .find(|line| line.contains(anchor))
        .unwrap_or_else(|| panic!("no line with {anchor:?}:\n{}", run.output));
    let start = line
        .find(&format!("{key}="))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        + key.len()
        + 1;
    line[start..].split_whitespace().next().unwrap_or("")
}

/// The `start-end` hexadecimal range that follows `prefix` on its line.
fn range_after(run: &Run, prefix: &str) -> (u64, u64) {
    let line = run
        .output
        .lines()
        .find_map(|line| line.split_once(prefix).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no line with {prefix:?}:\n{}", run.output));
    let range = line.split_whitespace().next().unwrap_or("");
    let (start, end) = range
        .split_once('-')
        .unwrap_or_else(|| panic!("no range in {line:?}"));
    (hex(start), hex(end))
}

fn hex(text: &str) -> u64 {
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .unwrap_or_else(|_| panic!("not hex: {text:?}"))
}

#[test]
#[ignore = "needs the release guest ELF and QEMU: run by `make test-boot`"]
fn boots_prints_memory_and_heap_and_powers_off() {
    let run = boot("log=debug answer=42 greeting=\"hello world\"");
    assert_eq!(
        run.status, QEMU_STATUS_SUCCESS,
        "guest did not power off cleanly"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_contains(
        &run,
        &format!("[INFO ] xensnd {version} booting (PVH, Xen detected: no)"),
    );
    assert_contains(
        &run,
        "command line: \"log=debug answer=42 greeting=\"hello world\"\"",
    );
    assert_contains(&run, "[DEBUG] option answer=42");
    assert_contains(&run, "[DEBUG] option greeting=hello world");
    // QEMU's -m 64 map: low RAM, then RAM from 1 MiB to just under 64 MiB.
    assert_contains(&run, "memory map: 7 entries");
    assert_contains(&run, "0x0000100000-0x0003fe0000      64384 KiB RAM");
    // The heap starts right after the image and runs to the end of RAM.
    let (_, image_end) = range_after(&run, "] image: ");
    let (heap_start, heap_end) = range_after(&run, "] heap: ");
    assert_eq!(heap_start, image_end, "heap should start at the image end");
    assert_eq!(heap_end, 0x3fe_0000);
    let heap_kib = (heap_end - heap_start) / 1024;
    assert_contains(&run, &format!("({heap_kib} KiB)"));
    assert!(heap_kib > 60 * 1024, "heap of {heap_kib} KiB is too small");
    assert_contains(
        &run,
        "heap check: allocated 8000 bytes, sum 499500, now 0 in use",
    );
    assert_contains(&run, "boot complete, powering off");
    assert!(!run.output.contains("PANIC") && !run.output.contains("EXCEPTION"));
}

#[test]
#[ignore = "needs the release guest ELF and QEMU: run by `make test-boot`"]
fn default_log_level_hides_debug() {
    let run = boot("");
    assert_eq!(run.status, QEMU_STATUS_SUCCESS);
    assert_contains(&run, "Xen detected: no");
    assert_contains(&run, "command line: \"\"");
    assert!(
        !run.output.contains("[DEBUG]"),
        "debug lines at the default level:\n{}",
        run.output
    );
}

#[test]
#[ignore = "needs the release guest ELF and QEMU: run by `make test-boot`"]
fn panic_reports_location_and_message_and_fails() {
    let run = boot("test=panic");
    assert_eq!(run.status, QEMU_STATUS_FAILURE);
    assert_contains(&run, "PANIC at src/rt.rs:");
    assert_contains(&run, ": test=panic requested on the command line");
    assert!(!run.output.contains("boot complete"));
}

#[test]
#[ignore = "needs the release guest ELF and QEMU: run by `make test-boot`"]
fn page_fault_reports_vector_error_rip_and_cr2_and_fails() {
    let run = boot("test=pagefault");
    assert_eq!(run.status, QEMU_STATUS_FAILURE);
    // error 0: a read of a not-present page in ring 0.
    assert_contains(&run, "EXCEPTION: page fault (vector 14) error=0x0 rip=0x");
    let anchor = "EXCEPTION: page fault";
    assert_eq!(field(&run, anchor, "cr2"), "0xdeadbee000");
    let rip = hex(field(&run, anchor, "rip"));
    assert!(
        (0x10_0000..0x20_0000).contains(&rip),
        "rip {rip:#x} outside the image"
    );
    assert!(!run.output.contains("boot complete"));
}

#[test]
#[ignore = "needs the release guest ELF and QEMU: run by `make test-boot`"]
fn stack_overflow_double_faults_on_the_ist_stack_and_fails() {
    let run = boot("test=doublefault");
    assert_eq!(run.status, QEMU_STATUS_FAILURE);
    assert_contains(&run, "EXCEPTION: double fault (vector 8) error=0x0 rip=0x");
    // The page fault that could not be delivered was in the stack's guard
    // page, and the report itself ran on the separate IST stack.
    let anchor = "EXCEPTION: double fault";
    let cr2 = hex(field(&run, anchor, "cr2"));
    let rsp = hex(field(&run, "  rsp=", "rsp"));
    assert!(
        (0x10_0000..0x20_0000).contains(&cr2),
        "cr2 {cr2:#x} not in the image's guard page"
    );
    assert!(
        rsp.abs_diff(cr2) < 4096,
        "interrupted rsp {rsp:#x} is not at the fault {cr2:#x}"
    );
    assert!(!run.output.contains("page fault (vector 14)"));
}

#[test]
#[ignore = "needs the release guest ELF and QEMU: run by `make test-boot`"]
fn event_callback_vector_returns_to_the_interrupted_code() {
    let run = boot("test=interrupt");
    assert_eq!(run.status, QEMU_STATUS_SUCCESS);
    assert_contains(
        &run,
        "self-test: 3 upcalls on vector 243 handled and returned",
    );
    assert_contains(&run, "boot complete, powering off");
}

#[test]
#[ignore = "needs the release guest ELF and QEMU: run by `make test-boot`"]
fn unknown_self_test_is_ignored_with_a_warning() {
    let run = boot("test=nonsense");
    assert_eq!(run.status, QEMU_STATUS_SUCCESS);
    assert_contains(&run, "[WARN ] unknown self-test \"nonsense\" ignored");
}

#[test]
#[ignore = "needs the release guest ELF and binutils: run by `make test-boot`"]
fn release_image_is_small() {
    let elf = guest_elf();
    let built = std::fs::metadata(&elf).expect("guest ELF").len();
    let directory = tempdir();
    let stripped_path = directory.join("xensnd.stripped");
    let status = Command::new("strip")
        .arg("-o")
        .arg(&stripped_path)
        .arg(&elf)
        .status()
        .expect("running strip (binutils)");
    assert!(status.success(), "strip failed");
    let stripped = std::fs::metadata(&stripped_path)
        .expect("stripped ELF")
        .len();
    let _ = std::fs::remove_dir_all(&directory);
    println!(
        "guest ELF size: {built} bytes as built ({} KiB), {stripped} bytes stripped ({} KiB); limit {} KiB",
        built / 1024,
        stripped / 1024,
        SIZE_LIMIT / 1024
    );
    assert!(built < SIZE_LIMIT, "release ELF is {built} bytes");
    assert!(stripped <= built);
}
