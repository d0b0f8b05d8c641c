//! An in-memory reference implementation of the PCM traits: a loopback stream.
//!
//! Implements the contract documented on [`xensnd_pcm`](crate) (state machine,
//! frame accounting, blocking and non-blocking transfer, zero-copy access)
//! with no backend: what is written comes back out of `read`. It exists so
//! the application and generic code can be tested on the host before (and
//! independently of) the sndif-backed stream. Works on the guest too.
//!
//! The "device" of the loopback has no clock. It consumes frames only when
//! asked: by [`Capture::read`] (loopback), by [`LoopbackStream::play_out`]
//! (a test advancing time), by a blocking [`Playback::write`] into a full
//! buffer while running (the device "plays" the oldest frames to make room,
//! as a real one would while the writer waits), and by [`Stream::drain`].
//! Every frame consumed counts towards [`Stream::position`]. A blocking
//! `read` with nothing queued while running fails with
//! [`ErrorKind::Timeout`] (nothing will ever arrive).
//!
//! [`Stream::available`] reports the free room (the playback view); the
//! capture view is [`LoopbackStream::queued_frames`] / [`Capture::read_ready`].
//! Volume and mute are recorded, not applied.
#![forbid(unsafe_code)]

use alloc::vec;
use alloc::vec::Vec;

use super::{
    Capture, CaptureBuffer, ErrorKind, ErrorType, Playback, PlaybackBuffer, ReadSlice, Stream,
    StreamConfig, StreamOperation, StreamState, WriteSlice,
};

/// A playback + capture stream whose output is its input.
#[derive(Debug, Clone)]
pub struct LoopbackStream {
    config: StreamConfig,
    frame_bytes: usize,
    state: StreamState,
    /// Ring of `buffer_frames` frames.
    ring: Vec<u8>,
    /// Byte offset of the oldest queued frame.
    read_offset: usize,
    /// Queued bytes (whole frames).
    queued_bytes: usize,
    /// Frames consumed by the device since the last prepare.
    position: u64,
    /// Frames offered by the last `begin_write` (0: none outstanding).
    offered_write: usize,
    /// Frames offered by the last `begin_read` (0: none outstanding).
    offered_read: usize,
    volume: Vec<i32>,
    muted: bool,
    injected: Option<ErrorKind>,
}

impl LoopbackStream {
    /// A stream in state `Open` with `config`; [`ErrorKind::InvalidConfig`]
    /// unless [`StreamConfig::is_valid`].
    pub fn new(config: StreamConfig) -> Result<LoopbackStream, ErrorKind> {
        if !config.is_valid() {
            return Err(ErrorKind::InvalidConfig);
        }
        let frame_bytes = config.frame_bytes().ok_or(ErrorKind::InvalidConfig)? as usize;
        let buffer_bytes = config.buffer_bytes().ok_or(ErrorKind::InvalidConfig)? as usize;
        Ok(LoopbackStream {
            config,
            frame_bytes,
            state: StreamState::Open,
            ring: vec![0; buffer_bytes],
            read_offset: 0,
            queued_bytes: 0,
            position: 0,
            offered_write: 0,
            offered_read: 0,
            volume: vec![0; usize::from(config.channels)],
            muted: false,
            injected: None,
        })
    }

    /// Make the next fallible call fail with `kind` (fault injection).
    pub fn fail_next(&mut self, kind: ErrorKind) {
        self.injected = Some(kind);
    }

    /// Frames written and not yet consumed.
    pub fn queued_frames(&self) -> usize {
        self.queued_bytes / self.frame_bytes
    }

    /// Frames the buffer holds.
    pub fn capacity_frames(&self) -> usize {
        self.ring.len() / self.frame_bytes
    }

    /// The volume last set, per channel, 0.001 dB.
    pub fn volume_millidb(&self) -> &[i32] {
        &self.volume
    }

    /// Whether the stream is muted.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    /// Let the device consume up to `frames` queued frames, as if time
    /// passed while running; returns how many it consumed (0 unless running).
    pub fn play_out(&mut self, frames: usize) -> usize {
        if self.state != StreamState::Running {
            return 0;
        }
        self.consume(frames)
    }

    fn check_injected(&mut self) -> Result<(), ErrorKind> {
        match self.injected.take() {
            Some(kind) => Err(kind),
            None => Ok(()),
        }
    }

    fn apply(&mut self, operation: StreamOperation) -> Result<(), ErrorKind> {
        self.check_injected()?;
        self.state = self
            .state
            .transition(operation)
            .map_err(|_| ErrorKind::InvalidState)?;
        self.offered_write = 0;
        self.offered_read = 0;
        Ok(())
    }

    fn reset_buffer(&mut self) {
        self.read_offset = 0;
        self.queued_bytes = 0;
    }

    /// Drop up to `frames` of the oldest queued frames, counting them as played.
    fn consume(&mut self, frames: usize) -> usize {
        let frames = frames.min(self.queued_frames());
        let bytes = frames * self.frame_bytes;
        self.read_offset = (self.read_offset + bytes) % self.ring.len();
        self.queued_bytes -= bytes;
        self.position += frames as u64;
        self.offered_read = 0;
        frames
    }

    fn room_frames(&self) -> usize {
        (self.ring.len() - self.queued_bytes) / self.frame_bytes
    }

    fn write_offset(&self) -> usize {
        (self.read_offset + self.queued_bytes) % self.ring.len()
    }

    /// Frames in `bytes`, or `InvalidInput` if not whole frames.
    fn whole_frames(&self, bytes: usize) -> Result<usize, ErrorKind> {
        if bytes % self.frame_bytes != 0 {
            return Err(ErrorKind::InvalidInput);
        }
        Ok(bytes / self.frame_bytes)
    }

    /// Copy up to `room` frames of `data` into the ring.
    fn enqueue(&mut self, data: &[u8]) -> usize {
        let frames = (data.len() / self.frame_bytes).min(self.room_frames());
        let mut bytes = &data[..frames * self.frame_bytes];
        while !bytes.is_empty() {
            let offset = self.write_offset();
            let contiguous = (self.ring.len() - offset).min(bytes.len());
            self.ring[offset..offset + contiguous].copy_from_slice(&bytes[..contiguous]);
            self.queued_bytes += contiguous;
            bytes = &bytes[contiguous..];
        }
        self.offered_write = 0;
        frames
    }

    /// Copy up to `queued` frames out of the ring into `out`, consuming them.
    fn dequeue(&mut self, out: &mut [u8]) -> usize {
        let frames = (out.len() / self.frame_bytes).min(self.queued_frames());
        let total = frames * self.frame_bytes;
        let mut copied = 0;
        while copied < total {
            let offset = (self.read_offset + copied) % self.ring.len();
            let contiguous = (self.ring.len() - offset).min(total - copied);
            out[copied..copied + contiguous]
                .copy_from_slice(&self.ring[offset..offset + contiguous]);
            copied += contiguous;
        }
        self.consume(frames)
    }
}

impl ErrorType for LoopbackStream {
    type Error = ErrorKind;
}

impl Stream for LoopbackStream {
    fn config(&self) -> &StreamConfig {
        &self.config
    }

    fn state(&self) -> StreamState {
        self.state
    }

    fn prepare(&mut self) -> Result<(), ErrorKind> {
        self.apply(StreamOperation::Prepare)?;
        self.reset_buffer();
        self.position = 0;
        Ok(())
    }

    fn start(&mut self) -> Result<(), ErrorKind> {
        self.apply(StreamOperation::Start)
    }

    fn pause(&mut self) -> Result<(), ErrorKind> {
        self.apply(StreamOperation::Pause)
    }

    fn resume(&mut self) -> Result<(), ErrorKind> {
        self.apply(StreamOperation::Resume)
    }

    fn stop(&mut self) -> Result<(), ErrorKind> {
        self.apply(StreamOperation::Stop)?;
        self.reset_buffer();
        Ok(())
    }

    fn drain(&mut self) -> Result<(), ErrorKind> {
        self.check_injected()?;
        // Check first, so a refused drain consumes nothing.
        let next = self
            .state
            .transition(StreamOperation::Drain)
            .map_err(|_| ErrorKind::InvalidState)?;
        self.consume(usize::MAX);
        self.state = next;
        self.offered_write = 0;
        Ok(())
    }

    fn close(&mut self) -> Result<(), ErrorKind> {
        self.apply(StreamOperation::Close)?;
        self.reset_buffer();
        Ok(())
    }

    fn position(&self) -> u64 {
        self.position
    }

    fn delay(&self) -> usize {
        self.queued_frames()
    }

    fn available(&self) -> usize {
        if self.state.can_transfer() {
            self.room_frames()
        } else {
            0
        }
    }

    fn set_volume(&mut self, millidb: &[i32]) -> Result<(), ErrorKind> {
        self.check_injected()?;
        if millidb.len() != self.volume.len() {
            return Err(ErrorKind::InvalidInput);
        }
        if !self.state.can_transfer() {
            return Err(ErrorKind::InvalidState);
        }
        self.volume.copy_from_slice(millidb);
        Ok(())
    }

    fn volume(&mut self, millidb: &mut [i32]) -> Result<usize, ErrorKind> {
        self.check_injected()?;
        if !self.state.can_transfer() {
            return Err(ErrorKind::InvalidState);
        }
        let count = millidb.len().min(self.volume.len());
        millidb[..count].copy_from_slice(&self.volume[..count]);
        Ok(count)
    }

    fn set_mute(&mut self, mute: bool) -> Result<(), ErrorKind> {
        self.check_injected()?;
        if !self.state.can_transfer() {
            return Err(ErrorKind::InvalidState);
        }
        self.muted = mute;
        Ok(())
    }
}

impl Playback for LoopbackStream {
    fn write(&mut self, frames: &[u8]) -> Result<usize, ErrorKind> {
        self.check_injected()?;
        let count = self.whole_frames(frames.len())?;
        if !self.state.can_transfer() {
            return Err(ErrorKind::InvalidState);
        }
        if count == 0 {
            return Ok(0);
        }
        if self.room_frames() == 0 {
            if self.state != StreamState::Running {
                return Err(ErrorKind::InvalidState);
            }
            // "Wait" for the device to play enough to take this write.
            let wanted = count.min(self.capacity_frames());
            self.consume(wanted);
        }
        Ok(self.enqueue(frames))
    }

    fn try_write(&mut self, frames: &[u8]) -> Result<usize, ErrorKind> {
        self.check_injected()?;
        let count = self.whole_frames(frames.len())?;
        if !self.state.can_transfer() {
            return Err(ErrorKind::InvalidState);
        }
        if count == 0 {
            return Ok(0);
        }
        if self.room_frames() == 0 {
            return Err(ErrorKind::WouldBlock);
        }
        Ok(self.enqueue(frames))
    }

    fn write_ready(&mut self) -> Result<bool, ErrorKind> {
        self.check_injected()?;
        if !self.state.can_transfer() {
            return Err(ErrorKind::InvalidState);
        }
        Ok(self.room_frames() > 0)
    }
}

impl Capture for LoopbackStream {
    fn read(&mut self, frames: &mut [u8]) -> Result<usize, ErrorKind> {
        self.check_injected()?;
        let count = self.whole_frames(frames.len())?;
        if !matches!(self.state, StreamState::Running | StreamState::Paused) {
            return Err(ErrorKind::InvalidState);
        }
        if count == 0 {
            return Ok(0);
        }
        if self.queued_bytes == 0 {
            return Err(if self.state == StreamState::Running {
                ErrorKind::Timeout
            } else {
                ErrorKind::InvalidState
            });
        }
        Ok(self.dequeue(frames))
    }

    fn try_read(&mut self, frames: &mut [u8]) -> Result<usize, ErrorKind> {
        self.check_injected()?;
        let count = self.whole_frames(frames.len())?;
        if !matches!(self.state, StreamState::Running | StreamState::Paused) {
            return Err(ErrorKind::InvalidState);
        }
        if count == 0 {
            return Ok(0);
        }
        if self.queued_bytes == 0 {
            return Err(ErrorKind::WouldBlock);
        }
        Ok(self.dequeue(frames))
    }

    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        self.check_injected()?;
        if !matches!(self.state, StreamState::Running | StreamState::Paused) {
            return Err(ErrorKind::InvalidState);
        }
        Ok(self.queued_bytes > 0)
    }
}

impl PlaybackBuffer for LoopbackStream {
    fn begin_write(&mut self) -> Result<WriteSlice<'_>, ErrorKind> {
        self.check_injected()?;
        if !self.state.can_transfer() {
            return Err(ErrorKind::InvalidState);
        }
        let room = self.ring.len() - self.queued_bytes;
        if room == 0 {
            return Err(ErrorKind::WouldBlock);
        }
        let offset = self.write_offset();
        let contiguous = room.min(self.ring.len() - offset);
        self.offered_write = contiguous / self.frame_bytes;
        let frame_bytes = self.frame_bytes;
        Ok(WriteSlice::new(
            &mut self.ring[offset..offset + contiguous],
            frame_bytes,
        ))
    }

    fn commit_write(&mut self, frames: usize) -> Result<(), ErrorKind> {
        self.check_injected()?;
        if !self.state.can_transfer() {
            return Err(ErrorKind::InvalidState);
        }
        if frames > self.offered_write {
            return Err(ErrorKind::InvalidInput);
        }
        self.queued_bytes += frames * self.frame_bytes;
        self.offered_write = 0;
        Ok(())
    }
}

impl CaptureBuffer for LoopbackStream {
    fn begin_read(&mut self) -> Result<ReadSlice<'_>, ErrorKind> {
        self.check_injected()?;
        if !matches!(self.state, StreamState::Running | StreamState::Paused) {
            return Err(ErrorKind::InvalidState);
        }
        if self.queued_bytes == 0 {
            return Err(ErrorKind::WouldBlock);
        }
        let contiguous = self.queued_bytes.min(self.ring.len() - self.read_offset);
        self.offered_read = contiguous / self.frame_bytes;
        Ok(ReadSlice::new(
            &self.ring[self.read_offset..self.read_offset + contiguous],
            self.frame_bytes,
        ))
    }

    fn commit_read(&mut self, frames: usize) -> Result<(), ErrorKind> {
        self.check_injected()?;
        if !matches!(self.state, StreamState::Running | StreamState::Paused) {
            return Err(ErrorKind::InvalidState);
        }
        if frames > self.offered_read {
            return Err(ErrorKind::InvalidInput);
        }
        self.consume(frames);
        Ok(())
    }
}
