//! Every configuration error: its path, value, reason, message, and what it skips.

use std::collections::BTreeMap;

use xensnd_sndif::config::{
    read_config, ConfigError, ConfigErrorReason, VsndConfig, MAX_ERROR_VALUE_LEN, MAX_PCMS,
    MAX_STREAMS_PER_PCM, MAX_VALUE_LEN,
};

const DEVICE: &str = "/local/domain/5/device/vsnd/0";

fn map(nodes: &[(String, String)]) -> BTreeMap<String, String> {
    nodes
        .iter()
        .map(|(path, value)| (format!("{DEVICE}/{path}"), value.clone()))
        .collect()
}

fn read_owned(nodes: &[(String, String)]) -> VsndConfig {
    read_config(&mut map(nodes), DEVICE).unwrap()
}

fn read(nodes: &[(&str, &str)]) -> VsndConfig {
    let owned: Vec<(String, String)> = nodes
        .iter()
        .map(|(path, value)| (path.to_string(), value.to_string()))
        .collect();
    read_owned(&owned)
}

/// Three good streams on pcm 0 plus `extra` nodes.
fn three_streams(extra: &[(&str, &str)]) -> VsndConfig {
    let mut nodes = vec![
        ("0/0/type", "p"),
        ("0/0/unique-id", "zero"),
        ("0/1/type", "p"),
        ("0/1/unique-id", "one"),
        ("0/2/type", "c"),
        ("0/2/unique-id", "two"),
    ];
    nodes.retain(|(path, _)| !extra.iter().any(|(other, _)| other == path));
    nodes.extend_from_slice(extra);
    read(&nodes)
}

fn unique_ids(config: &VsndConfig) -> Vec<&str> {
    config.streams().map(|s| s.unique_id.as_str()).collect()
}

/// One bad node on stream 1: exactly one error with that path, value and
/// reason; streams 0 and 2 still come up.
fn stream_error(node: &str, value: &str, reason: ConfigErrorReason) -> ConfigError {
    let path = format!("0/1/{node}");
    let config = three_streams(&[(path.as_str(), value)]);
    assert_eq!(
        config.errors.len(),
        1,
        "{node}={value:?}: {:?}",
        config.errors
    );
    let error = config.errors[0].clone();
    assert_eq!(error.path, format!("{DEVICE}/0/1/{node}"));
    assert_eq!(error.value, value);
    assert_eq!(error.reason, reason, "{node}={value:?}");
    assert_eq!(unique_ids(&config), ["zero", "two"], "{node}={value:?}");
    error
}

#[test]
fn message_format() {
    let error = stream_error("sample-rates", "abc", ConfigErrorReason::NotANumber);
    assert_eq!(
        error.to_string(),
        "vsnd config: /local/domain/5/device/vsnd/0/0/1/sample-rates = \"abc\": not a number"
    );
}

#[test]
fn bad_numbers() {
    stream_error("sample-rates", "48k", ConfigErrorReason::NotANumber);
    stream_error("sample-rates", "44100;48000", ConfigErrorReason::NotANumber);
    stream_error("sample-rates", "-8000", ConfigErrorReason::NotANumber);
    stream_error("buffer-size", "0x1000", ConfigErrorReason::NotANumber);
    stream_error("buffer-size", "", ConfigErrorReason::NotANumber);
    stream_error("channels-max", "two", ConfigErrorReason::NotANumber);
    stream_error("channels-min", "1.5", ConfigErrorReason::NotANumber);
}

#[test]
fn numbers_out_of_range() {
    let rate = ConfigErrorReason::OutOfRange {
        min: 1,
        max: 768_000,
    };
    stream_error("sample-rates", "0", rate.clone());
    stream_error("sample-rates", "8000,0", rate.clone());
    stream_error("sample-rates", "4294967296", rate.clone());
    stream_error("sample-rates", "99999999999", rate);
    let channels = ConfigErrorReason::OutOfRange { min: 1, max: 255 };
    stream_error("channels-min", "0", channels.clone());
    stream_error("channels-max", "0", channels.clone());
    stream_error("channels-max", "256", channels);
    let buffer = ConfigErrorReason::OutOfRange {
        min: 1,
        max: 16 * 1024 * 1024,
    };
    stream_error("buffer-size", "0", buffer.clone());
    stream_error("buffer-size", "99999999999999999999999", buffer);
}

#[test]
fn zero_channels_message() {
    let error = stream_error(
        "channels-min",
        "0",
        ConfigErrorReason::OutOfRange { min: 1, max: 255 },
    );
    assert_eq!(
        error.to_string(),
        format!("vsnd config: {DEVICE}/0/1/channels-min = \"0\": out of range (1..=255)")
    );
}

#[test]
fn empty_lists() {
    stream_error("sample-rates", "", ConfigErrorReason::EmptyList);
    stream_error("sample-rates", " , ,", ConfigErrorReason::EmptyList);
    stream_error("sample-formats", "", ConfigErrorReason::EmptyList);
    stream_error("sample-formats", ",", ConfigErrorReason::EmptyList);
}

#[test]
fn unknown_formats() {
    stream_error("sample-formats", "s16", ConfigErrorReason::UnknownFormat);
    stream_error(
        "sample-formats",
        "s16_le;s32_le",
        ConfigErrorReason::UnknownFormat,
    );
    stream_error(
        "sample-formats",
        "s16_le,pcm",
        ConfigErrorReason::UnknownFormat,
    );
}

#[test]
fn entries_and_values_too_long() {
    stream_error(
        "sample-rates",
        "000000000048000",
        ConfigErrorReason::TooLong { limit: 11 },
    );
    stream_error(
        "sample-formats",
        "s16_le,aaaaaaaaaaaaaaaaaaaaaaaaa",
        ConfigErrorReason::TooLong { limit: 24 },
    );
    let long = "1,".repeat(200);
    let path = "0/1/sample-rates";
    let config = three_streams(&[(path, long.as_str())]);
    assert_eq!(config.errors.len(), 1);
    assert_eq!(
        config.errors[0].reason,
        ConfigErrorReason::TooLong {
            limit: MAX_VALUE_LEN
        }
    );
    // The value kept in the error is cut.
    assert_eq!(config.errors[0].value.len(), MAX_ERROR_VALUE_LEN);
    assert!(long.starts_with(&config.errors[0].value));
    assert_eq!(unique_ids(&config), ["zero", "two"]);
}

#[test]
fn min_greater_than_max() {
    let config = three_streams(&[
        ("channels-max", "8"),
        ("0/1/channels-min", "6"),
        ("0/1/channels-max", "4"),
    ]);
    assert_eq!(config.errors.len(), 1, "{:?}", config.errors);
    assert_eq!(config.errors[0].path, format!("{DEVICE}/0/1/channels-min"));
    assert_eq!(config.errors[0].value, "6");
    assert_eq!(
        config.errors[0].reason,
        ConfigErrorReason::MinGreaterThanMax { max: 4 }
    );
    assert_eq!(
        config.errors[0].to_string(),
        format!("vsnd config: {DEVICE}/0/1/channels-min = \"6\": greater than channels-max (4)")
    );
    assert_eq!(unique_ids(&config), ["zero", "two"]);
}

#[test]
fn card_min_greater_than_max_fails_the_device() {
    let config = three_streams(&[("channels-min", "3"), ("channels-max", "2")]);
    assert!(config.caps.is_none());
    assert!(config.pcms.is_empty());
    assert_eq!(config.errors.len(), 1);
    assert_eq!(config.errors[0].path, format!("{DEVICE}/channels-min"));
    assert_eq!(
        config.errors[0].reason,
        ConfigErrorReason::MinGreaterThanMax { max: 2 }
    );
}

#[test]
fn stream_type_errors() {
    stream_error("type", "playback", ConfigErrorReason::UnknownStreamType);
    stream_error("type", "", ConfigErrorReason::UnknownStreamType);
    let config = read(&[
        ("0/0/type", "p"),
        ("0/0/unique-id", "zero"),
        ("0/1/unique-id", "one"),
        ("0/2/type", "c"),
        ("0/2/unique-id", "two"),
    ]);
    assert_eq!(config.errors.len(), 1);
    assert_eq!(config.errors[0].path, format!("{DEVICE}/0/1/type"));
    assert_eq!(config.errors[0].reason, ConfigErrorReason::Missing);
    assert_eq!(
        config.errors[0].to_string(),
        format!("vsnd config: {DEVICE}/0/1/type: missing")
    );
    assert_eq!(unique_ids(&config), ["zero", "two"]);
}

#[test]
fn unique_id_errors() {
    stream_error("unique-id", "", ConfigErrorReason::Empty);
    stream_error("unique-id", "  ", ConfigErrorReason::Empty);
    let error = stream_error(
        "unique-id",
        "zero",
        ConfigErrorReason::DuplicateUniqueId {
            first: format!("{DEVICE}/0/0"),
        },
    );
    assert_eq!(
        error.to_string(),
        format!(
            "vsnd config: {DEVICE}/0/1/unique-id = \"zero\": duplicate unique-id (already used by {DEVICE}/0/0)"
        )
    );
    let long = "x".repeat(MAX_VALUE_LEN + 1);
    let config = three_streams(&[("0/1/unique-id", long.as_str())]);
    assert_eq!(
        config.errors[0].reason,
        ConfigErrorReason::TooLong {
            limit: MAX_VALUE_LEN
        }
    );
    assert_eq!(unique_ids(&config), ["zero", "two"]);

    let config = read(&[
        ("0/0/type", "p"),
        ("0/0/unique-id", "zero"),
        ("0/1/type", "p"),
        ("0/2/type", "c"),
        ("0/2/unique-id", "two"),
    ]);
    assert_eq!(config.errors.len(), 1);
    assert_eq!(config.errors[0].path, format!("{DEVICE}/0/1/unique-id"));
    assert_eq!(config.errors[0].reason, ConfigErrorReason::Missing);
}

#[test]
fn duplicate_unique_id_across_pcms() {
    let config = read(&[
        ("0/0/type", "p"),
        ("0/0/unique-id", "same"),
        ("1/0/type", "c"),
        ("1/0/unique-id", "same"),
        ("1/1/type", "c"),
        ("1/1/unique-id", "other"),
    ]);
    assert_eq!(config.errors.len(), 1);
    assert_eq!(config.errors[0].path, format!("{DEVICE}/1/0/unique-id"));
    assert_eq!(unique_ids(&config), ["same", "other"]);
}

#[test]
fn a_rejected_stream_does_not_reserve_its_unique_id() {
    let config = read(&[
        ("0/0/type", "x"),
        ("0/0/unique-id", "same"),
        ("0/1/type", "p"),
        ("0/1/unique-id", "same"),
    ]);
    assert_eq!(config.errors.len(), 1);
    assert_eq!(unique_ids(&config), ["same"]);
    assert_eq!(config.pcms[0].streams[0].stream_index, 1);
}

#[test]
fn all_errors_of_a_stream_are_reported() {
    let config = three_streams(&[
        ("0/1/type", "q"),
        ("0/1/unique-id", ""),
        ("0/1/sample-rates", "fast"),
        ("0/1/sample-formats", "wav"),
        ("0/1/channels-min", "0"),
        ("0/1/buffer-size", "big"),
    ]);
    let paths: Vec<String> = config.errors.iter().map(|e| e.path.clone()).collect();
    let expected: Vec<String> = [
        "type",
        "unique-id",
        "sample-rates",
        "sample-formats",
        "channels-min",
        "buffer-size",
    ]
    .iter()
    .map(|node| format!("{DEVICE}/0/1/{node}"))
    .collect();
    assert_eq!(paths, expected);
    assert_eq!(unique_ids(&config), ["zero", "two"]);
}

#[test]
fn bad_pcm_value_skips_the_pcm_only() {
    let config = read(&[
        ("0/sample-formats", "s16_le,nope"),
        ("0/0/type", "p"),
        ("0/0/unique-id", "a"),
        ("1/0/type", "p"),
        ("1/0/unique-id", "b"),
    ]);
    assert_eq!(config.errors.len(), 1);
    assert_eq!(config.errors[0].path, format!("{DEVICE}/0/sample-formats"));
    assert_eq!(config.errors[0].reason, ConfigErrorReason::UnknownFormat);
    assert_eq!(config.pcms.len(), 1);
    assert_eq!(config.pcms[0].index, 1);
    assert_eq!(unique_ids(&config), ["b"]);
}

#[test]
fn bad_card_value_fails_every_stream() {
    let config = three_streams(&[("sample-rates", "44100,abc"), ("buffer-size", "0")]);
    assert!(config.caps.is_none());
    assert!(config.pcms.is_empty());
    let paths: Vec<&str> = config.errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            format!("{DEVICE}/sample-rates"),
            format!("{DEVICE}/buffer-size")
        ]
    );
}

#[test]
fn long_names_are_reported_and_cut_but_fail_nothing() {
    let long = "n".repeat(MAX_VALUE_LEN + 50);
    let config = three_streams(&[("short-name", long.as_str()), ("0/name", long.as_str())]);
    assert_eq!(config.errors.len(), 2);
    assert_eq!(config.short_name.len(), MAX_VALUE_LEN);
    assert_eq!(config.pcms[0].name.len(), MAX_VALUE_LEN);
    assert_eq!(unique_ids(&config), ["zero", "one", "two"]);
    // Multi-byte characters are cut on a character boundary.
    let wide = "é".repeat(MAX_VALUE_LEN);
    let config = three_streams(&[("long-name", wide.as_str())]);
    assert_eq!(config.long_name.chars().count(), MAX_VALUE_LEN / 2);
    assert!(config.errors[0].value.len() <= MAX_ERROR_VALUE_LEN);
}

#[test]
fn no_pcm_instances() {
    let config = read(&[("short-name", "Empty")]);
    assert!(config.pcms.is_empty());
    assert_eq!(config.errors.len(), 1);
    assert_eq!(config.errors[0].path, format!("{DEVICE}/0"));
    assert_eq!(config.errors[0].reason, ConfigErrorReason::NoPcmInstances);
    assert_eq!(
        config.errors[0].to_string(),
        format!("vsnd config: {DEVICE}/0: no PCM instances")
    );
}

#[test]
fn a_pcm_without_streams_is_kept() {
    let config = read(&[("0/name", "lonely")]);
    assert!(config.errors.is_empty());
    assert_eq!(config.pcms.len(), 1);
    assert!(config.pcms[0].streams.is_empty());
}

#[test]
fn too_many_pcms_and_streams() {
    let mut nodes = Vec::new();
    for pcm in 0..=MAX_PCMS {
        nodes.push((format!("{pcm}/name"), format!("pcm{pcm}")));
    }
    for stream in 0..=MAX_STREAMS_PER_PCM + 2 {
        nodes.push((format!("0/{stream}/type"), "p".to_string()));
        nodes.push((format!("0/{stream}/unique-id"), format!("s{stream}")));
    }
    let config = read_owned(&nodes);
    assert_eq!(config.pcms.len(), MAX_PCMS as usize);
    assert_eq!(config.pcms[0].streams.len(), MAX_STREAMS_PER_PCM as usize);
    assert_eq!(config.errors.len(), 2, "{:?}", config.errors);
    assert_eq!(
        config.errors[0].path,
        format!("{DEVICE}/0/{MAX_STREAMS_PER_PCM}")
    );
    assert_eq!(
        config.errors[0].reason,
        ConfigErrorReason::TooMany {
            limit: MAX_STREAMS_PER_PCM
        }
    );
    assert_eq!(config.errors[1].path, format!("{DEVICE}/{MAX_PCMS}"));
    assert_eq!(
        config.errors[1].reason,
        ConfigErrorReason::TooMany { limit: MAX_PCMS }
    );
}

/// A tiny deterministic generator (xorshift64*), so the test needs no crate.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

#[test]
fn arbitrary_values_never_panic() {
    const ALPHABET: &[&str] = &[
        "0",
        "1",
        "2",
        "9",
        ",",
        ";",
        " ",
        "p",
        "c",
        "s16_le",
        "u8",
        "48000",
        "-",
        "x",
        "é",
        "\0",
        "4294967295",
        "18446744073709551616",
        ",,",
        "\n",
    ];
    const NODES: &[&str] = &[
        "sample-rates",
        "sample-formats",
        "channels-min",
        "channels-max",
        "buffer-size",
    ];
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let mut value = || {
            let parts = random.below(12);
            (0..parts)
                .map(|_| ALPHABET[random.below(ALPHABET.len() as u64) as usize])
                .collect::<String>()
        };
        let mut nodes = Vec::new();
        for level in ["", "0/", "0/0/", "0/1/"] {
            for node in NODES {
                let v = value();
                if !v.is_empty() || level.is_empty() {
                    nodes.push((format!("{level}{node}"), v));
                }
            }
        }
        nodes.push(("0/0/type".to_string(), value()));
        nodes.push(("0/0/unique-id".to_string(), value()));
        nodes.push(("0/1/type".to_string(), "c".to_string()));
        nodes.push(("0/1/unique-id".to_string(), value()));
        let config = read_owned(&nodes);
        // Whatever came up obeys the invariants.
        for stream in config.streams() {
            let caps = &stream.caps;
            assert!(!caps.rates.is_empty());
            assert!(caps.rates.windows(2).all(|pair| pair[0] < pair[1]));
            assert!(!caps.formats.is_empty());
            assert!(caps.channels_min >= 1 && caps.channels_min <= caps.channels_max);
            assert!(caps.buffer_size_bytes >= 1);
        }
        for error in &config.errors {
            assert!(error.value.len() <= MAX_ERROR_VALUE_LEN);
            assert!(error
                .to_string()
                .starts_with("vsnd config: /local/domain/5/"));
        }
    }
}
