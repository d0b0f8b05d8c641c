//! Unit tests of the backend engine's pure parts: the offer (HW_PARAM_QUERY
//! answer and OPEN checks), sample encoding and gain, the position clock,
//! counters.
use alloc::vec;
use alloc::vec::Vec;

use super::behaviour::{EventTiming, PeriodRounding};
use super::counters::{AnswerLatency, Counters, ANSWER_BUCKETS};
use super::hw::{intersect_interval, sample_bytes, DeviceRates, Limits, Mismatch, Offer};
use super::pacing::{Pace, PositionClock};
use super::sample::{encode, silence};
use super::RequestError;
use xen_abi::sndif::{HwParam, Interval, OpenRequest};
use xensnd_pcm::format::{FormatSet, SampleFormat};
use xensnd_pcm::gain::{gain, gain_q30, SILENT_MILLIDB, UNITY_Q30};
use xensnd_sndif::config::StreamCaps;
use xensnd_sndif::negotiate::HwParamField;

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

/// What `sample-rates=8000,44100,48000, sample-formats=s16_le;s32_le,
/// channels-max=2, buffer-size=65536` gives.
fn caps() -> StreamCaps {
    StreamCaps {
        rates: vec![8000, 44_100, 48_000],
        formats: [SampleFormat::S16Le, SampleFormat::S32Le]
            .into_iter()
            .collect(),
        channels_min: 1,
        channels_max: 2,
        buffer_size_bytes: 65536,
    }
}

fn offer() -> Offer {
    Limits::default().offer(&caps(), 16 << 20).unwrap()
}

fn open(format: SampleFormat, channels: u8, rate: u32, buffer: u32, period: u32) -> OpenRequest {
    OpenRequest {
        pcm_rate: rate,
        pcm_format: format.code(),
        pcm_channels: channels,
        reserved: 0,
        buffer_sz: buffer,
        gref_directory: 8,
        period_sz: period,
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
fn the_offer_is_the_configuration_within_the_device() {
    let limits = Limits {
        formats: [SampleFormat::S16Le, SampleFormat::U8]
            .into_iter()
            .collect(),
        rates: DeviceRates::Range(interval(8000, 44_100)),
        channels: interval(2, 8),
        ..Limits::default()
    };
    let offer = limits.offer(&caps(), 1 << 20).unwrap();
    assert_eq!(offer.caps.rates, vec![8000, 44_100]);
    assert_eq!(offer.caps.formats, FormatSet::single(SampleFormat::S16Le));
    assert_eq!((offer.caps.channels_min, offer.caps.channels_max), (2, 2));
    assert_eq!(offer.caps.buffer_size_bytes, 65536);
    assert_eq!(offer.max_buffer_bytes, 1 << 20);
    let list = Limits {
        rates: DeviceRates::List(vec![44_100, 96_000]),
        ..Limits::default()
    };
    assert_eq!(
        list.offer(&caps(), 1 << 20).unwrap().caps.rates,
        vec![44_100]
    );
    let cases = [
        (
            Limits {
                formats: FormatSet::single(SampleFormat::U8),
                ..Limits::default()
            },
            Mismatch(HwParamField::Formats),
        ),
        (
            Limits {
                rates: DeviceRates::List(vec![96_000]),
                ..Limits::default()
            },
            Mismatch(HwParamField::Rates),
        ),
        (
            Limits {
                channels: interval(3, 8),
                ..Limits::default()
            },
            Mismatch(HwParamField::Channels),
        ),
    ];
    for (limits, expected) in cases {
        assert_eq!(limits.offer(&caps(), 1 << 20), Err(expected));
    }
    // Compressed formats have no frame: never offered.
    let gsm = StreamCaps {
        formats: FormatSet::single(SampleFormat::Gsm),
        ..caps()
    };
    assert_eq!(
        Limits::default().offer(&gsm, 1 << 20),
        Err(Mismatch(HwParamField::Formats))
    );
}

#[test]
fn wide_open_query_gets_the_offer() {
    let answer = offer().answer(&query()).unwrap();
    assert_eq!(
        answer.formats,
        SampleFormat::S16Le.bit() | SampleFormat::S32Le.bit()
    );
    assert_eq!(answer.rates, interval(8000, 48_000));
    assert_eq!(answer.channels, interval(1, 2));
    // buffer-size over the smallest frame (s16 mono): 32768 frames.
    assert_eq!(answer.buffer, interval(64, 32768));
    assert_eq!(answer.period, interval(16, 32768));
}

#[test]
fn a_rate_set_with_gaps_answers_the_interval_of_the_rates_inside() {
    let offer = offer();
    let answer = |min, max| {
        offer
            .answer(&HwParam {
                rates: interval(min, max),
                ..query()
            })
            .map(|answer| answer.rates)
    };
    assert_eq!(answer(9000, 50_000), Ok(interval(44_100, 48_000)));
    assert_eq!(answer(44_100, 44_100), Ok(interval(44_100, 44_100)));
    assert_eq!(answer(1, 8000), Ok(interval(8000, 8000)));
    assert_eq!(
        answer(8001, 44_099),
        Err(Mismatch(HwParamField::Rates)),
        "only the gap"
    );
    assert_eq!(answer(22_050, 22_050), Err(Mismatch(HwParamField::Rates)));
    assert_eq!(
        answer(50_000, 1),
        Err(Mismatch(HwParamField::Rates)),
        "inverted"
    );
    // OPEN takes only the rates of the set, never one in a gap.
    let format = SampleFormat::S16Le;
    assert!(offer
        .open(&open(format, 2, 44_100, 4096, 1024), PeriodRounding::Exact)
        .is_ok());
    assert_eq!(
        offer.open(&open(format, 2, 22_050, 4096, 1024), PeriodRounding::Exact),
        Err(RequestError::Invalid("rate not supported"))
    );
}

#[test]
fn query_buffer_follows_buffer_size_and_the_device_cap() {
    // The card's buffer-size=5242880 (xl accepts it), s16_le stereo.
    let big = StreamCaps {
        buffer_size_bytes: 5_242_880,
        ..caps()
    };
    let offer = Limits::default().offer(&big, 16 << 20).unwrap();
    let stereo = HwParam {
        formats: SampleFormat::S16Le.bit(),
        channels: interval(2, 2),
        ..query()
    };
    let answer = offer.answer(&stereo).unwrap();
    assert_eq!(answer.buffer, interval(64, 1_310_720));
    // Asked for exactly the whole buffer-size: granted.
    let exact = HwParam {
        buffer: interval(1_310_720, 1_310_720),
        ..stereo
    };
    assert_eq!(
        offer.answer(&exact).unwrap().buffer,
        interval(1_310_720, 1_310_720)
    );
    // The device's byte cap bounds it too.
    let capped = Limits::default().offer(&big, 1 << 20).unwrap();
    assert_eq!(
        capped.answer(&stereo).unwrap().buffer,
        interval(64, 262_144)
    );
    assert_eq!(capped.answer(&exact), Err(Mismatch(HwParamField::Buffer)));
}

#[test]
fn empty_intersections_are_errors() {
    let offer = offer();
    let cases = [
        (
            HwParam {
                formats: SampleFormat::U8.bit(),
                ..query()
            },
            Mismatch(HwParamField::Formats),
        ),
        (
            HwParam {
                rates: interval(1, 7999),
                ..query()
            },
            Mismatch(HwParamField::Rates),
        ),
        (
            HwParam {
                channels: interval(3, 20),
                ..query()
            },
            Mismatch(HwParamField::Channels),
        ),
        (
            HwParam {
                buffer: interval(1, 63),
                ..query()
            },
            Mismatch(HwParamField::Buffer),
        ),
        (
            HwParam {
                period: interval(1, 15),
                ..query()
            },
            Mismatch(HwParamField::Period),
        ),
        // Periods longer than any buffer.
        (
            HwParam {
                buffer: interval(64, 100),
                period: interval(101, 200),
                ..query()
            },
            Mismatch(HwParamField::Period),
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(offer.answer(&request), Err(expected));
    }
}

#[test]
fn period_is_capped_by_buffer() {
    let answer = offer()
        .answer(&HwParam {
            buffer: interval(64, 2048),
            ..query()
        })
        .unwrap();
    assert_eq!(answer.period, interval(16, 2048));
}

#[test]
fn open_derives_the_device_buffer_and_period_from_whole_frames() {
    let offer = offer();
    let s16 = SampleFormat::S16Le;
    let exact = PeriodRounding::Exact;
    let params = offer
        .open(&open(s16, 2, 48_000, 19_200, 3840), exact)
        .unwrap();
    assert_eq!((params.buffer_frames, params.period_frames), (4800, 960));
    assert_eq!((params.buffer_bytes, params.period_bytes()), (19_200, 3840));
    // A buffer_sz that is not whole frames (6 channels of s16 in 65536
    // bytes, or 256 bytes more than the PCM buffer): the device buffer is
    // the whole frames in it, as snd_be does.
    let six = Limits::default()
        .offer(
            &StreamCaps {
                channels_max: 6,
                ..caps()
            },
            16 << 20,
        )
        .unwrap();
    let params = six
        .open(&open(s16, 6, 48_000, 65_536, 12 * 480), exact)
        .unwrap();
    assert_eq!((params.buffer_frames, params.buffer_bytes), (5461, 65_536));
    let params = offer
        .open(&open(s16, 2, 48_000, 19_200 + 256, 3842), exact)
        .unwrap();
    assert_eq!((params.buffer_frames, params.period_frames), (4864, 960));
    // A period that rounds: 960 frames become 1024 for a power-of-two device.
    let params = offer
        .open(
            &open(s16, 2, 48_000, 19_200, 3840),
            PeriodRounding::PowerOfTwo,
        )
        .unwrap();
    assert_eq!(params.period_frames, 1024);
    // Refusals.
    let refused = |request: OpenRequest, why: &'static str| {
        assert_eq!(offer.open(&request, exact), Err(RequestError::Invalid(why)));
    };
    refused(
        open(s16, 2, 48_000, 19_200, 3),
        "period shorter than a frame",
    );
    refused(
        open(s16, 2, 48_000, 4096, 8192),
        "period longer than the buffer",
    );
    refused(
        open(s16, 2, 48_000, 4096, 4 * 8),
        "period size outside the limits",
    );
    refused(
        open(s16, 2, 48_000, 0, 0),
        "buffer size zero or above the cap",
    );
    refused(
        open(s16, 2, 48_000, 17 << 20, 0),
        "buffer size zero or above the cap",
    );
    refused(
        open(s16, 2, 48_000, 255, 0),
        "buffer size outside the limits",
    );
    refused(open(s16, 3, 48_000, 4096, 0), "channel count not supported");
    refused(open(s16, 0, 48_000, 4096, 0), "channel count not supported");
    refused(
        open(SampleFormat::U8, 2, 48_000, 4096, 0),
        "format not supported",
    );
    refused(open(s16, 2, 96_000, 4096, 0), "rate not supported");
    // The configured buffer-size bounds the query, not OPEN (see hw.rs).
    assert!(offer.open(&open(s16, 2, 48_000, 1 << 20, 0), exact).is_ok());
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
fn gains() {
    assert_eq!(gain(0), 1.0);
    assert!((gain(-6021) - 0.5).abs() < 1e-4);
    assert!((gain(20_000) - 10.0).abs() < 1e-9);
    assert_eq!(gain(SILENT_MILLIDB), 0.0);
    assert!(gain(SILENT_MILLIDB + 1) > 0.0);
    assert_eq!(gain(i32::MIN), 0.0);
    assert_eq!(gain_q30(0), UNITY_Q30);
    assert_eq!(gain_q30(-6021), 536_846_183);
    assert_eq!(gain_q30(SILENT_MILLIDB), 0);
    assert_eq!(gain_q30(i32::MAX), u32::MAX);
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

fn boundary_clock(rate: u32, frame: u32, period: u32, playback: bool) -> PositionClock {
    PositionClock::new(rate, frame, period, playback, EventTiming::PeriodBoundary)
}

/// Every event of `clock` up to `until_ns`, taken at the times it asks for.
fn events_until(clock: &mut PositionClock, until_ns: u64) -> Vec<(u64, u64)> {
    let mut events = Vec::new();
    while let Some(due) = clock.next_due_ns() {
        if due > until_ns {
            break;
        }
        let position = clock.take_due(due).unwrap();
        events.push((due / MS, position));
    }
    events
}

#[test]
fn clock_advances_in_whole_frames_with_carry() {
    // 44.1 kHz mono s16: 44.1 frames per ms.
    let mut clock = boundary_clock(44_100, 2, 0, false);
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
    let mut clock = boundary_clock(1000, 1, 10, false);
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
fn positions_pass_the_written_end_by_a_frame_when_it_is_a_period_boundary() {
    // 1000 Hz, 1-byte frames, period 10: 20 bytes written (two periods),
    // what aplay's drain of whole periods looks like.
    let mut clock = boundary_clock(1000, 1, 10, true);
    clock.supply(0, 20);
    clock.run(0);
    assert_eq!(
        events_until(&mut clock, 1000 * MS),
        vec![(11, 11), (20, 20), (21, 21)],
        "the end of the data, then one frame past it (Linux counts the last period)"
    );
    assert_eq!(clock.next_due_ns(), None, "then the device holds");
    clock.advance(5000 * MS);
    assert_eq!(clock.position(), 21);
}

#[test]
fn positions_keep_advancing_while_dry_up_to_the_next_period_then_hold() {
    // 1000 Hz, 2-byte frames, period 20 bytes (10 ms); 50 bytes written.
    let mut clock = boundary_clock(1000, 2, 20, true);
    clock.supply(0, 51);
    clock.run(0);
    assert_eq!(
        events_until(&mut clock, 1000 * MS),
        vec![(11, 22), (21, 42), (25, 50), (31, 62)],
        "periods, the end of the whole frames written, the next period past it"
    );
    assert_eq!(clock.next_due_ns(), None);
    clock.advance(1000 * MS);
    assert_eq!(clock.position(), 62, "past the data written, holding");
    // Data arrives: the device resumes from where it stopped.
    clock.supply(2000 * MS, 40);
    assert_eq!(
        events_until(&mut clock, 3000 * MS),
        vec![(2010, 82), (2014, 90), (2020, 102)]
    );
    assert_eq!(clock.position(), 102);
}

#[test]
fn stop_drops_what_was_not_played_and_an_empty_start_waits() {
    // 1000 Hz, 2-byte frames, period 20 bytes (10 ms).
    let mut clock = boundary_clock(1000, 2, 20, true);
    clock.supply(0, 100);
    clock.run(0);
    assert_eq!(events_until(&mut clock, 25 * MS), vec![(11, 22), (21, 42)]);
    clock.advance(25 * MS);
    assert_eq!(clock.position(), 50);
    clock.stop(25 * MS);
    // START again with nothing new: the device waits for data.
    clock.run(100 * MS);
    clock.advance(1000 * MS);
    assert_eq!(clock.position(), 50, "STOP dropped what was not played");
    assert_eq!(clock.next_due_ns(), None);
    clock.supply(1000 * MS, 20);
    assert_eq!(
        events_until(&mut clock, 2000 * MS),
        vec![(1006, 62), (1010, 70), (1016, 82)]
    );
    // Capture is never limited.
    let mut capture = boundary_clock(1000, 2, 20, false);
    capture.run(0);
    capture.advance(1000 * MS);
    assert_eq!(capture.position(), 2000);
}

#[test]
fn timer_events_come_once_per_period_and_pass_the_written_end_once() {
    // 48 kHz, 4-byte frames, device period 1000 frames (4000 bytes): a tick
    // every 20 ms (960 frames); 2250 frames written.
    let mut clock = PositionClock::new(48_000, 4, 4000, true, EventTiming::Timer);
    clock.supply(0, 9000);
    assert_eq!(clock.next_due_ns(), None, "not before START");
    clock.run(5 * MS);
    assert_eq!(clock.next_due_ns(), Some(25 * MS));
    assert_eq!(clock.take_due(24 * MS), None);
    let events = events_until(&mut clock, 105 * MS);
    assert_eq!(
        events,
        vec![
            (25, 3840),
            (45, 7680),
            (65, 11_520),
            (85, 9000),
            (105, 9000)
        ],
        "one per tick; the tick between the end of the data (9000) and the \
         period interrupt that stops the device (12000) reports past it, \
         then ALSA is in XRUN and snd_be reports the bytes written"
    );
    assert!(clock.is_xrun());
    clock.pause(110 * MS);
    assert_eq!(clock.next_due_ns(), None);
    clock.run(200 * MS);
    assert_eq!(clock.next_due_ns(), Some(220 * MS));
    // A late host: one event at the time it comes, the next a tick later.
    assert_eq!(clock.take_due(250 * MS), Some(9000));
    assert_eq!(clock.next_due_ns(), Some(270 * MS));
    // A period under a millisecond ticks every millisecond.
    let mut fast = PositionClock::new(48_000, 4, 40, false, EventTiming::Timer);
    fast.run(0);
    assert_eq!(fast.next_due_ns(), Some(MS));
}

#[test]
fn timer_positions_after_an_underrun_continue_from_the_data_written() {
    let mut clock = PositionClock::new(48_000, 4, 3840, true, EventTiming::Timer);
    clock.supply(0, 4000);
    clock.run(0);
    // 20 ms = 960 frames < 1000 written; the period interrupt at 1920
    // frames finds the device dry before the 40 ms tick: XRUN, so the tick
    // reports the bytes written (never past them).
    assert_eq!(
        events_until(&mut clock, 60 * MS),
        vec![(20, 3840), (40, 4000), (60, 4000)]
    );
    assert_eq!(
        clock.position(),
        7680,
        "the pointer stopped at the interrupt"
    );
    // A WRITE recovers: mFrameUnderrun = 1000 frames, the device restarts.
    clock.supply(70 * MS, 8000);
    assert!(!clock.is_xrun());
    assert_eq!(clock.position(), 4000);
    assert_eq!(
        events_until(&mut clock, 100 * MS),
        vec![(80, 4000 + 10 * 48 * 4), (100, 4000 + 30 * 48 * 4)]
    );
}

#[test]
fn timer_positions_restart_after_stop_and_start() {
    let mut clock = PositionClock::new(48_000, 4, 3840, true, EventTiming::Timer);
    clock.supply(0, 40_000);
    clock.run(0);
    assert_eq!(
        events_until(&mut clock, 40 * MS),
        vec![(20, 3840), (40, 7680)]
    );
    // STOP drops the queued data and prepares: the pointer restarts at 0
    // (no underrun yet: mFrameUnderrun = 0), below what was reported.
    clock.stop(50 * MS);
    assert_eq!(clock.next_due_ns(), None, "the timer stops");
    assert_eq!(clock.position(), 0);
    // START with nothing in the device: the pointer waits for data.
    clock.run(100 * MS);
    assert_eq!(events_until(&mut clock, 120 * MS), vec![(120, 0)]);
    clock.supply(130 * MS, 8000);
    assert_eq!(events_until(&mut clock, 140 * MS), vec![(140, 10 * 48 * 4)]);
    // After an underrun, STOP + START restarts at the frames written then.
    assert_eq!(
        events_until(&mut clock, 200 * MS),
        vec![(160, 30 * 48 * 4), (180, 50 * 48 * 4), (200, 48_000)],
        "dry at 180 ms: reported past the end, then mFrameWritten (all 48000 bytes)"
    );
    clock.supply(210 * MS, 400);
    clock.stop(215 * MS);
    assert_eq!(
        clock.position(),
        48_000,
        "mFrameUnderrun: the 48000 bytes written at the recovery"
    );
    clock.supply(216 * MS, 4000);
    clock.run(220 * MS);
    assert_eq!(
        events_until(&mut clock, 240 * MS),
        vec![(240, 48_000 + 20 * 48 * 4)]
    );
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

/// The answer latency's buckets: every millisecond below 64 ms is its own
/// bucket, then each doubling; each bucket's floor maps back to it.
#[test]
fn answer_latency_buckets_cover_every_wait() {
    for ms in 0..3000u64 {
        for extra_ns in [0, 999_999] {
            let bucket = AnswerLatency::bucket(ms * MS + extra_ns);
            assert!(bucket < ANSWER_BUCKETS);
            let floor = AnswerLatency::bucket_floor_ms(bucket);
            assert!(floor <= ms, "{ms} ms in bucket {bucket} (floor {floor})");
            if bucket + 1 < ANSWER_BUCKETS {
                assert!(AnswerLatency::bucket_floor_ms(bucket + 1) > ms, "{ms} ms");
            }
            if ms < 64 {
                assert_eq!(bucket as u64, ms);
            }
        }
    }
    assert_eq!(AnswerLatency::bucket(u64::MAX), ANSWER_BUCKETS - 1);
}

/// A wait opens at the first event after a WRITE and closes at the next
/// WRITE: events in between do not restart it, a WRITE with no event
/// before it measures nothing; quantiles are bucket edges, never beyond
/// the longest wait.
#[test]
fn answer_latency_measures_from_the_first_unanswered_event() {
    let mut answer = AnswerLatency::default();
    answer.write_arrived(5 * MS);
    assert_eq!((answer.count, answer.quantile_ms(500)), (0, None));
    answer.event_sent(10 * MS);
    answer.event_sent(20 * MS);
    answer.write_arrived(23 * MS + 500_000);
    assert_eq!((answer.count, answer.max_ns), (1, 13 * MS + 500_000));
    answer.write_arrived(30 * MS);
    assert_eq!(answer.count, 1);
    // 98 quick answers (2 ms) and one slow one (300 ms).
    for step in 0..98u64 {
        let at = 100 * MS + step * 10 * MS;
        answer.event_sent(at);
        answer.write_arrived(at + 2 * MS);
    }
    answer.event_sent(2_000 * MS);
    answer.write_arrived(2_300 * MS);
    assert_eq!(answer.count, 100);
    assert_eq!(answer.quantile_ms(500), Some(3));
    assert_eq!(answer.quantile_ms(980), Some(3));
    assert_eq!(answer.quantile_ms(990), Some(14));
    assert_eq!(answer.quantile_ms(1000), Some(300));
    assert_eq!(answer.max_ns, 300 * MS);
    let mut total = Counters::default();
    let one = Counters {
        answer: answer.clone(),
        ..Counters::default()
    };
    total.accumulate(&one);
    total.accumulate(&one);
    assert_eq!((total.answer.count, total.answer.max_ns), (200, 300 * MS));
}

/// What the backend saw before the first WRITE: a frontend that sends
/// HW_PARAM_QUERY, waits, OPEN, waits, then TRIGGER + WRITE together is
/// two batches and two requests before its first WRITE (the batch that
/// brings the WRITE is not counted, its TRIGGER is); nothing after the
/// first WRITE changes them.
#[test]
fn requests_and_batches_before_the_first_write() {
    const OPEN: u8 = 0;
    const WRITE: u8 = 3;
    const TRIGGER: u8 = 8;
    const QUERY: u8 = 9;
    let mut counters = Counters::default();
    counters.count_request(QUERY);
    counters.count_batch();
    counters.count_request(OPEN);
    counters.count_batch();
    counters.count_request(TRIGGER);
    counters.count_request(WRITE);
    counters.count_batch();
    counters.count_request(WRITE);
    counters.count_request(QUERY);
    counters.count_batch();
    assert_eq!(counters.requests_before_first_write[usize::from(QUERY)], 1);
    assert_eq!(counters.requests_before_first_write[usize::from(OPEN)], 1);
    assert_eq!(
        counters.requests_before_first_write[usize::from(TRIGGER)],
        1
    );
    assert_eq!(counters.requests_before_first_write[usize::from(WRITE)], 0);
    assert_eq!(counters.total_requests_before_first_write(), 3);
    assert_eq!(counters.request_batches_before_first_write, 2);
    assert_eq!(counters.request_batches, 4);
    assert_eq!(counters.total_requests(), 6);
    let mut total = Counters::default();
    total.accumulate(&counters);
    total.accumulate(&counters);
    assert_eq!(total.request_batches_before_first_write, 4);
    assert_eq!(total.total_requests_before_first_write(), 6);
}

#[test]
fn a_law_encoding_is_symmetric_as_alsa_lib_and_the_frontend_encode_it() {
    use super::sample::alaw_encode;
    // The backend's A-law encoder followed ITU's reference (one's
    // complement for negative samples: -16 -> 0x55), the frontend's
    // alsa-lib's s16_to_alaw (sign and magnitude: -16 -> 0x54): the two
    // ends coded half the negative samples of the first segments apart.
    assert_eq!(alaw_encode(16), 0xd4);
    assert_eq!(alaw_encode(-16), 0x54);
    assert_eq!(alaw_encode(-23), 0x54);
    assert_eq!(alaw_encode(-15), 0x55);
    let mut out = [0u8; 1];
    for v in 1..=i16::MAX {
        assert_eq!(alaw_encode(-v), alaw_encode(v) ^ 0x80, "{v}");
        assert_eq!(alaw_encode(v), xensnd_pcm::convert::alaw_encode(v));
        // The tone generator's path too.
        let value = f32::from(-v) / 32767.0;
        encode(21, value, &mut out);
        let expected = alaw_encode(libm::round(f64::from(value) * 32767.0) as i16);
        assert_eq!(out[0], expected, "{v}");
    }
}

#[test]
fn g711_codes_round_trip_and_order() {
    use super::sample::{alaw_decode, alaw_encode, mulaw_decode, mulaw_encode};
    for code in 0..=255u8 {
        let expected = if code == 0x7f { 0xff } else { code };
        assert_eq!(
            mulaw_encode(mulaw_decode(code)),
            expected,
            "mu-law {code:#x}"
        );
        assert_eq!(alaw_encode(alaw_decode(code)), code, "a-law {code:#x}");
    }
    assert_eq!(mulaw_encode(0), 0xff);
    assert_eq!(alaw_encode(0), 0xd5);
    assert_eq!(mulaw_decode(0xff), 0);
    assert_eq!(mulaw_decode(0x80), 32_124);
    assert_eq!(mulaw_decode(0x00), -32_124);
    assert_eq!(alaw_decode(0xaa), 32_256);
    assert_eq!(alaw_decode(0x2a), -32_256);
    // Monotonic: a louder sample never gets a quieter code.
    let mut last = (i32::MIN, i32::MIN);
    for sample in (i16::MIN..=i16::MAX).step_by(7) {
        let decoded = (
            i32::from(mulaw_decode(mulaw_encode(sample))),
            i32::from(alaw_decode(alaw_encode(sample))),
        );
        assert!(decoded.0 >= last.0 && decoded.1 >= last.1, "{sample}");
        last = decoded;
    }
    let mut out = [0u8; 1];
    encode(20, 0.0, &mut out);
    assert_eq!(out[0], 0xff);
    encode(21, 1.0, &mut out);
    assert_eq!(out[0], 0xaa);
}

#[test]
fn underruns_are_data_that_came_after_the_running_device_ran_dry_in_both_timings() {
    // 1000 Hz, 2-byte frames, period 20 bytes (10 ms), for both devices:
    // data before START and the first data of an empty START are not
    // underruns; data in time is not; data after the device played past
    // what it held is, once per gap; the drain at the end is not (no data
    // comes after it).
    for timing in [EventTiming::PeriodBoundary, EventTiming::Timer] {
        let mut clock = PositionClock::new(1000, 2, 20, true, timing);
        assert!(!clock.supply(0, 40), "{timing:?}: prefill before START");
        clock.run(0);
        let _ = events_until(&mut clock, 15 * MS);
        assert!(
            !clock.supply(15 * MS, 40),
            "{timing:?}: in time (30 of 80 bytes played)"
        );
        let _ = events_until(&mut clock, 200 * MS);
        clock.advance(200 * MS);
        assert!(
            clock.supply(200 * MS, 2),
            "{timing:?}: 160 ms after the data ended"
        );
        // Catching up in small WRITEs at once: the same gap, counted once.
        assert!(!clock.supply(200 * MS, 2), "{timing:?}: the same gap");
        assert!(!clock.supply(200 * MS, 36), "{timing:?}: the same gap");
        let _ = events_until(&mut clock, 205 * MS);
        assert!(!clock.supply(205 * MS, 40), "{timing:?}: in time again");
        let _ = events_until(&mut clock, 1000 * MS);
        clock.advance(1000 * MS);
        clock.stop(1000 * MS);
        // START empty, then the first data: the device waited, no gap.
        clock.run(1100 * MS);
        clock.advance(1200 * MS);
        assert!(
            !clock.supply(1200 * MS, 40),
            "{timing:?}: first data of an empty START"
        );
    }
}

/// What [`output_paced_clock_in_lockstep_with_real_time_is_the_real_time_clock`]
/// does at a millisecond.
#[derive(Debug, Clone, Copy)]
enum ClockOp {
    Supply(u32),
    Run,
    Pause,
    Stop,
}

#[test]
fn output_paced_clock_in_lockstep_with_real_time_is_the_real_time_clock() {
    // One clock, two time bases: an output that plays exactly at the
    // nominal rate (1000 Hz, a frame a millisecond, so no carry) makes
    // the same positions, events, deadlines and underruns as real time,
    // through prefill, an underrun caught up in three WRITEs, a drain,
    // PAUSE/RESUME, STOP and an empty START; for both event timings and a
    // few periods and frame sizes.
    let script: &[(u64, ClockOp)] = &[
        (0, ClockOp::Supply(40)),
        (0, ClockOp::Run),
        (15, ClockOp::Supply(40)),
        (200, ClockOp::Supply(2)),
        (200, ClockOp::Supply(2)),
        (200, ClockOp::Supply(36)),
        (205, ClockOp::Supply(60)),
        (230, ClockOp::Pause),
        (260, ClockOp::Run),
        (261, ClockOp::Supply(20)),
        (300, ClockOp::Stop),
        (320, ClockOp::Run),
        (340, ClockOp::Supply(40)),
    ];
    for timing in [EventTiming::PeriodBoundary, EventTiming::Timer] {
        for (frame, period) in [(2, 20), (4, 24), (1, 7)] {
            let case = (timing, frame, period);
            let mut real = PositionClock::new(1000, frame, period, true, timing);
            let mut output =
                PositionClock::new(1000, frame, period, true, timing).with_pace(Pace::Output);
            assert_eq!((real.pace(), output.pace()), (Pace::RealTime, Pace::Output));
            let mut events = 0;
            for ms in 0..=600u64 {
                let now = ms * MS;
                output.feed(ms);
                for (_, op) in script.iter().filter(|(at, _)| *at == ms) {
                    match *op {
                        ClockOp::Supply(bytes) => assert_eq!(
                            real.supply(now, bytes),
                            output.supply(now, bytes),
                            "{case:?} at {ms} ms: underrun"
                        ),
                        ClockOp::Run => {
                            real.run(now);
                            output.run(now);
                        }
                        ClockOp::Pause => {
                            real.pause(now);
                            output.pause(now);
                        }
                        ClockOp::Stop => {
                            real.stop(now);
                            output.stop(now);
                        }
                    }
                }
                let event = real.take_due(now);
                assert_eq!(event, output.take_due(now), "{case:?} at {ms} ms");
                events += usize::from(event.is_some());
                assert_eq!(real.position(), output.position(), "{case:?} at {ms} ms");
                assert_eq!(real.next_due_ns(), output.next_due_ns(), "{case:?}");
                assert_eq!(real.is_xrun(), output.is_xrun(), "{case:?}");
            }
            assert!(events > 10, "{case:?}: {events} events");
        }
    }
}

#[test]
fn an_output_paced_position_moves_with_the_output_not_with_time() {
    for timing in [EventTiming::PeriodBoundary, EventTiming::Timer] {
        // 1000 Hz, 2-byte frames, period 20 bytes (10 frames).
        let mut clock = PositionClock::new(1000, 2, 20, true, timing).with_pace(Pace::Output);
        clock.feed(500);
        assert!(!clock.supply(0, 100), "{timing:?}");
        clock.feed(700);
        clock.run(0);
        // A second passes, the output stalled: no move, no underrun later.
        clock.advance(1000 * MS);
        assert_eq!(clock.position(), 0, "{timing:?}: frames before START");
        // The output takes 4 frames: the position follows.
        clock.feed(704);
        clock.advance(1000 * MS);
        assert_eq!(clock.position(), 8, "{timing:?}");
        // Time alone still moves nothing; PAUSE freezes what is fed.
        clock.advance(5000 * MS);
        assert_eq!(clock.position(), 8, "{timing:?}");
        clock.pause(5000 * MS);
        clock.feed(900);
        clock.run(6000 * MS);
        clock.advance(6000 * MS);
        assert_eq!(clock.position(), 8, "{timing:?}: frames while paused");
        // More data while the output stalled is not an underrun.
        assert!(!clock.supply(7000 * MS, 20), "{timing:?}");
        clock.feed(915);
        assert_eq!(clock.position(), 38, "{timing:?}");
        assert!(clock.take_due(7000 * MS).is_some(), "{timing:?}");
    }
    // Period-boundary events: at the fed position, once a frame past the
    // boundary; the deadline is a nominal-rate estimate to look again at.
    let mut clock = boundary_clock(1000, 1, 10, true).with_pace(Pace::Output);
    clock.feed(0);
    clock.supply(0, 50);
    clock.run(0);
    assert_eq!(clock.next_due_ns(), Some(11 * MS));
    clock.feed(10);
    assert_eq!(clock.take_due(50 * MS), None, "on the boundary");
    assert_eq!(clock.next_due_ns(), Some(51 * MS));
    clock.feed(13);
    assert_eq!(clock.take_due(52 * MS), Some(13));
    assert_eq!(clock.take_due(52 * MS), None);
    // The output plays past the data (silence for a dry queue): the end
    // once, then one frame past the next boundary, then hold.
    clock.feed(100);
    assert_eq!(clock.take_due(60 * MS), Some(50));
    assert_eq!(clock.take_due(60 * MS), Some(51));
    assert_eq!(clock.next_due_ns(), None);
    clock.feed(200);
    assert_eq!(clock.position(), 51);
    // The late data is an underrun, counted once.
    assert!(clock.supply(70 * MS, 10));
    assert!(!clock.supply(70 * MS, 10));
}
