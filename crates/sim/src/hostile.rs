//! A scriptable hostile sndif backend for the simulator: it performs the
//! XenBus handshake like a real backend (`io/sndif.h` state diagram), maps
//! every stream's ring and event page (and, at OPEN, the buffer through its
//! page directory), answers requests honestly by default (reporting
//! `CUR_POS` = bytes written while running) and lets a test tamper with
//! everything it writes.
//!
//! The test keeps a [`Hostile`] handle: a script can rewrite, drop, delay or
//! duplicate each response ([`Reply`]); raw access to the shared pages lets it
//! move `rsp_prod`/`in_prod` anywhere, push events with any id or type,
//! rewrite request slots after submission, go Closing, vanish from XenStore
//! or keep its mappings at teardown. The frontend must survive all of it.
//!
//! The responses and events it produces use its own private indices (not
//! [`xen_guest::ring::BackRing`]): a hostile peer is not bound by the ring rules.
#![forbid(unsafe_code)]

use std::boxed::Box;
use std::cell::RefCell;
use std::format;
use std::rc::Rc;
use std::string::String;
use std::vec::Vec;

use zerocopy::{FromBytes, IntoBytes};

use super::vsnd::{backend_path, frontend_path};
use super::{ConnId, SimCore, SimPage, SimPeer};
use xen_abi::ring::{SRING_ENTRIES_OFFSET, SRING_REQ_EVENT, SRING_REQ_PROD, SRING_RSP_PROD};
use xen_abi::sndif::*;
use xen_guest::ring::{ENTRY_SIZE, EVENT_SLOTS, RING_SLOTS};
use xen_guest::{DomId, Port, SharedPage};

/// What to do with one request.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// Write this response now.
    Now(Response),
    /// Write this response when simulated time reaches the first field.
    At(u64, Response),
    /// Write this response after the first field's nanoseconds.
    After(u64, Response),
}

/// Decides the replies to a request, given the honest response. An empty
/// vector means the request is never answered.
pub type Script = Box<dyn FnMut(&Request, Response) -> Vec<Reply>>;

/// XenBus progress of the hostile backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing written yet.
    Start,
    /// InitWait published; waiting for the frontend's Initialised.
    InitWait,
    /// Connected; serving.
    Connected,
    /// Closed after the frontend (or the test) closed.
    Closed,
}

/// One stream as the hostile backend sees it.
#[derive(Debug)]
pub struct HostileStream {
    /// The stream's frontend directory.
    pub dir: String,
    /// The request ring page (mapped).
    pub ring: SimPage,
    /// The event page (mapped).
    pub events: SimPage,
    /// Our end of the ring's event channel.
    pub ring_port: Port,
    /// Our end of the event page's event channel.
    pub event_port: Port,
    /// Grant-map handles of the ring and event page.
    pub handles: Vec<u32>,
    /// Grant-map handles of the audio buffer and its page directory
    /// (mapped at OPEN, unmapped at CLOSE).
    pub buffer_handles: Vec<u32>,
    /// The mapped audio buffer pages, in order.
    pub buffer: Vec<SimPage>,
    /// Buffer mappings kept after CLOSE (`keep_buffer_mapped`); only the
    /// test unmaps them.
    pub abandoned_handles: Vec<u32>,
    /// Private `req_cons`.
    pub request_consumer: u32,
    /// Private `rsp_prod_pvt` (published at once).
    pub response_producer: u32,
    /// Private `in_prod`.
    pub event_producer: u32,
    /// Next event id.
    pub event_id: u16,
    /// Bytes the frontend sent with WRITE since OPEN.
    pub written: u64,
    /// Between TRIGGER START/RESUME and PAUSE/STOP.
    pub running: bool,
    /// Every request seen, in order.
    pub requests: Vec<Request>,
    /// Notify both event channels at the next step.
    pub notify: bool,
    /// Capture: stream bytes asked for with READ since OPEN (the stream
    /// position of the next READ's first byte).
    pub read_position: u64,
    /// Position reported by the position clock ([`HostileState::clock`]).
    pub clock_position: u64,
    /// A playback stream (`type` = p).
    pub playback: bool,
}

impl HostileStream {
    /// Write `response` at our producer and publish it (no checks at all).
    pub fn push_response(&mut self, response: &Response) {
        let slot = self.response_producer & (RING_SLOTS - 1);
        self.ring.write(
            SRING_ENTRIES_OFFSET + slot as usize * ENTRY_SIZE,
            response.as_bytes(),
        );
        self.response_producer = self.response_producer.wrapping_add(1);
        self.ring.store_u32(SRING_RSP_PROD, self.response_producer);
        self.notify = true;
    }

    /// Write an event with an explicit id at our `in_prod` and publish it,
    /// whether or not the frontend consumed the slot.
    pub fn push_event_with_id(&mut self, id: u16, event_type: u8, payload: [u8; 56]) {
        let event = Event {
            id,
            event_type,
            reserved: [0; 5],
            op: payload,
        };
        let slot = self.event_producer % EVENT_SLOTS;
        self.events.write(
            XENSND_IN_RING_OFFS + slot as usize * ENTRY_SIZE,
            event.as_bytes(),
        );
        self.event_producer = self.event_producer.wrapping_add(1);
        self.events
            .store_u32(XENSND_EVENT_PAGE_IN_PROD, self.event_producer);
        self.event_id = id.wrapping_add(1);
        self.notify = true;
    }

    /// A `XENSND_EVT_CUR_POS` event with the next id.
    pub fn push_position(&mut self, position: u64) {
        let mut payload = [0u8; 56];
        payload[..8].copy_from_slice(&position.to_le_bytes());
        self.push_event_with_id(self.event_id, XENSND_EVT_CUR_POS, payload);
    }

    /// Write the capture pattern of stream bytes `position..position +
    /// length` into the buffer at `offset` (see [`capture_pattern`]).
    /// Regions outside the mapped buffer are skipped.
    pub fn fill_capture(&mut self, offset: usize, length: usize, position: u64) {
        for i in 0..length {
            let at = offset + i;
            let Some(page) = self.buffer.get(at / xen_guest::PAGE_SIZE) else {
                return;
            };
            page.write(
                at % xen_guest::PAGE_SIZE,
                &[capture_pattern(position + i as u64)],
            );
        }
    }
}

/// The byte an honest hostile backend captures at stream byte `position`:
/// every 4-byte word holds its own index (`position / 4`, little-endian),
/// so a reader can tell which stream bytes it got, in which order, and
/// that none was never written (a zero word past index 0, or a stale one).
pub fn capture_pattern(position: u64) -> u8 {
    ((position / 4) as u32).to_le_bytes()[(position % 4) as usize]
}

/// Position events as time passes, like a device clock: every `interval_ns`,
/// each running stream's position moves `step_bytes` on (playback: never
/// past what was written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionClock {
    /// Time between two events.
    pub interval_ns: u64,
    /// Bytes the position moves per event.
    pub step_bytes: u64,
    /// When the next event is due.
    pub next_ns: u64,
}

impl HostileStream {
    /// Overwrite the shared `rsp_prod` (our private producer is unchanged).
    pub fn set_response_producer(&mut self, value: u32) {
        self.ring.store_u32(SRING_RSP_PROD, value);
        self.notify = true;
    }

    /// Overwrite every request slot with `byte`.
    pub fn scribble_requests(&mut self, byte: u8) {
        for slot in 0..RING_SLOTS as usize {
            self.ring.write(
                SRING_ENTRIES_OFFSET + slot * ENTRY_SIZE,
                &[byte; ENTRY_SIZE],
            );
        }
    }
}

/// Everything the test can see and change.
pub struct HostileState {
    /// The frontend domain.
    pub guest: DomId,
    /// The device index.
    pub device: u32,
    /// XenBus progress.
    pub phase: Phase,
    /// Connected streams in XenStore order (pcm, then stream index).
    pub streams: Vec<HostileStream>,
    /// Leave requests unread.
    pub silent: bool,
    /// Report `CUR_POS` after WRITEs and TRIGGER START/RESUME (honest).
    pub report_positions: bool,
    /// Keep the pages mapped when the frontend closes (a backend that
    /// never lets go).
    pub keep_mappings: bool,
    /// Keep the audio buffer mapped at CLOSE (and teardown).
    pub keep_buffer_mapped: bool,
    /// Map the page directory read-write, as libxenbe (under snd_be) maps
    /// every grant: a directory granted read-only then fails OPEN.
    pub directory_writable: bool,
    /// Go back to InitWait after the frontend closed.
    pub reconnect: bool,
    /// Stop touching XenStore at all (the backend vanished).
    pub vanished: bool,
    /// Overwrite each request slot with this byte (and `req_event` with
    /// garbage) as soon as the request was copied out.
    pub scribble: Option<u8>,
    /// The per-request script; `None`: honest answers.
    pub script: Option<Script>,
    /// Responses scheduled for later: (time, stream, response).
    pub later: Vec<(u64, usize, Response)>,
    /// Connections made so far.
    pub connections: u32,
    /// Grant mappings that failed during the handshake.
    pub map_failures: u32,
    /// Report positions from a clock instead of (or besides) after each
    /// request ([`HostileState::report_positions`]).
    pub clock: Option<PositionClock>,
    /// Send every position event twice (same id).
    pub duplicate_events: bool,
    /// Skip this many event ids before each position event (a gap).
    pub event_id_skip: u16,
    /// At the first time, write the second value as our XenBus state (e.g.
    /// "5": go Closing and unmap everything).
    pub state_at: Option<(u64, &'static str)>,
}

impl core::fmt::Debug for HostileState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostileState")
            .field("phase", &self.phase)
            .field("streams", &self.streams.len())
            .field("connections", &self.connections)
            .finish()
    }
}

/// The test's handle on a [`HostileBackend`].
pub type Hostile = Rc<RefCell<HostileState>>;

/// The simulated hostile backend (add with `SimXen::add_peer`).
pub struct HostileBackend {
    state: Hostile,
    conn: Option<ConnId>,
}

/// The honest response to `request` (status 0, id and operation echoed).
pub fn honest(request: &Request) -> Response {
    let mut response = Response {
        id: request.id,
        operation: request.operation,
        reserved: 0,
        status: 0,
        resp: [0; 56],
    };
    if request.operation == XENSND_OP_HW_PARAM_QUERY {
        // Accept exactly what was asked for.
        response.resp = request.op;
    }
    response
}

impl HostileBackend {
    /// A hostile backend for device `device` of `guest`, and the test's handle.
    pub fn new(guest: DomId, device: u32) -> (Self, Hostile) {
        let state = Rc::new(RefCell::new(HostileState {
            guest,
            device,
            phase: Phase::Start,
            streams: Vec::new(),
            silent: false,
            report_positions: true,
            keep_mappings: false,
            keep_buffer_mapped: false,
            directory_writable: false,
            reconnect: false,
            vanished: false,
            scribble: None,
            script: None,
            later: Vec::new(),
            connections: 0,
            map_failures: 0,
            clock: None,
            duplicate_events: false,
            event_id_skip: 0,
            state_at: None,
        }));
        (
            Self {
                state: Rc::clone(&state),
                conn: None,
            },
            state,
        )
    }

    fn read(core: &mut SimCore, conn: ConnId, path: &str) -> Option<String> {
        let bytes = core.store().read(conn, 0, path).ok()?;
        String::from_utf8(bytes).ok()
    }

    fn write(core: &mut SimCore, conn: ConnId, path: &str, value: &str) {
        let _ = core.store().write(conn, 0, path, value.as_bytes());
    }

    fn numeric_children(core: &mut SimCore, conn: ConnId, path: &str) -> Vec<u32> {
        let mut out: Vec<u32> = core
            .store()
            .directory(conn, 0, path)
            .unwrap_or_default()
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect();
        out.sort_unstable();
        out
    }

    /// Map every stream the frontend published and bind its channels.
    fn connect(state: &mut HostileState, core: &mut SimCore, conn: ConnId) {
        let fe = frontend_path(state.guest, state.device);
        let guest = state.guest;
        let mut streams = Vec::new();
        for pcm in Self::numeric_children(core, conn, &fe) {
            for index in Self::numeric_children(core, conn, &format!("{fe}/{pcm}")) {
                let dir = format!("{fe}/{pcm}/{index}");
                let number = |core: &mut SimCore, name: &str| -> Option<u32> {
                    Self::read(core, conn, &format!("{dir}/{name}"))?
                        .parse()
                        .ok()
                };
                let (Some(ring_ref), Some(ring_chan), Some(evt_ref), Some(evt_chan)) = (
                    number(core, XENSND_FIELD_RING_REF),
                    number(core, XENSND_FIELD_EVT_CHNL),
                    number(core, XENSND_FIELD_EVT_RING_REF),
                    number(core, XENSND_FIELD_EVT_EVT_CHNL),
                ) else {
                    continue;
                };
                let ring = core.map_grant(0, guest, ring_ref, true);
                let events = core.map_grant(0, guest, evt_ref, true);
                let (Ok(ring), Ok(events)) = (ring, events) else {
                    state.map_failures += 1;
                    continue;
                };
                let ring_port = core.evtchn_bind_interdomain(0, guest, ring_chan);
                let event_port = core.evtchn_bind_interdomain(0, guest, evt_chan);
                let (Ok(ring_port), Ok(event_port)) = (ring_port, event_port) else {
                    state.map_failures += 1;
                    let _ = core.unmap_grant(ring.handle);
                    let _ = core.unmap_grant(events.handle);
                    continue;
                };
                let playback =
                    Self::read(core, conn, &format!("{dir}/type")).as_deref() == Some("p");
                streams.push(HostileStream {
                    dir,
                    ring: ring.page,
                    events: events.page,
                    ring_port,
                    event_port,
                    handles: alloc::vec![ring.handle, events.handle],
                    buffer_handles: Vec::new(),
                    buffer: Vec::new(),
                    abandoned_handles: Vec::new(),
                    request_consumer: 0,
                    response_producer: 0,
                    event_producer: 0,
                    event_id: 0,
                    written: 0,
                    running: false,
                    requests: Vec::new(),
                    notify: false,
                    read_position: 0,
                    clock_position: 0,
                    playback,
                });
            }
        }
        state.streams = streams;
        state.connections += 1;
        state.phase = Phase::Connected;
        Self::write(
            core,
            conn,
            &format!("{}/state", backend_path(state.guest, state.device)),
            "4",
        );
    }

    /// Unmap and unbind everything (unless told to keep the mappings).
    pub fn release(state: &mut HostileState, core: &mut SimCore) {
        for stream in state.streams.drain(..) {
            let _ = core.evtchn_close(0, stream.ring_port);
            let _ = core.evtchn_close(0, stream.event_port);
            if !state.keep_mappings {
                for handle in stream.handles {
                    let _ = core.unmap_grant(handle);
                }
            }
            if !state.keep_mappings && !state.keep_buffer_mapped {
                for handle in stream.buffer_handles {
                    let _ = core.unmap_grant(handle);
                }
            }
        }
        state.later.clear();
    }

    fn serve(state: &mut HostileState, core: &mut SimCore) -> bool {
        let now = core.now_ns();
        let mut progress = false;
        // Scheduled responses first.
        let mut due = Vec::new();
        state.later.retain(|(at, stream, response)| {
            if *at <= now {
                due.push((*stream, *response));
                false
            } else {
                true
            }
        });
        for (stream, response) in due {
            if let Some(stream) = state.streams.get_mut(stream) {
                stream.push_response(&response);
                progress = true;
            }
        }
        if !state.silent {
            for index in 0..state.streams.len() {
                let _ = core.evtchn_take_pending(0, state.streams[index].ring_port);
                loop {
                    let stream = &mut state.streams[index];
                    let producer = stream.ring.load_u32(SRING_REQ_PROD);
                    let available = producer.wrapping_sub(stream.request_consumer);
                    if available == 0 || available > RING_SLOTS {
                        break;
                    }
                    let mut entry = [0u8; ENTRY_SIZE];
                    let slot = stream.request_consumer & (RING_SLOTS - 1);
                    stream.ring.read(
                        SRING_ENTRIES_OFFSET + slot as usize * ENTRY_SIZE,
                        &mut entry,
                    );
                    stream.request_consumer = stream.request_consumer.wrapping_add(1);
                    if let Some(byte) = state.scribble {
                        stream.ring.write(
                            SRING_ENTRIES_OFFSET + slot as usize * ENTRY_SIZE,
                            &[byte; ENTRY_SIZE],
                        );
                        stream
                            .ring
                            .store_u32(SRING_REQ_EVENT, u32::from_le_bytes([byte; 4]));
                    }
                    let Ok(request) = Request::read_from_bytes(&entry) else {
                        break;
                    };
                    stream.requests.push(request);
                    progress = true;
                    let honest_response = Self::honest_effects(state, core, index, &request);
                    let replies = match state.script.as_mut() {
                        Some(script) => script(&request, honest_response),
                        None => alloc::vec![Reply::Now(honest_response)],
                    };
                    let stream = &mut state.streams[index];
                    for reply in replies {
                        match reply {
                            Reply::Now(response) => stream.push_response(&response),
                            Reply::At(at, response) => state.later.push((at, index, response)),
                            Reply::After(delay, response) => {
                                state
                                    .later
                                    .push((now.saturating_add(delay), index, response))
                            }
                        }
                    }
                    let (duplicate, skip) = (state.duplicate_events, state.event_id_skip);
                    let stream = &mut state.streams[index];
                    if state.report_positions
                        && stream.running
                        && matches!(request.operation, XENSND_OP_WRITE | XENSND_OP_TRIGGER)
                    {
                        let written = stream.written;
                        Self::report(stream, written, duplicate, skip);
                    }
                }
            }
        }
        progress |= Self::tick_clock(state, now);
        for stream in &mut state.streams {
            if core::mem::take(&mut stream.notify) {
                let _ = core.evtchn_send(0, stream.ring_port);
                let _ = core.evtchn_send(0, stream.event_port);
                progress = true;
            }
        }
        progress
    }

    /// One position event (twice with `duplicate`, after an id gap of `skip`).
    fn report(stream: &mut HostileStream, position: u64, duplicate: bool, skip: u16) {
        stream.event_id = stream.event_id.wrapping_add(skip);
        let id = stream.event_id;
        stream.push_position(position);
        if duplicate {
            let mut payload = [0u8; 56];
            payload[..8].copy_from_slice(&position.to_le_bytes());
            stream.push_event_with_id(id, XENSND_EVT_CUR_POS, payload);
        }
    }

    /// The position clock: every interval that passed, running streams move on.
    fn tick_clock(state: &mut HostileState, now: u64) -> bool {
        let Some(mut clock) = state.clock else {
            return false;
        };
        if clock.interval_ns == 0 || now < clock.next_ns {
            return false;
        }
        // Catch up in one event per stream (a device reports where it is).
        let ticks = (now - clock.next_ns) / clock.interval_ns + 1;
        clock.next_ns = clock
            .next_ns
            .saturating_add(ticks.saturating_mul(clock.interval_ns));
        state.clock = Some(clock);
        let (duplicate, skip) = (state.duplicate_events, state.event_id_skip);
        for stream in &mut state.streams {
            if !stream.running {
                continue;
            }
            let mut position = stream
                .clock_position
                .saturating_add(ticks.saturating_mul(clock.step_bytes));
            if stream.playback {
                position = position.min(stream.written);
            }
            if position != stream.clock_position {
                stream.clock_position = position;
                Self::report(stream, position, duplicate, skip);
            }
        }
        true
    }

    /// What an honest backend would do with `request`; its response.
    fn honest_effects(
        state: &mut HostileState,
        core: &mut SimCore,
        index: usize,
        request: &Request,
    ) -> Response {
        let guest = state.guest;
        let keep_buffer = state.keep_buffer_mapped;
        let directory_writable = state.directory_writable;
        let stream = &mut state.streams[index];
        let mut response = honest(request);
        match request.operation {
            XENSND_OP_OPEN => {
                // An OPEN replaces whatever buffer an earlier OPEN shared
                // (one whose answer the frontend never saw, say).
                if keep_buffer {
                    stream.abandoned_handles.append(&mut stream.buffer_handles);
                } else {
                    for handle in stream.buffer_handles.drain(..) {
                        let _ = core.unmap_grant(handle);
                    }
                }
                stream.buffer.clear();
                stream.written = 0;
                stream.read_position = 0;
                stream.clock_position = 0;
                stream.running = false;
                if let Ok((open, _)) = OpenRequest::read_from_prefix(&request.op) {
                    if !Self::map_buffer(stream, core, guest, &open, directory_writable) {
                        response.status = -xen_abi::errno::XEN_EINVAL;
                    }
                }
            }
            XENSND_OP_CLOSE => {
                stream.running = false;
                if keep_buffer {
                    stream.abandoned_handles.append(&mut stream.buffer_handles);
                } else {
                    for handle in stream.buffer_handles.drain(..) {
                        let _ = core.unmap_grant(handle);
                    }
                }
                stream.buffer.clear();
            }
            XENSND_OP_WRITE => {
                if let Ok((rw, _)) = RwRequest::read_from_prefix(&request.op) {
                    stream.written += u64::from(rw.length);
                }
            }
            XENSND_OP_READ => {
                // Capture: put the next stream bytes where the frontend asks.
                if let Ok((rw, _)) = RwRequest::read_from_prefix(&request.op) {
                    let position = stream.read_position;
                    stream.fill_capture(rw.offset as usize, rw.length as usize, position);
                    stream.read_position += u64::from(rw.length);
                }
            }
            XENSND_OP_TRIGGER => {
                stream.running = matches!(
                    request.op[0],
                    XENSND_OP_TRIGGER_START | XENSND_OP_TRIGGER_RESUME
                );
            }
            _ => {}
        }
        response
    }

    /// Map the page directory chain and the buffer pages it lists.
    fn map_buffer(
        stream: &mut HostileStream,
        core: &mut SimCore,
        guest: DomId,
        open: &OpenRequest,
        directory_writable: bool,
    ) -> bool {
        let mut remaining = (open.buffer_sz as usize).div_ceil(xen_guest::PAGE_SIZE);
        let mut directory = open.gref_directory;
        let mut directories = 0;
        while remaining > 0 && directory != 0 && directories < 8 {
            directories += 1;
            let Ok(mapping) = core.map_grant(0, guest, directory, directory_writable) else {
                return false;
            };
            stream.buffer_handles.push(mapping.handle);
            let count = remaining.min(XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE);
            for i in 0..count {
                let gref = mapping
                    .page
                    .load_u32(XENSND_PAGE_DIRECTORY_GREF_OFFSET + i * 4);
                let Ok(page) = core.map_grant(0, guest, gref, true) else {
                    return false;
                };
                stream.buffer_handles.push(page.handle);
                stream.buffer.push(page.page);
            }
            remaining -= count;
            directory = mapping.page.load_u32(0);
        }
        remaining == 0
    }
}

impl SimPeer for HostileBackend {
    fn step(&mut self, core: &mut SimCore) -> bool {
        let conn = match self.conn {
            Some(conn) => conn,
            None => {
                let conn = core.store().connect_local(0);
                self.conn = Some(conn);
                conn
            }
        };
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        if state.vanished {
            return false;
        }
        let be = backend_path(state.guest, state.device);
        let fe = frontend_path(state.guest, state.device);
        let fe_state = Self::read(core, conn, &format!("{fe}/state")).unwrap_or_default();
        let mut progress = false;
        if let Some((at, value)) = state.state_at {
            if core.now_ns() >= at {
                state.state_at = None;
                Self::write(core, conn, &format!("{be}/state"), value);
                progress = true;
            }
        }
        match state.phase {
            Phase::Start => {
                if Self::read(core, conn, &format!("{be}/state")).is_some() {
                    Self::write(core, conn, &format!("{be}/state"), "2");
                    state.phase = Phase::InitWait;
                    progress = true;
                }
            }
            Phase::InitWait => {
                if fe_state == "3" {
                    Self::connect(state, core, conn);
                    progress = true;
                }
            }
            Phase::Connected => {
                let backend_state = Self::read(core, conn, &format!("{be}/state"));
                let frontend_closed = matches!(fe_state.as_str(), "5" | "6" | "1");
                if frontend_closed || backend_state.as_deref() != Some("4") {
                    // The frontend closed, or the test moved our state.
                    Self::release(state, core);
                    if frontend_closed && backend_state.is_some() {
                        Self::write(core, conn, &format!("{be}/state"), "6");
                    }
                    state.phase = Phase::Closed;
                    progress = true;
                } else {
                    progress |= Self::serve(state, core);
                }
            }
            Phase::Closed => {
                if state.reconnect && matches!(fe_state.as_str(), "6" | "1") {
                    Self::write(core, conn, &format!("{be}/state"), "2");
                    state.phase = Phase::InitWait;
                    progress = true;
                }
            }
        }
        progress
    }

    fn next_deadline(&self) -> Option<u64> {
        let state = self.state.borrow();
        let clock = state
            .clock
            .filter(|_| state.phase == Phase::Connected && state.streams.iter().any(|s| s.running))
            .map(|clock| clock.next_ns);
        state
            .later
            .iter()
            .map(|(at, _, _)| *at)
            .chain(clock)
            .chain(state.state_at.map(|(at, _)| at))
            .min()
    }
}
