//! The demo programs, written against the PCM traits only: play a tone or
//! the chime, record and measure, and a duplex loopback.
#![forbid(unsafe_code)]

use alloc::vec::Vec;

use super::chime;
use super::signal::{Crc32, Meter, Tone};
use crate::pcm::{Capture, Error, ErrorKind, Playback, Stream};
use crate::sndif::format::SampleFormat;

/// What a playback demo did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlayReport {
    /// Frames queued.
    pub frames: u64,
    /// Frames the stream reported as played at the end.
    pub position: u64,
    /// CRC-32 of the bytes queued.
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
    /// CRC-32 of the captured bytes.
    pub crc32: u32,
}

/// Something that produces s16_le frames by index.
pub trait Signal {
    /// Write frames `first..` into `out` (whole frames of the stream's layout).
    fn fill(&self, first: u64, out: &mut [u8]);
}

impl Signal for Tone {
    fn fill(&self, first: u64, out: &mut [u8]) {
        self.fill_s16le(first, out);
    }
}

/// The embedded chime at a rate and channel count.
#[derive(Debug, Clone, Copy)]
pub struct Chime {
    /// Output rate.
    pub rate: u32,
    /// Output channels.
    pub channels: u8,
}

impl Signal for Chime {
    fn fill(&self, first: u64, out: &mut [u8]) {
        chime::fill_s16le(self.rate, self.channels, first, out);
    }
}

fn require_s16<S: Stream>(stream: &S) -> Result<usize, ErrorKind> {
    let config = stream.config();
    if config.format != SampleFormat::S16Le {
        return Err(ErrorKind::Unsupported);
    }
    Ok(2 * config.channels as usize)
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
    let frame_bytes = require_s16(stream)?;
    let period = stream.config().period_frames.max(1) as u64;
    let mut chunk = alloc::vec![0u8; period as usize * frame_bytes];
    let mut crc = Crc32::new();
    let mut done = 0u64;
    let mut pause = pause;
    while done < frames {
        let n = period.min(frames - done);
        let bytes = &mut chunk[..n as usize * frame_bytes];
        signal.fill(done, bytes);
        let mut queued = 0usize;
        while queued < bytes.len() {
            // Start once the buffer cannot take the next period (a blocking
            // write into a full stream that is not running cannot succeed).
            if stream.state() == crate::pcm::StreamState::Prepared
                && stream.available() < (bytes.len() - queued) / frame_bytes
            {
                stream.start().map_err(|e| e.kind())?;
            }
            let written = stream.write(&bytes[queued..]).map_err(|e| e.kind())?;
            queued += written * frame_bytes;
        }
        crc.update(bytes);
        done += n;
        if let Some((at, sleep)) = pause.as_mut() {
            if done >= *at {
                if stream.state() == crate::pcm::StreamState::Prepared {
                    stream.start().map_err(|e| e.kind())?;
                }
                stream.pause().map_err(|e| e.kind())?;
                log::info!("XENSND-PAUSE queued={done} position={}", stream.position());
                sleep();
                log::info!("XENSND-RESUME queued={done} position={}", stream.position());
                stream.resume().map_err(|e| e.kind())?;
                pause = None;
            }
        }
    }
    if stream.state() == crate::pcm::StreamState::Prepared {
        stream.start().map_err(|e| e.kind())?;
    }
    stream.drain().map_err(|e| e.kind())?;
    Ok(PlayReport {
        frames: done,
        position: stream.position(),
        crc32: crc.value(),
    })
}

/// Record `frames` frames from a prepared capture stream and measure them.
pub fn record<C: Capture>(
    stream: &mut C,
    frames: u64,
) -> Result<(RecordReport, Vec<u8>), ErrorKind> {
    let frame_bytes = require_s16(stream)?;
    let period = stream.config().period_frames.max(1) as u64;
    let mut captured = Vec::with_capacity(frames as usize * frame_bytes);
    let mut chunk = alloc::vec![0u8; period as usize * frame_bytes];
    let mut meter = Meter::default();
    let mut crc = Crc32::new();
    let mut done = 0u64;
    if stream.state() == crate::pcm::StreamState::Prepared {
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
        meter.update_s16le(bytes);
        crc.update(bytes);
        captured.extend_from_slice(bytes);
        done += n as u64;
    }
    stream.stop().map_err(|e| e.kind())?;
    Ok((
        RecordReport {
            frames: done,
            peak: meter.peak,
            rms: meter.rms(),
            crc32: crc.value(),
        },
        captured,
    ))
}

/// Duplex loopback: what `capture` records is played on `playback`, period
/// by period, for `frames` frames. Returns (captured, played) CRC reports.
pub fn loopback<C: Capture, P: Playback>(
    capture: &mut C,
    playback: &mut P,
    frames: u64,
) -> Result<(RecordReport, PlayReport), ErrorKind> {
    let frame_bytes = require_s16(capture)?;
    if require_s16(playback)? != frame_bytes {
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
        meter.update_s16le(bytes);
        crc.update(bytes);
        done += n as u64;
    }
    capture.stop().map_err(|e| e.kind())?;
    if playback.state() == crate::pcm::StreamState::Prepared {
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
