//! The `--stats` file: every stream's counters as JSON.
//!
//! Written at every device teardown and at exit (SIGTERM/SIGINT), to a
//! temporary file renamed into place so a reader never sees half a file.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::Path;

use xensnd::backend::counters::{Counters, OPERATION_NAMES};
use xensnd::backend::xenbus::StreamSummary;
use xensnd::backend::Direction;

/// One stream's identity and counters.
pub type StreamRecord = StreamSummary;

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
    let _ = writeln!(
        out,
        "{indent}\"requests_total\": {},",
        counters.total_requests()
    );
    let _ = writeln!(out, "{indent}\"errors\": {},", counters.errors);
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

/// The whole document.
pub fn to_json(records: &[StreamRecord], start_unix_ns: u64, now_ns: u64) -> String {
    let mut totals = Counters::default();
    for record in records {
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
        counters.count_request(3);
        counters.first_write_ns = Some(5);
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
        let json = to_json(&[record.clone(), record], 1000, 77);
        assert!(json.contains("\"unique_id\": \"sp\\\"k\""));
        assert!(json.contains("\"write\": 1"));
        assert!(json.contains("\"first_write_unix_ns\": 1005"));
        assert!(json.contains("\"totals\""));
        assert!(json.contains("\"requests_total\": 2"));
        let empty = to_json(&[], 0, 0);
        assert!(empty.contains("\"streams\": [],"));
        // Balanced braces and brackets.
        for document in [json, empty] {
            assert_eq!(document.matches('{').count(), document.matches('}').count());
            assert_eq!(document.matches('[').count(), document.matches(']').count());
        }
    }
}
