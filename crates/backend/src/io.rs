//! Where a stream's audio goes (a [`Sink`]) and comes from (a [`Source`]).
//!
//! Playback WRITE bytes are handed to the sink exactly as they are in the
//! shared buffer (after volume and mute); capture READ bytes come from the
//! source. Hosts provide their own (the dom0 backend writes WAV files);
//! this module has the ones that need no operating system.
#![forbid(unsafe_code)]

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::hw::PcmParams;
use super::sample::encode;
pub use xensnd_sndif::lifecycle::Trigger;

/// A sink or source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoError;

/// Where playback audio goes.
pub trait Sink {
    /// The stream was opened with `params` (every OPEN, possibly again).
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        let _ = params;
        Ok(())
    }
    /// Bytes of interleaved PCM in the stream's format.
    fn write(&mut self, bytes: &[u8]) -> Result<(), IoError>;
    /// The stream was closed: make everything written so far durable.
    fn finish(&mut self) -> Result<(), IoError> {
        Ok(())
    }
    /// The frontend's TRIGGER, before the stream acts on it (valid in the
    /// stream's state): START and RESUME play, PAUSE holds what was written,
    /// STOP drops what was written and not played. An error fails the
    /// TRIGGER (`-EIO`, nothing changed). By default nothing to do.
    fn trigger(&mut self, trigger: Trigger) -> Result<(), IoError> {
        let _ = trigger;
        Ok(())
    }
    /// The frames of output time this sink's output played for the stream,
    /// a running count (only its increments matter): the frames it took
    /// and the silence it played in their place when it ran dry, while
    /// started and not paused. `Some` (checked at OPEN) paces the stream's
    /// position by it ([`super::pacing::Pace::Output`]); `None`, the
    /// default, by real time (a sink that takes everything at once).
    fn output_frames(&self) -> Option<u64> {
        None
    }
}

/// Where capture audio comes from.
pub trait Source {
    /// The stream was opened with `params`.
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        let _ = params;
        Ok(())
    }
    /// Fill `out` with interleaved PCM in the stream's format.
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError>;
    /// The stream was closed.
    fn finish(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}

impl<T: Sink + ?Sized> Sink for alloc::boxed::Box<T> {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        (**self).start(params)
    }
    fn write(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        (**self).write(bytes)
    }
    fn finish(&mut self) -> Result<(), IoError> {
        (**self).finish()
    }
    fn trigger(&mut self, trigger: Trigger) -> Result<(), IoError> {
        (**self).trigger(trigger)
    }
    fn output_frames(&self) -> Option<u64> {
        (**self).output_frames()
    }
}

impl<T: Source + ?Sized> Source for alloc::boxed::Box<T> {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        (**self).start(params)
    }
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        (**self).read(out)
    }
    fn finish(&mut self) -> Result<(), IoError> {
        (**self).finish()
    }
}

/// Discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl Sink for NullSink {
    fn write(&mut self, _bytes: &[u8]) -> Result<(), IoError> {
        Ok(())
    }
}

/// Keeps everything in memory; clones share the bytes (tests and the
/// simulator read what the frontend played).
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    bytes: Rc<RefCell<Vec<u8>>>,
    params: Rc<RefCell<Option<PcmParams>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every byte written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.borrow().clone()
    }

    /// How many bytes were written so far.
    pub fn len(&self) -> usize {
        self.bytes.borrow().len()
    }

    /// Whether nothing was written so far.
    pub fn is_empty(&self) -> bool {
        self.bytes.borrow().is_empty()
    }

    /// A copy of the bytes written from byte `start` on.
    pub fn bytes_from(&self, start: usize) -> Vec<u8> {
        self.bytes
            .borrow()
            .get(start..)
            .unwrap_or_default()
            .to_vec()
    }

    /// The parameters of the last OPEN.
    pub fn params(&self) -> Option<PcmParams> {
        *self.params.borrow()
    }
}

impl Sink for MemorySink {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        *self.params.borrow_mut() = Some(*params);
        Ok(())
    }
    fn write(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        let mut stored = self.bytes.borrow_mut();
        stored.try_reserve(bytes.len()).map_err(|_| IoError)?;
        stored.extend_from_slice(bytes);
        Ok(())
    }
}

/// Produces the format's silence.
#[derive(Debug, Default, Clone, Copy)]
pub struct SilenceSource {
    format: u8,
}

impl Source for SilenceSource {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        self.format = params.format;
        Ok(())
    }
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        let size = super::hw::sample_bytes(self.format).unwrap_or(1) as usize;
        let silent = super::sample::silence(self.format);
        for (index, byte) in out.iter_mut().enumerate() {
            *byte = silent[index % size];
        }
        Ok(())
    }
}

/// A sine tone at a fixed frequency and amplitude, the same on every
/// channel, continuous across reads (its phase is kept per frame).
#[derive(Debug, Clone)]
pub struct ToneSource {
    frequency: f32,
    amplitude: f32,
    params: Option<PcmParams>,
    frame: u64,
    /// Bytes of a frame cut by the end of the last read.
    pending: Vec<u8>,
}

impl ToneSource {
    /// A tone of `frequency` Hz at `amplitude` (0.0 ..= 1.0) of full scale.
    pub fn new(frequency: f32, amplitude: f32) -> Self {
        Self {
            frequency,
            amplitude,
            params: None,
            frame: 0,
            pending: Vec::new(),
        }
    }

    fn next_frame(&mut self, params: &PcmParams, out: &mut Vec<u8>) {
        let size = params.sample_bytes() as usize;
        let rate = params.rate.max(1) as u64;
        // Phase from the frame count modulo the rate keeps precision forever.
        let within_second = (self.frame % rate) as f64 / rate as f64;
        let phase = 2.0 * core::f64::consts::PI * f64::from(self.frequency) * within_second;
        let value = self.amplitude * libm::sin(phase) as f32;
        let mut sample = [0u8; 8];
        encode(params.format, value, &mut sample[..size]);
        for _ in 0..params.channels {
            out.extend_from_slice(&sample[..size]);
        }
        self.frame += 1;
    }
}

impl Source for ToneSource {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        self.params = Some(*params);
        self.frame = 0;
        self.pending.clear();
        Ok(())
    }
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        let params = self.params.ok_or(IoError)?;
        let mut done = 0;
        while done < out.len() {
            if self.pending.is_empty() {
                let mut frame = core::mem::take(&mut self.pending);
                self.next_frame(&params, &mut frame);
                self.pending = frame;
            }
            let take = self.pending.len().min(out.len() - done);
            out[done..done + take].copy_from_slice(&self.pending[..take]);
            self.pending.drain(..take);
            done += take;
        }
        Ok(())
    }
}
