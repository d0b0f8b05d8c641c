//! The `pcm` traits implemented over a sndif stream: what the application
//! uses. A stream is a [`SndPlayback`] or a [`SndCapture`] (or, opened
//! without knowing its direction, a [`SndStream`] holding one); both share
//! one private core. Opening negotiates a configuration (backend `HW_PARAM_QUERY`
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
//! | `try_write`, `try_read`, `write_ready`, `read_ready`, `begin_write`, `commit_write`, `try_write_in_place` | no wait |
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
    build_query, determined, negotiate, query_not_implemented, AnswerIssue, BackendOffer,
    NoCommonConfig, Refusal, ShowHwParam, StreamRequest,
};
use super::stream::{ByteSizes, Stream as ProtocolStream, StreamCounters};
use super::SndError;
use xen_abi::errno::{XEN_EINVAL, XEN_ENOSYS, XEN_EOPNOTSUPP};
use xen_abi::sndif::{
    XENSND_OP_GET_VOLUME, XENSND_OP_MUTE, XENSND_OP_SET_VOLUME, XENSND_OP_UNMUTE,
};
use xen_guest::{Platform, SharedPage};
use xensnd_pcm::{
    self as pcm, Capture, CaptureBuffer, ErrorKind, ErrorType, Playback, PlaybackBuffer, ReadSlice,
    StreamConfig, StreamOperation, StreamState, WriteSlice,
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

/// The sndif stream under [`SndPlayback`] and [`SndCapture`]: everything
/// both directions share (the stream's place in the frontend, its
/// configuration, state and cached position).
struct Core<X: Platform> {
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
    /// `open` sent OPEN with these parameters already (with the query):
    /// the first `prepare` has nothing to send.
    pre_opened: bool,
    negotiation: Negotiation,
    /// Position etc. cached after every operation (the trait's getters take `&self`).
    cached: Cached,
    /// Frames offered by the last `begin_write`/`begin_read` (0: none
    /// outstanding); every other transfer and state operation drops the
    /// offer, as the mock does.
    offered: usize,
    /// What `begin_write`/`begin_read` lend out (see there).
    staging: Vec<u8>,
}

/// The stream's figures in bytes as the last operation left them (the
/// getters turn them into frames: the data path does not divide).
#[derive(Debug, Clone, Copy, Default)]
struct Cached {
    position: u64,
    delay: u64,
    available: u64,
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

/// What a direction is called in errors.
fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Playback => "playback",
        Direction::Capture => "capture",
    }
}

/// The `device`/`stream` of the stream whose `unique-id` is `unique_id`
/// (first device that has it).
fn find_unique_id<X: Platform>(
    frontend: &Frontend<X>,
    unique_id: &str,
) -> Result<(usize, usize), PcmError> {
    frontend
        .streams()
        .into_iter()
        .find(|s| s.config.unique_id == unique_id)
        .map(|info| (info.device, info.stream))
        .ok_or_else(|| {
            PcmError::new(
                ErrorKind::InvalidInput,
                alloc::format!("no stream with unique-id {unique_id}"),
            )
        })
}

impl<X: Platform> Core<X> {
    /// Open the stream `stream` of device `device` with what `request` asks
    /// for; `InvalidConfig` when it is not a `want` stream (any direction
    /// for `None`).
    fn open(
        frontend: &Frontend<X>,
        device: usize,
        stream: usize,
        request: &StreamRequest,
        want: Option<Direction>,
    ) -> Result<Core<X>, PcmError> {
        let mut shared = frontend.shared.borrow_mut();
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
        let direction = slot.config.direction;
        if let Some(want) = want.filter(|want| *want != direction) {
            return Err(PcmError::new(
                ErrorKind::InvalidConfig,
                alloc::format!(
                    "stream {} (unique-id {:?}) is a {} stream, not {}",
                    stream,
                    slot.config.unique_id,
                    direction_name(direction),
                    direction_name(want)
                ),
            ));
        }
        let caps: StreamCaps = slot.config.caps.clone();
        let snd = slot
            .stream
            .as_mut()
            .ok_or_else(|| PcmError::new(ErrorKind::Disconnected, "device not connected"))?;
        // The stream's whole XenStore limits, as a query.
        let limits = build_query(&caps, &StreamRequest::default());
        // What the XenStore configuration excludes needs no backend.
        let alone = match negotiate(&caps, None, request) {
            Ok(negotiated) => negotiated.config,
            Err(reason) => {
                return Err(PcmError::new(
                    ErrorKind::InvalidConfig,
                    alloc::format!(
                        "asked for {request}; XenStore allows {}: {reason}",
                        ShowHwParam(&limits)
                    ),
                ))
            }
        };
        // The policy is in the `negotiate` module docs.
        let query = build_query(&caps, request);
        let xen = &mut shared.xen;
        let no_common = |snd: &mut ProtocolStream<X>, xen: &mut X, refusal| {
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
        // When that leaves one configuration, OPEN goes with the query (one
        // ring round trip; `prepare` has nothing to send then); a refusal
        // closes it again and is the same error.
        let mut opened = false;
        let mut asked = None;
        if determined(&caps, request) {
            let (answer, open) = snd.query_and_open(xen, Some(&query), alone);
            opened = open.is_ok();
            asked = answer;
        }
        let refused = |snd: &mut ProtocolStream<X>, xen: &mut X, refusal| {
            if opened {
                let _ = snd.close(xen);
            }
            no_common(snd, xen, refusal)
        };
        let answer = match asked.unwrap_or_else(|| snd.query_hw_params(xen, &query)) {
            Ok(answer) => Some(answer),
            Err(SndError::Backend { status, .. }) if !query_not_implemented(status) => {
                return Err(refused(snd, xen, Refusal::Status(status)));
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
            Err(reason) => return Err(refused(snd, xen, Refusal::Excluded(reason))),
        };
        for issue in &negotiated.issues {
            log::warn!("vsnd: ignored part of the backend's HW_PARAM answer: {issue:?}");
        }
        let frame_bytes = frame_bytes(&negotiated.config)?;
        Ok(Core {
            frontend: frontend.clone(),
            device,
            slot: stream,
            direction,
            generation: None,
            config: negotiated.config,
            frame_bytes,
            state: StreamState::Open,
            pre_opened: opened && negotiated.config == alone,
            negotiation: Negotiation {
                backend_answered: answer.is_some(),
                issues: negotiated.issues,
            },
            cached: Cached::default(),
            offered: 0,
            staging: Vec::new(),
        })
    }

    fn debug(&self, name: &str, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct(name)
            .field("device", &self.device)
            .field("slot", &self.slot)
            .field("config", &self.config)
            .field("state", &self.state)
            .finish()
    }

    fn counters(&self) -> StreamCounters {
        self.with_stream(|s, _| Ok(s.counters()))
            .unwrap_or_default()
    }

    fn channel_stats(&self) -> ChannelStats {
        self.with_stream(|s, _| Ok(s.channel_stats()))
            .unwrap_or_default()
    }

    /// Run `f` on the live stream; `Disconnected` when the device is not
    /// connected or was reconnected since this stream was prepared (the
    /// state drops back to `Open`: `prepare` again).
    fn with_stream<T>(
        &self,
        f: impl FnOnce(&mut ProtocolStream<X>, &mut X) -> Result<T, SndError>,
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
        f: impl FnOnce(&mut ProtocolStream<X>, &mut X) -> Result<T, SndError>,
    ) -> Result<T, PcmError> {
        let mut shared = self.frontend.shared.borrow_mut();
        shared.poll_if_pending();
        let Shared { xen, devices, .. } = &mut *shared;
        let stream = match Self::live_stream(self.generation, devices, self.device, self.slot) {
            Ok(stream) => stream,
            Err(error) => {
                drop(shared);
                self.settle(false, &error);
                return Err(error);
            }
        };
        let result = f(stream, xen);
        self.cached = self.cache(stream);
        match result {
            Ok(value) => Ok(value),
            Err(error) => {
                let stopped = stream.state() == super::lifecycle::ProtocolState::Stopped;
                drop(shared);
                let error = PcmError::from(error);
                self.settle(stopped, &error);
                Err(error)
            }
        }
    }

    /// What `operate` caches after a call on `stream` (nothing of ours to
    /// report when not prepared on the live connection).
    #[inline]
    fn cache(&self, stream: &ProtocolStream<X>) -> Cached {
        if self.generation.is_none() {
            return Cached::default();
        }
        Cached {
            position: stream.position_bytes(),
            delay: stream.delay_bytes(),
            available: stream.available_bytes(),
        }
    }

    /// The cached figure `bytes` in frames.
    #[inline]
    fn frames(&self, bytes: u64) -> u64 {
        bytes / self.frame_bytes.max(1) as u64
    }

    /// After `operate` failed with `error`: a disconnection drops the
    /// state back to `Open`, a failed WRITE (`stopped`: the stream
    /// stopped) to `Stopped`.
    #[cold]
    #[inline(never)]
    fn settle(&mut self, stopped: bool, error: &PcmError) {
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
    ) -> Result<&mut ProtocolStream<X>, PcmError> {
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
        if let Ok(cached) = self.with_stream(|s, _| {
            Ok(Cached {
                position: s.position_bytes(),
                delay: s.delay_bytes(),
                available: s.available_bytes(),
            })
        }) {
            self.cached = cached;
        }
    }

    fn transition(&mut self, operation: StreamOperation) -> Result<StreamState, PcmError> {
        self.offered = 0;
        Ok(self.state.transition(operation)?)
    }

    /// Before a transfer of `len` bytes: whole frames, a state that
    /// transfers; drops a `begin_*` offer.
    fn check_frames(&mut self, len: usize) -> Result<(), PcmError> {
        self.offered = 0;
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

    fn wait_for_room(&mut self, deadline_ns: u64) -> Result<(), PcmError> {
        self.operate(|s, xen| s.wait_for_room(xen, deadline_ns))?;
        self.sync_running();
        Ok(())
    }

    // The `Stream` operations, shared by both directions.

    fn prepare(&mut self) -> Result<(), PcmError> {
        let next = self.transition(StreamOperation::Prepare)?;
        self.frontend.poll();
        let params = self.config;
        // Prepare works on whatever connection is current.
        self.generation = None;
        let pre_opened = core::mem::take(&mut self.pre_opened);
        self.with_stream(|s, xen| {
            // Open since `open` (not reconnected meanwhile: a new stream
            // is Closed): nothing to send.
            if pre_opened
                && s.state() == super::lifecycle::ProtocolState::Open
                && s.params() == Some(params)
            {
                return Ok(());
            }
            s.open(xen, params)
        })?;
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

    /// `write_ready` / `read_ready`: something to transfer without blocking.
    fn ready(&mut self) -> Result<bool, PcmError> {
        self.operate(|s, xen| {
            s.poll(xen)?;
            Ok(s.available_bytes() > 0)
        })
    }
}

/// What the three stream types share, delegated to their [`Core`]
/// (`core()` / `core_mut()`): the sndif accessors, `Debug`, and the
/// [`pcm::Stream`] implementation.
macro_rules! shared_by_all {
    ($name:ident) => {
        impl<X: Platform> $name<X> {
            /// How the configuration was negotiated.
            pub fn negotiation(&self) -> &Negotiation {
                &self.core().negotiation
            }

            /// The stream's counters (bytes, xruns, pipelining depth, waits).
            pub fn counters(&self) -> StreamCounters {
                self.core().counters()
            }

            /// Protocol anomalies seen on the channel.
            pub fn channel_stats(&self) -> ChannelStats {
                self.core().channel_stats()
            }

            /// The shared frontend.
            pub fn frontend(&self) -> &Frontend<X> {
                &self.core().frontend
            }
        }

        impl<X: Platform> core::fmt::Debug for $name<X> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                self.core().debug(stringify!($name), f)
            }
        }

        impl<X: Platform> ErrorType for $name<X> {
            type Error = PcmError;
        }

        impl<X: Platform> pcm::Stream for $name<X> {
            fn config(&self) -> &StreamConfig {
                &self.core().config
            }
            fn state(&self) -> StreamState {
                self.core().state
            }
            fn prepare(&mut self) -> Result<(), PcmError> {
                self.core_mut().prepare()
            }
            fn start(&mut self) -> Result<(), PcmError> {
                self.core_mut().start()
            }
            fn pause(&mut self) -> Result<(), PcmError> {
                self.core_mut().pause()
            }
            fn resume(&mut self) -> Result<(), PcmError> {
                self.core_mut().resume()
            }
            fn stop(&mut self) -> Result<(), PcmError> {
                self.core_mut().stop()
            }
            fn drain(&mut self) -> Result<(), PcmError> {
                self.core_mut().drain()
            }
            fn close(&mut self) -> Result<(), PcmError> {
                self.core_mut().close()
            }
            fn position(&self) -> u64 {
                let core = self.core();
                core.frames(core.cached.position)
            }
            fn delay(&self) -> usize {
                let core = self.core();
                core.frames(core.cached.delay) as usize
            }
            fn available(&self) -> usize {
                let core = self.core();
                core.frames(core.cached.available) as usize
            }
            fn set_volume(&mut self, millidb: &[i32]) -> Result<(), PcmError> {
                self.core_mut().set_volume(millidb)
            }
            fn volume(&mut self, millidb: &mut [i32]) -> Result<usize, PcmError> {
                self.core_mut().volume(millidb)
            }
            fn set_mute(&mut self, mute: bool) -> Result<(), PcmError> {
                self.core_mut().set_mute(mute)
            }
        }
    };
}

/// A playback stream of the vsnd frontend: [`Playback`] and
/// [`PlaybackBuffer`]; it has no `read`.
///
/// ```compile_fail
/// # fn check<X: xen_guest::Platform>(spk: &mut xensnd_sndif::pcm::SndPlayback<X>) {
/// use xensnd_pcm::Capture;
/// let mut frames = [0u8; 4];
/// spk.read(&mut frames); // a playback stream cannot be read
/// # }
/// ```
pub struct SndPlayback<X: Platform> {
    core: Core<X>,
}

/// A capture stream of the vsnd frontend: [`Capture`] and
/// [`CaptureBuffer`]; it has no `write`.
///
/// ```compile_fail
/// # fn check<X: xen_guest::Platform>(mic: &mut xensnd_sndif::pcm::SndCapture<X>) {
/// use xensnd_pcm::Playback;
/// mic.write(&[0u8; 4]); // a capture stream cannot be written
/// # }
/// ```
pub struct SndCapture<X: Platform> {
    core: Core<X>,
}

shared_by_all!(SndPlayback);
shared_by_all!(SndCapture);
shared_by_all!(SndStream);

/// How both typed streams open, for code generic over the direction
/// (e.g. an application's "open the first stream of this kind").
pub trait OpenStream<X: Platform>: pcm::Stream<Error = PcmError> + Sized {
    /// The direction of this type's streams.
    const DIRECTION: Direction;

    /// Open the stream `stream` of device `device` (see
    /// [`Frontend::streams`]) with what `request` asks for; a stream of
    /// the other direction is [`ErrorKind::InvalidConfig`]. The result is
    /// in state `Open`; call `prepare` before transferring.
    fn open(
        frontend: &Frontend<X>,
        device: usize,
        stream: usize,
        request: &StreamRequest,
    ) -> Result<Self, PcmError>;

    /// Open the stream whose `unique-id` is `unique_id` (first device that
    /// has it), as [`open`](OpenStream::open) does.
    fn open_unique_id(
        frontend: &Frontend<X>,
        unique_id: &str,
        request: &StreamRequest,
    ) -> Result<Self, PcmError> {
        let (device, stream) = find_unique_id(frontend, unique_id)?;
        Self::open(frontend, device, stream, request)
    }

    /// How the configuration was negotiated.
    fn negotiation(&self) -> &Negotiation;
}

impl<X: Platform> OpenStream<X> for SndPlayback<X> {
    const DIRECTION: Direction = Direction::Playback;

    fn open(
        frontend: &Frontend<X>,
        device: usize,
        stream: usize,
        request: &StreamRequest,
    ) -> Result<Self, PcmError> {
        SndPlayback::open(frontend, device, stream, request)
    }

    fn negotiation(&self) -> &Negotiation {
        &self.core.negotiation
    }
}

impl<X: Platform> OpenStream<X> for SndCapture<X> {
    const DIRECTION: Direction = Direction::Capture;

    fn open(
        frontend: &Frontend<X>,
        device: usize,
        stream: usize,
        request: &StreamRequest,
    ) -> Result<Self, PcmError> {
        SndCapture::open(frontend, device, stream, request)
    }

    fn negotiation(&self) -> &Negotiation {
        &self.core.negotiation
    }
}

impl<X: Platform> SndPlayback<X> {
    /// Open the playback stream `stream` of device `device` (see
    /// [`Frontend::streams`]) with what `request` asks for; a capture
    /// stream is [`ErrorKind::InvalidConfig`]. The result is in state
    /// `Open`; call `prepare` before writing.
    pub fn open(
        frontend: &Frontend<X>,
        device: usize,
        stream: usize,
        request: &StreamRequest,
    ) -> Result<Self, PcmError> {
        let core = Core::open(frontend, device, stream, request, Some(Direction::Playback))?;
        Ok(SndPlayback { core })
    }

    /// Open the playback stream whose `unique-id` is `unique_id` (first
    /// device that has it); a capture stream is [`ErrorKind::InvalidConfig`].
    pub fn open_unique_id(
        frontend: &Frontend<X>,
        unique_id: &str,
        request: &StreamRequest,
    ) -> Result<Self, PcmError> {
        <Self as OpenStream<X>>::open_unique_id(frontend, unique_id, request)
    }

    fn core(&self) -> &Core<X> {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core<X> {
        &mut self.core
    }

    /// Zero-copy playback: `fill` writes up to `max_frames` frames straight
    /// into the shared buffer. It is called once per contiguous piece with
    /// the piece and the index (from 0) of its first frame; a piece is a
    /// whole number of frames. Returns the frames committed (never 0 for
    /// `max_frames > 0`: it blocks for room like `write`, within the same
    /// bound). The non-blocking form is
    /// [`PlaybackBuffer::try_write_in_place`].
    pub fn write_in_place(
        &mut self,
        max_frames: usize,
        mut fill: impl FnMut(&mut [u8], usize),
    ) -> Result<usize, PcmError> {
        self.core.check_frames(0)?;
        let frame = self.core.frame_bytes;
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
            let written = self.core.operate(|s, xen| {
                started_ns.get_or_insert_with(|| xen.now_ns());
                Self::fill_pages(s, xen, bytes, frame, &mut fill)
            })?;
            if written > 0 || max_frames == 0 {
                return Ok(written / frame);
            }
            let deadline = match deadline {
                Some(deadline) => deadline,
                None => {
                    let start = started_ns.unwrap_or_default();
                    *deadline.insert(
                        self.core
                            .operate(|s, _| Ok(s.transfer_deadline(start, bytes)))?,
                    )
                }
            };
            self.core.wait_for_room(deadline)?;
        }
    }

    /// One in-place WRITE of up to `bytes` (whole frames of `frame`
    /// bytes, `PAGE_SIZE` a multiple of `frame`): `fill` writes each page
    /// piece with the index of its first frame. Returns the bytes queued
    /// (0 when there is no room now).
    fn fill_pages(
        s: &mut ProtocolStream<X>,
        xen: &mut X,
        bytes: usize,
        frame: usize,
        fill: &mut dyn FnMut(&mut [u8], usize),
    ) -> Result<usize, SndError> {
        s.write_in_place(xen, bytes, |page, offset, len, first_byte| {
            page.with_bytes_mut(offset, len, |bytes| {
                fill(bytes, first_byte / frame);
            });
        })
    }
}

impl<X: Platform> SndCapture<X> {
    /// Open the capture stream `stream` of device `device` (see
    /// [`Frontend::streams`]) with what `request` asks for; a playback
    /// stream is [`ErrorKind::InvalidConfig`]. The result is in state
    /// `Open`; call `prepare` and `start` before reading.
    pub fn open(
        frontend: &Frontend<X>,
        device: usize,
        stream: usize,
        request: &StreamRequest,
    ) -> Result<Self, PcmError> {
        let core = Core::open(frontend, device, stream, request, Some(Direction::Capture))?;
        Ok(SndCapture { core })
    }

    fn core(&self) -> &Core<X> {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core<X> {
        &mut self.core
    }

    /// Open the capture stream whose `unique-id` is `unique_id` (first
    /// device that has it); a playback stream is [`ErrorKind::InvalidConfig`].
    pub fn open_unique_id(
        frontend: &Frontend<X>,
        unique_id: &str,
        request: &StreamRequest,
    ) -> Result<Self, PcmError> {
        <Self as OpenStream<X>>::open_unique_id(frontend, unique_id, request)
    }
}

impl<X: Platform> Playback for SndPlayback<X> {
    fn write(&mut self, frames: &[u8]) -> Result<usize, PcmError> {
        self.core.check_frames(frames.len())?;
        let written = self.core.operate(|s, xen| s.write(xen, frames))?;
        self.core.sync_running();
        Ok(written / self.core.frame_bytes)
    }

    fn try_write(&mut self, frames: &[u8]) -> Result<usize, PcmError> {
        self.core.check_frames(frames.len())?;
        let written = self.core.operate(|s, xen| s.try_write(xen, frames))?;
        if written == 0 && !frames.is_empty() {
            return Err(PcmError::new(ErrorKind::WouldBlock, "no room"));
        }
        Ok(written / self.core.frame_bytes)
    }

    fn write_ready(&mut self) -> Result<bool, PcmError> {
        self.core.ready()
    }
}

/// Zero-copy writing: [`try_write_in_place`](PlaybackBuffer::try_write_in_place)
/// fills the shared pages directly (one in-place WRITE, at most a period).
///
/// `begin_write`/`commit_write` cannot lend out the shared pages: they are
/// reachable only inside `SharedPage::with_bytes_mut` (the guest's pages
/// are raw memory the root crate lends out per call, the frontend keeps
/// them behind its shared state), so a slice of them cannot outlive the
/// call as a `WriteSlice` does. `begin_write` lends a buffer of the
/// stream's own instead, as large as the next in-place WRITE (at most a
/// period, not past the buffer's end), and `commit_write` copies the
/// frames into the pages: one copy, as `write` makes. Neither blocks.
impl<X: Platform> PlaybackBuffer for SndPlayback<X> {
    fn begin_write(&mut self) -> Result<WriteSlice<'_>, PcmError> {
        let core = &mut self.core;
        core.check_frames(0)?;
        let room = core.operate(|s, xen| s.writable_now(xen))?;
        if room == 0 {
            return Err(PcmError::new(ErrorKind::WouldBlock, "no room"));
        }
        core.offered = room / core.frame_bytes;
        core.staging.clear();
        core.staging.resize(room, 0);
        Ok(WriteSlice::new(&mut core.staging, core.frame_bytes))
    }

    fn commit_write(&mut self, frames: usize) -> Result<(), PcmError> {
        let core = &mut self.core;
        if frames > core.offered {
            return Err(PcmError::new(
                ErrorKind::InvalidInput,
                "more frames than begin_write offered",
            ));
        }
        core.check_frames(0)?;
        let bytes = frames * core.frame_bytes;
        // Lend the staged bytes to the call (`operate` borrows the core).
        let staging = core::mem::take(&mut core.staging);
        let written = core.operate(|s, xen| s.try_write(xen, &staging[..bytes]));
        core.staging = staging;
        let written = written?;
        if written < bytes {
            // Room only grows while the application holds the slice; this
            // is a stream that changed under it (e.g. a failed WRITE).
            return Err(PcmError::new(
                ErrorKind::Other,
                alloc::format!(
                    "queued {} of the {frames} committed frames",
                    written / core.frame_bytes
                ),
            ));
        }
        Ok(())
    }

    fn try_write_in_place(
        &mut self,
        max_frames: usize,
        fill: &mut dyn FnMut(&mut [u8], usize),
    ) -> Result<usize, PcmError> {
        self.core.check_frames(0)?;
        let frame = self.core.frame_bytes;
        if xen_guest::PAGE_SIZE % frame != 0 {
            // Frames would straddle pages: through a slice of our own.
            let frames = {
                let mut slice = self.begin_write()?;
                let frames = slice.frames().min(max_frames);
                fill(&mut slice.bytes_mut()[..frames * frame], 0);
                frames
            };
            self.commit_write(frames)?;
            return Ok(frames);
        }
        let written = self
            .core
            .operate(|s, xen| Self::fill_pages(s, xen, max_frames * frame, frame, fill))?;
        if written == 0 && max_frames > 0 {
            return Err(PcmError::new(ErrorKind::WouldBlock, "no room"));
        }
        Ok(written / frame)
    }
}

/// `begin_read` copies the rest of the oldest READ's frames (at most a
/// period) out of the shared pages into a buffer of the stream's own and
/// lends that; `commit_read` takes the frames from the stream. One copy,
/// as `read` makes: the pages cannot be lent out (see [`SndPlayback`]'s
/// `PlaybackBuffer`). Neither blocks.
impl<X: Platform> CaptureBuffer for SndCapture<X> {
    fn begin_read(&mut self) -> Result<ReadSlice<'_>, PcmError> {
        let core = &mut self.core;
        core.check_frames(0)?;
        let mut staging = core::mem::take(&mut core.staging);
        let peeked = core.operate(|s, xen| s.peek_captured(xen, &mut staging));
        core.staging = staging;
        peeked?;
        if core.staging.is_empty() {
            return Err(PcmError::new(ErrorKind::WouldBlock, "nothing captured yet"));
        }
        core.offered = core.staging.len() / core.frame_bytes;
        Ok(ReadSlice::new(&core.staging, core.frame_bytes))
    }

    fn commit_read(&mut self, frames: usize) -> Result<(), PcmError> {
        let core = &mut self.core;
        if frames > core.offered {
            return Err(PcmError::new(
                ErrorKind::InvalidInput,
                "more frames than begin_read offered",
            ));
        }
        core.check_frames(0)?;
        let bytes = frames * core.frame_bytes;
        core.operate(|s, _| s.release_captured(bytes))
    }
}

impl<X: Platform> Capture for SndCapture<X> {
    fn read(&mut self, frames: &mut [u8]) -> Result<usize, PcmError> {
        self.core.check_frames(frames.len())?;
        let read = self.core.operate(|s, xen| s.read(xen, frames))?;
        self.core.sync_running();
        Ok(read / self.core.frame_bytes)
    }

    fn try_read(&mut self, frames: &mut [u8]) -> Result<usize, PcmError> {
        self.core.check_frames(frames.len())?;
        let read = self.core.operate(|s, xen| s.try_read(xen, frames))?;
        if read == 0 && !frames.is_empty() {
            return Err(PcmError::new(ErrorKind::WouldBlock, "nothing captured yet"));
        }
        Ok(read / self.core.frame_bytes)
    }

    fn read_ready(&mut self) -> Result<bool, PcmError> {
        self.core.ready()
    }
}

/// A sndif stream of either direction, for code that opens streams it
/// does not know the direction of (by `unique-id` from a list); match it
/// to write or read.
pub enum SndStream<X: Platform> {
    /// A playback stream.
    Playback(SndPlayback<X>),
    /// A capture stream.
    Capture(SndCapture<X>),
}

impl<X: Platform> SndStream<X> {
    /// Open the stream `stream` of device `device` (see
    /// [`Frontend::streams`]) as the type of its direction.
    pub fn open(
        frontend: &Frontend<X>,
        device: usize,
        stream: usize,
        request: &StreamRequest,
    ) -> Result<Self, PcmError> {
        let core = Core::open(frontend, device, stream, request, None)?;
        Ok(match core.direction {
            Direction::Playback => SndStream::Playback(SndPlayback { core }),
            Direction::Capture => SndStream::Capture(SndCapture { core }),
        })
    }

    /// Open the stream whose `unique-id` is `unique_id` (first device that
    /// has it) as the type of its direction.
    pub fn open_unique_id(
        frontend: &Frontend<X>,
        unique_id: &str,
        request: &StreamRequest,
    ) -> Result<Self, PcmError> {
        let (device, stream) = find_unique_id(frontend, unique_id)?;
        SndStream::open(frontend, device, stream, request)
    }

    /// Playback or capture.
    pub fn direction(&self) -> Direction {
        self.core().direction
    }

    /// The playback stream, if it is one.
    pub fn as_playback_mut(&mut self) -> Option<&mut SndPlayback<X>> {
        match self {
            SndStream::Playback(playback) => Some(playback),
            SndStream::Capture(_) => None,
        }
    }

    /// The capture stream, if it is one.
    pub fn as_capture_mut(&mut self) -> Option<&mut SndCapture<X>> {
        match self {
            SndStream::Playback(_) => None,
            SndStream::Capture(capture) => Some(capture),
        }
    }

    fn core(&self) -> &Core<X> {
        match self {
            SndStream::Playback(playback) => &playback.core,
            SndStream::Capture(capture) => &capture.core,
        }
    }

    fn core_mut(&mut self) -> &mut Core<X> {
        match self {
            SndStream::Playback(playback) => &mut playback.core,
            SndStream::Capture(capture) => &mut capture.core,
        }
    }
}
