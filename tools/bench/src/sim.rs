//! The host-simulation benchmarks: the real frontend (`xensnd_sndif`)
//! against the real backend engine hosted in the simulator
//! (`xensnd_sim::backend_host::SimSndBackend`), as in `tests/sndif_sim.rs`.
//!
//! - [`protocol`]: notifications, requests and blocking waits per period
//!   for an application writing one period at a time with the blocking
//!   `write` (what the tone demo does).
//! - [`cpu`]: the frontend's data path (copying `try_write` or zero-copy
//!   `write_in_place`) or a plain copy of the same bytes into a page chain,
//!   each call going through one `#[inline(never)]` function that
//!   callgrind's `--toggle-collect` counts alone.
//! - [`throughput`]: simulated seconds of audio per host second.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use xen_guest::{Clock, PAGE_SIZE};
use xensnd_backend::xenbus::DeviceSettings;
use xensnd_backend::Counters;
use xensnd_demo::signal::Crc32;
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Playback, Stream, StreamState};
use xensnd_sim::backend_host::{SimBackendView, SimSndBackend};
use xensnd_sim::vsnd::{add_vsnd_device, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::SndPlayback;

const GUEST: u16 = 7;
const STREAM: &str = "spk";

/// A PCM configuration to benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// Sample format (s16_le or s32_le).
    pub format: SampleFormat,
    /// Bytes per sample.
    pub sample_bytes: usize,
    /// Frames per second.
    pub rate: u32,
    /// Channels.
    pub channels: u8,
    /// Period in frames.
    pub period_frames: u32,
    /// Buffer in periods.
    pub periods: u32,
}

impl Format {
    /// 48 kHz stereo s16, 10 ms periods, 4 periods (the protocol case).
    pub const CD: Format = Format {
        format: SampleFormat::S16Le,
        sample_bytes: 2,
        rate: 48_000,
        channels: 2,
        period_frames: 480,
        periods: 4,
    };
    /// 192 kHz, 8 channels, s32, 10 ms periods, 4 periods (the throughput case).
    pub const WIDE: Format = Format {
        format: SampleFormat::S32Le,
        sample_bytes: 4,
        rate: 192_000,
        channels: 8,
        period_frames: 1920,
        periods: 4,
    };

    /// Bytes per frame.
    pub fn frame_bytes(&self) -> usize {
        self.sample_bytes * self.channels as usize
    }
    /// Bytes per period.
    pub fn period_bytes(&self) -> usize {
        self.period_frames as usize * self.frame_bytes()
    }
    /// Bytes per second of audio.
    pub fn bytes_per_second(&self) -> usize {
        self.rate as usize * self.frame_bytes()
    }
    /// Short label, e.g. `48k/2ch/s16`.
    pub fn label(&self) -> String {
        format!(
            "{}k/{}ch/s{}",
            self.rate / 1000,
            self.channels,
            self.sample_bytes * 8
        )
    }
    fn request(&self) -> StreamRequest {
        StreamRequest {
            format: Some(self.format),
            rate: Some(self.rate),
            channels: Some(self.channels),
            period_frames: Some(self.period_frames),
            buffer_frames: Some(self.period_frames * self.periods),
        }
    }
    fn spec(&self) -> SimVsndSpec {
        let mut spec = SimVsndSpec::simple();
        let buffer = (self.period_bytes() * self.periods as usize).max(65536);
        for (key, value) in spec.card.iter_mut() {
            match key.as_str() {
                "sample-rates" => *value = self.rate.to_string(),
                "sample-formats" => *value = self.format.name().to_string(),
                "channels-max" => *value = self.channels.to_string(),
                "buffer-size" => *value = buffer.to_string(),
                _ => {}
            }
        }
        spec
    }
    /// `frames` frames of a deterministic, non-trivial pattern.
    pub fn render(&self, frames: usize) -> Vec<u8> {
        let mut state = 0x1234_5678u32;
        (0..frames * self.frame_bytes())
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect()
    }
}

/// A connected frontend and simulated backend.
pub struct Rig {
    /// The simulation.
    pub sim: SimXen,
    /// The frontend (guest side).
    pub frontend: Frontend<SimGuest>,
    /// What the backend exposes.
    pub view: Rc<RefCell<SimBackendView>>,
}

impl Rig {
    /// Set up guest, vsnd device, backend and the XenBus handshake.
    pub fn new(format: &Format) -> Result<Rig, String> {
        let sim = SimXen::new();
        let guest = sim.add_guest(GUEST);
        let spec = format.spec();
        sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &spec));
        let view = SimSndBackend::attach(
            &sim,
            DeviceSettings::dom0(16 << 20),
            SimSndBackend::silence(),
        );
        let store = guest.xenstore().map_err(|e| format!("store ring: {e:?}"))?;
        let probe = Frontend::probe(guest, store, FrontendOptions::default())
            .map_err(|e| format!("probe: {e}"))?;
        if !probe.failed.is_empty() {
            return Err(format!("devices failed: {:?}", probe.failed));
        }
        Ok(Rig {
            sim,
            frontend: probe.frontend,
            view,
        })
    }

    /// Open and prepare the playback stream.
    pub fn open(&self, format: &Format) -> Result<SndPlayback<SimGuest>, String> {
        let mut pcm = SndPlayback::open_unique_id(&self.frontend, STREAM, &format.request())
            .map_err(|e| format!("open: {e}"))?;
        let config = *pcm.config();
        if config.rate != format.rate
            || config.channels != format.channels
            || config.period_frames != format.period_frames
        {
            return Err(format!("negotiated {config:?}, wanted {format:?}"));
        }
        pcm.prepare().map_err(|e| format!("prepare: {e}"))?;
        Ok(pcm)
    }

    /// The backend's counters of the playback stream (all connections).
    pub fn backend_counters(&self) -> Counters {
        let view = self.view.borrow();
        let mut total = Counters::default();
        for summary in view.active.iter().chain(view.history.iter()) {
            if summary.unique_id == STREAM {
                total.accumulate(&summary.counters);
            }
        }
        total
    }

    /// Everything the backend played on the playback stream.
    pub fn played(&self) -> Vec<u8> {
        self.view.borrow().played(u32::from(GUEST), STREAM)
    }

    /// Let simulated time pass like a guest's `hlt` until the next event
    /// (at most `ns`): the backend and xenstored run, and the guest wakes
    /// when one of its event channels fires or at the deadline. (The
    /// simulator's own `wait_until` also returns on any backend progress,
    /// a spurious wake-up a halted vCPU does not have: counting the data
    /// path per period, that would add calls the real guest never makes.)
    pub fn sleep(&self, ns: u64) {
        const TICK_NS: u64 = 50_000;
        self.frontend.with_platform(|xen| {
            let deadline = xen.now_ns() + ns;
            loop {
                if xen.upcall() > 0 || xen.now_ns() >= deadline {
                    return;
                }
                if !self.sim.step() {
                    let now = xen.now_ns();
                    self.sim.advance_to((now + TICK_NS).min(deadline));
                }
            }
        });
    }
}

/// Figures of the protocol benchmark.
#[derive(Debug, Clone, Default)]
pub struct ProtocolResult {
    /// Configuration label.
    pub format: String,
    /// Periods of audio played.
    pub periods: u64,
    /// Simulated seconds from the first write to the end of the drain.
    pub simulated_seconds: f64,
    /// Notifications the frontend sent on the request ring's channel.
    pub frontend_notifications_sent: u64,
    /// Notifications the backend took in (pending bits: coalesced).
    pub backend_notifications_in: u64,
    /// Backend → frontend notifications on the request ring's channel (responses).
    pub backend_ring_notifications: u64,
    /// Backend → frontend notifications on the event page's channel (CUR_POS).
    pub backend_event_notifications: u64,
    /// Requests the backend served (every operation).
    pub requests: u64,
    /// WRITE requests.
    pub writes: u64,
    /// Requests other than WRITE (OPEN, TRIGGER, HW_PARAM_QUERY, ...).
    pub other_requests: u64,
    /// CUR_POS events the frontend took in.
    pub events: u64,
    /// Times the stream blocked (`StreamCounters::blocking_waits`).
    pub blocking_waits: u64,
    /// Of those, waits in a `write` that started with a period of room
    /// (waiting for a response, not for the audio to play).
    pub round_trip_waits: u64,
    /// `write` calls that blocked at least once.
    pub writes_that_blocked: u64,
    /// Most WRITEs in flight at once.
    pub max_in_flight: usize,
    /// Underruns the frontend counted.
    pub underruns: u64,
    /// Whether the backend played exactly the bytes written.
    pub audio_exact: bool,
}

/// Play `seconds` of `format` one period per blocking `write`, then drain.
pub fn protocol(format: &Format, seconds: f64) -> Result<ProtocolResult, String> {
    let rig = Rig::new(format)?;
    let mut pcm = rig.open(format)?;
    let frames = (seconds * f64::from(format.rate)) as usize;
    let periods = frames / format.period_frames as usize;
    let audio = format.render(periods * format.period_frames as usize);
    let mut result = ProtocolResult {
        format: format.label(),
        periods: periods as u64,
        ..ProtocolResult::default()
    };
    let setup = rig.backend_counters();
    let start_ns = rig.sim.now_ns();
    for chunk in audio.chunks(format.period_bytes()) {
        let room = pcm.available() >= format.period_frames as usize;
        let waits_before = pcm.counters().blocking_waits;
        let mut done = 0;
        while done < chunk.len() {
            done += pcm
                .write(&chunk[done..])
                .map_err(|e| format!("write: {e}"))?
                * format.frame_bytes();
        }
        let waits = pcm.counters().blocking_waits - waits_before;
        if waits > 0 {
            result.writes_that_blocked += 1;
            if room {
                result.round_trip_waits += waits;
            }
        }
    }
    pcm.drain().map_err(|e| format!("drain: {e}"))?;
    result.simulated_seconds = (rig.sim.now_ns() - start_ns) as f64 / 1e9;
    let counters = pcm.counters();
    let stats = pcm.channel_stats();
    let backend = rig.backend_counters();
    result.frontend_notifications_sent = stats.notifications_sent;
    result.events = stats.events;
    result.blocking_waits = counters.blocking_waits;
    result.max_in_flight = counters.max_in_flight;
    result.underruns = counters.underruns;
    // Everything from the first write on (OPEN and the query are setup).
    result.backend_notifications_in = backend.notifications_in - setup.notifications_in;
    result.backend_ring_notifications = backend.notifications_out - setup.notifications_out;
    result.backend_event_notifications =
        backend.event_notifications_out - setup.event_notifications_out;
    result.requests = backend.total_requests() - setup.total_requests();
    let write = usize::from(xen_abi::sndif::XENSND_OP_WRITE);
    result.writes = backend.requests[write] - setup.requests[write];
    result.other_requests = result.requests - result.writes;
    result.audio_exact = rig.played() == audio;
    pcm.close().map_err(|e| format!("close: {e}"))?;
    Ok(result)
}

/// What the CPU benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `Playback::try_write`: the frontend copies into the shared buffer.
    Copy,
    /// `SndPlayback::write_in_place`: the application writes into the pages.
    ZeroCopy,
    /// No frontend: the same bytes copied into a page chain of the same size.
    Floor,
}

impl Path {
    /// Parse `copy`, `zero-copy` or `floor`.
    pub fn parse(text: &str) -> Option<Path> {
        match text {
            "copy" => Some(Path::Copy),
            "zero-copy" => Some(Path::ZeroCopy),
            "floor" => Some(Path::Floor),
            _ => None,
        }
    }
    /// The name `parse` takes.
    pub fn name(&self) -> &'static str {
        match self {
            Path::Copy => "copy",
            Path::ZeroCopy => "zero-copy",
            Path::Floor => "floor",
        }
    }
}

/// Figures of one CPU run (the instruction count comes from callgrind).
#[derive(Debug, Clone, Default)]
pub struct CpuRun {
    /// Bytes moved through the measured function.
    pub bytes: u64,
    /// Calls of the measured function.
    pub calls: u64,
    /// Blocking waits inside the measured function (should be 0: waiting
    /// is done outside it, like a guest's `hlt`).
    pub waits_inside: u64,
    /// CRC-32 of what arrived (backend or page chain), to check the run.
    pub crc32: u32,
    /// CRC-32 of the source.
    pub source_crc32: u32,
}

/// The measured function of the data-path runs: one wake-up of a writer
/// that queues a period at a time (the frontend polls; if a period fits,
/// it copies or fills in place, pushes a WRITE and notifies), which is
/// what the blocking `write` does between two waits. Returns the bytes
/// taken (0: no room yet). Its name is what callgrind's `--toggle-collect`
/// matches.
#[inline(never)]
pub fn bench_frontend_data_path(
    pcm: &mut SndPlayback<SimGuest>,
    path: Path,
    source: &[u8],
) -> usize {
    let frame = pcm.config().frame_bytes().unwrap_or(1) as usize;
    let frames = source.len() / frame;
    // Poll; like ALSA's avail_min, wait for a whole chunk of room (this
    // also keeps `write_in_place` from blocking).
    if !pcm.write_ready().unwrap_or(false) || pcm.available() < frames {
        return 0;
    }
    match path {
        Path::Copy => pcm.try_write(source).map_or(0, |frames| frames * frame),
        Path::ZeroCopy => pcm
            .write_in_place(frames, |bytes, first| {
                let at = first * frame;
                bytes.copy_from_slice(&source[at..at + bytes.len()]);
            })
            .map_or(0, |frames| frames * frame),
        Path::Floor => 0,
    }
}

/// The measured function of the floor run: copy `source` into the page
/// chain `pages` (a circular buffer) at byte `offset`, page by page.
#[inline(never)]
pub fn bench_copy_floor(pages: &mut [Box<[u8; PAGE_SIZE]>], offset: usize, source: &[u8]) {
    let total = pages.len() * PAGE_SIZE;
    let mut at = offset % total;
    let mut done = 0;
    while done < source.len() {
        let page = at / PAGE_SIZE;
        let in_page = at % PAGE_SIZE;
        let n = (PAGE_SIZE - in_page).min(source.len() - done);
        pages[page][in_page..in_page + n].copy_from_slice(&source[done..done + n]);
        done += n;
        at = (at + n) % total;
    }
}

/// Move `seconds` of `format` through `path`, a period per call.
pub fn cpu(format: &Format, path: Path, seconds: f64) -> Result<CpuRun, String> {
    let periods =
        ((seconds * f64::from(format.rate)) as usize / format.period_frames as usize).max(1);
    let audio = format.render(periods * format.period_frames as usize);
    let mut run = CpuRun {
        source_crc32: Crc32::of(&audio),
        ..CpuRun::default()
    };
    if path == Path::Floor {
        let buffer = format.period_bytes() * format.periods as usize;
        let mut pages: Vec<Box<[u8; PAGE_SIZE]>> = (0..buffer.div_ceil(PAGE_SIZE))
            .map(|_| Box::new([0u8; PAGE_SIZE]))
            .collect();
        let mut crc = Crc32::default();
        let mut offset = 0;
        let mut check = vec![0u8; format.period_bytes()];
        for chunk in audio.chunks(format.period_bytes()) {
            bench_copy_floor(&mut pages, offset, chunk);
            run.calls += 1;
            run.bytes += chunk.len() as u64;
            // Read back (unmeasured) so the copy cannot be optimised away.
            let total = pages.len() * PAGE_SIZE;
            for (i, byte) in check[..chunk.len()].iter_mut().enumerate() {
                let at = (offset + i) % total;
                *byte = pages[at / PAGE_SIZE][at % PAGE_SIZE];
            }
            crc.update(&check[..chunk.len()]);
            offset += chunk.len();
        }
        run.crc32 = crc.value();
        return Ok(run);
    }
    let rig = Rig::new(format)?;
    let mut pcm = rig.open(format)?;
    let period_ns = 1_000_000_000u64 * u64::from(format.period_frames) / u64::from(format.rate);
    let mut done = 0;
    while done < audio.len() {
        let end = (done + format.period_bytes()).min(audio.len());
        let waits_before = pcm.counters().blocking_waits;
        let n = bench_frontend_data_path(&mut pcm, path, &audio[done..end]);
        run.waits_inside += pcm.counters().blocking_waits - waits_before;
        run.calls += 1;
        run.bytes += n as u64;
        done += n;
        if n == 0 {
            if pcm.state() == StreamState::Prepared {
                // The buffer is full: start, as a blocking write would.
                pcm.start().map_err(|e| format!("start: {e}"))?;
            } else {
                // Halt until the backend signals (its position event), as
                // the blocking `write` does (it waits for an event, with no
                // timer of its own per period); a buffer's duration bounds
                // the wait. (A period timer would wake the writer just
                // before the backend's period tick and count one more poll
                // per period that a real writer does not make.)
                rig.sleep(period_ns * u64::from(format.periods));
            }
        }
    }
    pcm.drain().map_err(|e| format!("drain: {e}"))?;
    run.crc32 = Crc32::of(&rig.played());
    pcm.close().map_err(|e| format!("close: {e}"))?;
    Ok(run)
}

/// Figures of the throughput benchmark.
#[derive(Debug, Clone, Default)]
pub struct ThroughputResult {
    /// Configuration label.
    pub format: String,
    /// Simulated seconds of audio played.
    pub audio_seconds: f64,
    /// Host seconds it took (writes and drain; setup excluded).
    pub host_seconds: f64,
    /// `audio_seconds / host_seconds`.
    pub realtime_factor: f64,
    /// Underruns the frontend counted.
    pub underruns: u64,
    /// Whether the backend received exactly the bytes written.
    pub audio_exact: bool,
}

/// Play `seconds` of `format` with blocking writes as fast as the host can.
pub fn throughput(format: &Format, seconds: f64) -> Result<ThroughputResult, String> {
    let rig = Rig::new(format)?;
    let mut pcm = rig.open(format)?;
    let periods =
        ((seconds * f64::from(format.rate)) as usize / format.period_frames as usize).max(1);
    // One second of distinct audio, repeated.
    let second = format.render(format.rate as usize);
    let chunks: Vec<&[u8]> = second.chunks(format.period_bytes()).collect();
    let started = Instant::now();
    for index in 0..periods {
        let chunk = chunks[index % chunks.len()];
        let mut done = 0;
        while done < chunk.len() {
            done += pcm
                .write(&chunk[done..])
                .map_err(|e| format!("write: {e}"))?
                * format.frame_bytes();
        }
    }
    pcm.drain().map_err(|e| format!("drain: {e}"))?;
    let host_seconds = started.elapsed().as_secs_f64();
    let audio_seconds = (periods * format.period_frames as usize) as f64 / f64::from(format.rate);
    let expected: Vec<u8> = (0..periods)
        .flat_map(|index| chunks[index % chunks.len()].iter().copied())
        .collect();
    let result = ThroughputResult {
        format: format.label(),
        audio_seconds,
        host_seconds,
        realtime_factor: audio_seconds / host_seconds,
        underruns: pcm.counters().underruns,
        audio_exact: rig.played() == expected,
    };
    pcm.close().map_err(|e| format!("close: {e}"))?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_smoke_plays_exactly() {
        let result = protocol(&Format::CD, 0.1).unwrap();
        assert_eq!(result.periods, 10);
        assert!(result.audio_exact);
        // One WRITE per period: the blocking write waits for a whole
        // period of room instead of sending the frame or two that fit
        // just after a position event.
        assert_eq!(result.writes, result.periods);
        assert_eq!(result.round_trip_waits, 0);
    }

    #[test]
    fn data_paths_deliver_the_source() {
        for path in [Path::Copy, Path::ZeroCopy, Path::Floor] {
            let run = cpu(&Format::CD, path, 0.1).unwrap();
            assert_eq!(run.crc32, run.source_crc32, "{path:?}");
            assert_eq!(run.waits_inside, 0, "{path:?}");
        }
    }
}
