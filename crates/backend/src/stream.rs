//! One stream's state machine and request dispatch.
//!
//! `io/sndif.h`, "Stream operations": every request gets exactly one
//! response with the request's id and operation and a status (0 or a
//! negative Xen errno). The states are the ones the frontend goes by too:
//! [`ProtocolState`] ([`xensnd_sndif::lifecycle`]), the one machine for
//! both ends.
//!
//! Invalid transitions (WRITE before OPEN, PAUSE when not running, ...) are
//! answered with `-EINVAL` and logged; nothing a frontend sends panics.
//!
//! OPEN is checked against what the stream offers ([`super::hw`]: the vsnd
//! configuration within the device's limits); the device buffer and period
//! are the whole frames of `buffer_sz` and `period_sz`. Position events
//! ([`super::pacing`]) number their ids from 0 per connection and keep
//! counting across OPENs, as Linux's frontend expects (see
//! [`super::behaviour::EventIds`]). Where sndif leaves room, the stream
//! follows its [`Behaviour`] (ours by default).
#![forbid(unsafe_code)]

use alloc::boxed::Box;
use alloc::vec::Vec;

use zerocopy::{FromBytes, FromZeros, IntoBytes};

use super::behaviour::{Behaviour, EventIds};
use super::buffer::{GrantMapper, MappedBuffer, DEFAULT_MAX_BUFFER_BYTES};
use super::counters::Counters;
use super::hw::{format_name, Limits, Mismatch, Offer, PcmParams};
use super::io::{Sink, Source};
use super::pacing::{Pace, PositionClock};
use super::quota::{Charge, Ledger};
use super::ratelimit::{RateLimit, Verdict};
use super::sample::Mixer;
use super::RequestError;
use xen_abi::sndif::{
    CurPosEvent, Event, HwParam, OpenRequest, Request, Response, RwRequest, TriggerRequest,
    XENSND_EVT_CUR_POS, XENSND_OP_CLOSE, XENSND_OP_GET_VOLUME, XENSND_OP_HW_PARAM_QUERY,
    XENSND_OP_MUTE, XENSND_OP_OPEN, XENSND_OP_READ, XENSND_OP_SET_VOLUME, XENSND_OP_TRIGGER,
    XENSND_OP_UNMUTE, XENSND_OP_WRITE,
};
use xen_guest::ring::Entry;
use xen_guest::SharedPage;
use xensnd_pcm::format::FormatSet;
pub use xensnd_sndif::config::Direction;
use xensnd_sndif::config::StreamCaps;
use xensnd_sndif::directory::DirectoryLayout;
pub use xensnd_sndif::lifecycle::ProtocolState;
use xensnd_sndif::lifecycle::Trigger;

/// How a stream is set up by its host: the vsnd configuration's ranges
/// ([`xensnd_sndif::config::ConfiguredStream::caps`]) within the device's
/// [`Limits`] and the host's policy. The concrete parameters a frontend
/// opens the stream with are [`PcmParams`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSetup {
    /// Playback or capture.
    pub direction: Direction,
    /// What the stream's vsnd configuration allows (card → PCM → stream,
    /// parsed by [`xensnd_sndif::config`]).
    pub caps: StreamCaps,
    /// What the device can do; the stream offers `caps` within these.
    pub limits: Limits,
    /// Largest `buffer_sz` mapped, bytes.
    pub max_buffer_bytes: u32,
    /// Require WRITE/READ lengths and offsets to be whole frames (audio
    /// only: a volume or mute table is 4 bytes per channel, which is not a
    /// frame of most formats, e.g. 8 bytes per channel for float64).
    pub require_whole_frames: bool,
    /// Where sndif leaves room: mapping, events, period, volume.
    pub behaviour: Behaviour,
}

/// Every rate of ALSA's rate table (`SNDRV_PCM_RATE_*`), the rates a stream
/// allows when no vsnd configuration says otherwise ([`StreamSetup::new`]).
pub const STANDARD_RATES: [u32; 17] = [
    5512, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000,
    128_000, 176_400, 192_000, 384_000,
];

impl StreamSetup {
    /// A stream of `direction` without a vsnd configuration: every format,
    /// the [`STANDARD_RATES`], 1 to 255 channels, 16 MiB buffers, within
    /// the default [`Limits`]; [`Behaviour::SNDBACK`].
    pub fn new(direction: Direction) -> Self {
        Self {
            direction,
            caps: StreamCaps {
                rates: Vec::from(STANDARD_RATES),
                formats: FormatSet::ALL,
                channels_min: 1,
                channels_max: u8::MAX,
                buffer_size_bytes: DEFAULT_MAX_BUFFER_BYTES,
            },
            limits: Limits::default(),
            max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
            require_whole_frames: false,
            behaviour: Behaviour::default(),
        }
    }

    /// What the stream offers: `caps` within `limits` (see [`super::hw`]).
    pub fn offer(&self) -> Result<Offer, Mismatch> {
        self.limits.offer(&self.caps, self.max_buffer_bytes)
    }
}

struct OpenStream<P: SharedPage> {
    params: PcmParams,
    buffer: MappedBuffer<P>,
    clock: PositionClock,
    /// The buffer's pages in the host's [`Ledger`], refunded at CLOSE.
    _charge: Option<Charge>,
}

/// One stream: its state, buffer, sink or source, mixer, clock and counters.
pub struct Stream<P: SharedPage> {
    config: StreamSetup,
    state: ProtocolState,
    open: Option<OpenStream<P>>,
    sink: Box<dyn Sink>,
    source: Box<dyn Source>,
    mixer: Mixer,
    next_event_id: u16,
    counters: Counters,
    /// A name for log lines (e.g. `dom1/0/0/0`).
    label: alloc::string::String,
    /// Where the buffer pages are charged: the host's ledger and the
    /// frontend's domain.
    quota: Option<(Ledger, u32)>,
    /// Log lines about this stream's requests, rate-limited.
    log_limit: RateLimit,
    /// The latest time the host gave (for the rate limit).
    now_ns: u64,
}

impl<P: SharedPage> core::fmt::Debug for Stream<P> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("Stream")
            .field("label", &self.label)
            .field("state", &self.state)
            .field("params", &self.params())
            .finish()
    }
}

fn ok_response(request: &Request) -> Response {
    Response {
        id: request.id,
        operation: request.operation,
        reserved: 0,
        status: 0,
        resp: [0; 56],
    }
}

fn payload<T: FromBytes>(request: &Request) -> T {
    // Every payload struct is at most 56 bytes, so the prefix always exists.
    match T::read_from_prefix(&request.op[..]) {
        Ok((value, _)) => value,
        Err(_) => T::new_zeroed(),
    }
}

impl<P: SharedPage> Stream<P> {
    /// A closed stream.
    pub fn new(
        config: StreamSetup,
        sink: Box<dyn Sink>,
        source: Box<dyn Source>,
        label: &str,
    ) -> Self {
        Self {
            config,
            state: ProtocolState::Closed,
            open: None,
            sink,
            source,
            mixer: Mixer::new(0),
            next_event_id: 0,
            counters: Counters::default(),
            label: label.into(),
            quota: None,
            log_limit: RateLimit::default(),
            now_ns: 0,
        }
    }

    /// Charge the buffer pages of every OPEN to `domid` in `ledger`: an
    /// OPEN that would pass a cap fails with `-ENOMEM`, nothing mapped.
    pub fn set_quota(&mut self, ledger: Ledger, domid: u32) {
        self.quota = Some((ledger, domid));
    }

    /// Limit this stream's per-request log lines to `limit`.
    pub fn set_log_limit(&mut self, limit: RateLimit) {
        self.log_limit = limit;
    }

    /// Whether a per-request log line may be written now (rate limit); when
    /// lines were suppressed before it, says how many first.
    fn may_log(&mut self) -> bool {
        match self.log_limit.check(self.now_ns) {
            Verdict::Log { suppressed: 0 } => true,
            Verdict::Log { suppressed } => {
                log::warn!(
                    "{}: {suppressed} log lines about this stream suppressed (rate limit)",
                    self.label
                );
                true
            }
            Verdict::Suppress => false,
        }
    }

    /// The stream goes away: report log lines suppressed and not yet said.
    pub fn report_suppressed(&mut self) {
        let suppressed = self.log_limit.take_suppressed();
        if suppressed > 0 {
            log::warn!(
                "{}: {suppressed} log lines about this stream suppressed (rate limit)",
                self.label
            );
        }
    }

    /// The current state.
    pub fn state(&self) -> ProtocolState {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &StreamSetup {
        &self.config
    }

    /// The parameters of the open stream.
    pub fn params(&self) -> Option<PcmParams> {
        self.open.as_ref().map(|open| open.params)
    }

    /// Bytes played or captured since OPEN, as of the last call that took a time.
    pub fn position(&self) -> Option<u64> {
        self.open.as_ref().map(|open| open.clock.position())
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The counters, for the host to count notifications.
    pub fn counters_mut(&mut self) -> &mut Counters {
        &mut self.counters
    }

    /// Volume per channel (0.001 dB) and mute flags, as last set.
    pub fn mixer(&self) -> &Mixer {
        &self.mixer
    }

    /// The log label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Serve one request (64 bytes copied out of the ring) and return the
    /// response to put on the ring.
    pub fn handle<M: GrantMapper<Page = P>>(
        &mut self,
        request: &Entry,
        mapper: &mut M,
        now_ns: u64,
    ) -> Entry {
        let request = match Request::read_from_bytes(&request[..]) {
            Ok(request) => request,
            Err(_) => Request::new_zeroed(),
        };
        self.counters.count_request(request.operation);
        if request.operation == XENSND_OP_WRITE {
            self.counters.answer.write_arrived(now_ns);
        }
        self.now_ns = now_ns;
        let mut response = ok_response(&request);
        let result = match request.operation {
            XENSND_OP_OPEN => self.open(&request, mapper, now_ns),
            XENSND_OP_CLOSE => self.close(),
            XENSND_OP_WRITE => self.write(&request, now_ns),
            XENSND_OP_READ => self.read(&request, now_ns),
            XENSND_OP_TRIGGER => self.trigger(&request, now_ns),
            XENSND_OP_HW_PARAM_QUERY => self.query(&request, &mut response),
            XENSND_OP_SET_VOLUME | XENSND_OP_GET_VOLUME | XENSND_OP_MUTE | XENSND_OP_UNMUTE
                if !self.config.behaviour.volume =>
            {
                Err(RequestError::Invalid("volume and mute not supported"))
            }
            XENSND_OP_SET_VOLUME => self.set_volume(&request),
            XENSND_OP_GET_VOLUME => self.get_volume(&request),
            XENSND_OP_MUTE => self.set_mute(&request, true),
            XENSND_OP_UNMUTE => self.set_mute(&request, false),
            _ => Err(RequestError::NotSupported),
        };
        if let Err(error) = result {
            response.status = error.status();
            self.counters.errors += 1;
            if self.may_log() {
                log::warn!(
                    "{}: request id {} op {} in state {:?}: {} (status {})",
                    self.label,
                    request.id,
                    request.operation,
                    self.state,
                    error,
                    response.status
                );
            }
        }
        let mut entry = [0u8; 64];
        entry.copy_from_slice(response.as_bytes());
        entry
    }

    fn validate_open(&self, open: &OpenRequest) -> Result<PcmParams, RequestError> {
        let offer = self
            .config
            .offer()
            .map_err(|_| RequestError::Invalid("the configuration offers nothing"))?;
        offer.open(open, self.config.behaviour.period)
    }

    fn open<M: GrantMapper<Page = P>>(
        &mut self,
        request: &Request,
        mapper: &mut M,
        now_ns: u64,
    ) -> Result<(), RequestError> {
        let open: OpenRequest = payload(request);
        if self.state != ProtocolState::Closed {
            if self.may_log() {
                log::info!("{}: OPEN on an open stream: closing it first", self.label);
            }
            self.close()?;
        }
        let params = self.validate_open(&open)?;
        // `validate_open` capped buffer_sz; the directory pages are mapped
        // one at a time while walking and not kept.
        let charge = match &self.quota {
            Some((ledger, domid)) => {
                let pages = DirectoryLayout::for_bytes(open.buffer_sz as usize).data_pages();
                let pages = u32::try_from(pages).unwrap_or(u32::MAX);
                Some(
                    ledger
                        .charge(*domid, 0, pages)
                        .map_err(RequestError::OverCap)?,
                )
            }
            None => None,
        };
        let buffer = MappedBuffer::map(
            mapper,
            open.gref_directory,
            open.buffer_sz,
            self.config.behaviour.directory_writable,
        )?;
        let started = match self.config.direction {
            Direction::Playback => self.sink.start(&params),
            Direction::Capture => self.source.start(&params),
        };
        started.map_err(|_| RequestError::Io)?;
        let playback = self.config.direction == Direction::Playback;
        let output_frames = self.sink.output_frames().filter(|_| playback);
        let mut clock = PositionClock::new(
            params.rate,
            params.frame_bytes(),
            params.period_bytes(),
            playback,
            self.config.behaviour.events,
        )
        .with_pace(match output_frames {
            Some(_) => Pace::Output,
            None => Pace::RealTime,
        });
        if let Some(frames) = output_frames {
            clock.feed(frames);
        }
        let may_log = self.may_log();
        log::log!(
            if may_log { log::Level::Info } else { log::Level::Trace },
            "{}: OPEN {} {} ch {} Hz, buffer {} bytes ({} frames, {} pages), period {} bytes ({} frames, asked {} bytes) at {} ns",
            self.label,
            format_name(params.format).unwrap_or("?"),
            params.channels,
            params.rate,
            params.buffer_bytes,
            params.buffer_frames,
            buffer.page_count(),
            params.period_bytes(),
            params.period_frames,
            open.period_sz,
            now_ns
        );
        self.mixer = Mixer::new(usize::from(params.channels));
        if self.config.behaviour.event_ids == EventIds::ResetAtOpen {
            self.next_event_id = 0;
        }
        self.open = Some(OpenStream {
            params,
            buffer,
            clock,
            _charge: charge,
        });
        self.state = ProtocolState::Open;
        Ok(())
    }

    /// CLOSE (also used on teardown): unmap the buffer, finish the sink or
    /// source. Closing a closed stream succeeds.
    pub fn close(&mut self) -> Result<(), RequestError> {
        if self.open.take().is_none() {
            self.state = ProtocolState::Closed;
            return Ok(());
        }
        self.state = ProtocolState::Closed;
        let finished = match self.config.direction {
            Direction::Playback => self.sink.finish(),
            Direction::Capture => self.source.finish(),
        };
        if self.may_log() {
            log::info!("{}: closed", self.label);
        }
        finished.map_err(|_| RequestError::Io)
    }

    /// The range of a READ/WRITE (`audio`: held to whole frames when the
    /// configuration asks) or of a volume/mute table (never: its length is
    /// 4 bytes per channel), checked against the buffer.
    fn data_range(
        &self,
        request: &Request,
        audio: bool,
    ) -> Result<(PcmParams, RwRequest), RequestError> {
        let open = self
            .open
            .as_ref()
            .ok_or(RequestError::Invalid("stream not open"))?;
        let rw: RwRequest = payload(request);
        open.buffer.check_range(rw.offset, rw.length)?;
        if audio && self.config.require_whole_frames {
            let frame = open.params.frame_bytes();
            if rw.offset % frame != 0 || rw.length % frame != 0 {
                return Err(RequestError::Invalid("offset or length not whole frames"));
            }
        }
        Ok((open.params, rw))
    }

    fn copy_in(&self, rw: &RwRequest) -> Result<Vec<u8>, RequestError> {
        let open = self
            .open
            .as_ref()
            .ok_or(RequestError::Invalid("stream not open"))?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(rw.length as usize)
            .map_err(|_| RequestError::NoMemory)?;
        bytes.resize(rw.length as usize, 0);
        open.buffer.read(rw.offset, &mut bytes)?;
        Ok(bytes)
    }

    fn write(&mut self, request: &Request, now_ns: u64) -> Result<(), RequestError> {
        if self.config.direction != Direction::Playback {
            return Err(RequestError::Invalid("WRITE on a capture stream"));
        }
        let (params, rw) = self.data_range(request, true)?;
        let mut bytes = self.copy_in(&rw)?;
        self.mixer.apply(&params, rw.offset, &mut bytes);
        self.sink.write(&bytes).map_err(|_| RequestError::Io)?;
        self.feed_clock();
        if let Some(open) = self.open.as_mut() {
            if open.clock.supply(now_ns, rw.length) {
                self.counters.underruns += 1;
            }
        }
        self.counters.bytes_written += u64::from(rw.length);
        if self.counters.first_write_ns.is_none() {
            self.counters.first_write_ns = Some(now_ns);
            log::info!("{}: first WRITE ({} bytes)", self.label, rw.length);
        }
        Ok(())
    }

    fn read(&mut self, request: &Request, now_ns: u64) -> Result<(), RequestError> {
        if self.config.direction != Direction::Capture {
            return Err(RequestError::Invalid("READ on a playback stream"));
        }
        let (params, rw) = self.data_range(request, true)?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(rw.length as usize)
            .map_err(|_| RequestError::NoMemory)?;
        bytes.resize(rw.length as usize, 0);
        self.source.read(&mut bytes).map_err(|_| RequestError::Io)?;
        self.mixer.apply(&params, rw.offset, &mut bytes);
        if let Some(open) = self.open.as_ref() {
            open.buffer.write(rw.offset, &bytes)?;
        }
        self.counters.bytes_read += u64::from(rw.length);
        self.counters.first_read_ns.get_or_insert(now_ns);
        Ok(())
    }

    /// [`Pace::Output`]: tell the clock what the sink's output played.
    fn feed_clock(&mut self) {
        if let Some(open) = self.open.as_mut() {
            if open.clock.pace() == Pace::Output {
                if let Some(frames) = self.sink.output_frames() {
                    open.clock.feed(frames);
                }
            }
        }
    }

    fn trigger(&mut self, request: &Request, now_ns: u64) -> Result<(), RequestError> {
        let trigger: TriggerRequest = payload(request);
        if self.open.is_none() {
            return Err(RequestError::Invalid("TRIGGER on a closed stream"));
        }
        let kind = Trigger::from_code(trigger.trigger_type)
            .ok_or(RequestError::Invalid("unknown trigger type"))?;
        let next = self
            .state
            .trigger(kind)
            .map_err(|_| RequestError::Invalid("trigger not valid in this state"))?;
        // What the output played up to now counts before the trigger.
        self.feed_clock();
        if self.config.direction == Direction::Playback {
            self.sink.trigger(kind).map_err(|_| RequestError::Io)?;
        }
        let open = self
            .open
            .as_mut()
            .ok_or(RequestError::Invalid("TRIGGER on a closed stream"))?;
        match kind {
            Trigger::Start => {
                open.clock.run(now_ns);
                self.counters.last_start_ns = Some(now_ns);
            }
            Trigger::Pause => open.clock.pause(now_ns),
            Trigger::Resume => open.clock.run(now_ns),
            Trigger::Stop => open.clock.stop(now_ns),
        }
        log::debug!(
            "{}: TRIGGER {} {:?} -> {:?} at {} ns",
            self.label,
            trigger.trigger_type,
            self.state,
            next,
            now_ns
        );
        self.state = next;
        Ok(())
    }

    fn query(&mut self, request: &Request, response: &mut Response) -> Result<(), RequestError> {
        let query: HwParam = payload(request);
        let answer = self
            .config
            .offer()
            .and_then(|offer| offer.answer(&query))
            .map_err(|mismatch| {
                log::debug!("{}: HW_PARAM_QUERY {:?}: {mismatch}", self.label, query);
                RequestError::Invalid("no parameters in common")
            })?;
        response.resp[..core::mem::size_of::<HwParam>()].copy_from_slice(answer.as_bytes());
        Ok(())
    }

    /// The (offset, channel count) of a per-channel table request: the
    /// length must be exactly 4 bytes per channel.
    fn channel_table(&self, request: &Request) -> Result<(RwRequest, usize), RequestError> {
        let (params, rw) = self.data_range(request, false)?;
        let channels = usize::from(params.channels);
        if rw.length as usize != channels * 4 {
            return Err(RequestError::Invalid("length is not 4 bytes per channel"));
        }
        Ok((rw, channels))
    }

    fn read_table(&self, rw: &RwRequest, channels: usize) -> Result<Vec<i32>, RequestError> {
        let bytes = self.copy_in(rw)?;
        let values: Vec<i32> = bytes
            .chunks_exact(4)
            .take(channels)
            .map(|raw| i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
            .collect();
        Ok(values)
    }

    fn set_volume(&mut self, request: &Request) -> Result<(), RequestError> {
        let (rw, channels) = self.channel_table(request)?;
        let volumes = self.read_table(&rw, channels)?;
        if self.may_log() {
            log::info!("{}: SET_VOLUME {:?} (0.001 dB)", self.label, volumes);
        }
        self.mixer.volumes = volumes;
        Ok(())
    }

    fn get_volume(&mut self, request: &Request) -> Result<(), RequestError> {
        let (rw, _) = self.channel_table(request)?;
        let mut bytes = Vec::new();
        for volume in &self.mixer.volumes {
            bytes.extend_from_slice(&volume.to_le_bytes());
        }
        if let Some(open) = self.open.as_ref() {
            open.buffer.write(rw.offset, &bytes)?;
        }
        Ok(())
    }

    fn set_mute(&mut self, request: &Request, mute: bool) -> Result<(), RequestError> {
        let (rw, channels) = self.channel_table(request)?;
        let selected = self.read_table(&rw, channels)?;
        for (flag, selector) in self.mixer.muted.iter_mut().zip(selected.iter()) {
            if *selector != 0 {
                *flag = mute;
            }
        }
        if self.may_log() {
            log::info!("{}: mute flags {:?}", self.label, self.mixer.muted);
        }
        Ok(())
    }

    /// A CUR_POS event if one is due at `now_ns` (the position crossed a
    /// period boundary since the last one). The event carries the next
    /// event id; call [`Stream::event_published`] once it is on the page,
    /// or [`Stream::event_dropped`] if it could not be.
    pub fn due_event(&mut self, now_ns: u64) -> Option<Entry> {
        self.feed_clock();
        let open = self.open.as_mut()?;
        let position = open.clock.take_due(now_ns)?;
        let mut event = Event {
            id: self.next_event_id,
            event_type: XENSND_EVT_CUR_POS,
            reserved: [0; 5],
            op: [0; 56],
        };
        let cur_pos = CurPosEvent { position };
        event.op[..8].copy_from_slice(cur_pos.as_bytes());
        let mut entry = [0u8; 64];
        entry.copy_from_slice(event.as_bytes());
        Some(entry)
    }

    /// The event from [`Stream::due_event`] was published: the next one gets the next id.
    pub fn event_published(&mut self) {
        self.next_event_id = self.next_event_id.wrapping_add(1);
        self.counters.events_sent += 1;
    }

    /// The event from [`Stream::due_event`] could not be published (the
    /// frontend is not consuming); its id is reused so the frontend's
    /// sequence check stays in step.
    pub fn event_dropped(&mut self) {
        self.counters.events_dropped += 1;
    }

    /// When the host should call [`Stream::due_event`] next, if nothing
    /// else happens before.
    pub fn next_event_ns(&self) -> Option<u64> {
        self.open.as_ref().and_then(|open| open.clock.next_due_ns())
    }
}
