//! Negotiation of a stream configuration: XenStore caps × backend answer × user request.

use xen_abi::sndif::{HwParam, Interval};
use xensnd_pcm::format::{FormatSet, SampleFormat};
use xensnd_pcm::StreamConfig;
use xensnd_sndif::config::StreamCaps;
use xensnd_sndif::negotiate::{
    build_query, check_answer, negotiate, open_request, AnswerIssue, AnswerProblem, HwParamField,
    NegotiationError, StreamRequest,
};

/// The xl example: 44100/48000, s16_le/s32_le, 1..2 channels, 64 KiB.
fn xl_caps() -> StreamCaps {
    StreamCaps {
        rates: vec![44100, 48000],
        formats: [SampleFormat::S16Le, SampleFormat::S32Le]
            .into_iter()
            .collect(),
        channels_min: 1,
        channels_max: 2,
        buffer_size_bytes: 65536,
    }
}

fn interval(min: u32, max: u32) -> Interval {
    Interval { min, max }
}

/// A backend answer that allows everything.
fn open_answer() -> HwParam {
    HwParam {
        formats: FormatSet::ALL.bits(),
        rates: interval(1, u32::MAX),
        channels: interval(1, 255),
        buffer: interval(1, u32::MAX),
        period: interval(1, u32::MAX),
    }
}

fn any() -> StreamRequest {
    StreamRequest::default()
}

#[test]
fn defaults_without_backend_answer() {
    let negotiated = negotiate(&xl_caps(), None, &any()).unwrap();
    assert!(negotiated.issues.is_empty());
    // 65536 bytes / 4 bytes per frame = 16384 frames; period a quarter.
    assert_eq!(
        negotiated.config,
        StreamConfig {
            format: SampleFormat::S16Le,
            rate: 48000,
            channels: 2,
            period_frames: 4096,
            buffer_frames: 16384,
        }
    );
}

#[test]
fn an_open_answer_changes_nothing() {
    let without = negotiate(&xl_caps(), None, &any()).unwrap();
    let with = negotiate(&xl_caps(), Some(&open_answer()), &any()).unwrap();
    assert_eq!(without, with);
}

#[test]
fn linux_defaults_give_s16_48k_stereo() {
    let negotiated = negotiate(&StreamCaps::linux_defaults(), None, &any()).unwrap();
    assert_eq!(negotiated.config.format, SampleFormat::S16Le);
    assert_eq!(negotiated.config.rate, 48000);
    assert_eq!(negotiated.config.channels, 2);
}

#[test]
fn user_wishes_are_honoured() {
    let request = StreamRequest {
        format: Some(SampleFormat::S32Le),
        rate: Some(44100),
        channels: Some(1),
        period_frames: Some(441),
        buffer_frames: Some(4410),
    };
    let negotiated = negotiate(&xl_caps(), Some(&open_answer()), &request).unwrap();
    assert_eq!(
        negotiated.config,
        StreamConfig {
            format: SampleFormat::S32Le,
            rate: 44100,
            channels: 1,
            period_frames: 441,
            buffer_frames: 4410,
        }
    );
}

#[test]
fn wishes_outside_the_xenstore_caps_are_refused() {
    let caps = xl_caps();
    let cases = [
        (
            StreamRequest {
                format: Some(SampleFormat::U8),
                ..any()
            },
            NegotiationError::UnsupportedFormat(Some(SampleFormat::U8)),
        ),
        (
            StreamRequest {
                rate: Some(96000),
                ..any()
            },
            NegotiationError::UnsupportedRate(Some(96000)),
        ),
        (
            StreamRequest {
                rate: Some(46000),
                ..any()
            },
            NegotiationError::UnsupportedRate(Some(46000)),
        ),
        (
            StreamRequest {
                channels: Some(3),
                ..any()
            },
            NegotiationError::UnsupportedChannels(Some(3)),
        ),
        (
            StreamRequest {
                channels: Some(0),
                ..any()
            },
            NegotiationError::UnsupportedChannels(Some(0)),
        ),
        (
            // 16385 frames × 4 bytes > 65536.
            StreamRequest {
                buffer_frames: Some(16385),
                ..any()
            },
            NegotiationError::UnsupportedBuffer(Some(16385)),
        ),
        (
            StreamRequest {
                buffer_frames: Some(0),
                ..any()
            },
            NegotiationError::UnsupportedBuffer(Some(0)),
        ),
        (
            StreamRequest {
                buffer_frames: Some(1000),
                period_frames: Some(1001),
                ..any()
            },
            NegotiationError::UnsupportedPeriod(Some(1001)),
        ),
        (
            StreamRequest {
                period_frames: Some(0),
                ..any()
            },
            NegotiationError::UnsupportedPeriod(Some(0)),
        ),
    ];
    for (request, error) in cases {
        assert_eq!(negotiate(&caps, None, &request), Err(error), "{request:?}");
    }
}

#[test]
fn buffer_limit_depends_on_the_frame_size() {
    let caps = xl_caps();
    // s32_le stereo: 8 bytes per frame.
    let request = StreamRequest {
        format: Some(SampleFormat::S32Le),
        ..any()
    };
    assert_eq!(
        negotiate(&caps, None, &request)
            .unwrap()
            .config
            .buffer_frames,
        8192
    );
    // s16_le mono: 2 bytes per frame.
    let request = StreamRequest {
        channels: Some(1),
        buffer_frames: Some(32768),
        ..any()
    };
    assert_eq!(
        negotiate(&caps, None, &request)
            .unwrap()
            .config
            .buffer_frames,
        32768
    );
}

#[test]
fn the_backend_answer_narrows() {
    let answer = HwParam {
        formats: SampleFormat::S32Le.bit() | SampleFormat::F32Le.bit(),
        rates: interval(8000, 44100),
        channels: interval(1, 1),
        buffer: interval(256, 2048),
        period: interval(64, 256),
    };
    let negotiated = negotiate(&xl_caps(), Some(&answer), &any()).unwrap();
    assert!(negotiated.issues.is_empty());
    assert_eq!(
        negotiated.config,
        StreamConfig {
            format: SampleFormat::S32Le,
            rate: 44100,
            channels: 1,
            period_frames: 256,
            buffer_frames: 2048,
        }
    );
    // Period: a quarter of the buffer, raised to the backend's minimum.
    let request = StreamRequest {
        buffer_frames: Some(256),
        ..any()
    };
    let negotiated = negotiate(&xl_caps(), Some(&answer), &request).unwrap();
    assert_eq!(negotiated.config.period_frames, 64);
}

#[test]
fn a_well_formed_answer_that_does_not_overlap_is_a_refusal() {
    let caps = xl_caps();
    let refusals = [
        (
            HwParam {
                formats: SampleFormat::U8.bit(),
                ..open_answer()
            },
            NegotiationError::UnsupportedFormat(None),
        ),
        (
            HwParam {
                rates: interval(8000, 16000),
                ..open_answer()
            },
            NegotiationError::UnsupportedRate(None),
        ),
        (
            HwParam {
                channels: interval(4, 8),
                ..open_answer()
            },
            NegotiationError::UnsupportedChannels(None),
        ),
        (
            HwParam {
                buffer: interval(20000, 40000),
                ..open_answer()
            },
            NegotiationError::UnsupportedBuffer(None),
        ),
        (
            HwParam {
                period: interval(20000, 40000),
                ..open_answer()
            },
            NegotiationError::UnsupportedPeriod(None),
        ),
    ];
    for (answer, error) in refusals {
        assert_eq!(negotiate(&caps, Some(&answer), &any()), Err(error));
    }
    // And a wish the backend does not allow.
    let answer = HwParam {
        rates: interval(44100, 44100),
        ..open_answer()
    };
    let request = StreamRequest {
        rate: Some(48000),
        ..any()
    };
    assert_eq!(
        negotiate(&caps, Some(&answer), &request),
        Err(NegotiationError::UnsupportedRate(Some(48000)))
    );
}

#[test]
fn nonsense_answer_fields_are_ignored_and_reported() {
    let answer = HwParam {
        formats: 0,
        rates: interval(0, 0),
        channels: interval(3, 1),
        buffer: interval(100, 0),
        period: interval(u32::MAX, 1),
    };
    let negotiated = negotiate(&xl_caps(), Some(&answer), &any()).unwrap();
    // Exactly the XenStore-only result.
    assert_eq!(
        negotiated.config,
        negotiate(&xl_caps(), None, &any()).unwrap().config
    );
    assert_eq!(
        negotiated.issues,
        vec![
            AnswerIssue {
                field: HwParamField::Formats,
                problem: AnswerProblem::NoFormats { bits: 0 },
            },
            AnswerIssue {
                field: HwParamField::Rates,
                problem: AnswerProblem::Zero,
            },
            AnswerIssue {
                field: HwParamField::Channels,
                problem: AnswerProblem::MinGreaterThanMax { min: 3, max: 1 },
            },
            AnswerIssue {
                field: HwParamField::Buffer,
                problem: AnswerProblem::Zero,
            },
            AnswerIssue {
                field: HwParamField::Period,
                problem: AnswerProblem::MinGreaterThanMax {
                    min: u32::MAX,
                    max: 1,
                },
            },
        ]
    );
    assert_eq!(
        negotiated.issues[2].to_string(),
        "backend HW_PARAM_QUERY answer, Channels: min 3 > max 1; ignored"
    );
}

#[test]
fn undefined_format_bits_are_dropped() {
    let answer = HwParam {
        formats: (1 << 63) | (1 << 25),
        ..open_answer()
    };
    let (limits, issues) = check_answer(&answer);
    assert_eq!(limits.formats, None);
    assert_eq!(issues.len(), 1);
    assert_eq!(
        issues[0].problem,
        AnswerProblem::NoFormats {
            bits: answer.formats
        }
    );

    let answer = HwParam {
        formats: (1 << 40) | SampleFormat::S32Le.bit(),
        ..open_answer()
    };
    let negotiated = negotiate(&xl_caps(), Some(&answer), &any()).unwrap();
    assert_eq!(negotiated.config.format, SampleFormat::S32Le);
    assert_eq!(
        negotiated.issues,
        vec![AnswerIssue {
            field: HwParamField::Formats,
            problem: AnswerProblem::UndefinedFormatBits {
                bits: answer.formats
            },
        }]
    );
}

#[test]
fn compressed_formats_are_never_chosen() {
    let caps = StreamCaps {
        formats: [SampleFormat::Mpeg, SampleFormat::Gsm, SampleFormat::ALaw]
            .into_iter()
            .collect(),
        ..xl_caps()
    };
    assert_eq!(
        negotiate(&caps, None, &any()).unwrap().config.format,
        SampleFormat::ALaw
    );
    let request = StreamRequest {
        format: Some(SampleFormat::Mpeg),
        ..any()
    };
    assert_eq!(
        negotiate(&caps, None, &request),
        Err(NegotiationError::UnsupportedFormat(Some(
            SampleFormat::Mpeg
        )))
    );
    let only_compressed = StreamCaps {
        formats: FormatSet::single(SampleFormat::ImaAdpcm),
        ..xl_caps()
    };
    assert_eq!(
        negotiate(&only_compressed, None, &any()),
        Err(NegotiationError::UnsupportedFormat(None))
    );
}

#[test]
fn preferences_when_the_favourites_are_missing() {
    let caps = StreamCaps {
        rates: vec![8000, 22050, 32000],
        formats: [SampleFormat::U16Be, SampleFormat::F32Le]
            .into_iter()
            .collect(),
        channels_min: 4,
        channels_max: 6,
        buffer_size_bytes: 4096,
    };
    let config = negotiate(&caps, None, &any()).unwrap().config;
    assert_eq!(config.format, SampleFormat::F32Le);
    assert_eq!(config.rate, 32000);
    assert_eq!(config.channels, 4);
    assert_eq!(config.buffer_frames, 4096 / 16);
    assert_eq!(config.period_frames, 64);

    let mono = StreamCaps {
        channels_min: 1,
        channels_max: 1,
        ..caps
    };
    assert_eq!(negotiate(&mono, None, &any()).unwrap().config.channels, 1);
}

#[test]
fn tiny_buffers() {
    // Less than one frame fits.
    let caps = StreamCaps {
        buffer_size_bytes: 3,
        ..xl_caps()
    };
    assert_eq!(
        negotiate(&caps, None, &any()),
        Err(NegotiationError::UnsupportedBuffer(None))
    );
    // One frame: period of one frame.
    let caps = StreamCaps {
        buffer_size_bytes: 4,
        ..xl_caps()
    };
    let config = negotiate(&caps, None, &any()).unwrap().config;
    assert_eq!((config.buffer_frames, config.period_frames), (1, 1));
}

#[test]
fn query_from_caps_only() {
    let query = build_query(&xl_caps(), &any());
    assert_eq!(
        query,
        HwParam {
            formats: SampleFormat::S16Le.bit() | SampleFormat::S32Le.bit(),
            rates: interval(44100, 48000),
            channels: interval(1, 2),
            // Smallest frame: s16_le mono, 2 bytes.
            buffer: interval(1, 32768),
            period: interval(1, 32768),
        }
    );
}

#[test]
fn query_with_wishes() {
    let request = StreamRequest {
        format: Some(SampleFormat::S32Le),
        rate: Some(48000),
        channels: Some(2),
        period_frames: None,
        buffer_frames: None,
    };
    let query = build_query(&xl_caps(), &request);
    assert_eq!(query.formats, SampleFormat::S32Le.bit());
    assert_eq!(query.rates, interval(48000, 48000));
    assert_eq!(query.channels, interval(2, 2));
    assert_eq!(query.buffer, interval(1, 8192));
    assert_eq!(query.period, interval(1, 8192));

    let request = StreamRequest {
        period_frames: Some(480),
        buffer_frames: Some(4800),
        ..any()
    };
    let query = build_query(&xl_caps(), &request);
    assert_eq!(query.buffer, interval(4800, 4800));
    assert_eq!(query.period, interval(480, 480));
}

#[test]
fn query_excludes_compressed_formats() {
    let caps = StreamCaps {
        formats: [SampleFormat::Mpeg, SampleFormat::S16Le]
            .into_iter()
            .collect(),
        ..xl_caps()
    };
    assert_eq!(
        build_query(&caps, &any()).formats,
        SampleFormat::S16Le.bit()
    );
}

#[test]
fn a_query_answered_by_an_echoing_backend_negotiates_the_same() {
    // A backend that agrees with everything echoes the query back.
    for request in [
        any(),
        StreamRequest {
            channels: Some(1),
            ..any()
        },
        StreamRequest {
            format: Some(SampleFormat::S32Le),
            rate: Some(44100),
            ..any()
        },
    ] {
        let query = build_query(&xl_caps(), &request);
        let with = negotiate(&xl_caps(), Some(&query), &request).unwrap();
        let without = negotiate(&xl_caps(), None, &request).unwrap();
        assert_eq!(with, without, "{request:?}");
    }
}

#[test]
fn open_request_in_bytes() {
    let config = StreamConfig {
        format: SampleFormat::S16Le,
        rate: 48000,
        channels: 2,
        period_frames: 4096,
        buffer_frames: 16384,
    };
    let open = open_request(&config, 42).unwrap();
    assert_eq!(open.pcm_rate, 48000);
    assert_eq!(open.pcm_format, 2);
    assert_eq!(open.pcm_channels, 2);
    assert_eq!(open.reserved, 0);
    assert_eq!(open.buffer_sz, 65536);
    assert_eq!(open.gref_directory, 42);
    assert_eq!(open.period_sz, 16384);

    let bad = StreamConfig {
        format: SampleFormat::Gsm,
        ..config
    };
    assert_eq!(open_request(&bad, 42), None);
    let too_big = StreamConfig {
        buffer_frames: u32::MAX,
        ..config
    };
    assert_eq!(open_request(&too_big, 42), None);
}

#[test]
fn error_messages() {
    assert_eq!(
        NegotiationError::UnsupportedRate(Some(96000)).to_string(),
        "unsupported rate 96000"
    );
    assert_eq!(
        NegotiationError::UnsupportedFormat(None).to_string(),
        "no supported format"
    );
    assert_eq!(
        NegotiationError::UnsupportedFormat(Some(SampleFormat::U8)).to_string(),
        "unsupported format u8"
    );
}
