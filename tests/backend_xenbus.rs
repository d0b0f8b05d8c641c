//! The vsnd XenBus state machine against an in-memory XenStore, fake event
//! channels and plain-memory pages: InitWait, connect on Initialised, serve a
//! request, frontend restart, the toolstack's Closing, connect errors,
//! device removal.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use xen_abi::sndif::{OpenRequest, XENSND_OP_OPEN, XENSND_PCM_FORMAT_S16_LE};
use xen_guest::ring::FrontRing;
use xen_guest::xenbus::XenbusState;
use xen_guest::{SharedPage, XenError, PAGE_SIZE};
use xensnd_backend::io::{NullSink, SilenceSource};
use xensnd_backend::xenbus::{list_devices, Device, DeviceSettings, XenBusHost};
use xensnd_backend::{Behaviour, Direction, GrantMapper, Limits, Sink, Source};
use xensnd_sndif::config::ConfiguredStream;
use zerocopy::IntoBytes;

#[derive(Default)]
struct MemoryStore {
    nodes: RefCell<BTreeMap<String, String>>,
    watches: RefCell<BTreeSet<(String, String)>>,
    /// Writes of this (path, value) fail (xenstored refusing, a quota).
    refuse_write: RefCell<Option<(String, String)>>,
}

impl MemoryStore {
    fn set(&self, path: &str, value: &str) {
        self.nodes.borrow_mut().insert(path.into(), value.into());
    }
    fn get(&self, path: &str) -> Option<String> {
        self.nodes.borrow().get(path).cloned()
    }
    fn remove_tree(&self, path: &str) {
        let prefix = format!("{path}/");
        self.nodes
            .borrow_mut()
            .retain(|key, _| key != path && !key.starts_with(&prefix));
    }
}

#[derive(Default)]
struct FakePorts {
    next: Cell<u32>,
    bound: RefCell<BTreeSet<u32>>,
    refuse_remote: Cell<Option<u32>>,
}

/// Everything a device needs, over the fakes.
struct Host<'a> {
    store: &'a MemoryStore,
    ports: &'a FakePorts,
    grants: Grants,
}

fn host<'a>(store: &'a MemoryStore, ports: &'a FakePorts, grants: &Grants) -> Host<'a> {
    Host {
        store,
        ports,
        grants: grants.clone(),
    }
}

impl GrantMapper for Host<'_> {
    type Page = Page;
    fn map(&mut self, gref: u32, writable: bool) -> Result<Page, XenError> {
        self.grants.map(gref, writable)
    }
}

impl XenBusHost for Host<'_> {
    fn read(&mut self, path: &str) -> Option<String> {
        // As in XenStore, a directory made by writing below it reads as "".
        let prefix = format!("{path}/");
        self.store.get(path).or_else(|| {
            self.store
                .nodes
                .borrow()
                .keys()
                .any(|key| key.starts_with(&prefix))
                .then(String::new)
        })
    }
    fn write(&mut self, path: &str, value: &str) -> Result<(), String> {
        if self.store.refuse_write.borrow().as_ref() == Some(&(path.into(), value.into())) {
            return Err("refused".into());
        }
        self.store.set(path, value);
        Ok(())
    }
    fn directory(&mut self, path: &str) -> Vec<String> {
        let prefix = format!("{path}/");
        let children: BTreeSet<String> = self
            .store
            .nodes
            .borrow()
            .keys()
            .filter_map(|key| key.strip_prefix(&prefix))
            .filter_map(|rest| rest.split('/').next())
            .map(str::to_owned)
            .collect();
        children.into_iter().collect()
    }
    fn watch(&mut self, path: &str, token: &str) -> Result<(), String> {
        self.store
            .watches
            .borrow_mut()
            .insert((path.into(), token.into()));
        Ok(())
    }
    fn unwatch(&mut self, path: &str, token: &str) {
        self.store
            .watches
            .borrow_mut()
            .remove(&(path.into(), token.into()));
    }
    fn remove(&mut self, path: &str) {
        self.store.remove_tree(path);
    }
    fn bind_interdomain(&mut self, _domid: u32, remote_port: u32) -> Result<u32, String> {
        if self.ports.refuse_remote.get() == Some(remote_port) {
            return Err("refused".into());
        }
        let port = self.ports.next.get() + 100;
        self.ports.next.set(self.ports.next.get() + 1);
        self.ports.bound.borrow_mut().insert(port);
        Ok(port)
    }
    fn unbind(&mut self, port: u32) {
        assert!(
            self.ports.bound.borrow_mut().remove(&port),
            "unbind of an unbound port {port}"
        );
    }
    fn media(
        &mut self,
        _domid: u32,
        _stream: &ConfiguredStream,
    ) -> (Box<dyn Sink>, Box<dyn Source>) {
        (Box::new(NullSink), Box::new(SilenceSource::default()))
    }
    fn set_frontend(&mut self, _domid: u32) {
        // One frontend (domain 3) in these tests.
    }
}

#[derive(Clone)]
struct Page(Rc<RefCell<Vec<u8>>>);

impl SharedPage for Page {
    fn gfn(&self) -> u64 {
        0
    }
    fn load_u32(&self, offset: usize) -> u32 {
        u32::from_le_bytes(self.0.borrow()[offset..offset + 4].try_into().unwrap())
    }
    fn store_u32(&self, offset: usize, value: u32) {
        self.0.borrow_mut()[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }
    fn read(&self, offset: usize, out: &mut [u8]) {
        out.copy_from_slice(&self.0.borrow()[offset..offset + out.len()]);
    }
    fn write(&self, offset: usize, data: &[u8]) {
        self.0.borrow_mut()[offset..offset + data.len()].copy_from_slice(data);
    }
}

#[derive(Clone, Default)]
struct Grants(Rc<RefCell<HashMap<u32, Page>>>);

impl Grants {
    fn grant(&self, gref: u32) -> Page {
        let page = Page(Rc::new(RefCell::new(vec![0; PAGE_SIZE])));
        self.0.borrow_mut().insert(gref, page.clone());
        page
    }
}

impl GrantMapper for Grants {
    type Page = Page;
    fn map(&mut self, gref: u32, _writable: bool) -> Result<Page, XenError> {
        self.0.borrow().get(&gref).cloned().ok_or(XenError::Invalid)
    }
}

const ROOT: &str = "/local/domain/0/backend/vsnd";
const BACKEND: &str = "/local/domain/0/backend/vsnd/3/0";
const FRONTEND: &str = "/local/domain/3/device/vsnd/0";

fn settings() -> DeviceSettings {
    DeviceSettings {
        backend_root: ROOT.into(),
        limits: Limits::default(),
        max_buffer_bytes: 1 << 20,
        whole_frames: false,
        behaviour: Behaviour::default(),
        quota: xensnd_backend::Ledger::default(),
        remove_gone_devices: false,
    }
}

/// What libxl writes for `vsnd = [['CARD, sample-rates=44100;48000', 'PCM, name=main',
/// 'STREAM, unique-id=spk, type=p', 'STREAM, unique-id=mic, type=c']]`.
fn libxl_layout(store: &MemoryStore) {
    store.set(&format!("{BACKEND}/frontend"), FRONTEND);
    store.set(&format!("{BACKEND}/frontend-id"), "3");
    store.set(&format!("{BACKEND}/state"), "1");
    store.set(&format!("{FRONTEND}/backend"), BACKEND);
    store.set(&format!("{FRONTEND}/backend-id"), "0");
    store.set(&format!("{FRONTEND}/state"), "1");
    store.set(&format!("{FRONTEND}/sample-rates"), "44100,48000");
    store.set(&format!("{FRONTEND}/0/name"), "main");
    store.set(&format!("{FRONTEND}/0/0/type"), "p");
    store.set(&format!("{FRONTEND}/0/0/unique-id"), "spk");
    store.set(&format!("{FRONTEND}/0/1/type"), "c");
    store.set(&format!("{FRONTEND}/0/1/unique-id"), "mic");
}

/// The frontend sets up its rings and writes the four nodes per stream.
fn frontend_initialise(store: &MemoryStore, grants: &Grants) -> Vec<FrontRing<Page>> {
    let mut rings = Vec::new();
    for stream in 0..2u32 {
        let ring_ref = 10 + stream * 2;
        let event_ref = 11 + stream * 2;
        rings.push(FrontRing::init(grants.grant(ring_ref)));
        grants.grant(event_ref);
        let path = format!("{FRONTEND}/0/{stream}");
        store.set(&format!("{path}/ring-ref"), &ring_ref.to_string());
        store.set(
            &format!("{path}/event-channel"),
            &(20 + stream * 2).to_string(),
        );
        store.set(&format!("{path}/evt-ring-ref"), &event_ref.to_string());
        store.set(
            &format!("{path}/evt-event-channel"),
            &(21 + stream * 2).to_string(),
        );
    }
    store.set(&format!("{FRONTEND}/state"), "3");
    rings
}

/// libxl's layout, the backend's device for it (InitWait), then the
/// frontend's rings and Initialised: the device is about to connect.
fn initialised_device(
    store: &MemoryStore,
    ports: &FakePorts,
    grants: &Grants,
    settings: &DeviceSettings,
) -> Device<Page> {
    libxl_layout(store);
    let device = Device::create(&mut host(store, ports, grants), settings, 3, 0).unwrap();
    frontend_initialise(store, grants);
    device
}

fn backend_state(store: &MemoryStore) -> Option<String> {
    store.get(&format!("{BACKEND}/state"))
}

#[test]
fn full_lifecycle() {
    let store = MemoryStore::default();
    let ports = FakePorts::default();
    let grants = Grants::default();
    let settings = settings();
    libxl_layout(&store);
    assert_eq!(
        list_devices(&mut host(&store, &ports, &grants), ROOT),
        vec![(3, 0)]
    );

    let mut device = Device::create(&mut host(&store, &ports, &grants), &settings, 3, 0).unwrap();
    assert_eq!(
        backend_state(&store).as_deref(),
        Some("2"),
        "InitWait at once"
    );
    assert!(store
        .watches
        .borrow()
        .contains(&(FRONTEND.into(), "fe/3/0".into())));
    // The watch fires with the frontend still Initialising: nothing happens.
    assert!(device
        .on_frontend_change(&mut host(&store, &ports, &grants), &settings)
        .is_empty());
    assert_eq!(backend_state(&store).as_deref(), Some("2"));

    let mut rings = frontend_initialise(&store, &grants);
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(backend_state(&store).as_deref(), Some("4"), "Connected");
    assert_eq!(device.streams.len(), 2);
    assert_eq!(ports.bound.borrow().len(), 4);
    // The configuration narrowed the rates to exactly 44.1 and 48 kHz (the
    // frontend's parser, the frontend's semantics).
    assert_eq!(
        device.streams[0].channel.stream().config().caps.rates,
        vec![44_100, 48_000]
    );
    assert_eq!(
        device.streams[1].channel.stream().config().direction,
        Direction::Capture
    );

    // A request on the playback ring is served through the device's mapper.
    let buffer = grants.grant(40);
    let directory = grants.grant(41);
    directory.store_u32(4, 40);
    let _ = buffer;
    let open = OpenRequest {
        pcm_rate: 48_000,
        pcm_format: XENSND_PCM_FORMAT_S16_LE,
        pcm_channels: 2,
        reserved: 0,
        buffer_sz: 4096,
        gref_directory: 41,
        period_sz: 1024,
    };
    let mut entry = [0u8; 64];
    entry[0] = 9;
    entry[2] = XENSND_OP_OPEN;
    entry[8..28].copy_from_slice(open.as_bytes());
    rings[0].push_request(&entry).unwrap();
    assert!(rings[0].push_requests_and_check_notify());
    let mut mapper = grants.clone();
    let result = device.streams[0].channel.service(&mut mapper, 0);
    assert!(result.notify_ring);
    let response = rings[0].take_response().unwrap().unwrap();
    assert_eq!((response[0], response[2]), (9, XENSND_OP_OPEN));
    assert_eq!(i32::from_le_bytes(response[4..8].try_into().unwrap()), 0);

    // Frontend closes: teardown, Closed, every port unbound.
    store.set(&format!("{FRONTEND}/state"), "5");
    let records = device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].counters.requests[0], 1);
    assert_eq!(records[0].direction, Direction::Playback);
    assert_eq!(backend_state(&store).as_deref(), Some("6"));
    assert!(device.streams.is_empty());
    assert!(ports.bound.borrow().is_empty());

    // Frontend restarts: InitWait again, then Connected again.
    store.set(&format!("{FRONTEND}/state"), "1");
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(backend_state(&store).as_deref(), Some("2"));
    frontend_initialise(&store, &grants);
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(backend_state(&store).as_deref(), Some("4"));
    assert_eq!(ports.bound.borrow().len(), 4);

    // Other writes under the frontend while it is still Initialised change nothing.
    store.set(&format!("{FRONTEND}/0/0/something"), "x");
    assert!(device
        .on_frontend_change(&mut host(&store, &ports, &grants), &settings)
        .is_empty());
    assert_eq!(device.streams.len(), 2);
    // A restart we only see as new ring nodes (Initialising was missed).
    store.set(&format!("{FRONTEND}/0/1/ring-ref"), "50");
    grants.grant(50);
    let records = device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(records.len(), 2, "old streams torn down");
    assert_eq!(
        backend_state(&store).as_deref(),
        Some("4"),
        "connected again"
    );
    assert_eq!(device.streams.len(), 2);
    assert_eq!(ports.bound.borrow().len(), 4);

    // libxl asks us to close (xl destroy / device detach).
    store.set(&format!("{BACKEND}/state"), "5");
    let records = device.on_backend_change(&mut host(&store, &ports, &grants));
    assert_eq!(records.len(), 2);
    assert_eq!(backend_state(&store).as_deref(), Some("6"));
    assert!(ports.bound.borrow().is_empty());

    // Then removes the device.
    store.remove_tree(BACKEND);
    assert!(list_devices(&mut host(&store, &ports, &grants), ROOT).is_empty());
    device.remove(&mut host(&store, &ports, &grants));
    assert!(store.watches.borrow().is_empty(), "frontend watch removed");
}

/// A frontend domain destroyed (`xl destroy`): its whole directory goes.
/// A driver domain's backend (`remove_gone_devices`, as `xl devd` does)
/// tears the device down and removes its backend directory, which libxl
/// waits for; a dom0 backend leaves that to libxl and only goes Closed.
/// Both leave no port bound.
#[test]
fn a_destroyed_frontend_domain_has_its_backend_nodes_removed_by_a_driver_domain() {
    for driver_domain in [false, true] {
        let settings = DeviceSettings {
            remove_gone_devices: driver_domain,
            ..settings()
        };
        let store = MemoryStore::default();
        let ports = FakePorts::default();
        let grants = Grants::default();
        let mut device = initialised_device(&store, &ports, &grants, &settings);
        device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
        assert_eq!(backend_state(&store).as_deref(), Some("4"));
        store.remove_tree("/local/domain/3");
        let records = device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
        assert_eq!(
            records.len(),
            2,
            "driver domain {driver_domain}: both streams"
        );
        assert!(
            ports.bound.borrow().is_empty(),
            "driver domain {driver_domain}"
        );
        if driver_domain {
            assert_eq!(backend_state(&store), None, "backend nodes removed");
            assert_eq!(store.get(&format!("{BACKEND}/frontend")), None);
            assert!(list_devices(&mut host(&store, &ports, &grants), ROOT).is_empty());
        } else {
            assert_eq!(backend_state(&store).as_deref(), Some("6"), "left to libxl");
        }
        // A frontend whose state node alone went (not its domain) is never
        // a reason to remove anything.
        let store = MemoryStore::default();
        let mut device = initialised_device(&store, &ports, &grants, &settings);
        device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
        store.remove_tree(&format!("{FRONTEND}/state"));
        device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
        assert_eq!(
            backend_state(&store).as_deref(),
            Some("6"),
            "driver domain {driver_domain}"
        );
    }
}

#[test]
fn close_tears_down_and_publishes_closed_once() {
    // What sndback and the simulated backend do with a corrupted ring.
    let settings = settings();
    let store = MemoryStore::default();
    let ports = FakePorts::default();
    let grants = Grants::default();
    let mut device = initialised_device(&store, &ports, &grants, &settings);
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(backend_state(&store).as_deref(), Some("4"));
    assert_eq!(ports.bound.borrow().len(), 4);

    let records = device.close(&mut host(&store, &ports, &grants));
    assert_eq!(records.len(), 2, "both streams' final records");
    assert_eq!(backend_state(&store).as_deref(), Some("6"));
    assert_eq!(
        device.state(),
        XenbusState::Closed,
        "our idea of the state follows XenStore"
    );
    assert!(device.streams.is_empty());
    assert!(ports.bound.borrow().is_empty(), "ports leaked");

    // Closing again finds nothing to tear down and leaves the state alone.
    store.set(&format!("{BACKEND}/state"), "x");
    assert!(device.close(&mut host(&store, &ports, &grants)).is_empty());
    assert_eq!(backend_state(&store).as_deref(), Some("x"));
}

#[test]
fn connect_errors_close_the_device_and_leak_nothing() {
    let settings = settings();
    for broken in [
        "missing ring-ref",
        "bad number",
        "unmapped gref",
        "bind refused",
    ] {
        let store = MemoryStore::default();
        let ports = FakePorts::default();
        let grants = Grants::default();
        let mut device = initialised_device(&store, &ports, &grants, &settings);
        match broken {
            "missing ring-ref" => store.remove_tree(&format!("{FRONTEND}/0/1/ring-ref")),
            "bad number" => store.set(&format!("{FRONTEND}/0/1/evt-ring-ref"), "13x"),
            "unmapped gref" => store.set(&format!("{FRONTEND}/0/1/evt-ring-ref"), "999"),
            _ => ports.refuse_remote.set(Some(23)),
        }
        device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
        assert_eq!(backend_state(&store).as_deref(), Some("6"), "{broken}");
        assert!(device.streams.is_empty(), "{broken}");
        assert!(ports.bound.borrow().is_empty(), "{broken}: ports leaked");
    }
}

#[test]
fn a_stream_with_bad_configuration_is_left_out_and_the_others_connect() {
    let settings = settings();
    for broken in [
        "bad type",
        "garbage sample-rates",
        "garbage channels-max",
        "no ring nodes",
    ] {
        let store = MemoryStore::default();
        let ports = FakePorts::default();
        let grants = Grants::default();
        let mut device = initialised_device(&store, &ports, &grants, &settings);
        let stream = format!("{FRONTEND}/0/1");
        match broken {
            "bad type" => store.set(&format!("{stream}/type"), "x"),
            "garbage sample-rates" => store.set(&format!("{stream}/sample-rates"), "abc"),
            "garbage channels-max" => store.set(&format!("{stream}/channels-max"), "-2"),
            _ => {
                // A frontend that found the stream unusable sets nothing up for it.
                for node in [
                    "ring-ref",
                    "event-channel",
                    "evt-ring-ref",
                    "evt-event-channel",
                ] {
                    store.remove_tree(&format!("{stream}/{node}"));
                }
            }
        }
        device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
        assert_eq!(backend_state(&store).as_deref(), Some("4"), "{broken}");
        assert_eq!(device.streams.len(), 1, "{broken}: only stream 0");
        assert_eq!(ports.bound.borrow().len(), 2, "{broken}: stream 0's ports");
        let records = device.teardown(&mut host(&store, &ports, &grants));
        assert_eq!(records.len(), 1);
        assert!(ports.bound.borrow().is_empty(), "{broken}: ports leaked");
    }
    // Every stream bad: the device closes.
    let store = MemoryStore::default();
    let ports = FakePorts::default();
    let grants = Grants::default();
    let mut device = initialised_device(&store, &ports, &grants, &settings);
    for stream in 0..2 {
        store.set(&format!("{FRONTEND}/0/{stream}/sample-rates"), "abc");
    }
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(backend_state(&store).as_deref(), Some("6"));
    assert!(ports.bound.borrow().is_empty());
}

#[test]
fn devices_with_bad_nodes_are_refused() {
    let settings = settings();
    let store = MemoryStore::default();
    let ports = FakePorts::default();
    libxl_layout(&store);
    store.set(&format!("{BACKEND}/frontend-id"), "4");
    assert!(Device::create(
        &mut host(&store, &ports, &Grants::default()),
        &settings,
        3,
        0
    )
    .is_err());
    store.set(&format!("{BACKEND}/frontend-id"), "3");
    store.set(&format!("{BACKEND}/frontend"), "/local/domain/0/evil");
    assert!(Device::create(
        &mut host(&store, &ports, &Grants::default()),
        &settings,
        3,
        0
    )
    .is_err());
    store.remove_tree(&format!("{BACKEND}/frontend"));
    assert!(Device::create(
        &mut host(&store, &ports, &Grants::default()),
        &settings,
        3,
        0
    )
    .is_err());
    assert_eq!(backend_state(&store).as_deref(), Some("1"), "untouched");
}

const BACKEND_ERROR: &str = "/local/domain/0/error/backend/vsnd/3/0/error";
const FRONTEND_ERROR: &str = "/local/domain/3/error/device/vsnd/0/error";

/// What Linux's frontend does when its backend goes Closed
/// (`sndback_disconnect`): tear down, Initialising; and on InitWait set up
/// again and go Initialised. Returns how many times it got InitWait.
fn linux_like_frontend_rounds(
    device: &mut Device<Page>,
    store: &MemoryStore,
    ports: &FakePorts,
    grants: &Grants,
    settings: &DeviceSettings,
    rounds: usize,
) -> usize {
    let mut offered = 0;
    for _ in 0..rounds {
        match backend_state(store).as_deref() {
            Some("6") => store.set(&format!("{FRONTEND}/state"), "1"),
            Some("2") => {
                offered += 1;
                frontend_initialise(store, grants);
            }
            _ => {}
        }
        device.on_frontend_change(&mut host(store, ports, grants), settings);
    }
    offered
}

#[test]
fn a_device_that_cannot_connect_settles_closed_with_an_error_node() {
    let settings = settings();
    let store = MemoryStore::default();
    let ports = FakePorts::default();
    let grants = Grants::default();
    let mut device = initialised_device(&store, &ports, &grants, &settings);
    // An unknown format at card level (xl refuses it; xenstore-write does not).
    store.set(&format!("{FRONTEND}/sample-formats"), "s16_le,bogus");
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(backend_state(&store).as_deref(), Some("6"));
    let error = store
        .get(BACKEND_ERROR)
        .expect("error node, as xenbus_dev_fatal writes");
    assert!(error.starts_with("22 "), "{error}");
    assert!(error.contains("card-level"), "{error}");
    assert!(device.failure().is_some());
    // The frontend keeps trying (Linux goes Initialising on our Closed):
    // no InitWait is offered again, nothing is mapped or bound.
    let offered = linux_like_frontend_rounds(&mut device, &store, &ports, &grants, &settings, 20);
    assert_eq!(offered, 0, "no Connected -> Closing -> InitWait loop");
    assert_eq!(backend_state(&store).as_deref(), Some("6"));
    assert!(ports.bound.borrow().is_empty());
    // The configuration is fixed: tried again, the error node goes.
    store.set(&format!("{FRONTEND}/sample-formats"), "s16_le,f32_le");
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(
        backend_state(&store).as_deref(),
        Some("2"),
        "InitWait again"
    );
    assert_eq!(store.get(BACKEND_ERROR), None);
    assert!(device.failure().is_none());
    frontend_initialise(&store, &grants);
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(backend_state(&store).as_deref(), Some("4"));
    // xl's spelling of float_le is served.
    let caps = &device.streams[0].channel.stream().config().caps;
    assert!(caps
        .formats
        .contains(xensnd_pcm::format::SampleFormat::F32Le));
}

/// A device connected to a frontend that had written an error node in an
/// earlier life (which must not count as a failure of this connection).
fn connected_after_an_old_error(
    store: &MemoryStore,
    ports: &FakePorts,
    grants: &Grants,
    settings: &DeviceSettings,
) -> Device<Page> {
    store.set(FRONTEND_ERROR, "19 an earlier life");
    let mut device = initialised_device(store, ports, grants, settings);
    device.on_frontend_change(&mut host(store, ports, grants), settings);
    assert_eq!(backend_state(store).as_deref(), Some("4"));
    device
}

#[test]
fn a_frontend_that_fails_after_connecting_does_not_loop() {
    let settings = settings();
    let store = MemoryStore::default();
    let ports = FakePorts::default();
    let grants = Grants::default();
    let mut device = connected_after_an_old_error(&store, &ports, &grants, &settings);
    // Linux cannot register the card ("cannot find the slot for index 0"):
    // xenbus_dev_fatal writes its error node and goes Closing.
    store.set(FRONTEND_ERROR, "19 initializing frontend");
    store.set(&format!("{FRONTEND}/state"), "5");
    let records = device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(records.len(), 2);
    assert_eq!(backend_state(&store).as_deref(), Some("6"));
    let error = store.get(BACKEND_ERROR).unwrap();
    assert!(error.contains("19 initializing frontend"), "{error}");
    let offered = linux_like_frontend_rounds(&mut device, &store, &ports, &grants, &settings, 20);
    assert_eq!(offered, 0);
    assert!(ports.bound.borrow().is_empty());
    // The frontend's driver goes away for good (Closed): a new one may do
    // better, so the device is offered again when it comes back.
    store.set(&format!("{FRONTEND}/state"), "6");
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert!(device.failure().is_none());
    assert_eq!(store.get(BACKEND_ERROR), None);
    store.set(&format!("{FRONTEND}/state"), "1");
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(backend_state(&store).as_deref(), Some("2"));
    // A device removed in the error state takes its error node with it;
    // the frontend's directory going first (its domain is destroyed) is not
    // a new configuration to try.
    store.set(&format!("{FRONTEND}/sample-rates"), "abc");
    frontend_initialise(&store, &grants);
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert!(store.get(BACKEND_ERROR).is_some());
    store.remove_tree(FRONTEND);
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(backend_state(&store).as_deref(), Some("6"));
    assert!(device.failure().is_some());
    device.remove(&mut host(&store, &ports, &grants));
    assert_eq!(store.get(BACKEND_ERROR), None);
}

#[test]
fn a_frontend_that_closes_normally_is_offered_initwait_again() {
    let settings = settings();
    let store = MemoryStore::default();
    let ports = FakePorts::default();
    let grants = Grants::default();
    let mut device = connected_after_an_old_error(&store, &ports, &grants, &settings);
    store.set(&format!("{FRONTEND}/state"), "5");
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert!(device.failure().is_none(), "the error node did not change");
    let offered = linux_like_frontend_rounds(&mut device, &store, &ports, &grants, &settings, 4);
    assert_eq!(offered, 1);
    assert_eq!(backend_state(&store).as_deref(), Some("4"));
}

#[test]
fn configuration_errors_are_logged_with_what_they_left_out() {
    use xensnd_backend::xenbus::{error_consequence, read_frontend_config};
    let store = MemoryStore::default();
    let ports = FakePorts::default();
    let grants = Grants::default();
    libxl_layout(&store);
    store.set(&format!("{FRONTEND}/0/1/sample-rates"), "abc");
    store.set(&format!("{FRONTEND}/0/name"), &"n".repeat(300));
    store.set(&format!("{FRONTEND}/1/name"), "second");
    store.set(&format!("{FRONTEND}/1/channels-max"), "x");
    store.set(&format!("{FRONTEND}/1/0/type"), "p");
    store.set(&format!("{FRONTEND}/1/0/unique-id"), "spk2");
    let mut host = host(&store, &ports, &grants);
    let config = read_frontend_config(&mut host, FRONTEND);
    let described: Vec<String> = config
        .errors
        .iter()
        .map(|error| {
            let consequence = error_consequence(&config, error, &mut |path| host.read(path));
            format!("{error}: {consequence}")
        })
        .collect();
    assert_eq!(described.len(), 3, "{described:?}");
    assert!(
        described[0].ends_with("PCM 0's name cut, nothing left out"),
        "{}",
        described[0]
    );
    assert!(
        described[1].starts_with(&format!(
            "vsnd config: {FRONTEND}/0/1/sample-rates = \"abc\""
        )) && described[1].ends_with("stream mic left out"),
        "what the reliability scenario greps: {}",
        described[1]
    );
    assert!(described[2].ends_with("PCM 1 left out"), "{}", described[2]);
    store.set(&format!("{FRONTEND}/sample-formats"), "nope");
    let config = read_frontend_config(&mut host, FRONTEND);
    let error = &config.errors[0];
    assert_eq!(
        error_consequence(&config, error, &mut |path| host.read(path)),
        "the card cannot come up"
    );
}

/// Publishing Connected fails after the streams were set up: the device
/// stays in InitWait with its streams. When the frontend's watch fires
/// again (still Initialised), the old streams are torn down before the new
/// connect: never two sets, no grant mapping or event channel leaked, and
/// nothing charged twice.
#[test]
fn a_connect_whose_connected_write_failed_is_torn_down_before_the_next() {
    let store = MemoryStore::default();
    let ports = FakePorts::default();
    let grants = Grants::default();
    let settings = settings();
    let mut device = initialised_device(&store, &ports, &grants, &settings);
    *store.refuse_write.borrow_mut() = Some((format!("{BACKEND}/state"), "4".into()));
    for attempt in 1..=3 {
        device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
        assert_eq!(backend_state(&store).as_deref(), Some("2"), "{attempt}");
        assert_eq!(
            device.streams.len(),
            2,
            "attempt {attempt}: one set of streams"
        );
        assert_eq!(ports.bound.borrow().len(), 4, "attempt {attempt}: ports");
        assert_eq!(
            settings.quota.total().streams,
            2,
            "attempt {attempt}: charged once"
        );
    }
    // Once the write goes through, the device connects with one set.
    *store.refuse_write.borrow_mut() = None;
    device.on_frontend_change(&mut host(&store, &ports, &grants), &settings);
    assert_eq!(backend_state(&store).as_deref(), Some("4"));
    assert_eq!(device.streams.len(), 2);
    assert_eq!(ports.bound.borrow().len(), 4);
    device.remove(&mut host(&store, &ports, &grants));
    assert!(ports.bound.borrow().is_empty());
    assert_eq!(
        settings.quota.total(),
        xensnd_backend::quota::Usage::default()
    );
}
