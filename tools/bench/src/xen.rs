//! The QEMU+Xen bench's host side: turn the run directories that
//! `tests/xen/bench/scenario.sh` wrote in dom0 into `xen.json` (the schema
//! is in `main.rs`).
//!
//! Each run directory holds `t0.txt` (busybox `adjtimex` just before
//! `xl create`: dom0's `CLOCK_REALTIME` in microseconds), `xl-rc.txt`,
//! `gone.txt`, `console.log` (the guest's console), `stats.json` (sndback
//! `--stats`: counters per stream, first WRITE on dom0's clock) and `wav/`.
//!
//! - Boot to first audio: `first_write_unix_ns` (sndback, dom0 clock) minus
//!   `t0` (dom0 clock): one clock, no synchronisation needed.
//! - The guest's own entry -> first `write()`: `entry_to_probe_done_us`
//!   (TSC) plus `play_start_clock_ns - probe_done_clock_ns` (PV clock), all
//!   printed by the guest (`XENSND-TIMING`).
//! - Per period: the backend's counters over the playback stream divided by
//!   the periods it received (`bytes_written` / period bytes).
//! - Memory: a size plays correctly when the guest printed `XENSND-DONE ok`
//!   and sndback's WAV equals the reference tone (`wavtool compare`).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Map, Value};

/// Everything a run left behind, read leniently (a missing file is `None`).
struct Run {
    name: String,
    dir: PathBuf,
    t0_ns: Option<u64>,
    t1_ns: Option<u64>,
    xl_rc: Option<i64>,
    gone: Option<i64>,
    console: String,
    stats: Option<Value>,
}

fn read_text(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\r', ""))
}

fn read_number(path: &Path) -> Option<i64> {
    read_text(path).and_then(|text| text.trim().parse().ok())
}

/// `time.tv_sec:` and `time.tv_usec:` of busybox `adjtimex`, in ns.
fn adjtimex_ns(text: &str) -> Option<u64> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .and_then(|rest| rest.trim().parse::<u64>().ok())
    };
    Some(field("time.tv_sec:")? * 1_000_000_000 + field("time.tv_usec:")? * 1000)
}

impl Run {
    fn load(dir: &Path) -> Run {
        Run {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir: dir.to_path_buf(),
            t0_ns: read_text(&dir.join("t0.txt")).and_then(|t| adjtimex_ns(&t)),
            t1_ns: read_text(&dir.join("t1.txt")).and_then(|t| adjtimex_ns(&t)),
            xl_rc: read_number(&dir.join("xl-rc.txt")),
            gone: read_number(&dir.join("gone.txt")),
            console: read_text(&dir.join("console.log")).unwrap_or_default(),
            stats: std::fs::read(dir.join("stats.json"))
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok()),
        }
    }

    /// The value of `key=` on the first console line containing `marker`.
    fn field(&self, marker: &str, key: &str) -> Option<String> {
        self.console
            .lines()
            .filter(|line| line.contains(marker))
            .find_map(|line| {
                line.split_whitespace()
                    .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
                    .map(str::to_string)
            })
    }

    fn number(&self, marker: &str, key: &str) -> Option<f64> {
        self.field(marker, key).and_then(|v| v.parse().ok())
    }

    /// The number after `marker ` on a console line (`DOMU-APLAY-period_size 480`).
    fn after(&self, marker: &str) -> Option<f64> {
        self.console.lines().find_map(|line| {
            line.split_once(marker)
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
    }

    fn done_ok(&self) -> bool {
        self.console.contains("XENSND-DONE ok")
    }

    /// The playback streams' counters, summed (the bench plays on one).
    fn playback(&self) -> Option<Map<String, Value>> {
        let streams = self.stats.as_ref()?.get("streams")?.as_array()?;
        let mut sum = Map::new();
        let mut add = |key: &str, value: f64| {
            let old = sum.get(key).and_then(Value::as_f64).unwrap_or(0.0);
            sum.insert(key.to_string(), json!(old + value));
        };
        let mut any = false;
        for stream in streams {
            if stream.get("direction").and_then(Value::as_str) != Some("playback") {
                continue;
            }
            any = true;
            for key in [
                "notifications_in",
                "notifications_out",
                "event_notifications_out",
                "events_sent",
                "requests_total",
                "bytes_written",
                "errors",
            ] {
                add(key, stream.get(key).and_then(Value::as_f64).unwrap_or(0.0));
            }
            if let Some(requests) = stream.get("requests").and_then(Value::as_object) {
                for (name, count) in requests {
                    add(&format!("op_{name}"), count.as_f64().unwrap_or(0.0));
                }
            }
        }
        any.then_some(sum)
    }

    /// The backend's first WRITE (any stream) on dom0's clock.
    fn first_write_unix_ns(&self) -> Option<u64> {
        self.stats
            .as_ref()?
            .pointer("/totals/first_write_unix_ns")?
            .as_u64()
    }

    /// `xl create` start -> the backend's first WRITE, in ms.
    fn boot_to_first_write_ms(&self) -> Option<f64> {
        let first = self.first_write_unix_ns()?;
        let t0 = self.t0_ns?;
        (first >= t0).then(|| (first - t0) as f64 / 1e6)
    }

    /// Why the run did not play, or `None`.
    fn failure(&self, guest_is_xensnd: bool) -> Option<String> {
        match self.xl_rc {
            None => return Some("not run".into()),
            Some(0) => {}
            Some(rc) => {
                let log = read_text(&self.dir.join("xl-create.log")).unwrap_or_default();
                let why = log
                    .lines()
                    .find(|l| l.contains("error") || l.contains("Could not"))
                    .map(|l| l.trim().to_string())
                    .unwrap_or_default();
                return Some(format!("xl create failed (rc {rc}): {why}"));
            }
        }
        if guest_is_xensnd && !self.done_ok() {
            let why = self
                .console
                .lines()
                .find_map(|l| l.split_once("XENSND-DONE failed:").map(|(_, w)| w.trim()))
                .or_else(|| {
                    self.console
                        .lines()
                        .rev()
                        .find(|l| l.contains("ERROR") || l.contains("panic"))
                })
                .unwrap_or("no XENSND-DONE ok on its console");
            return Some(format!("guest failed: {why}"));
        }
        if !guest_is_xensnd && self.field("DOMU-APLAY", "rc").as_deref() != Some("0") {
            return Some("aplay did not succeed".into());
        }
        if self.gone != Some(0) {
            return Some("the domain did not power off in time".into());
        }
        None
    }
}

fn runs_named(runs: &[Run], prefix: &str) -> Vec<usize> {
    runs.iter()
        .enumerate()
        .filter(|(_, r)| r.name.starts_with(prefix))
        .map(|(i, _)| i)
        .collect()
}

/// The guest's entry -> first `write()` on its own clocks, in ms: the TSC
/// from entry to the end of the probe (`entry_to_probe_done_us`, as in the
/// guest's other figures), then the PV clock from there to the demo's first
/// `write()` (`play_start_clock_ns - probe_done_clock_ns`).
fn guest_entry_to_play_ms(run: &Run) -> Option<f64> {
    let probe_us = run.number("XENSND-TIMING", "entry_to_probe_done_us")?;
    let probe = run.number("XENSND-TIMING", "probe_done_clock_ns")?;
    let play = run.number("XENSND-TIMING", "play_start_clock_ns")?;
    (play >= probe).then(|| probe_us / 1000.0 + (play - probe) / 1e6)
}

/// The same on the PV clock alone (`play_start_clock_ns - entry_clock_ns`);
/// kept beside the TSC figure because the two disagreed in early runs.
fn guest_entry_to_play_pv_ms(run: &Run) -> Option<f64> {
    let entry = run.number("XENSND-TIMING", "entry_clock_ns")?;
    let play = run.number("XENSND-TIMING", "play_start_clock_ns")?;
    (play >= entry).then(|| (play - entry) / 1e6)
}

/// Probe done -> app done on the PV clock minus the same on the TSC, in
/// ms: how far the guest's two clocks disagree over the demo.
fn guest_clock_disagreement_ms(run: &Run) -> Option<f64> {
    let tsc = run.number("XENSND-TIMING", "entry_to_app_done_us")?
        - run.number("XENSND-TIMING", "entry_to_probe_done_us")?;
    let pv = run.number("XENSND-TIMING", "app_done_clock_ns")?
        - run.number("XENSND-TIMING", "probe_done_clock_ns")?;
    Some(pv / 1e6 - tsc / 1000.0)
}

/// The guest's entry (its Unix clock: Xen's wall clock + PV clock) ->
/// the backend's first WRITE (dom0's clock): two clocks, approximate.
fn cross_clock_entry_to_first_write_ms(run: &Run) -> Option<f64> {
    let entry = run
        .field("XENSND-TIMING", "entry_unix_ns")?
        .parse::<u64>()
        .ok()?;
    let first = run.first_write_unix_ns()?;
    Some((first as f64 - entry as f64) / 1e6)
}

/// The keys of the guest's `XENSND-ROUNDTRIPS before_first_write` line.
const ROUND_TRIP_KEYS: [&str; 5] = [
    "xenstore_batches",
    "xenstore_requests",
    "ring_round_trips",
    "ring_requests",
    "backend_waits",
];

/// The console line with the counts before the first WRITE.
const ROUND_TRIPS_MARKER: &str = "XENSND-ROUNDTRIPS before_first_write";

/// The guest's own counts before its first WRITE (`XENSND-ROUNDTRIPS
/// before_first_write ...`), or `None` (no such line, or `none`).
fn guest_round_trips(run: &Run) -> Option<Map<String, Value>> {
    let mut counts = Map::new();
    for key in ROUND_TRIP_KEYS {
        if let Some(value) = run.number(ROUND_TRIPS_MARKER, key) {
            counts.insert(key.to_string(), json!(value));
        }
    }
    (!counts.is_empty()).then_some(counts)
}

/// What sndback saw before the first WRITE on the playback stream(s) that
/// got one (`--stats`: `requests_before_first_write`,
/// `request_batches_before_first_write`): `requests` (total), `batches`,
/// and the requests by operation (`op_<name>`, non-zero ones).
fn backend_before_first_write(run: &Run) -> Option<Map<String, Value>> {
    let streams = run.stats.as_ref()?.get("streams")?.as_array()?;
    let mut sum = Map::new();
    let mut add = |key: &str, value: f64| {
        let old = sum.get(key).and_then(Value::as_f64).unwrap_or(0.0);
        sum.insert(key.to_string(), json!(old + value));
    };
    let mut any = false;
    for stream in streams {
        let wrote = stream
            .get("first_write_ns")
            .is_some_and(|value| !value.is_null());
        if stream.get("direction").and_then(Value::as_str) != Some("playback") || !wrote {
            continue;
        }
        let Some(batches) = stream
            .get("request_batches_before_first_write")
            .and_then(Value::as_f64)
        else {
            continue;
        };
        any = true;
        add("batches", batches);
        let total = stream
            .get("requests_before_first_write_total")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        add("requests", total);
        if let Some(requests) = stream
            .get("requests_before_first_write")
            .and_then(Value::as_object)
        {
            for (name, count) in requests {
                let count = count.as_f64().unwrap_or(0.0);
                if count > 0.0 {
                    add(&format!("op_{name}"), count);
                }
            }
        }
    }
    any.then_some(sum)
}

/// Per key, the values of every run (runs without the figure left out):
/// `{ "xenstore_batches": [11, 11], ... }`.
fn per_key(values: &[Map<String, Value>]) -> Map<String, Value> {
    let mut out = Map::new();
    for counts in values {
        for (key, value) in counts {
            if let Value::Array(list) = out
                .entry(key.clone())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                list.push(value.clone());
            }
        }
    }
    out
}

/// Boot runs `<prefix>N`: boot to first WRITE of the runs that played,
/// `xl create`'s own duration for the same runs, and per-run details.
fn boot_section(runs: &[Run], prefix: &str, xensnd: bool) -> (Vec<f64>, Vec<f64>, Vec<Value>) {
    let mut values = Vec::new();
    let mut xl_create = Vec::new();
    let mut details = Vec::new();
    for index in runs_named(runs, prefix) {
        let run = &runs[index];
        let ms = run.boot_to_first_write_ms();
        let failure = run.failure(xensnd);
        if let (Some(ms), None) = (ms, &failure) {
            values.push(ms);
        }
        // How long `xl create` itself took (it returns once the domain runs).
        let xl_create_ms = match (run.t0_ns, run.t1_ns) {
            (Some(t0), Some(t1)) if t1 >= t0 => Some((t1 - t0) as f64 / 1e6),
            _ => None,
        };
        if let (Some(ms), None) = (xl_create_ms, &failure) {
            xl_create.push(ms);
        }
        let mut detail = json!({
            "run": run.name, "boot_to_first_write_ms": ms, "failure": failure,
            "xl_create_ms": xl_create_ms,
        });
        if xensnd {
            detail["guest_entry_to_play_ms"] = json!(guest_entry_to_play_ms(run));
            detail["guest_entry_to_play_pv_clock_ms"] = json!(guest_entry_to_play_pv_ms(run));
            detail["guest_pv_minus_tsc_over_demo_ms"] = json!(guest_clock_disagreement_ms(run));
            detail["guest_entry_to_probe_done_ms"] = json!(run
                .number("XENSND-TIMING", "entry_to_probe_done_us")
                .map(|us| us / 1000.0));
            detail["cross_clock_entry_to_first_write_ms"] =
                json!(cross_clock_entry_to_first_write_ms(run));
            detail["round_trips_before_first_write"] = json!(guest_round_trips(run));
        } else {
            detail["aplay_underruns"] = json!(run.field("DOMU-APLAY", "underruns"));
        }
        detail["backend_before_first_write"] = json!(backend_before_first_write(run));
        details.push(detail);
    }
    (values, xl_create, details)
}

fn per_period(run: &Run, xensnd: bool, default_period_frames: f64) -> Value {
    let Some(counters) = run.playback() else {
        return json!({ "failure": run.failure(xensnd).unwrap_or_else(|| "no stats".into()) });
    };
    let get = |key: &str| counters.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    // The period the stream really got: the guest prints it, aplay -v too.
    let (period, buffer_frames) = stream_sizes(run, xensnd);
    let period_frames = period.unwrap_or(default_period_frames);
    let periods = (get("bytes_written") / (period_frames * 4.0)).max(1.0);
    let mut value = json!({
        "periods": periods,
        "period_frames": period_frames,
        "buffer_frames": buffer_frames,
        "seconds": get("bytes_written") / (48_000.0 * 4.0),
        "to_backend": get("notifications_in") / periods,
        "to_frontend": (get("notifications_out") + get("event_notifications_out")) / periods,
        "to_frontend_ring": get("notifications_out") / periods,
        "to_frontend_events": get("event_notifications_out") / periods,
        "requests": get("requests_total") / periods,
        "writes": get("op_write") / periods,
        "other_requests": get("requests_total") - get("op_write"),
        "errors": get("errors"),
        "failure": run.failure(xensnd),
    });
    if xensnd {
        // The guest's own counters (XENSND-RESULT).
        let result = |key: &str| run.number("XENSND-RESULT", key);
        value["guest_notifications_sent"] = json!(result("notifications").map(|n| n / periods));
        value["blocking_waits"] = json!(result("blocking_waits").map(|n| n / periods));
        value["underruns"] = json!(result("underruns"));
        value["max_in_flight"] = json!(result("max_in_flight"));
    } else {
        value["underruns"] = json!(run.number("DOMU-APLAY", "underruns"));
    }
    value
}

/// The period and buffer (frames) the playback stream really got: the
/// xensnd guest prints them (`stream spk: ..., period P, buffer B`), the
/// Linux domU's `aplay -v` too (`DOMU-APLAY-period_size P`).
fn stream_sizes(run: &Run, xensnd: bool) -> (Option<f64>, Option<f64>) {
    if xensnd {
        let line = run.console.lines().find(|l| l.contains("stream spk:"));
        let after = |marker: &str| {
            line.and_then(|l| l.split_once(marker))
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .and_then(|v| v.trim_end_matches(',').parse::<f64>().ok())
        };
        (after(", period "), after(", buffer "))
    } else {
        (
            run.after("DOMU-APLAY-period_size"),
            run.after("DOMU-APLAY-buffer_size"),
        )
    }
}

/// One run of the underrun sweep (`underrun-LOAD-SYSTEM-MS`): what sndback
/// counted (the same instrument for both guests), the guest's own count
/// (XENSND-RESULT's, aplay's), the sizes the stream really got.
fn underrun_run(run: &Run) -> Option<Value> {
    let rest = run.name.strip_prefix("underrun-")?;
    let (rest, ms) = rest.rsplit_once('-')?;
    let (load, system) = rest.rsplit_once('-')?;
    let requested_ms: f64 = ms.parse().ok()?;
    let xensnd = system == "xensnd";
    let (period, buffer) = stream_sizes(run, xensnd);
    let counters = run.playback();
    let backend = run.stats.as_ref().and_then(|stats| {
        let streams = stats.get("streams")?.as_array()?;
        let mut sum = None;
        for stream in streams {
            if stream.get("direction").and_then(Value::as_str) == Some("playback") {
                let count = stream.get("underruns")?.as_f64()?;
                sum = Some(sum.unwrap_or(0.0) + count);
            }
        }
        sum
    });
    let guest = if xensnd {
        run.number("XENSND-RESULT", "underruns")
    } else {
        run.number("DOMU-APLAY", "underruns")
    };
    let seconds = counters
        .as_ref()
        .and_then(|c| c.get("bytes_written"))
        .and_then(Value::as_f64)
        .map(|bytes| bytes / (48_000.0 * 4.0));
    // The guest's wait from a position event to its next WRITE, as sndback
    // timed it (the playback stream that waited most often).
    let answer = run.stats.as_ref().and_then(|stats| {
        stats
            .get("streams")?
            .as_array()?
            .iter()
            .filter(|s| s.get("direction").and_then(Value::as_str) == Some("playback"))
            .filter_map(|s| s.get("answer_latency"))
            .max_by_key(|a| a.get("count").and_then(Value::as_u64).unwrap_or(0))
            .cloned()
    });
    let failure = run.failure(xensnd);
    Some(json!({
        "run": run.name,
        "system": system,
        "load": load,
        "answer_latency": answer,
        "requested_buffer_ms": requested_ms,
        "buffer_ms": buffer.map_or(requested_ms, |frames| frames / 48.0),
        "period_ms": period.map(|frames| frames / 48.0),
        // The chart's count: only a run that played to its end has one.
        "underruns": if failure.is_none() { backend.map_or(Value::Null, |n| json!(n)) } else { Value::Null },
        "backend_underruns": backend,
        "guest_underruns": guest,
        "seconds": seconds,
        "failure": failure,
    }))
}

/// The smallest buffer (ms) from which on every run of `system` under
/// `load` played to its end without an underrun (sndback's count): a
/// lucky small size below a failing one does not count.
fn smallest_glitch_free(rows: &[Value], system: &str, load: &str) -> Option<f64> {
    let mut runs: Vec<(f64, bool)> = rows
        .iter()
        .filter(|r| r["system"] == system && r["load"] == load)
        .filter_map(|r| {
            let ms = r["requested_buffer_ms"].as_f64()?;
            Some((ms, r["underruns"].as_f64() == Some(0.0)))
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut smallest = None;
    for (ms, clean) in runs.into_iter().rev() {
        if !clean {
            break;
        }
        smallest = Some(ms);
    }
    smallest
}

/// The underrun sweep: rows per run (also `underruns.json`, the chart's
/// input) and, per load, the smallest glitch-free buffer of each system.
fn underrun_section(runs: &[Run], settings: &Map<String, Value>) -> (Value, Vec<Value>) {
    let rows: Vec<Value> = runs.iter().filter_map(underrun_run).collect();
    let mut loads: Vec<String> = Vec::new();
    for row in &rows {
        if let Some(load) = row["load"].as_str() {
            if !loads.iter().any(|l| l == load) {
                loads.push(load.to_string());
            }
        }
    }
    let mut smallest = Map::new();
    for load in &loads {
        let ours = smallest_glitch_free(&rows, "xensnd", load);
        let linux = smallest_glitch_free(&rows, "linux", load);
        smallest.insert(
            load.clone(),
            json!({
                "xensnd": ours,
                "linux": linux,
                "ratio_xensnd_to_linux": ours.zip(linux).map(|(o, l)| o / l),
            }),
        );
    }
    let section = json!({
        "seconds": settings.get("underrun_seconds"),
        "periods_per_buffer": settings.get("underrun_periods"),
        "sndback_args": settings.get("sndback_args"),
        "rows": rows,
        "smallest_glitch_free_buffer_ms": smallest,
        "target": "xensnd's smallest glitch-free buffer at most half of Linux's",
    });
    (section, rows)
}

/// Run `wavtool compare REFERENCE WAV`: `Ok(())` when equal.
fn compare(wavtool: &Path, reference: &Path, wav: &Path) -> Result<(), String> {
    let output = Command::new(wavtool)
        .arg("compare")
        .arg(reference)
        .arg(wav)
        .output()
        .map_err(|e| format!("{}: {e}", wavtool.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        Err(text.lines().last().unwrap_or("differs").trim().to_string())
    }
}

/// The runs `<prefix><MiB>`: which sizes played the 1 s tone exactly, and
/// the smallest that did.
fn memory_section(
    runs: &[Run],
    prefix: &str,
    xensnd: bool,
    wavtool: &Path,
    reference: &Path,
) -> (Vec<Value>, Option<u64>) {
    let mut trials = Vec::new();
    for index in runs_named(runs, prefix) {
        let run = &runs[index];
        let Ok(mib) = run.name.trim_start_matches(prefix).parse::<u64>() else {
            continue;
        };
        let wav = std::fs::read_dir(run.dir.join("wav")).ok().and_then(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().contains("spk"))
        });
        let failure = run.failure(xensnd).or_else(|| match &wav {
            None => Some("sndback wrote no playback WAV".into()),
            Some(wav) => compare(wavtool, reference, wav)
                .err()
                .map(|why| format!("WAV differs from the reference: {why}")),
        });
        trials.push(json!({ "mib": mib, "ok": failure.is_none(), "failure": failure }));
    }
    trials.sort_by_key(|t| t["mib"].as_u64());
    let smallest = trials
        .iter()
        .filter(|t| t["ok"].as_bool() == Some(true))
        .filter_map(|t| t["mib"].as_u64())
        .min();
    (trials, smallest)
}

/// `xen-summary --runs DIR --reference WAV --wavtool PATH --out FILE`.
pub fn summary_command(args: &[String]) -> Result<(), String> {
    let get = |name: &str| super::option(args, name).ok_or(format!("{name} is required"));
    let runs_dir = PathBuf::from(get("--runs")?);
    let reference = PathBuf::from(get("--reference")?);
    let wavtool = PathBuf::from(get("--wavtool")?);
    let out = PathBuf::from(get("--out")?);
    let settings_text = read_text(&runs_dir.join("settings.txt")).ok_or_else(|| {
        format!(
            "{}: no settings.txt (the bench did not run)",
            runs_dir.display()
        )
    })?;
    let mut settings = Map::new();
    for word in settings_text.split_whitespace() {
        if let Some((key, value)) = word.split_once('=') {
            let value = value
                .parse::<f64>()
                .map_or_else(|_| json!(value), |n| json!(n));
            settings.insert(key.to_string(), value);
        }
    }
    let period_frames = settings
        .get("period")
        .and_then(Value::as_f64)
        .unwrap_or(480.0);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&runs_dir)
        .map_err(|e| format!("{}: {e}", runs_dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    let runs: Vec<Run> = entries.iter().map(|dir| Run::load(dir)).collect();

    let (xensnd_boot, xensnd_xl, xensnd_details) = boot_section(&runs, "boot-xensnd-", true);
    let (linux_boot, linux_xl, linux_details) = boot_section(&runs, "boot-linux-", false);
    let good_xensnd = || {
        runs_named(&runs, "boot-xensnd-")
            .into_iter()
            .filter(|&i| runs[i].failure(true).is_none())
    };
    let guest_entry: Vec<f64> = good_xensnd()
        .filter_map(|i| guest_entry_to_play_ms(&runs[i]))
        .collect();
    let guest_entry_pv: Vec<f64> = good_xensnd()
        .filter_map(|i| guest_entry_to_play_pv_ms(&runs[i]))
        .collect();
    // Round trips before the first WRITE, per run that played: the
    // guest's own counts, and what sndback saw of each guest's ring.
    let good_linux = || {
        runs_named(&runs, "boot-linux-")
            .into_iter()
            .filter(|&i| runs[i].failure(false).is_none())
    };
    let collect = |indices: Vec<usize>, figure: &dyn Fn(&Run) -> Option<Map<String, Value>>| {
        let values: Vec<Map<String, Value>> = indices
            .into_iter()
            .filter_map(|i| figure(&runs[i]))
            .collect();
        per_key(&values)
    };
    let round_trips = json!({
        "minimum": { "xenstore_batches": 3, "ring_round_trips": 1, "backend_waits": 1 },
        "target": { "xenstore_batches": 2, "ring_round_trips": 1 },
        "xensnd": collect(good_xensnd().collect(), &guest_round_trips),
        "xensnd_seen_by_backend": collect(good_xensnd().collect(), &backend_before_first_write),
        "linux_seen_by_backend": collect(good_linux().collect(), &backend_before_first_write),
    });
    let find = |name: &str| runs.iter().find(|r| r.name == name);
    let xensnd_period =
        find("period-xensnd").map_or(Value::Null, |r| per_period(r, true, period_frames));
    let linux_period =
        find("period-linux").map_or(Value::Null, |r| per_period(r, false, period_frames));
    let (trials, smallest) = memory_section(&runs, "memory-", true, &wavtool, &reference);
    let (linux_trials, linux_smallest) =
        memory_section(&runs, "linux-memory-", false, &wavtool, &reference);
    let linux_memory =
        read_text(&runs_dir.join("linux-memory.txt")).and_then(|t| t.trim().parse::<u64>().ok());

    let (underruns, underrun_rows) = underrun_section(&runs, &settings);

    let xen = json!({
        "date_utc": super::utc_now(),
        "settings": settings,
        "runs": settings.get("runs"),
        "boot_to_first_write_ms": { "xensnd": xensnd_boot, "linux": linux_boot },
        "xl_create_ms": { "xensnd": xensnd_xl, "linux": linux_xl },
        "boot_runs": { "xensnd": xensnd_details, "linux": linux_details },
        "guest_entry_to_first_write_ms": { "xensnd": guest_entry },
        "guest_entry_to_first_write_pv_clock_ms": { "xensnd": guest_entry_pv },
        "round_trips_before_first_write": round_trips,
        "notifications_per_period": { "xensnd": xensnd_period, "linux": linux_period },
        "memory_trials": trials,
        "linux_memory_trials": linux_trials,
        "min_memory_mib": { "xensnd": smallest, "linux": linux_smallest },
        "linux_memory_mib": linux_memory,
        "underruns_under_load": underruns,
        "notes": "Boot to first audio: dom0's CLOCK_REALTIME just before `xl create` (busybox \
                  adjtimex) to sndback's first WRITE (same clock). Guest entry -> first write(): \
                  the guest's TSC to the end of its probe, then its PV clock to the demo's first \
                  write() (XENSND-TIMING). Per \
                  period: sndback's counters on the playback stream / periods received. Blocking \
                  waits are the guest's own count; a Linux domU's are not visible to the backend. \
                  Round trips before the first WRITE: the guest's own counts \
                  (XENSND-ROUNDTRIPS before_first_write: XenStore round trips = waits for \
                  replies to requests sent since the previous wait, ring round trips the same \
                  on the rings, backend waits = handshake waits for the backend's state) and \
                  sndback's (requests and request batches on the playback ring before its \
                  first WRITE), one value per boot run that played.",
    });
    super::write_json(&out, &xen)?;
    eprintln!("== bench: wrote {}", out.display());
    // The chart's input (`wavtool underruns`, make bench-plot), beside xen.json.
    let chart = out.with_file_name("underruns.json");
    let _ = std::fs::remove_file(&chart);
    if !underrun_rows.is_empty() {
        let title = format!(
            "Underruns under load (QEMU+Xen, sndback's count, {} s of 48 kHz stereo per size)",
            settings
                .get("underrun_seconds")
                .and_then(Value::as_f64)
                .map_or("?".into(), |s| format!("{s:.0}"))
        );
        super::write_json(&chart, &json!({ "title": title, "rows": underrun_rows }))?;
        eprintln!("== bench: wrote {}", chart.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjtimex_output() {
        let text = "    mode:         0\n    time.tv_sec:  1795471925\n    time.tv_usec: 145393\n";
        assert_eq!(adjtimex_ns(text), Some(1_795_471_925_145_393_000));
        assert_eq!(adjtimex_ns("mode: 0\n"), None);
    }

    #[test]
    fn console_fields() {
        let run = Run {
            name: "boot-xensnd-1".into(),
            dir: PathBuf::new(),
            t0_ns: Some(1_000_000_000),
            t1_ns: None,
            xl_rc: Some(0),
            gone: Some(0),
            console: "[INFO ] XENSND-TIMING play_start_clock_ns=1505000000\n\
                      [INFO ] XENSND-TIMING entry_to_probe_done_us=1000000\n\
                      [INFO ] XENSND-TIMING entry_clock_ns=5000000 probe_done_clock_ns=1405000000\n\
                      [INFO ] XENSND-RESULT stream=spk frames=48000 notifications=100 blocking_waits=3\n\
                      DOMU-APLAY-period_size 480\n[INFO ] XENSND-DONE ok\n"
                .into(),
            stats: Some(json!({ "totals": { "first_write_unix_ns": 3_500_000_000u64 } })),
        };
        assert_eq!(guest_entry_to_play_ms(&run), Some(1100.0));
        assert_eq!(guest_entry_to_play_pv_ms(&run), Some(1500.0));
        assert_eq!(run.boot_to_first_write_ms(), Some(2500.0));
        assert_eq!(run.number("XENSND-RESULT", "blocking_waits"), Some(3.0));
        assert_eq!(run.after("DOMU-APLAY-period_size"), Some(480.0));
        assert_eq!(run.failure(true), None);
        assert!(run.failure(false).is_some(), "no aplay rc=0 line");
    }

    fn run_with(console: &str, stats: Value) -> Run {
        Run {
            name: "boot-xensnd-1".into(),
            dir: PathBuf::new(),
            t0_ns: None,
            t1_ns: None,
            xl_rc: Some(0),
            gone: Some(0),
            console: console.into(),
            stats: Some(stats),
        }
    }

    /// One stream of sndback's `--stats` as it prints it (the keys read).
    fn stream(direction: &str, first_write: Option<u64>, before: Value, batches: u64) -> Value {
        let total: u64 = before
            .as_object()
            .unwrap()
            .values()
            .filter_map(Value::as_u64)
            .sum();
        json!({
            "direction": direction,
            "first_write_ns": first_write,
            "requests_before_first_write": before,
            "requests_before_first_write_total": total,
            "request_batches_before_first_write": batches,
        })
    }

    #[test]
    fn round_trips_before_the_first_write() {
        let console = "[INFO ] XENSND-TIMING play_start_clock_ns=1505000000\n\
                       [INFO ] XENSND-ROUNDTRIPS before_first_write xenstore_batches=11 \
                       xenstore_requests=41 ring_round_trips=2 ring_requests=2 backend_waits=1\n\
                       [INFO ] XENSND-ROUNDTRIPS total xenstore_batches=14 xenstore_requests=44 \
                       ring_round_trips=40 ring_requests=120 backend_waits=2\n";
        let stats = json!({ "streams": [
            stream("playback", Some(7), json!({ "open": 1, "write": 0, "hw_param_query": 1 }), 2),
            // No WRITE on the capture stream: left out.
            stream("capture", None, json!({ "open": 1 }), 1),
        ]});
        let run = run_with(console, stats);
        let guest = guest_round_trips(&run).unwrap();
        assert_eq!(guest["xenstore_batches"], json!(11.0));
        assert_eq!(guest["xenstore_requests"], json!(41.0));
        assert_eq!(guest["ring_round_trips"], json!(2.0));
        assert_eq!(guest["ring_requests"], json!(2.0));
        assert_eq!(guest["backend_waits"], json!(1.0));
        let backend = backend_before_first_write(&run).unwrap();
        assert_eq!(backend["requests"], json!(2.0));
        assert_eq!(backend["batches"], json!(2.0));
        assert_eq!(backend["op_open"], json!(1.0));
        assert_eq!(backend["op_hw_param_query"], json!(1.0));
        assert!(!backend.contains_key("op_write"), "zeros left out");
        // Two runs: one list per key.
        let keyed = per_key(&[guest.clone(), guest]);
        assert_eq!(keyed["ring_round_trips"], json!([2.0, 2.0]));

        // A guest that sent no WRITE prints `none`; the total line does not
        // stand in for it. An old sndback without the keys: no figure.
        let run = run_with(
            "XENSND-ROUNDTRIPS before_first_write none (no WRITE sent)\n\
             XENSND-ROUNDTRIPS total xenstore_batches=10 ring_round_trips=0\n",
            json!({ "streams": [{ "direction": "playback", "first_write_ns": 5 }] }),
        );
        assert_eq!(guest_round_trips(&run), None);
        assert_eq!(backend_before_first_write(&run), None);
    }

    fn underrun_run_named(name: &str, console: &str, underruns: Option<u64>) -> Run {
        let mut stream = json!({ "direction": "playback", "bytes_written": 1_920_000 });
        if let Some(n) = underruns {
            stream["underruns"] = json!(n);
            stream["answer_latency"] = json!({ "count": 1000, "max_ms": 9.5, "p99_ms": 4 });
        }
        let stats = json!({ "streams": [stream, { "direction": "capture", "underruns": 0 }] });
        Run {
            name: name.into(),
            ..run_with(console, stats)
        }
    }

    #[test]
    fn underrun_sweep_rows_and_the_smallest_glitch_free_buffer() {
        let xensnd_ok = "stream spk: 48000 Hz, 2 ch, s16_le, period 240 frames, buffer 480 frames \
                         (backend answered HW_PARAM_QUERY: x)\n\
                         XENSND-RESULT stream=spk frames=480000 underruns=2\nXENSND-DONE ok\n";
        let linux_ok = "DOMU-APLAY rc=0 underruns=5\nDOMU-APLAY-period_size 256\n\
                        DOMU-APLAY-buffer_size 512\n";
        let runs = vec![
            underrun_run_named("underrun-dom0-hog-xensnd-5", xensnd_ok, Some(3)),
            underrun_run_named("underrun-dom0-hog-xensnd-10", xensnd_ok, Some(0)),
            // A lucky small size below a failing one does not count.
            underrun_run_named("underrun-dom0-hog-linux-5", linux_ok, Some(0)),
            underrun_run_named("underrun-dom0-hog-linux-10", linux_ok, Some(4)),
            underrun_run_named("underrun-dom0-hog-linux-20", linux_ok, Some(0)),
            // A guest that failed has no count for the chart.
            underrun_run_named(
                "underrun-busy-guest-xensnd-5",
                "XENSND-DONE failed: x\n",
                Some(0),
            ),
            underrun_run_named("boot-xensnd-1", xensnd_ok, Some(0)),
        ];
        let settings = Map::from_iter([("underrun_seconds".to_string(), json!(10))]);
        let (section, rows) = underrun_section(&runs, &settings);
        assert_eq!(rows.len(), 6, "only the sweep's runs");
        let first = &rows[0];
        assert_eq!(first["system"], "xensnd");
        assert_eq!(first["load"], "dom0-hog");
        assert_eq!(first["requested_buffer_ms"], json!(5.0));
        assert_eq!(first["buffer_ms"], json!(10.0), "the 480 frames it got");
        assert_eq!(first["period_ms"], json!(5.0));
        assert_eq!(first["underruns"], json!(3.0), "sndback's count");
        assert_eq!(first["guest_underruns"], json!(2.0));
        assert_eq!(first["seconds"], json!(10.0));
        assert_eq!(
            first["answer_latency"]["p99_ms"],
            json!(4),
            "sndback's timing"
        );
        assert_eq!(rows[2]["guest_underruns"], json!(5.0), "aplay's count");
        assert_eq!(rows[2]["buffer_ms"].as_f64().unwrap(), 512.0 / 48.0);
        assert_eq!(rows[5]["underruns"], Value::Null);
        assert!(rows[5]["failure"]
            .as_str()
            .unwrap()
            .contains("guest failed"));
        let smallest = &section["smallest_glitch_free_buffer_ms"];
        assert_eq!(smallest["dom0-hog"]["xensnd"], json!(10.0));
        assert_eq!(smallest["dom0-hog"]["linux"], json!(20.0));
        assert_eq!(smallest["dom0-hog"]["ratio_xensnd_to_linux"], json!(0.5));
        assert_eq!(smallest["busy-guest"]["xensnd"], Value::Null);
        // The chart reads the same rows.
        let text = json!({ "rows": rows }).to_string();
        assert!(text.contains("\"buffer_ms\""));
        // An old sndback without the key: no count.
        let old = underrun_run_named("underrun-dom0-hog-xensnd-5", xensnd_ok, None);
        assert_eq!(underrun_run(&old).unwrap()["underruns"], Value::Null);
        assert_eq!(underrun_run(&old).unwrap()["answer_latency"], Value::Null);
    }
}
