//! A simulated client that behaves like Linux's snd-xen-front (v6.1,
//! Debian 12's kernel: `sound/xen/xen_snd_front*.c`) with the ALSA core
//! and `aplay`/`arecord` on top, to drive a backend in the simulator the
//! way a Linux domU does.
//!
//! What it does as Linux does (read from the kernel sources; none of their
//! code is here):
//! - XenBus: on the backend's InitWait, per stream a request ring page and
//!   an event page (granted read-write) and two unbound event channels,
//!   the four nodes, Initialised; Connected once the backend is.
//! - Every buffer (data pages and page directory) is granted read-write
//!   (`xen-front-pgdir-shbuf.c`), via [`GrantedBuffer`].
//! - One request in flight per stream (`req_io_lock`), each waited for at
//!   most 3 s (`VSND_WAIT_BACK_MS`); request ids count from 0 again at
//!   every ALSA open and `hw_params` (`xen_snd_front_evtchnl_pair_clear`
//!   resets `evt_next_id`); a response counts only with the id in flight.
//! - Position events: `event->id == evt_id++` or the event is skipped;
//!   `evt_id` is zeroed only when the channel is allocated (connect).
//! - `xen_snd_front_alsa_handle_cur_pos`: `delta = cur_frame -
//!   be_cur_frame` (unsigned), the hardware pointer advances by `delta`
//!   modulo the buffer, and a period elapses only when the frames since
//!   the last one *exceed* the period (`out_frames > period_size`); ALSA
//!   reads the pointer (and wakes its waiters) only then.
//! - ALSA: a drain is done when, at a period wakeup, the pointer reached
//!   what was written; it fails after `max(1 s, 2 periods)` without a
//!   wakeup ("playback drain timeout (DMA or IRQ trouble?)"). A write that
//!   waits for room fails after 10 s without a wakeup ("playback write
//!   timeout"). `aplay` fills the buffer before TRIGGER START
//!   (`start_threshold` = buffer), writes a period at a time, drains, then
//!   TRIGGER STOP and CLOSE; `arecord` starts at once and reads a period
//!   at each period wakeup.
//!
//! Simplification: the XenStore nodes are written through the toolstack's
//! connection ([`SimXen::store_write`]) rather than the guest's own ring;
//! the backend sees the same nodes and watch events.
#![forbid(unsafe_code)]

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use zerocopy::{FromBytes, IntoBytes};

use super::{SimGuest, SimPage, SimXen};
use xen_abi::sndif::{
    CurPosEvent, Event, OpenRequest, Request, Response, RwRequest, TriggerRequest,
    XENSND_EVT_CUR_POS, XENSND_FIELD_EVT_CHNL, XENSND_FIELD_EVT_EVT_CHNL,
    XENSND_FIELD_EVT_RING_REF, XENSND_FIELD_RING_REF, XENSND_OP_CLOSE, XENSND_OP_OPEN,
    XENSND_OP_READ, XENSND_OP_TRIGGER, XENSND_OP_TRIGGER_START, XENSND_OP_TRIGGER_STOP,
    XENSND_OP_WRITE,
};
use xen_guest::ring::{EventConsumer, FrontRing};
use xen_guest::{Clock, DomId, EventChannels, GrantTable, PageAllocator, Port, SharedPage};
use xensnd_pcm::format::SampleFormat;
use xensnd_sndif::buffer::GrantedBuffer;

const NS_PER_MS: u64 = 1_000_000;
/// `VSND_WAIT_BACK_MS`: how long a request is waited for.
pub const REQUEST_TIMEOUT_NS: u64 = 3000 * NS_PER_MS;
/// ALSA's write (and read) wait for room: 10 s without a period wakeup.
pub const TRANSFER_TIMEOUT_NS: u64 = 10_000 * NS_PER_MS;

/// What went wrong, in Linux's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinuxError {
    /// XenBus: the device did not come up.
    Connect(String),
    /// A request was not answered within 3 s (`-ETIMEDOUT`).
    RequestTimeout(u8),
    /// The backend answered a request with this status.
    Status(u8, i32),
    /// "playback write timeout (DMA or IRQ trouble?)" (or capture read).
    TransferTimeout,
    /// "playback drain timeout (DMA or IRQ trouble?)": `snd_pcm_drain`
    /// returned `-EIO`.
    DrainTimeout,
    /// No such stream.
    NoStream(String),
}

/// What `hw_params` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinuxParams {
    /// Sample format.
    pub format: SampleFormat,
    /// Channels.
    pub channels: u8,
    /// Frames per second.
    pub rate: u32,
    /// Frames in the buffer.
    pub buffer_frames: u32,
    /// Frames per period.
    pub period_frames: u32,
}

/// The ALSA view of one open substream.
#[derive(Debug, Default, Clone)]
pub struct AlsaState {
    /// Frames per second.
    pub rate: u32,
    /// Bytes per frame.
    pub frame_bytes: u64,
    /// Frames per period (the period ALSA was given).
    pub period_frames: u64,
    /// Frames in the buffer.
    pub buffer_frames: u64,
    /// `stream->be_cur_frame`.
    pub be_cur_frame: u64,
    /// `stream->out_frames`.
    pub out_frames: u64,
    /// The frontend's hardware pointer, not wrapped (frames).
    pub hw_ptr: u64,
    /// The pointer as ALSA read it at the last period wakeup (frames).
    pub alsa_hw_ptr: u64,
    /// Frames the application wrote or read (`appl_ptr`, not wrapped).
    pub appl_ptr: u64,
    /// Period wakeups (`snd_pcm_period_elapsed`).
    pub wakeups: u64,
    /// Time of the last wakeup (or of the start).
    pub last_wakeup_ns: u64,
}

/// Counters of one stream over its whole connection.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinuxCounters {
    /// Position events taken.
    pub events: u64,
    /// Events skipped because their id was not `evt_id`.
    pub skipped: u64,
    /// Responses dropped because their id was not the one in flight.
    pub stray_responses: u64,
    /// Requests sent.
    pub requests: u64,
}

/// One stream as Linux's frontend holds it.
pub struct LinuxStream {
    /// `unique-id`.
    pub unique_id: String,
    /// Playback (`type = p`) or capture.
    pub playback: bool,
    ring: FrontRing<SimPage>,
    events: EventConsumer<SimPage>,
    ring_port: Port,
    /// `evt_id` of the event channel: zeroed at connect only.
    evt_id: u16,
    /// `evt_next_id` of the request channel: zeroed at every open.
    req_next_id: u16,
    buffer: Option<GrantedBuffer<SimPage>>,
    /// The ALSA state of the open substream.
    pub alsa: AlsaState,
    /// Counters.
    pub counters: LinuxCounters,
}

/// A Linux guest's snd-xen-front for one vsnd device.
pub struct LinuxFront {
    sim: SimXen,
    guest: SimGuest,
    backend: DomId,
    /// The device's streams, in XenStore order.
    pub streams: Vec<LinuxStream>,
}

fn read_string(sim: &SimXen, path: &str) -> Option<String> {
    sim.store_read(path)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

fn numeric_children(sim: &SimXen, path: &str) -> Vec<u32> {
    let mut children: Vec<u32> = sim
        .store_directory(path)
        .unwrap_or_default()
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect();
    children.sort_unstable();
    children
}

impl LinuxFront {
    /// Connect to vsnd device `dev` of `guest` (the backend must be a peer
    /// of `sim`), waiting up to `timeout_ns` of simulated time per step.
    pub fn connect(
        sim: &SimXen,
        mut guest: SimGuest,
        dev: u32,
        timeout_ns: u64,
    ) -> Result<Self, LinuxError> {
        let domid = guest.id();
        let front = format!("/local/domain/{domid}/device/vsnd/{dev}");
        let backend_path = read_string(sim, &format!("{front}/backend"))
            .ok_or_else(|| LinuxError::Connect("no backend node".into()))?;
        let backend: DomId = read_string(sim, &format!("{front}/backend-id"))
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| LinuxError::Connect("no backend-id".into()))?;
        let wait_backend = |guest: &mut SimGuest, state: &str| {
            let deadline = guest.now_ns().saturating_add(timeout_ns);
            loop {
                if read_string(sim, &format!("{backend_path}/state")).as_deref() == Some(state) {
                    return Ok(());
                }
                if guest.now_ns() >= deadline {
                    return Err(LinuxError::Connect(format!(
                        "backend never reached {state}"
                    )));
                }
                guest.wait_until(deadline);
            }
        };
        wait_backend(&mut guest, "2")?;
        let mut streams = Vec::new();
        for pcm in numeric_children(sim, &front) {
            let pcm_path = format!("{front}/{pcm}");
            for index in numeric_children(sim, &pcm_path) {
                let path = format!("{pcm_path}/{index}");
                let unique_id = read_string(sim, &format!("{path}/unique-id")).unwrap_or_default();
                let playback = read_string(sim, &format!("{path}/type")).as_deref() == Some("p");
                let fail = |e: xen_guest::XenError| LinuxError::Connect(format!("{e:?}"));
                let ring_page = guest.alloc_page().map_err(fail)?;
                let event_page = guest.alloc_page().map_err(fail)?;
                let ring = FrontRing::init(ring_page);
                let events = EventConsumer::init(event_page);
                let ring_gref = guest
                    .grant(backend, ring.page().gfn(), false)
                    .map_err(fail)?;
                let event_gref = guest
                    .grant(backend, events.page().gfn(), false)
                    .map_err(fail)?;
                let ring_port = guest.alloc_unbound(backend).map_err(fail)?;
                let event_port = guest.alloc_unbound(backend).map_err(fail)?;
                for (name, value) in [
                    (XENSND_FIELD_RING_REF, ring_gref),
                    (XENSND_FIELD_EVT_CHNL, ring_port),
                    (XENSND_FIELD_EVT_RING_REF, event_gref),
                    (XENSND_FIELD_EVT_EVT_CHNL, event_port),
                ] {
                    sim.store_write(&format!("{path}/{name}"), value.to_string().as_bytes())
                        .map_err(|e| LinuxError::Connect(format!("{e:?}")))?;
                }
                streams.push(LinuxStream {
                    unique_id,
                    playback,
                    ring,
                    events,
                    ring_port,
                    evt_id: 0,
                    req_next_id: 0,
                    buffer: None,
                    alsa: AlsaState::default(),
                    counters: LinuxCounters::default(),
                });
            }
        }
        let state = |value: &[u8]| {
            sim.store_write(&format!("{front}/state"), value)
                .map_err(|e| LinuxError::Connect(format!("{e:?}")))
        };
        state(b"3")?;
        wait_backend(&mut guest, "4")?;
        state(b"4")?;
        Ok(Self {
            sim: sim.clone(),
            guest,
            backend,
            streams,
        })
    }

    /// The simulator.
    pub fn sim(&self) -> &SimXen {
        &self.sim
    }

    /// The index of the stream `unique_id`.
    pub fn stream(&self, unique_id: &str) -> Result<usize, LinuxError> {
        self.streams
            .iter()
            .position(|s| s.unique_id == unique_id)
            .ok_or_else(|| LinuxError::NoStream(unique_id.into()))
    }

    /// Take every position event of every stream (the event channel's
    /// interrupt handler).
    fn take_events(&mut self) {
        let now = self.guest.now_ns();
        for stream in &mut self.streams {
            while let Ok(Some(entry)) = stream.events.take_event() {
                let Ok(event) = Event::read_from_bytes(&entry[..]) else {
                    continue;
                };
                // `if (unlikely(event->id != channel->evt_id++)) continue;`
                let expected = stream.evt_id;
                stream.evt_id = stream.evt_id.wrapping_add(1);
                if event.id != expected {
                    stream.counters.skipped += 1;
                    continue;
                }
                stream.counters.events += 1;
                if event.event_type != XENSND_EVT_CUR_POS || stream.alsa.frame_bytes == 0 {
                    continue;
                }
                let Ok((cur_pos, _)) = CurPosEvent::read_from_prefix(&event.op[..]) else {
                    continue;
                };
                let alsa = &mut stream.alsa;
                let cur_frame = cur_pos.position / alsa.frame_bytes;
                let delta = cur_frame.wrapping_sub(alsa.be_cur_frame);
                alsa.be_cur_frame = cur_frame;
                alsa.hw_ptr = alsa.hw_ptr.wrapping_add(delta);
                alsa.out_frames = alsa.out_frames.wrapping_add(delta);
                if alsa.out_frames > alsa.period_frames {
                    alsa.out_frames %= alsa.period_frames.max(1);
                    // snd_pcm_period_elapsed: ALSA reads the pointer.
                    alsa.alsa_hw_ptr = alsa.hw_ptr;
                    alsa.wakeups += 1;
                    alsa.last_wakeup_ns = now;
                }
            }
        }
    }

    /// Let simulated time pass up to `deadline_ns` or the next thing that
    /// happens, then take events.
    fn wait(&mut self, deadline_ns: u64) {
        self.guest.wait_until(deadline_ns);
        self.take_events();
    }

    /// Send one request and wait for its response (one in flight, 3 s).
    fn call(
        &mut self,
        index: usize,
        operation: u8,
        payload: &[u8],
    ) -> Result<Response, LinuxError> {
        let stream = &mut self.streams[index];
        let id = stream.req_next_id;
        stream.req_next_id = stream.req_next_id.wrapping_add(1);
        let request = Request::new(id, operation, payload);
        let mut entry = [0u8; 64];
        entry.copy_from_slice(request.as_bytes());
        stream
            .ring
            .push_request(&entry)
            .map_err(|_| LinuxError::RequestTimeout(operation))?;
        stream.counters.requests += 1;
        if stream.ring.push_requests_and_check_notify() {
            let port = stream.ring_port;
            self.guest.notify(port);
        }
        let deadline = self.guest.now_ns().saturating_add(REQUEST_TIMEOUT_NS);
        loop {
            let stream = &mut self.streams[index];
            while let Ok(Some(entry)) = stream.ring.take_response() {
                let Ok(response) = Response::read_from_bytes(&entry[..]) else {
                    continue;
                };
                if response.id != id {
                    stream.counters.stray_responses += 1;
                    continue;
                }
                return if response.status == 0 {
                    Ok(response)
                } else {
                    Err(LinuxError::Status(operation, response.status))
                };
            }
            if self.guest.now_ns() >= deadline {
                return Err(LinuxError::RequestTimeout(operation));
            }
            self.wait(deadline);
        }
    }

    /// ALSA open + `hw_params` + prepare: `stream_clear` (positions and
    /// request ids from 0, not `evt_id`), a new buffer, OPEN.
    pub fn open(&mut self, index: usize, params: &LinuxParams) -> Result<(), LinuxError> {
        let LinuxParams {
            format,
            channels,
            rate,
            buffer_frames,
            period_frames,
        } = *params;
        let frame_bytes = format
            .frame_bytes(u32::from(channels))
            .ok_or_else(|| LinuxError::Connect("format without a sample size".into()))?;
        let buffer_bytes = buffer_frames as usize * frame_bytes as usize;
        let buffer = GrantedBuffer::new(&mut self.guest, self.backend, buffer_bytes)
            .map_err(|e| LinuxError::Connect(format!("buffer: {e:?}")))?;
        let stream = &mut self.streams[index];
        stream.req_next_id = 0;
        stream.alsa = AlsaState {
            rate,
            frame_bytes: u64::from(frame_bytes),
            period_frames: u64::from(period_frames),
            buffer_frames: u64::from(buffer_frames),
            ..AlsaState::default()
        };
        let open = OpenRequest {
            pcm_rate: rate,
            pcm_format: format.code(),
            pcm_channels: channels,
            reserved: 0,
            buffer_sz: buffer_bytes as u32,
            gref_directory: buffer.directory_gref(),
            period_sz: period_frames * frame_bytes,
        };
        stream.buffer = Some(buffer);
        self.call(index, XENSND_OP_OPEN, open.as_bytes()).map(drop)
    }

    fn trigger(&mut self, index: usize, kind: u8) -> Result<(), LinuxError> {
        let trigger = TriggerRequest { trigger_type: kind };
        self.call(index, XENSND_OP_TRIGGER, trigger.as_bytes())
            .map(drop)?;
        if kind == XENSND_OP_TRIGGER_START {
            self.streams[index].alsa.last_wakeup_ns = self.guest.now_ns();
        }
        Ok(())
    }

    /// `hw_free` + close: CLOSE, the buffer revoked.
    pub fn close(&mut self, index: usize) -> Result<(), LinuxError> {
        let result = self.call(index, XENSND_OP_CLOSE, &[]).map(drop);
        if let Some(buffer) = self.streams[index].buffer.take() {
            let _ = buffer.release(&mut self.guest);
        }
        result
    }

    /// Copy `frames` bytes at the application pointer into the buffer and
    /// send one WRITE per contiguous piece (`.copy_user`).
    fn transfer(
        &mut self,
        index: usize,
        data: Option<&[u8]>,
        out: Option<&mut Vec<u8>>,
        bytes: u64,
    ) -> Result<(), LinuxError> {
        let alsa = &self.streams[index].alsa;
        let buffer_bytes = alsa.buffer_frames * alsa.frame_bytes;
        let mut offset = (alsa.appl_ptr * alsa.frame_bytes) % buffer_bytes;
        let mut done = 0u64;
        let mut out = out;
        while done < bytes {
            let piece = (bytes - done).min(buffer_bytes - offset);
            let rw = RwRequest {
                offset: offset as u32,
                length: piece as u32,
            };
            if let Some(data) = data {
                let chunk = &data[done as usize..(done + piece) as usize];
                if let Some(buffer) = self.streams[index].buffer.as_ref() {
                    buffer.write(offset as usize, chunk);
                }
                self.call(index, XENSND_OP_WRITE, rw.as_bytes())?;
            } else {
                self.call(index, XENSND_OP_READ, rw.as_bytes())?;
                let mut chunk = std::vec![0u8; piece as usize];
                if let Some(buffer) = self.streams[index].buffer.as_ref() {
                    buffer.read(offset as usize, &mut chunk);
                }
                if let Some(out) = out.as_mut() {
                    out.extend_from_slice(&chunk);
                }
            }
            done += piece;
            offset = (offset + piece) % buffer_bytes;
        }
        let alsa = &mut self.streams[index].alsa;
        alsa.appl_ptr += bytes / alsa.frame_bytes;
        Ok(())
    }

    /// Wait until `ready` holds at a period wakeup, at most `timeout_ns`
    /// after the last wakeup.
    fn wait_for(
        &mut self,
        index: usize,
        timeout_ns: u64,
        ready: impl Fn(&AlsaState) -> bool,
        error: LinuxError,
    ) -> Result<(), LinuxError> {
        loop {
            self.take_events();
            let alsa = &self.streams[index].alsa;
            if ready(alsa) {
                return Ok(());
            }
            let deadline = alsa.last_wakeup_ns.saturating_add(timeout_ns);
            if self.guest.now_ns() >= deadline {
                return Err(error);
            }
            self.wait(deadline);
        }
    }

    /// What `aplay` does with `data` (whole frames): fill the buffer,
    /// TRIGGER START, write a period at a time as room appears, drain,
    /// TRIGGER STOP. Returns the simulated time from the last write to
    /// the end of the drain.
    pub fn aplay(&mut self, index: usize, data: &[u8]) -> Result<u64, LinuxError> {
        let (frame, period, buffer) = {
            let alsa = &self.streams[index].alsa;
            (alsa.frame_bytes, alsa.period_frames, alsa.buffer_frames)
        };
        let total = data.len() as u64 / frame;
        let mut written = 0u64;
        let mut started = false;
        while written < total {
            let alsa = &self.streams[index].alsa;
            // Room as ALSA sees it: the pointer it read at the last wakeup.
            let room = buffer - (alsa.appl_ptr - alsa.alsa_hw_ptr.min(alsa.appl_ptr));
            let chunk = period.min(total - written);
            if room < chunk {
                if !started {
                    self.trigger(index, XENSND_OP_TRIGGER_START)?;
                    started = true;
                    continue;
                }
                let wanted = chunk;
                self.wait_for(
                    index,
                    TRANSFER_TIMEOUT_NS,
                    move |a| buffer - (a.appl_ptr - a.alsa_hw_ptr.min(a.appl_ptr)) >= wanted,
                    LinuxError::TransferTimeout,
                )?;
                continue;
            }
            let from = (written * frame) as usize;
            let to = ((written + chunk) * frame) as usize;
            self.transfer(index, Some(&data[from..to]), None, chunk * frame)?;
            written += chunk;
        }
        if !started {
            self.trigger(index, XENSND_OP_TRIGGER_START)?;
        }
        let written_at = self.guest.now_ns();
        // snd_pcm_drain: each wait is max(1 s, 2 periods) long.
        let appl = self.streams[index].alsa.appl_ptr;
        let drained = self.wait_for(
            index,
            self.drain_timeout_ns(index),
            move |a| a.alsa_hw_ptr >= appl,
            LinuxError::DrainTimeout,
        );
        let elapsed = self.guest.now_ns().saturating_sub(written_at);
        // ALSA stops the stream either way.
        self.trigger(index, XENSND_OP_TRIGGER_STOP)?;
        drained.map(|()| elapsed)
    }

    fn drain_timeout_ns(&self, index: usize) -> u64 {
        let alsa = &self.streams[index].alsa;
        let two_periods_s = alsa.period_frames * 2 / u64::from(alsa.rate.max(1));
        two_periods_s.max(1) * 1000 * NS_PER_MS
    }

    /// What `arecord` does for `frames` frames: TRIGGER START, then at each
    /// period wakeup READ what ALSA sees captured, a period at a time;
    /// TRIGGER STOP. Returns the bytes read.
    pub fn arecord(&mut self, index: usize, frames: u64) -> Result<Vec<u8>, LinuxError> {
        let (frame, period) = {
            let alsa = &self.streams[index].alsa;
            (alsa.frame_bytes, alsa.period_frames)
        };
        self.trigger(index, XENSND_OP_TRIGGER_START)?;
        let mut out = Vec::new();
        while self.streams[index].alsa.appl_ptr < frames {
            let chunk = period.min(frames - self.streams[index].alsa.appl_ptr);
            self.wait_for(
                index,
                TRANSFER_TIMEOUT_NS,
                move |a| a.alsa_hw_ptr.saturating_sub(a.appl_ptr) >= chunk,
                LinuxError::TransferTimeout,
            )?;
            self.transfer(index, None, Some(&mut out), chunk * frame)?;
        }
        self.trigger(index, XENSND_OP_TRIGGER_STOP)?;
        Ok(out)
    }

    /// The guest's platform (grants, ports), e.g. to count what is left.
    pub fn guest(&self) -> &SimGuest {
        &self.guest
    }
}
