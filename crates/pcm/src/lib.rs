//! The PCM stream API: embedded-hal-style traits the application plays and records through.
//!
//! Implements the stream life cycle of `io/sndif.h` ("Request open",
//! "Request close", "Request stream running state change") as a plain-data
//! state machine ([`StreamState`]) and the data path (`XENSND_OP_WRITE` /
//! `XENSND_OP_READ`, `XENSND_EVT_CUR_POS`) as the [`Playback`] and [`Capture`]
//! traits. The traits follow `embedded-io`:
//! - [`ErrorType`] names an error type whose [`Error::kind`] maps it to a
//!   small, `#[non_exhaustive]` [`ErrorKind`];
//! - [`Playback::write`] blocks until it moved at least one frame and returns
//!   how many: never `Ok(0)` for non-empty input;
//! - [`Playback::try_write`] / [`Capture::try_read`] never block and fail with
//!   [`ErrorKind::WouldBlock`]; [`Playback::write_ready`] and
//!   [`Capture::read_ready`] are the readiness probes;
//! - [`PlaybackBuffer`] / [`CaptureBuffer`] give zero-copy access to the
//!   stream buffer (`begin_*` then `commit_*`);
//! - every trait is implemented for `&mut T`.
//!
//! Data is interleaved frames: one sample per channel, in the negotiated
//! [`SampleFormat`]. Byte slices passed to `write`/`read` must be a whole
//! number of frames ([`ErrorKind::InvalidInput`] otherwise). Counts are in
//! frames. The in-memory [`mock::LoopbackStream`] implements everything and
//! is what the application is tested against on the host.
//!
//! ```
//! use xensnd_pcm::{ErrorKind, Playback, Stream, StreamConfig};
//! use xensnd_pcm::mock::LoopbackStream;
//! use xensnd_pcm::format::SampleFormat;
//!
//! /// Play `seconds` of silence on any playback stream.
//! fn play_silence<P: Playback>(stream: &mut P, seconds: u32) -> Result<u64, P::Error> {
//!     let config = *stream.config();
//!     let frame_bytes = config.frame_bytes().unwrap_or(1) as usize;
//!     let mut chunk = [0u8; 1024];
//!     let chunk = &mut chunk[..1024 / frame_bytes * frame_bytes];
//!     config.format.fill_silence(chunk);
//!     stream.prepare()?;
//!     let mut left = u64::from(config.rate) * u64::from(seconds);
//!     let mut started = false;
//!     while left > 0 {
//!         let frames = left.min((chunk.len() / frame_bytes) as u64) as usize;
//!         let written = stream.write(&chunk[..frames * frame_bytes])?;
//!         left -= written as u64;
//!         if !started {
//!             stream.start()?;
//!             started = true;
//!         }
//!     }
//!     stream.drain()?;
//!     Ok(stream.position())
//! }
//!
//! let config = StreamConfig {
//!     format: SampleFormat::S16Le,
//!     rate: 8000,
//!     channels: 2,
//!     period_frames: 256,
//!     buffer_frames: 1024,
//! };
//! let mut stream = LoopbackStream::new(config).unwrap();
//! assert_eq!(play_silence(&mut stream, 1), Ok(8000));
//! assert_eq!(stream.write(&[0; 4]).unwrap_err(), ErrorKind::InvalidState);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

use core::fmt;

pub mod caps;
pub mod clock;
pub mod convert;
pub mod format;
pub mod gain;
pub mod mock;

pub use caps::{Direction, StreamCaps};
pub use clock::Clock;
pub use format::SampleFormat;

/// What went wrong, in terms an application can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The backend did not answer in time.
    Timeout,
    /// The backend went away (XenBus state left Connected, ring broken).
    Disconnected,
    /// The domain was asked to shut down (`xl shutdown` / `xl reboot`:
    /// `control/shutdown`): the call gave up so the application can stop.
    Shutdown,
    /// Playback ran out of data; the stream must be prepared again.
    Underrun,
    /// Capture data was lost because it was not read in time.
    Overrun,
    /// The requested configuration cannot be used.
    InvalidConfig,
    /// The operation is not supported by this stream or backend.
    Unsupported,
    /// The backend answered with this (negative Xen errno) status.
    Backend(i32),
    /// The operation is not allowed in the current [`StreamState`].
    InvalidState,
    /// A non-blocking call could not make progress now.
    WouldBlock,
    /// An argument is malformed (e.g. a byte count that is not whole frames).
    InvalidInput,
    /// Anything else.
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Timeout => formatter.write_str("timed out"),
            ErrorKind::Disconnected => formatter.write_str("backend disconnected"),
            ErrorKind::Shutdown => formatter.write_str("shutting down"),
            ErrorKind::Underrun => formatter.write_str("playback underrun"),
            ErrorKind::Overrun => formatter.write_str("capture overrun"),
            ErrorKind::InvalidConfig => formatter.write_str("invalid stream configuration"),
            ErrorKind::Unsupported => formatter.write_str("not supported"),
            ErrorKind::Backend(status) => write!(formatter, "backend error {status}"),
            ErrorKind::InvalidState => formatter.write_str("not allowed in this stream state"),
            ErrorKind::WouldBlock => formatter.write_str("operation would block"),
            ErrorKind::InvalidInput => formatter.write_str("invalid argument"),
            ErrorKind::Other => formatter.write_str("error"),
        }
    }
}

impl core::error::Error for ErrorKind {}

/// An error of a PCM stream.
pub trait Error: fmt::Debug {
    /// The generic kind of this error.
    fn kind(&self) -> ErrorKind;
}

/// [`ErrorKind`] is itself an error (for implementations with nothing more to say).
impl Error for ErrorKind {
    fn kind(&self) -> ErrorKind {
        *self
    }
}

/// Names the error type of a stream.
pub trait ErrorType {
    /// The error type.
    type Error: Error;
}

impl<T: ErrorType + ?Sized> ErrorType for &mut T {
    type Error = T::Error;
}

/// A concrete stream configuration (what `XENSND_OP_OPEN` sends, in frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamConfig {
    /// Sample format.
    pub format: SampleFormat,
    /// Frames per second.
    pub rate: u32,
    /// Channels per frame (`pcm_channels`).
    pub channels: u8,
    /// Frames between position events.
    pub period_frames: u32,
    /// Frames in the stream buffer.
    pub buffer_frames: u32,
}

impl StreamConfig {
    /// Bytes per frame; `None` for a compressed format.
    pub const fn frame_bytes(&self) -> Option<u32> {
        self.format.frame_bytes(self.channels as u32)
    }

    /// Buffer size in bytes (`buffer_sz`); `None` if unknown or above `u32`.
    pub const fn buffer_bytes(&self) -> Option<u32> {
        match self.frame_bytes() {
            Some(frame) => frame.checked_mul(self.buffer_frames),
            None => None,
        }
    }

    /// Period size in bytes (`period_sz`); `None` if unknown or above `u32`.
    pub const fn period_bytes(&self) -> Option<u32> {
        match self.frame_bytes() {
            Some(frame) => frame.checked_mul(self.period_frames),
            None => None,
        }
    }

    /// Whether this is usable at all: a sized format, at least one channel,
    /// nonzero rate, `1 <= period_frames <= buffer_frames`, and a buffer size
    /// that fits the wire's `u32`.
    pub const fn is_valid(&self) -> bool {
        self.channels > 0
            && self.rate > 0
            && self.period_frames > 0
            && self.period_frames <= self.buffer_frames
            && matches!(self.buffer_bytes(), Some(bytes) if bytes > 0)
    }
}

/// An operation that moves a stream between states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamOperation {
    /// Set up the stream for transfer (sndif: `XENSND_OP_OPEN`).
    Prepare,
    /// Start transferring (sndif: `XENSND_OP_TRIGGER` / `START`).
    Start,
    /// Pause (sndif: `XENSND_OP_TRIGGER` / `PAUSE`).
    Pause,
    /// Resume after a pause (sndif: `XENSND_OP_TRIGGER` / `RESUME`).
    Resume,
    /// Stop at once, dropping queued data (sndif: `XENSND_OP_TRIGGER` / `STOP`).
    Stop,
    /// Stop after queued playback data has been played (then `TRIGGER` / `STOP`).
    Drain,
    /// Release the stream (sndif: `XENSND_OP_CLOSE`).
    Close,
}

/// The state of a PCM stream.
///
/// `io/sndif.h` defines the operations, not the states: "Request open - open
/// a PCM stream for playback or capture", "Request close - close an opened
/// pcm stream", and "Request stream running state change - trigger PCM
/// stream running state to start, stop, pause or resume". The states below
/// are the ones those operations imply (as in ALSA and virtio-sound):
///
/// | operation | allowed from                  | to         | sndif request          |
/// |-----------|-------------------------------|------------|------------------------|
/// | prepare   | Open, Prepared, Stopped, Drained | Prepared | `XENSND_OP_OPEN`       |
/// | start     | Prepared                      | Running    | `TRIGGER` `START`      |
/// | pause     | Running                       | Paused     | `TRIGGER` `PAUSE`      |
/// | resume    | Paused                        | Running    | `TRIGGER` `RESUME`     |
/// | stop      | Prepared, Running, Paused     | Stopped    | `TRIGGER` `STOP`       |
/// | drain     | Prepared, Running             | Drained    | (`START`), wait, `TRIGGER` `STOP` |
/// | close     | every state but Closed        | Closed     | `XENSND_OP_CLOSE`      |
///
/// Everything else is an [`InvalidTransition`]. Queued data survives
/// `pause`; `stop` drops it; `prepare` starts over at position 0. `drain`
/// of a prepared stream does what ALSA's `snd_pcm_drain` does for a
/// PREPARED one: with nothing queued it returns at once (Drained); with
/// data queued it starts the stream and then drains it.
///
/// This is the application's state machine, not the wire's: the sndif
/// stream under it follows `xensnd_sndif::lifecycle::ProtocolState`
/// (the one both ends share), which has no `Drained`, no configured-but-
/// not-opened `Open` and no final `Closed`; `prepare` maps to OPEN, `drain`
/// to waiting and then STOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamState {
    /// Configured but not set up with the backend.
    Open,
    /// Set up (buffer shared, `OPEN` sent); data may be queued; not running.
    Prepared,
    /// Transferring.
    Running,
    /// Paused; resumes where it left off.
    Paused,
    /// Stopped at once; queued data dropped.
    Stopped,
    /// Stopped after all queued playback data was played.
    Drained,
    /// Released; nothing more can be done.
    Closed,
}

/// A [`StreamOperation`] not allowed in a [`StreamState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvalidTransition {
    /// The state the stream was in.
    pub from: StreamState,
    /// The operation refused.
    pub operation: StreamOperation,
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "cannot {:?} a stream in state {:?}",
            self.operation, self.from
        )
    }
}

impl core::error::Error for InvalidTransition {}

impl Error for InvalidTransition {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidState
    }
}

impl StreamState {
    /// The state after `operation`, or why it is not allowed.
    pub const fn transition(
        self,
        operation: StreamOperation,
    ) -> Result<StreamState, InvalidTransition> {
        use StreamOperation as Op;
        use StreamState as State;
        let next = match (self, operation) {
            (State::Open | State::Prepared | State::Stopped | State::Drained, Op::Prepare) => {
                State::Prepared
            }
            (State::Prepared, Op::Start) => State::Running,
            (State::Running, Op::Pause) => State::Paused,
            (State::Paused, Op::Resume) => State::Running,
            (State::Prepared | State::Running | State::Paused, Op::Stop) => State::Stopped,
            (State::Prepared | State::Running, Op::Drain) => State::Drained,
            (State::Closed, Op::Close) => {
                return Err(InvalidTransition {
                    from: self,
                    operation,
                })
            }
            (_, Op::Close) => State::Closed,
            _ => {
                return Err(InvalidTransition {
                    from: self,
                    operation,
                })
            }
        };
        Ok(next)
    }

    /// Whether `read`/`write` may queue or take data in this state
    /// (`Prepared`, `Running`, `Paused`).
    pub const fn can_transfer(self) -> bool {
        matches!(
            self,
            StreamState::Prepared | StreamState::Running | StreamState::Paused
        )
    }
}

/// What every PCM stream can do, playback or capture.
///
/// Positions and counts are in frames. `position` counts frames played
/// (playback) or captured (capture) since the last `prepare`.
///
/// Every blocking call ends within a bound the application can compute:
/// an implementation documents it per call (the sndif one in
/// `sndif::pcm`, from its request and stall timeouts and the audio's
/// duration). A stream that makes no progress fails with
/// [`ErrorKind::Timeout`]; a domain asked to shut down ends blocking calls
/// with [`ErrorKind::Shutdown`].
pub trait Stream: ErrorType {
    /// The configuration the stream was opened with.
    fn config(&self) -> &StreamConfig;
    /// The current state.
    fn state(&self) -> StreamState;
    /// [`StreamOperation::Prepare`]: set up for transfer; resets the position.
    fn prepare(&mut self) -> Result<(), Self::Error>;
    /// [`StreamOperation::Start`].
    fn start(&mut self) -> Result<(), Self::Error>;
    /// [`StreamOperation::Pause`].
    fn pause(&mut self) -> Result<(), Self::Error>;
    /// [`StreamOperation::Resume`].
    fn resume(&mut self) -> Result<(), Self::Error>;
    /// [`StreamOperation::Stop`]: stop now, dropping queued data.
    fn stop(&mut self) -> Result<(), Self::Error>;
    /// [`StreamOperation::Drain`]: block until queued playback data was
    /// played, then stop. On a prepared stream: returns at once when nothing
    /// is queued, otherwise starts it first (ALSA's `snd_pcm_drain`).
    fn drain(&mut self) -> Result<(), Self::Error>;
    /// [`StreamOperation::Close`].
    fn close(&mut self) -> Result<(), Self::Error>;
    /// Frames played or captured since the last `prepare`.
    fn position(&self) -> u64;
    /// Frames between the application and the speaker/microphone: queued
    /// but not yet played (playback), captured but not yet read (capture).
    fn delay(&self) -> usize;
    /// Frames that can be transferred now without blocking: free room for
    /// playback, frames waiting to be read for capture.
    fn available(&self) -> usize;
    /// Set the volume of each channel, in 0.001 dB (0 = unchanged level);
    /// `millidb.len()` must equal the channel count (`XENSND_OP_SET_VOLUME`).
    fn set_volume(&mut self, millidb: &[i32]) -> Result<(), Self::Error>;
    /// Read the volume of each channel into `millidb` (`XENSND_OP_GET_VOLUME`);
    /// returns the number of channels written (`min(len, channels)`).
    fn volume(&mut self, millidb: &mut [i32]) -> Result<usize, Self::Error>;
    /// Mute or unmute every channel (`XENSND_OP_MUTE` / `XENSND_OP_UNMUTE`).
    fn set_mute(&mut self, mute: bool) -> Result<(), Self::Error>;
}

/// A stream the application writes frames to.
pub trait Playback: Stream {
    /// Queue interleaved frames, blocking until at least one frame was
    /// accepted. Returns the number of frames accepted: never `Ok(0)` for
    /// non-empty input, `Ok(0)` for empty input. `frames.len()` must be a
    /// whole number of frames ([`ErrorKind::InvalidInput`]). Allowed in
    /// `Prepared`, `Running` and `Paused`; if the buffer is full and the
    /// stream is not running (so it would block forever), fails with
    /// [`ErrorKind::InvalidState`].
    fn write(&mut self, frames: &[u8]) -> Result<usize, Self::Error>;
    /// Like [`write`](Playback::write) but never blocks: fails with
    /// [`ErrorKind::WouldBlock`] if no frame fits now.
    fn try_write(&mut self, frames: &[u8]) -> Result<usize, Self::Error>;
    /// Whether at least one frame can be written without blocking.
    fn write_ready(&mut self) -> Result<bool, Self::Error>;
}

/// A stream the application reads frames from.
pub trait Capture: Stream {
    /// Take captured interleaved frames into `frames`, blocking until at
    /// least one frame is available. Returns the number of frames read:
    /// never `Ok(0)` for a non-empty buffer. `frames.len()` must be a whole
    /// number of frames ([`ErrorKind::InvalidInput`]). Allowed in `Running`
    /// and `Paused`; if nothing is queued and the stream is not running,
    /// fails with [`ErrorKind::InvalidState`].
    fn read(&mut self, frames: &mut [u8]) -> Result<usize, Self::Error>;
    /// Like [`read`](Capture::read) but never blocks: fails with
    /// [`ErrorKind::WouldBlock`] if no frame is available now.
    fn try_read(&mut self, frames: &mut [u8]) -> Result<usize, Self::Error>;
    /// Whether at least one frame can be read without blocking.
    fn read_ready(&mut self) -> Result<bool, Self::Error>;
}

/// A contiguous, writable piece of a stream buffer: a whole number of frames.
#[derive(Debug)]
pub struct WriteSlice<'a> {
    bytes: &'a mut [u8],
    frame_bytes: usize,
}

impl<'a> WriteSlice<'a> {
    /// Wrap `bytes`, cut down to whole frames of `frame_bytes` (> 0).
    pub fn new(bytes: &'a mut [u8], frame_bytes: usize) -> WriteSlice<'a> {
        let frame_bytes = frame_bytes.max(1);
        let whole = bytes.len() / frame_bytes * frame_bytes;
        WriteSlice {
            bytes: &mut bytes[..whole],
            frame_bytes,
        }
    }
    /// Frames that fit.
    pub fn frames(&self) -> usize {
        self.bytes.len() / self.frame_bytes
    }
    /// Bytes per frame.
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }
    /// The bytes to fill.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.bytes
    }
}

/// A contiguous, readable piece of a stream buffer: a whole number of frames.
#[derive(Debug)]
pub struct ReadSlice<'a> {
    bytes: &'a [u8],
    frame_bytes: usize,
}

impl<'a> ReadSlice<'a> {
    /// Wrap `bytes`, cut down to whole frames of `frame_bytes` (> 0).
    pub fn new(bytes: &'a [u8], frame_bytes: usize) -> ReadSlice<'a> {
        let frame_bytes = frame_bytes.max(1);
        let whole = bytes.len() / frame_bytes * frame_bytes;
        ReadSlice {
            bytes: &bytes[..whole],
            frame_bytes,
        }
    }
    /// Frames available.
    pub fn frames(&self) -> usize {
        self.bytes.len() / self.frame_bytes
    }
    /// Bytes per frame.
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }
    /// The captured bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Zero-copy playback: fill the stream buffer in place.
///
/// `begin_write` never blocks: it returns the next contiguous free part of
/// the buffer (possibly less than [`Stream::available`] when the buffer
/// wraps) or fails with [`ErrorKind::WouldBlock`]. `commit_write(n)` queues
/// the first `n` frames of that slice; more than offered is
/// [`ErrorKind::InvalidInput`]. Not committing queues nothing.
pub trait PlaybackBuffer: Playback {
    /// The next contiguous free part of the buffer.
    fn begin_write(&mut self) -> Result<WriteSlice<'_>, Self::Error>;
    /// Queue the first `frames` frames of the last [`begin_write`](PlaybackBuffer::begin_write) slice.
    fn commit_write(&mut self, frames: usize) -> Result<(), Self::Error>;
    /// Fill up to `max_frames` frames in place and queue them, without
    /// blocking: `fill(bytes, first_frame)` gets each contiguous piece
    /// (whole frames) and the index, from 0, of its first frame. Returns
    /// the frames queued (what `fill` was given), or fails with
    /// [`ErrorKind::WouldBlock`] when no frame fits now.
    ///
    /// The default is [`begin_write`](PlaybackBuffer::begin_write), `fill`
    /// on (the first `max_frames` frames of) that slice, then
    /// [`commit_write`](PlaybackBuffer::commit_write). A stream whose
    /// buffer cannot be lent out as one slice overrides it to fill the
    /// buffer itself (the sndif stream fills its shared pages).
    fn try_write_in_place(
        &mut self,
        max_frames: usize,
        fill: &mut dyn FnMut(&mut [u8], usize),
    ) -> Result<usize, Self::Error> {
        let frames = {
            let mut slice = self.begin_write()?;
            let frames = slice.frames().min(max_frames);
            let bytes = frames * slice.frame_bytes();
            fill(&mut slice.bytes_mut()[..bytes], 0);
            frames
        };
        self.commit_write(frames)?;
        Ok(frames)
    }
}

/// Zero-copy capture: read captured frames in place.
///
/// `begin_read` never blocks: it returns the next contiguous captured part
/// of the buffer or fails with [`ErrorKind::WouldBlock`]. `commit_read(n)`
/// releases the first `n` frames; more than offered is
/// [`ErrorKind::InvalidInput`].
pub trait CaptureBuffer: Capture {
    /// The next contiguous part of captured frames.
    fn begin_read(&mut self) -> Result<ReadSlice<'_>, Self::Error>;
    /// Release the first `frames` frames of the last [`begin_read`](CaptureBuffer::begin_read) slice.
    fn commit_read(&mut self, frames: usize) -> Result<(), Self::Error>;
}

impl<T: Stream + ?Sized> Stream for &mut T {
    fn config(&self) -> &StreamConfig {
        T::config(self)
    }
    fn state(&self) -> StreamState {
        T::state(self)
    }
    fn prepare(&mut self) -> Result<(), Self::Error> {
        T::prepare(self)
    }
    fn start(&mut self) -> Result<(), Self::Error> {
        T::start(self)
    }
    fn pause(&mut self) -> Result<(), Self::Error> {
        T::pause(self)
    }
    fn resume(&mut self) -> Result<(), Self::Error> {
        T::resume(self)
    }
    fn stop(&mut self) -> Result<(), Self::Error> {
        T::stop(self)
    }
    fn drain(&mut self) -> Result<(), Self::Error> {
        T::drain(self)
    }
    fn close(&mut self) -> Result<(), Self::Error> {
        T::close(self)
    }
    fn position(&self) -> u64 {
        T::position(self)
    }
    fn delay(&self) -> usize {
        T::delay(self)
    }
    fn available(&self) -> usize {
        T::available(self)
    }
    fn set_volume(&mut self, millidb: &[i32]) -> Result<(), Self::Error> {
        T::set_volume(self, millidb)
    }
    fn volume(&mut self, millidb: &mut [i32]) -> Result<usize, Self::Error> {
        T::volume(self, millidb)
    }
    fn set_mute(&mut self, mute: bool) -> Result<(), Self::Error> {
        T::set_mute(self, mute)
    }
}

impl<T: Playback + ?Sized> Playback for &mut T {
    fn write(&mut self, frames: &[u8]) -> Result<usize, Self::Error> {
        T::write(self, frames)
    }
    fn try_write(&mut self, frames: &[u8]) -> Result<usize, Self::Error> {
        T::try_write(self, frames)
    }
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        T::write_ready(self)
    }
}

impl<T: Capture + ?Sized> Capture for &mut T {
    fn read(&mut self, frames: &mut [u8]) -> Result<usize, Self::Error> {
        T::read(self, frames)
    }
    fn try_read(&mut self, frames: &mut [u8]) -> Result<usize, Self::Error> {
        T::try_read(self, frames)
    }
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        T::read_ready(self)
    }
}

impl<T: PlaybackBuffer + ?Sized> PlaybackBuffer for &mut T {
    fn begin_write(&mut self) -> Result<WriteSlice<'_>, Self::Error> {
        T::begin_write(self)
    }
    fn commit_write(&mut self, frames: usize) -> Result<(), Self::Error> {
        T::commit_write(self, frames)
    }
    fn try_write_in_place(
        &mut self,
        max_frames: usize,
        fill: &mut dyn FnMut(&mut [u8], usize),
    ) -> Result<usize, Self::Error> {
        T::try_write_in_place(self, max_frames, fill)
    }
}

impl<T: CaptureBuffer + ?Sized> CaptureBuffer for &mut T {
    fn begin_read(&mut self) -> Result<ReadSlice<'_>, Self::Error> {
        T::begin_read(self)
    }
    fn commit_read(&mut self, frames: usize) -> Result<(), Self::Error> {
        T::commit_read(self, frames)
    }
}
