//! The demo runner: picks what to do from the guest command line (`extra=`
//! in the xl config), opens sndif streams and runs the demos, printing one
//! `XENSND-RESULT` line per stream that tests parse.
//!
//! Options (key=value, all optional):
//! - `demo=tone|chime|record|loopback|list|idle|cycles` (default `tone`)
//! - `stream=<unique-id>[,<unique-id>...]`: streams to use (default: the
//!   first playback, or capture for `record`); several streams play at once
//! - `freq=<Hz>[,<Hz>...]` (tone, per stream), `ms=<length>`, `level=<0.001 dBFS>`
//! - `rate=`, `channels=`, `period=` (frames), `buffer=` (frames): requested configuration
//! - `format=<name>`: the stream's sample format (any sndif name with a
//!   sample value, e.g. `s32_le`, `float_le`, `mu_law`); default: the best
//!   the stream offers (negotiation's choice). The demo's `i16` signal is
//!   converted to it ([`xensnd_pcm::convert`]); CRCs are over the stream's bytes
//! - `pause-at=<ms>` and `pause-ms=<ms>`: pause and resume mid-stream
//! - `volume=<0.001 dB>` and `mute=1`: set on the stream before playing
//! - `timeout-ms=`: request timeout; `depth=`: requests in flight
//! - `reconnect-ms=<ms>`: how long playback waits for a backend that went
//!   away to come back (default 10000; 0: fail at once)
//! - `demo=cycles cycles=<N>`: open, prepare, write a period and close the
//!   stream N times (default 100), printing the grants and event channels
//!   in use before and after
//!
//! When the backend restarts mid-playback (tone, chime on one stream), the
//! stream sees `Disconnected`, the frontend reconnects, and playback goes
//! on from the last position the backend reported as played (see
//! [`super::demo::play_resuming`]); several streams at once stop with the
//! error instead.
#![forbid(unsafe_code)]

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::demo::{self, Chime, PlayReport, Signal};
use super::signal::Tone;
use xen_guest::Platform;
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Clock, Error, Stream};
use xensnd_sndif::frontend::Frontend;
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::{OpenStream, SndCapture, SndPlayback};

/// Parsed demo options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Which demo.
    pub demo: String,
    /// Streams by unique-id (empty: pick one).
    pub streams: Vec<String>,
    /// Tone frequencies, one per stream (the last repeats).
    pub frequencies: Vec<u32>,
    /// Length in milliseconds.
    pub milliseconds: u64,
    /// Tone level in 0.001 dBFS.
    pub level_millidb: i32,
    /// The configuration asked for.
    pub request: StreamRequest,
    /// Pause after this many milliseconds of audio, for `pause_ms`.
    pub pause_at_ms: Option<u64>,
    /// How long to pause.
    pub pause_ms: u64,
    /// Volume to set before playing.
    pub volume_millidb: Option<i32>,
    /// Mute before playing.
    pub mute: bool,
    /// How long playback waits for a backend that went away, milliseconds.
    pub reconnect_ms: u64,
    /// Open/close cycles of `demo=cycles`.
    pub cycles: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            demo: "tone".to_string(),
            streams: Vec::new(),
            frequencies: alloc::vec![440],
            milliseconds: 1000,
            level_millidb: -6000,
            request: StreamRequest::default(),
            pause_at_ms: None,
            pause_ms: 500,
            volume_millidb: None,
            mute: false,
            reconnect_ms: 10_000,
            cycles: 100,
        }
    }
}

fn number<T: core::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("option {key}={value}: not a number"))
}

impl Options {
    /// Parse `key=value` options; unknown keys are ignored (other layers
    /// use them), bad values are errors naming the option.
    pub fn parse<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Options, String> {
        let mut o = Options::default();
        for (key, value) in options {
            match key {
                "demo" => o.demo = value.to_string(),
                "stream" => {
                    o.streams = value
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                }
                "freq" => {
                    o.frequencies = value
                        .split(',')
                        .map(|f| number(key, f))
                        .collect::<Result<Vec<u32>, _>>()?;
                    if o.frequencies.is_empty() {
                        return Err("option freq: empty".to_string());
                    }
                }
                "ms" => o.milliseconds = number(key, value)?,
                "level" => o.level_millidb = number(key, value)?,
                "rate" => o.request.rate = Some(number(key, value)?),
                "channels" => o.request.channels = Some(number(key, value)?),
                "period" => o.request.period_frames = Some(number(key, value)?),
                "buffer" => o.request.buffer_frames = Some(number(key, value)?),
                "format" => {
                    o.request.format = Some(
                        SampleFormat::from_name(value.trim())
                            .ok_or_else(|| format!("option format={value}: unknown"))?,
                    )
                }
                "pause-at" => o.pause_at_ms = Some(number(key, value)?),
                "pause-ms" => o.pause_ms = number(key, value)?,
                "volume" => o.volume_millidb = Some(number(key, value)?),
                "mute" => o.mute = value == "1" || value == "yes" || value == "true",
                "reconnect-ms" => o.reconnect_ms = number(key, value)?,
                "cycles" => o.cycles = number(key, value)?,
                _ => {}
            }
        }
        Ok(o)
    }
}

/// Open and prepare a stream of type `S` (by unique-id, or the first of
/// its direction); returns it with its unique-id.
fn open<S: OpenStream<X>, X: Platform>(
    frontend: &Frontend<X>,
    unique_id: Option<&str>,
    request: &StreamRequest,
) -> Result<(S, String), String> {
    let kind = S::DIRECTION;
    let info = frontend
        .streams()
        .into_iter()
        .find(|s| match unique_id {
            Some(id) => s.config.unique_id == id,
            None => s.config.direction == kind,
        })
        .ok_or_else(|| match unique_id {
            Some(id) => format!("no stream with unique-id {id}"),
            None => format!("no {kind:?} stream"),
        })?;
    if info.config.direction != kind {
        return Err(format!(
            "stream {} is {:?}, not {kind:?}",
            info.config.unique_id, info.config.direction
        ));
    }
    let mut pcm = S::open(frontend, info.device, info.stream, request)
        .map_err(|e| format!("open {}: {e}", info.config.unique_id))?;
    pcm.prepare()
        .map_err(|e| format!("prepare {}: {e}", info.config.unique_id))?;
    let c = pcm.config();
    log::info!(
        "stream {}: {} Hz, {} ch, {}, period {} frames, buffer {} frames (backend answered HW_PARAM_QUERY: {})",
        info.config.unique_id,
        c.rate,
        c.channels,
        c.format,
        c.period_frames,
        c.buffer_frames,
        pcm.negotiation().backend_answered
    );
    Ok((pcm, info.config.unique_id))
}

/// The result line of a playback stream; `app_waits` are the times the
/// application itself waited for room (non-blocking writers), counted with
/// the stream's own blocking waits.
fn print_play(
    unique_id: &str,
    report: &PlayReport,
    app_waits: u64,
    pcm: &SndPlayback<impl Platform>,
) {
    let counters = pcm.counters();
    let stats = pcm.channel_stats();
    log::info!(
        "XENSND-RESULT stream={unique_id} frames={} position={} crc32={:08x} underruns={} max_in_flight={} requests={} notifications={} blocking_waits={}",
        report.frames,
        report.position,
        report.crc32,
        counters.underruns,
        counters.max_in_flight,
        stats.requests,
        stats.notifications_sent,
        counters.blocking_waits + app_waits
    );
}

/// Run the demo chosen by `options` on the streams of `frontend`, timed by
/// `clock` (the runtime under Xen; in a host test, the frontend itself over
/// the simulated platform). Returns `Err` with a message when it failed.
pub fn run<X: Platform, C: Clock>(
    frontend: &Frontend<X>,
    clock: &C,
    options: &Options,
) -> Result<(), String> {
    // Configuration errors were logged by the frontend's probe, each naming
    // its XenStore node (`Frontend::config_errors` has them as a list).
    match options.demo.as_str() {
        "list" => {
            for s in frontend.streams() {
                log::info!(
                    "card {:?} pcm {:?} stream {} ({:?}): rates {:?} formats {} channels {}..{}",
                    s.card,
                    s.pcm_name,
                    s.config.unique_id,
                    s.config.direction,
                    s.config.caps.rates,
                    s.config.caps.formats,
                    s.config.caps.channels_min,
                    s.config.caps.channels_max
                );
            }
            Ok(())
        }
        "tone" | "chime" => play_all(frontend, clock, options),
        "record" => {
            let (mut pcm, _) = open::<SndCapture<X>, X>(
                frontend,
                options.streams.first().map(String::as_str),
                &options.request,
            )?;
            let rate = pcm.config().rate as u64;
            let report = demo::record(&mut pcm, rate * options.milliseconds / 1000)
                .map_err(|e| format!("record: {e}"))?;
            log::info!(
                // rms rounded to a whole sample value: integer formatting
                // keeps core's float printing (~10 KB) out of the image.
                "XENSND-RESULT capture frames={} peak={} rms={} crc32={:08x}",
                report.frames,
                report.peak,
                (report.rms + 0.5) as u32,
                report.crc32
            );
            pcm.close().map_err(|e| format!("close: {}", e.kind()))
        }
        "loopback" => {
            let capture_id = options.streams.first().map(String::as_str);
            let playback_id = options.streams.get(1).map(String::as_str);
            let (mut capture, _) =
                open::<SndCapture<X>, X>(frontend, capture_id, &options.request)?;
            let (mut playback, _) =
                open::<SndPlayback<X>, X>(frontend, playback_id, &options.request)?;
            let rate = capture.config().rate as u64;
            let (record, play) = demo::loopback(
                &mut capture,
                &mut playback,
                rate * options.milliseconds / 1000,
            )
            .map_err(|e| format!("loopback: {e}"))?;
            log::info!(
                "XENSND-RESULT loopback frames={} crc32={:08x} played={}",
                record.frames,
                record.crc32,
                play.position
            );
            Ok(())
        }
        "cycles" => cycles(frontend, clock, options),
        "idle" => Ok(()),
        other => Err(format!("unknown demo {other:?}")),
    }
}

fn play_all<X: Platform, C: Clock>(
    frontend: &Frontend<X>,
    clock: &C,
    options: &Options,
) -> Result<(), String> {
    let ids: Vec<Option<&str>> = if options.streams.is_empty() {
        alloc::vec![None]
    } else {
        options.streams.iter().map(|s| Some(s.as_str())).collect()
    };
    let mut streams = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (pcm, unique_id) = open::<SndPlayback<X>, X>(frontend, *id, &options.request)?;
        let frequency = *options
            .frequencies
            .get(i)
            .or(options.frequencies.last())
            .unwrap_or(&440);
        streams.push((unique_id, frequency, pcm));
    }
    for (_, _, pcm) in streams.iter_mut() {
        if let Some(volume) = options.volume_millidb {
            let values = alloc::vec![volume; pcm.config().channels as usize];
            pcm.set_volume(&values)
                .map_err(|e| format!("set volume: {e}"))?;
        }
        if options.mute {
            pcm.set_mute(true).map_err(|e| format!("mute: {e}"))?;
        }
    }
    if streams.len() == 1 {
        let (unique_id, frequency, pcm) = &mut streams[0];
        let signal = signal_for(
            options,
            *frequency,
            pcm.config().rate,
            pcm.config().channels,
        );
        let rate = pcm.config().rate as u64;
        let frames = match options.demo.as_str() {
            "chime" => super::chime::frames_at(pcm.config().rate),
            _ => rate * options.milliseconds / 1000,
        };
        let pause_at = options.pause_at_ms.map(|ms| rate * ms / 1000);
        let pause_ns = options.pause_ms * 1_000_000;
        // PV clock just before the first write() (entry: main's `entry_clock_ns`).
        let play_start_ns = clock.now_ns();
        let mut sleep = || clock.sleep_ns(pause_ns);
        let pause = pause_at.map(|at| (at, &mut sleep as &mut dyn FnMut()));
        let now_ns = || clock.now_ns();
        // Until the next event (a response, a position event, a XenStore
        // watch), with a safety deadline.
        let mut idle = || clock.wait_until(clock.now_ns() + 50_000_000);
        let control = demo::PlayControl {
            pause,
            idle: &mut idle,
            now_ns: &now_ns,
            reconnect_timeout_ns: options.reconnect_ms.saturating_mul(1_000_000),
            stall_timeout_ns: xensnd_sndif::stream::DEFAULT_STALL_TIMEOUT_NS,
        };
        let report = demo::play_resuming(pcm, signal.as_ref(), frames, control)
            .map_err(|e| format!("play {unique_id}: {e}"))?;
        log::info!("XENSND-TIMING play_start_clock_ns={play_start_ns}");
        print_play(unique_id, &report.play, report.waits, pcm);
        if !report.resumptions.is_empty() {
            let resumed: Vec<String> = report
                .resumptions
                .iter()
                .map(|r| format!("{}@{}ms", r.from_frame, r.resumed_after_ns / 1_000_000))
                .collect();
            log::info!(
                "XENSND-RESULT stream={unique_id} resumptions={} resumed={}",
                report.resumptions.len(),
                resumed.join(",")
            );
        }
        return pcm.close().map_err(|e| format!("close: {}", e.kind()));
    }
    play_interleaved(clock, options, &mut streams)
}

fn signal_for(
    options: &Options,
    frequency: u32,
    rate: u32,
    channels: u8,
) -> alloc::boxed::Box<dyn Signal> {
    match options.demo.as_str() {
        "chime" => alloc::boxed::Box::new(Chime { rate, channels }),
        _ => alloc::boxed::Box::new(Tone {
            frequency_hz: frequency,
            rate,
            channels,
            level_millidb: options.level_millidb,
        }),
    }
}

/// Several playback streams at once: feed each with non-blocking writes in
/// turn, sleeping only when none could take anything. A stream that takes
/// nothing for the stall timeout (`DEFAULT_STALL_TIMEOUT_NS`, as blocking
/// `write` allows) ends the run with a timeout, as `write` would.
fn play_interleaved<X: Platform, C: Clock>(
    clock: &C,
    options: &Options,
    streams: &mut [(String, u32, SndPlayback<X>)],
) -> Result<(), String> {
    use xensnd_pcm::{Playback, StreamState};
    struct Progress {
        frames: u64,
        done: u64,
        crc: super::signal::Crc32,
        signal: alloc::boxed::Box<dyn Signal>,
        codec: demo::Codec,
        frame_bytes: usize,
        chunk: Vec<u8>,
        /// When this stream last took frames (or started).
        progress_ns: u64,
    }
    let stall_timeout_ns = xensnd_sndif::stream::DEFAULT_STALL_TIMEOUT_NS;
    let mut progress = Vec::new();
    for (unique_id, frequency, pcm) in streams.iter() {
        let c = pcm.config();
        let frames = match options.demo.as_str() {
            "chime" => super::chime::frames_at(c.rate),
            _ => c.rate as u64 * options.milliseconds / 1000,
        };
        let (codec, frame_bytes) =
            demo::Codec::new(pcm).map_err(|e| format!("play {unique_id}: {e}"))?;
        progress.push(Progress {
            frames,
            done: 0,
            crc: super::signal::Crc32::new(),
            signal: signal_for(options, *frequency, c.rate, c.channels),
            codec,
            frame_bytes,
            chunk: alloc::vec![0u8; c.period_frames as usize * frame_bytes],
            progress_ns: 0,
        });
    }
    for (_, _, pcm) in streams.iter_mut() {
        pcm.start().map_err(|e| format!("start: {e}"))?;
    }
    let started_ns = clock.now_ns();
    for p in progress.iter_mut() {
        p.progress_ns = started_ns;
    }
    loop {
        let mut any = false;
        let mut all_done = true;
        for ((unique_id, _, pcm), p) in streams.iter_mut().zip(progress.iter_mut()) {
            if p.done >= p.frames {
                continue;
            }
            all_done = false;
            let frame_bytes = p.frame_bytes;
            let n = ((p.chunk.len() / frame_bytes) as u64).min(p.frames - p.done) as usize;
            let bytes = &mut p.chunk[..n * frame_bytes];
            p.codec.render(p.signal.as_ref(), p.done, bytes);
            let written = match pcm.try_write(bytes) {
                Ok(written) => written,
                Err(e) if e.kind() == xensnd_pcm::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(format!("play {unique_id}: {e}")),
            };
            let now = clock.now_ns();
            if written > 0 {
                p.crc.update(&bytes[..written * frame_bytes]);
                p.done += written as u64;
                p.progress_ns = now;
                any = true;
            } else if now.saturating_sub(p.progress_ns) >= stall_timeout_ns {
                return Err(format!(
                    "play {unique_id}: {} (no room for {} ms)",
                    xensnd_pcm::ErrorKind::Timeout,
                    stall_timeout_ns / 1_000_000
                ));
            }
        }
        if all_done {
            break;
        }
        if !any {
            clock.wait_until(clock.now_ns() + 2_000_000);
        }
    }
    for ((unique_id, _, pcm), p) in streams.iter_mut().zip(progress.iter()) {
        if pcm.state() == StreamState::Running {
            pcm.drain().map_err(|e| format!("drain {unique_id}: {e}"))?;
        }
        let report = PlayReport {
            frames: p.done,
            position: pcm.position(),
            crc32: p.crc.value(),
        };
        print_play(unique_id, &report, 0, pcm);
        pcm.close()
            .map_err(|e| format!("close {unique_id}: {}", e.kind()))?;
    }
    Ok(())
}

/// `demo=cycles`: open, prepare, queue one period and close a playback
/// stream `options.cycles` times; the grants and event channels in use
/// (the platform's own counts) must be the same before and after.
fn cycles<X: Platform, C: Clock>(
    frontend: &Frontend<X>,
    clock: &C,
    options: &Options,
) -> Result<(), String> {
    use xensnd_pcm::Playback;
    let usage = || {
        frontend.poll();
        frontend
            .resource_usage()
            .ok_or_else(|| "the platform does not count grants and event channels".to_string())
    };
    let id = options.streams.first().map(String::as_str);
    let before = usage()?;
    log::info!(
        "cycles: before: {} grants, {} event channels in use",
        before.grants,
        before.event_channels
    );
    let mut peak = before;
    let started_ns = clock.now_ns();
    for cycle in 1..=options.cycles {
        let (mut pcm, unique_id) = open::<SndPlayback<X>, X>(frontend, id, &options.request)?;
        let c = *pcm.config();
        let tone = Tone {
            frequency_hz: 440,
            rate: c.rate,
            channels: c.channels,
            level_millidb: options.level_millidb,
        };
        let (codec, frame_bytes) =
            demo::Codec::new(&pcm).map_err(|e| format!("cycle {cycle}: {unique_id}: {e}"))?;
        let mut period = alloc::vec![0u8; c.period_frames as usize * frame_bytes];
        codec.render(&tone, 0, &mut period);
        pcm.write(&period)
            .map_err(|e| format!("cycle {cycle}: write {unique_id}: {e}"))?;
        let during = usage()?;
        peak.grants = peak.grants.max(during.grants);
        peak.event_channels = peak.event_channels.max(during.event_channels);
        pcm.close()
            .map_err(|e| format!("cycle {cycle}: close {unique_id}: {}", e.kind()))?;
        if cycle % 25 == 0 || cycle == options.cycles {
            let now = usage()?;
            log::info!(
                "cycles: {cycle} done: {} grants, {} event channels in use",
                now.grants,
                now.event_channels
            );
        }
    }
    let after = usage()?;
    let elapsed_ns = clock.now_ns() - started_ns;
    log::info!(
        "XENSND-RESULT cycles={} grants_before={} grants_after={} evtchns_before={} evtchns_after={} grants_peak={} leftover_grants={} us_per_cycle={}",
        options.cycles,
        before.grants,
        after.grants,
        before.event_channels,
        after.event_channels,
        peak.grants,
        frontend.leftover_grants(),
        elapsed_ns / 1000 / u64::from(options.cycles.max(1))
    );
    if after != before {
        return Err(format!(
            "after {} cycles: {} grants and {} event channels in use, {} and {} before",
            options.cycles,
            after.grants,
            after.event_channels,
            before.grants,
            before.event_channels
        ));
    }
    Ok(())
}
