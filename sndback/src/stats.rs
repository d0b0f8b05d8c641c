//! The `--stats` file: every stream's counters as JSON.
//!
//! Written after device teardowns (at most once per
//! [`WRITE_INTERVAL_NS`], see [`Throttle`]) and at exit (SIGTERM/SIGINT),
//! to a temporary file renamed into place so a reader never sees half a
//! file.
//!
//! # Bounded, whatever the guests do
//! A guest can tear its device down and connect again as often as it
//! likes, and every teardown leaves a record. [`History`] keeps the last
//! `cap` records of streams torn down ([`DEFAULT_HISTORY`], `--stats-history`)
//! and sums the older ones into one `older` record, so memory and the size
//! of every write stay bounded (no cost growing with the number of
//! teardowns: the document is at most `cap` + the connected streams).
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;

use xensnd_backend::counters::{Counters, OPERATION_NAMES};
use xensnd_backend::xenbus::StreamSummary;
use xensnd_backend::Direction;

/// One stream's identity and counters.
pub type StreamRecord = StreamSummary;

/// Records of streams torn down kept by default.
pub const DEFAULT_HISTORY: usize = 256;

/// Least time between two writes of the stats file after teardowns: 1 s.
pub const WRITE_INTERVAL_NS: u64 = 1_000_000_000;

/// The records of streams torn down: the last `cap` as they are, the older
/// ones summed.
#[derive(Debug, Clone)]
pub struct History {
    cap: usize,
    records: VecDeque<StreamRecord>,
    older_streams: u64,
    older: Counters,
}

impl History {
    /// Keep at most `cap` records.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            records: VecDeque::new(),
            older_streams: 0,
            older: Counters::default(),
        }
    }

    /// Add records of streams torn down, summing the oldest past the cap.
    pub fn extend(&mut self, records: impl IntoIterator<Item = StreamRecord>) {
        for record in records {
            self.records.push_back(record);
            while self.records.len() > self.cap {
                if let Some(old) = self.records.pop_front() {
                    self.older_streams += 1;
                    self.older.accumulate(&old.counters);
                }
            }
        }
    }

    /// The records kept, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &StreamRecord> {
        self.records.iter()
    }

    /// Records kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Streams summed into the `older` record, and their counters.
    pub fn older(&self) -> (u64, &Counters) {
        (self.older_streams, &self.older)
    }
}

/// When to write the stats file: something changed ([`Throttle::mark`])
/// and the last write is at least the interval ago. Plain data; the caller
/// gives the time.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    interval_ns: u64,
    last_ns: Option<u64>,
    dirty: bool,
}

impl Throttle {
    /// At most one write per `interval_ns`.
    pub fn new(interval_ns: u64) -> Self {
        Self {
            interval_ns,
            last_ns: None,
            dirty: false,
        }
    }

    /// Something to write.
    pub fn mark(&mut self) {
        self.dirty = true;
    }

    /// Whether to write now (then it counts as written).
    pub fn due(&mut self, now_ns: u64) -> bool {
        let rested = self
            .last_ns
            .is_none_or(|last| now_ns < last || now_ns - last >= self.interval_ns);
        if self.dirty && rested {
            self.dirty = false;
            self.last_ns = Some(now_ns);
            true
        } else {
            false
        }
    }

    /// When a pending write becomes due, if one is pending.
    pub fn pending_until(&self) -> Option<u64> {
        self.dirty.then(|| {
            self.last_ns
                .map_or(0, |last| last.saturating_add(self.interval_ns))
        })
    }
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Playback => "playback",
        Direction::Capture => "capture",
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            control if (control as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", control as u32);
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

fn optional(value: Option<u64>) -> String {
    value.map_or_else(|| "null".into(), |value| value.to_string())
}

fn counters_json(counters: &Counters, start_unix_ns: u64, indent: &str) -> String {
    let mut out = String::new();
    let unix = |value: Option<u64>| optional(value.map(|ns| ns + start_unix_ns));
    let _ = writeln!(
        out,
        "{indent}\"notifications_in\": {},",
        counters.notifications_in
    );
    let _ = writeln!(
        out,
        "{indent}\"notifications_out\": {},",
        counters.notifications_out
    );
    let _ = writeln!(
        out,
        "{indent}\"event_notifications_out\": {},",
        counters.event_notifications_out
    );
    let _ = writeln!(out, "{indent}\"events_sent\": {},", counters.events_sent);
    let _ = writeln!(
        out,
        "{indent}\"events_dropped\": {},",
        counters.events_dropped
    );
    let requests: Vec<String> = OPERATION_NAMES
        .iter()
        .zip(counters.requests.iter())
        .map(|(name, count)| format!("\"{name}\": {count}"))
        .chain(std::iter::once(format!(
            "\"unknown\": {}",
            counters.unknown_requests
        )))
        .collect();
    let _ = writeln!(out, "{indent}\"requests\": {{{}}},", requests.join(", "));
    let before: Vec<String> = OPERATION_NAMES
        .iter()
        .zip(counters.requests_before_first_write.iter())
        .map(|(name, count)| format!("\"{name}\": {count}"))
        .collect();
    let _ = writeln!(
        out,
        "{indent}\"requests_before_first_write\": {{{}}},",
        before.join(", ")
    );
    let _ = writeln!(
        out,
        "{indent}\"requests_before_first_write_total\": {},",
        counters.total_requests_before_first_write()
    );
    let _ = writeln!(
        out,
        "{indent}\"request_batches\": {},",
        counters.request_batches
    );
    let _ = writeln!(
        out,
        "{indent}\"request_batches_before_first_write\": {},",
        counters.request_batches_before_first_write
    );
    let _ = writeln!(
        out,
        "{indent}\"requests_total\": {},",
        counters.total_requests()
    );
    let _ = writeln!(out, "{indent}\"errors\": {},", counters.errors);
    let _ = writeln!(out, "{indent}\"underruns\": {},", counters.underruns);
    let answer = &counters.answer;
    let quantile = |per_mille| optional(answer.quantile_ms(per_mille));
    let _ = writeln!(
        out,
        "{indent}\"answer_latency\": {{\"count\": {}, \"max_ms\": {:.3}, \"mean_ms\": {:.3}, \"p50_ms\": {}, \"p99_ms\": {}, \"p999_ms\": {}}},",
        answer.count,
        answer.max_ns as f64 / 1e6,
        answer.total_ns as f64 / 1e6 / answer.count.max(1) as f64,
        quantile(500),
        quantile(990),
        quantile(999)
    );
    let _ = writeln!(
        out,
        "{indent}\"bytes_written\": {},",
        counters.bytes_written
    );
    let _ = writeln!(out, "{indent}\"bytes_read\": {},", counters.bytes_read);
    let _ = writeln!(
        out,
        "{indent}\"first_write_ns\": {},",
        optional(counters.first_write_ns)
    );
    let _ = writeln!(
        out,
        "{indent}\"first_write_unix_ns\": {},",
        unix(counters.first_write_ns)
    );
    let _ = writeln!(
        out,
        "{indent}\"first_read_ns\": {},",
        optional(counters.first_read_ns)
    );
    let _ = writeln!(
        out,
        "{indent}\"first_read_unix_ns\": {},",
        unix(counters.first_read_ns)
    );
    let _ = writeln!(
        out,
        "{indent}\"last_start_ns\": {},",
        optional(counters.last_start_ns)
    );
    let _ = write!(
        out,
        "{indent}\"last_start_unix_ns\": {}",
        unix(counters.last_start_ns)
    );
    out
}

/// The whole document: the streams of `history` then `active`, the
/// history's older streams summed, and the totals of all.
pub fn to_json(
    history: &History,
    active: &[StreamRecord],
    start_unix_ns: u64,
    now_ns: u64,
) -> String {
    let records: Vec<&StreamRecord> = history.records().chain(active.iter()).collect();
    let (older_streams, older) = history.older();
    let mut totals = older.clone();
    for record in &records {
        totals.accumulate(&record.counters);
    }
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"program\": \"sndback\",");
    let _ = writeln!(out, "  \"start_unix_ns\": {start_unix_ns},");
    let _ = writeln!(out, "  \"uptime_ns\": {now_ns},");
    out.push_str("  \"streams\": [");
    for (index, record) in records.iter().enumerate() {
        out.push_str(if index == 0 { "\n" } else { ",\n" });
        out.push_str("    {\n");
        let _ = writeln!(out, "      \"domid\": {},", record.domid);
        let _ = writeln!(out, "      \"device\": {},", record.device);
        let _ = writeln!(out, "      \"pcm\": {},", record.pcm);
        let _ = writeln!(out, "      \"stream\": {},", record.stream);
        let _ = writeln!(
            out,
            "      \"unique_id\": {},",
            json_string(&record.unique_id)
        );
        let _ = writeln!(
            out,
            "      \"direction\": \"{}\",",
            direction_name(record.direction)
        );
        let _ = writeln!(out, "      \"active\": {},", record.active);
        out.push_str(&counters_json(&record.counters, start_unix_ns, "      "));
        out.push_str("\n    }");
    }
    out.push_str(if records.is_empty() {
        "],\n"
    } else {
        "\n  ],\n"
    });
    let _ = writeln!(out, "  \"older_streams\": {older_streams},");
    out.push_str("  \"older\": {\n");
    out.push_str(&counters_json(older, start_unix_ns, "    "));
    out.push_str("\n  },\n");
    out.push_str("  \"totals\": {\n");
    out.push_str(&counters_json(&totals, start_unix_ns, "    "));
    out.push_str("\n  }\n}\n");
    out
}

/// Write the document to `path` atomically.
pub fn write(path: &Path, document: &str) {
    let temporary = path.with_extension("tmp");
    let result =
        std::fs::write(&temporary, document).and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = result {
        log::error!("writing stats to {}: {error}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_shape() {
        let mut counters = Counters::default();
        counters.count_request(9);
        counters.count_batch();
        counters.count_request(0);
        counters.count_batch();
        counters.count_request(3);
        counters.count_batch();
        counters.first_write_ns = Some(5);
        counters.answer.event_sent(1_000_000);
        counters.answer.write_arrived(4_500_000);
        let record = StreamRecord {
            domid: 1,
            device: 0,
            pcm: 0,
            stream: 1,
            unique_id: "sp\"k".into(),
            direction: Direction::Playback,
            active: true,
            counters,
        };
        let mut history = History::new(4);
        history.extend([record.clone()]);
        let json = to_json(&history, &[record], 1000, 77);
        assert!(json.contains("\"unique_id\": \"sp\\\"k\""));
        assert!(json.contains("\"write\": 1"));
        assert!(json.contains("\"first_write_unix_ns\": 1005"));
        assert!(json.contains("\"totals\""));
        assert!(json.contains("\"requests_total\": 6"));
        // What the frontend sent before its first WRITE, per stream and
        // in the totals: a query and an OPEN, one batch each.
        assert!(json.contains(
            "\"requests_before_first_write\": {\"open\": 1, \"close\": 0, \"read\": 0, \
             \"write\": 0, \"set_volume\": 0, \"get_volume\": 0, \"mute\": 0, \"unmute\": 0, \
             \"trigger\": 0, \"hw_param_query\": 1},"
        ));
        assert!(json.contains("\"requests_before_first_write_total\": 4"));
        assert!(json.contains("\"request_batches_before_first_write\": 4"));
        assert!(json.contains("\"request_batches\": 6"));
        // The wait from a position event to the next WRITE (3.5 ms), per
        // stream (twice) and summed in the totals.
        let answer = |count| {
            format!(
                "\"answer_latency\": {{\"count\": {count}, \"max_ms\": 3.500, \"mean_ms\": 3.500, \
                 \"p50_ms\": 4, \"p99_ms\": 4, \"p999_ms\": 4}},"
            )
        };
        assert_eq!(json.matches(&answer(1)).count(), 2, "{json}");
        assert_eq!(json.matches(&answer(2)).count(), 1, "{json}");
        let empty = to_json(&History::new(0), &[], 0, 0);
        assert!(empty.contains("\"streams\": [],"));
        assert!(
            empty.contains("\"count\": 0, \"max_ms\": 0.000, \"mean_ms\": 0.000, \"p50_ms\": null")
        );
        // Balanced braces and brackets.
        for document in [json, empty] {
            assert_eq!(document.matches('{').count(), document.matches('}').count());
            assert_eq!(document.matches('[').count(), document.matches(']').count());
        }
    }

    fn record(domid: u32, written: u64) -> StreamRecord {
        let mut counters = Counters {
            bytes_written: written,
            ..Counters::default()
        };
        counters.count_request(3);
        StreamRecord {
            domid,
            device: 0,
            pcm: 0,
            stream: 0,
            unique_id: format!("s{written}"),
            direction: Direction::Playback,
            active: false,
            counters,
        }
    }

    #[test]
    fn teardown_history_is_bounded() {
        for cap in [0usize, 1, 7, 256] {
            let mut history = History::new(cap);
            let mut sizes = Vec::new();
            // A guest reconnecting 5000 times, one stream each.
            for teardown in 1..=5000u64 {
                history.extend([record(7, teardown)]);
                assert!(history.len() <= cap);
                if teardown % 1000 == 0 {
                    sizes.push(to_json(&history, &[], 0, 0).len());
                }
            }
            assert_eq!(history.len(), cap);
            let (older, summed) = history.older();
            assert_eq!(older, 5000 - cap as u64);
            // Nothing is lost: the totals still count every stream.
            let kept: u64 = history.records().map(|r| r.counters.bytes_written).sum();
            assert_eq!(summed.bytes_written + kept, 5000 * 5001 / 2);
            let json = to_json(&history, &[], 0, 0);
            assert!(json.contains(&format!("\"older_streams\": {older},")));
            assert!(json.contains(&format!("\"bytes_written\": {}", 5000 * 5001 / 2)));
            assert!(
                json.contains("\"write\": 5000"),
                "totals count every request"
            );
            // The document stops growing once the cap is reached (the
            // numbers in it still grow by a few digits).
            let first = sizes[0];
            for size in sizes {
                assert!(
                    size <= first + first / 50 + 64,
                    "cap {cap}: {size} vs {first}"
                );
            }
        }
    }

    #[test]
    fn stats_writes_are_throttled_not_one_per_teardown() {
        let mut throttle = Throttle::new(WRITE_INTERVAL_NS);
        assert!(!throttle.due(0), "nothing to write");
        assert_eq!(throttle.pending_until(), None);
        // 10 000 teardowns over 10 s of injected time, one per ms.
        let mut writes = 0;
        for ms in 0..10_000u64 {
            throttle.mark();
            if throttle.due(ms * 1_000_000) {
                writes += 1;
            }
        }
        assert_eq!(writes, 10, "one write per second, not one per teardown");
        // The last teardown is written once the interval has passed.
        let pending = throttle.pending_until().unwrap();
        assert!(!throttle.due(pending - 1));
        assert!(throttle.due(pending));
        assert!(
            !throttle.due(pending + WRITE_INTERVAL_NS * 5),
            "written once"
        );
        // A clock going backwards does not hold writes back.
        throttle.mark();
        assert!(throttle.due(0));
    }
}
