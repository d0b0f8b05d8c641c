//! Unit tests of the backend engine's pure parts: intersection, configuration
//! parsing, sample encoding and gain, the position clock, counters.
use super::config::{narrow_with, parse_formats, parse_rates, parse_u32, LevelConfig};
use super::counters::Counters;
use super::hw::{intersect_interval, sample_bytes, Limits, QueryError};
use super::pacing::PositionClock;
use super::sample::{encode, gain, silence};
use crate::abi::sndif::{HwParam, Interval};

fn interval(min: u32, max: u32) -> Interval {
    Interval { min, max }
}

fn query() -> HwParam {
    HwParam {
        formats: u64::MAX,
        rates: interval(0, u32::MAX),
        channels: interval(0, u32::MAX),
        buffer: interval(0, u32::MAX),
        period: interval(0, u32::MAX),
    }
}

#[test]
fn intersect_interval_cases() {
    assert_eq!(
        intersect_interval(interval(1, 5), interval(3, 9)),
        Some(interval(3, 5))
    );
    assert_eq!(
        intersect_interval(interval(3, 9), interval(1, 5)),
        Some(interval(3, 5))
    );
    assert_eq!(
        intersect_interval(interval(1, 2), interval(2, 9)),
        Some(interval(2, 2))
    );
    assert_eq!(intersect_interval(interval(1, 2), interval(3, 9)), None);
    assert_eq!(
        intersect_interval(interval(5, 1), interval(0, 9)),
        None,
        "inverted request"
    );
}

#[test]
fn wide_open_query_gets_the_limits() {
    let limits = Limits::default();
    let answer = limits.intersect(&query()).unwrap();
    assert_eq!(answer.formats, limits.formats);
    assert_eq!(answer.rates, limits.rates);
    assert_eq!(answer.channels, limits.channels);
    assert_eq!(answer.buffer, limits.buffer_frames);
    assert_eq!(answer.period, limits.period_frames);
}

#[test]
fn empty_intersections_are_errors() {
    let limits = Limits::default();
    let cases = [
        (
            HwParam {
                formats: 1 << 1,
                ..query()
            },
            QueryError::Formats,
        ),
        (
            HwParam {
                rates: interval(1, 7999),
                ..query()
            },
            QueryError::Rates,
        ),
        (
            HwParam {
                channels: interval(9, 20),
                ..query()
            },
            QueryError::Channels,
        ),
        (
            HwParam {
                buffer: interval(1, 63),
                ..query()
            },
            QueryError::Buffer,
        ),
        (
            HwParam {
                period: interval(1, 15),
                ..query()
            },
            QueryError::Period,
        ),
        // Periods longer than any buffer.
        (
            HwParam {
                buffer: interval(64, 100),
                period: interval(101, 200),
                ..query()
            },
            QueryError::Period,
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(limits.intersect(&request), Err(expected));
    }
}

#[test]
fn period_is_capped_by_buffer() {
    let limits = Limits::default();
    let answer = limits
        .intersect(&HwParam {
            buffer: interval(64, 2048),
            ..query()
        })
        .unwrap();
    assert_eq!(answer.period, interval(16, 2048));
}

#[test]
fn sample_sizes() {
    assert_eq!(sample_bytes(0), Some(1));
    assert_eq!(sample_bytes(2), Some(2));
    assert_eq!(sample_bytes(6), Some(4), "s24_le is 4 bytes, as in ALSA");
    assert_eq!(sample_bytes(10), Some(4));
    assert_eq!(sample_bytes(16), Some(8));
    assert_eq!(sample_bytes(22), None);
    assert_eq!(sample_bytes(200), None);
}

#[test]
fn config_parsing() {
    assert_eq!(parse_u32(" 42 "), Ok(42));
    assert!(parse_u32("-1").is_err());
    assert!(parse_u32("4294967296").is_err());
    assert!(parse_u32("").is_err());
    assert_eq!(parse_rates("48000,8000,44100"), Ok(interval(8000, 48000)));
    assert!(parse_rates("48000,x").is_err());
    assert!(parse_rates("0").is_err());
    assert!(parse_rates("").is_err());
    assert_eq!(parse_formats("s16_le,s32_le"), Ok((1 << 2) | (1 << 10)));
    assert!(parse_formats("s16_le,bogus").is_err());
}

#[test]
fn levels_only_narrow() {
    let limits = Limits::default();
    let card = LevelConfig {
        sample_rates: Some("44100,48000"),
        sample_formats: Some("s16_le,u8"),
        buffer_size: Some("65536"),
        ..LevelConfig::default()
    };
    let narrowed = narrow_with(&limits, &card).unwrap();
    assert_eq!(narrowed.rates, interval(44_100, 48_000));
    assert_eq!(
        narrowed.formats,
        1 << 2,
        "u8 is not in the backend's limits"
    );
    assert_eq!(narrowed.buffer_frames.max, 65536);
    let stream = LevelConfig {
        channels_min: Some("2"),
        channels_max: Some("16"),
        ..LevelConfig::default()
    };
    let narrowed = narrow_with(&narrowed, &stream).unwrap();
    assert_eq!(narrowed.channels, interval(2, 8));
    assert_eq!(narrowed.buffer_frames.max, 65536);
    let impossible = LevelConfig {
        sample_rates: Some("1000"),
        ..LevelConfig::default()
    };
    assert!(narrow_with(&narrowed, &impossible).is_err());
}

#[test]
fn gains() {
    assert_eq!(gain(0), 1.0);
    assert!((gain(-6021) - 0.5).abs() < 1e-4);
    assert!((gain(20_000) - 10.0).abs() < 1e-9);
    assert_eq!(gain(-120_000), 0.0);
    assert_eq!(gain(i32::MIN), 0.0);
    assert!(gain(i32::MAX).is_finite() || gain(i32::MAX).is_infinite());
}

#[test]
fn encoding() {
    let mut out = [0u8; 8];
    encode(2, 1.0, &mut out[..2]);
    assert_eq!(&out[..2], &32767i16.to_le_bytes());
    encode(3, -1.0, &mut out[..2]);
    assert_eq!(&out[..2], &(-32767i16).to_be_bytes());
    encode(1, 0.0, &mut out[..1]);
    assert_eq!(out[0], 128);
    encode(10, 0.5, &mut out[..4]);
    assert_eq!(&out[..4], &1_073_741_824i32.to_le_bytes());
    encode(14, 2.0, &mut out[..4]);
    assert_eq!(&out[..4], &1.0f32.to_le_bytes(), "clamped");
    encode(6, 1.0, &mut out[..4]);
    assert_eq!(&out[..4], &8_388_607i32.to_le_bytes());
    assert_eq!(silence(1)[0], 0x80);
    assert_eq!(silence(2)[..2], [0, 0]);
}

const MS: u64 = 1_000_000;

#[test]
fn clock_advances_in_whole_frames_with_carry() {
    // 44.1 kHz mono s16: 44.1 frames per ms.
    let mut clock = PositionClock::new(44_100, 2, 0, false);
    clock.run(0);
    for step in 1..=1000 {
        clock.advance(step * MS);
    }
    assert_eq!(
        clock.position(),
        44_100 * 2,
        "no drift after 1000 small steps"
    );
    clock.pause(2000 * MS);
    let paused = clock.position();
    clock.advance(5000 * MS);
    assert_eq!(clock.position(), paused);
    assert!(clock.next_due_ns().is_none());
}

#[test]
fn clock_deadlines_and_events() {
    // 1000 Hz, 1-byte frames (1 ms each), period 10 bytes: an event every
    // 10 ms, once the position is one frame past the boundary.
    let mut clock = PositionClock::new(1000, 1, 10, false);
    assert_eq!(clock.take_due(0), None);
    clock.run(0);
    assert_eq!(clock.next_due_ns(), Some(11 * MS));
    assert_eq!(
        clock.take_due(10 * MS),
        None,
        "exactly on the boundary is not past it"
    );
    assert_eq!(clock.take_due(11 * MS), Some(11));
    assert_eq!(clock.take_due(11 * MS), None, "one event per period");
    assert_eq!(clock.next_due_ns(), Some(21 * MS));
    assert_eq!(
        clock.take_due(45 * MS),
        Some(45),
        "late: one event, current position"
    );
    assert_eq!(clock.next_due_ns(), Some(51 * MS));
}

#[test]
fn playback_clock_stops_at_written_bytes_and_stop_drops_the_rest() {
    // 1000 Hz, 2-byte frames, period 20 bytes (10 ms).
    let mut clock = PositionClock::new(1000, 2, 20, true);
    clock.supply(0, 101);
    clock.run(0);
    clock.advance(1000 * MS);
    assert_eq!(clock.position(), 100, "whole frames of what was written");
    assert_eq!(clock.next_due_ns(), Some(1000 * MS), "an event is due now");
    assert_eq!(
        clock.take_due(1000 * MS),
        Some(100),
        "starved on a boundary: that period is reported"
    );
    assert_eq!(
        clock.next_due_ns(),
        None,
        "starved before the next boundary"
    );
    clock.supply(2000 * MS, 41);
    // Boundary 120 plus one frame: 11 frames from 100.
    assert_eq!(clock.next_due_ns(), Some(2011 * MS));
    clock.advance(2005 * MS);
    assert_eq!(clock.position(), 110);
    clock.stop(2005 * MS);
    clock.run(3000 * MS);
    clock.advance(4000 * MS);
    assert_eq!(clock.position(), 110, "STOP dropped what was not played");
}

#[test]
fn written_data_ending_on_a_boundary_is_reported_on_time() {
    // 1000 Hz, 1-byte frames, period 10: 20 bytes written.
    let mut clock = PositionClock::new(1000, 1, 10, true);
    clock.supply(0, 20);
    clock.run(0);
    assert_eq!(clock.next_due_ns(), Some(11 * MS));
    assert_eq!(clock.take_due(11 * MS), Some(11));
    // The next boundary is where the data ends: due when it is reached.
    assert_eq!(clock.next_due_ns(), Some(20 * MS));
    assert_eq!(clock.take_due(20 * MS), Some(20));
    assert_eq!(clock.next_due_ns(), None);
}

#[test]
fn counters_accumulate() {
    let mut total = Counters::default();
    let mut one = Counters::default();
    one.count_request(3);
    one.count_request(99);
    one.first_write_ns = Some(50);
    let mut two = Counters::default();
    two.count_request(3);
    two.first_write_ns = Some(20);
    total.accumulate(&one);
    total.accumulate(&two);
    assert_eq!(total.requests[3], 2);
    assert_eq!(total.unknown_requests, 1);
    assert_eq!(total.total_requests(), 3);
    assert_eq!(total.first_write_ns, Some(20));
}
