//! The demo programs, written against the PCM traits only: play a tone or
//! the chime, record and measure, and a duplex loopback.
//!
//! The signals are `i16` samples; every demo plays and records on a stream
//! of any format with a sample value, converting with
//! [`xensnd_pcm::convert::Converter`] (the guest carries the converter
//! only, not [`xensnd_pcm::convert::ConvertingStream`]: same conversion,
//! less code). The CRC-32 in the reports is over the bytes that travelled,
//! in the stream's format (for `s16_le`: the `i16` samples, little-endian,
//! as before); peak and RMS are over the samples as `i16`.
#![forbid(unsafe_code)]

use alloc::vec::Vec;

use super::chime;
use super::signal::{Crc32, Meter, Tone};
use xensnd_pcm::convert::Converter;
use xensnd_pcm::{Capture, Error, ErrorKind, Playback, Stream};

/// What a playback demo did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlayReport {
    /// Frames queued.
    pub frames: u64,
    /// Frames the stream reported as played at the end.
    pub position: u64,
    /// CRC-32 of the bytes queued, in the stream's format (what went to
    /// the backend).
    pub crc32: u32,
}

/// What a capture demo measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RecordReport {
    /// Frames captured.
    pub frames: u64,
    /// Peak absolute sample.
    pub peak: u16,
    /// RMS in sample units.
    pub rms: f32,
    /// CRC-32 of the captured bytes as they arrived, in the stream's format.
    pub crc32: u32,
}

/// Something that produces interleaved `i16` frames by index.
pub trait Signal {
    /// Write frames `first..` into `out` (whole frames of the stream's channel count).
    fn fill(&self, first: u64, out: &mut [i16]);
}

impl Signal for Tone {
    fn fill(&self, first: u64, out: &mut [i16]) {
        Tone::fill(self, first, out);
    }
}

/// The chime (synthesized from its note table) at a rate and channel count.
#[derive(Debug, Clone, Copy)]
pub struct Chime {
    /// Output rate.
    pub rate: u32,
    /// Output channels.
    pub channels: u8,
}

impl Signal for Chime {
    fn fill(&self, first: u64, out: &mut [i16]) {
        chime::fill(self.rate, self.channels, first, out);
    }
}

/// Samples converted at a time (on the stack): whole frames for every
/// channel count up to 8 (840 is their least common multiple).
const CHUNK_SAMPLES: usize = 840;

/// The demo's side of a stream's format: its [`Converter`] and channel count.
pub(crate) struct Codec {
    converter: Converter,
    channels: usize,
}

impl Codec {
    /// For `stream`'s format, with its frame size in bytes;
    /// [`ErrorKind::Unsupported`] for a format without conversion.
    #[inline(never)]
    pub(crate) fn new<S: Stream>(stream: &S) -> Result<(Codec, usize), ErrorKind> {
        let config = stream.config();
        let converter = Converter::new(config.format).map_err(|_| ErrorKind::Unsupported)?;
        let channels = usize::from(config.channels.max(1));
        let codec = Codec {
            converter,
            channels,
        };
        Ok((codec, channels * converter.sample_bytes()))
    }

    /// Frames `first..` of `signal` into `out` (whole frames), in the stream's format.
    pub(crate) fn render(&self, signal: &dyn Signal, first: u64, out: &mut [u8]) {
        let frames = (CHUNK_SAMPLES / self.channels).max(1);
        let bytes = frames * self.channels * self.converter.sample_bytes();
        let mut samples = [0i16; CHUNK_SAMPLES];
        let mut frame = first;
        for out in out.chunks_mut(bytes) {
            let samples = &mut samples[..out.len() / self.converter.sample_bytes()];
            signal.fill(frame, samples);
            self.converter.encode(samples, out);
            frame += frames as u64;
        }
    }

    /// Feed the samples of `bytes` (in the stream's format) to `meter` as `i16`.
    fn measure(&self, bytes: &[u8], meter: &mut Meter) {
        let mut samples = [0i16; CHUNK_SAMPLES];
        for bytes in bytes.chunks(CHUNK_SAMPLES * self.converter.sample_bytes()) {
            let count = self.converter.decode(bytes, &mut samples);
            meter.update(&samples[..count]);
        }
    }
}

/// Play `frames` frames of `signal` on a prepared stream in period-sized
/// chunks, then drain. `pause_at` (frames) pauses for `pause_ns` of the
/// platform's time through `sleep` once that much was queued.
pub fn play<P: Playback>(
    stream: &mut P,
    signal: &dyn Signal,
    frames: u64,
    pause: Option<(u64, &mut dyn FnMut())>,
) -> Result<PlayReport, ErrorKind> {
    let (codec, frame_bytes) = Codec::new(stream)?;
    let period = stream.config().period_frames.max(1) as u64;
    let mut chunk = alloc::vec![0u8; period as usize * frame_bytes];
    let mut crc = Crc32::new();
    let mut done = 0u64;
    let mut pause = pause;
    while done < frames {
        let n = period.min(frames - done);
        let bytes = &mut chunk[..n as usize * frame_bytes];
        codec.render(signal, done, bytes);
        let mut queued = 0usize;
        while queued < bytes.len() {
            // Start once the buffer cannot take the next period (a blocking
            // write into a full stream that is not running cannot succeed).
            if stream.state() == xensnd_pcm::StreamState::Prepared
                && stream.available() < (bytes.len() - queued) / frame_bytes
            {
                stream.start().map_err(|e| e.kind())?;
            }
            let written = stream.write(&bytes[queued..]).map_err(|e| e.kind())?;
            queued += written * frame_bytes;
        }
        crc.update(bytes);
        done += n;
        pause_once(stream, &mut pause, done)?;
    }
    if stream.state() == xensnd_pcm::StreamState::Prepared {
        stream.start().map_err(|e| e.kind())?;
    }
    stream.drain().map_err(|e| e.kind())?;
    Ok(PlayReport {
        frames: done,
        position: stream.position(),
        crc32: crc.value(),
    })
}

/// Record `frames` frames from a prepared capture stream and measure them
/// (nothing is kept: a long recording needs no memory for it).
pub fn record<C: Capture>(stream: &mut C, frames: u64) -> Result<RecordReport, ErrorKind> {
    let (codec, frame_bytes) = Codec::new(stream)?;
    let period = stream.config().period_frames.max(1) as u64;
    let mut chunk = alloc::vec![0u8; period as usize * frame_bytes];
    let mut meter = Meter::default();
    let mut crc = Crc32::new();
    let mut done = 0u64;
    if stream.state() == xensnd_pcm::StreamState::Prepared {
        stream.start().map_err(|e| e.kind())?;
    }
    while done < frames {
        let n = period.min(frames - done) as usize;
        let bytes = &mut chunk[..n * frame_bytes];
        let mut got = 0usize;
        while got < bytes.len() {
            let read = stream.read(&mut bytes[got..]).map_err(|e| e.kind())?;
            got += read * frame_bytes;
        }
        codec.measure(bytes, &mut meter);
        crc.update(bytes);
        done += n as u64;
    }
    stream.stop().map_err(|e| e.kind())?;
    Ok(RecordReport {
        frames: done,
        peak: meter.peak,
        rms: meter.rms(),
        crc32: crc.value(),
    })
}

/// Duplex loopback: what `capture` records is played on `playback`, period
/// by period, for `frames` frames; both must have the same format and
/// channel count ([`ErrorKind::InvalidConfig`]). Returns (captured, played)
/// reports (the same CRC: the bytes pass through).
pub fn loopback<C: Capture, P: Playback>(
    capture: &mut C,
    playback: &mut P,
    frames: u64,
) -> Result<(RecordReport, PlayReport), ErrorKind> {
    let (codec, frame_bytes) = Codec::new(capture)?;
    let (input, output) = (capture.config(), playback.config());
    if (input.format, input.channels) != (output.format, output.channels) {
        return Err(ErrorKind::InvalidConfig);
    }
    let period = capture.config().period_frames.max(1) as u64;
    let mut chunk = alloc::vec![0u8; period as usize * frame_bytes];
    let mut meter = Meter::default();
    let mut crc = Crc32::new();
    let mut done = 0u64;
    capture.start().map_err(|e| e.kind())?;
    while done < frames {
        let n = period.min(frames - done) as usize;
        let bytes = &mut chunk[..n * frame_bytes];
        let mut got = 0usize;
        while got < bytes.len() {
            got += capture.read(&mut bytes[got..]).map_err(|e| e.kind())? * frame_bytes;
        }
        let mut queued = 0usize;
        while queued < bytes.len() {
            queued += playback.write(&bytes[queued..]).map_err(|e| e.kind())? * frame_bytes;
        }
        codec.measure(bytes, &mut meter);
        crc.update(bytes);
        done += n as u64;
    }
    capture.stop().map_err(|e| e.kind())?;
    if playback.state() == xensnd_pcm::StreamState::Prepared {
        playback.start().map_err(|e| e.kind())?;
    }
    playback.drain().map_err(|e| e.kind())?;
    let record = RecordReport {
        frames: done,
        peak: meter.peak,
        rms: meter.rms(),
        crc32: crc.value(),
    };
    let play = PlayReport {
        frames: done,
        position: playback.position(),
        crc32: crc.value(),
    };
    Ok((record, play))
}

/// What the player does besides writing: sleep a little, read the clock,
/// pause, and how long it waits for a backend that went away.
pub struct PlayControl<'a> {
    /// Pause for a while (through the closure) once this many frames were queued.
    pub pause: Option<(u64, &'a mut dyn FnMut())>,
    /// Wait a little: until an event arrives or a few milliseconds passed.
    pub idle: &'a mut dyn FnMut(),
    /// Monotonic nanoseconds.
    pub now_ns: &'a dyn Fn() -> u64,
    /// How long to wait for the stream to be usable again after the
    /// backend disconnected (0: fail at once).
    pub reconnect_timeout_ns: u64,
    /// How long to wait for room without any progress (nothing queued,
    /// position unchanged) before failing with `Timeout`, like the
    /// stream's own blocking calls (`sndif::stream::DEFAULT_STALL_TIMEOUT_NS`).
    pub stall_timeout_ns: u64,
}

/// One recovery from a backend disconnection during [`play_resuming`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resumption {
    /// The signal's frame playback went on from (what the backend had
    /// reported as played when the connection was lost).
    pub from_frame: u64,
    /// Frames that had been queued when the connection was lost.
    pub queued: u64,
    /// From the call that reported `Disconnected` (the guest seeing the
    /// backend come back and reconnecting inside it) to the stream
    /// prepared again, nanoseconds.
    pub prepared_after_ns: u64,
    /// From that call to the first frames accepted again, nanoseconds.
    pub resumed_after_ns: u64,
}

/// What [`play_resuming`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumingReport {
    /// The totals over the whole signal: frames, frames played (position
    /// of the last connection plus where it started), CRC-32 of the
    /// signal's frames `0..frames` in order (what a listener heard once).
    pub play: PlayReport,
    /// Every recovery, in order.
    pub resumptions: Vec<Resumption>,
    /// Times the player waited for room (through `PlayControl::idle`).
    pub waits: u64,
}

/// How [`play_resuming`]'s inner steps end.
enum Step {
    Done,
    Lost { started_ns: u64 },
}

/// Play `frames` frames of `signal` on a prepared stream without blocking
/// writes (so the stream keeps following the backend's XenBus state while
/// it waits for room), then drain.
///
/// When the backend goes away and comes back (the stream reports
/// `Disconnected`), playback goes on where the listener left off: the
/// stream is prepared again and the signal continues from the last
/// position the old connection reported as played (what was queued but
/// not yet played is sent again; nothing is skipped). Logs
/// `XENSND-DISCONNECTED` and `XENSND-RECONNECT` lines for tests.
pub fn play_resuming<P: Playback>(
    stream: &mut P,
    signal: &dyn Signal,
    frames: u64,
    control: PlayControl<'_>,
) -> Result<ResumingReport, ErrorKind> {
    let (codec, frame_bytes) = Codec::new(stream)?;
    let PlayControl {
        mut pause,
        idle,
        now_ns,
        reconnect_timeout_ns,
        stall_timeout_ns,
    } = control;
    let mut report = ResumingReport::default();
    // The signal frame the current connection started at.
    let mut base = 0u64;
    // Frames queued on the current connection (plus base).
    let mut done = 0u64;
    let mut crc = Crc32::new();
    // The CRC at period boundaries (frame, CRC of frames before it), so a
    // resumption recomputes at most one period (the guest is slow at
    // synthesising the whole signal again).
    let mut checkpoints: Vec<(u64, Crc32)> = alloc::vec![(0, Crc32::new())];
    // Set after a recovery until the first frames are accepted again.
    let mut awaiting_first_write: Option<(usize, u64)> = None;
    // The position of the current connection after the last operation that
    // succeeded (a failed one may already show the next connection's 0).
    let mut position = 0u64;
    loop {
        let step = write_all(
            stream,
            &mut position,
            signal,
            &codec,
            frames,
            frame_bytes,
            &mut done,
            &mut crc,
            &mut checkpoints,
            &mut pause,
            &mut *idle,
            now_ns,
            &mut awaiting_first_write,
            &mut report.resumptions,
            &mut report.waits,
            stall_timeout_ns,
        )?;
        let step = match step {
            Step::Done => drain_or_lost(stream, now_ns)?,
            lost => lost,
        };
        let Step::Lost { started_ns } = step else {
            break;
        };
        // The backend went away. Where was the listener?
        let played = base + position;
        position = 0;
        log::info!("XENSND-DISCONNECTED position={played} queued={done}");
        loop {
            match stream.prepare() {
                Ok(()) => break,
                Err(error) if error.kind() == ErrorKind::Disconnected => {
                    if now_ns().saturating_sub(started_ns) > reconnect_timeout_ns {
                        log::error!("the backend did not come back in time: {}", error.kind());
                        return Err(ErrorKind::Disconnected);
                    }
                    idle();
                }
                Err(error) => return Err(error.kind()),
            }
        }
        let prepared_after_ns = now_ns().saturating_sub(started_ns);
        log::info!(
            "XENSND-RECONNECT position={played} after_ms={}",
            prepared_after_ns / 1_000_000
        );
        report.resumptions.push(Resumption {
            from_frame: played,
            queued: done,
            prepared_after_ns,
            resumed_after_ns: 0,
        });
        awaiting_first_write = Some((report.resumptions.len() - 1, started_ns));
        base = played;
        done = played;
        // The CRC covers the signal once, in order: go back to the last
        // checkpoint at or before `played` and redo the rest.
        checkpoints.retain(|(frame, _)| *frame <= played);
        let (mut at, checkpoint) = checkpoints.last().copied().unwrap_or((0, Crc32::new()));
        crc = checkpoint;
        let mut scratch = alloc::vec![0u8; 1024 * frame_bytes];
        while at < played {
            let n = (played - at).min(1024);
            let bytes = &mut scratch[..n as usize * frame_bytes];
            codec.render(signal, at, bytes);
            crc.update(bytes);
            at += n;
        }
    }
    report.play = PlayReport {
        frames: done,
        position: base + stream.position(),
        crc32: crc.value(),
    };
    Ok(report)
}

/// Queue the signal from `*done` to `frames`, period by period, with
/// non-blocking writes.
#[allow(
    clippy::too_many_arguments,
    reason = "the loop state of play_resuming, split out to keep it readable"
)]
fn write_all<P: Playback>(
    stream: &mut P,
    position: &mut u64,
    signal: &dyn Signal,
    codec: &Codec,
    frames: u64,
    frame_bytes: usize,
    done: &mut u64,
    crc: &mut Crc32,
    checkpoints: &mut Vec<(u64, Crc32)>,
    pause: &mut Option<(u64, &mut dyn FnMut())>,
    idle: &mut dyn FnMut(),
    now_ns: &dyn Fn() -> u64,
    awaiting_first_write: &mut Option<(usize, u64)>,
    resumptions: &mut [Resumption],
    waits: &mut u64,
    stall_timeout_ns: u64,
) -> Result<Step, ErrorKind> {
    use xensnd_pcm::StreamState;
    let period = stream.config().period_frames.max(1) as u64;
    let mut chunk = alloc::vec![0u8; period as usize * frame_bytes];
    // Nothing queued for the stall timeout while waiting for room is a
    // timeout, not a hang.
    let mut progress_ns = now_ns();
    while *done < frames {
        let n = period.min(frames - *done);
        let bytes = &mut chunk[..n as usize * frame_bytes];
        codec.render(signal, *done, bytes);
        let mut queued = 0usize;
        while queued < bytes.len() {
            let started_ns = now_ns();
            // Start once the buffer cannot take the rest of this period.
            if stream.state() == StreamState::Prepared
                && stream.available() < (bytes.len() - queued) / frame_bytes
            {
                match stream.start() {
                    Ok(()) => {}
                    Err(error) if error.kind() == ErrorKind::Disconnected => {
                        return Ok(Step::Lost { started_ns });
                    }
                    Err(error) => return Err(error.kind()),
                }
            }
            // Running: wait until the rest of this period fits (like ALSA's
            // avail_min), so each WRITE is a whole period rather than the
            // few frames a position event just freed.
            let wanted = (bytes.len() - queued) / frame_bytes;
            if stream.state() == StreamState::Running && stream.available() < wanted {
                match stream.write_ready() {
                    Ok(_) if stream.available() >= wanted => {}
                    Ok(_) => {
                        *position = stream.position();
                        if now_ns().saturating_sub(progress_ns) > stall_timeout_ns {
                            return Err(ErrorKind::Timeout);
                        }
                        *waits += 1;
                        idle();
                        continue;
                    }
                    Err(error) if error.kind() == ErrorKind::Disconnected => {
                        return Ok(Step::Lost { started_ns });
                    }
                    Err(error) => return Err(error.kind()),
                }
            }
            match stream.try_write(&bytes[queued..]) {
                Ok(written) => {
                    *position = stream.position();
                    queued += written * frame_bytes;
                    progress_ns = now_ns();
                    if written > 0 {
                        if let Some((index, since)) = awaiting_first_write.take() {
                            let after = now_ns().saturating_sub(since);
                            resumptions[index].resumed_after_ns = after;
                            log::info!(
                                "XENSND-RESUMED position={} after_ms={}",
                                resumptions[index].from_frame,
                                after / 1_000_000
                            );
                        }
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    *position = stream.position();
                    if now_ns().saturating_sub(progress_ns) > stall_timeout_ns {
                        return Err(ErrorKind::Timeout);
                    }
                    *waits += 1;
                    idle();
                }
                Err(error) if error.kind() == ErrorKind::Disconnected => {
                    return Ok(Step::Lost { started_ns });
                }
                Err(error) => return Err(error.kind()),
            }
        }
        crc.update(bytes);
        *done += n;
        checkpoints.push((*done, *crc));
        pause_once(stream, pause, *done)?;
    }
    Ok(Step::Done)
}

/// Start if never started, then drain; a disconnection is reported as lost.
/// Once `done` frames are queued past the pause point: start the stream if
/// it is not running yet, pause it, call the sleep, resume, and forget the
/// pause (it happens once).
fn pause_once<P: Playback>(
    stream: &mut P,
    pause: &mut Option<(u64, &mut dyn FnMut())>,
    done: u64,
) -> Result<(), ErrorKind> {
    let Some((at, sleep)) = pause.as_mut() else {
        return Ok(());
    };
    if done < *at {
        return Ok(());
    }
    if stream.state() == xensnd_pcm::StreamState::Prepared {
        stream.start().map_err(|e| e.kind())?;
    }
    stream.pause().map_err(|e| e.kind())?;
    log::info!("XENSND-PAUSE queued={done} position={}", stream.position());
    sleep();
    log::info!("XENSND-RESUME queued={done} position={}", stream.position());
    stream.resume().map_err(|e| e.kind())?;
    *pause = None;
    Ok(())
}

fn drain_or_lost<P: Playback>(stream: &mut P, now_ns: &dyn Fn() -> u64) -> Result<Step, ErrorKind> {
    let started_ns = now_ns();
    let result = if stream.state() == xensnd_pcm::StreamState::Prepared {
        stream.start().and_then(|()| stream.drain())
    } else {
        stream.drain()
    };
    match result {
        Ok(()) => Ok(Step::Done),
        Err(error) if error.kind() == ErrorKind::Disconnected => Ok(Step::Lost { started_ns }),
        Err(error) => Err(error.kind()),
    }
}
