//! Serving other guests' sound cards: this guest as a vsnd backend (a
//! driver domain: `backend=<this domain>` in the guests' `vsnd` lines).
//!
//! [`VsndServer`] hosts the backend engine ([`crate::backend`], the one
//! `sndback` runs in dom0) on the runtime's own services: XenStore through
//! the runtime's client, event channels through the platform
//! (`EVTCHNOP_bind_interdomain`; notifications are seen as pending ports,
//! as the frontend's are), and the frontends' rings and buffers mapped
//! with `GNTTABOP_map_grant_ref` at the platform's foreign-mapping window
//! ([`crate::arch::foreign`]; every page is unmapped when the engine drops
//! it: a stream closed, a device gone, the server dropped).
//!
//! It watches `/local/domain/<our domid>/backend/vsnd` (where the
//! toolstack puts the devices it gives us) and each device's frontend, and
//! feeds the engine: [`DeviceSet::on_watch`] for XenStore changes,
//! [`StreamChannel::service`](crate::backend::StreamChannel::service) for
//! each stream on its ring's notification and at its deadline (position
//! events), like `sndback`'s loop. [`VsndServer::poll`] never waits;
//! [`VsndServer::run_until`] waits (halted) for the next event, stream
//! deadline or its own deadline, whichever comes first.
//!
//! The application chooses every stream's sink and source with the
//! [`MediaFactory`] it passes to [`Runtime::serve_vsnd`](crate::rt::Runtime::serve_vsnd).
#![deny(unsafe_code)]

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::arch::foreign::{self, ForeignPage};
use crate::arch::platform::XenPlatform;
use crate::backend::xenbus::{
    parse_frontend_token, DeviceSet, DeviceSettings, StreamSummary, XenBusHost,
};
use crate::backend::{GrantMapper, Sink, Source};
use crate::pcm::Clock as _;
use crate::sndif::config::ConfiguredStream;
use crate::sndif::frontend::Frontend;
use crate::xen::xenbus::XenbusState;
use crate::xen::{Clock as _, DomId, EventChannels as _, GrantRef, XenError};

/// Makes the sink and source of a stream of frontend `domid` (called when
/// the stream connects).
pub type MediaFactory = Box<dyn FnMut(u32, &ConfiguredStream) -> (Box<dyn Sink>, Box<dyn Source>)>;

/// `(foreign pages mapped now, slots in the window, slots lost to failed
/// unmaps)`: once every served device went away (or the server was
/// dropped) the first is 0.
pub fn foreign_usage() -> (u64, u64, u64) {
    foreign::usage()
}

/// The watch token of the backend root (the frontend's own watches are
/// `vsnd-backend:<path>`, the shutdown watch `control-shutdown`; the
/// devices' frontend watches are `fe/<domid>/<dev>`).
const BACKEND_TOKEN: &str = "serve-vsnd-root";

/// Maps grants of one frontend domain at the foreign-mapping window.
#[derive(Debug, Clone, Copy)]
pub struct GuestMapper {
    domid: DomId,
}

impl GuestMapper {
    /// A mapper for grants of `domid`.
    pub fn new(domid: DomId) -> Self {
        Self { domid }
    }
}

impl GrantMapper for GuestMapper {
    type Page = ForeignPage;

    fn map(&mut self, gref: GrantRef, writable: bool) -> Result<ForeignPage, XenError> {
        foreign::map(self.domid, gref, writable)
    }

    /// One `GNTTABOP_map_grant_ref` call for all of them; all or nothing.
    fn map_many(
        &mut self,
        grefs: &[GrantRef],
        writable: bool,
    ) -> Result<Vec<ForeignPage>, XenError> {
        foreign::map_many(self.domid, grefs, writable)
    }
}

/// The engine's host for one call: the runtime's XenStore and platform.
struct Host<'a> {
    sound: &'a Frontend<XenPlatform>,
    media: &'a mut MediaFactory,
    mapper: GuestMapper,
}

impl GrantMapper for Host<'_> {
    type Page = ForeignPage;

    fn map(&mut self, gref: GrantRef, writable: bool) -> Result<ForeignPage, XenError> {
        self.mapper.map(gref, writable)
    }

    fn map_many(
        &mut self,
        grefs: &[GrantRef],
        writable: bool,
    ) -> Result<Vec<ForeignPage>, XenError> {
        self.mapper.map_many(grefs, writable)
    }
}

impl XenBusHost for Host<'_> {
    fn read(&mut self, path: &str) -> Option<String> {
        self.sound
            .with_store(|store, xen| store.read_optional(xen, path))
            .ok()
            .flatten()
    }

    fn write(&mut self, path: &str, value: &str) -> Result<(), String> {
        self.sound
            .with_store(|store, xen| store.write(xen, path, value.as_bytes()))
            .map_err(|error| error.to_string())
    }

    fn directory(&mut self, path: &str) -> Vec<String> {
        self.sound
            .with_store(|store, xen| store.directory(xen, path))
            .unwrap_or_default()
    }

    fn watch(&mut self, path: &str, token: &str) -> Result<(), String> {
        self.sound
            .with_store(|store, xen| store.watch(xen, path, token))
            .map_err(|error| error.to_string())
    }

    fn unwatch(&mut self, path: &str, token: &str) {
        if let Err(error) = self
            .sound
            .with_store(|store, xen| store.unwatch(xen, path, token))
        {
            log::warn!("unwatch {path}: {error}");
        }
    }

    fn remove(&mut self, path: &str) {
        match self.sound.with_store(|store, xen| store.rm(xen, path)) {
            Ok(()) => {}
            Err(error) if error.is_not_found() => {}
            Err(error) => log::warn!("remove {path}: {error}"),
        }
    }

    fn bind_interdomain(&mut self, domid: u32, remote_port: u32) -> Result<u32, String> {
        let domid = DomId::try_from(domid).map_err(|_| "domain id out of range".to_string())?;
        self.sound
            .with_platform(|xen| xen.bind_interdomain(domid, remote_port))
            .map_err(|error| alloc::format!("EVTCHNOP_bind_interdomain: {error:?}"))
    }

    fn unbind(&mut self, port: u32) {
        self.sound.with_platform(|xen| xen.close(port));
    }

    fn media(&mut self, domid: u32, stream: &ConfiguredStream) -> (Box<dyn Sink>, Box<dyn Source>) {
        (self.media)(domid, stream)
    }

    fn set_frontend(&mut self, domid: u32) {
        // A domain id past 16 bits maps nothing (Xen refuses DOMID_INVALID).
        self.mapper = GuestMapper::new(DomId::try_from(domid).unwrap_or(0x7ff4));
    }
}

/// The vsnd backend of this guest (see the module docs). Dropping it tears
/// every device down (streams closed, pages unmapped, ports closed) and
/// removes its watches.
pub struct VsndServer<'rt> {
    sound: &'rt Frontend<XenPlatform>,
    settings: DeviceSettings,
    media: MediaFactory,
    set: DeviceSet<ForeignPage>,
}

impl<'rt> VsndServer<'rt> {
    /// Serve the devices under `settings.backend_root` with `media`:
    /// set up the foreign-mapping window (`window`: its first frame and
    /// length), watch the root and take the devices already there.
    pub(crate) fn start(
        sound: &'rt Frontend<XenPlatform>,
        settings: DeviceSettings,
        media: MediaFactory,
        window: (u64, u64),
    ) -> Result<Self, String> {
        if window.1 == 0 {
            return Err("no foreign-mapping window (no room above RAM)".into());
        }
        if foreign::usage().1 == 0 && !foreign::init(window.0, window.1) {
            return Err("foreign-mapping window unusable".into());
        }
        let mut server = Self {
            sound,
            settings,
            media,
            set: DeviceSet::default(),
        };
        let root = server.settings.backend_root.clone();
        server
            .host(0)
            .watch(&root, BACKEND_TOKEN)
            .map_err(|error| alloc::format!("watch {root}: {error}"))?;
        log::info!(
            "vsnd backend: watching {root} ({} foreign slots at gfn {:#x})",
            window.1,
            window.0
        );
        let mut host = Host {
            sound: server.sound,
            media: &mut server.media,
            mapper: GuestMapper::new(0),
        };
        server.set.rescan(&server.settings, &mut host);
        Ok(server)
    }

    fn host(&mut self, domid: DomId) -> Host<'_> {
        Host {
            sound: self.sound,
            media: &mut self.media,
            mapper: GuestMapper::new(domid),
        }
    }

    /// Do what is due now, without waiting: XenStore changes (devices
    /// appearing, connecting, closing, going away), streams whose ring was
    /// notified or whose deadline passed. Returns the final records of
    /// streams torn down meanwhile.
    pub fn poll(&mut self) -> Vec<StreamSummary> {
        let mut torn = Vec::new();
        let _ = self.sound.with_store(|store, xen| store.poll(xen));
        loop {
            let event = self.sound.with_store(|store, _| {
                store.take_watch_event_where(|token| {
                    token == BACKEND_TOKEN || parse_frontend_token(token).is_some()
                })
            });
            let Some(event) = event else {
                break;
            };
            log::trace!("watch {}: {}", event.token, event.path);
            let mut host = Host {
                sound: self.sound,
                media: &mut self.media,
                mapper: GuestMapper::new(0),
            };
            torn.extend(self.set.on_watch(
                &self.settings,
                &mut host,
                BACKEND_TOKEN,
                &event.path,
                &event.token,
            ));
        }
        let now = self.sound.now_ns();
        let mut broken = Vec::new();
        for (key, device) in &mut self.set.devices {
            let mut mapper = GuestMapper::new(DomId::try_from(key.0).unwrap_or(0x7ff4));
            for live in &mut device.streams {
                let (ring_fired, _) = self.sound.with_platform(|xen| {
                    // The frontend has no reason to signal the event page's
                    // channel: its signal is only taken off.
                    (
                        xen.take_pending(live.ring_port),
                        xen.take_pending(live.event_port),
                    )
                });
                if ring_fired {
                    live.channel.note_notification();
                }
                let due = live.deadline_ns.is_some_and(|deadline| deadline <= now);
                if !ring_fired && !due {
                    continue;
                }
                let result = live.channel.service(&mut mapper, now);
                self.sound.with_platform(|xen| {
                    if result.notify_ring {
                        xen.notify(live.ring_port);
                    }
                    if result.notify_events {
                        xen.notify(live.event_port);
                    }
                });
                live.deadline_ns = result.next_deadline_ns;
                if live.channel.is_broken() {
                    broken.push(*key);
                }
            }
        }
        broken.dedup();
        for key in broken {
            if let Some(device) = self.set.devices.get_mut(&key) {
                log::error!(
                    "dom{} vsnd {}: a frontend ring is corrupted: closing the device",
                    key.0,
                    key.1
                );
                let mut host = Host {
                    sound: self.sound,
                    media: &mut self.media,
                    mapper: GuestMapper::new(DomId::try_from(key.0).unwrap_or(0x7ff4)),
                };
                torn.extend(device.close(&mut host));
            }
        }
        torn
    }

    /// The earliest stream deadline (a position event, more requests to
    /// serve), if any stream has one.
    pub fn next_due_ns(&self) -> Option<u64> {
        self.set
            .devices
            .values()
            .flat_map(|device| device.streams.iter().filter_map(|live| live.deadline_ns))
            .min()
    }

    /// [`VsndServer::poll`] until `deadline_ns` (the runtime's clock),
    /// halted between events and stream deadlines. Returns the records of
    /// streams torn down meanwhile.
    pub fn run_until(&mut self, deadline_ns: u64) -> Vec<StreamSummary> {
        let mut torn = Vec::new();
        loop {
            torn.extend(self.poll());
            let now = self.sound.now_ns();
            if now >= deadline_ns {
                return torn;
            }
            let wake = self
                .next_due_ns()
                .map_or(deadline_ns, |due| due.min(deadline_ns));
            if wake > now {
                // A notification or XenStore message that arrives from now
                // on ends the halt (interrupts are off until `hlt`).
                self.sound.with_platform(|xen| xen.wait_until(wake));
            }
        }
    }

    /// Every device set up: `(frontend domid, device, our XenBus state,
    /// connected streams)`.
    pub fn devices(&self) -> Vec<(u32, u32, XenbusState, usize)> {
        self.set
            .devices
            .iter()
            .map(|(key, device)| (key.0, key.1, device.state(), device.streams.len()))
            .collect()
    }

    /// Identity and counters of every connected stream.
    pub fn streams(&self) -> Vec<StreamSummary> {
        self.set
            .devices
            .values()
            .flat_map(|device| device.records(true))
            .collect()
    }
}

impl Drop for VsndServer<'_> {
    fn drop(&mut self) {
        let devices = core::mem::take(&mut self.set.devices);
        for (key, device) in devices {
            let mut host = Host {
                sound: self.sound,
                media: &mut self.media,
                mapper: GuestMapper::new(DomId::try_from(key.0).unwrap_or(0x7ff4)),
            };
            device.remove(&mut host);
        }
        let root = self.settings.backend_root.clone();
        self.host(0).unwatch(&root, BACKEND_TOKEN);
        let (mapped, _, lost) = foreign::usage();
        log::info!("vsnd backend: stopped, {mapped} pages still mapped, {lost} slots lost");
    }
}
