//! The dom0 host of the XenBus state machine: Xen's libraries plus file sinks.
//!
//! [`xensnd_backend::xenbus`] does the vsnd XenBus dance; this module
//! gives it XenStore (libxenstore), event channels (libxenevtchn), grant
//! mapping for one frontend domain (libxengnttab), and the sinks and
//! sources the command line chose.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::rc::Rc;

use xen_guest::{GrantRef, XenError};
use xensnd_backend::io::{NullSink, SilenceSource, ToneSource};
use xensnd_backend::xenbus::{DeviceSettings, XenBusHost};
use xensnd_backend::{Direction, GrantMapper, Sink, Source};
use xensnd_sndif::config::ConfiguredStream;

use crate::media::{sanitize, FileRegistry, WavSink, WavSource};
use crate::sys::{DomainMapper, EventChannels, GrantTable, MappedPage, XenStore};

/// What feeds capture streams.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// The format's silence.
    Silence,
    /// A sine tone at this frequency.
    Tone(f32),
    /// A WAV file, loaded once.
    Wav(Rc<crate::wav::WavFile>),
}

/// Where audio goes and comes from.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// Where WAV sinks go; `None`: null sinks.
    pub out_dir: Option<PathBuf>,
    /// Capture source of streams without their own.
    pub source: SourceKind,
    /// Capture sources by stream `unique-id` (`--source ID=SOURCE`).
    pub per_stream: Vec<(String, SourceKind)>,
    /// WAV files started so far (shared by every sink).
    pub files: FileRegistry,
}

/// Everything the command line decides.
#[derive(Debug, Clone)]
pub struct Settings {
    /// For the XenBus state machine.
    pub device: DeviceSettings,
    /// For sinks and sources.
    pub media: MediaSettings,
}

/// The sink and source of a stream.
pub fn media_for(
    media: &MediaSettings,
    domid: u32,
    info: &ConfiguredStream,
) -> (Box<dyn Sink>, Box<dyn Source>) {
    match info.direction {
        Direction::Playback => {
            let sink: Box<dyn Sink> = match &media.out_dir {
                Some(directory) => Box::new(WavSink::new(
                    &media.files,
                    directory,
                    &format!("dom{domid}-{}", sanitize(&info.unique_id)),
                )),
                None => Box::new(NullSink),
            };
            (sink, Box::new(SilenceSource::default()))
        }
        Direction::Capture => {
            let kind = media
                .per_stream
                .iter()
                .find(|(id, _)| *id == info.unique_id)
                .map_or(&media.source, |(_, kind)| kind);
            let source: Box<dyn Source> = match kind {
                SourceKind::Silence => Box::new(SilenceSource::default()),
                SourceKind::Tone(frequency) => Box::new(ToneSource::new(*frequency, 0.5)),
                SourceKind::Wav(data) => Box::new(WavSource::new(Rc::clone(data))),
            };
            (Box::new(NullSink), source)
        }
    }
}

/// The host for one frontend domain, borrowed for one call.
pub struct DomHost<'a> {
    /// XenStore.
    pub store: &'a XenStore,
    /// Event channels.
    pub events: &'a EventChannels,
    /// Grant mapping for the frontend domain.
    pub mapper: DomainMapper,
    /// Sinks and sources.
    pub media: &'a MediaSettings,
}

impl<'a> DomHost<'a> {
    /// A host for frontend `domid`.
    pub fn new(
        store: &'a XenStore,
        events: &'a EventChannels,
        table: &Rc<GrantTable>,
        media: &'a MediaSettings,
        domid: u32,
    ) -> Self {
        Self {
            store,
            events,
            mapper: DomainMapper::new(table, domid),
            media,
        }
    }
}

impl GrantMapper for DomHost<'_> {
    type Page = MappedPage;
    fn map(&mut self, gref: GrantRef, writable: bool) -> Result<MappedPage, XenError> {
        self.mapper.map(gref, writable)
    }
    fn map_many(
        &mut self,
        grefs: &[GrantRef],
        writable: bool,
    ) -> Result<Vec<MappedPage>, XenError> {
        self.mapper.map_many(grefs, writable)
    }
}

impl XenBusHost for DomHost<'_> {
    fn read(&mut self, path: &str) -> Option<String> {
        self.store.read(path)
    }
    fn write(&mut self, path: &str, value: &str) -> Result<(), String> {
        self.store
            .write(path, value)
            .map_err(|error| error.to_string())
    }
    fn directory(&mut self, path: &str) -> Vec<String> {
        self.store.directory(path)
    }
    fn watch(&mut self, path: &str, token: &str) -> Result<(), String> {
        self.store
            .watch(path, token)
            .map_err(|error| error.to_string())
    }
    fn unwatch(&mut self, path: &str, token: &str) {
        self.store.unwatch(path, token);
    }
    fn remove(&mut self, path: &str) {
        if let Err(error) = self.store.remove(path) {
            log::warn!("remove {path}: {error}");
        }
    }
    fn bind_interdomain(&mut self, domid: u32, remote_port: u32) -> Result<u32, String> {
        self.events
            .bind_interdomain(domid, remote_port)
            .map_err(|error| error.to_string())
    }
    fn unbind(&mut self, port: u32) {
        self.events.unbind(port);
    }
    fn media(&mut self, domid: u32, stream: &ConfiguredStream) -> (Box<dyn Sink>, Box<dyn Source>) {
        media_for(self.media, domid, stream)
    }
    fn set_frontend(&mut self, domid: u32) {
        self.mapper.set_domid(domid);
    }
}
