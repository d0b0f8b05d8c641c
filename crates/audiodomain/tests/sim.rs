//! The audio domain in the simulator (#16 item 5): N guests' real sndif
//! frontends play into the backend engine, whose sinks feed one mixer; the
//! test takes the mix a period at a time (the output's pace, simulated
//! time) and compares it, sample for sample, with a mix computed here from
//! the signals the guests played, by the integer rules `xensnd-mix`
//! documents.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::cell::RefCell;
use std::rc::Rc;
use xensnd_audiodomain::{AudioDomain, Duck, RefusalReason};
use xensnd_mix::{MixError, StreamConfig, UNITY_Q30};
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::gain::gain_q30;
use xensnd_pcm::{Playback, Stream};

use xensnd_pcm::{Error as _, ErrorKind};
use xensnd_sim::backend_host::{BackendProfile, SimBackendView, SimSndBackend};
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
    start_with_view(domain).0
}

/// [`start`], and the backend's view (its streams' counters).
fn start_with_view(domain: &AudioDomain) -> (SimXen, Rc<RefCell<SimBackendView>>) {
    let sim = SimXen::new();
    let mixer = domain.mixer().clone();
    let (backend, view) = SimSndBackend::new(
        BackendProfile::Sndback.settings(1 << 20),
        SimSndBackend::silence(),
    );
    let backend = backend.with_sinks(Box::new(move |domid, stream| {
        Box::new(mixer.sink(format!("dom{domid} {}", stream.unique_id)))
    }));
    sim.add_peer(Box::new(backend));
    (sim, view)
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
            // The mixer takes a stream from its TRIGGER START on; started
            // empty, the device waits for the first data.
            playback.start().unwrap();
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

// ---------------------------------------------------------------------
// Output-paced positions and TRIGGERs reaching the mixer.

/// What a guest does at the start of a round of [`run_paced`].
#[derive(Clone, Copy, Debug, PartialEq)]
enum Action {
    Pause,
    Resume,
    Stop,
}

/// One guest of [`run_paced`].
struct Paced {
    signal: Signal,
    frame: usize,
    _frontend: Frontend<SimGuest>,
    playback: SndPlayback<SimGuest>,
    /// Frames written so far.
    written: usize,
    /// Frames the mix took from it so far.
    mixed: usize,
    paused: bool,
    stopped: bool,
    /// Its position (frames) as the guest saw it at each round's end.
    positions: Vec<u64>,
}

/// What [`run_paced`] saw.
struct PacedRun {
    guests: Vec<Paced>,
    /// The engine's underrun counter per guest at the end.
    engine_underruns: Vec<u64>,
    /// The mixer's client counters per guest at the end.
    stats: Vec<xensnd_mix::ClientStats>,
    /// Bytes each guest's client has queued at the end.
    queued: Vec<usize>,
    /// Simulated time the run took.
    elapsed_ns: u64,
}

/// `signals` (one guest each) at `period`/`buffer` frames, the output
/// taking `mix(round)` frames each round while two periods of simulated
/// time pass (never faster than real time), `actions` applied at the
/// start of their round. Every round: each running guest writes what fits
/// (never blocking), the mix is compared sample for sample with the mix
/// computed here from what each client gave, no client underruns, and
/// each running guest's position (CUR_POS, as the guest saw it) is at most
/// what the mix took from it and at most a period behind (an event comes
/// once the position is a frame past a period boundary).
fn run_paced(
    signals: Vec<Signal>,
    period: usize,
    buffer: u32,
    rounds: usize,
    mix: &dyn Fn(usize) -> usize,
    actions: &[(usize, usize, Action)],
) -> PacedRun {
    let mut domain = AudioDomain::new(&output_config()).unwrap();
    let (sim, view) = start_with_view(&domain);
    let started = sim.now_ns();
    let mut guests: Vec<Paced> = signals
        .into_iter()
        .zip(1u16..)
        .map(|(signal, domid)| {
            let frontend = add_guest(&sim, domid);
            let request =
                StreamRequest::exact(signal.format, RATE, signal.channels, period as u32, buffer);
            let mut playback = SndPlayback::open_unique_id(&frontend, "spk", &request).unwrap();
            playback.prepare().unwrap();
            Paced {
                frame: signal.bytes.len() / signal.full.len(),
                signal,
                _frontend: frontend,
                playback,
                written: 0,
                mixed: 0,
                paused: false,
                stopped: false,
                positions: Vec::new(),
            }
        })
        .collect();
    let period_ns = period as u64 * 1_000_000_000 / u64::from(RATE);
    let mut block = vec![0u8; period * 4];
    for round in 0..rounds {
        for &(_, index, action) in actions.iter().filter(|(at, ..)| *at == round) {
            let guest = &mut guests[index];
            match action {
                Action::Pause => guest.playback.pause().unwrap(),
                Action::Resume => guest.playback.resume().unwrap(),
                Action::Stop => guest.playback.stop().unwrap(),
            }
            guest.paused = action == Action::Pause;
            guest.stopped = action == Action::Stop;
        }
        for guest in guests.iter_mut().filter(|g| !g.paused && !g.stopped) {
            let rest = &guest.signal.bytes[guest.written * guest.frame..];
            let frames = match guest.playback.try_write(rest) {
                Ok(frames) => frames,
                Err(error) if error.kind() == ErrorKind::WouldBlock => 0,
                Err(error) => panic!("round {round}: {error}"),
            };
            guest.written += frames;
            if round == 0 {
                // A full buffer, then START (the mixer plays from here).
                assert_eq!(guest.written, buffer as usize);
                guest.playback.start().unwrap();
            }
        }
        sim.run_until(sim.now_ns() + period_ns);
        let frames = mix(round);
        let consumed = domain.mix(frames, &mut block).unwrap().to_vec();
        assert_eq!(consumed.len(), guests.len(), "round {round}");
        let mut expected = vec![[0i64; 2]; frames];
        for (guest, entry) in guests.iter_mut().zip(&consumed) {
            let playing = !guest.paused && !guest.stopped;
            assert_eq!(
                (entry.frames as usize, entry.underrun_frames),
                (if playing { frames } else { 0 }, 0),
                "round {round}: {consumed:?}"
            );
            for (offset, sum) in expected.iter_mut().enumerate().take(entry.frames as usize) {
                for (channel, total) in sum.iter_mut().enumerate() {
                    *total += guest.signal.full[guest.mixed + offset][channel];
                }
            }
            guest.mixed += entry.frames as usize;
        }
        for (index, sum) in expected.iter().enumerate() {
            for (channel, value) in sum.iter().enumerate() {
                let at = (index * 2 + channel) * 2;
                let got = i16::from_le_bytes([block[at], block[at + 1]]);
                assert_eq!(
                    got,
                    expected_sample(*value, UNITY_Q30, 0),
                    "round {round} frame {index} channel {channel}"
                );
            }
        }
        // The backend looks again within a period of the output's nominal
        // time; the guest sees the events at its next call.
        sim.run_until(sim.now_ns() + 2 * period_ns);
        for guest in &mut guests {
            let _ = guest.playback.write_ready();
            let position = guest.playback.position();
            let mixed = guest.mixed as u64;
            assert!(
                position <= mixed,
                "round {round}: position {position} past the mix's {mixed}"
            );
            if !guest.stopped {
                assert!(
                    mixed - position <= period as u64,
                    "round {round}: position {position} more than a period behind the mix's {mixed}"
                );
            }
            guest.positions.push(position);
        }
    }
    let engine_underruns = (1..=guests.len() as u32)
        .map(|domid| {
            let view = view.borrow();
            let summary = view.active.iter().find(|s| s.domid == domid).unwrap();
            summary.counters.underruns
        })
        .collect();
    let (stats, queued) = domain.mixer().with(|mixer| {
        mixer
            .clients()
            .map(|id| {
                (
                    mixer.client_stats(id).unwrap(),
                    mixer.queued_bytes(id).unwrap(),
                )
            })
            .unzip()
    });
    PacedRun {
        guests,
        engine_underruns,
        stats,
        queued,
        elapsed_ns: sim.now_ns() - started,
    }
}

/// The (period, buffer) frames the paced tests sweep.
const SWEEP: [(usize, u32); 3] = [(240, 960), (480, 1440), (1024, 4096)];

#[test]
fn positions_follow_a_slow_and_stalling_output_not_the_clock() {
    for (period, buffer) in SWEEP {
        let rounds = 48;
        // The output takes a period, half, a third, nothing; and stalls
        // for rounds 20..30: no position moves, nobody underruns.
        let mix = move |round: usize| {
            if (20..30).contains(&round) {
                return 0;
            }
            match round % 4 {
                0 => period,
                1 => period / 2,
                2 => period / 3,
                _ => 0,
            }
        };
        let frames = period * rounds * 2;
        let run = run_paced(
            vec![s16_stereo(frames), s32_mono(frames)],
            period,
            buffer,
            rounds,
            &mix,
            &[],
        );
        let took: usize = (0..rounds).map(mix).sum();
        for (index, guest) in run.guests.iter().enumerate() {
            assert_eq!(guest.mixed, took, "{period}/{buffer} guest {index}");
            // Real time would have played far more than the output took.
            let real_time = run.elapsed_ns * u64::from(RATE) / 1_000_000_000;
            assert!(real_time > 2 * took as u64, "{real_time} vs {took}");
            // The stall: no advance, after it the position moves again.
            let stalled = &guest.positions[19..30];
            assert!(stalled.iter().all(|p| *p == stalled[0]), "{stalled:?}");
            assert!(guest.positions[rounds - 1] > stalled[0]);
            // The last position is what the mix took, to less than a period.
            let last = guest.positions[rounds - 1];
            assert!(took as u64 - last <= period as u64, "{last} vs {took}");
            assert_eq!(run.engine_underruns[index], 0, "{period}/{buffer}");
            assert_eq!(run.stats[index].underruns, 0);
            assert_eq!(run.stats[index].refused_bytes, 0);
        }
    }
}

#[test]
fn a_paused_guest_is_silent_resumes_sample_exact_and_a_stop_drops_its_queue() {
    for (period, buffer) in SWEEP {
        let rounds = 40;
        let frames = period * rounds * 2;
        // Guest 1 (s32 mono) pauses in rounds 8..16, stops at 30; guest
        // 0 (s16 stereo) plays throughout. The output takes a period a
        // round (half real time).
        let actions = [
            (8, 1, Action::Pause),
            (16, 1, Action::Resume),
            (30, 1, Action::Stop),
        ];
        let run = run_paced(
            vec![s16_stereo(frames), s32_mono(frames)],
            period,
            buffer,
            rounds,
            &|_| period,
            &actions,
        );
        let (playing, paused) = (&run.guests[0], &run.guests[1]);
        assert_eq!(playing.mixed, period * rounds);
        // Paused 8 rounds, stopped for the last 10.
        assert_eq!(paused.mixed, period * (rounds - 8 - 10));
        // Paused: the position holds; stopped: it holds too.
        let held = &paused.positions[8..16];
        assert!(held.iter().all(|p| *p == held[0]), "{held:?}");
        let after_stop = &paused.positions[30..];
        assert!(after_stop.iter().all(|p| *p == after_stop[0]));
        // What it had queued at STOP (written, not mixed) was dropped.
        assert_eq!(run.stats[1].accepted_bytes, paused.written as u64 * 4);
        assert!(paused.written > paused.mixed, "{period}/{buffer}");
        assert_eq!((run.queued[0] > 0, run.queued[1]), (true, 0));
        for index in 0..2 {
            assert_eq!(run.engine_underruns[index], 0, "{period}/{buffer}");
            assert_eq!(run.stats[index].underruns, 0, "{period}/{buffer}");
        }
    }
}
