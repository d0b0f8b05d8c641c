//! A simulated dom0 sndif backend: the project's backend engine
//! ([`crate::backend`]) hosted in the simulator, doing the XenBus dance
//! through the simulated xenstored, mapping grants and binding event
//! channels like `sndback` does with Xen's libraries.
//!
//! [`add_vsnd_device`] writes a device into XenStore the way libxl does
//! for a `vsnd = [...]` line; [`SimSndBackend`] serves it. Played audio is
//! collected per `unique-id` in [`Recorded`]; capture streams read from a
//! per-`unique-id` byte pattern. Knobs in [`Misbehaviour`] make it hostile
//! for the robustness tests.
#![forbid(unsafe_code)]

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

use super::xenstored::ConnId;
use super::SimCore;
use crate::backend::channel::StreamChannel;
use crate::backend::io::{IoError, Sink, Source};
use crate::backend::sim_host::{SimCoreMapper, SimMappedPage, SimUnmapQueue};
use crate::backend::stream::{Direction, Stream, StreamConfig};
use crate::xen::{DomId, Port};

/// One `STREAM` of a simulated vsnd device.
#[derive(Debug, Clone)]
pub struct SimStreamSpec {
    /// `unique-id`.
    pub unique_id: String,
    /// Playback (`p`) or capture (`c`).
    pub playback: bool,
    /// Extra stream-level nodes (e.g. `("sample-rates", "48000")`).
    pub nodes: Vec<(String, String)>,
}

/// One `PCM` of a simulated vsnd device.
#[derive(Debug, Clone)]
pub struct SimPcmSpec {
    /// `name`.
    pub name: String,
    /// Extra PCM-level nodes.
    pub nodes: Vec<(String, String)>,
    /// Its streams.
    pub streams: Vec<SimStreamSpec>,
}

/// A vsnd device as `xl` would configure it.
#[derive(Debug, Clone)]
pub struct SimVsndSpec {
    /// Card-level nodes (`short-name`, `sample-rates`, ...).
    pub card: Vec<(String, String)>,
    /// PCM instances.
    pub pcms: Vec<SimPcmSpec>,
}

impl SimVsndSpec {
    /// A card with one PCM holding a playback stream `spk` and a capture
    /// stream `mic`, 48 kHz, s16_le, 2 channels.
    pub fn simple() -> Self {
        let node = |k: &str, v: &str| (k.to_string(), v.to_string());
        SimVsndSpec {
            card: alloc::vec![
                node("short-name", "SimCard"),
                node("long-name", "Simulated sound card"),
                node("sample-rates", "48000"),
                node("sample-formats", "s16_le"),
                node("channels-min", "1"),
                node("channels-max", "2"),
                node("buffer-size", "65536"),
            ],
            pcms: alloc::vec![SimPcmSpec {
                name: "main".to_string(),
                nodes: Vec::new(),
                streams: alloc::vec![
                    SimStreamSpec {
                        unique_id: "spk".to_string(),
                        playback: true,
                        nodes: Vec::new(),
                    },
                    SimStreamSpec {
                        unique_id: "mic".to_string(),
                        playback: false,
                        nodes: Vec::new(),
                    },
                ],
            }],
        }
    }
}

/// Frontend path of device `dev` of `domid`.
pub fn frontend_path(domid: DomId, dev: u32) -> String {
    format!("/local/domain/{domid}/device/vsnd/{dev}")
}

/// Backend path of device `dev` of `domid` (backend in dom0).
pub fn backend_path(domid: DomId, dev: u32) -> String {
    format!("/local/domain/0/backend/vsnd/{domid}/{dev}")
}

/// Write device `dev` for `domid` into XenStore as libxl does (both
/// directories, states Initialising, and the guest's `domid` node).
pub fn add_vsnd_device(core: &mut SimCore, domid: DomId, dev: u32, spec: &SimVsndSpec) {
    let fe = frontend_path(domid, dev);
    let be = backend_path(domid, dev);
    let conn = core.store().connect_local(0);
    let store = &mut core.store;
    let mut w = |path: &str, value: &str| {
        store
            .write(conn, 0, path, value.as_bytes())
            .expect("toolstack write");
    };
    w(&format!("/local/domain/{domid}/domid"), &domid.to_string());
    w(&format!("{fe}/backend"), &be);
    w(&format!("{fe}/backend-id"), "0");
    w(&format!("{fe}/state"), "1");
    for (k, v) in &spec.card {
        w(&format!("{fe}/{k}"), v);
    }
    for (p, pcm) in spec.pcms.iter().enumerate() {
        w(&format!("{fe}/{p}/name"), &pcm.name);
        for (k, v) in &pcm.nodes {
            w(&format!("{fe}/{p}/{k}"), v);
        }
        for (s, stream) in pcm.streams.iter().enumerate() {
            let dir = format!("{fe}/{p}/{s}");
            w(
                &format!("{dir}/type"),
                if stream.playback { "p" } else { "c" },
            );
            w(&format!("{dir}/unique-id"), &stream.unique_id);
            for (k, v) in &stream.nodes {
                w(&format!("{dir}/{k}"), v);
            }
        }
    }
    w(&format!("{be}/frontend"), &fe);
    w(&format!("{be}/frontend-id"), &domid.to_string());
    w(&format!("{be}/state"), "1");
}

/// Audio the simulated backend received, per `unique-id`, plus sources for
/// capture streams. Cheap to clone; clones share.
#[derive(Debug, Clone, Default)]
pub struct Recorded(Rc<RefCell<BTreeMap<String, Vec<u8>>>>);

impl Recorded {
    /// Bytes played on `unique_id` so far (across reconnects).
    pub fn bytes(&self, unique_id: &str) -> Vec<u8> {
        self.0.borrow().get(unique_id).cloned().unwrap_or_default()
    }
}

struct RecordingSink {
    recorded: Recorded,
    unique_id: String,
}

impl Sink for RecordingSink {
    fn write(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        self.recorded
            .0
            .borrow_mut()
            .entry(self.unique_id.clone())
            .or_default()
            .extend_from_slice(bytes);
        Ok(())
    }
}

/// A capture source: the bytes `0, 1, 2, ...` of a pattern, repeating.
struct PatternSource {
    pattern: Vec<u8>,
    at: usize,
}

impl Source for PatternSource {
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        if self.pattern.is_empty() {
            out.fill(0);
            return Ok(());
        }
        for byte in out {
            *byte = self.pattern[self.at % self.pattern.len()];
            self.at += 1;
        }
        Ok(())
    }
}

/// Ways the simulated backend can misbehave (all off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Misbehaviour {
    /// Never answer requests (the frontend must time out).
    pub silent: bool,
    /// Write CUR_POS events but never notify their event channel.
    pub quiet_events: bool,
    /// Never leave Initialising (the frontend's handshake must time out).
    pub never_init_wait: bool,
}

struct BackStream {
    channel: StreamChannel<SimMappedPage>,
    ring_port: Port,
    events_port: Port,
    next_deadline: Option<u64>,
}

enum Phase {
    /// Waiting for the toolstack's Initialising to answer InitWait.
    Start,
    /// InitWait published; waiting for the frontend's Initialised.
    InitWait,
    /// Serving streams.
    Connected(Vec<BackStream>),
    /// Device closed.
    Closed,
}

/// The simulated backend for one device.
pub struct SimSndBackend {
    frontend: DomId,
    dev: u32,
    conn: Option<ConnId>,
    phase: Phase,
    unmaps: SimUnmapQueue,
    recorded: Recorded,
    capture_pattern: Vec<u8>,
    /// Misbehaviour knobs (shared so tests can flip them while running).
    pub misbehaviour: Rc<RefCell<Misbehaviour>>,
    restart_requested: Rc<RefCell<bool>>,
    connections: Rc<RefCell<u32>>,
}

/// The test's handle on a running [`SimSndBackend`].
#[derive(Clone)]
pub struct SimSndHandle {
    /// Received audio.
    pub recorded: Recorded,
    /// Misbehaviour knobs.
    pub misbehaviour: Rc<RefCell<Misbehaviour>>,
    restart_requested: Rc<RefCell<bool>>,
    connections: Rc<RefCell<u32>>,
}

impl SimSndHandle {
    /// Simulate a backend crash and restart: tear down (unmap, unbind) and
    /// go back to InitWait at the next step.
    pub fn restart(&self) {
        *self.restart_requested.borrow_mut() = true;
    }

    /// How many times the backend reached Connected.
    pub fn connections(&self) -> u32 {
        *self.connections.borrow()
    }
}

impl SimSndBackend {
    /// A backend for device `dev` of `frontend`; capture streams deliver
    /// `capture_pattern` repeated. Returns the peer and the test's handle.
    pub fn new(frontend: DomId, dev: u32, capture_pattern: Vec<u8>) -> (Box<Self>, SimSndHandle) {
        let recorded = Recorded::default();
        let misbehaviour = Rc::new(RefCell::new(Misbehaviour::default()));
        let restart_requested = Rc::new(RefCell::new(false));
        let connections = Rc::new(RefCell::new(0));
        let handle = SimSndHandle {
            recorded: recorded.clone(),
            misbehaviour: Rc::clone(&misbehaviour),
            restart_requested: Rc::clone(&restart_requested),
            connections: Rc::clone(&connections),
        };
        (
            Box::new(SimSndBackend {
                frontend,
                dev,
                conn: None,
                phase: Phase::Start,
                unmaps: SimUnmapQueue::new(),
                recorded,
                capture_pattern,
                misbehaviour,
                restart_requested,
                connections,
            }),
            handle,
        )
    }

    fn read(core: &mut SimCore, conn: ConnId, path: &str) -> Option<String> {
        core.store
            .read(conn, 0, path)
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
    }

    fn write(core: &mut SimCore, conn: ConnId, path: &str, value: &str) {
        let _ = core.store().write(conn, 0, path, value.as_bytes());
    }

    fn connect_streams(&mut self, core: &mut SimCore, conn: ConnId) -> Option<Vec<BackStream>> {
        let fe = frontend_path(self.frontend, self.dev);
        let mut streams = Vec::new();
        for p in 0.. {
            let pcm = format!("{fe}/{p}");
            if Self::read(core, conn, &format!("{pcm}/name")).is_none()
                && core.store().read(conn, 0, &pcm).is_err()
            {
                break;
            }
            for s in 0.. {
                let dir = format!("{pcm}/{s}");
                let Some(kind) = Self::read(core, conn, &format!("{dir}/type")) else {
                    break;
                };
                let unique_id =
                    Self::read(core, conn, &format!("{dir}/unique-id")).unwrap_or_default();
                let number = |core: &mut SimCore, name: &str| -> Option<u32> {
                    Self::read(core, conn, &format!("{dir}/{name}"))?
                        .trim()
                        .parse()
                        .ok()
                };
                let ring_ref = number(core, "ring-ref")?;
                let ring_evtchn = number(core, "event-channel")?;
                let evt_ref = number(core, "evt-ring-ref")?;
                let evt_evtchn = number(core, "evt-event-channel")?;
                let unmaps = self.unmaps.clone();
                let mut mapper = SimCoreMapper::new(core, 0, self.frontend, &unmaps);
                use crate::backend::buffer::GrantMapper;
                let ring_page = mapper.map(ring_ref, true).ok()?;
                let events_page = mapper.map(evt_ref, true).ok()?;
                let ring_port = core
                    .evtchn_bind_interdomain(0, self.frontend, ring_evtchn)
                    .ok()?;
                let events_port = core
                    .evtchn_bind_interdomain(0, self.frontend, evt_evtchn)
                    .ok()?;
                let direction = if kind == "c" {
                    Direction::Capture
                } else {
                    Direction::Playback
                };
                let sink = Box::new(RecordingSink {
                    recorded: self.recorded.clone(),
                    unique_id: unique_id.clone(),
                });
                let source = Box::new(PatternSource {
                    pattern: self.capture_pattern.clone(),
                    at: 0,
                });
                let label = format!("sim dom{}/{}/{p}/{s}", self.frontend, self.dev);
                let stream = Stream::new(StreamConfig::new(direction), sink, source, &label);
                streams.push(BackStream {
                    channel: StreamChannel::new(ring_page, events_page, stream),
                    ring_port,
                    events_port,
                    next_deadline: None,
                });
            }
        }
        Some(streams)
    }

    fn teardown(&mut self, core: &mut SimCore) {
        if let Phase::Connected(streams) = core::mem::replace(&mut self.phase, Phase::Closed) {
            for stream in streams {
                let _ = core.evtchn_close(0, stream.ring_port);
                let _ = core.evtchn_close(0, stream.events_port);
                drop(stream.channel.into_pages());
            }
        }
        self.unmaps.flush(core);
    }
}

impl super::SimPeer for SimSndBackend {
    fn step(&mut self, core: &mut SimCore) -> bool {
        let conn = *self
            .conn
            .get_or_insert_with(|| core.store().connect_local(0));
        let be = backend_path(self.frontend, self.dev);
        let fe = frontend_path(self.frontend, self.dev);
        let misbehaviour = *self.misbehaviour.borrow();
        let mut progress = self.unmaps.flush(core) > 0;
        if core::mem::take(&mut *self.restart_requested.borrow_mut()) {
            self.teardown(core);
            Self::write(core, conn, &format!("{be}/state"), "2");
            self.phase = Phase::InitWait;
            return true;
        }
        let frontend_state = Self::read(core, conn, &format!("{fe}/state"));
        match &mut self.phase {
            Phase::Start => {
                if misbehaviour.never_init_wait
                    || Self::read(core, conn, &format!("{be}/state")).is_none()
                {
                    return progress;
                }
                Self::write(core, conn, &format!("{be}/state"), "2");
                self.phase = Phase::InitWait;
                true
            }
            Phase::InitWait => {
                if frontend_state.as_deref() != Some("3") {
                    return progress;
                }
                match self.connect_streams(core, conn) {
                    Some(streams) => {
                        self.phase = Phase::Connected(streams);
                        *self.connections.borrow_mut() += 1;
                        Self::write(core, conn, &format!("{be}/state"), "4");
                    }
                    None => {
                        Self::write(core, conn, &format!("{be}/state"), "6");
                        self.phase = Phase::Closed;
                    }
                }
                true
            }
            Phase::Connected(_) => {
                if matches!(frontend_state.as_deref(), Some("5") | Some("6") | None) {
                    self.teardown(core);
                    Self::write(core, conn, &format!("{be}/state"), "6");
                    return true;
                }
                if frontend_state.as_deref() == Some("1") {
                    // The frontend started over: so do we.
                    self.teardown(core);
                    Self::write(core, conn, &format!("{be}/state"), "2");
                    self.phase = Phase::InitWait;
                    return true;
                }
                let now = core.now_ns();
                let Phase::Connected(streams) = &mut self.phase else {
                    return progress;
                };
                let unmaps = self.unmaps.clone();
                for stream in streams.iter_mut() {
                    if misbehaviour.silent {
                        // Not even looking: notifications stay pending.
                        continue;
                    }
                    let notified = core.evtchn_take_pending(0, stream.ring_port);
                    let due = stream.next_deadline.is_some_and(|d| d <= now);
                    if !(notified || due) {
                        continue;
                    }
                    if notified {
                        stream.channel.note_notification();
                    }
                    let mut mapper = SimCoreMapper::new(core, 0, self.frontend, &unmaps);
                    let result = if misbehaviour.quiet_events {
                        let r = stream.channel.service(&mut mapper, now);
                        crate::backend::channel::ServiceResult {
                            notify_events: false,
                            ..r
                        }
                    } else {
                        stream.channel.service(&mut mapper, now)
                    };
                    stream.next_deadline = result.next_deadline_ns;
                    if result.notify_ring {
                        let _ = core.evtchn_send(0, stream.ring_port);
                    }
                    if result.notify_events {
                        let _ = core.evtchn_send(0, stream.events_port);
                    }
                    progress = true;
                }
                progress
            }
            Phase::Closed => progress,
        }
    }

    fn next_deadline(&self) -> Option<u64> {
        match &self.phase {
            Phase::Connected(streams) => streams.iter().filter_map(|s| s.next_deadline).min(),
            _ => None,
        }
    }
}
