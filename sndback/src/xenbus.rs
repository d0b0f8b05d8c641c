//! The XenBus side of the backend: vsnd devices appear, connect, restart and go away.
//!
//! `io/sndif.h` "Backend XenBus nodes" + `io/xenbus.h` states. For each
//! `/local/domain/0/backend/vsnd/<domid>/<dev>`: read `frontend`, read the
//! configuration under it, go InitWait (2), watch the frontend's state; on
//! Initialised (3) map every stream's ring and event page, bind its two event
//! channels and go Connected (4). Frontend Closing/Closed, or libxl writing
//! Closing to our state, tears down and goes Closed (6); a frontend back at
//! Initialising (1) gets a fresh InitWait.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;

use xensnd::abi::xenbus::XenbusState;
use xensnd::backend::config::{narrow_with, parse_u32, LevelConfig};
use xensnd::backend::io::{NullSink, SilenceSource, ToneSource};
use xensnd::backend::{
    Direction, GrantMapper, Limits, Sink, Source, Stream, StreamChannel, StreamConfig,
};

use crate::media::{sanitize, WavSink, WavSource};
use crate::stats::StreamRecord;
use crate::sys::{EventChannels, XenStore};

/// The XenStore operations the XenBus dance needs (libxenstore in dom0, a
/// map in tests).
pub trait Store {
    /// The value at `path`, `None` if absent.
    fn read(&self, path: &str) -> Option<String>;
    /// Write `value` at `path`.
    fn write(&self, path: &str, value: &str) -> io::Result<()>;
    /// The children of `path`.
    fn directory(&self, path: &str) -> Vec<String>;
    /// Watch `path` with `token`.
    fn watch(&self, path: &str, token: &str) -> io::Result<()>;
    /// Remove a watch.
    fn unwatch(&self, path: &str, token: &str);
}

/// The event-channel operations the XenBus dance needs.
pub trait Ports {
    /// Bind to `remote_port` of `domid`; returns the local port.
    fn bind_interdomain(&self, domid: u32, remote_port: u32) -> io::Result<u32>;
    /// Unbind a local port.
    fn unbind(&self, port: u32);
}

impl Store for XenStore {
    fn read(&self, path: &str) -> Option<String> {
        XenStore::read(self, path)
    }
    fn write(&self, path: &str, value: &str) -> io::Result<()> {
        XenStore::write(self, path, value)
    }
    fn directory(&self, path: &str) -> Vec<String> {
        XenStore::directory(self, path)
    }
    fn watch(&self, path: &str, token: &str) -> io::Result<()> {
        XenStore::watch(self, path, token)
    }
    fn unwatch(&self, path: &str, token: &str) {
        XenStore::unwatch(self, path, token);
    }
}

impl Ports for EventChannels {
    fn bind_interdomain(&self, domid: u32, remote_port: u32) -> io::Result<u32> {
        EventChannels::bind_interdomain(self, domid, remote_port)
    }
    fn unbind(&self, port: u32) {
        EventChannels::unbind(self, port);
    }
}

/// `XenbusStateInitialising`.
pub const STATE_INITIALISING: u32 = XenbusState::Initialising as u32;
/// `XenbusStateInitWait`.
pub const STATE_INIT_WAIT: u32 = XenbusState::InitWait as u32;
/// `XenbusStateInitialised`.
pub const STATE_INITIALISED: u32 = XenbusState::Initialised as u32;
/// `XenbusStateConnected`.
pub const STATE_CONNECTED: u32 = XenbusState::Connected as u32;
/// `XenbusStateClosing`.
pub const STATE_CLOSING: u32 = XenbusState::Closing as u32;
/// `XenbusStateClosed`.
pub const STATE_CLOSED: u32 = XenbusState::Closed as u32;

/// Streams per device at most (pcm × stream enumeration bound).
const MAX_INDEX: u32 = 64;

/// What feeds capture streams.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// The format's silence.
    Silence,
    /// A sine tone at this frequency.
    Tone(f32),
    /// A WAV file, loaded once.
    Wav(Rc<Vec<f32>>, usize, u32),
}

/// Everything the command line decides for every device.
#[derive(Debug, Clone)]
pub struct Settings {
    /// XenStore directory of our vsnd backends.
    pub backend_root: String,
    /// Where WAV sinks go; `None`: null sinks.
    pub out_dir: Option<PathBuf>,
    /// Capture source.
    pub source: SourceKind,
    /// The backend's own limits (narrowed by each device's configuration).
    pub limits: Limits,
    /// Cap on `buffer_sz`.
    pub max_buffer_bytes: u32,
    /// Require whole frames in READ/WRITE.
    pub whole_frames: bool,
    /// WAV files started so far (shared by every sink).
    pub files: crate::media::FileRegistry,
}

/// A stream's configuration as read from XenStore.
#[derive(Debug, Clone)]
struct StreamInfo {
    pcm: u32,
    index: u32,
    unique_id: String,
    direction: Direction,
    limits: Limits,
    path: String,
}

/// A connected stream.
pub struct LiveStream<P: xensnd::xen::SharedPage> {
    info: StreamInfo,
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
}

/// One vsnd device of one frontend, mapping its grants with `M`.
pub struct Device<M: GrantMapper> {
    /// Frontend domain.
    pub domid: u32,
    /// Device index.
    pub device: u32,
    backend_path: String,
    frontend_path: String,
    state: u32,
    watching: bool,
    /// Grant mapper for this domain.
    pub mapper: M,
    /// Connected streams.
    pub streams: Vec<LiveStream<M::Page>>,
}

fn frontend_token(domid: u32, device: u32) -> String {
    format!("fe/{domid}/{device}")
}

/// Parse a frontend watch token back into its device key.
pub fn parse_frontend_token(token: &str) -> Option<(u32, u32)> {
    let mut parts = token.strip_prefix("fe/")?.split('/');
    let domid = parts.next()?.parse().ok()?;
    let device = parts.next()?.parse().ok()?;
    Some((domid, device))
}

fn read_level<'a>(values: &'a [Option<String>; 5]) -> LevelConfig<'a> {
    LevelConfig {
        sample_rates: values[0].as_deref(),
        sample_formats: values[1].as_deref(),
        channels_min: values[2].as_deref(),
        channels_max: values[3].as_deref(),
        buffer_size: values[4].as_deref(),
    }
}

fn level_values(store: &impl Store, path: &str) -> [Option<String>; 5] {
    [
        "sample-rates",
        "sample-formats",
        "channels-min",
        "channels-max",
        "buffer-size",
    ]
    .map(|name| store.read(&format!("{path}/{name}")))
}

fn narrow(limits: &Limits, store: &impl Store, path: &str) -> Result<Limits, String> {
    let values = level_values(store, path);
    narrow_with(limits, &read_level(&values)).map_err(|error| format!("{path}: {}", error.0))
}

/// Read the card, PCM and stream configuration under the frontend path.
fn read_config(
    store: &impl Store,
    frontend: &str,
    limits: &Limits,
) -> Result<Vec<StreamInfo>, String> {
    let card = narrow(limits, store, frontend)?;
    let mut streams = Vec::new();
    for pcm in 0..MAX_INDEX {
        let pcm_path = format!("{frontend}/{pcm}");
        if store.directory(&pcm_path).is_empty() {
            break;
        }
        let pcm_limits = narrow(&card, store, &pcm_path)?;
        for index in 0..MAX_INDEX {
            let path = format!("{pcm_path}/{index}");
            let Some(kind) = store.read(&format!("{path}/type")) else {
                break;
            };
            let direction = match kind.trim() {
                "p" => Direction::Playback,
                "c" => Direction::Capture,
                other => return Err(format!("{path}/type: unknown stream type {other:?}")),
            };
            let unique_id = store
                .read(&format!("{path}/unique-id"))
                .unwrap_or_else(|| format!("pcm{pcm}-{index}"));
            let limits = narrow(&pcm_limits, store, &path)?;
            streams.push(StreamInfo {
                pcm,
                index,
                unique_id,
                direction,
                limits,
                path,
            });
        }
    }
    if streams.is_empty() {
        return Err(format!("{frontend}: no streams configured"));
    }
    Ok(streams)
}

fn read_number(store: &impl Store, path: &str) -> Result<u32, String> {
    let text = store.read(path).ok_or_else(|| format!("{path}: missing"))?;
    parse_u32(&text).map_err(|error| format!("{path}: {:?}: {}", text, error.0))
}

impl<M: GrantMapper> Device<M> {
    /// Set up a newly seen device: read its nodes, go InitWait, watch the frontend.
    pub fn create(
        store: &impl Store,
        mapper: M,
        settings: &Settings,
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
            state: 0,
            watching: false,
            mapper,
            streams: Vec::new(),
        };
        created.set_state(store, STATE_INIT_WAIT);
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

    fn set_state(&mut self, store: &impl Store, state: u32) {
        if self.state == state {
            return;
        }
        match store.write(&format!("{}/state", self.backend_path), &state.to_string()) {
            Ok(()) => {
                log::debug!(
                    "dom{} vsnd {}: state {} -> {}",
                    self.domid,
                    self.device,
                    self.state,
                    state
                );
                self.state = state;
            }
            Err(error) => log::error!("{}/state: {error}", self.backend_path),
        }
    }

    fn label(&self, info: &StreamInfo) -> String {
        format!(
            "dom{}/vsnd{}/{}/{}({})",
            self.domid, self.device, info.pcm, info.index, info.unique_id
        )
    }

    /// Records for the stats file.
    pub fn records(&self, active: bool) -> Vec<StreamRecord> {
        self.streams
            .iter()
            .map(|live| StreamRecord {
                domid: self.domid,
                device: self.device,
                pcm: live.info.pcm,
                stream: live.info.index,
                unique_id: live.info.unique_id.clone(),
                direction: match live.info.direction {
                    Direction::Playback => "playback",
                    Direction::Capture => "capture",
                },
                active,
                counters: live.channel.stream().counters().clone(),
            })
            .collect()
    }

    /// The frontend's state changed (or may have). Returns the records of
    /// streams torn down.
    pub fn on_frontend_change(
        &mut self,
        store: &impl Store,
        events: &impl Ports,
        settings: &Settings,
    ) -> Vec<StreamRecord> {
        let frontend_state = store
            .read(&format!("{}/state", self.frontend_path))
            .and_then(|text| parse_u32(&text).ok());
        log::debug!(
            "dom{} vsnd {}: frontend state {:?}, ours {}",
            self.domid,
            self.device,
            frontend_state,
            self.state
        );
        match frontend_state {
            Some(STATE_INITIALISED)
                if self.state == STATE_CONNECTED && self.frontend_nodes_changed(store) =>
            {
                // The frontend restarted and set up new rings before we saw
                // it go back to Initialising.
                log::info!(
                    "dom{} vsnd {}: frontend re-initialised with new rings",
                    self.domid,
                    self.device
                );
                let records = self.teardown(events);
                self.state = STATE_INIT_WAIT;
                let more = self.on_frontend_change(store, events, settings);
                records.into_iter().chain(more).collect()
            }
            Some(STATE_INITIALISED) if self.state == STATE_INIT_WAIT => {
                match self.connect(store, events, settings) {
                    Ok(()) => {
                        self.set_state(store, STATE_CONNECTED);
                        log::info!(
                            "dom{} vsnd {}: Connected ({} streams)",
                            self.domid,
                            self.device,
                            self.streams.len()
                        );
                    }
                    Err(error) => {
                        log::error!(
                            "dom{} vsnd {}: connect failed: {error}",
                            self.domid,
                            self.device
                        );
                        let _ = self.teardown(events);
                        self.set_state(store, STATE_CLOSED);
                    }
                }
                Vec::new()
            }
            Some(STATE_CLOSING | STATE_CLOSED) => {
                let records = self.teardown(events);
                self.set_state(store, STATE_CLOSED);
                records
            }
            Some(STATE_INITIALISING) if self.state != STATE_INIT_WAIT => {
                log::info!("dom{} vsnd {}: frontend restarted", self.domid, self.device);
                let records = self.teardown(events);
                self.set_state(store, STATE_INIT_WAIT);
                records
            }
            None if !self.streams.is_empty() => {
                log::info!(
                    "dom{} vsnd {}: frontend state gone",
                    self.domid,
                    self.device
                );
                let records = self.teardown(events);
                self.set_state(store, STATE_CLOSED);
                records
            }
            _ => Vec::new(),
        }
    }

    /// Whether any connected stream's four nodes differ from what we used.
    fn frontend_nodes_changed(&self, store: &impl Store) -> bool {
        self.streams.iter().any(|live| {
            let read = |name: &str| {
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
    pub fn on_backend_change(
        &mut self,
        store: &impl Store,
        events: &impl Ports,
    ) -> Vec<StreamRecord> {
        let ours = store
            .read(&format!("{}/state", self.backend_path))
            .and_then(|text| parse_u32(&text).ok());
        if ours == Some(STATE_CLOSING) {
            log::info!("dom{} vsnd {}: asked to close", self.domid, self.device);
            let records = self.teardown(events);
            self.state = STATE_CLOSING;
            self.set_state(store, STATE_CLOSED);
            records
        } else {
            Vec::new()
        }
    }

    fn connect(
        &mut self,
        store: &impl Store,
        events: &impl Ports,
        settings: &Settings,
    ) -> Result<(), String> {
        let infos = read_config(store, &self.frontend_path, &settings.limits)?;
        for info in infos {
            let ring_ref = read_number(store, &format!("{}/ring-ref", info.path))?;
            let ring_channel = read_number(store, &format!("{}/event-channel", info.path))?;
            let event_ref = read_number(store, &format!("{}/evt-ring-ref", info.path))?;
            let event_channel = read_number(store, &format!("{}/evt-event-channel", info.path))?;
            let ring_page = self
                .mapper
                .map(ring_ref, true)
                .map_err(|error| format!("{}: map ring-ref {ring_ref}: {error:?}", info.path))?;
            let event_page = self.mapper.map(event_ref, true).map_err(|error| {
                format!("{}: map evt-ring-ref {event_ref}: {error:?}", info.path)
            })?;
            let ring_port = events
                .bind_interdomain(self.domid, ring_channel)
                .map_err(|error| {
                    format!("{}: bind event-channel {ring_channel}: {error}", info.path)
                })?;
            let event_port = match events.bind_interdomain(self.domid, event_channel) {
                Ok(port) => port,
                Err(error) => {
                    events.unbind(ring_port);
                    return Err(format!(
                        "{}: bind evt-event-channel {event_channel}: {error}",
                        info.path
                    ));
                }
            };
            let label = self.label(&info);
            let (sink, source) = self.media(settings, &info);
            let config = StreamConfig {
                direction: info.direction,
                limits: info.limits,
                max_buffer_bytes: settings.max_buffer_bytes,
                require_whole_frames: settings.whole_frames,
            };
            let stream = Stream::new(config, sink, source, &label);
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
            });
        }
        Ok(())
    }

    fn media(&self, settings: &Settings, info: &StreamInfo) -> (Box<dyn Sink>, Box<dyn Source>) {
        match info.direction {
            Direction::Playback => {
                let sink: Box<dyn Sink> = match &settings.out_dir {
                    Some(directory) => Box::new(WavSink::new(
                        &settings.files,
                        directory,
                        &format!("dom{}-{}", self.domid, sanitize(&info.unique_id)),
                    )),
                    None => Box::new(NullSink),
                };
                (sink, Box::new(SilenceSource::default()))
            }
            Direction::Capture => {
                let source: Box<dyn Source> = match &settings.source {
                    SourceKind::Silence => Box::new(SilenceSource::default()),
                    SourceKind::Tone(frequency) => Box::new(ToneSource::new(*frequency, 0.5)),
                    SourceKind::Wav(samples, channels, rate) => {
                        Box::new(WavSource::new(Rc::clone(samples), *channels, *rate))
                    }
                };
                (Box::new(NullSink), source)
            }
        }
    }

    /// Unbind, unmap and close every stream. Returns their final records.
    pub fn teardown(&mut self, events: &impl Ports) -> Vec<StreamRecord> {
        let records = self.records(false);
        for live in self.streams.drain(..) {
            events.unbind(live.ring_port);
            events.unbind(live.event_port);
            let label = live.channel.stream().label().to_owned();
            let (_ring, _events, _stream) = live.channel.into_pages();
            log::info!("{label}: torn down");
        }
        records
    }

    /// The device is gone from XenStore (or we exit): tear down and unwatch.
    pub fn remove(mut self, store: &impl Store, events: &impl Ports) -> Vec<StreamRecord> {
        let records = self.teardown(events);
        if self.watching {
            store.unwatch(
                &self.frontend_path,
                &frontend_token(self.domid, self.device),
            );
        }
        log::info!("dom{} vsnd {}: removed", self.domid, self.device);
        records
    }
}

/// The devices listed under the backend root now: `(domid, device)`.
pub fn list_devices(store: &impl Store, root: &str) -> Vec<(u32, u32)> {
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
pub type Devices<M> = BTreeMap<(u32, u32), Device<M>>;

#[cfg(test)]
#[path = "xenbus_tests.rs"]
mod tests;
