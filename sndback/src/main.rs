//! sndback: the dom0 backend for Xen para-virtual sound (`io/sndif.h`).
//!
//! Runs the xensnd backend engine ([`xensnd_backend`]) for every vsnd
//! device under `/local/domain/0/backend/vsnd`, over Xen's own libraries
//! (libxenstore, libxenevtchn, libxengnttab). One thread: poll() on the
//! XenStore and event-channel descriptors, with a timeout for the next
//! position event; never a busy loop. Playback goes to WAV files (or
//! nowhere); capture comes from a tone, silence or a WAV file.
#![deny(unsafe_code)]

mod media;
mod stats;
#[allow(
    unsafe_code,
    reason = "the FFI layer: every block has a SAFETY comment"
)]
mod sys;
mod wav;
mod xenbus;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use xen_abi::sndif::Interval;
use xensnd_backend::xenbus::{DeviceSet, DeviceSettings, StreamSummary};
use xensnd_backend::{Behaviour, Caps, DeviceRates, Ledger, Limits};
use xensnd_pcm::format::FormatSet;
use xensnd_sndif::config::{parse_formats, parse_number, parse_rates};

use crate::sys::{DomainMapper, EventChannels, GrantTable, MappedPage, XenStore};
use crate::xenbus::{DomHost, MediaSettings, Settings, SourceKind};

/// Where playback audio goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SinkKind {
    /// `<out-dir>/dom<domid>-<unique-id>.wav`.
    Wav,
    /// Discard.
    Null,
}

/// dom0 backend for Xen para-virtual sound (sndif): serves every vsnd
/// frontend, writes playback to WAV files, feeds capture from a tone,
/// silence or a WAV file.
#[derive(Debug, Parser)]
#[command(name = "sndback", version)]
struct Cli {
    /// Directory for WAV sinks (`dom<domid>-<unique-id>.wav`).
    #[arg(long, value_name = "DIR", default_value = ".")]
    out_dir: PathBuf,
    /// Playback sink.
    #[arg(long, value_enum, default_value_t = SinkKind::Wav)]
    sink: SinkKind,
    /// Capture source: `tone:FREQ`, `silence` or `wav:FILE`; repeat as
    /// `ID=SOURCE` to give the stream whose `unique-id` is ID its own source
    /// (the others use the one without `ID=`, default `tone:440`).
    #[arg(long, value_name = "[ID=]SOURCE")]
    source: Vec<String>,
    /// Sample rates: `MIN-MAX`, one rate, or a comma-separated list.
    #[arg(long, default_value = "8000-192000")]
    rates: String,
    /// Sample formats (XenStore names, comma-separated, xl's `f32_le`...
    /// spellings too), or `all`: every format with a fixed sample size.
    #[arg(long, default_value = "all")]
    formats: String,
    /// Channel counts: `MIN-MAX` or one count.
    #[arg(long, default_value = "1-8")]
    channels: String,
    /// Buffer sizes in frames: `MIN-MAX` (default: 64 up; `--max-buffer-bytes`
    /// and the card's `buffer-size` bound it).
    #[arg(long)]
    buffer_frames: Option<String>,
    /// Period sizes in frames: `MIN-MAX` (default: 16 up).
    #[arg(long)]
    period_frames: Option<String>,
    /// Largest shared buffer mapped, bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_buffer_bytes: u32,
    /// Refuse READ/WRITE offsets and lengths that are not whole frames.
    #[arg(long)]
    whole_frames: bool,
    /// Most connected streams of one frontend domain (a device that would
    /// pass it does not connect: error node, state Closed).
    #[arg(long, value_name = "N", default_value_t = Caps::default().streams_per_domain)]
    max_streams_per_domain: u32,
    /// Most connected streams of every frontend together.
    #[arg(long, value_name = "N", default_value_t = Caps::default().streams_total)]
    max_streams: u32,
    /// Most grant-mapped pages (rings and buffers, 4 KiB each) of one
    /// frontend domain (an OPEN that would pass it fails with ENOMEM).
    #[arg(long, value_name = "PAGES", default_value_t = Caps::default().pages_per_domain)]
    max_pages_per_domain: u32,
    /// Most grant-mapped pages of every frontend together.
    #[arg(long, value_name = "PAGES", default_value_t = Caps::default().pages_total)]
    max_pages: u32,
    /// Stream records kept for `--stats` after their teardown (older ones
    /// are summed into one record).
    #[arg(long, value_name = "N", default_value_t = stats::DEFAULT_HISTORY)]
    stats_history: usize,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info", value_parser = parse_level)]
    log: log::LevelFilter,
    /// Write counters as JSON here at every device teardown and at exit.
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,
    /// XenStore directory of our vsnd backends.
    #[arg(long, default_value = "/local/domain/0/backend/vsnd")]
    backend_root: String,
    /// Run under the real-time policy SCHED_FIFO at this priority (1-99),
    /// as audio servers do: a busy dom0 then cannot delay position events
    /// (needs root or CAP_SYS_NICE; refused: sndback stops).
    #[arg(long, value_name = "PRIORITY", value_parser = clap::value_parser!(i32).range(1..=99))]
    realtime: Option<i32>,
}

fn parse_level(text: &str) -> Result<log::LevelFilter, String> {
    text.parse()
        .map_err(|_| format!("{text:?}: expected off, error, warn, info, debug or trace"))
}

fn parse_u32(text: &str) -> Result<u32, String> {
    parse_number(text, 0, u32::MAX).map_err(|reason| format!("{text:?}: {reason}"))
}

fn parse_range(text: &str) -> Result<Interval, String> {
    let (min, max) = match text.split_once('-') {
        Some((min, max)) => (min, max),
        None => (text, text),
    };
    let min = parse_u32(min)?;
    let max = parse_u32(max)?;
    if min > max {
        return Err(format!("{text:?}: minimum above maximum"));
    }
    Ok(Interval { min, max })
}

fn parse_rate_option(text: &str) -> Result<DeviceRates, String> {
    if text.contains(',') {
        parse_rates(text)
            .map(DeviceRates::List)
            .map_err(|reason| format!("{text:?}: {reason}"))
    } else {
        parse_range(text).map(DeviceRates::Range)
    }
}

fn parse_format_option(text: &str) -> Result<FormatSet, String> {
    if text.trim().eq_ignore_ascii_case("all") {
        return Ok(FormatSet::SIZED);
    }
    parse_formats(text).map_err(|reason| format!("{text:?}: {reason}"))
}

/// `ID=SOURCE` → (`Some(ID)`, SOURCE); a plain SOURCE (whose text before
/// the first `=` names a kind, `wav:`/`tone:`, or has no `=`) → (`None`, it).
fn split_source_id(text: &str) -> (Option<&str>, &str) {
    match text.split_once('=') {
        Some((id, spec)) if !id.is_empty() && !id.contains(':') => (Some(id), spec),
        _ => (None, text),
    }
}

/// One capture source: `tone:FREQ`, `silence` or `wav:FILE`.
fn parse_source(text: &str) -> Result<SourceKind, String> {
    if text == "silence" {
        Ok(SourceKind::Silence)
    } else if let Some(frequency) = text.strip_prefix("tone:") {
        let frequency: f32 = frequency
            .parse()
            .map_err(|_| format!("bad frequency {frequency:?}"))?;
        if !(frequency.is_finite() && frequency > 0.0) {
            return Err(format!("bad frequency {frequency}"));
        }
        Ok(SourceKind::Tone(frequency))
    } else if let Some(file) = text.strip_prefix("wav:") {
        Ok(SourceKind::Wav(media::load_wav(file.as_ref())?))
    } else {
        Err(format!(
            "expected tone:FREQ, silence or wav:FILE, got {text:?}"
        ))
    }
}

fn settings_from(cli: &Cli) -> Result<Settings, String> {
    let defaults = Limits::default();
    let optional_range = |text: &Option<String>, default: Interval| match text {
        Some(text) => parse_range(text),
        None => Ok(default),
    };
    let limits = Limits {
        formats: parse_format_option(&cli.formats)
            .map_err(|error| format!("--formats: {error}"))?,
        rates: parse_rate_option(&cli.rates).map_err(|error| format!("--rates: {error}"))?,
        channels: parse_range(&cli.channels).map_err(|error| format!("--channels: {error}"))?,
        buffer_frames: optional_range(&cli.buffer_frames, defaults.buffer_frames)
            .map_err(|error| format!("--buffer-frames: {error}"))?,
        period_frames: optional_range(&cli.period_frames, defaults.period_frames)
            .map_err(|error| format!("--period-frames: {error}"))?,
    };
    let mut source = None;
    let mut per_stream: Vec<(String, SourceKind)> = Vec::new();
    for text in &cli.source {
        match split_source_id(text) {
            (Some(id), spec) => {
                if per_stream.iter().any(|(known, _)| known == id) {
                    return Err(format!("--source: stream {id:?} given twice"));
                }
                let kind =
                    parse_source(spec).map_err(|error| format!("--source {id}=: {error}"))?;
                per_stream.push((id.to_owned(), kind));
            }
            (None, spec) => {
                if source.is_some() {
                    return Err(format!(
                        "--source: two default sources (use ID=SOURCE for a stream's own): {text:?}"
                    ));
                }
                source = Some(parse_source(spec).map_err(|error| format!("--source: {error}"))?);
            }
        }
    }
    let source = source.unwrap_or(SourceKind::Tone(440.0));
    let out_dir = match cli.sink {
        SinkKind::Wav => {
            std::fs::create_dir_all(&cli.out_dir)
                .map_err(|error| format!("--out-dir {}: {error}", cli.out_dir.display()))?;
            Some(cli.out_dir.clone())
        }
        SinkKind::Null => None,
    };
    Ok(Settings {
        device: DeviceSettings {
            backend_root: cli.backend_root.trim_end_matches('/').to_owned(),
            limits,
            max_buffer_bytes: cli.max_buffer_bytes,
            whole_frames: cli.whole_frames,
            behaviour: Behaviour::SNDBACK,
            quota: Ledger::new(Caps {
                streams_per_domain: cli.max_streams_per_domain,
                streams_total: cli.max_streams,
                pages_per_domain: cli.max_pages_per_domain,
                pages_total: cli.max_pages,
            }),
            remove_gone_devices: false,
        },
        media: MediaSettings {
            out_dir,
            source,
            per_stream,
            files: media::FileRegistry::default(),
        },
    })
}

/// Log lines to stderr: `2026-01-02T03:04:05.678Z LEVEL message`.
struct StderrLogger;

fn utc_timestamp() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since.as_secs();
    let days = (seconds / 86_400) as i64;
    let within = seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        within / 3600,
        within / 60 % 60,
        within % 60,
        since.subsec_millis()
    )
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{} sndback {:5} {}",
                utc_timestamp(),
                record.level(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Where a local event-channel port leads.
#[derive(Debug, Clone, Copy)]
struct PortTarget {
    key: (u32, u32),
    stream: usize,
    is_ring: bool,
}

struct Backend {
    store: XenStore,
    events: EventChannels,
    table: Rc<GrantTable>,
    settings: Settings,
    set: DeviceSet<MappedPage>,
    ports: HashMap<u32, PortTarget>,
    history: stats::History,
    stats_throttle: stats::Throttle,
    start: Instant,
    start_unix_ns: u64,
    stats_path: Option<PathBuf>,
}

const BACKEND_TOKEN: &str = "backend";

impl Backend {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn rebuild_ports(&mut self) {
        self.ports.clear();
        for (key, device) in &self.set.devices {
            for (index, live) in device.streams.iter().enumerate() {
                self.ports.insert(
                    live.ring_port,
                    PortTarget {
                        key: *key,
                        stream: index,
                        is_ring: true,
                    },
                );
                self.ports.insert(
                    live.event_port,
                    PortTarget {
                        key: *key,
                        stream: index,
                        is_ring: false,
                    },
                );
            }
        }
    }

    fn record_teardown(&mut self, records: Vec<StreamSummary>) {
        if !records.is_empty() {
            let mut domains: Vec<u32> = records.iter().map(|record| record.domid).collect();
            domains.dedup();
            for domid in domains {
                self.log_held(domid);
            }
            self.history.extend(records);
            self.stats_throttle.mark();
            self.write_stats_if_due();
        }
    }

    /// Write the stats file if a teardown is not written yet and the last
    /// write is long enough ago ([`stats::Throttle`]).
    fn write_stats_if_due(&mut self) {
        if self.stats_path.is_some() && self.stats_throttle.due(self.now_ns()) {
            self.write_stats();
        }
    }

    /// What we still hold of `domid` (and of every frontend), from the
    /// grant and event-channel handles' own bookkeeping: after a teardown
    /// both must be 0 for that domain.
    fn log_held(&self, domid: u32) {
        log::info!(
            "dom{domid}: torn down, still held: {} grant mappings, {} event channels (all frontends: {}, {})",
            self.table.mapped_pages(Some(domid)),
            self.events.bound_ports(Some(domid)),
            self.table.mapped_pages(None),
            self.events.bound_ports(None)
        );
    }

    fn write_stats(&self) {
        let Some(path) = &self.stats_path else {
            return;
        };
        let mut active = Vec::new();
        for device in self.set.devices.values() {
            active.extend(device.records(true));
        }
        stats::write(
            path,
            &stats::to_json(&self.history, &active, self.start_unix_ns, self.now_ns()),
        );
    }

    /// The host for frontend `domid`, borrowing only the handles (so a
    /// device in `self.set.devices` can be borrowed at the same time).
    fn host<'a>(
        store: &'a XenStore,
        events: &'a EventChannels,
        table: &Rc<GrantTable>,
        settings: &'a Settings,
        domid: u32,
    ) -> DomHost<'a> {
        DomHost::new(store, events, table, &settings.media, domid)
    }

    fn on_watch(&mut self, path: &str, token: &str) {
        log::trace!("watch {token}: {path}");
        let mut host = Self::host(&self.store, &self.events, &self.table, &self.settings, 0);
        let records =
            self.set
                .on_watch(&self.settings.device, &mut host, BACKEND_TOKEN, path, token);
        self.record_teardown(records);
        self.rebuild_ports();
    }

    /// Serve one stream now; returns false if its ring is broken.
    fn service(&mut self, key: (u32, u32), index: usize, now: u64) -> bool {
        let Some(device) = self.set.devices.get_mut(&key) else {
            return true;
        };
        let Some(live) = device.streams.get_mut(index) else {
            return true;
        };
        let mut mapper = DomainMapper::new(&self.table, key.0);
        let result = live.channel.service(&mut mapper, now);
        if result.notify_ring {
            if let Err(error) = self.events.notify(live.ring_port) {
                log::error!("notify port {}: {error}", live.ring_port);
            }
        }
        if result.notify_events {
            if let Err(error) = self.events.notify(live.event_port) {
                log::error!("notify port {}: {error}", live.event_port);
            }
        }
        live.deadline_ns = result.next_deadline_ns;
        !live.channel.is_broken()
    }

    fn close_broken(&mut self, key: (u32, u32)) {
        if let Some(device) = self.set.devices.get_mut(&key) {
            log::error!(
                "dom{} vsnd {}: a frontend ring is corrupted: closing the device",
                key.0,
                key.1
            );
            let mut host = Self::host(
                &self.store,
                &self.events,
                &self.table,
                &self.settings,
                key.0,
            );
            let records = device.close(&mut host);
            self.record_teardown(records);
            self.rebuild_ports();
        }
    }

    fn service_due(&mut self) {
        let now = self.now_ns();
        let due: Vec<((u32, u32), usize)> = self
            .set
            .devices
            .iter()
            .flat_map(|(key, device)| {
                device
                    .streams
                    .iter()
                    .enumerate()
                    .filter(|(_, live)| live.deadline_ns.is_some_and(|deadline| deadline <= now))
                    .map(|(index, _)| (*key, index))
            })
            .collect();
        for (key, index) in due {
            if !self.service(key, index, now) {
                self.close_broken(key);
            }
        }
    }

    /// How long poll() may sleep: until the earliest stream deadline (a
    /// position event or timer tick) or a pending stats write, at most 1 s.
    /// Nanoseconds, not milliseconds: a deadline rounded up to the next
    /// millisecond made every position event up to 1 ms late, 40 % of a
    /// 2.5 ms period.
    fn next_timeout_ns(&self) -> u64 {
        const LONGEST_NS: u64 = 1_000_000_000;
        let now = self.now_ns();
        let streams = self
            .set
            .devices
            .values()
            .flat_map(|device| device.streams.iter().filter_map(|live| live.deadline_ns))
            .min();
        let stats = match self.stats_throttle.pending_until() {
            Some(due) if self.stats_path.is_some() => Some(due),
            _ => None,
        };
        [streams, stats]
            .into_iter()
            .flatten()
            .map(|deadline| deadline.saturating_sub(now))
            .fold(LONGEST_NS, u64::min)
    }

    fn on_event_channel(&mut self) -> Result<(), String> {
        // A failing event-channel device would make poll() return at once
        // forever: give up instead of spinning.
        let port = self
            .events
            .pending()
            .map_err(|error| format!("xenevtchn_pending: {error}"))?;
        self.events.unmask(port);
        let Some(target) = self.ports.get(&port).copied() else {
            log::debug!("notification on unknown port {port}");
            return Ok(());
        };
        if !target.is_ring {
            // The frontend has no reason to signal the event channel.
            return Ok(());
        }
        if let Some(live) = self
            .set
            .devices
            .get_mut(&target.key)
            .and_then(|device| device.streams.get_mut(target.stream))
        {
            live.channel.note_notification();
        }
        let now = self.now_ns();
        if !self.service(target.key, target.stream, now) {
            self.close_broken(target.key);
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), String> {
        self.store
            .watch(&self.settings.device.backend_root, BACKEND_TOKEN)
            .map_err(|error| format!("watch {}: {error}", self.settings.device.backend_root))?;
        log::info!("watching {}", self.settings.device.backend_root);
        let descriptors = [self.store.fileno(), self.events.fd()];
        while !sys::termination_requested() {
            self.service_due();
            self.write_stats_if_due();
            let timeout = self.next_timeout_ns();
            let ready = sys::poll_readable(&descriptors, timeout)
                .map_err(|error| format!("poll: {error}"))?;
            if ready[0] {
                while let Some((path, token)) = self.store.check_watch() {
                    self.on_watch(&path, &token);
                }
            }
            if ready[1] {
                self.on_event_channel()?;
            }
        }
        log::info!("terminating");
        Ok(())
    }

    fn shutdown(&mut self) {
        let devices = std::mem::take(&mut self.set.devices);
        for (key, device) in devices {
            let mut host = Self::host(
                &self.store,
                &self.events,
                &self.table,
                &self.settings,
                key.0,
            );
            let records = device.remove(&mut host);
            self.history.extend(records);
        }
        self.ports.clear();
        self.store
            .unwatch(&self.settings.device.backend_root, BACKEND_TOKEN);
        log::info!(
            "exit: still held: {} grant mappings, {} event channels",
            self.table.mapped_pages(None),
            self.events.bound_ports(None)
        );
        self.write_stats();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    log::set_max_level(cli.log);
    if log::set_logger(&LOGGER).is_err() {
        eprintln!("sndback: logger already set");
    }
    let settings = match settings_from(&cli) {
        Ok(settings) => settings,
        Err(error) => {
            log::error!("{error}");
            return ExitCode::from(2);
        }
    };
    if let Some(priority) = cli.realtime {
        if let Err(error) = sys::set_realtime(priority) {
            log::error!("--realtime {priority}: sched_setscheduler(SCHED_FIFO): {error}");
            return ExitCode::FAILURE;
        }
        log::info!("running under SCHED_FIFO at priority {priority}");
    }
    if let Err(error) = sys::install_termination_handler() {
        log::error!("signal handlers: {error}");
        return ExitCode::FAILURE;
    }
    let opened = XenStore::open()
        .map_err(|error| format!("xs_open: {error}"))
        .and_then(|store| {
            let events =
                EventChannels::open().map_err(|error| format!("xenevtchn_open: {error}"))?;
            let table = GrantTable::open().map_err(|error| format!("xengnttab_open: {error}"))?;
            Ok((store, events, table))
        });
    let (store, events, table) = match opened {
        Ok(handles) => handles,
        Err(error) => {
            log::error!("{error} (is this dom0 with xenstored running and /dev/xen/* present?)");
            return ExitCode::FAILURE;
        }
    };
    let start_unix_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_nanos()).unwrap_or(0))
        .unwrap_or(0);
    log::info!(
        "sndback {} starting: sink {:?} in {}, source {}, formats {}, rates {}, channels {}",
        env!("CARGO_PKG_VERSION"),
        cli.sink,
        cli.out_dir.display(),
        if cli.source.is_empty() {
            "tone:440".to_owned()
        } else {
            cli.source.join(" ")
        },
        cli.formats,
        cli.rates,
        cli.channels
    );
    let mut backend = Backend {
        store,
        events,
        table,
        settings,
        set: DeviceSet::default(),
        ports: HashMap::new(),
        history: stats::History::new(cli.stats_history),
        stats_throttle: stats::Throttle::new(stats::WRITE_INTERVAL_NS),
        start: Instant::now(),
        start_unix_ns,
        stats_path: cli.stats.clone(),
    };
    let result = backend.run();
    backend.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("1-8"), Ok(Interval { min: 1, max: 8 }));
        assert_eq!(parse_range("2"), Ok(Interval { min: 2, max: 2 }));
        assert!(parse_range("8-1").is_err());
        assert!(parse_range("a-b").is_err());
        assert_eq!(
            parse_rate_option("48000,44100"),
            Ok(DeviceRates::List(vec![44_100, 48_000]))
        );
        assert_eq!(
            parse_rate_option("8000-16000"),
            Ok(DeviceRates::Range(Interval {
                min: 8000,
                max: 16_000
            }))
        );
        assert_eq!(parse_format_option("all"), Ok(FormatSet::SIZED));
        assert_eq!(
            parse_format_option("f32_le,float_le,s16_le").map(FormatSet::len),
            Ok(2),
            "xl's and sndif.h's float names are the same format"
        );
    }

    #[test]
    fn command_line_defaults_and_settings() {
        let cli = Cli::parse_from(["sndback", "--sink", "null", "--source", "tone:1000"]);
        let settings = settings_from(&cli).unwrap();
        assert!(settings.media.out_dir.is_none());
        assert!(
            matches!(settings.media.source, SourceKind::Tone(frequency) if frequency == 1000.0)
        );
        assert_eq!(settings.device.limits.channels, Interval { min: 1, max: 8 });
        assert_eq!(settings.device.backend_root, "/local/domain/0/backend/vsnd");
        let bad = Cli::parse_from(["sndback", "--sink", "null", "--source", "noise"]);
        assert!(settings_from(&bad).is_err());
        let default = settings_from(&Cli::parse_from(["sndback", "--sink", "null"])).unwrap();
        assert!(matches!(default.media.source, SourceKind::Tone(frequency) if frequency == 440.0));
        assert!(default.media.per_stream.is_empty());
        let bad = Cli::parse_from(["sndback", "--sink", "null", "--formats", "s16_le,nope"]);
        assert!(settings_from(&bad).is_err());
    }

    #[test]
    fn caps_are_options_with_the_documented_defaults() {
        let cli = Cli::parse_from(["sndback", "--sink", "null"]);
        let settings = settings_from(&cli).unwrap();
        assert_eq!(settings.device.quota.caps(), Caps::default());
        assert_eq!(cli.stats_history, stats::DEFAULT_HISTORY);
        let cli = Cli::parse_from([
            "sndback",
            "--sink",
            "null",
            "--max-streams-per-domain",
            "3",
            "--max-streams",
            "7",
            "--max-pages-per-domain",
            "100",
            "--max-pages",
            "400",
        ]);
        let caps = settings_from(&cli).unwrap().device.quota.caps();
        assert_eq!(
            caps,
            Caps {
                streams_per_domain: 3,
                streams_total: 7,
                pages_per_domain: 100,
                pages_total: 400,
            }
        );
        // --help documents them.
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for option in [
            "--max-streams-per-domain",
            "--max-streams ",
            "--max-pages-per-domain",
            "--max-pages ",
            "--stats-history",
        ] {
            assert!(help.contains(option), "{option} in --help");
        }
    }

    #[test]
    fn per_stream_sources_by_unique_id() {
        let cli = Cli::parse_from([
            "sndback",
            "--sink",
            "null",
            "--source",
            "silence",
            "--source",
            "mic=tone:1000",
            "--source",
            "mic2=silence",
        ]);
        let settings = settings_from(&cli).unwrap();
        assert!(matches!(settings.media.source, SourceKind::Silence));
        let ids: Vec<&str> = settings
            .media
            .per_stream
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(ids, ["mic", "mic2"]);
        assert!(matches!(settings.media.per_stream[0].1, SourceKind::Tone(f) if f == 1000.0));
        assert_eq!(
            split_source_id("wav:/tmp/a=b.wav"),
            (None, "wav:/tmp/a=b.wav")
        );
        assert_eq!(
            split_source_id("x=wav:/tmp/a=b.wav"),
            (Some("x"), "wav:/tmp/a=b.wav")
        );
        for bad in [
            &["--source", "silence", "--source", "tone:1"][..],
            &["--source", "a=silence", "--source", "a=tone:1"],
            &["--source", "a=noise"],
        ] {
            let mut args = vec!["sndback", "--sink", "null"];
            args.extend_from_slice(bad);
            assert!(settings_from(&Cli::parse_from(args)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamps_look_like_iso_8601() {
        let stamp = utc_timestamp();
        assert_eq!(stamp.len(), 24, "{stamp}");
        assert!(stamp.ends_with('Z'));
        assert_eq!(&stamp[4..5], "-");
        assert_eq!(&stamp[10..11], "T");
    }

    #[test]
    fn frontend_tokens_round_trip() {
        assert_eq!(
            xensnd_backend::xenbus::parse_frontend_token("fe/3/1"),
            Some((3, 1))
        );
        assert_eq!(
            xensnd_backend::xenbus::parse_frontend_token("backend"),
            None
        );
        assert_eq!(xensnd_backend::xenbus::parse_frontend_token("fe/x/1"), None);
    }
}
