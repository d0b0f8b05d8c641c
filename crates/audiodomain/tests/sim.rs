//! The audio domain in the simulator (#16 item 5): N guests' real sndif
//! frontends play into the backend engine, whose sinks feed one mixer; the
//! test takes the mix a period at a time (the output's pace, simulated
//! time) and compares it, sample for sample, with a mix computed here from
//! the signals the guests played, by the integer rules `xensnd-mix`
//! documents.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use xensnd_audiodomain::{AudioDomain, Duck, RefusalReason};
use xensnd_mix::{MixError, StreamConfig, UNITY_Q30};
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::gain::gain_q30;
use xensnd_pcm::{Playback, Stream};
use xensnd_sim::backend_host::{BackendProfile, SimSndBackend};
use xensnd_sim::vsnd::{add_vsnd_device, frontend_path, SimPcmSpec, SimStreamSpec, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::SndPlayback;

const RATE: u32 = 48_000;
/// Frames per round: a period of every guest, one output block.
const PERIOD: usize = 480;
const BUFFER: u32 = 4 * PERIOD as u32;
const ROUNDS: usize = 40;
/// The alert plays in rounds `ALERT.0..ALERT.1`, the guests ducked.
const ALERT: (usize, usize) = (10, 16);
const DUCK_MILLIDB: i32 = -12_000;

/// A guest's signal: its format, channels, and its samples decoded to the
/// mixer's full 32-bit scale, computed here (not by the converter).
struct Signal {
    format: SampleFormat,
    channels: u8,
    bytes: Vec<u8>,
    /// `[frame][channel]` at full scale (`x * 2^31`).
    full: Vec<Vec<i64>>,
}

fn tone(frame: usize, hz: f64, amplitude: f64) -> f64 {
    amplitude * (2.0 * std::f64::consts::PI * hz * frame as f64 / f64::from(RATE)).sin()
}

/// s16_le stereo: 440 Hz left, 660 Hz right.
fn s16_stereo(frames: usize) -> Signal {
    let (mut bytes, mut full) = (Vec::new(), Vec::new());
    for frame in 0..frames {
        let left = tone(frame, 440.0, 6000.0).round() as i16;
        let right = tone(frame, 660.0, 4000.0).round() as i16;
        bytes.extend(left.to_le_bytes());
        bytes.extend(right.to_le_bytes());
        full.push(vec![i64::from(left) << 16, i64::from(right) << 16]);
    }
    Signal {
        format: SampleFormat::S16Le,
        channels: 2,
        bytes,
        full,
    }
}

/// s32_le mono, 1 kHz, with low bits the output's rounding sees.
fn s32_mono(frames: usize) -> Signal {
    let (mut bytes, mut full) = (Vec::new(), Vec::new());
    for frame in 0..frames {
        let value = tone(frame, 1000.0, 0.2 * 2f64.powi(31)).round() as i32 + 0x1_2345;
        bytes.extend(value.to_le_bytes());
        // Mono into stereo: duplicated.
        full.push(vec![i64::from(value), i64::from(value)]);
    }
    Signal {
        format: SampleFormat::S32Le,
        channels: 1,
        bytes,
        full,
    }
}

/// u8 stereo, 250 Hz.
fn u8_stereo(frames: usize) -> Signal {
    let (mut bytes, mut full) = (Vec::new(), Vec::new());
    for frame in 0..frames {
        let left = (128.0 + tone(frame, 250.0, 20.0)).round() as u8;
        let right = (128.0 - tone(frame, 250.0, 10.0)).round() as u8;
        bytes.extend([left, right]);
        full.push(vec![
            (i64::from(left) - 128) << 24,
            (i64::from(right) - 128) << 24,
        ]);
    }
    Signal {
        format: SampleFormat::U8,
        channels: 2,
        bytes,
        full,
    }
}

/// The alert: s16_le mono, 2 kHz.
fn alert_signal(frames: usize) -> (Vec<u8>, Vec<i64>) {
    let samples: Vec<i16> = (0..frames)
        .map(|frame| tone(frame, 2000.0, 8000.0).round() as i16)
        .collect();
    let bytes = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    (bytes, samples.iter().map(|s| i64::from(*s) << 16).collect())
}

fn output_config() -> StreamConfig {
    StreamConfig {
        format: SampleFormat::S16Le,
        rate: RATE,
        channels: 2,
        period_frames: PERIOD as u32,
        buffer_frames: BUFFER,
    }
}

/// `value / 2^shift` rounded to the nearest integer, ties to even.
fn round_half_even_shift(value: i128, shift: u32) -> i128 {
    let floor = value >> shift;
    let rest = value - (floor << shift);
    let half = 1i128 << (shift - 1);
    if rest > half || (rest == half && floor & 1 == 1) {
        floor + 1
    } else {
        floor
    }
}

/// One output sample from the ordinary clients' sum, the duck gain (Q30)
/// and the priority clients' sum, as `xensnd-mix` documents: gain applied
/// to the sum (rounded half to even), priority added, clipped to
/// `[-2^31, 2^31]`, `2^31` as `i32::MAX`, then s16 by
/// `round_half_even(s / 2^16)` clipped to 32767.
fn expected_sample(ordinary: i64, gain: u32, priority: i64) -> i16 {
    let ducked = round_half_even_shift(i128::from(ordinary) * i128::from(gain), 30);
    let full = 1i128 << 31;
    let mixed = (ducked + i128::from(priority)).clamp(-full, full);
    let mixed = mixed.min(i128::from(i32::MAX));
    round_half_even_shift(mixed, 16).min(i128::from(i16::MAX)) as i16
}

/// A guest with one vsnd card (`spk`, at 44.1 or 48 kHz, s16/s32/u8, 1 or
/// 2 channels), served by the audio domain's backend.
fn add_guest(sim: &SimXen, domid: u16) -> Frontend<SimGuest> {
    let node = |k: &str, v: &str| (k.to_string(), v.to_string());
    let spec = SimVsndSpec {
        card: vec![
            node("short-name", "AudioDomain"),
            node("sample-rates", "44100,48000"),
            node("sample-formats", "s16_le,s32_le,u8"),
            node("channels-min", "1"),
            node("channels-max", "2"),
            node("buffer-size", "65536"),
        ],
        pcms: vec![SimPcmSpec {
            name: "main".into(),
            nodes: vec![],
            streams: vec![SimStreamSpec {
                unique_id: "spk".into(),
                playback: true,
                nodes: vec![],
            }],
        }],
    };
    let guest = sim.add_guest(domid);
    sim.with_core(|core| add_vsnd_device(core, domid, 0, &spec));
    let store = guest.xenstore().unwrap();
    let probe = Frontend::probe(guest, store, FrontendOptions::default()).unwrap();
    assert!(probe.failed.is_empty(), "{:?}", probe.failed);
    probe.frontend
}

/// The simulation with the audio domain's backend: every playback stream's
/// sink is a client of `domain`'s mixer.
fn start(domain: &AudioDomain) -> SimXen {
    let sim = SimXen::new();
    let mixer = domain.mixer().clone();
    let (backend, _view) = SimSndBackend::new(
        BackendProfile::Sndback.settings(1 << 20),
        SimSndBackend::silence(),
    );
    let backend = backend.with_sinks(Box::new(move |domid, stream| {
        Box::new(mixer.sink(format!("dom{domid} {}", stream.unique_id)))
    }));
    sim.add_peer(Box::new(backend));
    sim
}

/// How a guest leaves mid-stream.
#[derive(Clone, Copy, PartialEq)]
enum Leave {
    /// CLOSE (the sink's finish).
    Close,
    /// The frontend's XenBus state goes to Closed (the device is torn
    /// down, the sink dropped).
    Disconnect,
}

struct Guest {
    domid: u16,
    signal: Signal,
    _frontend: Frontend<SimGuest>,
    playback: Option<SndPlayback<SimGuest>>,
    /// Leaves before writing in this round.
    leave: Option<(usize, Leave)>,
}

impl Guest {
    fn active(&self, round: usize) -> bool {
        self.leave.is_none_or(|(at, _)| round < at)
    }
}

/// `signals` played by one guest each, through the engine into the mix,
/// compared with the independent mix; returns the output.
fn play_and_compare(signals: Vec<(Signal, Option<(usize, Leave)>)>) -> Vec<i16> {
    let mut domain = AudioDomain::new(&output_config()).unwrap();
    let sim = start(&domain);
    let mut guests: Vec<Guest> = signals
        .into_iter()
        .zip(1u16..)
        .map(|((signal, leave), domid)| {
            let frontend = add_guest(&sim, domid);
            let request =
                StreamRequest::exact(signal.format, RATE, signal.channels, PERIOD as u32, BUFFER);
            let mut playback = SndPlayback::open_unique_id(&frontend, "spk", &request).unwrap();
            playback.prepare().unwrap();
            Guest {
                domid,
                signal,
                _frontend: frontend,
                playback: Some(playback),
                leave,
            }
        })
        .collect();
    assert_eq!(
        domain.mixer().with(|mixer| mixer.clients().count()),
        guests.len()
    );
    let (alert_bytes, alert_full) = alert_signal(PERIOD * (ALERT.1 - ALERT.0));
    let mut alert = None;
    let duck_gain = gain_q30(DUCK_MILLIDB);
    let mut output = Vec::new();
    let mut expected = Vec::new();
    let mut block = vec![0u8; PERIOD * 4];
    for round in 0..ROUNDS {
        for guest in &mut guests {
            if let Some((at, how)) = guest.leave {
                if round == at {
                    let playback = guest.playback.take().unwrap();
                    match how {
                        Leave::Close => {
                            let mut playback = playback;
                            playback.close().unwrap();
                        }
                        Leave::Disconnect => {
                            let path = format!("{}/state", frontend_path(guest.domid, 0));
                            sim.store_write(&path, b"6").unwrap();
                            // The stream is gone with the device: never
                            // touched again.
                            std::mem::forget(playback);
                        }
                    }
                }
            }
            if !guest.active(round) {
                continue;
            }
            let frame = guest.signal.bytes.len() / guest.signal.full.len();
            let bytes = &guest.signal.bytes[round * PERIOD * frame..(round + 1) * PERIOD * frame];
            let written = guest.playback.as_mut().unwrap().write(bytes).unwrap();
            assert_eq!(written, PERIOD);
        }
        if round == ALERT.0 {
            let config = StreamConfig {
                channels: 1,
                ..output_config()
            };
            let duck = Duck {
                millidb: DUCK_MILLIDB,
                ramp_ms: 0,
            };
            alert = Some(domain.start_alert(&config, BUFFER, duck).unwrap());
        }
        if round == ALERT.1 {
            domain.stop_alert(alert.take().unwrap(), 0).unwrap();
        }
        if let Some(id) = alert {
            let at = (round - ALERT.0) * PERIOD * 2;
            let taken = domain
                .push_alert(id, &alert_bytes[at..at + PERIOD * 2])
                .unwrap();
            assert_eq!(taken, PERIOD * 2);
        }
        // The output's pace: a period of simulated time per block.
        let now = sim.now_ns();
        sim.run_until(now + 10_000_000);
        let active: Vec<&Guest> = guests.iter().filter(|g| g.active(round)).collect();
        let consumed = domain.mix(PERIOD, &mut block).unwrap().to_vec();
        assert_eq!(
            consumed.len(),
            active.len() + usize::from(alert.is_some()),
            "round {round}: {consumed:?}"
        );
        for entry in &consumed {
            assert_eq!(
                (entry.frames, entry.underrun_frames),
                (PERIOD as u32, 0),
                "round {round}: {consumed:?}"
            );
        }
        output.extend(
            block
                .chunks_exact(2)
                .map(|pair| i16::from_le_bytes([pair[0], pair[1]])),
        );
        let gain = if alert.is_some() {
            duck_gain
        } else {
            UNITY_Q30
        };
        for frame in round * PERIOD..(round + 1) * PERIOD {
            for channel in 0..2 {
                let ordinary: i64 = active.iter().map(|g| g.signal.full[frame][channel]).sum();
                let priority = if alert.is_some() {
                    alert_full[frame - ALERT.0 * PERIOD]
                } else {
                    0
                };
                expected.push(expected_sample(ordinary, gain, priority));
            }
        }
    }
    for (index, (got, want)) in output.iter().zip(&expected).enumerate() {
        assert_eq!(
            got,
            want,
            "sample {index} (frame {}, channel {})",
            index / 2,
            index % 2
        );
    }
    assert_eq!(output.len(), expected.len());
    // Whoever left is out of the mixer; the others are still in.
    let left = guests.iter().filter(|g| !g.active(ROUNDS)).count();
    assert_eq!(
        domain.mixer().with(|mixer| mixer.clients().count()),
        guests.len() - left
    );
    assert_eq!(
        domain.mixer().with(|mixer| mixer.stats().clipped_samples),
        0
    );
    output
}

/// Peak magnitude of channel `channel` in frames `from..to` of `output`.
fn peak(output: &[i16], channel: usize, from: usize, to: usize) -> i32 {
    (from..to)
        .map(|frame| i32::from(output[frame * 2 + channel]).abs())
        .max()
        .unwrap()
}

#[test]
fn two_guests_mix_sample_exact_one_closes_midstream_and_an_alert_ducks_the_other() {
    let frames = PERIOD * ROUNDS;
    let output = play_and_compare(vec![
        (s16_stereo(frames), None),
        (s32_mono(frames), Some((24, Leave::Close))),
    ]);
    // After the close, the output is the first guest's signal alone, bit
    // for bit (s16 in, s16 out, 0 dB).
    let first = s16_stereo(frames);
    for frame in 24 * PERIOD..frames {
        for channel in 0..2 {
            assert_eq!(
                i64::from(output[frame * 2 + channel]) << 16,
                first.full[frame][channel]
            );
        }
    }
}

#[test]
fn three_guests_mix_sample_exact_through_close_disconnect_and_a_ducked_alert() {
    let frames = PERIOD * ROUNDS;
    play_and_compare(vec![
        (s16_stereo(frames), None),
        (s32_mono(frames), Some((24, Leave::Close))),
        (u8_stereo(frames), Some((30, Leave::Disconnect))),
    ]);
}

#[test]
fn the_ducked_section_is_measured_in_the_output() {
    // One guest; its level under the alert, the alert's own contribution
    // (known, mono on both channels) taken out: -12 dB is a gain of about
    // 0.251.
    let frames = PERIOD * ROUNDS;
    let output = play_and_compare(vec![(s16_stereo(frames), None)]);
    let (_, alert_full) = alert_signal(PERIOD * (ALERT.1 - ALERT.0));
    let guest_under_alert: Vec<i16> = (ALERT.0 * PERIOD..ALERT.1 * PERIOD)
        .flat_map(|frame| {
            let alert = (alert_full[frame - ALERT.0 * PERIOD] >> 16) as i16;
            [output[frame * 2] - alert, output[frame * 2 + 1] - alert]
        })
        .collect();
    let before = peak(&output, 0, 0, ALERT.0 * PERIOD);
    let ducked = peak(&guest_under_alert, 0, 0, (ALERT.1 - ALERT.0) * PERIOD);
    let after = peak(&output, 0, ALERT.1 * PERIOD, frames);
    assert_eq!(before, 6000);
    assert_eq!(after, 6000);
    let ratio = f64::from(ducked) / f64::from(before);
    assert!(
        (ratio - 0.251).abs() < 0.002,
        "ducked peak {ducked}: {ratio}"
    );
}

#[test]
fn a_guest_at_another_rate_is_refused_clearly_at_open() {
    let domain = AudioDomain::new(&output_config()).unwrap();
    let sim = start(&domain);
    let frontend = add_guest(&sim, 1);
    let request = StreamRequest::exact(SampleFormat::S16Le, 44_100, 2, 441, 1764);
    let mut playback = SndPlayback::open_unique_id(&frontend, "spk", &request).unwrap();
    // OPEN goes out at prepare: the sink refuses it, the guest sees EIO.
    let error = playback.prepare().unwrap_err();
    assert!(error.to_string().contains("status -5"), "{error}");
    let refusal = domain.mixer().last_refusal().unwrap();
    assert_eq!(
        refusal.reason,
        RefusalReason::Mixer(MixError::RateMismatch {
            client: 44_100,
            output: 48_000
        })
    );
    assert_eq!(
        refusal.to_string(),
        "dom1 spk: refused: client rate 44100 Hz differs from the output's 48000 Hz (no resampling)"
    );
    assert_eq!(domain.mixer().with(|mixer| mixer.clients().count()), 0);
}
