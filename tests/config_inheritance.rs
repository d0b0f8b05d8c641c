//! Card → PCM → stream inheritance, narrowing, and value syntax of the vsnd configuration.

use std::collections::BTreeMap;

use xensnd_pcm::format::{FormatSet, SampleFormat};
use xensnd_sndif::config::{read_config, ConfigErrorReason, StreamCaps, VsndConfig};

const DEVICE: &str = "/local/domain/7/device/vsnd/1";

fn read(nodes: &[(&str, &str)]) -> VsndConfig {
    let mut map: BTreeMap<String, String> = nodes
        .iter()
        .map(|(path, value)| (format!("{DEVICE}/{path}"), value.to_string()))
        .collect();
    read_config(&mut map, DEVICE).unwrap()
}

fn with_stream(nodes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut all = vec![("0/0/type", "p"), ("0/0/unique-id", "s")];
    all.extend_from_slice(nodes);
    all
}

fn only_stream_caps(nodes: &[(&'static str, &'static str)]) -> StreamCaps {
    let config = read(&with_stream(nodes));
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    config.pcms[0].streams[0].caps.clone()
}

fn formats(list: &[SampleFormat]) -> FormatSet {
    list.iter().copied().collect()
}

#[test]
fn each_level_narrows_further() {
    let caps = only_stream_caps(&[
        ("sample-rates", "8000,16000,44100,48000,96000"),
        ("sample-formats", "s16_le,s24_le,s32_le,float_le"),
        ("channels-min", "1"),
        ("channels-max", "8"),
        ("buffer-size", "262144"),
        ("0/sample-rates", "44100,48000,96000"),
        ("0/sample-formats", "s16_le,s32_le"),
        ("0/channels-max", "6"),
        ("0/buffer-size", "131072"),
        ("0/0/sample-rates", "48000"),
        ("0/0/sample-formats", "s32_le"),
        ("0/0/channels-min", "2"),
        ("0/0/buffer-size", "65536"),
    ]);
    assert_eq!(caps.rates, vec![48000]);
    assert_eq!(caps.formats, formats(&[SampleFormat::S32Le]));
    assert_eq!((caps.channels_min, caps.channels_max), (2, 6));
    assert_eq!(caps.buffer_size_bytes, 65536);
}

#[test]
fn pcm_level_is_inherited_by_streams() {
    let config = read(&[
        ("sample-rates", "44100,48000"),
        ("0/sample-rates", "48000"),
        ("0/channels-min", "2"),
        ("0/0/type", "p"),
        ("0/0/unique-id", "a"),
        ("0/1/type", "c"),
        ("0/1/unique-id", "b"),
        ("0/1/channels-max", "2"),
    ]);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let pcm = &config.pcms[0];
    assert_eq!(pcm.caps.rates, vec![48000]);
    for stream in &pcm.streams {
        assert_eq!(stream.caps.rates, vec![48000]);
        assert_eq!((stream.caps.channels_min, stream.caps.channels_max), (2, 2));
    }
}

#[test]
fn card_replaces_defaults_without_narrowing_check() {
    // 96000 and s32_be and 8 channels and 1 MiB are all beyond the defaults.
    let caps = only_stream_caps(&[
        ("sample-rates", "96000"),
        ("sample-formats", "s32_be"),
        ("channels-min", "4"),
        ("channels-max", "8"),
        ("buffer-size", "1048576"),
    ]);
    assert_eq!(caps.rates, vec![96000]);
    assert_eq!(caps.formats, formats(&[SampleFormat::S32Be]));
    assert_eq!((caps.channels_min, caps.channels_max), (4, 8));
    assert_eq!(caps.buffer_size_bytes, 1048576);
}

#[test]
fn card_with_one_channel_bound_keeps_a_valid_range() {
    let caps = only_stream_caps(&[("channels-min", "4")]);
    assert_eq!((caps.channels_min, caps.channels_max), (4, 4));
    let caps = only_stream_caps(&[("channels-max", "6")]);
    assert_eq!((caps.channels_min, caps.channels_max), (1, 6));
    let caps = only_stream_caps(&[("channels-max", "1")]);
    assert_eq!((caps.channels_min, caps.channels_max), (1, 1));
}

#[test]
fn lower_level_with_one_channel_bound_uses_the_inherited_other() {
    let caps = only_stream_caps(&[("channels-max", "8"), ("0/0/channels-min", "3")]);
    assert_eq!((caps.channels_min, caps.channels_max), (3, 8));
    let caps = only_stream_caps(&[("channels-max", "8"), ("0/channels-max", "4")]);
    assert_eq!((caps.channels_min, caps.channels_max), (1, 4));
}

#[test]
fn equal_values_are_not_widening() {
    let caps = only_stream_caps(&[
        ("sample-rates", "44100,48000"),
        ("0/sample-rates", "48000,44100"),
        ("0/0/sample-rates", "44100,48000"),
        ("0/0/sample-formats", "u8,s16_le"),
        ("0/0/channels-min", "1"),
        ("0/0/channels-max", "2"),
        ("0/0/buffer-size", "65536"),
    ]);
    assert_eq!(caps, {
        let mut expected = StreamCaps::linux_defaults();
        expected.rates = vec![44100, 48000];
        expected
    });
}

fn widening_reason(nodes: &[(&'static str, &'static str)], bad_node: &str) {
    let config = read(&with_stream(nodes));
    assert_eq!(config.pcms.len(), 1, "{:?}", config.errors);
    assert!(config.pcms[0].streams.is_empty());
    assert_eq!(config.errors.len(), 1, "{:?}", config.errors);
    assert_eq!(config.errors[0].path, format!("{DEVICE}/{bad_node}"));
    assert_eq!(config.errors[0].reason, ConfigErrorReason::WidensParent);
}

#[test]
fn widening_is_refused() {
    widening_reason(
        &[
            ("sample-rates", "44100,48000"),
            ("0/0/sample-rates", "96000"),
        ],
        "0/0/sample-rates",
    );
    widening_reason(
        &[
            ("sample-rates", "44100,48000"),
            ("0/0/sample-rates", "48000,8000"),
        ],
        "0/0/sample-rates",
    );
    widening_reason(&[("0/0/sample-formats", "s32_le")], "0/0/sample-formats");
    widening_reason(
        &[
            ("channels-min", "2"),
            ("channels-max", "4"),
            ("0/0/channels-min", "1"),
        ],
        "0/0/channels-min",
    );
    widening_reason(&[("0/0/channels-max", "3")], "0/0/channels-max");
    widening_reason(&[("0/0/channels-min", "3")], "0/0/channels-min");
    widening_reason(
        &[
            ("channels-min", "2"),
            ("channels-max", "4"),
            ("0/0/channels-max", "1"),
        ],
        "0/0/channels-max",
    );
    widening_reason(&[("0/0/buffer-size", "65537")], "0/0/buffer-size");
    widening_reason(
        &[("buffer-size", "4096"), ("0/0/buffer-size", "8192")],
        "0/0/buffer-size",
    );
}

#[test]
fn widening_at_pcm_level_skips_the_pcm() {
    let config = read(&with_stream(&[
        ("sample-rates", "48000"),
        ("0/sample-rates", "44100"),
    ]));
    assert!(config.pcms.is_empty());
    assert_eq!(config.errors.len(), 1);
    assert_eq!(config.errors[0].path, format!("{DEVICE}/0/sample-rates"));
    assert_eq!(config.errors[0].reason, ConfigErrorReason::WidensParent);
}

#[test]
fn list_syntax_is_forgiving_about_spaces_case_duplicates_and_empty_entries() {
    let caps = only_stream_caps(&[
        ("sample-rates", " 48000 , 8000,,44100,48000, "),
        ("sample-formats", "S16_LE, s32_le ,,Float_LE,s16_le"),
        ("channels-max", " 4 "),
        ("buffer-size", "0065536"),
    ]);
    assert_eq!(caps.rates, vec![8000, 44100, 48000]);
    assert_eq!(
        caps.formats,
        formats(&[
            SampleFormat::S16Le,
            SampleFormat::S32Le,
            SampleFormat::F32Le
        ])
    );
    assert_eq!(caps.channels_max, 4);
    assert_eq!(caps.buffer_size_bytes, 65536);
}

#[test]
fn every_format_name_is_accepted() {
    let all = xen_abi::sndif::XENSND_PCM_FORMATS
        .iter()
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(",");
    let all: &'static str = Box::leak(all.into_boxed_str());
    let caps = only_stream_caps(&[("sample-formats", all)]);
    assert_eq!(caps.formats, FormatSet::ALL);
}

#[test]
fn stream_type_ignores_case_and_spaces() {
    let config = read(&[
        ("0/0/type", "P"),
        ("0/0/unique-id", "a"),
        ("0/1/type", " c\n"),
        ("0/1/unique-id", " b "),
    ]);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    assert_eq!(config.pcms[0].streams.len(), 2);
    assert_eq!(config.pcms[0].streams[1].unique_id, "b");
}
