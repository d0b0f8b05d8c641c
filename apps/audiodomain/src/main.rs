//! The guest image of the audio domain: serves every vsnd device the
//! toolstack gives this domain (`backend=<this domain>` in the guests'
//! `vsnd` lines) with the backend engine, mixes the guests' playback
//! streams ([`xensnd_audiodomain::AudioDomain`]) and plays the mix through
//! this domain's own vsnd card (served by dom0's `sndback`). Guests' capture
//! streams record silence.
//!
//! Options (`extra=` in the xl config):
//! - `out=ID`: the `unique-id` of this domain's own playback stream
//!   (default `out`); `out=none`: no output, the guests' playback goes to
//!   sinks that only count bytes.
//! - `rate=HZ` (48000), `channels=N` (2): the output's layout (s16_le);
//!   guests' streams must be at that rate (offer only it in their vsnd).
//! - `period=FRAMES` (rate / 50: 20 ms), `buffer=FRAMES` (4 periods): the
//!   output's period is the mix's step (every guest's position moves a
//!   period at a time).
//! - `max-buffer-kib=K` (1024): the largest guest buffer served (the
//!   foreign-mapping window holds 4 MiB for every guest together).
//! - `report-ms=MS` (1000): how often each stream's byte count is logged.
//! - `run-s=S`: stop after S seconds (default: until `xl shutdown`).
//!
//! Log lines (for scenarios): `AUDIODOMAIN serving backend root ...`,
//! `AUDIODOMAIN serving dom<N> dev<M> streams=<K>` (a device connected),
//! `AUDIODOMAIN device dom<N> dev<M> state=<S>` (any other state),
//! `AUDIODOMAIN stream dom<N>/vsnd<M>/<pcm>/<stream>(<id>) bytes=<B> ...`
//! (every report period while connected), `AUDIODOMAIN closed ...
//! bytes=<B>` (torn down), `AUDIODOMAIN segment client=<N> out=<F> in=<C>
//! frames=<L>` (a run of client N's frames C.. at output frame F; client N
//! is the stream that logged `dom<D> <id>: joined the mix as client N`),
//! `AUDIODOMAIN stopped mapped=<pages> lost=<slots>`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

xensnd::main!(app);

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
fn app(rt: &mut xensnd::rt::Runtime) -> xensnd::rt::AppResult {
    use alloc::boxed::Box;
    use alloc::collections::BTreeMap;
    use alloc::format;
    use alloc::vec;
    use log::{info, warn};
    use xensnd::backend::io::{NullSink, SilenceSource};
    use xensnd::backend::xenbus::{DeviceSettings, StreamSummary};
    use xensnd::backend::{Direction, Sink, Source};
    use xensnd::pcm::format::SampleFormat;
    use xensnd::pcm::{Clock, ErrorKind, Playback, Stream, StreamState};
    use xensnd::serve::MediaFactory;
    use xensnd::sndif::negotiate::StreamRequest;
    use xensnd::sndif::pcm::SndPlayback;
    use xensnd_audiodomain::AudioDomain;

    fn number(
        rt: &xensnd::rt::Runtime,
        key: &str,
        default: u64,
    ) -> Result<u64, alloc::string::String> {
        match rt.option(key) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| format!("option {key}={text}: not a number")),
        }
    }

    fn log_record(what: &str, record: &StreamSummary) {
        info!(
            "AUDIODOMAIN {what} dom{}/vsnd{}/{}/{}({}) {:?} bytes={} requests_in={} underruns={}",
            record.domid,
            record.device,
            record.pcm,
            record.stream,
            xensnd::backend::guest(&record.unique_id),
            record.direction,
            record.counters.bytes_written + record.counters.bytes_read,
            record.counters.requests.iter().sum::<u64>(),
            record.counters.underruns
        );
    }

    /// Where a client's frames went in the output (the host rebuilds the
    /// mix from these and the clients' inputs).
    fn log_segment(segment: &xensnd_audiodomain::Segment) {
        info!(
            "AUDIODOMAIN segment client={} out={} in={} frames={}",
            segment.client.0, segment.output_frame, segment.client_frame, segment.frames
        );
    }

    let out_id = rt.option("out").unwrap_or("out");
    let rate = u32::try_from(number(rt, "rate", 48_000)?)?;
    let channels = u8::try_from(number(rt, "channels", 2)?)?;
    // The output's period is the mix's step: each step takes a period from
    // every guest, so a guest's position moves a period at a time. 20 ms
    // periods in an 80 ms buffer keep guests with small buffers fed.
    let period_frames = u32::try_from(number(rt, "period", u64::from(rate / 50))?)?;
    let buffer_frames = u32::try_from(number(rt, "buffer", u64::from(period_frames) * 4)?)?;
    let report_ns = number(rt, "report-ms", 1000)?
        .saturating_mul(1_000_000)
        .max(1_000_000);
    let run_ns = rt
        .option("run-s")
        .map(|_| number(rt, "run-s", 0))
        .transpose()?;

    // The output and the mixer, unless out=none.
    let mut output = None;
    if out_id != "none" {
        let request = StreamRequest::exact(
            SampleFormat::S16Le,
            rate,
            channels,
            period_frames,
            buffer_frames,
        );
        let mut speaker = SndPlayback::open_unique_id(rt.sound(), out_id, &request)?;
        speaker.prepare()?;
        let domain = AudioDomain::new(speaker.config())?;
        info!(
            "AUDIODOMAIN output {out_id}: {} Hz, {} channel(s), period {} frames, buffer {} frames",
            speaker.config().rate,
            speaker.config().channels,
            speaker.config().period_frames,
            speaker.config().buffer_frames
        );
        output = Some((speaker, domain));
    }
    let mixer = output.as_ref().map(|(_, domain)| domain.mixer().clone());
    let media: MediaFactory = Box::new(move |domid, stream| {
        let sink: Box<dyn Sink> = match (&mixer, stream.direction) {
            (Some(mixer), Direction::Playback) => {
                let id = xensnd::backend::guest(&stream.unique_id);
                Box::new(mixer.sink(format!("dom{domid} {id}")))
            }
            _ => Box::new(NullSink),
        };
        let source: Box<dyn Source> = Box::new(SilenceSource::default());
        (sink, source)
    });
    // Buffers up to 1 MiB (256 pages): the foreign-mapping window holds
    // 1024 pages for every guest's rings and buffers together.
    let max_buffer_kib = number(rt, "max-buffer-kib", 1024)?;
    let max_buffer = u32::try_from(max_buffer_kib.saturating_mul(1024)).unwrap_or(u32::MAX);
    let server = rt.serve_vsnd(DeviceSettings::dom0(max_buffer), media);
    let mut server = server.map_err(|error| format!("serve vsnd: {error}"))?;
    info!(
        "AUDIODOMAIN serving backend root /local/domain/{}/backend/vsnd",
        rt.domid()
    );

    let start = rt.now_ns();
    let stop_at = run_ns.map(|seconds| start.saturating_add(seconds.saturating_mul(1_000_000_000)));
    let mut next_report = start.saturating_add(report_ns);
    let mut known: BTreeMap<(u32, u32), (u32, usize)> = BTreeMap::new();
    // A period of output per mix; the loop wakes twice a period.
    let (mut block, period, tick_ns) = match &output {
        Some((speaker, _)) => {
            let config = speaker.config();
            let frame = config.frame_bytes().unwrap_or(4) as usize;
            let period = config.period_frames.max(1) as usize;
            let tick =
                (period as u64 * 1_000_000_000 / u64::from(config.rate.max(1)) / 2).max(1_000_000);
            (vec![0u8; period * frame], period, tick)
        }
        None => (alloc::vec::Vec::new(), 0, report_ns),
    };
    let frame_bytes = match &output {
        Some((speaker, _)) => speaker.config().frame_bytes().unwrap_or(4) as usize,
        None => 4,
    };
    // Bytes of `block` the output took (all of it: mix the next period).
    let mut block_sent = block.len();
    let mut written_frames: u64 = 0;
    let mut output_errors: u64 = 0;
    loop {
        if rt.shutdown_request().is_some() {
            info!("AUDIODOMAIN shutdown requested");
            break;
        }
        let now = rt.now_ns();
        if stop_at.is_some_and(|stop| now >= stop) {
            break;
        }
        let wake = now
            .saturating_add(tick_ns)
            .min(next_report)
            .min(stop_at.unwrap_or(u64::MAX));
        for record in server.run_until(wake) {
            log_record("closed", &record);
        }

        // Devices that appeared, changed state or went away.
        let mut seen = BTreeMap::new();
        for (domid, device, state, streams) in server.devices() {
            let state = state.as_u32();
            seen.insert((domid, device), (state, streams));
            if known.get(&(domid, device)) != Some(&(state, streams)) {
                if state == 4 {
                    info!("AUDIODOMAIN serving dom{domid} dev{device} streams={streams}");
                } else {
                    info!(
                        "AUDIODOMAIN device dom{domid} dev{device} state={state} streams={streams}"
                    );
                }
            }
        }
        for key in known.keys().filter(|key| !seen.contains_key(key)) {
            info!("AUDIODOMAIN device dom{} dev{} removed", key.0, key.1);
        }
        known = seen;

        // Feed the output what it has room for, a period at a time. A mixed
        // period stays in `block` until the output took all of it, so the
        // output's frames are the mix's frames, one for one (the segments
        // logged below place each guest's audio in it).
        if let Some((speaker, domain)) = &mut output {
            let _ = speaker.write_ready();
            loop {
                if block_sent >= block.len() {
                    if speaker.available() < period {
                        break;
                    }
                    if let Err(error) = domain.mix(period, &mut block) {
                        warn!("AUDIODOMAIN mix: {error}");
                        break;
                    }
                    block_sent = 0;
                }
                match speaker.try_write(&block[block_sent..]) {
                    Ok(frames) => {
                        written_frames += frames as u64;
                        block_sent += frames * frame_bytes;
                        if frames == 0 {
                            break;
                        }
                    }
                    Err(error) if error.kind == ErrorKind::WouldBlock => break,
                    Err(error) => {
                        // Stopped (an underrun) or refused: prepare again;
                        // the period not taken is written after it.
                        output_errors += 1;
                        if output_errors.is_power_of_two() {
                            warn!("AUDIODOMAIN output error #{output_errors}: {error}");
                        }
                        if let Err(error) = speaker.prepare() {
                            return Err(format!("output: {error}").into());
                        }
                        break;
                    }
                }
            }
            if speaker.state() == StreamState::Prepared && speaker.available() < period {
                speaker.start()?;
                info!("AUDIODOMAIN output started");
            }
            for segment in domain.take_segments() {
                log_segment(&segment);
            }
        }

        if rt.now_ns() >= next_report {
            next_report = rt.now_ns().saturating_add(report_ns);
            for record in server.streams() {
                log_record("stream", &record);
            }
            if output.is_some() {
                info!("AUDIODOMAIN output frames={written_frames} errors={output_errors}");
            }
        }
    }
    drop(server);
    let (mapped, _, lost) = xensnd::serve::foreign_usage();
    info!("AUDIODOMAIN stopped mapped={mapped} lost={lost}");
    if let Some((mut speaker, mut domain)) = output {
        for segment in domain.close_segments() {
            log_segment(&segment);
        }
        info!(
            "AUDIODOMAIN mixed frames={} segments_dropped={}",
            domain.timeline().mixed_frames(),
            domain.timeline().dropped()
        );
        let _ = speaker.stop();
        let _ = speaker.close();
    }
    Ok(())
}
