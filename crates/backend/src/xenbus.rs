//! The XenBus side of a vsnd backend: devices appear, connect, restart and go away.
//!
//! `io/sndif.h` "Backend XenBus nodes" + `io/xenbus.h` states. For each
//! `/local/domain/0/backend/vsnd/<domid>/<dev>`: read `frontend`, go
//! InitWait (2), watch the frontend; on Initialised (3) read the
//! configuration with the parser the frontend uses
//! ([`xensnd_sndif::config::read_config`]: card, PCM and stream levels, each
//! only narrowing; a bad stream leaves only that stream out, a bad PCM that
//! PCM, a bad card the device), map every stream's ring and event page, bind
//! its two event channels and go Connected (4). Frontend Closing/Closed, or
//! the toolstack writing Closing to our state, tears down and goes Closed
//! (6); a frontend back at Initialising (1), or one that shows new ring
//! nodes, is set up again.
//!
//! # A device that cannot connect settles
//! A device that cannot connect would otherwise loop: we fail and go
//! Closed, Linux's frontend answers a backend Closed by going Initialising
//! (`sndback_disconnect`), we offer InitWait again, it connects again, and
//! so on forever (36-49 rounds in 50 s were seen). The same happens when
//! *the frontend* fails after we connected (Linux cannot register a second
//! card: "cannot find the slot for index 0"; it calls `xenbus_dev_fatal`,
//! which writes its `error` node and goes Closing). So the device settles
//! in an error state instead ([`Device::failure`]), when:
//! - our connect fails (the configuration leaves nothing to serve, a ring
//!   cannot be mapped, an event channel cannot be bound), or
//! - the frontend leaves Connected for Closing with an `error` node
//!   (`/local/domain/<domid>/error/device/vsnd/<dev>/error`, where
//!   `xenbus_dev_fatal` writes, then switches to Closing) it did not have
//!   when we connected.
//!
//! Settling is logged once (error), published the way `xenbus_dev_fatal`
//! does for a Linux backend: `"<errno> <message>"` in
//! `/local/domain/<backend-domid>/error/backend/vsnd/<domid>/<dev>/error`,
//! and our state stays Closed (6): a frontend going Initialising is not
//! offered InitWait again. The device is retried (error node removed,
//! InitWait) when the frontend's configuration changes (any value
//! [`xensnd_sndif::config::read_config`] reads; not a frontend directory
//! that went away with its domain), when the frontend goes Closed (its
//! driver was removed; a new one may do better), or when the device is
//! created again (the toolstack removes and re-adds it).
//!
//! Generic over a [`XenBusHost`] (XenStore, event channels, grant mapping,
//! sinks and sources), so the dom0 program (`sndback`, over Xen's libraries)
//! and the simulator run the same state machine.
#![forbid(unsafe_code)]

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::behaviour::Behaviour;
use super::counters::Counters;
use super::logtext::guest;
use super::quota::{Charge, Ledger};
use super::{Direction, GrantMapper, Limits, Sink, Source, Stream, StreamChannel, StreamSetup};
use xen_abi::errno::{XEN_EINVAL, XEN_EIO, XEN_ENOSPC};
use xen_abi::sndif::{
    XENSND_FIELD_DEVICE_NAME, XENSND_FIELD_STREAM_UNIQUE_ID, XENSND_FIELD_VCARD_LONG_NAME,
    XENSND_FIELD_VCARD_SHORT_NAME,
};
use xen_guest::xenbus::XenbusState;
use xen_guest::SharedPage;
use xensnd_sndif::config::{
    read_config, ConfigError, ConfigErrorReason, ConfigSource, ConfiguredStream, VsndConfig,
};

/// What the XenBus state machine needs from its host: XenStore, event
/// channels and grant mapping for the device's frontend domain, and a sink
/// or source for each stream. Errors are messages for the log.
pub trait XenBusHost: GrantMapper {
    /// The value at `path`, `None` if absent.
    fn read(&mut self, path: &str) -> Option<String>;
    /// Write `value` at `path`.
    fn write(&mut self, path: &str, value: &str) -> Result<(), String>;
    /// The children of `path` (empty if absent).
    fn directory(&mut self, path: &str) -> Vec<String>;
    /// Watch `path` (and below) with `token`.
    fn watch(&mut self, path: &str, token: &str) -> Result<(), String>;
    /// Remove a watch.
    fn unwatch(&mut self, path: &str, token: &str);
    /// Remove the node at `path` (and below); absent is fine.
    fn remove(&mut self, path: &str);
    /// Bind a local port to `remote_port` of `domid`.
    fn bind_interdomain(&mut self, domid: u32, remote_port: u32) -> Result<u32, String>;
    /// Unbind a local port.
    fn unbind(&mut self, port: u32);
    /// The sink and source of a stream of frontend `domid`.
    fn media(&mut self, domid: u32, stream: &ConfiguredStream) -> (Box<dyn Sink>, Box<dyn Source>);
    /// Map grants of `domid` from now on (the device being handled is that
    /// frontend's).
    fn set_frontend(&mut self, domid: u32);
}

/// What the host decides for every device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSettings {
    /// XenStore directory of our vsnd backends (`/local/domain/0/backend/vsnd`).
    pub backend_root: String,
    /// The backend's own limits (narrowed by each device's configuration).
    pub limits: Limits,
    /// Cap on `buffer_sz`.
    pub max_buffer_bytes: u32,
    /// Require whole frames in READ/WRITE.
    pub whole_frames: bool,
    /// How every stream behaves where sndif leaves room.
    pub behaviour: Behaviour,
    /// What the backend holds per frontend and in total, against its caps
    /// ([`super::quota`]); clones of the settings share it.
    pub quota: Ledger,
    /// Remove a device's backend directory once its frontend's directory is
    /// gone (the frontend domain destroyed), as `xl devd` does in a driver
    /// domain: libxl in dom0 removes the backend nodes of a dom0 backend
    /// itself, but waits (10 s, then "timed out while waiting for ... to be
    /// removed") for a driver domain to remove its own. `false` in dom0.
    pub remove_gone_devices: bool,
}

impl DeviceSettings {
    /// A backend in dom0 (`/local/domain/0/backend/vsnd`) with default
    /// limits, buffers up to `max_buffer_bytes`, whole frames required,
    /// [`Behaviour::SNDBACK`], the default [`super::quota::Caps`].
    pub fn dom0(max_buffer_bytes: u32) -> Self {
        Self {
            backend_root: "/local/domain/0/backend/vsnd".into(),
            limits: Limits::default(),
            max_buffer_bytes,
            whole_frames: true,
            behaviour: Behaviour::SNDBACK,
            quota: Ledger::default(),
            remove_gone_devices: false,
        }
    }
}

/// A stream's identity and counters (for statistics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// Frontend domain.
    pub domid: u32,
    /// vsnd device index.
    pub device: u32,
    /// PCM index.
    pub pcm: u32,
    /// Stream index.
    pub stream: u32,
    /// `unique-id`.
    pub unique_id: String,
    /// Playback or capture.
    pub direction: Direction,
    /// Whether the stream is still connected.
    pub active: bool,
    /// Counters.
    pub counters: Counters,
}

/// A `state` node's value as the backend reads it: absent or not a number
/// is `None`; a number `io/xenbus.h` does not define reads as
/// [`XenbusState::Unknown`] (neither asks anything of us).
fn read_xenbus_state(store: &mut impl XenBusHost, path: &str) -> Option<XenbusState> {
    let value = parse_u32(&store.read(path)?).ok()?;
    Some(XenbusState::from_u32(value).unwrap_or(XenbusState::Unknown))
}

/// The frontend's nodes as the one vsnd configuration parser reads them.
struct HostSource<'a, H>(&'a mut H);

impl<H: XenBusHost> ConfigSource for HostSource<'_, H> {
    type Error = core::convert::Infallible;
    fn read(&mut self, path: &str) -> Result<Option<String>, Self::Error> {
        Ok(self.0.read(path))
    }
}

/// Read the device's configuration under `frontend` with the parser the
/// frontend uses.
pub fn read_frontend_config(store: &mut impl XenBusHost, frontend: &str) -> VsndConfig {
    match read_config(&mut HostSource(store), frontend) {
        Ok(config) => config,
        Err(never) => match never {},
    }
}

/// The streams of `config` this backend serves with `settings`: every
/// stream that came up and offers something within the device's limits.
/// Every configuration error is logged (a bad stream leaves that stream
/// out, a bad PCM that PCM: the frontend leaves out the same ones); `Err`
/// when nothing is left.
fn streams_to_serve(
    store: &mut impl XenBusHost,
    config: &VsndConfig,
    settings: &DeviceSettings,
) -> Result<Vec<ConfiguredStream>, String> {
    for error in &config.errors {
        let consequence = error_consequence(config, error, &mut |path| store.read(path));
        log::error!("{error}: {consequence}");
    }
    if config.caps.is_none() {
        return Err(format!(
            "{}: the card-level configuration is unusable",
            config.path
        ));
    }
    let mut streams = Vec::new();
    for stream in config.streams() {
        if let Err(mismatch) = settings
            .limits
            .offer(&stream.caps, settings.max_buffer_bytes)
        {
            log::error!(
                "{}: stream {}: {mismatch} with this backend: left out",
                stream.path,
                guest(&stream.unique_id)
            );
            continue;
        }
        streams.push(stream.clone());
    }
    if streams.is_empty() {
        return Err(format!("{}: no stream to serve", config.path));
    }
    Ok(streams)
}

/// What a configuration error of `config` left out (see
/// [`xensnd_sndif::config`]'s "Errors"): the stream (named by its
/// `unique-id`, read with `read`) or PCM it is in, the whole card, or
/// nothing (a name that is too long is cut).
pub fn error_consequence(
    config: &VsndConfig,
    error: &ConfigError,
    read: &mut dyn FnMut(&str) -> Option<String>,
) -> String {
    let relative = error
        .path
        .strip_prefix(config.path.as_str())
        .unwrap_or("")
        .trim_start_matches('/');
    let parts: Vec<&str> = relative.split('/').collect();
    let name_field = |field: &str| {
        [
            XENSND_FIELD_VCARD_SHORT_NAME,
            XENSND_FIELD_VCARD_LONG_NAME,
            XENSND_FIELD_DEVICE_NAME,
        ]
        .contains(&field)
    };
    let numeric = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    if error.reason == ConfigErrorReason::NoPcmInstances {
        return String::from("no PCM comes up");
    }
    match parts.as_slice() {
        [field] if name_field(field) => String::from("cut, nothing left out"),
        [pcm] if numeric(pcm) => format!("PCM {pcm} left out"),
        [pcm, field] if numeric(pcm) && name_field(field) => {
            format!("PCM {pcm}'s name cut, nothing left out")
        }
        [pcm, stream] if numeric(pcm) && numeric(stream) => {
            format!("stream {pcm}/{stream} left out")
        }
        [pcm, _] if numeric(pcm) => format!("PCM {pcm} left out"),
        [pcm, stream, ..] if numeric(pcm) && numeric(stream) => {
            let directory = format!("{}/{pcm}/{stream}", config.path);
            let id = read(&format!("{directory}/{XENSND_FIELD_STREAM_UNIQUE_ID}"))
                .map(|id| String::from(id.trim()))
                .filter(|id| !id.is_empty() && id.len() <= 64)
                .unwrap_or_else(|| format!("{pcm}/{stream}"));
            format!("stream {} left out", guest(&id))
        }
        _ => String::from("the card cannot come up"),
    }
}

/// A decimal XenStore number (the one number syntax,
/// [`xensnd_sndif::config::parse_number`]).
pub fn parse_u32(text: &str) -> Result<u32, String> {
    xensnd_sndif::config::parse_number(text, 0, u32::MAX).map_err(|reason| reason.to_string())
}

fn read_number(store: &mut impl XenBusHost, path: &str) -> Result<u32, String> {
    let text = store.read(path).ok_or_else(|| format!("{path}: missing"))?;
    parse_u32(&text).map_err(|error| format!("{path}: \"{}\": {error}", guest(&text)))
}

/// Where `xenbus_dev_error` would write the error of the device at
/// `device_path`: `/local/domain/<id>/error/<rest>/error` for
/// `/local/domain/<id>/<rest>`, else `<device_path>/error`.
pub fn error_node(device_path: &str) -> String {
    let parts: Vec<&str> = device_path.trim_matches('/').splitn(4, '/').collect();
    match parts.as_slice() {
        ["local", "domain", id, rest] if !id.is_empty() && !rest.is_empty() => {
            format!("/local/domain/{id}/error/{rest}/error")
        }
        _ => format!("{}/error", device_path.trim_end_matches('/')),
    }
}

/// A connected stream.
pub struct LiveStream<P: SharedPage> {
    info: ConfiguredStream,
    /// `ring-ref`, `event-channel`, `evt-ring-ref`, `evt-event-channel` as connected.
    nodes: [u32; 4],
    /// Local port of the request ring's channel.
    pub ring_port: u32,
    /// Local port of the event page's channel.
    pub event_port: u32,
    /// The engine over its pages.
    pub channel: StreamChannel<P>,
    /// When to service it next.
    pub deadline_ns: Option<u64>,
    /// The stream and its two ring pages in the settings' [`Ledger`].
    _charge: Charge,
}

/// Why a device settled in the error state (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong, as published in the error node (after the errno).
    pub reason: String,
    /// The frontend's configuration when it failed: a different one is
    /// retried.
    pub config: VsndConfig,
}

/// `EINVAL`: the configuration leaves nothing to serve.
const ERRNO_INVALID: u32 = XEN_EINVAL as u32;
/// `EIO`: a ring, page or event channel could not be set up, or the
/// frontend failed.
const ERRNO_IO: u32 = XEN_EIO as u32;
/// `ENOSPC`: the device's streams would pass a cap of the backend
/// ([`super::quota::Caps`]).
pub const ERRNO_NOSPC: u32 = XEN_ENOSPC as u32;

/// One vsnd device of one frontend.
pub struct Device<P: SharedPage> {
    /// Frontend domain.
    pub domid: u32,
    /// Device index.
    pub device: u32,
    backend_path: String,
    frontend_path: String,
    state: XenbusState,
    watching: bool,
    /// The frontend's `error` node when we connected.
    frontend_error_at_connect: Option<String>,
    failure: Option<Failure>,
    /// Connected streams.
    pub streams: Vec<LiveStream<P>>,
}

/// The watch token of a device's frontend watch (`fe/<domid>/<device>`).
pub fn frontend_token(domid: u32, device: u32) -> String {
    format!("fe/{domid}/{device}")
}

/// Parse a frontend watch token back into its device key.
pub fn parse_frontend_token(token: &str) -> Option<(u32, u32)> {
    let mut parts = token.strip_prefix("fe/")?.split('/');
    let domid = parts.next()?.parse().ok()?;
    let device = parts.next()?.parse().ok()?;
    Some((domid, device))
}

/// Why a connect failed.
struct ConnectError {
    errno: u32,
    reason: String,
    config: Box<VsndConfig>,
}

impl<P: SharedPage> Device<P> {
    /// Set up a newly seen device: read its nodes, go InitWait, watch the frontend.
    pub fn create<H: XenBusHost<Page = P>>(
        store: &mut H,
        settings: &DeviceSettings,
        domid: u32,
        device: u32,
    ) -> Result<Self, String> {
        let backend_path = format!("{}/{domid}/{device}", settings.backend_root);
        let frontend_path = store
            .read(&format!("{backend_path}/frontend"))
            .ok_or_else(|| format!("{backend_path}/frontend: missing"))?;
        if let Some(text) = store.read(&format!("{backend_path}/frontend-id")) {
            let frontend_id =
                parse_u32(&text).map_err(|_| format!("{backend_path}/frontend-id: {text:?}"))?;
            if frontend_id != domid {
                return Err(format!(
                    "{backend_path}: frontend-id {frontend_id} is not {domid}"
                ));
            }
        }
        if !frontend_path.starts_with(&format!("/local/domain/{domid}/")) {
            return Err(format!(
                "{backend_path}: frontend {frontend_path:?} not in domain {domid}"
            ));
        }
        let mut created = Self {
            domid,
            device,
            backend_path,
            frontend_path,
            state: XenbusState::Unknown,
            watching: false,
            frontend_error_at_connect: None,
            failure: None,
            streams: Vec::new(),
        };
        // A device created again starts afresh: an error of its previous life goes.
        store.remove(&error_node(&created.backend_path));
        created.set_state(store, XenbusState::InitWait);
        store
            .watch(&created.frontend_path, &frontend_token(domid, device))
            .map_err(|error| format!("watch {}: {error}", created.frontend_path))?;
        created.watching = true;
        log::info!(
            "dom{domid} vsnd {device}: new device, frontend {}, InitWait",
            created.frontend_path
        );
        Ok(created)
    }

    fn set_state(&mut self, store: &mut impl XenBusHost, state: XenbusState) {
        if self.state == state {
            return;
        }
        match store.write(
            &format!("{}/state", self.backend_path),
            &state.as_u32().to_string(),
        ) {
            Ok(()) => {
                log::debug!(
                    "dom{} vsnd {}: state {} -> {}",
                    self.domid,
                    self.device,
                    self.state.as_u32(),
                    state.as_u32()
                );
                self.state = state;
            }
            Err(error) => log::error!("{}/state: {error}", self.backend_path),
        }
    }

    /// The stream's name in log lines; its `unique-id` is the guest's,
    /// escaped and cut ([`guest`]).
    fn label(&self, info: &ConfiguredStream) -> String {
        format!(
            "dom{}/vsnd{}/{}/{}({})",
            self.domid,
            self.device,
            info.pcm_index,
            info.stream_index,
            guest(&info.unique_id)
        )
    }

    /// Identity and counters of every connected stream.
    pub fn records(&self, active: bool) -> Vec<StreamSummary> {
        self.streams
            .iter()
            .map(|live| StreamSummary {
                domid: self.domid,
                device: self.device,
                pcm: live.info.pcm_index,
                stream: live.info.stream_index,
                unique_id: live.info.unique_id.clone(),
                direction: live.info.direction,
                active,
                counters: live.channel.stream().counters().clone(),
            })
            .collect()
    }

    /// Our last written XenBus state.
    pub fn state(&self) -> XenbusState {
        self.state
    }

    /// Why the device settled in the error state, if it did.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// The frontend's state changed (or may have). Returns the records of
    /// streams torn down.
    pub fn on_frontend_change<H: XenBusHost<Page = P>>(
        &mut self,
        store: &mut H,
        settings: &DeviceSettings,
    ) -> Vec<StreamSummary> {
        let frontend_state = read_xenbus_state(store, &format!("{}/state", self.frontend_path));
        log::debug!(
            "dom{} vsnd {}: frontend state {:?}, ours {}",
            self.domid,
            self.device,
            frontend_state.map(XenbusState::as_u32),
            self.state.as_u32()
        );
        if self.failure.is_some() && !self.leave_failure(store, frontend_state) {
            return Vec::new();
        }
        match frontend_state {
            Some(XenbusState::Initialised)
                if self.state == XenbusState::Connected && self.frontend_nodes_changed(store) =>
            {
                // The frontend restarted and set up new rings before we saw
                // it go back to Initialising.
                log::info!(
                    "dom{} vsnd {}: frontend re-initialised with new rings",
                    self.domid,
                    self.device
                );
                let records = self.teardown(store);
                self.state = XenbusState::InitWait;
                let more = self.on_frontend_change(store, settings);
                records.into_iter().chain(more).collect()
            }
            Some(XenbusState::Initialised) if self.state == XenbusState::InitWait => {
                // Streams left from a connect whose Connected could not be
                // published go first: never two sets for one device.
                let records = self.teardown(store);
                match self.connect(store, settings) {
                    Ok(()) => {
                        self.frontend_error_at_connect =
                            store.read(&error_node(&self.frontend_path));
                        self.set_state(store, XenbusState::Connected);
                        log::info!(
                            "dom{} vsnd {}: Connected ({} streams)",
                            self.domid,
                            self.device,
                            self.streams.len()
                        );
                    }
                    Err(error) => {
                        self.teardown(store);
                        self.settle(store, error.errno, error.reason, *error.config);
                    }
                }
                records
            }
            Some(state @ (XenbusState::Closing | XenbusState::Closed)) => {
                let was_connected = self.state == XenbusState::Connected;
                if self.state != XenbusState::Closed {
                    log::info!(
                        "dom{} vsnd {}: frontend {}: tearing down",
                        self.domid,
                        self.device,
                        if state == XenbusState::Closing {
                            "closing"
                        } else {
                            "closed"
                        }
                    );
                }
                let records = self.close(store);
                if was_connected && state == XenbusState::Closing {
                    self.check_frontend_failed(store);
                }
                records
            }
            Some(XenbusState::Initialising) if self.state != XenbusState::InitWait => {
                log::info!("dom{} vsnd {}: frontend restarted", self.domid, self.device);
                let records = self.teardown(store);
                self.set_state(store, XenbusState::InitWait);
                records
            }
            None if settings.remove_gone_devices
                && store.read(&self.frontend_path).is_none()
                && store.directory(&self.frontend_path).is_empty() =>
            {
                log::info!(
                    "dom{} vsnd {}: frontend gone: removing {}",
                    self.domid,
                    self.device,
                    self.backend_path
                );
                let records = self.close(store);
                store.remove(&self.backend_path);
                records
            }
            None if !self.streams.is_empty() => {
                log::info!(
                    "dom{} vsnd {}: frontend state gone",
                    self.domid,
                    self.device
                );
                self.close(store)
            }
            _ => Vec::new(),
        }
    }

    /// The frontend closed right after a connection: if it wrote a new
    /// `error` node (`xenbus_dev_fatal`), it failed; settle.
    fn check_frontend_failed(&mut self, store: &mut impl XenBusHost) {
        let error = store.read(&error_node(&self.frontend_path));
        let Some(error) = error.filter(|now| Some(now) != self.frontend_error_at_connect.as_ref())
        else {
            return;
        };
        let config = read_frontend_config(store, &self.frontend_path);
        self.settle(
            store,
            ERRNO_IO,
            format!(
                "the frontend failed after connecting: {}",
                guest(error.trim())
            ),
            config,
        );
    }

    /// Settle in the error state: log once, publish the error node, stay Closed.
    fn settle(
        &mut self,
        store: &mut impl XenBusHost,
        errno: u32,
        reason: String,
        config: VsndConfig,
    ) {
        log::error!(
            "dom{} vsnd {}: cannot connect: {reason}; the device stays Closed until the frontend's configuration changes, the frontend closes, or the device is created again",
            self.domid,
            self.device
        );
        if let Err(error) = store.write(
            &error_node(&self.backend_path),
            &format!("{errno} {reason}"),
        ) {
            log::error!("{}: {error}", error_node(&self.backend_path));
        }
        self.set_state(store, XenbusState::Closed);
        self.failure = Some(Failure { reason, config });
    }

    /// In the error state, the frontend changed: whether to leave it (the
    /// frontend closed, or its configuration changed). Leaving removes the
    /// error node; the state machine then goes on from Closed.
    fn leave_failure(
        &mut self,
        store: &mut impl XenBusHost,
        frontend_state: Option<XenbusState>,
    ) -> bool {
        let why = if frontend_state.is_none() {
            // The frontend's directory is going away (the domain is being
            // destroyed): nothing to retry.
            return false;
        } else if frontend_state == Some(XenbusState::Closed) {
            "the frontend closed"
        } else {
            let config = read_frontend_config(store, &self.frontend_path);
            if self
                .failure
                .as_ref()
                .is_some_and(|failure| failure.config == config)
            {
                return false;
            }
            "the frontend's configuration changed"
        };
        log::info!(
            "dom{} vsnd {}: {why}: trying again",
            self.domid,
            self.device
        );
        self.failure = None;
        store.remove(&error_node(&self.backend_path));
        if frontend_state != Some(XenbusState::Closed) {
            // Offer InitWait again; a frontend already Initialised connects now.
            self.set_state(store, XenbusState::InitWait);
        }
        true
    }

    /// Whether any connected stream's four nodes differ from what we used.
    fn frontend_nodes_changed(&self, store: &mut impl XenBusHost) -> bool {
        self.streams.iter().any(|live| {
            let mut read = |name: &str| {
                store
                    .read(&format!("{}/{name}", live.info.path))
                    .and_then(|text| parse_u32(&text).ok())
            };
            let now = [
                read("ring-ref"),
                read("event-channel"),
                read("evt-ring-ref"),
                read("evt-event-channel"),
            ];
            now.iter()
                .zip(live.nodes.iter())
                .any(|(now, then)| *now != Some(*then))
        })
    }

    /// Our own state node changed: libxl writes Closing (5) to ask us to close.
    pub fn on_backend_change<H: XenBusHost<Page = P>>(
        &mut self,
        store: &mut H,
    ) -> Vec<StreamSummary> {
        let ours = read_xenbus_state(store, &format!("{}/state", self.backend_path));
        if ours == Some(XenbusState::Closing) {
            log::info!("dom{} vsnd {}: asked to close", self.domid, self.device);
            let records = self.teardown(store);
            self.state = XenbusState::Closing;
            self.set_state(store, XenbusState::Closed);
            records
        } else {
            Vec::new()
        }
    }

    fn connect<H: XenBusHost<Page = P>>(
        &mut self,
        store: &mut H,
        settings: &DeviceSettings,
    ) -> Result<(), ConnectError> {
        let config = read_frontend_config(store, &self.frontend_path);
        let infos = match streams_to_serve(store, &config, settings) {
            Ok(infos) => infos,
            Err(reason) => {
                return Err(ConnectError {
                    errno: ERRNO_INVALID,
                    reason,
                    config: Box::new(config),
                })
            }
        };
        for info in infos {
            if let Err((errno, reason)) = self.connect_stream(store, settings, info) {
                return Err(ConnectError {
                    errno,
                    reason,
                    config: Box::new(config),
                });
            }
        }
        if self.streams.is_empty() {
            return Err(ConnectError {
                errno: ERRNO_INVALID,
                reason: format!("{}: no stream set up by the frontend", self.frontend_path),
                config: Box::new(config),
            });
        }
        Ok(())
    }

    /// Map and bind one stream the frontend set up (a stream it left
    /// without ring nodes is skipped).
    fn connect_stream<H: XenBusHost<Page = P>>(
        &mut self,
        store: &mut H,
        settings: &DeviceSettings,
        info: ConfiguredStream,
    ) -> Result<(), (u32, String)> {
        let io = |reason: String| (ERRNO_IO, reason);
        let ring_node = format!("{}/ring-ref", info.path);
        let Some(ring_text) = store.read(&ring_node) else {
            if ["event-channel", "evt-ring-ref", "evt-event-channel"]
                .iter()
                .all(|name| store.read(&format!("{}/{name}", info.path)).is_none())
            {
                // The frontend did not set this stream up (e.g. it found
                // its configuration unusable): serve the others.
                log::warn!(
                    "{}: no ring nodes: stream {} not set up by the frontend, left out",
                    info.path,
                    guest(&info.unique_id)
                );
                return Ok(());
            }
            return Err(io(format!("{ring_node}: missing")));
        };
        let ring_ref = parse_u32(&ring_text)
            .map_err(|error| io(format!("{ring_node}: \"{}\": {error}", guest(&ring_text))))?;
        let ring_channel =
            read_number(store, &format!("{}/event-channel", info.path)).map_err(io)?;
        let event_ref = read_number(store, &format!("{}/evt-ring-ref", info.path)).map_err(io)?;
        let event_channel =
            read_number(store, &format!("{}/evt-event-channel", info.path)).map_err(io)?;
        // The stream and its two ring pages, before anything is mapped.
        let charge = settings
            .quota
            .charge(self.domid, 1, 2)
            .map_err(|exceeded| {
                (
                    ERRNO_NOSPC,
                    format!(
                        "{}: stream {}: {exceeded} (sndback's caps)",
                        info.path,
                        guest(&info.unique_id)
                    ),
                )
            })?;
        let ring_page = store
            .map(ring_ref, true)
            .map_err(|error| io(format!("{}: map ring-ref {ring_ref}: {error:?}", info.path)))?;
        let event_page = store.map(event_ref, true).map_err(|error| {
            io(format!(
                "{}: map evt-ring-ref {event_ref}: {error:?}",
                info.path
            ))
        })?;
        let ring_port = store
            .bind_interdomain(self.domid, ring_channel)
            .map_err(|error| {
                io(format!(
                    "{}: bind event-channel {ring_channel}: {error}",
                    info.path
                ))
            })?;
        let event_port = match store.bind_interdomain(self.domid, event_channel) {
            Ok(port) => port,
            Err(error) => {
                store.unbind(ring_port);
                return Err(io(format!(
                    "{}: bind evt-event-channel {event_channel}: {error}",
                    info.path
                )));
            }
        };
        let label = self.label(&info);
        let (sink, source) = store.media(self.domid, &info);
        let config = StreamSetup {
            direction: info.direction,
            caps: info.caps.clone(),
            limits: settings.limits.clone(),
            max_buffer_bytes: settings.max_buffer_bytes,
            require_whole_frames: settings.whole_frames,
            behaviour: settings.behaviour,
        };
        let mut stream = Stream::new(config, sink, source, &label);
        stream.set_quota(settings.quota.clone(), self.domid);
        log::info!(
            "{label}: ring-ref {ring_ref} event-channel {ring_channel} (local {ring_port}), evt-ring-ref {event_ref} evt-event-channel {event_channel} (local {event_port})"
        );
        self.streams.push(LiveStream {
            info,
            nodes: [ring_ref, ring_channel, event_ref, event_channel],
            ring_port,
            event_port,
            channel: StreamChannel::new(ring_page, event_page, stream),
            deadline_ns: Some(0),
            _charge: charge,
        });
        Ok(())
    }

    /// Unbind, unmap and close every stream. Returns their final records.
    pub fn teardown(&mut self, events: &mut impl XenBusHost) -> Vec<StreamSummary> {
        let records = self.records(false);
        for live in self.streams.drain(..) {
            events.unbind(live.ring_port);
            events.unbind(live.event_port);
            let label = live.channel.stream().label().to_string();
            let (_ring, _events, _stream) = live.channel.into_pages();
            log::info!("{label}: torn down");
        }
        records
    }

    /// Tear down every stream and publish Closed (a frontend that closed or
    /// vanished, or a ring found corrupted). Returns the streams' final
    /// records.
    pub fn close(&mut self, store: &mut impl XenBusHost) -> Vec<StreamSummary> {
        let records = self.teardown(store);
        self.set_state(store, XenbusState::Closed);
        records
    }

    /// The device is gone from XenStore (or we exit): tear down, unwatch,
    /// remove our error node.
    pub fn remove(mut self, store: &mut impl XenBusHost) -> Vec<StreamSummary> {
        let records = self.teardown(store);
        if self.watching {
            store.unwatch(
                &self.frontend_path,
                &frontend_token(self.domid, self.device),
            );
        }
        if self.failure.is_some() {
            store.remove(&error_node(&self.backend_path));
        }
        log::info!("dom{} vsnd {}: removed", self.domid, self.device);
        records
    }
}

/// The devices listed under the backend root now: `(domid, device)`.
pub fn list_devices(store: &mut impl XenBusHost, root: &str) -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    for domain in store.directory(root) {
        let Ok(domid) = parse_u32(&domain) else {
            continue;
        };
        for device in store.directory(&format!("{root}/{domain}")) {
            if let Ok(device) = parse_u32(&device) {
                found.push((domid, device));
            }
        }
    }
    found
}

/// Devices by `(domid, device)`.
pub type Devices<P> = BTreeMap<(u32, u32), Device<P>>;

/// A backend's devices and the ones it could not set up.
pub struct DeviceSet<P: SharedPage> {
    /// Devices set up, by `(domid, device)`.
    pub devices: Devices<P>,
    /// Devices that could not be set up, with why (logged once, retried at
    /// every rescan).
    pub failed: BTreeMap<(u32, u32), String>,
}

impl<P: SharedPage> Default for DeviceSet<P> {
    fn default() -> Self {
        Self {
            devices: Devices::new(),
            failed: BTreeMap::new(),
        }
    }
}

impl<P: SharedPage> DeviceSet<P> {
    /// Bring the set in line with the devices listed under the backend
    /// root: remove the ones gone (torn down, unwatched), create the new
    /// ones (InitWait). Returns the records of streams torn down.
    pub fn rescan<H: XenBusHost<Page = P>>(
        &mut self,
        settings: &DeviceSettings,
        host: &mut H,
    ) -> Vec<StreamSummary> {
        let present = list_devices(host, &settings.backend_root);
        let gone: Vec<(u32, u32)> = self
            .devices
            .keys()
            .filter(|key| !present.contains(key))
            .copied()
            .collect();
        let mut records = Vec::new();
        for key in gone {
            if let Some(device) = self.devices.remove(&key) {
                host.set_frontend(key.0);
                records.extend(device.remove(host));
            }
        }
        self.failed.retain(|key, _| present.contains(key));
        for key in present {
            if self.devices.contains_key(&key) {
                continue;
            }
            host.set_frontend(key.0);
            match Device::create(host, settings, key.0, key.1) {
                Ok(device) => {
                    self.failed.remove(&key);
                    self.devices.insert(key, device);
                }
                Err(error) => {
                    if self.failed.get(&key) != Some(&error) {
                        log::warn!("dom{} vsnd {}: not set up: {error}", key.0, key.1);
                        self.failed.insert(key, error);
                    }
                }
            }
        }
        records
    }

    /// A watch fired: `backend_token` is the watch on the backend root
    /// (rescan, then our own state node: libxl asking us to close),
    /// [`frontend_token`]s are the devices' frontend watches. Returns the
    /// records of streams torn down.
    pub fn on_watch<H: XenBusHost<Page = P>>(
        &mut self,
        settings: &DeviceSettings,
        host: &mut H,
        backend_token: &str,
        path: &str,
        token: &str,
    ) -> Vec<StreamSummary> {
        let mut records = Vec::new();
        if token == backend_token {
            records.extend(self.rescan(settings, host));
            let relative = path
                .strip_prefix(settings.backend_root.as_str())
                .unwrap_or("")
                .trim_start_matches('/');
            let parts: Vec<&str> = relative.split('/').collect();
            if let [domid, device, "state"] = parts.as_slice() {
                if let (Ok(domid), Ok(device)) = (parse_u32(domid), parse_u32(device)) {
                    if let Some(found) = self.devices.get_mut(&(domid, device)) {
                        host.set_frontend(domid);
                        records.extend(found.on_backend_change(host));
                    }
                }
            }
        } else if let Some(key) = parse_frontend_token(token) {
            if let Some(device) = self.devices.get_mut(&key) {
                host.set_frontend(key.0);
                records.extend(device.on_frontend_change(host, settings));
            }
        }
        records
    }
}
