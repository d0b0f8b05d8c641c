//! `xensnd-bench`: the host benchmarks behind `make bench`, and the one table
//! that reports them together with the Xen-side figures.
//!
//! Subcommands:
//! - `run --out DIR [--guest-elf PATH] [--quick]`: measure everything that
//!   runs on the host (see [`sim`]) and write `DIR/host.json`. The CPU
//!   figures come from `valgrind --tool=callgrind` runs of `cpu` (this same
//!   program), counting only the measured function (`--toggle-collect`).
//! - `cpu --path copy|zero-copy|floor --format cd|wide --seconds S`: one CPU
//!   run; prints its figures as JSON on stdout (run under callgrind by `run`).
//! - `report --out DIR`: read `DIR/host.json` and, if present, `DIR/xen.json`
//!   (written by the QEMU+Xen bench), print the table, write `DIR/bench.json`.
//! - `xen-summary --runs DIR --reference WAV --wavtool PATH --out FILE`: turn
//!   the run directories of the QEMU+Xen bench (`tests/xen/bench`, `make
//!   bench-xen`) into `xen.json` (see [`xen`]).
//!
//! `DIR/xen.json` (optional; every key optional, numbers are plain JSON numbers):
//! ```json
//! { "boot_to_first_write_ms": { "xensnd": [812.0, 798.5, 805.0], "linux": [5400.0, 5900.0, 6100.0] },
//!   "xl_create_ms": { "xensnd": [500.0, 480.0, 510.0], "linux": [3000.0, 3100.0, 2900.0] },
//!   "guest_entry_to_first_write_ms": { "xensnd": [310.2, 305.0, 330.1] },
//!   "guest_entry_to_first_write_pv_clock_ms": { "xensnd": [311.0, 305.2, 330.0] },
//!   "round_trips_before_first_write": {
//!     "minimum": { "xenstore_batches": 3, "ring_round_trips": 1, "backend_waits": 1 },
//!     "target": { "xenstore_batches": 2, "ring_round_trips": 1 },
//!     "xensnd": { "xenstore_batches": [11, 11, 11], "xenstore_requests": [41, 41, 41],
//!                 "ring_round_trips": [2, 2, 2], "ring_requests": [2, 2, 2],
//!                 "backend_waits": [1, 1, 1] },
//!     "xensnd_seen_by_backend": { "batches": [2, 2, 2], "requests": [2, 2, 2],
//!                                 "op_open": [1, 1, 1], "op_hw_param_query": [1, 1, 1] },
//!     "linux_seen_by_backend": { the same keys } },
//!   "notifications_per_period": {
//!     "xensnd": { "to_backend": 1.0, "to_frontend": 2.0, "to_frontend_ring": 1.0,
//!                 "to_frontend_events": 1.0, "requests": 1.0, "writes": 1.0,
//!                 "other_requests": 4, "guest_notifications_sent": 1.0,
//!                 "blocking_waits": 0.9, "underruns": 0, "periods": 1000.0,
//!                 "period_frames": 480, "buffer_frames": 4800, "failure": null },
//!     "linux":  { the same backend-side keys, "underruns": 0 } },
//!   "memory_trials": [ { "mib": 4, "ok": false, "failure": "xl create failed ..." },
//!                      { "mib": 8, "ok": true, "failure": null } ],
//!   "linux_memory_trials": [ the same for the Linux domU playing the tone with aplay ],
//!   "min_memory_mib": { "xensnd": 8, "linux": 128 }, "linux_memory_mib": 256,
//!   "runs": 3, "notes": "free text", "boot_runs": { per-run details }, "settings": { } }
//! ```
//! `boot_to_first_write_ms` lists one value per run (`xl create` start to the
//! backend's first WRITE, both on dom0's clock); the table shows medians.
//! `guest_entry_to_first_write_ms`: the guest's PVH entry to its first
//! `write()` on its own clocks (TSC to the end of the probe, PV clock
//! after); `..._pv_clock_ms`: the same on the PV clock alone. Per-period figures come from the backend's
//! counters (`blocking_waits`, `guest_notifications_sent`: the guest's own).
//! `round_trips_before_first_write`: counts, not times, one value per boot
//! run that played: xensnd's own (`XENSND-ROUNDTRIPS before_first_write`)
//! and what sndback saw on each guest's playback ring before its first
//! WRITE (requests, request batches), beside the protocol's minimum.
//!
//! Benchmarks print figures; nothing here fails for being slow.
#![forbid(unsafe_code)]

mod sim;
mod xen;

use std::path::{Path as FsPath, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use sim::{Format, Path};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("cpu") => cpu_command(&args[1..]),
        Some("report") => report(&args[1..]),
        Some("xen-summary") => xen::summary_command(&args[1..]),
        _ => Err(
            "usage: xensnd-bench run --out DIR [--guest-elf PATH] [--quick] | \
                  cpu --path copy|zero-copy|floor --format cd|wide --seconds S | \
                  report --out DIR | \
                  xen-summary --runs DIR --reference WAV --wavtool PATH --out FILE"
                .to_string(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xensnd-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The value after `--name`, if given.
fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn format_named(name: &str) -> Result<Format, String> {
    match name {
        "cd" => Ok(Format::CD),
        "wide" => Ok(Format::WIDE),
        other => Err(format!("unknown format {other} (cd, wide)")),
    }
}

fn cpu_command(args: &[String]) -> Result<(), String> {
    let path = option(args, "--path")
        .and_then(|p| Path::parse(&p))
        .ok_or("--path copy|zero-copy|floor")?;
    let format = format_named(&option(args, "--format").unwrap_or_else(|| "cd".into()))?;
    let seconds: f64 = option(args, "--seconds")
        .unwrap_or_else(|| "1".into())
        .parse()
        .map_err(|_| "--seconds: not a number")?;
    let run = sim::cpu(&format, path, seconds)?;
    let value = json!({
        "bytes": run.bytes, "calls": run.calls, "waits_inside": run.waits_inside,
        "crc32": run.crc32, "source_crc32": run.source_crc32,
    });
    println!("{value}");
    Ok(())
}

/// Run one `cpu` under callgrind; returns the figures plus `instructions`
/// (Ir counted inside the measured function only).
fn callgrind(out: &FsPath, format_name: &str, path: Path, seconds: f64) -> Result<Value, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let file = out.join(format!("callgrind.{format_name}.{}.out", path.name()));
    let function = match path {
        Path::Floor => "*bench_copy_floor*",
        Path::Copy | Path::ZeroCopy => "*bench_frontend_data_path*",
    };
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(format!("--toggle-collect={function}"))
        .arg(&exe)
        .args(["cpu", "--path", path.name(), "--format", format_name])
        .args(["--seconds", &seconds.to_string()])
        .output()
        .map_err(|e| format!("valgrind: {e} (install it: apt-get install valgrind)"))?;
    if !output.status.success() {
        return Err(format!(
            "valgrind cpu {}: {}\n{}",
            path.name(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut value: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "cpu output: {e}: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let instructions = text
        .lines()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| format!("{}: no totals line", file.display()))?;
    value["instructions"] = json!(instructions);
    value["breakdown"] = breakdown(&file);
    value["callgrind_file"] = json!(file.display().to_string());
    value["function"] = json!(function);
    Ok(value)
}

/// Exclusive instruction counts of the run by group, from
/// `callgrind_annotate`: `simulator` (`xensnd_sim::*`: simulated pages,
/// event channels, upcalls: what a real guest does with plain loads,
/// stores and hypercalls; the page accesses the compiler inlined, as the
/// guest's are, count as `frontend`), `memory` (libc memcpy/memmove/memset: the audio
/// copy, and the simulator's small copies of ring indices), `allocator`
/// (malloc/free/calloc and Rust's wrappers), `frontend` (everything else:
/// the frontend, the ring code, XenStore polling). Null when
/// `callgrind_annotate` is not available.
fn breakdown(file: &FsPath) -> Value {
    let Ok(output) = Command::new("callgrind_annotate")
        .arg("--threshold=100")
        .arg(file)
        .output()
    else {
        return Value::Null;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut groups = [0u64; 4];
    for line in text.lines() {
        let trimmed = line.trim_start();
        let Some((count, rest)) = trimmed.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        if rest.contains("PROGRAM TOTALS") {
            continue;
        }
        let function = rest.split_once(':').map_or(rest, |(_, f)| f);
        let group = if function.contains("xensnd_sim::") {
            0
        } else if ["memcpy", "memmove", "memset"]
            .iter()
            .any(|name| function.contains(name))
        {
            1
        } else if [
            "malloc",
            "free",
            "calloc",
            "realloc",
            "__rust_alloc",
            "__rust_dealloc",
        ]
        .iter()
        .any(|name| function.contains(name))
        {
            2
        } else {
            3
        };
        groups[group] += count;
    }
    json!({ "simulator": groups[0], "memory": groups[1], "allocator": groups[2],
            "frontend": groups[3] })
}

fn cpu_section(out: &FsPath, format_name: &str, seconds: f64) -> Result<Value, String> {
    let format = format_named(format_name)?;
    let mut section = json!({ "format": format.label(), "seconds": seconds });
    for path in [Path::Floor, Path::Copy, Path::ZeroCopy] {
        eprintln!(
            "== bench: callgrind {} {} ({seconds} s of audio)",
            format.label(),
            path.name()
        );
        let mut run = callgrind(out, format_name, path, seconds)?;
        let bytes = run["bytes"].as_f64().unwrap_or(0.0);
        let audio_seconds = bytes / format.bytes_per_second() as f64;
        let instructions = run["instructions"].as_f64().unwrap_or(0.0);
        run["audio_seconds"] = json!(audio_seconds);
        run["instructions_per_audio_second"] = json!(instructions / audio_seconds.max(1e-9));
        run["instructions_per_period"] =
            json!(instructions / (bytes / format.period_bytes() as f64).max(1.0));
        run["exact"] = json!(run["crc32"] == run["source_crc32"]);
        section[path.name()] = run;
    }
    let floor = section["floor"]["instructions_per_audio_second"]
        .as_f64()
        .unwrap_or(0.0);
    for name in ["copy", "zero-copy"] {
        let per_second = section[name]["instructions_per_audio_second"]
            .as_f64()
            .unwrap_or(0.0);
        section[name]["ratio_to_floor"] = json!(per_second / floor.max(1e-9));
    }
    Ok(section)
}

fn elf_section(guest_elf: Option<&str>) -> Value {
    let Some(path) = guest_elf else {
        return json!({ "built": false });
    };
    let Ok(metadata) = std::fs::metadata(path) else {
        return json!({ "built": false, "path": path });
    };
    let stripped_path =
        std::env::temp_dir().join(format!("xensnd-stripped-{}", std::process::id()));
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&stripped_path)
        .arg(path)
        .status()
        .ok()
        .filter(|status| status.success())
        .and_then(|_| std::fs::metadata(&stripped_path).ok())
        .map(|m| m.len());
    let _ = std::fs::remove_file(&stripped_path);
    json!({ "built": true, "path": path, "bytes": metadata.len(), "stripped_bytes": stripped })
}

fn run(args: &[String]) -> Result<(), String> {
    let out = PathBuf::from(option(args, "--out").ok_or("--out DIR")?);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let quick = args.iter().any(|a| a == "--quick");
    let (protocol_seconds, cpu_seconds, throughput_seconds) = if quick {
        (1.0, 0.2, 1.0)
    } else {
        (10.0, 2.0, 10.0)
    };

    eprintln!("== bench: protocol cost, {protocol_seconds} s of 48k/2ch/s16, 10 ms periods");
    let p = sim::protocol(&Format::CD, protocol_seconds)?;
    let periods = p.periods.max(1) as f64;
    let protocol = json!({
        "format": p.format, "periods": p.periods, "simulated_seconds": p.simulated_seconds,
        "frontend_notifications_sent": p.frontend_notifications_sent,
        "backend_notifications_in": p.backend_notifications_in,
        "backend_ring_notifications": p.backend_ring_notifications,
        "backend_event_notifications": p.backend_event_notifications,
        "requests": p.requests, "writes": p.writes, "other_requests": p.other_requests,
        "events": p.events, "blocking_waits": p.blocking_waits,
        "round_trip_waits": p.round_trip_waits, "writes_that_blocked": p.writes_that_blocked,
        "max_in_flight": p.max_in_flight, "underruns": p.underruns, "audio_exact": p.audio_exact,
        "per_period": {
            "to_backend": p.frontend_notifications_sent as f64 / periods,
            "to_backend_seen": p.backend_notifications_in as f64 / periods,
            "to_frontend": (p.backend_ring_notifications + p.backend_event_notifications) as f64 / periods,
            "to_frontend_ring": p.backend_ring_notifications as f64 / periods,
            "to_frontend_events": p.backend_event_notifications as f64 / periods,
            "requests": p.requests as f64 / periods,
            "blocking_waits": p.blocking_waits as f64 / periods,
            "round_trip_waits": p.round_trip_waits as f64 / periods,
        },
    });

    let mut cpu = json!({});
    for format_name in ["cd", "wide"] {
        cpu[format_name] = cpu_section(&out, format_name, cpu_seconds)?;
    }

    let mut throughput = json!({});
    for (name, format) in [("wide", Format::WIDE), ("cd", Format::CD)] {
        eprintln!(
            "== bench: throughput {} ({throughput_seconds} s of audio)",
            format.label()
        );
        // The machine is shared: three runs, the median reported.
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(sim::throughput(&format, throughput_seconds)?);
        }
        runs.sort_by(|a, b| a.realtime_factor.total_cmp(&b.realtime_factor));
        let t = &runs[1];
        throughput[name] = json!({
            "format": t.format, "audio_seconds": t.audio_seconds, "host_seconds": t.host_seconds,
            "realtime_factor": t.realtime_factor, "underruns": t.underruns,
            "audio_exact": runs.iter().all(|r| r.audio_exact),
            "realtime_factors": runs.iter().map(|r| r.realtime_factor).collect::<Vec<_>>(),
        });
    }

    let host = json!({
        "date_utc": utc_now(),
        "machine": machine(),
        "quick": quick,
        "protocol": protocol,
        "cpu": cpu,
        "throughput": throughput,
        "elf": elf_section(option(args, "--guest-elf").as_deref()),
    });
    write_json(&out.join("host.json"), &host)?;
    eprintln!("== bench: wrote {}", out.join("host.json").display());
    Ok(())
}

fn write_json(path: &FsPath, value: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

fn read_json(path: &FsPath) -> Result<Option<Value>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// `YYYY-MM-DD HH:MM UTC` without a date library.
fn utc_now() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (seconds / 86_400) as i64;
    let (hour, minute) = ((seconds % 86_400) / 3600, (seconds % 3600) / 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    json!({ "cpus": cpus, "cpu_model": model })
}

fn median(values: &Value) -> Option<f64> {
    let mut numbers: Vec<f64> = values
        .as_array()?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    if numbers.is_empty() {
        return None;
    }
    numbers.sort_by(f64::total_cmp);
    let middle = numbers.len() / 2;
    Some(if numbers.len() % 2 == 0 {
        (numbers[middle - 1] + numbers[middle]) / 2.0
    } else {
        numbers[middle]
    })
}

/// One row of the table.
struct Row {
    measure: String,
    ours: String,
    reference: String,
    ratio: String,
    target: String,
}

fn row(measure: &str, ours: String, reference: String, ratio: String, target: &str) -> Row {
    Row {
        measure: measure.to_string(),
        ours,
        reference,
        ratio,
        target: target.to_string(),
    }
}

const XEN_NOT_RUN: &str = "not run (make bench-xen)";

fn number(value: &Value, digits: usize) -> String {
    value
        .as_f64()
        .map_or_else(|| "n/a".to_string(), |v| format!("{v:.digits$}"))
}

fn ratio(ours: Option<f64>, reference: Option<f64>) -> String {
    match (ours, reference) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}x", a / b),
        _ => String::new(),
    }
}

fn big(value: &Value) -> String {
    match value.as_f64() {
        Some(v) if v >= 1e6 => format!("{:.2} M", v / 1e6),
        Some(v) if v >= 1e3 => format!("{:.1} k", v / 1e3),
        Some(v) => format!("{v:.0}"),
        None => "n/a".to_string(),
    }
}

fn share(part: &Value, total: &Value) -> String {
    match (part.as_f64(), total.as_f64()) {
        (Some(part), Some(total)) if total > 0.0 => format!("{:.0}%", 100.0 * part / total),
        _ => "n/a".to_string(),
    }
}

fn rows(host: &Value, xen: Option<&Value>) -> Vec<Row> {
    let mut rows = Vec::new();
    let xen_value = |pointer: &str| xen.and_then(|x| x.pointer(pointer)).cloned();

    // Boot to first audio (QEMU+Xen).
    let runs_of = |pointer: &str| {
        let values = xen_value(pointer)?;
        let median = median(&values)?;
        let list: Vec<String> = values.as_array()?.iter().map(|v| number(v, 0)).collect();
        Some((median, list.join(", ")))
    };
    let show_runs = |v: &Option<(f64, String)>| {
        v.as_ref()
            .map_or(XEN_NOT_RUN.to_string(), |(median, list)| {
                format!("{median:.0} ms (runs: {list})")
            })
    };
    let ours = runs_of("/boot_to_first_write_ms/xensnd");
    let linux = runs_of("/boot_to_first_write_ms/linux");
    rows.push(row(
        "boot to first audio, median (QEMU+Xen)",
        show_runs(&ours),
        format!("Linux domU: {}", show_runs(&linux)),
        match ratio(linux.as_ref().map(|v| v.0), ours.as_ref().map(|v| v.0)) {
            r if r.is_empty() => r,
            r => format!("{r} Linux/ours"),
        },
        "",
    ));
    let ours_xl = runs_of("/xl_create_ms/xensnd");
    let linux_xl = runs_of("/xl_create_ms/linux");
    rows.push(row(
        "  of which `xl create` until it returns, median",
        show_runs(&ours_xl),
        format!("Linux domU: {}", show_runs(&linux_xl)),
        String::new(),
        "",
    ));
    let entry = runs_of("/guest_entry_to_first_write_ms/xensnd");
    let entry_pv = runs_of("/guest_entry_to_first_write_pv_clock_ms/xensnd");
    rows.push(row(
        "guest entry -> first write(), median (Xen, guest clock)",
        show_runs(&entry),
        entry_pv.as_ref().map_or(String::new(), |_| {
            format!("PV clock alone: {}", show_runs(&entry_pv))
        }),
        String::new(),
        "",
    ));

    rows.extend(round_trip_rows(xen));
    rows.extend(underrun_rows(xen));

    // Protocol cost per period.
    let per = &host["protocol"]["per_period"];
    // Xen figures: `who` is xensnd or linux; `None` when not measured.
    let xen_per = |who: &str, key: &str| {
        xen_value(&format!("/notifications_per_period/{who}/{key}")).and_then(|v| v.as_f64())
    };
    let xen_failure = |who: &str| {
        xen_value(&format!("/notifications_per_period/{who}/failure"))
            .and_then(|v| v.as_str().map(str::to_string))
    };
    let two = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2}"));
    // "<figures>" for a Xen run, or why there are none.
    let xen_cell = |who: &str, figures: &dyn Fn() -> String| {
        if xen_per(who, "periods").is_none() {
            return match xen_failure(who) {
                Some(why) => format!("failed: {why}"),
                None => XEN_NOT_RUN.to_string(),
            };
        }
        let text = figures();
        match xen_failure(who) {
            Some(why) => format!("{text} [{why}]"),
            None => text,
        }
    };
    let to_backend = |who: &str| two(xen_per(who, "to_backend"));
    let to_frontend = |who: &str| {
        format!(
            "{} (ring {} + events {})",
            two(xen_per(who, "to_frontend")),
            two(xen_per(who, "to_frontend_ring")),
            two(xen_per(who, "to_frontend_events"))
        )
    };
    let requests = |who: &str| {
        format!(
            "{} (WRITE {}; other {})",
            two(xen_per(who, "requests")),
            two(xen_per(who, "writes")),
            xen_per(who, "other_requests").map_or("n/a".into(), |v| format!("{v:.0}"))
        )
    };
    rows.push(row(
        "notifications guest->backend / period",
        format!(
            "{}; Xen: {}",
            number(&per["to_backend"], 2),
            xen_cell("xensnd", &|| format!(
                "{} (guest sent {})",
                to_backend("xensnd"),
                two(xen_per("xensnd", "guest_notifications_sent"))
            ))
        ),
        format!("Linux domU: {}", xen_cell("linux", &|| to_backend("linux"))),
        String::new(),
        "<= 1",
    ));
    rows.push(row(
        "notifications backend->guest / period",
        format!(
            "{} (ring {} + events {}); Xen: {}",
            number(&per["to_frontend"], 2),
            number(&per["to_frontend_ring"], 2),
            number(&per["to_frontend_events"], 2),
            xen_cell("xensnd", &|| to_frontend("xensnd"))
        ),
        format!(
            "Linux domU: {}",
            xen_cell("linux", &|| to_frontend("linux"))
        ),
        String::new(),
        "<= 1",
    ));
    rows.push(row(
        "requests / period",
        format!(
            "{} (WRITE {}; other {}); Xen: {}",
            number(&per["requests"], 2),
            host["protocol"]["writes"],
            host["protocol"]["other_requests"],
            xen_cell("xensnd", &|| requests("xensnd"))
        ),
        format!("Linux domU: {}", xen_cell("linux", &|| requests("linux"))),
        String::new(),
        "",
    ));
    rows.push(row(
        "blocking waits / period (of which for a response)",
        format!(
            "{} ({}); Xen: {}",
            number(&per["blocking_waits"], 2),
            number(&per["round_trip_waits"], 2),
            xen_cell("xensnd", &|| two(xen_per("xensnd", "blocking_waits")))
        ),
        xen_cell("linux", &|| {
            "Linux domU: not visible from the backend".into()
        }),
        String::new(),
        "no round trip",
    ));
    let underruns =
        |who: &str| xen_per(who, "underruns").map_or("n/a".into(), |v| format!("{v:.0}"));
    rows.push(row(
        "max WRITEs in flight; underruns; audio exact",
        format!(
            "{}; {}; {}; Xen: {}",
            host["protocol"]["max_in_flight"],
            host["protocol"]["underruns"],
            host["protocol"]["audio_exact"],
            xen_cell("xensnd", &|| format!(
                "{}; {}; -",
                xen_per("xensnd", "max_in_flight").map_or("n/a".into(), |v| format!("{v:.0}")),
                underruns("xensnd")
            ))
        ),
        format!(
            "Linux domU: {}",
            xen_cell("linux", &|| format!(
                "aplay underruns {}",
                underruns("linux")
            ))
        ),
        String::new(),
        "",
    ));

    // CPU cost.
    for key in ["cd", "wide"] {
        let section = &host["cpu"][key];
        if section.is_null() {
            continue;
        }
        let label = section["format"].as_str().unwrap_or(key);
        let floor = &section["floor"]["instructions_per_audio_second"];
        // Issue #15's targets: small periods pay the fixed cost per call.
        let target = if key == "cd" { "<= 3x" } else { "<= 1.3x" };
        for (path, name) in [("copy", "write (copy)"), ("zero-copy", "write_in_place")] {
            let run = &section[path];
            rows.push(row(
                &format!("instructions / s of audio, {name}, {label}"),
                format!(
                    "{} ({} / period; simulator {})",
                    big(&run["instructions_per_audio_second"]),
                    big(&run["instructions_per_period"]),
                    share(&run["breakdown"]["simulator"], &run["instructions"])
                ),
                format!("copy floor: {}", big(floor)),
                format!("{}x", number(&run["ratio_to_floor"], 2)),
                target,
            ));
        }
    }

    // Throughput.
    for key in ["wide", "cd"] {
        let t = &host["throughput"][key];
        if t.is_null() {
            continue;
        }
        rows.push(row(
            &format!(
                "real-time factor in the simulation, {}",
                t["format"].as_str().unwrap_or(key)
            ),
            format!("{}x", number(&t["realtime_factor"], 1)),
            format!(
                "{} s audio in {} s (runs: {})",
                number(&t["audio_seconds"], 1),
                number(&t["host_seconds"], 3),
                t["realtime_factors"]
                    .as_array()
                    .map(|runs| runs
                        .iter()
                        .map(|r| number(r, 0))
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            ),
            String::new(),
            "",
        ));
    }

    // ELF size and memory.
    let elf = &host["elf"];
    let kib = |v: &Value| {
        v.as_f64()
            .map_or("n/a".to_string(), |b| format!("{:.1} KiB", b / 1024.0))
    };
    if elf["built"].as_bool() == Some(true) {
        rows.push(row(
            "release ELF size (as built / stripped)",
            format!("{} / {}", kib(&elf["bytes"]), kib(&elf["stripped_bytes"])),
            String::new(),
            String::new(),
            "< 256 KiB",
        ));
    } else {
        rows.push(row(
            "release ELF size",
            "not built (make guest)".to_string(),
            String::new(),
            String::new(),
            "< 256 KiB",
        ));
    }
    let memory = |who: &str| xen_value(&format!("/min_memory_mib/{who}")).and_then(|v| v.as_f64());
    // "<smallest> MiB (<size>: ok|fails, ...)" from the trials at `pointer`.
    let memory_cell = |who: &str, pointer: &str| {
        let trials = xen_value(pointer)
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        let tried: Vec<String> = trials
            .iter()
            .map(|t| {
                let verdict = if t["ok"].as_bool() == Some(true) {
                    "ok"
                } else {
                    "fails"
                };
                format!("{}: {verdict}", number(&t["mib"], 0))
            })
            .collect();
        match (memory(who), tried.is_empty()) {
            (_, true) => None,
            (Some(mib), false) => Some(format!("{mib} MiB ({})", tried.join(", "))),
            (None, false) => Some(format!("none of the sizes tried ({})", tried.join(", "))),
        }
    };
    let ours = memory_cell("xensnd", "/memory_trials").unwrap_or(XEN_NOT_RUN.to_string());
    let linux = memory_cell("linux", "/linux_memory_trials").unwrap_or_else(|| {
        xen_value("/linux_memory_mib")
            .and_then(|v| v.as_f64())
            .map_or(XEN_NOT_RUN.to_string(), |mib| {
                format!("{mib} MiB configured (not minimised)")
            })
    });
    rows.push(row(
        "smallest `memory =` playing the tone (Xen)",
        ours,
        format!("Linux domU: {linux}"),
        match ratio(memory("linux"), memory("xensnd")) {
            r if r.is_empty() => r,
            r => format!("{r} Linux/ours"),
        },
        "",
    ));
    rows
}

/// The runs' values of one count (`[11, 11, 11]`): the value when every
/// run agrees, else the median with the runs; `None` when not measured.
fn counted(values: Option<&Value>) -> Option<String> {
    let list: Vec<f64> = values?
        .as_array()?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let first = *list.first()?;
    if list.iter().all(|v| *v == first) {
        return Some(format!("{first:.0}"));
    }
    let runs: Vec<String> = list.iter().map(|v| format!("{v:.0}")).collect();
    Some(format!(
        "{} (runs: {})",
        number(&json!(median(&json!(list))), 1),
        runs.join(", ")
    ))
}

/// What sndback saw of a guest's playback ring before its first WRITE:
/// "N batches, M requests (open 1, hw_param_query 3)".
fn seen_by_backend(section: Option<&Value>) -> Option<String> {
    let section = section?.as_object()?;
    let batches = counted(section.get("batches"))?;
    let requests = counted(section.get("requests")).unwrap_or_else(|| "n/a".into());
    let operations: Vec<String> = section
        .iter()
        .filter_map(|(key, values)| {
            let name = key.strip_prefix("op_")?;
            Some(format!("{name} {}", counted(Some(values))?))
        })
        .collect();
    Some(format!(
        "{batches} batches, {requests} requests ({})",
        operations.join(", ")
    ))
}

/// "5 ms: 12, 10 ms: 0, ..." for `system` under `load` (sndback's count;
/// "failed" for a run that did not play to its end).
fn underrun_counts(rows: &[Value], system: &str, load: &str) -> String {
    let mut runs: Vec<&Value> = rows
        .iter()
        .filter(|r| r["system"] == system && r["load"] == load)
        .collect();
    runs.sort_by(|a, b| {
        let ms = |r: &Value| r["requested_buffer_ms"].as_f64().unwrap_or(0.0);
        ms(a).total_cmp(&ms(b))
    });
    if runs.is_empty() {
        return "no runs".into();
    }
    runs.iter()
        .map(|r| {
            let ms = number(&r["requested_buffer_ms"], 0);
            match r["underruns"].as_f64() {
                Some(n) => format!("{ms} ms: {n:.0}"),
                None => format!("{ms} ms: failed"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// "5 ms: 3/41, 10 ms: 2/18, ..." for `system` under `load`: the p99 and
/// the longest wait (ms) from a position event to the guest's next WRITE,
/// as sndback timed them ("n/a" without a figure).
fn answer_waits(rows: &[Value], system: &str, load: &str) -> String {
    let mut runs: Vec<&Value> = rows
        .iter()
        .filter(|r| r["system"] == system && r["load"] == load)
        .collect();
    runs.sort_by(|a, b| {
        let ms = |r: &Value| r["requested_buffer_ms"].as_f64().unwrap_or(0.0);
        ms(a).total_cmp(&ms(b))
    });
    if runs.is_empty() {
        return "no runs".into();
    }
    runs.iter()
        .map(|r| {
            let ms = number(&r["requested_buffer_ms"], 0);
            let answer = &r["answer_latency"];
            match (answer["p99_ms"].as_f64(), answer["max_ms"].as_f64()) {
                (Some(p99), Some(max)) => format!("{ms} ms: {p99:.0}/{max:.0}"),
                _ => format!("{ms} ms: n/a"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Glitch-free latency under load (Xen): underruns at each buffer size and
/// the smallest glitch-free buffer, xensnd beside the Linux domU, per load.
fn underrun_rows(xen: Option<&Value>) -> Vec<Row> {
    let Some(section) = xen.and_then(|x| x.get("underruns_under_load")) else {
        return vec![row(
            "underruns under load (Xen)",
            XEN_NOT_RUN.into(),
            String::new(),
            String::new(),
            "",
        )];
    };
    let rows = section["rows"].as_array().cloned().unwrap_or_default();
    let seconds = number(&section["seconds"], 0);
    let Some(smallest) = section["smallest_glitch_free_buffer_ms"].as_object() else {
        return Vec::new();
    };
    let ms = |v: &Value| {
        v.as_f64()
            .map_or("none".to_string(), |v| format!("{v:.0} ms"))
    };
    let mut out = Vec::new();
    for (load, figures) in smallest {
        out.push(row(
            &format!("underruns per buffer size, {load} (Xen, sndback's count in {seconds} s)"),
            underrun_counts(&rows, "xensnd", load),
            format!("Linux domU: {}", underrun_counts(&rows, "linux", load)),
            String::new(),
            "",
        ));
        out.push(row(
            &format!(
                "wait from a position event to the next WRITE, p99/max ms per buffer size, {load} (Xen, sndback's clock)"
            ),
            answer_waits(&rows, "xensnd", load),
            format!("Linux domU: {}", answer_waits(&rows, "linux", load)),
            String::new(),
            "",
        ));
        out.push(row(
            &format!("smallest glitch-free buffer, {load} (Xen)"),
            ms(&figures["xensnd"]),
            format!("Linux domU: {}", ms(&figures["linux"])),
            figures["ratio_xensnd_to_linux"]
                .as_f64()
                .map_or(String::new(), |r| format!("{r:.2}x ours/Linux")),
            "<= 0.5x Linux",
        ));
    }
    out
}

/// Boot's critical path in round trips (Xen, counted): xensnd's own counts
/// before its first WRITE beside the protocol's minimum, and what sndback
/// saw of each guest's ring (the Linux domU's only visible there).
fn round_trip_rows(xen: Option<&Value>) -> Vec<Row> {
    let section = xen.and_then(|x| x.get("round_trips_before_first_write"));
    let get = |key: &str| section.and_then(|s| s.pointer(key));
    let ours = |key: &str| counted(get(&format!("/xensnd/{key}")));
    let minimum = |key: &str| {
        get(&format!("/minimum/{key}"))
            .and_then(Value::as_f64)
            .map_or("n/a".into(), |v| format!("{v:.0}"))
    };
    let not_run = || XEN_NOT_RUN.to_string();
    let backend = |who: &str| {
        seen_by_backend(get(&format!("/{who}_seen_by_backend"))).unwrap_or_else(not_run)
    };
    vec![
        row(
            "XenStore round trips before the first WRITE (Xen, counted)",
            ours("xenstore_batches").map_or_else(not_run, |batches| {
                format!(
                    "{batches} ({} requests)",
                    ours("xenstore_requests").unwrap_or_else(|| "n/a".into())
                )
            }),
            format!(
                "protocol minimum {} (the config read, the handshake write, the backend's state read once its watch fires)",
                minimum("xenstore_batches")
            ),
            String::new(),
            "<= 2",
        ),
        row(
            "ring round trips before the first WRITE (Xen, counted)",
            ours("ring_round_trips").map_or_else(not_run, |trips| {
                format!(
                    "{trips} ({} requests); sndback saw {}",
                    ours("ring_requests").unwrap_or_else(|| "n/a".into()),
                    backend("xensnd")
                )
            }),
            format!(
                "protocol minimum {} (OPEN); Linux domU as sndback saw it: {}",
                minimum("ring_round_trips"),
                backend("linux")
            ),
            String::new(),
            "<= 1",
        ),
        row(
            "handshake waits for the backend before the first WRITE",
            ours("backend_waits").unwrap_or_else(not_run),
            format!(
                "protocol minimum {} (its Connected)",
                minimum("backend_waits")
            ),
            String::new(),
            "",
        ),
    ]
}

fn report(args: &[String]) -> Result<(), String> {
    let out = PathBuf::from(option(args, "--out").ok_or("--out DIR")?);
    let host = read_json(&out.join("host.json"))?.ok_or_else(|| {
        format!(
            "{}: missing (run `xensnd-bench run` first)",
            out.join("host.json").display()
        )
    })?;
    let xen = read_json(&out.join("xen.json"))?;
    let rows = rows(&host, xen.as_ref());
    let headers = ["measure", "xensnd", "reference", "ratio", "target"];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.measure.as_str(),
                r.ours.as_str(),
                r.reference.as_str(),
                r.ratio.as_str(),
                r.target.as_str(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let print_line = |line: &[&str; 5]| {
        let parts: Vec<String> = line
            .iter()
            .zip(widths.iter())
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("| {} |", parts.join(" | "));
    };
    let machine = &host["machine"];
    println!(
        "xensnd bench, {} — {} CPUs, {}{}",
        host["date_utc"].as_str().unwrap_or("?"),
        machine["cpus"],
        machine["cpu_model"].as_str().unwrap_or("?"),
        if host["quick"].as_bool() == Some(true) {
            " (quick run: short durations)"
        } else {
            ""
        }
    );
    print_line(&headers);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    println!("|-{}-|", rule.join("-|-"));
    for line in &cells {
        print_line(line);
    }
    println!(
        "Notes: per period = over the 10 ms periods of the protocol run (frontend -> sim -> \
         backend engine); waits count the simulator's time jumps too. Instructions: callgrind, \
         only inside the measured frontend function (waiting excluded), simulator = \
         xensnd_sim functions in it (simulated pages/event channels; page accesses \
         inlined as in the guest count as frontend); write_in_place fills the \
         shared pages directly (no staging copy). Real-time factor: median of 3, wall clock, \
         release build."
    );
    if let Some(xen) = &xen {
        let setting = |key: &str| number(&xen["settings"][key], 0);
        println!(
            "Xen rows ({}; QEMU TCG, {} boots per guest, medians): boot to first audio = \
             dom0's clock from just before `xl create` to sndback's first WRITE, 1 s tone, \
             xensnd and a Linux PVH domU (snd-xen-front, aplay) alternating, same vsnd card. \
             Guest entry -> first write() on the guest's own clocks (TSC to probe done, then \
             PV clock). \"Xen:\" per-period figures = sndback's counters over {} s of 48 kHz \
             stereo s16, {}-frame periods, {}-frame buffer (Linux: aplay with the same sizes); \
             blocking waits and \"guest sent\" are the guest's own counts. Memory: the 1 s tone \
             plays correctly = XENSND-DONE ok and sndback's WAV equals the reference.",
            xen["date_utc"].as_str().unwrap_or("?"),
            setting("runs"),
            setting("protocol_seconds"),
            setting("period"),
            setting("buffer"),
        );
    }
    let table: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({ "measure": r.measure, "xensnd": r.ours, "reference": r.reference,
                    "ratio": r.ratio, "target": r.target })
        })
        .collect();
    let bench = json!({ "host": host, "xen": xen, "table": table });
    write_json(&out.join("bench.json"), &bench)?;
    println!("(written to {})", out.join("bench.json").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_rows_show_the_counts_the_minimum_and_the_linux_domu() {
        let xen = json!({ "round_trips_before_first_write": {
            "minimum": { "xenstore_batches": 2, "ring_round_trips": 1, "backend_waits": 1 },
            "xensnd": { "xenstore_batches": [11.0, 11.0], "xenstore_requests": [41.0, 41.0],
                        "ring_round_trips": [2.0, 2.0], "ring_requests": [2.0, 2.0],
                        "backend_waits": [1.0, 2.0] },
            "xensnd_seen_by_backend": { "batches": [2.0, 2.0], "requests": [2.0, 2.0],
                                        "op_hw_param_query": [1.0, 1.0], "op_open": [1.0, 1.0] },
            "linux_seen_by_backend": { "batches": [5.0], "requests": [5.0],
                                       "op_hw_param_query": [4.0], "op_open": [1.0] },
        }});
        let rows = round_trip_rows(Some(&xen));
        assert_eq!(rows[0].ours, "11 (41 requests)");
        assert!(rows[0].reference.starts_with("protocol minimum 2"));
        assert_eq!(
            rows[1].ours,
            "2 (2 requests); sndback saw 2 batches, 2 requests (hw_param_query 1, open 1)"
        );
        assert!(rows[1].reference.contains(
            "Linux domU as sndback saw it: 5 batches, 5 requests (hw_param_query 4, open 1)"
        ));
        assert_eq!(rows[2].ours, "1.5 (runs: 1, 2)");
        let empty = round_trip_rows(None);
        assert_eq!(empty[0].ours, XEN_NOT_RUN);
        assert!(empty[1].reference.ends_with(XEN_NOT_RUN));
    }

    #[test]
    fn underrun_rows_show_each_size_and_the_smallest_glitch_free_buffer() {
        let xen = json!({ "underruns_under_load": {
            "seconds": 30,
            "rows": [
                { "system": "xensnd", "load": "dom0-hog", "requested_buffer_ms": 10.0, "underruns": 0.0,
                  "answer_latency": { "count": 900, "max_ms": 4.2, "p99_ms": 2 } },
                { "system": "xensnd", "load": "dom0-hog", "requested_buffer_ms": 5.0, "underruns": 2.0,
                  "answer_latency": { "count": 1800, "max_ms": 7.6, "p99_ms": 3 } },
                { "system": "linux", "load": "dom0-hog", "requested_buffer_ms": 5.0, "underruns": null,
                  "answer_latency": null },
                { "system": "linux", "load": "dom0-hog", "requested_buffer_ms": 20.0, "underruns": 0.0,
                  "answer_latency": { "count": 450, "max_ms": 12.0, "p99_ms": 9, "p50_ms": 1 } },
            ],
            "smallest_glitch_free_buffer_ms": {
                "dom0-hog": { "xensnd": 10.0, "linux": 20.0, "ratio_xensnd_to_linux": 0.5 } },
        }});
        let rows = underrun_rows(Some(&xen));
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].ours, "5 ms: 2, 10 ms: 0");
        assert_eq!(rows[0].reference, "Linux domU: 5 ms: failed, 20 ms: 0");
        assert!(rows[0].measure.contains("30 s"));
        assert_eq!(rows[1].ours, "5 ms: 3/8, 10 ms: 2/4");
        assert_eq!(rows[1].reference, "Linux domU: 5 ms: n/a, 20 ms: 9/12");
        assert_eq!(rows[2].ours, "10 ms");
        assert_eq!(rows[2].reference, "Linux domU: 20 ms");
        assert_eq!(rows[2].ratio, "0.50x ours/Linux");
        let none = underrun_rows(None);
        assert_eq!(none[0].ours, XEN_NOT_RUN);
    }
}
