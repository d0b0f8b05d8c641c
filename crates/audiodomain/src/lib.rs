//! xensnd as an audio domain (issue #16): the guests' sndif playback
//! streams, served by the backend engine ([`xensnd_backend`]), feed one
//! mixer ([`xensnd_mix::Mixer`]); the domain's loop takes the mix at its
//! output's pace and plays it through its own frontend, ducking the guests
//! under its own alerts.
//!
//! This crate is the glue, pure and host-tested like the two crates it
//! joins:
//! - [`SharedMixer`]: the one mixer, shared (`Rc<RefCell<Mixer>>`) by every
//!   [`MixerSink`] and the [`AudioDomain`]. The guest is single-threaded
//!   and its loop calls the engine (which calls the sinks) and
//!   [`AudioDomain::mix`] one after the other, never one inside the other,
//!   so a borrow never meets another one.
//! - [`MixerSink`]: an [`xensnd_backend::Sink`] (one per guest stream; the
//!   host's `media` hook makes it with [`SharedMixer::sink`]). OPEN
//!   ([`Sink::start`]) adds a mixer client in the stream's own format
//!   ([`PcmParams::stream_config`]: the one [`StreamConfig`] type), paused;
//!   a WRITE ([`Sink::write`]) queues its bytes into that client; the
//!   guest's TRIGGER ([`Sink::trigger`]) START and RESUME unpause it, PAUSE
//!   pauses it (queue kept), STOP pauses it and drops its queue (a paused
//!   client is silent and counts no underrun); CLOSE ([`Sink::finish`])
//!   and a torn-down device (the sink dropped) remove it: the next mix goes
//!   on without it. The stream's position follows the mix
//!   ([`Sink::output_frames`]: the client's frames mixed plus the silence
//!   mixed for it when its queue ran dry, so
//!   [`xensnd_backend::pacing::Pace::Output`]): the guest's CUR_POS events
//!   come as the output consumes its audio, whatever the wall clock says,
//!   and a stalled output stalls the guest (no position, no underrun). A
//!   stream the mixer cannot take is
//!   refused at OPEN (the guest sees `-EIO`), logged with the reason and
//!   kept in [`SharedMixer::last_refusal`]: a rate other than the output's
//!   (no resampling yet: the vsnd configuration the domain offers should
//!   list only the output's rate), a format without a sample conversion,
//!   more than [`xensnd_mix::MAX_CHANNELS`] channels.
//! - [`AudioDomain`]: owns the shared mixer and the output's configuration;
//!   [`AudioDomain::mix`] produces the next output block (the loop calls
//!   it as its own frontend takes frames), [`AudioDomain::start_alert`] /
//!   [`AudioDomain::push_alert`] / [`AudioDomain::stop_alert`] play the
//!   domain's own alert as a priority client and duck the guests under it.
//!
//! A guest's client queue holds [`QUEUE_BUFFERS`] times the guest's buffer
//! (a guest paced by the mix writes at most a buffer ahead of it, plus less
//! than a period after an underrun, see [`xensnd_backend::pacing`]);
//! what does not fit is refused and counted by the mixer
//! ([`xensnd_mix::ClientStats`]), the WRITE still succeeds (as a sound
//! card drops samples on an overrun), and [`xensnd_mix::Mixer::misbehaving`]
//! tells the loop whom to mute or drop.
//!
//! # Not there yet
//! - The audio domain's loop must service its guests' streams after each
//!   mix for their events to be prompt: with output-paced positions the
//!   engine's deadlines ([`xensnd_backend::ServiceResult::next_deadline_ns`])
//!   are estimates at the nominal rate, so a host that only follows them
//!   (as the simulator's does) sends an event up to a period of wall time
//!   late.
//! - A guest that drained and stays started (no STOP) is mixed as silence
//!   and counted as underrunning (and, after [`xensnd_mix::Policy`]'s
//!   `stall_mixes`, as stalled) until it stops or closes.
//! - A guest started with nothing written is mixed as silence (counted as
//!   an underrun by the mixer, not by the engine) until its first WRITE.
//! - The guest runtime serves other guests (`xensnd::serve`, feature
//!   `backend`: grant mapping at a foreign-mapping window,
//!   `bind_interdomain`) and `apps/audiodomain` runs this glue on it, but
//!   only the simulator (`tests/sim.rs`) has run it so far, not Xen; the
//!   demo image does not link this crate.
//! - No xl driver-domain scenario (`backend=` the audio domain in the
//!   guests' `vsnd` lines, the domain's own vsnd to dom0).
//! - No capture ([`xensnd_mix::CaptureFanout`] is not wired to sources).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod timeline;
pub use timeline::{Segment, Timeline};

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::fmt;

use xensnd_backend::io::{IoError, Sink, Trigger};
use xensnd_backend::PcmParams;
use xensnd_mix::{ClientId, ClientOptions, Consumed, MixError, Mixer};
use xensnd_pcm::StreamConfig;

/// A guest's mixer queue holds this many of its buffers
/// ([`PcmParams::buffer_frames`]): the guest writes a buffer ahead of its
/// position, and its position may be ahead of the mix by less than a period
/// after an underrun (see the [crate docs](crate)).
pub const QUEUE_BUFFERS: u32 = 2;

/// Why a guest stream was refused at OPEN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The sink's label (e.g. `dom3 spk`).
    pub label: String,
    /// Why.
    pub reason: RefusalReason,
}

/// What made a stream unmixable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// A `XENSND_PCM_FORMAT_*` code with no sample format.
    UnknownFormat(u8),
    /// The mixer refused the client (another rate: no resampling; a
    /// format without a conversion; too many channels).
    Mixer(MixError),
}

impl fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            RefusalReason::UnknownFormat(code) => write!(
                formatter,
                "{}: refused: unknown format code {code}",
                self.label
            ),
            RefusalReason::Mixer(error) => write!(formatter, "{}: refused: {error}", self.label),
        }
    }
}

/// The domain's one mixer, shared by its sinks and its loop; clones are
/// handles on the same mixer (see the [crate docs](crate) for why a
/// `RefCell` borrow never overlaps another).
#[derive(Debug, Clone)]
pub struct SharedMixer {
    mixer: Rc<RefCell<Mixer>>,
    next_id: Rc<Cell<u32>>,
    last_refusal: Rc<RefCell<Option<Refusal>>>,
}

impl SharedMixer {
    fn new(mixer: Mixer) -> Self {
        Self {
            mixer: Rc::new(RefCell::new(mixer)),
            next_id: Rc::new(Cell::new(0)),
            last_refusal: Rc::new(RefCell::new(None)),
        }
    }

    /// A fresh client id (never reused while this mixer lives).
    fn next_id(&self) -> ClientId {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        ClientId(id)
    }

    /// A sink for one guest stream, labelled `label` in logs and
    /// refusals (e.g. `dom3 spk`); it has its own client id, and a client
    /// in the mixer from its OPEN to its CLOSE.
    pub fn sink(&self, label: impl Into<String>) -> MixerSink {
        MixerSink {
            shared: self.clone(),
            id: self.next_id(),
            label: label.into(),
            added: false,
            output_frames: Cell::new(0),
        }
    }

    /// Run `body` on the mixer (stats, mute, misbehaving clients). Panics
    /// if called from inside another such call.
    pub fn with<T>(&self, body: impl FnOnce(&mut Mixer) -> T) -> T {
        body(&mut self.mixer.borrow_mut())
    }

    /// The last guest stream refused at OPEN, and why.
    pub fn last_refusal(&self) -> Option<Refusal> {
        self.last_refusal.borrow().clone()
    }
}

/// The [`Sink`] of one guest playback stream: its WRITEs go into its own
/// client of the [`SharedMixer`] (see the [crate docs](crate)).
#[derive(Debug)]
pub struct MixerSink {
    shared: SharedMixer,
    id: ClientId,
    label: String,
    added: bool,
    /// The last [`Sink::output_frames`] read (kept when the client is
    /// gone or the mixer busy).
    output_frames: Cell<u64>,
}

impl MixerSink {
    /// The sink's client id in the mixer (a client exists only while the
    /// stream is open).
    pub fn id(&self) -> ClientId {
        self.id
    }

    fn remove(&mut self) {
        if !core::mem::take(&mut self.added) {
            return;
        }
        match self.shared.mixer.try_borrow_mut() {
            Ok(mut mixer) => {
                if let Ok(stats) = mixer.remove_client(self.id) {
                    log::info!(
                        "{}: left the mix ({} frames mixed, {} bytes refused, {} underruns)",
                        self.label,
                        stats.consumed_frames,
                        stats.refused_bytes,
                        stats.underruns
                    );
                }
            }
            Err(_) => log::error!("{}: mixer busy, client {} stays", self.label, self.id.0),
        }
    }
}

impl Sink for MixerSink {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        self.remove();
        let added = match params.stream_config() {
            None => Err(RefusalReason::UnknownFormat(params.format)),
            Some(config) => {
                let options = ClientOptions {
                    queue_frames: params.buffer_frames.saturating_mul(QUEUE_BUFFERS).max(1),
                    priority: false,
                };
                let mut mixer = self.shared.mixer.borrow_mut();
                // Silent until the guest's TRIGGER START.
                mixer
                    .add_client(self.id, &config, options)
                    .and_then(|()| mixer.set_paused(self.id, true))
                    .map_err(RefusalReason::Mixer)
            }
        };
        match added {
            Ok(()) => {
                self.added = true;
                log::info!("{}: joined the mix as client {}", self.label, self.id.0);
                Ok(())
            }
            Err(reason) => {
                let refusal = Refusal {
                    label: self.label.clone(),
                    reason,
                };
                log::warn!("{refusal}");
                *self.shared.last_refusal.borrow_mut() = Some(refusal);
                Err(IoError)
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        if !self.added {
            return Err(IoError);
        }
        // What does not fit is counted by the mixer (a flood): the WRITE
        // succeeds, as a card drops samples on an overrun.
        self.shared
            .mixer
            .borrow_mut()
            .push(self.id, bytes)
            .map(|_| ())
            .map_err(|_| IoError)
    }

    fn finish(&mut self) -> Result<(), IoError> {
        self.remove();
        Ok(())
    }

    /// START and RESUME unpause the client, PAUSE pauses it (its queue
    /// kept), STOP pauses it and drops its queue: a paused client is not
    /// mixed, consumes nothing and counts no underrun.
    fn trigger(&mut self, trigger: Trigger) -> Result<(), IoError> {
        if !self.added {
            return Err(IoError);
        }
        let mut mixer = self.shared.mixer.borrow_mut();
        let paused = matches!(trigger, Trigger::Pause | Trigger::Stop);
        mixer.set_paused(self.id, paused).map_err(|_| IoError)?;
        if trigger == Trigger::Stop {
            mixer.clear_queue(self.id).map_err(|_| IoError)?;
        }
        Ok(())
    }

    /// The client's frames mixed plus the silence mixed for it when its
    /// queue ran dry ([`xensnd_mix::ClientStats`]): the output's time for
    /// this stream, which paces its position
    /// ([`xensnd_backend::pacing::Pace::Output`]).
    fn output_frames(&self) -> Option<u64> {
        if self.added {
            if let Ok(mixer) = self.shared.mixer.try_borrow() {
                if let Ok(stats) = mixer.client_stats(self.id) {
                    self.output_frames
                        .set(stats.consumed_frames + stats.underrun_frames);
                }
            }
        }
        Some(self.output_frames.get())
    }
}

impl Drop for MixerSink {
    /// A device torn down without CLOSE (the guest vanished): leave the mix.
    fn drop(&mut self) {
        self.remove();
    }
}

/// How the guests are ducked under an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duck {
    /// The guests' gain during an alert, 0.001 dB (e.g. -12 000).
    pub millidb: i32,
    /// The ramp down at the alert's start and back up at its end, ms of
    /// output (0: at once).
    pub ramp_ms: u32,
}

/// The audio domain's mixing side: the shared mixer, the output's
/// configuration, the alerts playing.
#[derive(Debug)]
pub struct AudioDomain {
    shared: SharedMixer,
    output: StreamConfig,
    alerts: Vec<ClientId>,
    report: Vec<Consumed>,
    timeline: Timeline,
}

impl AudioDomain {
    /// A domain whose output (its own frontend's stream) is `output`:
    /// the guests' streams must be at `output.rate`.
    pub fn new(output: &StreamConfig) -> Result<Self, MixError> {
        Ok(Self {
            shared: SharedMixer::new(Mixer::new(output)?),
            output: *output,
            alerts: Vec::new(),
            report: Vec::new(),
            timeline: Timeline::new(),
        })
    }

    /// The output's configuration.
    pub fn output(&self) -> &StreamConfig {
        &self.output
    }

    /// The shared mixer (for the backend host's sink factory).
    pub fn mixer(&self) -> &SharedMixer {
        &self.shared
    }

    /// A sink for one guest stream ([`SharedMixer::sink`]).
    pub fn sink(&self, label: impl Into<String>) -> MixerSink {
        self.shared.sink(label)
    }

    /// The next `frames` frames of output into the start of `out` (in the
    /// output's format), as [`Mixer::mix`]; returns what each client
    /// (guest streams and alerts) gave, in mixing order.
    pub fn mix(&mut self, frames: usize, out: &mut [u8]) -> Result<&[Consumed], MixError> {
        let mut mixer = self.shared.mixer.borrow_mut();
        let consumed = mixer.mix(frames, out)?;
        self.report.clear();
        self.report.extend_from_slice(consumed);
        self.timeline.record(frames as u64, &self.report);
        Ok(&self.report)
    }

    /// The runs of clients' frames in the output that ended since the last
    /// call ([`Timeline`]): where each guest's audio went.
    pub fn take_segments(&mut self) -> Vec<Segment> {
        self.timeline.take_finished()
    }

    /// End every run (the output stops) and return those not yet taken.
    pub fn close_segments(&mut self) -> Vec<Segment> {
        self.timeline.close()
    }

    /// The timeline of the output (frames mixed, runs dropped).
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// Start an alert of the domain's own: a priority client (never
    /// ducked) in `config`'s format at the output's rate, with a queue of
    /// `queue_frames`, and the guests ducked as `duck` says. Returns its
    /// id for [`AudioDomain::push_alert`] and [`AudioDomain::stop_alert`].
    pub fn start_alert(
        &mut self,
        config: &StreamConfig,
        queue_frames: u32,
        duck: Duck,
    ) -> Result<ClientId, MixError> {
        let id = self.shared.next_id();
        let options = ClientOptions {
            queue_frames,
            priority: true,
        };
        let mut mixer = self.shared.mixer.borrow_mut();
        mixer.add_client(id, config, options)?;
        mixer.duck(duck.millidb, duck.ramp_ms);
        self.alerts.try_reserve(1).map_err(|_| MixError::TooLarge)?;
        self.alerts.push(id);
        Ok(id)
    }

    /// Queue an alert's bytes; returns the bytes taken (the rest did not
    /// fit).
    pub fn push_alert(&mut self, id: ClientId, bytes: &[u8]) -> Result<usize, MixError> {
        if !self.alerts.contains(&id) {
            return Err(MixError::UnknownClient(id));
        }
        self.shared.mixer.borrow_mut().push(id, bytes)
    }

    /// Stop an alert (what it still queued is dropped); the last one
    /// playing brings the guests back to 0 dB over `ramp_ms`.
    pub fn stop_alert(&mut self, id: ClientId, ramp_ms: u32) -> Result<(), MixError> {
        let index = self
            .alerts
            .iter()
            .position(|alert| *alert == id)
            .ok_or(MixError::UnknownClient(id))?;
        self.alerts.remove(index);
        let mut mixer = self.shared.mixer.borrow_mut();
        mixer.remove_client(id)?;
        if self.alerts.is_empty() {
            mixer.unduck(ramp_ms);
        }
        Ok(())
    }

    /// Whether an alert is playing.
    pub fn alerting(&self) -> bool {
        !self.alerts.is_empty()
    }
}
