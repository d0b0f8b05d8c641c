//! The vsnd configuration as `xl create` writes it, read back by `sndif::config`.

use std::collections::BTreeMap;

use xensnd_pcm::format::{FormatSet, SampleFormat};
use xensnd_sndif::config::{read_config, ConfigSource, Direction, StreamCaps, VsndConfig};

const DEVICE: &str = "/local/domain/5/device/vsnd/0";

fn store(nodes: &[(&str, &str)]) -> BTreeMap<String, String> {
    nodes
        .iter()
        .map(|(path, value)| {
            let path = if path.is_empty() {
                DEVICE.to_string()
            } else {
                format!("{DEVICE}/{path}")
            };
            (path, value.to_string())
        })
        .collect()
}

fn read(nodes: &[(&str, &str)]) -> VsndConfig {
    let mut map = store(nodes);
    read_config(&mut map, DEVICE).unwrap()
}

/// What libxl (`libxl__set_xenstore_vsnd`) writes for
/// `vsnd = [[ 'CARD, short-name=Main, sample-rates=44100;48000,
/// sample-formats=s16_le;s32_le, buffer-size=65536', 'PCM, name=main',
/// 'STREAM, unique-id=spk, type=p', 'STREAM, unique-id=mic, type=c' ]]`:
/// names and parameters only when set (channels-min/max are 0, so absent),
/// lists joined with ',', plus the generic device nodes.
fn xl_example() -> Vec<(&'static str, &'static str)> {
    vec![
        ("backend", "/local/domain/0/backend/vsnd/5/0"),
        ("backend-id", "0"),
        ("state", "1"),
        ("short-name", "Main"),
        ("sample-rates", "44100,48000"),
        ("sample-formats", "s16_le,s32_le"),
        ("buffer-size", "65536"),
        ("0/name", "main"),
        ("0/0/unique-id", "spk"),
        ("0/0/type", "p"),
        ("0/1/unique-id", "mic"),
        ("0/1/type", "c"),
    ]
}

#[test]
fn xl_example_comes_up_whole() {
    let config = read(&xl_example());
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    assert_eq!(config.path, DEVICE);
    assert_eq!(config.short_name, "Main");
    assert_eq!(config.long_name, "");

    let expected_caps = StreamCaps {
        rates: vec![44100, 48000],
        formats: [SampleFormat::S16Le, SampleFormat::S32Le]
            .into_iter()
            .collect(),
        channels_min: 1,
        channels_max: 2,
        buffer_size_bytes: 65536,
    };
    assert_eq!(config.caps.as_ref(), Some(&expected_caps));

    assert_eq!(config.pcms.len(), 1);
    let pcm = &config.pcms[0];
    assert_eq!(pcm.index, 0);
    assert_eq!(pcm.name, "main");
    assert_eq!(pcm.path, format!("{DEVICE}/0"));
    assert_eq!(pcm.caps, expected_caps);
    assert_eq!(pcm.streams.len(), 2);

    let speaker = &pcm.streams[0];
    assert_eq!(speaker.pcm_index, 0);
    assert_eq!(speaker.stream_index, 0);
    assert_eq!(speaker.direction, Direction::Playback);
    assert_eq!(speaker.unique_id, "spk");
    assert_eq!(speaker.path, format!("{DEVICE}/0/0"));
    assert_eq!(speaker.caps, expected_caps);

    let microphone = &pcm.streams[1];
    assert_eq!(microphone.stream_index, 1);
    assert_eq!(microphone.direction, Direction::Capture);
    assert_eq!(microphone.unique_id, "mic");
    assert_eq!(microphone.path, format!("{DEVICE}/0/1"));
    assert_eq!(microphone.caps, expected_caps);

    assert_eq!(config.streams().count(), 2);
    assert_eq!(
        config.stream_by_unique_id("mic").map(|s| s.path.as_str()),
        Some(format!("{DEVICE}/0/1").as_str())
    );
    assert!(config.stream_by_unique_id("nope").is_none());
}

#[test]
fn nodes_written_by_the_frontend_are_ignored() {
    let mut nodes = xl_example();
    nodes.extend([
        ("0/0/ring-ref", "8"),
        ("0/0/event-channel", "5"),
        ("0/0/evt-ring-ref", "9"),
        ("0/0/evt-event-channel", "6"),
        ("0/1/ring-ref", "10"),
    ]);
    let config = read(&nodes);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    assert_eq!(config.streams().count(), 2);
}

#[test]
fn device_path_with_trailing_slash() {
    let mut map = store(&xl_example());
    let config = read_config(&mut map, &format!("{DEVICE}/")).unwrap();
    assert!(config.errors.is_empty());
    assert_eq!(config.path, DEVICE);
    assert_eq!(config.pcms[0].streams[0].path, format!("{DEVICE}/0/0"));
}

#[test]
fn defaults_when_nothing_is_configured() {
    let config = read(&[("0/0/type", "p"), ("0/0/unique-id", "out")]);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let caps = &config.pcms[0].streams[0].caps;
    assert_eq!(caps, &StreamCaps::linux_defaults());
    assert_eq!(
        caps.rates,
        vec![5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000]
    );
    assert_eq!(
        caps.formats,
        FormatSet::single(SampleFormat::U8).union(FormatSet::single(SampleFormat::S16Le))
    );
    assert_eq!((caps.channels_min, caps.channels_max), (1, 2));
    assert_eq!(caps.buffer_size_bytes, 64 * 1024);
    assert_eq!(config.pcms[0].name, "");
    assert_eq!(config.short_name, "");
}

#[test]
fn two_pcms_with_their_own_streams() {
    let config = read(&[
        ("short-name", "Two"),
        ("long-name", "Two PCM instances"),
        ("sample-rates", "8000,16000,44100,48000"),
        ("sample-formats", "s16_le,s32_le,u8"),
        ("channels-max", "8"),
        ("0/name", "music"),
        ("0/sample-rates", "44100,48000"),
        ("0/0/type", "p"),
        ("0/0/unique-id", "music-out"),
        ("1/name", "voice"),
        ("1/sample-rates", "8000,16000"),
        ("1/channels-max", "1"),
        ("1/0/type", "c"),
        ("1/0/unique-id", "voice-in"),
        ("1/1/type", "p"),
        ("1/1/unique-id", "voice-out"),
        ("1/1/sample-formats", "s16_le"),
    ]);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    assert_eq!(config.long_name, "Two PCM instances");
    assert_eq!(config.pcms.len(), 2);

    let music = &config.pcms[0];
    assert_eq!(music.name, "music");
    assert_eq!(music.streams.len(), 1);
    assert_eq!(music.streams[0].caps.rates, vec![44100, 48000]);
    assert_eq!(music.streams[0].caps.channels_max, 8);

    let voice = &config.pcms[1];
    assert_eq!(voice.index, 1);
    assert_eq!(voice.name, "voice");
    assert_eq!(voice.streams.len(), 2);
    let voice_in = &voice.streams[0];
    assert_eq!(voice_in.pcm_index, 1);
    assert_eq!(voice_in.direction, Direction::Capture);
    assert_eq!(voice_in.caps.rates, vec![8000, 16000]);
    assert_eq!(
        (voice_in.caps.channels_min, voice_in.caps.channels_max),
        (1, 1)
    );
    assert_eq!(voice_in.caps.formats.len(), 3);
    let voice_out = &voice.streams[1];
    assert_eq!(voice_out.path, format!("{DEVICE}/1/1"));
    assert_eq!(
        voice_out.caps.formats,
        FormatSet::single(SampleFormat::S16Le)
    );
}

#[test]
fn enumeration_stops_at_the_first_gap() {
    let config = read(&[
        ("0/0/type", "p"),
        ("0/0/unique-id", "a"),
        ("0/2/type", "p"),
        ("0/2/unique-id", "c"),
        ("2/0/type", "p"),
        ("2/0/unique-id", "d"),
    ]);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    assert_eq!(config.pcms.len(), 1);
    assert_eq!(config.pcms[0].streams.len(), 1);
}

/// A source whose transport fails after some reads.
struct Flaky {
    map: BTreeMap<String, String>,
    reads_left: usize,
}

impl ConfigSource for Flaky {
    type Error = &'static str;
    fn read(&mut self, path: &str) -> Result<Option<String>, Self::Error> {
        if self.reads_left == 0 {
            return Err("xenstore connection lost");
        }
        self.reads_left -= 1;
        Ok(self.map.read(path).unwrap())
    }
}

#[test]
fn transport_errors_abort_the_parse() {
    let map = store(&xl_example());
    let mut total = Flaky {
        map: map.clone(),
        reads_left: usize::MAX,
    };
    assert!(read_config(&mut total, DEVICE).is_ok());
    let used = usize::MAX - total.reads_left;
    assert!(used > 10);
    for budget in 0..used {
        let mut flaky = Flaky {
            map: map.clone(),
            reads_left: budget,
        };
        assert_eq!(
            read_config(&mut flaky, DEVICE),
            Err("xenstore connection lost"),
            "budget {budget}"
        );
    }
}

#[test]
fn map_source_reads_directories_as_empty() {
    let mut map = store(&xl_example());
    assert_eq!(
        map.read(&format!("{DEVICE}/0")).unwrap(),
        Some(String::new())
    );
    assert_eq!(
        map.read(&format!("{DEVICE}/0/1")).unwrap(),
        Some(String::new())
    );
    assert_eq!(map.read(&format!("{DEVICE}/0/2")).unwrap(), None);
    // "0/1" is not a prefix match for "0/10".
    assert_eq!(map.read(&format!("{DEVICE}/0/")).unwrap(), None);
    assert_eq!(
        map.read(&format!("{DEVICE}/short-name")).unwrap(),
        Some("Main".to_string())
    );
}

#[test]
fn xl_float_format_names_are_the_sndif_float_formats() {
    // xl refuses `float_le` ("Invalid pcm format") and writes libxl's names
    // (`f32_le`, ...) into XenStore; a stream may narrow with sndif.h's.
    let mut nodes = xl_example();
    nodes.retain(|(path, _)| *path != "sample-formats");
    nodes.push(("sample-formats", "f32_le,f32_be,f64_le,f64_be,s16_le"));
    nodes.push(("0/0/sample-formats", "float_le,float64_be"));
    let config = read(&nodes);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let card: FormatSet = [
        SampleFormat::F32Le,
        SampleFormat::F32Be,
        SampleFormat::F64Le,
        SampleFormat::F64Be,
        SampleFormat::S16Le,
    ]
    .into_iter()
    .collect();
    assert_eq!(config.caps.as_ref().unwrap().formats, card);
    let speaker = config.stream_by_unique_id("spk").unwrap();
    assert_eq!(
        speaker.caps.formats,
        [SampleFormat::F32Le, SampleFormat::F64Be]
            .into_iter()
            .collect()
    );
}
