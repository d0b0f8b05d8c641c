//! The `pcm` traits implemented over a sndif stream: what the application
//! uses. Opening negotiates a configuration (backend `HW_PARAM_QUERY`
//! answer if it gives one, XenStore limits if it does not implement the
//! query; a refusal is `InvalidConfig` naming both sides, see
//! [`super::negotiate`]); every operation
//! follows the backend's connection and reports `Disconnected` once when
//! the backend went away, after which `prepare` opens the stream again on
//! the new connection.
//!
//! # How long each call may block
//!
//! With `T` the request timeout (`FrontendOptions::request_timeout_ns`,
//! default 3 s like Linux's xen-snd-front), `S` the stall timeout
//! (`FrontendOptions::stall_timeout_ns`, default 10 s like ALSA), `C` the
//! XenBus step timeout (`FrontendOptions::connect_timeout_ns`) and `d(n)`
//! the duration of `n` frames at the stream's rate:
//!
//! | call | returns within |
//! |---|---|
//! | `Frontend::open` (HW_PARAM_QUERY) | `T` |
//! | `prepare` (CLOSE if open, OPEN) | `2T` |
//! | `start`, `pause`, `resume`, `stop`, `close` | `T` |
//! | `set_volume`, `volume`, `set_mute` (room for the values, then the request) | `2T` |
//! | `write`, `write_in_place`, `read` of `n` frames | `d(n) + S + 2T` (one TRIGGER START inside) |
//! | `drain` | `d(queued) + S + 3T` (START, last answers, STOP) |
//! | `try_write`, `try_read`, `write_ready`, `read_ready` | no wait |
//!
//! Any call may first follow a XenBus change it finds (a reconnection
//! waits up to `C` per handshake step, twice) and read XenStore after a
//! XenStore event (each read bounded by the XenStore timeout). While a
//! call waits it follows the device's XenBus state and `control/shutdown`
//! (after [`Frontend::follow_shutdown`]): it ends at once with
//! `Disconnected` (state back to `Open`: prepare again) or `Shutdown`
//! (an application polling with the non-blocking calls asks
//! [`Frontend::shutdown_request`] itself). A WRITE that fails leaves the
//! stream `Stopped` (prepare again); a READ that fails loses its frames
//! (`counters().lost_bytes`), reported once by the read that reaches them.
//! `write`/`read` that made progress before an error return the count
//! instead (the error comes again next time).
#![forbid(unsafe_code)]

use alloc::string::String;
use alloc::vec::Vec;

use super::channel::ChannelStats;
use super::config::{Direction, StreamCaps};
use super::frontend::{Frontend, Shared};
use super::negotiate::{
    build_query, negotiate, query_not_implemented, AnswerIssue, BackendOffer, NoCommonConfig,
    Refusal, ShowHwParam, StreamRequest,
};
use super::stream::{ByteSizes, Stream as SndStream, StreamCounters};
use super::SndError;
use xen_abi::errno::{XEN_EINVAL, XEN_ENOSYS, XEN_EOPNOTSUPP};
use xen_abi::sndif::{
    XENSND_OP_GET_VOLUME, XENSND_OP_MUTE, XENSND_OP_SET_VOLUME, XENSND_OP_UNMUTE,
};
use xen_guest::{Platform, SharedPage};
use xensnd_pcm::{
    self as pcm, Capture, ErrorKind, ErrorType, Playback, StreamConfig, StreamOperation,
    StreamState,
};

/// An error from a sndif PCM stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcmError {
    /// The class of error.
    pub kind: ErrorKind,
    /// What happened, for logs.
    pub detail: String,
}

impl pcm::Error for PcmError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl core::error::Error for PcmError {}

impl core::fmt::Display for PcmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

impl PcmError {
    fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        PcmError {
            kind,
            detail: detail.into(),
        }
    }
}

/// The error kind an application sees for a protocol-level error.
///
/// Volume and mute are optional: a backend without them answers
/// `SET_VOLUME`/`GET_VOLUME`/`MUTE`/`UNMUTE` with `-EINVAL` (snd_be: its
/// command table has no handler), `-EOPNOTSUPP` (our backend engine for an
/// operation it does not know) or `-ENOSYS`; those are
/// [`ErrorKind::Unsupported`]. Any other status stays
/// [`ErrorKind::Backend`].
pub fn kind_of(error: &SndError) -> ErrorKind {
    match error {
        SndError::Timeout { .. } => ErrorKind::Timeout,
        SndError::Disconnected | SndError::Protocol(_) => ErrorKind::Disconnected,
        SndError::Shutdown => ErrorKind::Shutdown,
        SndError::Backend { operation, status }
            if is_control(*operation) && lacks_operation(*status) =>
        {
            ErrorKind::Unsupported
        }
        SndError::Backend { status, .. } => ErrorKind::Backend(*status),
        SndError::Busy => ErrorKind::WouldBlock,
        SndError::InvalidState => ErrorKind::InvalidState,
        SndError::Unsupported => ErrorKind::Unsupported,
        SndError::Buffer(_) => ErrorKind::InvalidConfig,
        SndError::NoControlRoom => ErrorKind::WouldBlock,
        _ => ErrorKind::Other,
    }
}

/// `SET_VOLUME`, `GET_VOLUME`, `MUTE` or `UNMUTE`.
fn is_control(operation: u8) -> bool {
    matches!(
        operation,
        XENSND_OP_SET_VOLUME | XENSND_OP_GET_VOLUME | XENSND_OP_MUTE | XENSND_OP_UNMUTE
    )
}

/// The statuses with which backends say they do not implement an
/// operation: `-EINVAL` (snd_be answers every operation missing from its
/// command table so), `-EOPNOTSUPP`, `-ENOSYS`.
fn lacks_operation(status: i32) -> bool {
    [XEN_EINVAL, XEN_EOPNOTSUPP, XEN_ENOSYS].contains(&-status)
}

impl From<SndError> for PcmError {
    fn from(e: SndError) -> Self {
        PcmError::new(kind_of(&e), alloc::format!("{e}"))
    }
}

impl From<pcm::InvalidTransition> for PcmError {
    fn from(e: pcm::InvalidTransition) -> Self {
        PcmError::new(ErrorKind::InvalidState, alloc::format!("{e}"))
    }
}

impl From<NoCommonConfig> for PcmError {
    fn from(e: NoCommonConfig) -> Self {
        PcmError::new(ErrorKind::InvalidConfig, alloc::format!("{e}"))
    }
}

/// How a stream was negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiation {
    /// Whether the backend answered `HW_PARAM_QUERY`.
    pub backend_answered: bool,
    /// What was wrong with the answer (fields ignored).
    pub issues: Vec<AnswerIssue>,
}

/// A PCM stream of the vsnd frontend.
pub struct SndPcm<X: Platform> {
    frontend: Frontend<X>,
    device: usize,
    slot: usize,
    direction: Direction,
    /// Device generation the stream was opened on.
    generation: Option<u32>,
    config: StreamConfig,
    /// Bytes per frame of `config` (checked fixed when opened).
    frame_bytes: usize,
    state: StreamState,
    negotiation: Negotiation,
    /// Position etc. cached after every operation (the trait's getters take `&self`).
    cached: Cached,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cached {
    position: u64,
    delay: usize,
    available: usize,
}

impl<X: Platform> core::fmt::Debug for SndPcm<X> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SndPcm")
            .field("device", &self.device)
            .field("slot", &self.slot)
            .field("config", &self.config)
            .field("state", &self.state)
            .finish()
    }
}

/// Bytes per frame of `config`; `Unsupported` for a format without a
/// fixed sample size.
fn frame_bytes(config: &StreamConfig) -> Result<usize, PcmError> {
    config
        .format
        .bytes_per_sample()
        .ok_or_else(|| PcmError::new(ErrorKind::Unsupported, "format has no fixed sample size"))?;
    Ok(config.frame_len())
}

impl<X: Platform> Frontend<X> {
    /// Open the stream `stream` of device `device` (see [`Frontend::streams`])
    /// with what `request` asks for. The result is in state `Open`; call
    /// `prepare` before transferring.
    pub fn open(
        &self,
        device: usize,
        stream: usize,
        request: &StreamRequest,
    ) -> Result<SndPcm<X>, PcmError> {
        let mut shared = self.shared.borrow_mut();
        let shared = &mut *shared;
        shared.poll();
        let dev = shared
            .devices
            .get_mut(device)
            .ok_or_else(|| PcmError::new(ErrorKind::InvalidInput, "no such device"))?;
        let slot = dev
            .slots
            .get_mut(stream)
            .ok_or_else(|| PcmError::new(ErrorKind::InvalidInput, "no such stream"))?;
        let caps: StreamCaps = slot.config.caps.clone();
        let direction = slot.config.direction;
        let snd = slot
            .stream
            .as_mut()
            .ok_or_else(|| PcmError::new(ErrorKind::Disconnected, "device not connected"))?;
        // The stream's whole XenStore limits, as a query.
        let limits = build_query(&caps, &StreamRequest::default());
        // What the XenStore configuration excludes needs no backend.
        if let Err(reason) = negotiate(&caps, None, request) {
            return Err(PcmError::new(
                ErrorKind::InvalidConfig,
                alloc::format!(
                    "asked for {request}; XenStore allows {}: {reason}",
                    ShowHwParam(&limits)
                ),
            ));
        }
        // The policy is in the `negotiate` module docs.
        let query = build_query(&caps, request);
        let xen = &mut shared.xen;
        let no_common = |snd: &mut SndStream<X>, xen: &mut X, refusal| {
            let offer = match snd.query_hw_params(xen, &limits) {
                Ok(answer) => BackendOffer::Answer(answer),
                Err(SndError::Backend { status, .. }) => BackendOffer::Refused(status),
                Err(_) => BackendOffer::Unknown,
            };
            PcmError::from(NoCommonConfig {
                request: *request,
                limits,
                refusal,
                offer,
            })
        };
        let answer = match snd.query_hw_params(xen, &query) {
            Ok(answer) => Some(answer),
            Err(SndError::Backend { status, .. }) if !query_not_implemented(status) => {
                return Err(no_common(snd, xen, Refusal::Status(status)));
            }
            Err(
                e @ (SndError::Timeout { .. } | SndError::BadResponse | SndError::Backend { .. }),
            ) => {
                log::info!(
                    "vsnd: backend does not implement HW_PARAM_QUERY ({e}); using XenStore limits"
                );
                None
            }
            Err(e) => return Err(e.into()),
        };
        let negotiated = match negotiate(&caps, answer.as_ref(), request) {
            Ok(negotiated) => negotiated,
            Err(reason) => return Err(no_common(snd, xen, Refusal::Excluded(reason))),
        };
        for issue in &negotiated.issues {
            log::warn!("vsnd: ignored part of the backend's HW_PARAM answer: {issue:?}");
        }
        let frame_bytes = frame_bytes(&negotiated.config)?;
        Ok(SndPcm {
            frontend: self.clone(),
            device,
            slot: stream,
            direction,
            generation: None,
            config: negotiated.config,
            frame_bytes,
            state: StreamState::Open,
            negotiation: Negotiation {
                backend_answered: answer.is_some(),
                issues: negotiated.issues,
            },
            cached: Cached::default(),
        })
    }

    /// Open the stream whose `unique-id` is `unique_id` (first device that has it).
    pub fn open_unique_id(
        &self,
        unique_id: &str,
        request: &StreamRequest,
    ) -> Result<SndPcm<X>, PcmError> {
        let info = self
            .streams()
            .into_iter()
            .find(|s| s.config.unique_id == unique_id)
            .ok_or_else(|| {
                PcmError::new(
                    ErrorKind::InvalidInput,
                    alloc::format!("no stream with unique-id {unique_id}"),
                )
            })?;
        self.open(info.device, info.stream, request)
    }
}

impl<X: Platform> SndPcm<X> {
    /// How the configuration was negotiated.
    pub fn negotiation(&self) -> &Negotiation {
        &self.negotiation
    }

    /// Playback or capture.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The stream's counters (bytes, xruns, pipelining depth, waits).
    pub fn counters(&self) -> StreamCounters {
        self.with_stream(|s, _| Ok(s.counters()))
            .unwrap_or_default()
    }

    /// Protocol anomalies seen on the channel.
    pub fn channel_stats(&self) -> ChannelStats {
        self.with_stream(|s, _| Ok(s.channel_stats()))
            .unwrap_or_default()
    }

    /// The shared frontend.
    pub fn frontend(&self) -> &Frontend<X> {
        &self.frontend
    }

    /// Run `f` on the live stream; `Disconnected` when the device is not
    /// connected or was reconnected since this stream was prepared (the
    /// state drops back to `Open`: `prepare` again).
    fn with_stream<T>(
        &self,
        f: impl FnOnce(&mut SndStream<X>, &mut X) -> Result<T, SndError>,
    ) -> Result<T, PcmError> {
        let mut shared = self.frontend.shared.borrow_mut();
        let Shared { xen, devices, .. } = &mut *shared;
        let stream = Self::live_stream(self.generation, devices, self.device, self.slot)?;
        Ok(f(stream, xen)?)
    }

    /// Like `with_stream` for state-changing operations: follows the
    /// backend's XenStore state first (cheap unless XenStore signalled
    /// something), turns a disconnection into state `Open`, and refreshes
    /// the cached position, delay and room, all under one borrow.
    fn operate<T>(
        &mut self,
        f: impl FnOnce(&mut SndStream<X>, &mut X) -> Result<T, SndError>,
    ) -> Result<T, PcmError> {
        let mut cached = None;
        let result = {
            let mut shared = self.frontend.shared.borrow_mut();
            shared.poll_if_pending();
            let Shared { xen, devices, .. } = &mut *shared;
            Self::live_stream(self.generation, devices, self.device, self.slot).and_then(|stream| {
                let result = f(stream, xen);
                cached = Some((
                    self.cache(stream),
                    stream.state() == super::lifecycle::ProtocolState::Stopped,
                ));
                Ok(result?)
            })
        };
        self.settle(cached, result.as_ref().err());
        result
    }

    /// What `operate` caches after a call on `stream` (nothing of ours to
    /// report when not prepared on the live connection).
    #[inline]
    fn cache(&self, stream: &SndStream<X>) -> Cached {
        if self.generation.is_none() {
            return Cached::default();
        }
        let frame = self.frame_bytes.max(1) as u64;
        Cached {
            position: stream.position_bytes() / frame,
            delay: (stream.delay_bytes() / frame) as usize,
            available: (stream.available_bytes() / frame) as usize,
        }
    }

    /// After `operate`: keep the cache; a disconnection drops the state
    /// back to `Open`, a failed WRITE (the stream stopped) to `Stopped`.
    #[inline(never)]
    fn settle(&mut self, cached: Option<(Cached, bool)>, error: Option<&PcmError>) {
        let mut stopped = false;
        if let Some((cached, stream_stopped)) = cached {
            self.cached = cached;
            stopped = stream_stopped;
        }
        let Some(error) = error else { return };
        if error.kind == ErrorKind::Disconnected {
            self.state = StreamState::Open;
            self.generation = None;
        } else if self.state.can_transfer() && stopped {
            // A failed WRITE stopped the stream: prepare again.
            self.state = StreamState::Stopped;
        }
    }

    /// The stream of `slot` on `device` if it is live on generation
    /// `generation` (see `with_stream`).
    #[inline]
    fn live_stream(
        generation: Option<u32>,
        devices: &mut [super::frontend::Device<X>],
        device: usize,
        slot: usize,
    ) -> Result<&mut SndStream<X>, PcmError> {
        let device = &mut devices[device];
        let current = device.connected.then_some(device.generation);
        if generation.is_some() && generation != current {
            return Err(PcmError::new(
                ErrorKind::Disconnected,
                "backend reconnected: prepare the stream again",
            ));
        }
        device.slots[slot]
            .stream
            .as_mut()
            .ok_or_else(|| PcmError::new(ErrorKind::Disconnected, "backend not connected"))
    }

    fn refresh(&mut self) {
        let frame = self.frame_bytes.max(1);
        if let Ok((position, delay, available)) = self.with_stream(|s, _| {
            Ok((
                s.position_frames(),
                s.delay_bytes() as usize / frame,
                s.available_bytes() as usize / frame,
            ))
        }) {
            self.cached = Cached {
                position,
                delay,
                available,
            };
        }
    }

    fn transition(&mut self, operation: StreamOperation) -> Result<StreamState, PcmError> {
        Ok(self.state.transition(operation)?)
    }

    fn check_frames(&self, len: usize) -> Result<(), PcmError> {
        if len % self.frame_bytes != 0 {
            return Err(PcmError::new(
                ErrorKind::InvalidInput,
                "not a whole number of frames",
            ));
        }
        if !self.state.can_transfer() {
            return Err(PcmError::new(
                ErrorKind::InvalidState,
                alloc::format!("cannot transfer in state {:?}", self.state),
            ));
        }
        Ok(())
    }

    fn sync_running(&mut self) {
        let running = self
            .with_stream(|s, _| Ok(s.state() == super::lifecycle::ProtocolState::Running))
            .unwrap_or(false);
        if running && self.state == StreamState::Prepared {
            self.state = StreamState::Running;
        }
    }

    /// Zero-copy playback: `fill` writes up to `max_frames` frames straight
    /// into the shared buffer. It is called once per contiguous piece with
    /// the piece and the index (from 0) of its first frame; a piece is a
    /// whole number of frames. Returns the frames committed (never 0 for
    /// `max_frames > 0`: it blocks for room like `write`, within the same
    /// bound).
    pub fn write_in_place(
        &mut self,
        max_frames: usize,
        mut fill: impl FnMut(&mut [u8], usize),
    ) -> Result<usize, PcmError> {
        if self.direction != Direction::Playback {
            return Err(PcmError::new(
                ErrorKind::InvalidState,
                "not a playback stream",
            ));
        }
        self.check_frames(0)?;
        let frame = self.frame_bytes;
        if xen_guest::PAGE_SIZE % frame != 0 {
            // Frames would straddle pages: stage them instead.
            let mut staging = alloc::vec![0u8; max_frames * frame];
            fill(&mut staging, 0);
            return Playback::write(self, &staging);
        }
        let bytes = max_frames * frame;
        // The deadline counts from the call's start; it is only worked out
        // when the call has to wait (the data path mostly does not).
        let mut started_ns = None;
        let mut deadline = None;
        loop {
            let written = self.operate(|s, xen| {
                started_ns.get_or_insert_with(|| xen.now_ns());
                s.write_in_place(xen, bytes, |page, offset, len, first_byte| {
                    page.with_bytes_mut(offset, len, |bytes| {
                        fill(bytes, first_byte / frame);
                    });
                })
            })?;
            if written > 0 || max_frames == 0 {
                return Ok(written / frame);
            }
            let deadline = match deadline {
                Some(deadline) => deadline,
                None => {
                    let start = started_ns.unwrap_or_default();
                    *deadline.insert(self.operate(|s, _| Ok(s.transfer_deadline(start, bytes)))?)
                }
            };
            self.wait_for_room(deadline)?;
        }
    }

    fn wait_for_room(&mut self, deadline_ns: u64) -> Result<(), PcmError> {
        self.operate(|s, xen| s.wait_for_room(xen, deadline_ns))?;
        self.sync_running();
        Ok(())
    }
}

impl<X: Platform> ErrorType for SndPcm<X> {
    type Error = PcmError;
}

impl<X: Platform> pcm::Stream for SndPcm<X> {
    fn config(&self) -> &StreamConfig {
        &self.config
    }

    fn state(&self) -> StreamState {
        self.state
    }

    fn prepare(&mut self) -> Result<(), PcmError> {
        let next = self.transition(StreamOperation::Prepare)?;
        self.frontend.poll();
        let params = self.config;
        // Prepare works on whatever connection is current.
        self.generation = None;
        self.with_stream(|s, xen| s.open(xen, params))?;
        let shared = self.frontend.shared.borrow();
        self.generation = Some(shared.devices[self.device].generation);
        drop(shared);
        self.state = next;
        self.refresh();
        Ok(())
    }

    fn start(&mut self) -> Result<(), PcmError> {
        let next = self.transition(StreamOperation::Start)?;
        self.operate(|s, xen| s.start(xen))?;
        self.state = next;
        Ok(())
    }

    fn pause(&mut self) -> Result<(), PcmError> {
        let next = self.transition(StreamOperation::Pause)?;
        self.operate(|s, xen| s.pause(xen))?;
        self.state = next;
        Ok(())
    }

    fn resume(&mut self) -> Result<(), PcmError> {
        let next = self.transition(StreamOperation::Resume)?;
        self.operate(|s, xen| s.resume(xen))?;
        self.state = next;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), PcmError> {
        let next = self.transition(StreamOperation::Stop)?;
        self.operate(|s, xen| match s.state() {
            super::lifecycle::ProtocolState::Running | super::lifecycle::ProtocolState::Paused => {
                s.stop(xen)
            }
            _ => Ok(()),
        })?;
        self.state = next;
        Ok(())
    }

    fn drain(&mut self) -> Result<(), PcmError> {
        let next = self.transition(StreamOperation::Drain)?;
        self.operate(|s, xen| s.drain(xen))?;
        self.state = next;
        Ok(())
    }

    fn close(&mut self) -> Result<(), PcmError> {
        let next = self.transition(StreamOperation::Close)?;
        self.state = next;
        self.operate(|s, xen| s.close(xen))
    }

    fn position(&self) -> u64 {
        self.cached.position
    }

    fn delay(&self) -> usize {
        self.cached.delay
    }

    fn available(&self) -> usize {
        self.cached.available
    }

    fn set_volume(&mut self, millidb: &[i32]) -> Result<(), PcmError> {
        if millidb.len() != self.config.channels as usize {
            return Err(PcmError::new(
                ErrorKind::InvalidInput,
                "one value per channel",
            ));
        }
        self.operate(|s, xen| s.set_volume(xen, millidb))
    }

    fn volume(&mut self, millidb: &mut [i32]) -> Result<usize, PcmError> {
        let values = self.operate(|s, xen| s.volume(xen))?;
        let n = values.len().min(millidb.len());
        millidb[..n].copy_from_slice(&values[..n]);
        Ok(n)
    }

    fn set_mute(&mut self, mute: bool) -> Result<(), PcmError> {
        self.operate(|s, xen| s.set_mute(xen, mute))
    }
}

impl<X: Platform> Playback for SndPcm<X> {
    fn write(&mut self, frames: &[u8]) -> Result<usize, PcmError> {
        if self.direction != Direction::Playback {
            return Err(PcmError::new(
                ErrorKind::InvalidState,
                "not a playback stream",
            ));
        }
        self.check_frames(frames.len())?;
        let written = self.operate(|s, xen| s.write(xen, frames))?;
        self.sync_running();
        Ok(written / self.frame_bytes)
    }

    fn try_write(&mut self, frames: &[u8]) -> Result<usize, PcmError> {
        if self.direction != Direction::Playback {
            return Err(PcmError::new(
                ErrorKind::InvalidState,
                "not a playback stream",
            ));
        }
        self.check_frames(frames.len())?;
        let written = self.operate(|s, xen| s.try_write(xen, frames))?;
        if written == 0 && !frames.is_empty() {
            return Err(PcmError::new(ErrorKind::WouldBlock, "no room"));
        }
        Ok(written / self.frame_bytes)
    }

    fn write_ready(&mut self) -> Result<bool, PcmError> {
        self.operate(|s, xen| {
            s.poll(xen)?;
            Ok(s.available_bytes() > 0)
        })
    }
}

impl<X: Platform> Capture for SndPcm<X> {
    fn read(&mut self, frames: &mut [u8]) -> Result<usize, PcmError> {
        if self.direction != Direction::Capture {
            return Err(PcmError::new(
                ErrorKind::InvalidState,
                "not a capture stream",
            ));
        }
        self.check_frames(frames.len())?;
        let read = self.operate(|s, xen| s.read(xen, frames))?;
        self.sync_running();
        Ok(read / self.frame_bytes)
    }

    fn try_read(&mut self, frames: &mut [u8]) -> Result<usize, PcmError> {
        if self.direction != Direction::Capture {
            return Err(PcmError::new(
                ErrorKind::InvalidState,
                "not a capture stream",
            ));
        }
        self.check_frames(frames.len())?;
        let read = self.operate(|s, xen| s.try_read(xen, frames))?;
        if read == 0 && !frames.is_empty() {
            return Err(PcmError::new(ErrorKind::WouldBlock, "nothing captured yet"));
        }
        Ok(read / self.frame_bytes)
    }

    fn read_ready(&mut self) -> Result<bool, PcmError> {
        self.operate(|s, xen| {
            s.poll(xen)?;
            Ok(s.available_bytes() > 0)
        })
    }
}
