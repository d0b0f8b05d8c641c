//! A hostile frontend against the backend engine (issue #13 item 4): the
//! simulated dom0 backend ([`crate::backend_host::SimSndBackend`], the
//! same XenBus state machine and engine as `sndback`) served by a
//! "frontend" that writes whatever it likes into its XenStore nodes, its
//! ring and event pages and its page directories.
//!
//! Every choice comes from the input bytes ([`arbitrary::Unstructured`]):
//! the cargo-fuzz target `backend_chaos` hands it libFuzzer's input, the
//! bounded run in `tests/backend_chaos.rs` a seeded RNG's bytes. What the
//! frontend does:
//! - requests with random ids (duplicates included) and operations (the
//!   known ones and others), absurd OPENs (`buffer_sz` 0, 1, huge, past the
//!   cap; period 0, odd, larger than the buffer; channels 0 or 255;
//!   unknown formats; rate 0), READ/WRITE/volume ranges anywhere, triggers
//!   of every type in every state, requests before OPEN and after CLOSE;
//! - `req_prod` moved anywhere: far ahead, behind, across 2^32; ring
//!   header fields and the event page overwritten with garbage;
//! - page directories whose chain loops, ends early, repeats references,
//!   or names references never granted (or granted read-only);
//! - XenBus: frontend state flips to any value (and garbage), ring nodes
//!   rewritten or removed, `unique-id` rewritten with control characters
//!   and 4 KiB of text, the toolstack asking the backend to close, the
//!   device removed and added again;
//! - time passing, from nothing to a second.
//!
//! Invariants, checked after every action (the run panics otherwise):
//! - no panic anywhere (overflow checks on in the host test profile);
//! - every action is served within a bounded number of simulator steps
//!   (no unbounded loop over a guest-supplied count);
//! - the backend's ledger ([`xensnd_backend::quota`]) holds exactly the
//!   grant mappings the simulated grant table shows, never more than the
//!   caps, and two bound event channels per connected stream;
//! - at the end (the toolstack removes the device) every mapping is
//!   unmapped, every event channel the backend bound is closed, and the
//!   ledger is empty.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::format;
use std::rc::Rc;
use std::string::{String, ToString};
use std::vec::Vec;

use arbitrary::Unstructured;

use super::vsnd::{add_vsnd_device, backend_path, frontend_path, SimVsndSpec};
use super::{PortState, SimPage, SimXen};
use crate::backend_host::{SimBackendView, SimSndBackend};
use xen_abi::sndif::*;
use xen_guest::ring::{ENTRY_SIZE, RING_SLOTS};
use xen_guest::{GrantRef, SharedPage, PAGE_SIZE};
use xensnd_backend::quota::{Caps, Ledger};
use xensnd_backend::xenbus::DeviceSettings;

/// The frontend domain of a run.
pub const GUEST: u16 = 5;
/// Buffer pages the frontend grants (the backend maps at most 16 per OPEN).
const BUFFER_PAGES: usize = 20;
/// Directory pages the frontend grants.
const DIRECTORY_PAGES: usize = 3;
/// Largest buffer the backend maps in a run: 16 pages.
const MAX_BUFFER_BYTES: u32 = 16 * PAGE_SIZE as u32;
/// Simulator steps one action may take at most.
const STEP_LIMIT: usize = 10_000;
/// Actions in one run at most.
const MAX_ACTIONS: usize = 160;
/// Offsets in the shared ring page (`xen/io/ring.h`).
const REQ_PROD: usize = 0;
const RING_HEADER: usize = 64;

/// What a run did (for the test's summary and the fuzzer's sanity).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Actions taken.
    pub actions: u64,
    /// Requests put on rings.
    pub requests: u64,
    /// Simulator steps run.
    pub steps: u64,
    /// Most grant mappings the backend held at once.
    pub most_pages: u32,
    /// Most streams connected at once.
    pub most_streams: u32,
    /// Times the device was seen connected after not being connected.
    pub connects: u64,
    /// Times the ring or XenBus state was deliberately broken.
    pub sabotages: u64,
}

/// One stream's frontend side: its pages, grants and ports.
pub struct FrontStream {
    ring: SimPage,
    ring_ref: GrantRef,
    events: SimPage,
    events_ref: GrantRef,
    ring_port: u32,
    event_port: u32,
    /// The next request index the frontend writes (`req_prod_pvt`).
    produced: u32,
    path: String,
}

/// A frontend domain that writes whatever it likes into its XenStore
/// nodes, ring and event pages and page directories, against the
/// simulated backend (see the module docs). The regression tests of
/// `tests/backend_hostile.rs` drive it by hand; [`run`] drives it from
/// bytes.
pub struct HostileFrontend {
    sim: SimXen,
    guest: super::SimGuest,
    /// The grants, revoked at the end.
    handles: Vec<xen_guest::grant::GrantedPage<SimPage>>,
    domid: u16,
    view: Rc<RefCell<SimBackendView>>,
    ledger: Ledger,
    caps: Caps,
    streams: Vec<FrontStream>,
    /// Directory pages (page, gref).
    directories: Vec<(SimPage, GrantRef)>,
    /// Buffer pages' grefs (some granted read-only).
    buffers: Vec<GrantRef>,
    /// Every gref granted to the backend.
    granted: Vec<GrantRef>,
    /// Every port the frontend allocated for the backend.
    ports: Vec<u32>,
    device_present: bool,
    report: Report,
}

fn choose<T: Copy>(u: &mut Unstructured<'_>, items: &[T]) -> T {
    let index = u.choose_index(items.len()).unwrap_or(0);
    items[index]
}

/// One of `items` (evaluated before `u` is borrowed again).
fn pick<T: Copy, const N: usize>(items: [T; N], u: &mut Unstructured<'_>) -> T {
    choose(u, &items)
}

fn number(u: &mut Unstructured<'_>) -> u32 {
    u.arbitrary().unwrap_or(0)
}

fn coin(u: &mut Unstructured<'_>) -> bool {
    u.arbitrary().unwrap_or(false)
}

impl HostileFrontend {
    fn new(u: &mut Unstructured<'_>) -> Self {
        let caps = Caps {
            streams_per_domain: pick([1, 2, 32, 32, 32], u),
            streams_total: pick([1, 2, 256, 256, 256], u),
            pages_per_domain: pick([2, 5, 12, 20, 40, 16_384, 16_384], u),
            pages_total: pick([4, 18, 65_536, 65_536], u),
        };
        let (sim, view, ledger) = Self::backend(caps, coin(u));
        Self::attach(&sim, &view, &ledger, GUEST)
    }

    /// A simulation with a dom0 backend checked against `caps` (buffers of
    /// at most 16 pages): the simulation, the backend's view and its ledger.
    pub fn backend(
        caps: Caps,
        whole_frames: bool,
    ) -> (SimXen, Rc<RefCell<SimBackendView>>, Ledger) {
        let sim = SimXen::new();
        let ledger = Ledger::new(caps);
        let mut settings = DeviceSettings::dom0(MAX_BUFFER_BYTES);
        settings.whole_frames = whole_frames;
        settings.quota = ledger.clone();
        let view = SimSndBackend::attach(&sim, settings, SimSndBackend::silence());
        (sim, view, ledger)
    }

    /// Frontend `domid` with the simple vsnd device (`spk` playback, `mic`
    /// capture, s16_le 48 kHz 1-2 channels) in `sim`: pages granted, ports
    /// allocated, nodes written, Initialised. Nothing has run yet.
    pub fn attach(
        sim: &SimXen,
        view: &Rc<RefCell<SimBackendView>>,
        ledger: &Ledger,
        domid: u16,
    ) -> Self {
        let sim = sim.clone();
        let mut guest = sim.add_guest(domid);
        sim.with_core(|core| add_vsnd_device(core, domid, 0, &SimVsndSpec::simple()));
        let caps = ledger.caps();
        let mut granted = Vec::new();
        let mut handles = Vec::new();
        let mut grant = |guest: &mut super::SimGuest, readonly: bool| {
            let page = sim.with_core(|core| core.alloc_page(domid)).expect("page");
            let granted_page = guest
                .grant_page(page.clone(), 0, readonly)
                .map_err(|(_, error)| error)
                .expect("grant");
            // Revoked only at the end ([`HostileFrontend::finish`]).
            let gref = granted_page.gref();
            granted.push(gref);
            handles.push(granted_page);
            (page, gref)
        };
        let mut streams = Vec::new();
        for (index, _) in ["spk", "mic"].iter().enumerate() {
            let (ring, ring_ref) = grant(&mut guest, false);
            let (events, events_ref) = grant(&mut guest, false);
            let ring_port = sim
                .with_core(|core| core.evtchn_alloc_unbound(domid, 0))
                .expect("port");
            let event_port = sim
                .with_core(|core| core.evtchn_alloc_unbound(domid, 0))
                .expect("port");
            streams.push(FrontStream {
                ring,
                ring_ref,
                events,
                events_ref,
                ring_port,
                event_port,
                produced: 0,
                path: format!("{}/0/{index}", frontend_path(domid, 0)),
            });
        }
        let directories: Vec<(SimPage, GrantRef)> = (0..DIRECTORY_PAGES)
            .map(|_| grant(&mut guest, false))
            .collect();
        let buffers: Vec<GrantRef> = (0..BUFFER_PAGES)
            .map(|index| grant(&mut guest, index == BUFFER_PAGES - 1).1)
            .collect();
        let ports = streams
            .iter()
            .flat_map(|stream| [stream.ring_port, stream.event_port])
            .collect();
        let mut frontend = Self {
            sim,
            guest,
            handles,
            domid,
            view: Rc::clone(view),
            ledger: ledger.clone(),
            caps,
            streams,
            directories,
            buffers,
            granted,
            ports,
            device_present: true,
            report: Report::default(),
        };
        // An honest start: a directory of the first 16 buffer pages.
        frontend.write_directory(0, 0, &frontend.buffers[..16]);
        for index in 0..frontend.streams.len() {
            frontend.publish_stream(index);
        }
        frontend.write_state("3");
        frontend
    }

    /// The frontend domain.
    pub fn domid(&self) -> u16 {
        self.domid
    }

    /// The simulation.
    pub fn sim(&self) -> &SimXen {
        &self.sim
    }

    /// Stream `index`'s frontend directory (0: `spk`, 1: `mic`).
    pub fn stream_path(&self, index: usize) -> &str {
        &self.streams[index].path
    }

    /// The first directory page's gref (an honest directory of 16 pages).
    pub fn directory_ref(&self) -> GrantRef {
        self.directories[0].1
    }

    /// Put `requests` on stream `index`'s ring, publish them and notify.
    pub fn send(&mut self, index: usize, requests: &[Request]) {
        let stream = &mut self.streams[index];
        for request in requests {
            let slot = (stream.produced & (RING_SLOTS - 1)) as usize;
            stream.ring.write(
                RING_HEADER + slot * ENTRY_SIZE,
                zerocopy::IntoBytes::as_bytes(request),
            );
            stream.produced = stream.produced.wrapping_add(1);
        }
        stream.ring.store_u32(REQ_PROD, stream.produced);
        let port = stream.ring_port;
        let domid = self.domid;
        let _ = self.sim.with_core(|core| core.evtchn_send(domid, port));
    }

    /// The responses on stream `index`'s ring for its last `count` requests.
    pub fn last_responses(&self, index: usize, count: u32) -> Vec<Response> {
        let stream = &self.streams[index];
        (0..count)
            .map(|back| {
                let at = stream.produced.wrapping_sub(count - back);
                let slot = (at & (RING_SLOTS - 1)) as usize;
                let mut bytes = [0u8; ENTRY_SIZE];
                stream
                    .ring
                    .read(RING_HEADER + slot * ENTRY_SIZE, &mut bytes);
                zerocopy::FromBytes::read_from_bytes(&bytes[..])
                    .unwrap_or_else(|_| <Response as zerocopy::FromZeros>::new_zeroed())
            })
            .collect()
    }

    /// Write `value` at `path` as the frontend (or the toolstack).
    pub fn write(&self, path: &str, value: &str) {
        // A node the toolstack removed with the device may be gone; a
        // frontend writing into its own directory always succeeds.
        let _ = self.sim.store_write(path, value.as_bytes());
    }

    /// Write the frontend's XenBus state node.
    pub fn write_state(&self, state: &str) {
        self.write(&format!("{}/state", frontend_path(self.domid, 0)), state);
    }

    /// A fresh ring and event page, and the four nodes.
    fn publish_stream(&mut self, index: usize) {
        let stream = &mut self.streams[index];
        stream.ring.write(0, &[0; PAGE_SIZE]);
        stream.ring.store_u32(4, 1);
        stream.ring.store_u32(12, 1);
        stream.events.write(0, &[0; PAGE_SIZE]);
        stream.produced = 0;
        let nodes = [
            ("ring-ref", stream.ring_ref),
            ("event-channel", stream.ring_port),
            ("evt-ring-ref", stream.events_ref),
            ("evt-event-channel", stream.event_port),
        ];
        let path = stream.path.clone();
        for (name, value) in nodes {
            self.write(&format!("{path}/{name}"), &value.to_string());
        }
    }

    /// Directory page `index`: `next` then `grefs`.
    fn write_directory(&self, index: usize, next: GrantRef, grefs: &[GrantRef]) {
        let page = &self.directories[index].0;
        page.store_u32(0, next);
        for (slot, gref) in grefs
            .iter()
            .take(XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE)
            .enumerate()
        {
            page.store_u32(XENSND_PAGE_DIRECTORY_GREF_OFFSET + slot * 4, *gref);
        }
    }

    /// A gref: mostly one the backend may map, sometimes one it may not.
    fn any_gref(&self, u: &mut Unstructured<'_>) -> GrantRef {
        match u.int_in_range(0..=9u8).unwrap_or(0) {
            0 => number(u),
            1 => 0,
            2 => choose(u, &self.granted),
            3 => self.directories[u.choose_index(DIRECTORY_PAGES).unwrap_or(0)].1,
            _ => choose(u, &self.buffers),
        }
    }

    fn request(&self, u: &mut Unstructured<'_>) -> Request {
        let operation = match u.int_in_range(0..=14u8).unwrap_or(0) {
            10 => number(u) as u8,
            11 | 12 => XENSND_OP_WRITE,
            13 | 14 => XENSND_OP_OPEN,
            op => op,
        };
        let mut request = Request::new(if coin(u) { 7 } else { number(u) as u16 }, operation, &[]);
        match operation {
            XENSND_OP_OPEN if coin(u) => {
                // What the configuration allows (s16_le, 48 kHz, 1-2 channels).
                let open = OpenRequest {
                    pcm_rate: 48_000,
                    pcm_format: XENSND_PCM_FORMAT_S16_LE,
                    pcm_channels: pick([1, 2], u),
                    reserved: 0,
                    buffer_sz: pick([4096, 16_384, 65_536, 8192 + 4], u),
                    gref_directory: self.directories[0].1,
                    period_sz: pick([1024, 4096, 960], u),
                };
                request.op[..20].copy_from_slice(zerocopy::IntoBytes::as_bytes(&open));
            }
            XENSND_OP_OPEN => {
                let open = OpenRequest {
                    pcm_rate: pick([48_000, 48_000, 0, 44_100, 8000, u32::MAX, number(u)], u),
                    pcm_format: pick(
                        [
                            XENSND_PCM_FORMAT_S16_LE,
                            XENSND_PCM_FORMAT_S16_LE,
                            XENSND_PCM_FORMAT_F64_LE,
                            XENSND_PCM_FORMAT_MU_LAW,
                            XENSND_PCM_FORMAT_GSM,
                            number(u) as u8,
                        ],
                        u,
                    ),
                    pcm_channels: pick([2, 2, 1, 0, 3, 255], u),
                    reserved: 0,
                    buffer_sz: pick(
                        [
                            16_384,
                            16_384,
                            4096,
                            MAX_BUFFER_BYTES,
                            0,
                            1,
                            4095,
                            4097,
                            MAX_BUFFER_BYTES + 1,
                            u32::MAX,
                            number(u) % (2 * MAX_BUFFER_BYTES),
                        ],
                        u,
                    ),
                    gref_directory: if coin(u) {
                        self.directories[0].1
                    } else {
                        self.any_gref(u)
                    },
                    period_sz: pick([1024, 4096, 0, 1, 3, 16_385, u32::MAX, number(u)], u),
                };
                request.op[..20].copy_from_slice(zerocopy::IntoBytes::as_bytes(&open));
            }
            XENSND_OP_TRIGGER => {
                request.op[0] = pick([0, 1, 2, 3, 0, 4, number(u) as u8], u);
            }
            XENSND_OP_HW_PARAM_QUERY => {
                let bytes: [u8; 56] = u.arbitrary().unwrap_or([0; 56]);
                request.op = bytes;
            }
            _ if coin(u) => {
                let rw = RwRequest {
                    offset: u.int_in_range(0..=4095u32).unwrap_or(0) * 4,
                    length: pick([8, 1024, 4096], u),
                };
                request.op[..8].copy_from_slice(zerocopy::IntoBytes::as_bytes(&rw));
            }
            _ => {
                let rw = RwRequest {
                    offset: pick([0, 0, 4096, 16_380, 3, u32::MAX - 3, number(u)], u),
                    length: pick([1024, 8, 4, 16_384, 0, 7, u32::MAX, number(u)], u),
                };
                request.op[..8].copy_from_slice(zerocopy::IntoBytes::as_bytes(&rw));
            }
        }
        request
    }

    /// Put `count` requests on a stream's ring and notify; sometimes move
    /// `req_prod` somewhere it has no business being.
    fn send_requests(&mut self, u: &mut Unstructured<'_>) {
        let index = u.choose_index(self.streams.len()).unwrap_or(0);
        let count = u.int_in_range(1..=6u32).unwrap_or(1);
        let requests: Vec<Request> = (0..count).map(|_| self.request(u)).collect();
        let stream = &mut self.streams[index];
        for request in &requests {
            let slot = (stream.produced & (RING_SLOTS - 1)) as usize;
            stream.ring.write(
                RING_HEADER + slot * ENTRY_SIZE,
                zerocopy::IntoBytes::as_bytes(request),
            );
            stream.produced = stream.produced.wrapping_add(1);
        }
        self.report.requests += u64::from(count);
        let published = match u.int_in_range(0..=47u8).unwrap_or(0) {
            0 => {
                self.report.sabotages += 1;
                stream
                    .produced
                    .wrapping_add(pick([RING_SLOTS + 1, 1 << 31, number(u)], u))
            }
            1 => {
                self.report.sabotages += 1;
                stream
                    .produced
                    .wrapping_sub(pick([count + 1, 1000, number(u)], u))
            }
            _ => stream.produced,
        };
        stream.ring.store_u32(REQ_PROD, published);
        let port = stream.ring_port;
        let domid = self.domid;
        let _ = self.sim.with_core(|core| core.evtchn_send(domid, port));
    }

    fn sabotage_pages(&mut self, u: &mut Unstructured<'_>) {
        self.report.sabotages += 1;
        let index = u.choose_index(self.streams.len()).unwrap_or(0);
        let stream = &self.streams[index];
        let page = if coin(u) {
            &stream.events
        } else {
            &stream.ring
        };
        for _ in 0..u.int_in_range(1..=4u8).unwrap_or(1) {
            let offset = usize::from(u.int_in_range(0..=1023u16).unwrap_or(0)) * 4;
            page.store_u32(offset, number(u));
        }
    }

    fn rewrite_directory(&mut self, u: &mut Unstructured<'_>) {
        let index = u.choose_index(self.directories.len()).unwrap_or(0);
        let next = match u.int_in_range(0..=4u8).unwrap_or(0) {
            0 | 1 => 0,
            2 => self.directories[index].1,
            _ => self.any_gref(u),
        };
        let count = usize::from(u.int_in_range(0..=20u8).unwrap_or(0));
        let grefs: Vec<GrantRef> = (0..count).map(|_| self.any_gref(u)).collect();
        self.write_directory(index, next, &grefs);
    }

    fn xenbus(&mut self, u: &mut Unstructured<'_>) {
        let stream_path = self.streams[u.choose_index(2).unwrap_or(0)].path.clone();
        match u.int_in_range(0..=11u8).unwrap_or(0) {
            // The honest restart: new rings, Initialising, Initialised.
            0 | 1 => {
                self.write_state("1");
                self.settle();
                for index in 0..self.streams.len() {
                    self.publish_stream(index);
                }
                self.write_state("3");
            }
            2 => {
                let state = pick(["0", "1", "2", "3", "4", "5", "6", "7", "99", "x", ""], u);
                self.write_state(state);
            }
            3 => {
                self.report.sabotages += 1;
                let node = pick(
                    [
                        "ring-ref",
                        "event-channel",
                        "evt-ring-ref",
                        "evt-event-channel",
                    ],
                    u,
                );
                let value = pick(["0", "4294967295", "-1", "abc", ""], u).to_string();
                let value = if coin(u) {
                    number(u).to_string()
                } else {
                    value
                };
                self.write(&format!("{stream_path}/{node}"), &value);
            }
            4 => {
                self.report.sabotages += 1;
                let node = pick(["ring-ref", "evt-event-channel", "unique-id", "type"], u);
                let _ = self.sim.store_rm(&format!("{stream_path}/{node}"));
            }
            5 => {
                let id = pick(
                    [
                        "spk\nERROR forged line",
                        "\u{1b}[2J\u{202e}evil",
                        "spk",
                        "mic",
                    ],
                    u,
                );
                let id = if coin(u) {
                    id.repeat(300)
                } else {
                    id.to_string()
                };
                self.write(&format!("{stream_path}/unique-id"), &id);
            }
            6 => {
                // The toolstack asks the backend to close.
                self.write(&format!("{}/state", backend_path(self.domid, 0)), "5");
            }
            7 if self.device_present => {
                let _ = self.sim.store_rm(&backend_path(self.domid, 0));
                self.device_present = false;
            }
            7 | 8 if !self.device_present => {
                let domid = self.domid;
                self.sim
                    .with_core(|core| add_vsnd_device(core, domid, 0, &SimVsndSpec::simple()));
                self.device_present = true;
                for index in 0..self.streams.len() {
                    self.publish_stream(index);
                }
                self.write_state("3");
            }
            _ => {
                let sample_rates = pick(["48000", "abc", "8000;48000", "0"], u);
                self.write(
                    &format!("{}/sample-rates", frontend_path(self.domid, 0)),
                    sample_rates,
                );
            }
        }
    }

    /// Run the simulation until nothing happens; bounded.
    pub fn settle(&mut self) {
        let steps = self.sim.run_until_idle(STEP_LIMIT);
        assert!(
            steps < STEP_LIMIT,
            "the backend is still busy after {STEP_LIMIT} steps"
        );
        self.report.steps += steps as u64;
    }

    /// Grant mappings of the frontend's pages held now.
    pub fn mappings(&self) -> u32 {
        self.sim.with_core(|core| {
            self.granted
                .iter()
                .filter_map(|gref| core.grant_entry(self.domid, *gref))
                .map(|entry| entry.maps)
                .sum()
        })
    }

    /// The frontend's ports bound by the backend now.
    pub fn bound_ports(&self) -> u32 {
        self.sim.with_core(|core| {
            self.ports
                .iter()
                .filter(|port| {
                    matches!(
                        core.evtchn_state(self.domid, **port),
                        Some(PortState::Interdomain { .. })
                    )
                })
                .count() as u32
        })
    }

    /// Check the invariants of the module docs (panics otherwise).
    pub fn check(&mut self) {
        let usage = self.ledger.usage(u32::from(self.domid));
        let total = self.ledger.total();
        assert!(usage.pages <= total.pages && usage.streams <= total.streams);
        let mappings = self.mappings();
        assert_eq!(
            usage.pages, mappings,
            "the ledger holds exactly the grant table's mappings"
        );
        assert!(usage.pages <= self.caps.pages_per_domain && usage.pages <= self.caps.pages_total);
        assert!(
            usage.streams <= self.caps.streams_per_domain
                && usage.streams <= self.caps.streams_total
        );
        let domid = u32::from(self.domid);
        let active = self
            .view
            .borrow()
            .active
            .iter()
            .filter(|stream| stream.domid == domid)
            .count() as u32;
        assert_eq!(
            usage.streams, active,
            "the ledger counts the connected streams"
        );
        assert_eq!(
            self.bound_ports(),
            2 * active,
            "two event channels per stream"
        );
        assert!(self.ledger.domains() <= self.ledger.total().streams as usize);
        if active > 0 && self.report.most_streams == 0 {
            self.report.connects += 1;
        }
        self.report.most_pages = self.report.most_pages.max(usage.pages);
        self.report.most_streams = self.report.most_streams.max(active);
    }

    /// The toolstack removes the device; check nothing is left (panics
    /// otherwise).
    pub fn finish(mut self) -> Report {
        // The toolstack removes the device (xl destroy): everything goes.
        let _ = self.sim.store_rm(&backend_path(self.domid, 0));
        self.settle();
        assert_eq!(self.mappings(), 0, "every mapping unmapped after teardown");
        assert_eq!(
            self.bound_ports(),
            0,
            "every event channel closed after teardown"
        );
        assert_eq!(
            self.ledger.usage(u32::from(self.domid)),
            Default::default(),
            "nothing charged to the domain"
        );
        let domid = u32::from(self.domid);
        assert!(!self
            .view
            .borrow()
            .active
            .iter()
            .any(|stream| stream.domid == domid));
        // Nothing maps them any more: every grant can be revoked.
        for handle in core::mem::take(&mut self.handles) {
            let gref = handle.gref();
            if let Err((_, error)) = self.guest.revoke_page(handle) {
                panic!("gref {gref} cannot be revoked after teardown: {error:?}");
            }
        }
        self.report
    }
}

/// One run: every choice from `data`. Panics when an invariant breaks.
pub fn run(data: &[u8]) -> Report {
    run_with(&mut Unstructured::new(data))
}

fn run_with(u: &mut Unstructured<'_>) -> Report {
    let mut frontend = HostileFrontend::new(u);
    frontend.settle();
    frontend.check();
    while !u.is_empty() && (frontend.report.actions as usize) < MAX_ACTIONS {
        frontend.report.actions += 1;
        match u.int_in_range(0..=15u8).unwrap_or(0) {
            0..=6 => frontend.send_requests(u),
            7 => frontend.sabotage_pages(u),
            8 | 9 => frontend.rewrite_directory(u),
            10 | 11 => frontend.xenbus(u),
            _ => {
                let by = choose(
                    u,
                    &[
                        0u64,
                        1_000_000,
                        5_000_000,
                        21_333_333,
                        100_000_000,
                        1_000_000_000,
                    ],
                );
                let now = frontend.sim.now_ns();
                frontend.sim.advance_to(now + by);
            }
        }
        frontend.settle();
        frontend.check();
    }
    let ledger = frontend.ledger.clone();
    let report = frontend.finish();
    assert_eq!(ledger.total(), Default::default(), "ledger empty");
    assert_eq!(ledger.domains(), 0, "no ledger row left");
    report
}
