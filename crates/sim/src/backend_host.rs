//! Hosting the backend engine in the simulator: a [`GrantMapper`] over
//! [`SimCore`] and [`SimSndBackend`], a simulated dom0 vsnd backend.
//!
//! [`SimSndBackend`] is a [`SimPeer`] running the same XenBus state machine
//! ([`xensnd_backend::xenbus`]) and engine ([`xensnd_backend::StreamChannel`]) as the dom0
//! program, over the simulator's xenstored, event channels and grant table.
//! Playback goes to [`MemorySink`]s the test can read; capture comes from a
//! source the test chooses.
//!
//! Host-only glue for `xensnd_sim`: a simulated dom0 backend maps the
//! frontend's grants with `GNTTABOP_map_grant_ref` semantics
//! ([`SimCore::map_grant`]), so the simulated grant table sees the backend's
//! mappings (`GTF_reading`/`GTF_writing`) exactly as Xen would. The engine
//! drops pages when it closes a stream; a dropped page cannot reach the core
//! (a simulator peer only borrows it during a step), so its handle is queued
//! and [`SimUnmapQueue::flush`] unmaps it at the end of the step.
#![forbid(unsafe_code)]

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::{ConnId, SimCore, SimPage, SimPeer, SimXen};
use xen_guest::{DomId, Gfn, GrantRef, SharedPage, XenError};
use xensnd_backend::buffer::GrantMapper;
use xensnd_backend::io::{MemorySink, NullSink, SilenceSource, Sink, Source};
use xensnd_backend::xenbus::{Device, DeviceSet, DeviceSettings, StreamSummary, XenBusHost};
use xensnd_backend::Behaviour;
use xensnd_sndif::config::ConfiguredStream;
use xensnd_sndif::config::Direction;

/// The backends the simulator can run: ours, or one that behaves like
/// xen-troops snd_be on libxenbe (see [`Behaviour::SND_BE_LIKE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendProfile {
    /// `sndback`: [`Behaviour::SNDBACK`], whole frames required.
    Sndback,
    /// snd_be-like: [`Behaviour::SND_BE_LIKE`] (directory mapped
    /// read-write, no volume or mute, timer-driven positions as ALSA
    /// reports them, period rounded to a power of two frames); READ and
    /// WRITE lengths are not checked for whole frames (snd_be converts
    /// them with `snd_pcm_bytes_to_frames`).
    SndBeLike,
}

impl BackendProfile {
    /// Every profile, ours first.
    pub const ALL: [BackendProfile; 2] = [BackendProfile::Sndback, BackendProfile::SndBeLike];

    /// A short name for test names and messages.
    pub fn name(self) -> &'static str {
        match self {
            BackendProfile::Sndback => "sndback",
            BackendProfile::SndBeLike => "snd_be-like",
        }
    }

    /// The engine's behaviour.
    pub fn behaviour(self) -> Behaviour {
        match self {
            BackendProfile::Sndback => Behaviour::SNDBACK,
            BackendProfile::SndBeLike => Behaviour::SND_BE_LIKE,
        }
    }

    /// Whether SET_VOLUME, GET_VOLUME, MUTE and UNMUTE are served.
    pub fn has_volume(self) -> bool {
        self.behaviour().volume
    }

    /// A dom0 backend's settings ([`DeviceSettings::dom0`]) for this profile.
    pub fn settings(self, max_buffer_bytes: u32) -> DeviceSettings {
        self.apply(DeviceSettings::dom0(max_buffer_bytes))
    }

    /// `settings` with this profile's behaviour and frame check.
    pub fn apply(self, mut settings: DeviceSettings) -> DeviceSettings {
        settings.behaviour = self.behaviour();
        settings.whole_frames = self == BackendProfile::Sndback;
        settings
    }
}

impl core::fmt::Display for BackendProfile {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Handles of pages the engine dropped, waiting to be unmapped.
#[derive(Debug, Clone, Default)]
pub struct SimUnmapQueue(Rc<RefCell<Vec<u32>>>);

impl SimUnmapQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Unmap every queued handle. Returns how many were unmapped.
    pub fn flush(&self, core: &mut SimCore) -> usize {
        let handles: Vec<u32> = core::mem::take(&mut *self.0.borrow_mut());
        for handle in &handles {
            if let Err(error) = core.unmap_grant(*handle) {
                log::error!("sim backend: unmap of handle {handle} failed: {error:?}");
            }
        }
        handles.len()
    }

    /// Handles waiting.
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
}

/// A frontend page mapped by the simulated backend; queued for unmapping on drop.
#[derive(Debug)]
pub struct SimMappedPage {
    page: SimPage,
    handle: u32,
    queue: SimUnmapQueue,
}

impl SharedPage for SimMappedPage {
    fn gfn(&self) -> Gfn {
        self.page.gfn()
    }
    fn load_u32(&self, offset: usize) -> u32 {
        self.page.load_u32(offset)
    }
    fn store_u32(&self, offset: usize, value: u32) {
        self.page.store_u32(offset, value);
    }
    fn read(&self, offset: usize, out: &mut [u8]) {
        self.page.read(offset, out);
    }
    fn write(&self, offset: usize, data: &[u8]) {
        self.page.write(offset, data);
    }
}

impl Drop for SimMappedPage {
    fn drop(&mut self) {
        self.queue.0.borrow_mut().push(self.handle);
    }
}

/// Maps `frontend`'s grants as `backend` for the length of one simulator step.
pub struct SimCoreMapper<'core> {
    core: &'core mut SimCore,
    backend: DomId,
    frontend: DomId,
    queue: SimUnmapQueue,
}

impl<'core> SimCoreMapper<'core> {
    /// A mapper for `backend` mapping `frontend`'s grants; dropped pages go to `queue`.
    pub fn new(
        core: &'core mut SimCore,
        backend: DomId,
        frontend: DomId,
        queue: &SimUnmapQueue,
    ) -> Self {
        Self {
            core,
            backend,
            frontend,
            queue: queue.clone(),
        }
    }

    /// The core, for the rest of the step (event channels, XenStore).
    pub fn core(&mut self) -> &mut SimCore {
        self.core
    }
}

impl GrantMapper for SimCoreMapper<'_> {
    type Page = SimMappedPage;
    fn map(&mut self, gref: GrantRef, writable: bool) -> Result<SimMappedPage, XenError> {
        let mapping = self
            .core
            .map_grant(self.backend, self.frontend, gref, writable)?;
        Ok(SimMappedPage {
            page: mapping.page,
            handle: mapping.handle,
            queue: self.queue.clone(),
        })
    }
}

/// Makes a capture source for a stream of frontend `domid`.
pub type SourceFactory = Box<dyn FnMut(u32, &ConfiguredStream) -> Box<dyn Source>>;

/// Makes the playback sink of a stream of frontend `domid`, in place of
/// the [`MemorySink`] the view records (e.g. an audio domain's mixer
/// input); see [`SimSndBackend::with_sinks`].
pub type SinkFactory = Box<dyn FnMut(u32, &ConfiguredStream) -> Box<dyn Sink>>;

/// What a test can look at while the backend runs inside the simulation.
#[derive(Debug, Default)]
pub struct SimBackendView {
    /// Playback sinks by `(domid, unique-id)`; one per connection (a
    /// reconnect appends a new one). Empty when the backend was given its
    /// own sinks ([`SimSndBackend::with_sinks`]).
    pub sinks: Vec<((u32, String), MemorySink)>,
    /// Streams torn down so far.
    pub history: Vec<StreamSummary>,
    /// Streams connected now.
    pub active: Vec<StreamSummary>,
    /// Test knob: leave requests unserved (and notifications pending), as a
    /// hung backend would.
    pub silent: bool,
    /// Test knob: crash and restart at the next step (every device torn
    /// down, unmapped and unbound, then set up again from InitWait).
    pub restart_requested: bool,
}

impl SimBackendView {
    /// Every byte played on the stream `unique_id` of `domid`, across connections.
    pub fn played(&self, domid: u32, unique_id: &str) -> Vec<u8> {
        self.sinks
            .iter()
            .filter(|((sink_domid, id), _)| *sink_domid == domid && id == unique_id)
            .flat_map(|(_, sink)| sink.bytes())
            .collect()
    }
}

const BACKEND_TOKEN: &str = "sim-vsnd-backend";

/// The host for one frontend domain during one step.
struct SimHost<'a> {
    core: &'a mut SimCore,
    conn: ConnId,
    frontend: DomId,
    queue: &'a SimUnmapQueue,
    view: &'a Rc<RefCell<SimBackendView>>,
    media: &'a mut Media,
}

/// Where a backend's streams' audio comes from and goes to.
struct Media {
    sources: SourceFactory,
    sinks: Option<SinkFactory>,
}

impl GrantMapper for SimHost<'_> {
    type Page = SimMappedPage;
    fn map(&mut self, gref: GrantRef, writable: bool) -> Result<SimMappedPage, XenError> {
        SimCoreMapper::new(self.core, 0, self.frontend, self.queue).map(gref, writable)
    }
}

impl XenBusHost for SimHost<'_> {
    fn read(&mut self, path: &str) -> Option<String> {
        let bytes = self.core.store().read(self.conn, 0, path).ok()?;
        String::from_utf8(bytes).ok()
    }
    fn write(&mut self, path: &str, value: &str) -> Result<(), String> {
        self.core
            .store()
            .write(self.conn, 0, path, value.as_bytes())
            .map_err(|error| format!("{error:?}"))
    }
    fn directory(&mut self, path: &str) -> Vec<String> {
        self.core
            .store()
            .directory(self.conn, 0, path)
            .unwrap_or_default()
    }
    fn watch(&mut self, path: &str, token: &str) -> Result<(), String> {
        self.core
            .store()
            .watch(self.conn, path, token)
            .map_err(|error| format!("{error:?}"))
    }
    fn unwatch(&mut self, path: &str, token: &str) {
        let _ = self.core.store().unwatch(self.conn, path, token);
    }
    fn remove(&mut self, path: &str) {
        let _ = self.core.store().rm(self.conn, 0, path);
    }
    fn bind_interdomain(&mut self, domid: u32, remote_port: u32) -> Result<u32, String> {
        let domid = DomId::try_from(domid).map_err(|_| "domid out of range".to_string())?;
        self.core
            .evtchn_bind_interdomain(0, domid, remote_port)
            .map_err(|error| format!("{error:?}"))
    }
    fn unbind(&mut self, port: u32) {
        let _ = self.core.evtchn_close(0, port);
    }
    fn media(&mut self, domid: u32, stream: &ConfiguredStream) -> (Box<dyn Sink>, Box<dyn Source>) {
        match stream.direction {
            Direction::Playback => {
                if let Some(sinks) = self.media.sinks.as_mut() {
                    return (
                        sinks(domid, stream),
                        Box::new(xensnd_backend::io::SilenceSource::default()),
                    );
                }
                let sink = MemorySink::new();
                self.view
                    .borrow_mut()
                    .sinks
                    .push(((domid, stream.unique_id.clone()), sink.clone()));
                (
                    Box::new(sink),
                    Box::new(xensnd_backend::io::SilenceSource::default()),
                )
            }
            Direction::Capture => (Box::new(NullSink), (self.media.sources)(domid, stream)),
        }
    }
    fn set_frontend(&mut self, domid: u32) {
        self.frontend = DomId::try_from(domid).unwrap_or(DomId::MAX);
    }
}

/// A simulated dom0 vsnd backend: add it with `SimXen::add_peer`.
pub struct SimSndBackend {
    settings: DeviceSettings,
    conn: Option<ConnId>,
    set: DeviceSet<SimMappedPage>,
    queue: SimUnmapQueue,
    view: Rc<RefCell<SimBackendView>>,
    media: Media,
}

impl SimSndBackend {
    /// Run a backend with `settings` and `sources` in `sim` (as one of its
    /// peers); returns the view the test keeps.
    pub fn attach(
        sim: &SimXen,
        settings: DeviceSettings,
        sources: SourceFactory,
    ) -> Rc<RefCell<SimBackendView>> {
        let (backend, view) = Self::new(settings, sources);
        sim.add_peer(Box::new(backend));
        view
    }

    /// Capture sources that read silence.
    pub fn silence() -> SourceFactory {
        Box::new(|_, _| Box::new(SilenceSource::default()) as Box<dyn Source>)
    }

    /// A backend with `settings`, capture sources from `sources`, and a view
    /// the test keeps.
    pub fn new(
        settings: DeviceSettings,
        sources: SourceFactory,
    ) -> (Self, Rc<RefCell<SimBackendView>>) {
        let view = Rc::new(RefCell::new(SimBackendView::default()));
        (
            Self {
                settings,
                conn: None,
                set: DeviceSet::default(),
                queue: SimUnmapQueue::new(),
                view: Rc::clone(&view),
                media: Media {
                    sources,
                    sinks: None,
                },
            },
            view,
        )
    }

    /// Playback goes to the sinks `sinks` makes (one per stream, when the
    /// device connects) instead of the view's [`MemorySink`]s.
    pub fn with_sinks(mut self, sinks: SinkFactory) -> Self {
        self.media.sinks = Some(sinks);
        self
    }

    fn host<'a>(
        core: &'a mut SimCore,
        conn: ConnId,
        frontend: u32,
        queue: &'a SimUnmapQueue,
        view: &'a Rc<RefCell<SimBackendView>>,
        media: &'a mut Media,
    ) -> SimHost<'a> {
        SimHost {
            core,
            conn,
            frontend: DomId::try_from(frontend).unwrap_or(DomId::MAX),
            queue,
            view,
            media,
        }
    }

    fn on_watch(&mut self, core: &mut SimCore, conn: ConnId, path: &str, token: &str) {
        let mut host = Self::host(core, conn, 0, &self.queue, &self.view, &mut self.media);
        let torn_down = self
            .set
            .on_watch(&self.settings, &mut host, BACKEND_TOKEN, path, token);
        self.view.borrow_mut().history.extend(torn_down);
    }

    /// A crash and restart: every mapping and binding goes away (as when
    /// the process dies), then each device is created again, which
    /// publishes InitWait like a freshly started backend.
    fn restart(&mut self, core: &mut SimCore, conn: ConnId) {
        let keys: Vec<(u32, u32)> = self.set.devices.keys().copied().collect();
        for key in keys {
            if let Some(device) = self.set.devices.remove(&key) {
                let mut host =
                    Self::host(core, conn, key.0, &self.queue, &self.view, &mut self.media);
                let records = device.remove(&mut host);
                self.view.borrow_mut().history.extend(records);
                match Device::create(&mut host, &self.settings, key.0, key.1) {
                    Ok(device) => {
                        self.set.devices.insert(key, device);
                    }
                    Err(error) => {
                        log::warn!("sim backend: restart dom{} vsnd {}: {error}", key.0, key.1)
                    }
                }
            }
        }
        self.queue.flush(core);
    }

    fn refresh_view(&self) {
        let active: Vec<StreamSummary> = self
            .set
            .devices
            .values()
            .flat_map(|device| device.records(true))
            .collect();
        self.view.borrow_mut().active = active;
    }
}

impl SimPeer for SimSndBackend {
    fn step(&mut self, core: &mut SimCore) -> bool {
        let mut progress = false;
        let conn = match self.conn {
            Some(conn) => conn,
            None => {
                let conn = core.store().connect_local(0);
                if let Err(error) =
                    core.store()
                        .watch(conn, &self.settings.backend_root, BACKEND_TOKEN)
                {
                    log::error!("sim backend: watch: {error:?}");
                }
                self.conn = Some(conn);
                progress = true;
                conn
            }
        };
        if core::mem::take(&mut self.view.borrow_mut().restart_requested) {
            self.restart(core, conn);
            progress = true;
        }
        while let Some(event) = core.store().take_event(conn) {
            self.on_watch(core, conn, &event.path, &event.token);
            progress = true;
        }
        if self.view.borrow().silent {
            self.refresh_view();
            return progress;
        }
        let now = core.now_ns();
        for (key, device) in self.set.devices.iter_mut() {
            let Ok(frontend) = DomId::try_from(key.0) else {
                continue;
            };
            let mut broken = false;
            for live in device.streams.iter_mut() {
                let notified = core.evtchn_take_pending(0, live.ring_port);
                if notified {
                    live.channel.note_notification();
                }
                let due = live.deadline_ns.is_some_and(|deadline| deadline <= now);
                if !(notified || due) {
                    continue;
                }
                let mut mapper = SimCoreMapper::new(core, 0, frontend, &self.queue);
                let result = live.channel.service(&mut mapper, now);
                if result.notify_ring {
                    let _ = core.evtchn_send(0, live.ring_port);
                }
                if result.notify_events {
                    let _ = core.evtchn_send(0, live.event_port);
                }
                progress |= notified || result.notify_ring || result.notify_events;
                live.deadline_ns = result.next_deadline_ns;
                broken |= live.channel.is_broken();
            }
            if broken {
                log::error!("sim backend: dom{} vsnd {}: ring corrupted", key.0, key.1);
                let mut host =
                    Self::host(core, conn, key.0, &self.queue, &self.view, &mut self.media);
                let records = device.close(&mut host);
                self.view.borrow_mut().history.extend(records);
            }
        }
        self.queue.flush(core);
        self.refresh_view();
        progress
    }

    fn next_deadline(&self) -> Option<u64> {
        self.set
            .devices
            .values()
            .flat_map(|device| device.streams.iter().filter_map(|live| live.deadline_ns))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimXen;

    #[test]
    fn engine_mappings_show_in_the_simulated_grant_table_and_are_unmapped() {
        let xen = SimXen::new();
        let mut guest = xen.add_guest(1);
        let page = xen.with_core(|core| core.alloc_page(1)).unwrap();
        page.store_u32(8, 0x1234_5678);
        let granted = guest
            .grant_page(page, 0, false)
            .map_err(|(_, e)| e)
            .unwrap();
        let gref = granted.gref();
        let queue = SimUnmapQueue::new();
        let mapped = xen.with_core(|core| {
            let mut mapper = SimCoreMapper::new(core, 0, 1, &queue);
            mapper.map(gref, true)
        });
        let mapped = mapped.unwrap();
        assert_eq!(mapped.load_u32(8), 0x1234_5678);
        assert_eq!(xen.with_core(|core| core.mapped_refs(1)), alloc::vec![gref]);
        drop(mapped);
        assert_eq!(queue.len(), 1);
        assert_eq!(xen.with_core(|core| queue.flush(core)), 1);
        assert!(xen.with_core(|core| core.mapped_refs(1)).is_empty());
        // A gref that was never granted fails to map.
        let refused = xen.with_core(|core| SimCoreMapper::new(core, 0, 1, &queue).map(999, true));
        assert!(refused.is_err());
    }
}
