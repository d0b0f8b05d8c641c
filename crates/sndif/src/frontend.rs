//! The vsnd frontend: finds every virtual sound card in XenStore, brings up
//! a channel per stream, performs the XenBus handshake with the backend and
//! reconnects when the backend restarts (`io/sndif.h`, "Frontend XenBus
//! node", "Backend XenBus node" and the state diagram; REFERENCE.md
//! "XenStore layout for vsnd").
//!
//! Handshake per device: create every stream's ring, event page and event
//! channels; watch and read the backend's state, write the four nodes of
//! every stream and then our state Initialised (all in flight at once,
//! applied in order; no wait for the backend's InitWait first); wait for
//! the backend's Connected, then say Connected ourselves without waiting
//! for the reply. The configuration is read ahead, with the caller's own
//! requests, in one pipelined batch when the layout is the usual one
//! ([`read_ahead`]): boot time is mostly XenStore round trips.
//! A backend that leaves Connected (restart, crash, Closing) makes every
//! stream of the device fail with `Disconnected` once; when it is back in
//! InitWait the handshake runs again and streams can be prepared anew.
#![forbid(unsafe_code)]

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

use super::config::{read_config, ConfigSource, ConfiguredStream, VsndConfig};
use super::readahead::{read_ahead, VSND_DIR};
use super::roundtrips::RoundTrips;
use super::stream::Stream;
use super::watch::{Bus, DeviceWatch};
use super::SndError;
use xen_guest::shutdown::{ShutdownRequest, ShutdownWatch};
use xen_guest::xenbus::{read_state, write_state, XenbusState};
use xen_guest::xenstore::{reply_string, BatchRequest, Errno, RequestId, TxId, XenStore, XsError};
use xen_guest::{DomId, Platform, ResourceUsage};
use xensnd_pcm::Clock;

/// How long to wait for the backend at each handshake step.
pub const DEFAULT_CONNECT_TIMEOUT_NS: u64 = 10_000_000_000;

/// Options for [`Frontend::probe`].
#[derive(Debug, Clone, Copy)]
pub struct FrontendOptions {
    /// Time the backend gets for each handshake step.
    pub connect_timeout_ns: u64,
    /// Time a request may take (see `channel::DEFAULT_TIMEOUT_NS`).
    pub request_timeout_ns: u64,
    /// WRITE/READ requests in flight per stream.
    pub depth: usize,
    /// Margin `write`, `read` and `drain` get past the duration of their
    /// audio before they fail (see `stream::DEFAULT_STALL_TIMEOUT_NS`).
    pub stall_timeout_ns: u64,
}

impl Default for FrontendOptions {
    fn default() -> Self {
        Self {
            connect_timeout_ns: DEFAULT_CONNECT_TIMEOUT_NS,
            request_timeout_ns: super::channel::DEFAULT_TIMEOUT_NS,
            depth: super::stream::DEFAULT_DEPTH,
            stall_timeout_ns: super::stream::DEFAULT_STALL_TIMEOUT_NS,
        }
    }
}

/// Why the frontend could not come up or a device failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrontendError {
    /// XenStore failed at `path`.
    Store {
        /// The node or directory.
        path: String,
        /// What went wrong.
        error: XsError,
    },
    /// A required node is missing or unparsable.
    BadNode {
        /// The node.
        path: String,
        /// Its value (if any).
        value: String,
    },
    /// The backend did not reach `expected` in time.
    BackendTimeout {
        /// The backend's state node.
        path: String,
        /// The state waited for.
        expected: XenbusState,
        /// The state it was in.
        actual: XenbusState,
    },
    /// Setting up a stream failed.
    Stream(SndError),
}

impl core::fmt::Display for FrontendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrontendError::Store { path, error } => write!(f, "xenstore {path}: {error:?}"),
            FrontendError::BadNode { path, value } => write!(f, "bad node {path} = {value:?}"),
            FrontendError::BackendTimeout {
                path,
                expected,
                actual,
            } => write!(
                f,
                "backend {path} did not reach {expected:?} in time (it is {actual:?}): is the backend running?"
            ),
            FrontendError::Stream(e) => write!(f, "stream set-up failed: {e}"),
        }
    }
}

/// A stream as the application sees it before opening it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Device index (order of discovery; see [`Frontend::streams`]).
    pub device: usize,
    /// Stream index within the device.
    pub stream: usize,
    /// The card's short name.
    pub card: String,
    /// The PCM instance's name.
    pub pcm_name: String,
    /// The stream's configuration (kind, unique-id, limits).
    pub config: ConfiguredStream,
}

/// Handshake marks kept (the first connections; reconnections add none
/// past this).
const MAX_MARKS: usize = 32;

/// Most requests the probe's read-ahead sends: a few dozen for a usual
/// card; one with the most PCMs and streams the configuration reads
/// needs about 2500.
const MAX_PREFETCH_REQUESTS: usize = 4096;

/// Config nodes for [`read_config`], from what the probe read ahead
/// ([`read_ahead`]): the nodes by path relative to the domain's home, and
/// the length of the home's absolute path with its `/`
/// (`/local/domain/<domid>/`). Not generic, so the configuration reader
/// is compiled once into the image.
struct Ahead<'a> {
    nodes: &'a BTreeMap<String, Vec<u8>>,
    home: usize,
}

impl ConfigSource for Ahead<'_> {
    type Error = XsError;
    fn read(&mut self, path: &str) -> Result<Option<String>, XsError> {
        match path.get(self.home..).and_then(|path| self.nodes.get(path)) {
            Some(value) => reply_string(value.clone()).map(Some),
            None => Ok(None),
        }
    }
}

impl Ahead<'_> {
    /// A node that must exist (`ENOENT` otherwise, as a store read gives).
    fn read_required(&mut self, path: &str) -> Result<String, XsError> {
        self.read(path)?.ok_or(XsError::Store(Errno::NotFound))
    }
}

pub(crate) struct Slot<X: Platform> {
    pub(crate) config: ConfiguredStream,
    pub(crate) stream: Option<Stream<X>>,
}

pub(crate) struct Device<X: Platform> {
    pub(crate) path: String,
    backend_path: String,
    pub(crate) backend_id: DomId,
    pub(crate) config: VsndConfig,
    pub(crate) slots: Vec<Slot<X>>,
    pub(crate) connected: bool,
    /// Incremented by every successful (re)connection.
    pub(crate) generation: u32,
    token: String,
    backend_state: XenbusState,
    /// Our Connected, sent without waiting; its reply is taken by a poll.
    announced: Option<RequestId>,
}

/// What the frontend shares with every open PCM stream.
pub struct Shared<X: Platform> {
    /// The platform (hypercalls or the simulator).
    pub xen: X,
    /// The XenStore client and what blocking calls learn from it, shared
    /// with every stream's channel (see [`super::watch`]).
    pub bus: Rc<RefCell<Bus<X::Page>>>,
    pub(crate) devices: Vec<Device<X>>,
    pub(crate) options: FrontendOptions,
    /// Pages whose grants the backend still held at teardown; revoked
    /// again at every poll, never reused meanwhile.
    pub(crate) stuck: Vec<super::buffer::Granted<X::Page>>,
    /// Set by [`Frontend::shutdown`]: never connect again.
    pub(crate) shut_down: bool,
    /// When each handshake step of the first connection of each device
    /// ended (PV clock, ns): see [`Frontend::handshake_marks`].
    marks: Vec<(&'static str, u64)>,
}

/// The vsnd frontend (cheap to clone: clones share one state).
pub struct Frontend<X: Platform> {
    pub(crate) shared: Rc<RefCell<Shared<X>>>,
}

impl<X: Platform> Clone for Frontend<X> {
    fn clone(&self) -> Self {
        Frontend {
            shared: Rc::clone(&self.shared),
        }
    }
}

/// The bus, borrowed (one out-of-line call per use keeps the guest small).
#[inline(never)]
fn bus_mut<P: xen_guest::SharedPage>(bus: &RefCell<Bus<P>>) -> core::cell::RefMut<'_, Bus<P>> {
    bus.borrow_mut()
}

fn store_err(path: &str) -> impl FnOnce(XsError) -> FrontendError + '_ {
    move |error| FrontendError::Store {
        path: path.to_string(),
        error,
    }
}

/// Outcome of [`Frontend::probe`]: the frontend plus per-device failures
/// (a device that fails does not stop the others).
pub struct Probe<X: Platform> {
    /// The frontend with every device that came up.
    pub frontend: Frontend<X>,
    /// Devices that failed, with why.
    pub failed: Vec<(String, FrontendError)>,
    /// This domain's id (the platform's, or read in the first batch).
    pub domid: DomId,
    /// The replies to the caller's requests ([`Frontend::probe_with`]),
    /// in order.
    pub replies: Vec<Result<Vec<u8>, XsError>>,
}

impl<X: Platform> Frontend<X> {
    /// Find and connect every vsnd device of this domain.
    pub fn probe(
        xen: X,
        store: XenStore<X::Page>,
        options: FrontendOptions,
    ) -> Result<Probe<X>, FrontendError> {
        Self::probe_with(xen, store, options, &[])
    }

    /// [`Frontend::probe`], with the caller's `first` requests in the
    /// probe's first XenStore batch (their replies in
    /// [`Probe::replies`]): the configuration, `domid` (unless the
    /// platform knows it) and the caller's requests in one round trip
    /// when the layout is the usual one ([`read_ahead`]).
    pub fn probe_with(
        mut xen: X,
        mut store: XenStore<X::Page>,
        options: FrontendOptions,
        first: &[BatchRequest<'_>],
    ) -> Result<Probe<X>, FrontendError> {
        // The platform may know our id already (no request for it).
        let known = xen.domid();
        let mut requests = first.to_vec();
        if known.is_none() {
            requests.push(BatchRequest::Read("domid"));
        }
        let mut ahead = read_ahead(&mut store, &mut xen, &requests, MAX_PREFETCH_REQUESTS)
            .map_err(store_err(VSND_DIR))?;
        let domid = match known {
            Some(domid) => domid,
            None => {
                let text = ahead
                    .replies
                    .pop()
                    .unwrap_or(Err(XsError::Malformed("batch reply count")))
                    .and_then(reply_string)
                    .map_err(store_err("domid"))?;
                text.trim().parse().map_err(|_| FrontendError::BadNode {
                    path: "domid".to_string(),
                    value: text.clone(),
                })?
            }
        };
        let base = format!("/local/domain/{domid}/{VSND_DIR}");
        // A node that could not be read (other than absent) fails the
        // probe, named as a read of it alone would be: it is our own
        // device directory, which the toolstack wrote before we ran.
        let nodes = ahead.nodes.map_err(|(path, error)| FrontendError::Store {
            path: format!("/local/domain/{domid}/{path}"),
            error,
        })?;
        let home = base.len() - VSND_DIR.len();
        let mut shared = Shared {
            xen,
            bus: Rc::new(RefCell::new(Bus::new(store))),
            devices: Vec::new(),
            options,
            stuck: Vec::new(),
            shut_down: false,
            marks: Vec::new(),
        };
        shared.mark("tree");
        let mut failed = Vec::new();
        let mut indices: Vec<(u32, String)> = ahead
            .devices
            .into_iter()
            .filter_map(|n| n.parse::<u32>().ok().map(|i| (i, n)))
            .collect();
        indices.sort();
        for (_, name) in indices {
            let path = format!("{base}/{name}");
            let nodes = Ahead {
                nodes: &nodes,
                home,
            };
            match shared.add_device(&path, nodes) {
                Ok(()) => {}
                Err(e) => {
                    log::error!("vsnd {path}: {e}");
                    failed.push((path, e));
                }
            }
        }
        Ok(Probe {
            frontend: Frontend {
                shared: Rc::new(RefCell::new(shared)),
            },
            failed,
            domid,
            replies: ahead.replies,
        })
    }

    /// When each step of the probe's handshakes ended, on the platform's
    /// clock (ns): `tree` (configuration read ahead), `streams` (rings and
    /// channels made), `written` (the backend watched and its state read,
    /// nodes + Initialised written), `connected` (the backend's Connected
    /// seen; ours is sent then, without waiting). Timing figures only
    /// (`XENSND-TIMING`); at most a few per device.
    pub fn handshake_marks(&self) -> Vec<(&'static str, u64)> {
        self.shared.borrow().marks.clone()
    }

    /// The boot's round trips (see [`super::roundtrips`]) as they were when
    /// the first `XENSND_OP_WRITE` was submitted on any stream; `None`
    /// before that. Everything the XenStore client did counts, including
    /// what its owner did before the probe.
    pub fn boot_round_trips(&self) -> Option<RoundTrips> {
        let shared = self.shared.borrow();
        let ledger = shared.bus.borrow().ledger;
        ledger.first_write
    }

    /// The same totals now.
    pub fn round_trips(&self) -> RoundTrips {
        let shared = self.shared.borrow();
        let bus = shared.bus.borrow();
        bus.ledger.totals(bus.store.stats())
    }

    /// Every stream that came up, on every device.
    pub fn streams(&self) -> Vec<StreamInfo> {
        let shared = self.shared.borrow();
        let mut out = Vec::new();
        for (d, device) in shared.devices.iter().enumerate() {
            for (s, slot) in device.slots.iter().enumerate() {
                let pcm_name = device
                    .config
                    .pcms
                    .iter()
                    .find(|p| p.index == slot.config.pcm_index)
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                out.push(StreamInfo {
                    device: d,
                    stream: s,
                    card: device.config.short_name.clone(),
                    pcm_name,
                    config: slot.config.clone(),
                });
            }
        }
        out
    }

    /// Configuration problems found in XenStore, as messages naming the node.
    pub fn config_errors(&self) -> Vec<String> {
        let shared = self.shared.borrow();
        shared
            .devices
            .iter()
            .flat_map(|d| d.config.errors.iter().map(|e| e.to_string()))
            .collect()
    }

    /// Number of connected devices.
    pub fn connected_devices(&self) -> usize {
        self.shared
            .borrow()
            .devices
            .iter()
            .filter(|d| d.connected)
            .count()
    }

    /// Follow the backends: handle state changes (disconnect, reconnect).
    /// Call it from the application's idle loop; every PCM operation calls
    /// it too.
    pub fn poll(&self) {
        self.shared.borrow_mut().poll();
    }

    /// Grants and event channels in use now, if the platform counts them
    /// (the simulator and the runtime do).
    pub fn resource_usage(&self) -> Option<ResourceUsage> {
        self.with_platform(|xen| xen.resource_usage())
    }

    /// Run `f` with the platform. An application reads the time and waits
    /// through [`Clock`] (implemented by the frontend and by the runtime);
    /// this is for what only the platform knows (its statistics).
    pub fn with_platform<T>(&self, f: impl FnOnce(&mut X) -> T) -> T {
        f(&mut self.shared.borrow_mut().xen)
    }

    /// Run `f` with the XenStore client and the platform (e.g. to follow
    /// a watch of the application's own, such as `control/shutdown`).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut XenStore<X::Page>, &mut X) -> T) -> T {
        let shared = &mut *self.shared.borrow_mut();
        let mut bus = bus_mut(&shared.bus);
        // `f` may pump the ring and queue our watch events.
        bus.dirty = true;
        f(&mut bus.store, &mut shared.xen)
    }

    /// Follow `control/shutdown` through `watch` (registered by the
    /// application, e.g. in its first XenStore batch): from now on every
    /// blocking stream call ends with `ErrorKind::Shutdown` once the
    /// toolstack asked the domain to power off, reboot or halt, and
    /// [`Frontend::shutdown_request`] says which.
    pub fn follow_shutdown(&self, watch: ShutdownWatch) {
        let shared = self.shared.borrow();
        bus_mut(&shared.bus).follow_shutdown(watch);
    }

    /// What the toolstack asked for through `control/shutdown`, if it did
    /// (reads what XenStore delivered, without blocking; the request is
    /// acknowledged once). `None` without [`Frontend::follow_shutdown`].
    pub fn shutdown_request(&self) -> Option<ShutdownRequest> {
        let shared = &mut *self.shared.borrow_mut();
        let mut bus = bus_mut(&shared.bus);
        bus.shutdown_request(&mut shared.xen)
    }

    /// Grants the backends still held when streams were torn down (they
    /// are retried at every poll).
    pub fn leftover_grants(&self) -> usize {
        self.shared.borrow().stuck.len()
    }

    /// Disconnect every device the XenBus way: say Closing, give the
    /// backend time to unmap and say Closed, then revoke every grant and
    /// say Closed ourselves. Final: a backend that offers InitWait again
    /// afterwards is not reconnected.
    pub fn shutdown(&self) {
        let mut shared = self.shared.borrow_mut();
        shared.shut_down = true;
        for d in 0..shared.devices.len() {
            shared.close_device(d);
        }
        shared.retry_stuck();
    }
}

impl<X: Platform> Shared<X> {
    /// Note when a handshake step ended (see [`Frontend::handshake_marks`]).
    fn mark(&mut self, step: &'static str) {
        if self.marks.len() < MAX_MARKS {
            let now = self.xen.now_ns();
            self.marks.push((step, now));
        }
    }

    #[inline(never)]
    fn add_device(&mut self, path: &str, mut nodes: Ahead<'_>) -> Result<(), FrontendError> {
        let backend_node = format!("{path}/backend");
        let backend_path = nodes
            .read_required(&backend_node)
            .map_err(store_err(&backend_node))?;
        let id_node = format!("{path}/backend-id");
        let id_text = nodes.read_required(&id_node).map_err(store_err(&id_node))?;
        let backend_id: DomId = id_text.trim().parse().map_err(|_| FrontendError::BadNode {
            path: id_node.clone(),
            value: id_text.clone(),
        })?;
        let config = read_config(&mut nodes, path).map_err(store_err(path))?;
        for error in &config.errors {
            log::error!("{error}");
        }
        let slots = config
            .streams()
            .map(|c| Slot {
                config: c.clone(),
                stream: None,
            })
            .collect();
        self.devices.push(Device {
            path: path.to_string(),
            backend_path,
            backend_id,
            config,
            slots,
            connected: false,
            generation: 0,
            token: format!("vsnd-backend:{path}"),
            backend_state: XenbusState::Unknown,
            announced: None,
        });
        let index = self.devices.len() - 1;
        self.connect_with(index, true)
    }

    /// Wait until the backend is in `expected`, with the state just read
    /// (if any) standing in for the first read.
    fn wait_backend_from(
        &mut self,
        index: usize,
        expected: XenbusState,
        initial: Option<XenbusState>,
    ) -> Result<(), FrontendError> {
        self.wait_backend_until(index, initial, |s| s == expected)
            .map_err(|e| match e {
                FrontendError::BackendTimeout { path, actual, .. } => {
                    FrontendError::BackendTimeout {
                        path,
                        expected,
                        actual,
                    }
                }
                other => other,
            })
    }

    fn wait_backend_until(
        &mut self,
        index: usize,
        mut initial: Option<XenbusState>,
        accept: impl Fn(XenbusState) -> bool,
    ) -> Result<(), FrontendError> {
        let deadline = self
            .xen
            .now_ns()
            .saturating_add(self.options.connect_timeout_ns);
        let backend_path = self.devices[index].backend_path.clone();
        let token = self.devices[index].token.clone();
        loop {
            let state = match initial.take() {
                Some(state) => state,
                None => read_state(&mut bus_mut(&self.bus).store, &mut self.xen, &backend_path)
                    .map_err(store_err(&backend_path))?,
            };
            self.devices[index].backend_state = state;
            if accept(state) {
                return Ok(());
            }
            if self.xen.now_ns() >= deadline {
                return Err(FrontendError::BackendTimeout {
                    path: format!("{backend_path}/state"),
                    expected: XenbusState::Unknown,
                    actual: state,
                });
            }
            let mut bus = bus_mut(&self.bus);
            bus.ledger.backend_waits += 1;
            let waited = bus.store.wait_watch_event(&mut self.xen, &token, deadline);
            drop(bus);
            match waited {
                Ok(_) | Err(XsError::Timeout) => {}
                Err(e) => return Err(store_err(&backend_path)(e)),
            }
            while bus_mut(&self.bus).store.take_watch_event(&token).is_some() {}
        }
    }

    /// The XenBus handshake for device `index` (streams are created anew).
    fn connect(&mut self, index: usize) -> Result<(), FrontendError> {
        self.connect_with(index, false)
    }

    /// [`Self::connect`], registering the watch on the backend's state
    /// first when `watch` (the device's first connection).
    ///
    /// Without waiting for the backend's InitWait: sndif's backend
    /// publishes nothing the frontend needs, and both backends take a
    /// frontend already Initialised when they come (sndback and libxenbe
    /// act on the frontend's state when their watch on it is registered,
    /// which fires at once). So one batch: the watch, the backend's state,
    /// every stream's nodes and our Initialised; then the wait for its
    /// Connected, and our Connected sent without waiting for the reply.
    fn connect_with(&mut self, index: usize, watch: bool) -> Result<(), FrontendError> {
        let path = self.devices[index].path.clone();
        let backend = self.devices[index].backend_id;
        let options = self.options;
        let mut created = Vec::new();
        for slot in 0..self.devices[index].slots.len() {
            let direction = self.devices[index].slots[slot].config.direction;
            match Stream::new(&mut self.xen, backend, direction) {
                Ok(mut stream) => {
                    stream.set_timeout_ns(options.request_timeout_ns);
                    stream.set_stall_timeout_ns(options.stall_timeout_ns);
                    stream.set_depth(options.depth);
                    stream.set_watch(Some(DeviceWatch::new(
                        Rc::clone(&self.bus),
                        self.devices[index].token.clone(),
                        self.devices[index].backend_path.clone(),
                    )));
                    created.push((slot, stream));
                }
                Err(e) => {
                    for (_, stream) in created {
                        let stuck = stream.teardown(&mut self.xen);
                        self.stuck.extend(stuck);
                    }
                    return Err(FrontendError::Stream(e));
                }
            }
        }
        self.mark("streams");
        // All four nodes of every stream, then our state.
        let nodes: Vec<(String, String)> = created
            .iter()
            .flat_map(|(slot, stream)| {
                let dir = self.devices[index].slots[*slot].config.path.clone();
                stream
                    .xenstore_values()
                    .into_iter()
                    .map(move |(name, value)| (format!("{dir}/{name}"), value.to_string()))
            })
            .collect();
        let state_node = format!("{path}/state");
        let backend_state = format!("{}/state", self.devices[index].backend_path);
        let token = self.devices[index].token.clone();
        // Every request in flight at once, our state last: xenstored
        // applies one connection's requests in order, so the backend,
        // which reads the nodes when it sees Initialised, finds them all.
        // Its state is read before our Initialised, so a Connected there is
        // not an answer to ours.
        let mut requests = Vec::new();
        if watch {
            requests.push(BatchRequest::Watch(&backend_state, &token));
        }
        requests.push(BatchRequest::Read(&backend_state));
        requests.extend(
            nodes
                .iter()
                .map(|(node, value)| BatchRequest::Write(TxId::NONE, node, value.as_bytes())),
        );
        requests.push(BatchRequest::Write(TxId::NONE, &state_node, b"3"));
        let read_at = usize::from(watch);
        let mut bus = bus_mut(&self.bus);
        let written = bus
            .store
            .batch(&mut self.xen, &requests)
            .and_then(|replies| {
                let mut initial = None;
                for (at, reply) in replies.into_iter().enumerate() {
                    match reply {
                        Ok(value) if at == read_at => initial = XenbusState::parse(&value),
                        Err(error) if at == read_at && error.is_not_found() => {
                            initial = Some(XenbusState::Unknown)
                        }
                        // Read again while waiting.
                        Err(_) if at == read_at => {}
                        Ok(_) => {}
                        Err(error) => return Err(error),
                    }
                }
                Ok(initial)
            });
        if watch && written.is_ok() {
            // The event the watch fires when registered, before the read
            // above: that read covers it.
            bus.store.take_watch_event(&token);
        }
        drop(bus);
        for (slot, stream) in created {
            self.devices[index].slots[slot].stream = Some(stream);
        }
        let initial = match written {
            Ok(initial) => initial,
            Err(e) => {
                // Some of it may have been applied (Initialised too): the
                // streams go and our state says so.
                self.disconnect(index, XenbusState::Initialising);
                return Err(store_err(&path)(e));
            }
        };
        self.mark("written");
        // A backend Connected before it saw our nodes (left from an
        // earlier frontend, or lying) has to offer InitWait first.
        let mut waited = Ok(());
        let mut initial = initial;
        if initial == Some(XenbusState::Connected) {
            waited = self.wait_backend_from(index, XenbusState::InitWait, initial);
            initial = None;
        }
        if waited.is_ok() {
            waited = self.wait_backend_from(index, XenbusState::Connected, initial);
        }
        if let Err(e) = waited {
            self.disconnect(index, XenbusState::Initialising);
            return Err(e);
        }
        self.mark("connected");
        // Ours without waiting for the reply (a poll takes it): nothing
        // the guest does next depends on it.
        let connected = [b'0' + XenbusState::Connected.as_u32() as u8];
        let announced = bus_mut(&self.bus).store.send(
            &mut self.xen,
            &BatchRequest::Write(TxId::NONE, &state_node, &connected),
        );
        match announced {
            Ok(id) => self.devices[index].announced = Some(id),
            Err(e) => {
                // Not connected: the streams go now, not at the next connect.
                self.disconnect(index, XenbusState::Initialising);
                return Err(store_err(&path)(e));
            }
        }
        let device = &mut self.devices[index];
        device.connected = true;
        device.generation = device.generation.wrapping_add(1);
        log::info!(
            "vsnd {path}: connected to backend {} (domain {}), {} streams",
            device.backend_path,
            device.backend_id,
            device.slots.len()
        );
        Ok(())
    }

    /// Tear down every stream of device `index` and publish `ours`.
    fn disconnect(&mut self, index: usize, ours: XenbusState) {
        let streams: Vec<Stream<X>> = self.devices[index]
            .slots
            .iter_mut()
            .filter_map(|s| s.stream.take())
            .collect();
        for stream in streams {
            let stuck = stream.teardown(&mut self.xen);
            self.stuck.extend(stuck);
        }
        self.devices[index].connected = false;
        let path = self.devices[index].path.clone();
        if let Err(e) = write_state(&mut bus_mut(&self.bus).store, &mut self.xen, &path, ours) {
            log::warn!("vsnd {path}: could not write state {ours:?}: {e:?}");
        }
    }

    /// Revoke grants that were still mapped at an earlier teardown.
    fn retry_stuck(&mut self) {
        let xen = &mut self.xen;
        self.stuck.retain(|g| xen.revoke(g.gref).is_err());
    }

    /// Closing → wait for the backend → teardown → Closed.
    fn close_device(&mut self, index: usize) {
        let path = self.devices[index].path.clone();
        if self.devices[index].connected {
            if let Err(e) = write_state(
                &mut bus_mut(&self.bus).store,
                &mut self.xen,
                &path,
                XenbusState::Closing,
            ) {
                log::warn!("vsnd {path}: could not write Closing: {e:?}");
            }
            if let Err(e) = self.wait_backend_until(index, None, |s| {
                matches!(
                    s,
                    XenbusState::Closing
                        | XenbusState::Closed
                        | XenbusState::Unknown
                        | XenbusState::InitWait
                )
            }) {
                log::warn!("vsnd {path}: backend did not close: {e}");
            }
        }
        self.disconnect(index, XenbusState::Closed);
    }

    /// [`Shared::poll`] only when there can be something to do: XenStore
    /// signalled its port, someone else used the store since, or grants
    /// wait to be revoked. This is what every PCM operation calls: on the
    /// data path it costs one look at a pending flag.
    #[inline]
    pub(crate) fn poll_if_pending(&mut self) {
        let (port, dirty) = {
            let bus = self.bus.borrow();
            (bus.store.port(), bus.dirty)
        };
        if self.xen.take_pending(port) || dirty || !self.stuck.is_empty() {
            self.poll();
        }
    }

    /// Handle backend state changes seen through the watches.
    pub(crate) fn poll(&mut self) {
        self.retry_stuck();
        bus_mut(&self.bus).dirty = false;
        if bus_mut(&self.bus).store.poll(&mut self.xen).is_err() {
            return;
        }
        for index in 0..self.devices.len() {
            if let Some(id) = self.devices[index].announced {
                let reply = bus_mut(&self.bus).store.poll_reply(&mut self.xen, id);
                if !matches!(reply, Ok(None)) {
                    self.devices[index].announced = None;
                }
                if let Err(e) = reply {
                    let path = self.devices[index].path.clone();
                    log::error!("vsnd {path}: could not write Connected: {e}");
                    self.disconnect(index, XenbusState::Initialising);
                }
            }
            let mut changed = false;
            while bus_mut(&self.bus)
                .store
                .take_watch_event(&self.devices[index].token)
                .is_some()
            {
                changed = true;
            }
            if !changed {
                continue;
            }
            // Handling it talks to XenStore, which may queue more events.
            bus_mut(&self.bus).dirty = true;
            let backend_path = self.devices[index].backend_path.clone();
            let state = read_state(&mut bus_mut(&self.bus).store, &mut self.xen, &backend_path)
                .unwrap_or(XenbusState::Unknown);
            let previous = self.devices[index].backend_state;
            self.devices[index].backend_state = state;
            let connected = self.devices[index].connected;
            let path = self.devices[index].path.clone();
            if connected && state != XenbusState::Connected {
                log::warn!("vsnd {path}: backend left Connected ({previous:?} -> {state:?}); streams disconnected");
                let ours = match state {
                    XenbusState::Closing | XenbusState::Closed => XenbusState::Closed,
                    _ => XenbusState::Initialising,
                };
                self.disconnect(index, ours);
            }
            if !self.devices[index].connected && state == XenbusState::InitWait && !self.shut_down {
                log::info!("vsnd {path}: backend back in InitWait, reconnecting");
                if let Err(e) = self.connect(index) {
                    log::error!("vsnd {path}: reconnect failed: {e}");
                }
            }
        }
    }
}

/// The frontend's platform as the application's clock: its time, and its
/// wait (halt until an event or the deadline), first following the
/// backends when XenStore signalled something (as every PCM call does), so
/// a wait never sleeps through a state change it already took in.
impl<X: Platform> Clock for Frontend<X> {
    fn now_ns(&self) -> u64 {
        self.with_platform(|xen| xen.now_ns())
    }

    fn wait_until(&self, deadline_ns: u64) {
        let mut shared = self.shared.borrow_mut();
        shared.poll_if_pending();
        shared.xen.wait_until(deadline_ns);
    }
}
