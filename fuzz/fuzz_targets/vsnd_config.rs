//! Fuzz target: vsnd configuration parsing (`sndif::config::read_config`)
//! over a map of XenStore nodes whose names are picked from the real ones
//! (card, PCM and stream levels) and whose values are arbitrary. Every
//! error must name a node under the device path.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use xensnd_sndif::config::read_config;

const BASE: &str = "/local/domain/3/device/vsnd/0";

const FIELDS: [&str; 12] = [
    "short-name",
    "long-name",
    "sample-rates",
    "sample-formats",
    "channels-min",
    "channels-max",
    "buffer-size",
    "name",
    "type",
    "unique-id",
    "backend",
    "state",
];

fuzz_target!(|data: &[u8]| {
    let mut map = BTreeMap::new();
    // Records: [level, field, value length, value bytes...].
    let mut at = 0;
    while at + 3 <= data.len() {
        let level = data[at];
        let field = FIELDS[usize::from(data[at + 1]) % FIELDS.len()];
        let length = usize::from(data[at + 2] % 32).min(data.len() - at - 3);
        let value = String::from_utf8_lossy(&data[at + 3..at + 3 + length]).into_owned();
        at += 3 + length;
        let path = match level % 4 {
            0 => format!("{BASE}/{field}"),
            1 => format!("{BASE}/{}/{field}", (level >> 2) % 3),
            2 => format!("{BASE}/{}/{}/{field}", (level >> 2) % 3, (level >> 4) % 3),
            _ => format!("{BASE}/{}/{field}", level >> 2),
        };
        map.insert(path, value);
    }
    let Ok(config) = read_config(&mut map, BASE);
    for error in &config.errors {
        assert!(error.path.starts_with(BASE), "{}", error.path);
        let _ = error.to_string();
    }
    for stream in config.streams() {
        // A stream that came up has a unique-id and sane limits.
        assert!(!stream.unique_id.is_empty());
        assert!(stream.caps.rate_min() <= stream.caps.rate_max());
        assert!(stream.caps.channels_min <= stream.caps.channels_max);
    }
});
