//! Interoperating with the sndif world as it is (issue 12): buffers any
//! backend can map and size (`buffer_sz` is the PCM buffer, the directory
//! is granted read-write), volume and mute values that never move the
//! buffer or overwrite audio, negotiation that tells the truth, and
//! positions as a device reports them while a stream runs dry.
//!
//! Against the hostile backend (which records every request and can map
//! the directory read-write as libxenbe does) and against the real backend
//! engine in the simulator.

mod hostile_common;

#[macro_use]
mod profiles;

use hostile_common::*;
use xen_abi::sndif::*;
use xensnd_backend::io::{IoError, Source};
use xensnd_backend::xenbus::DeviceSettings;
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::{Capture, ErrorKind, Playback, Stream, StreamState};
use xensnd_sim::backend_host::BackendProfile;
use xensnd_sim::backend_host::{SimBackendView, SimSndBackend};
use xensnd_sim::vsnd::{add_vsnd_device, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::{SndCapture, SndPlayback};
use zerocopy::FromBytes;

use std::cell::RefCell;
use std::rc::Rc;

/// The requests of operation `operation` the hostile backend saw on stream `index`.
fn requests_of(world: &World, index: usize, operation: u8) -> Vec<Request> {
    world.hostile.borrow().streams[index]
        .requests
        .iter()
        .filter(|request| request.operation == operation)
        .copied()
        .collect()
}

fn open_request_of(request: &Request) -> OpenRequest {
    OpenRequest::read_from_prefix(&request.op).unwrap().0
}

fn rw_request_of(request: &Request) -> RwRequest {
    RwRequest::read_from_prefix(&request.op).unwrap().0
}

/// A card like `SimVsndSpec::simple` with other card-level nodes.
fn card(nodes: &[(&str, &str)]) -> SimVsndSpec {
    let mut spec = SimVsndSpec::simple();
    for (key, value) in nodes {
        match spec.card.iter_mut().find(|(k, _)| k == key) {
            Some(node) => node.1 = value.to_string(),
            None => spec.card.push((key.to_string(), value.to_string())),
        }
    }
    spec
}

/// The hostile backend serving `spec`.
fn hostile_world(spec: &SimVsndSpec) -> World {
    let (sim, probe, hostile) = probe_with(
        spec,
        FrontendOptions {
            request_timeout_ns: 100_000_000,
            ..FrontendOptions::default()
        },
        |_| {},
    );
    assert!(probe.failed.is_empty(), "failed: {:?}", probe.failed);
    World {
        sim,
        frontend: probe.frontend,
        hostile,
    }
}

/// Capture source: a byte pattern, repeated.
struct Pattern {
    bytes: Vec<u8>,
    at: usize,
}

impl Source for Pattern {
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        for byte in out {
            *byte = self.bytes[self.at % self.bytes.len()];
            self.at += 1;
        }
        Ok(())
    }
}

/// The real backend engine (sndback's defaults: 16 MiB buffers, whole
/// frames required) serving `spec`, capture from `pattern`.
struct Engine {
    sim: SimXen,
    frontend: Frontend<SimGuest>,
    view: Rc<RefCell<SimBackendView>>,
}

impl Engine {
    fn new(profile: BackendProfile, spec: &SimVsndSpec, pattern: Vec<u8>) -> Self {
        Self::with_settings(spec, pattern, profile.settings(16 << 20))
    }

    fn with_settings(spec: &SimVsndSpec, pattern: Vec<u8>, settings: DeviceSettings) -> Self {
        let sim = SimXen::new();
        let guest = sim.add_guest(GUEST);
        sim.with_core(|core| add_vsnd_device(core, GUEST, 0, spec));
        let (backend, view) = SimSndBackend::new(
            settings,
            Box::new(move |_, _| {
                Box::new(Pattern {
                    bytes: pattern.clone(),
                    at: 0,
                }) as Box<dyn Source>
            }),
        );
        sim.add_peer(Box::new(backend));
        let store = guest.xenstore().expect("store ring");
        let probe = Frontend::probe(guest, store, FrontendOptions::default()).expect("probe");
        assert!(probe.failed.is_empty(), "failed: {:?}", probe.failed);
        Engine {
            sim,
            frontend: probe.frontend,
            view,
        }
    }

    fn played(&self, unique_id: &str) -> Vec<u8> {
        self.view.borrow().played(GUEST as u32, unique_id)
    }
}

/// `frames` frames of `frame` bytes each, a ramp no two neighbouring
/// frames share.
fn ramp(frames: usize, frame: usize) -> Vec<u8> {
    (0..frames * frame)
        .map(|i| (i / frame * 7 + i % frame) as u8)
        .collect()
}

/// Write all of `data` with blocking writes.
fn write_all(pcm: &mut impl Playback, data: &[u8], frame: usize) {
    let mut done = 0;
    while done < data.len() {
        let end = (done + 4096 * frame).min(data.len());
        let frames = pcm.write(&data[done..end]).unwrap();
        assert!(frames > 0);
        done += frames * frame;
    }
}

// ---- buffers ----

#[test]
fn open_sends_buffer_sz_equal_to_pcm_buffer() {
    // Formats × channels × buffer sizes (whole frames, page multiples or
    // not): buffer_sz and period_sz are exactly the PCM buffer and period.
    let spec = card(&[
        ("sample-formats", "u8,s16_le,s32_le,float64_le"),
        ("channels-max", "8"),
        ("buffer-size", "1048576"),
    ]);
    let world = hostile_world(&spec);
    let mut opens = 0;
    for format in [
        SampleFormat::U8,
        SampleFormat::S16Le,
        SampleFormat::S32Le,
        SampleFormat::F64Le,
    ] {
        for channels in [1u8, 2, 3, 6, 8] {
            for (period, buffer) in [(1, 1), (480, 1920), (333, 1001), (1024, 5461)] {
                let request = StreamRequest::exact(format, 48_000, channels, period, buffer);
                let mut pcm =
                    SndPlayback::open_unique_id(&world.frontend, "spk", &request).unwrap();
                pcm.prepare().unwrap();
                let frame = format.bytes_per_sample().unwrap() * u32::from(channels);
                let opens_seen = requests_of(&world, 0, XENSND_OP_OPEN);
                let open = open_request_of(opens_seen.last().unwrap());
                assert_eq!(open.buffer_sz, buffer * frame, "{request:?}");
                assert_eq!(open.period_sz, period * frame, "{request:?}");
                assert_eq!(open.buffer_sz % frame, 0);
                pcm.close().unwrap();
                opens += 1;
            }
        }
    }
    assert_eq!(requests_of(&world, 0, XENSND_OP_OPEN).len(), opens);
    assert_clean_teardown(&world);
}

#[test]
fn open_against_a_backend_mapping_the_directory_read_write_succeeds() {
    // libxenbe maps every grant read-write; a read-only directory made
    // every OPEN against snd_be fail with -EINVAL.
    let world = setup();
    world.hostile.borrow_mut().directory_writable = true;
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    pcm.start().unwrap();
    play(&mut pcm, 4800).unwrap();
    pcm.drain().unwrap();
    assert_eq!(pcm.state(), StreamState::Drained);
    // The backend holds the whole buffer, mapped through the directory.
    assert_eq!(world.hostile.borrow().streams[0].buffer.len(), 2);
    pcm.close().unwrap();
    assert_clean_teardown(&world);
}

per_backend! {
    fn six_channel_s16_stream_on_a_65536_byte_card_plays_sample_exact(profile) {
        // 65536 bytes / 12-byte frames = 5461 frames = 65532 bytes: with 256
        // bytes added, buffer_sz was not whole frames and the backend refused it.
        let engine = Engine::new(profile,
            &card(&[("channels-min", "6"), ("channels-max", "6")]),
            vec![0],
        );
        let request = StreamRequest {
            format: Some(SampleFormat::S16Le),
            ..StreamRequest::default()
        };
        let mut pcm = SndPlayback::open_unique_id(&engine.frontend, "spk", &request).unwrap();
        assert_eq!(pcm.config().channels, 6);
        assert_eq!(pcm.config().buffer_frames, 5461);
        pcm.prepare().unwrap();
        let audio = ramp(12_000, 12);
        write_all(&mut pcm, &audio, 12);
        pcm.drain().unwrap();
        assert_eq!(pcm.position(), 12_000);
        assert!(engine.played("spk") == audio, "audio differs");
    }
}

// ---- volume and mute ----

/// The hostile backend's view of stream `index`'s buffer, `len` bytes.
fn backend_buffer(world: &World, index: usize, len: usize) -> Vec<u8> {
    let state = world.hostile.borrow();
    let mut buffer = vec![0u8; len];
    for (page_index, page) in state.streams[index].buffer.iter().enumerate() {
        let from = (page_index * 4096).min(len);
        let to = (from + 4096).min(len);
        xen_guest::SharedPage::read(page, 0, &mut buffer[from..to]);
    }
    buffer
}

#[test]
fn volume_values_travel_in_played_space_and_never_overwrite_queued_audio() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    // Nothing is reported as played: every byte written stays needed.
    world.hostile.borrow_mut().report_positions = false;
    let queued = play(&mut pcm, 1000).unwrap();
    let expected: Vec<u8> = (0..queued).map(|i| i as u8).collect();
    let open = open_request_of(&requests_of(&world, 0, XENSND_OP_OPEN)[0]);
    let check = |operation: u8, values: &[u8]| {
        let buffer = backend_buffer(&world, 0, open.buffer_sz as usize);
        assert!(buffer[..queued] == expected[..], "queued audio overwritten");
        let rw = rw_request_of(requests_of(&world, 0, operation).last().unwrap());
        assert_eq!(rw.length, 8);
        assert!(rw.offset as usize >= queued, "{operation}: {rw:?}");
        assert!(
            rw.offset + rw.length <= open.buffer_sz,
            "{operation}: {rw:?}"
        );
        assert_eq!(rw.offset % 4, 0);
        let at = rw.offset as usize;
        assert_eq!(&buffer[at..at + 8], values);
    };
    pcm.set_volume(&[-1000, -2000]).unwrap();
    check(
        XENSND_OP_SET_VOLUME,
        &[(-1000i32).to_le_bytes(), (-2000i32).to_le_bytes()].concat(),
    );
    pcm.set_mute(true).unwrap();
    check(XENSND_OP_MUTE, &[1, 0, 0, 0, 1, 0, 0, 0]);
    world.hostile.borrow_mut().report_positions = true;
    play(&mut pcm, 480).unwrap();
    pcm.drain().unwrap();
    assert_clean_teardown(&world);
}

per_backend! {
    fn volume_on_a_full_running_buffer_waits_for_played_space_and_keeps_audio_exact(profile) {
        let engine = Engine::new(profile, &SimVsndSpec::simple(), vec![0]);
        let request = StreamRequest::exact(SampleFormat::S16Le, 48_000, 2, 480, 1920);
        let mut pcm = SndPlayback::open_unique_id(&engine.frontend, "spk", &request).unwrap();
        pcm.prepare().unwrap();
        let audio = ramp(9600, 4);
        // Start, then fill the buffer to the last byte: all of it is queued.
        write_all(&mut pcm, &audio[..1920 * 4], 4);
        pcm.start().unwrap();
        let mut written = 1920 * 4;
        loop {
            match pcm.try_write(&audio[written..written + 4 * 4]) {
                Ok(frames) => written += frames * 4,
                Err(error) => {
                    assert_eq!(error.kind, ErrorKind::WouldBlock, "{error}");
                    break;
                }
            }
        }
        let before = engine.sim.now_ns();
        let set = pcm.set_volume(&[0, 0]);
        // It had to wait for the backend to play some of it.
        assert!(engine.sim.now_ns() > before, "{profile}");
        let mut values = [1i32; 2];
        let got = pcm.volume(&mut values);
        let mute = pcm.set_mute(false);
        if profile.has_volume() {
            set.unwrap();
            got.unwrap();
            assert_eq!(values, [0, 0]);
            mute.unwrap();
        } else {
            // No volume handler (snd_be): Unsupported, the audio unharmed.
            for error in [set.unwrap_err(), got.unwrap_err(), mute.unwrap_err()] {
                assert_eq!(error.kind, ErrorKind::Unsupported, "{profile}: {error}");
            }
        }
        write_all(&mut pcm, &audio[written..], 4);
        pcm.drain().unwrap();
        assert_eq!(pcm.position(), 9600);
        assert!(engine.played("spk") == audio, "audio differs");
    }
}

per_backend! {
    fn get_volume_never_overwrites_captured_audio_not_yet_read(profile) {
        let pattern: Vec<u8> = (1..=250u8).collect();
        let engine = Engine::new(profile, &SimVsndSpec::simple(), pattern.clone());
        let request = StreamRequest::exact(SampleFormat::S16Le, 48_000, 2, 480, 1920);
        let mut mic = SndCapture::open_unique_id(&engine.frontend, "mic", &request).unwrap();
        mic.prepare().unwrap();
        mic.start().unwrap();
        let mut got = vec![0u8; 4 * 4800];
        let mut done = 0;
        // Read a little at a time, asking for the volume between reads: most
        // of the time a READ's audio is waiting to be copied out.
        while done < got.len() {
            done += mic
                .read(&mut got[done..(done + 4 * 100).min(4 * 4800)])
                .unwrap()
                * 4;
            let mut values = [7i32; 2];
            match mic.volume(&mut values) {
                Ok(_) => assert_eq!(values, [0, 0], "{profile}"),
                Err(error) => {
                    assert!(!profile.has_volume(), "{profile}: {error}");
                    assert_eq!(error.kind, ErrorKind::Unsupported, "{profile}: {error}");
                }
            }
        }
        let expected: Vec<u8> = pattern.iter().cycle().take(got.len()).copied().collect();
        assert!(got == expected, "captured audio overwritten");
        mic.stop().unwrap();
    }
}

#[test]
fn volume_with_no_room_and_no_progress_is_would_block_and_sends_nothing() {
    let world = setup();
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    pcm.prepare().unwrap();
    // Fill the whole buffer without starting.
    let data: Vec<u8> = (0..1920 * 4).map(|i| i as u8).collect();
    assert_eq!(pcm.try_write(&data).unwrap(), 1920);
    world.sim.run_until_idle(1000);
    let error = pcm.set_volume(&[0, 0]).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::WouldBlock, "{error}");
    assert!(requests_of(&world, 0, XENSND_OP_SET_VOLUME).is_empty());
    // Once it plays, there is room.
    pcm.start().unwrap();
    pcm.drain().unwrap();
    pcm.set_volume(&[0, 0]).unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn volume_on_a_buffer_smaller_than_the_values_is_unsupported() {
    // 8 channels of u8: one frame is 8 bytes, the values 32.
    let spec = card(&[("sample-formats", "u8"), ("channels-max", "8")]);
    let world = hostile_world(&spec);
    let request = StreamRequest::exact(SampleFormat::U8, 48_000, 8, 2, 2);
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request).unwrap();
    pcm.prepare().unwrap();
    let error = pcm.set_volume(&[0; 8]).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Unsupported, "{error}");
    assert!(requests_of(&world, 0, XENSND_OP_SET_VOLUME).is_empty());
    assert_clean_teardown(&world);
}

/// Answer every volume and mute request with `status`.
fn refuse_controls(world: &World, status: i32) {
    world.hostile.borrow_mut().script = Some(Box::new(move |request, mut honest| {
        if matches!(
            request.operation,
            XENSND_OP_SET_VOLUME | XENSND_OP_GET_VOLUME | XENSND_OP_MUTE | XENSND_OP_UNMUTE
        ) {
            honest.status = status;
        }
        vec![xensnd_sim::hostile::Reply::Now(honest)]
    }));
}

#[test]
fn backend_without_volume_gives_unsupported() {
    use xen_abi::errno::{XEN_EINVAL, XEN_ENOSYS, XEN_EOPNOTSUPP};
    for status in [-XEN_EINVAL, -XEN_EOPNOTSUPP, -XEN_ENOSYS] {
        let world = setup();
        let mut pcm = running_speaker(&world);
        refuse_controls(&world, status);
        let error = pcm.set_volume(&[0, 0]).unwrap_err();
        assert_eq!(kind(&error), ErrorKind::Unsupported, "{status}: {error}");
        let error = pcm.volume(&mut [0; 2]).unwrap_err();
        assert_eq!(kind(&error), ErrorKind::Unsupported, "{status}: {error}");
        for mute in [true, false] {
            let error = pcm.set_mute(mute).unwrap_err();
            assert_eq!(kind(&error), ErrorKind::Unsupported, "{status}: {error}");
        }
        // The stream plays on.
        play(&mut pcm, 2400).unwrap();
        pcm.drain().unwrap();
        assert_clean_teardown(&world);
    }
}

// ---- negotiation tells the truth ----

impl Engine {
    /// Requests of `operation` the backend engine counted on `unique_id`.
    fn requests(&self, unique_id: &str, operation: u8) -> u64 {
        self.sim.run_until_idle(100);
        let view = self.view.borrow();
        view.active
            .iter()
            .find(|summary| summary.unique_id == unique_id)
            .map_or(0, |summary| summary.counters.requests[operation as usize])
    }
}

/// A backend whose device holds at most 1048576 frames (sndback's limit
/// before it bounded buffers by bytes: the reported case).
fn engine_with_a_1048576_frame_device(profile: BackendProfile, spec: &SimVsndSpec) -> Engine {
    let mut settings = profile.settings(16 << 20);
    settings.limits.buffer_frames.max = 1 << 20;
    Engine::with_settings(spec, vec![0], settings)
}

per_backend! {
    fn query_without_common_parameters_is_invalid_config_and_sends_no_open(profile) {
        // The reported case: xl accepts buffer-size=5242880; a buffer of all
        // of it (1310720 s16 stereo frames) is more than the backend's limit of
        // 1048576 frames, so it answers HW_PARAM_QUERY "no parameters in
        // common" (-EINVAL). It used to be ignored; OPEN then failed with an
        // opaque "backend error -22". (sndback itself serves the whole
        // buffer-size now: tests/backend_sim.rs.)
        let engine = engine_with_a_1048576_frame_device(profile, &card(&[("buffer-size", "5242880")]));
        let request = StreamRequest {
            format: Some(SampleFormat::S16Le),
            channels: Some(2),
            buffer_frames: Some(1_310_720),
            ..StreamRequest::default()
        };
        let error = SndPlayback::open_unique_id(&engine.frontend, "spk", &request).unwrap_err();
        assert_eq!(kind(&error), ErrorKind::InvalidConfig, "{error}");
        // Both sides are named: what was asked, and what the backend offers.
        for part in [
            "buffer 1310720 frames",
            // The XenStore limits: 5242880 bytes of the smallest frame (mono s16).
            "buffer 1-2621440 frames",
            "backend refused HW_PARAM_QUERY (status -22)",
            "backend offers formats s16_le",
            "buffer 64-1048576 frames",
        ] {
            assert!(error.detail.contains(part), "{part:?} missing: {error}");
        }
        assert_eq!(engine.requests("spk", XENSND_OP_HW_PARAM_QUERY), 2);
        assert_eq!(engine.requests("spk", XENSND_OP_OPEN), 0);
    }
}

per_backend! {
    fn buffer_of_4_mib_legal_for_both_sides_plays_sample_exact(profile) {
        // The same card with no buffer wish: the largest buffer both allow,
        // 1048576 frames = 4 MiB, which the backend refused while buffer_sz
        // carried 256 bytes more.
        let engine = engine_with_a_1048576_frame_device(profile, &card(&[("buffer-size", "5242880")]));
        let request = StreamRequest {
            format: Some(SampleFormat::S16Le),
            channels: Some(2),
            period_frames: Some(4800),
            ..StreamRequest::default()
        };
        let mut pcm = SndPlayback::open_unique_id(&engine.frontend, "spk", &request).unwrap();
        assert!(pcm.negotiation().backend_answered);
        assert_eq!(pcm.config().buffer_frames, 1 << 20);
        pcm.prepare().unwrap();
        // Less than a buffer: start explicitly.
        pcm.start().unwrap();
        let audio = ramp(24_000, 4);
        write_all(&mut pcm, &audio, 4);
        pcm.drain().unwrap();
        assert_eq!(pcm.position(), 24_000);
        assert!(engine.played("spk") == audio, "audio differs");
    }
}

/// Answer every HW_PARAM_QUERY whose buffer maximum is below `whole`
/// (the narrowed query) with `narrowed`, the others with `whole_status`
/// (0: honestly); `None` leaves the request unanswered.
fn answer_queries(world: &World, narrowed: Option<i32>, whole_status: Option<i32>) {
    world.hostile.borrow_mut().script = Some(Box::new(move |request, mut honest| {
        if request.operation != XENSND_OP_HW_PARAM_QUERY {
            return vec![xensnd_sim::hostile::Reply::Now(honest)];
        }
        let query = HwParam::read_from_prefix(&request.op).unwrap().0;
        // The narrowed query asks for exactly one buffer size.
        let status = if query.buffer.min == query.buffer.max {
            narrowed
        } else {
            whole_status
        };
        match status {
            Some(status) => {
                honest.status = status;
                vec![xensnd_sim::hostile::Reply::Now(honest)]
            }
            None => vec![],
        }
    }));
}

#[test]
fn query_refused_is_invalid_config_naming_what_the_backend_offers() {
    use xen_abi::errno::{XEN_EINVAL, XEN_EIO};
    for status in [-XEN_EINVAL, -XEN_EIO] {
        let world = setup();
        answer_queries(&world, Some(status), Some(0));
        let error = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap_err();
        assert_eq!(kind(&error), ErrorKind::InvalidConfig, "{error}");
        let refused = format!("refused HW_PARAM_QUERY (status {status})");
        assert!(error.detail.contains(&refused), "{error}");
        // The honest hostile backend offers what it is asked: the
        // stream's whole XenStore limits (65536 bytes = 32768 mono frames).
        assert!(
            error.detail.contains(
                "offers formats s16_le, rates 48000-48000 Hz, channels 1-2, buffer 1-32768 frames"
            ),
            "{error}"
        );
        assert_eq!(requests_of(&world, 0, XENSND_OP_HW_PARAM_QUERY).len(), 2);
        // The request fixes the configuration: OPEN went with the first
        // query (one ring round trip) and was closed again.
        assert_eq!(requests_of(&world, 0, XENSND_OP_OPEN).len(), 1);
        assert_eq!(requests_of(&world, 0, XENSND_OP_CLOSE).len(), 1);
        assert_clean_teardown(&world);
    }
}

#[test]
fn query_refused_even_for_the_whole_xenstore_limits_says_nothing_is_offered() {
    use xen_abi::errno::XEN_EINVAL;
    let world = setup();
    answer_queries(&world, Some(-XEN_EINVAL), Some(-XEN_EINVAL));
    let error = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::InvalidConfig, "{error}");
    assert!(
        error
            .detail
            .contains("offers nothing within the XenStore limits (status -22)"),
        "{error}"
    );
    assert_eq!(requests_of(&world, 0, XENSND_OP_OPEN).len(), 1);
    assert_eq!(requests_of(&world, 0, XENSND_OP_CLOSE).len(), 1);
    assert_clean_teardown(&world);
}

#[test]
fn query_not_implemented_falls_back_to_the_xenstore_limits() {
    use xen_abi::errno::{XEN_ENOSYS, XEN_EOPNOTSUPP};
    // -EOPNOTSUPP, -ENOSYS, and no answer within the request timeout.
    for narrowed in [Some(-XEN_EOPNOTSUPP), Some(-XEN_ENOSYS), None] {
        let world = setup();
        answer_queries(&world, narrowed, Some(0));
        let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
        assert!(!pcm.negotiation().backend_answered, "{narrowed:?}");
        assert_eq!(pcm.config().buffer_frames, 1920);
        // One query only: nothing was refused.
        assert_eq!(requests_of(&world, 0, XENSND_OP_HW_PARAM_QUERY).len(), 1);
        pcm.prepare().unwrap();
        pcm.start().unwrap();
        play(&mut pcm, 2400).unwrap();
        pcm.drain().unwrap();
        assert_clean_teardown(&world);
    }
}

#[test]
fn request_outside_the_xenstore_configuration_is_invalid_config_without_a_query() {
    let world = setup();
    let request = StreamRequest::exact(SampleFormat::S16Le, 44_100, 2, 480, 1920);
    let error = SndPlayback::open_unique_id(&world.frontend, "spk", &request).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::InvalidConfig, "{error}");
    assert!(error.detail.contains("rate 44100 Hz"), "{error}");
    assert!(error.detail.contains("rates 48000-48000 Hz"), "{error}");
    assert!(requests_of(&world, 0, XENSND_OP_HW_PARAM_QUERY).is_empty());
    assert_clean_teardown(&world);
}

// ---- positions while a playback stream runs dry ----

fn push_positions(world: &World, positions: &[u64]) {
    let mut state = world.hostile.borrow_mut();
    for &position in positions {
        state.streams[0].push_position(position);
    }
}

/// Let the backend run, then let the frontend take in what it did.
fn settle(world: &World, pcm: &mut SndPlayback<SimGuest>) {
    world.sim.run_until_idle(1000);
    pcm.write_ready().unwrap();
}

#[test]
fn position_past_what_was_written_is_clamped_and_counts_one_underrun_per_dry_spell() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    world.hostile.borrow_mut().report_positions = false;
    // 1000 frames (4000 bytes) written; the buffer is 1920 frames.
    play(&mut pcm, 1000).unwrap();
    settle(&world, &mut pcm);
    assert_eq!(pcm.counters().underruns, 0);
    // The device ran dry and kept counting, like snd_be's timestamp.
    push_positions(&world, &[4000 + 400]);
    settle(&world, &mut pcm);
    assert_eq!(pcm.position(), 1000, "clamped to what was written");
    assert_eq!(pcm.delay(), 0);
    assert_eq!(pcm.counters().underruns, 1);
    // Still dry: the same underrun. Back to exactly the end (snd_be after
    // its xrun recovery): not backwards.
    push_positions(&world, &[4000 + 800, 4000]);
    settle(&world, &mut pcm);
    assert_eq!(pcm.position(), 1000);
    assert_eq!(pcm.counters().underruns, 1);
    assert_eq!(pcm.channel_stats().bad_positions, 0);
    // Below the position held: backwards, ignored.
    push_positions(&world, &[3000]);
    settle(&world, &mut pcm);
    assert_eq!(pcm.channel_stats().bad_positions, 1);
    // More data, and the device runs dry again: a second underrun.
    play(&mut pcm, 500).unwrap();
    push_positions(&world, &[6000 + 100]);
    settle(&world, &mut pcm);
    assert_eq!(pcm.position(), 1500);
    assert_eq!(pcm.counters().underruns, 2);
    // Exactly a buffer (7680 bytes) past is still a device; more is not.
    push_positions(&world, &[6000 + 7680, 6000 + 7680 + 4]);
    settle(&world, &mut pcm);
    assert_eq!(pcm.position(), 1500);
    assert_eq!(pcm.channel_stats().bad_positions, 2);
    assert_eq!(pcm.counters().underruns, 2);
    // The stream plays on.
    world.hostile.borrow_mut().report_positions = true;
    play(&mut pcm, 480).unwrap();
    pcm.drain().unwrap();
    assert_eq!(pcm.state(), StreamState::Drained);
    assert_eq!(pcm.position(), 1980);
    assert_clean_teardown(&world);
}

#[test]
fn drain_completes_promptly_when_the_position_passes_the_end() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    world.hostile.borrow_mut().report_positions = false;
    play(&mut pcm, 1000).unwrap();
    settle(&world, &mut pcm);
    // The device played the end and a little silence past it.
    push_positions(&world, &[4000 + 200]);
    let before = world.sim.now_ns();
    pcm.drain().unwrap();
    assert_eq!(pcm.state(), StreamState::Drained);
    assert_eq!(world.sim.now_ns(), before, "drain waited");
    assert_eq!(pcm.position(), 1000);
    // Draining to the end is no underrun.
    assert_eq!(pcm.counters().underruns, 0);
    assert_clean_teardown(&world);
}

/// A request that fixes the configuration (every value asked for) opens
/// in one ring round trip: `open` sends HW_PARAM_QUERY and OPEN together,
/// `prepare` sends nothing. One that leaves the buffer and period to the
/// backend's answer queries at `open` and opens at `prepare`, as before.
#[test]
fn query_and_open_go_together_when_the_request_fixes_the_configuration() {
    let world = setup();
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    assert!(pcm.negotiation().backend_answered);
    assert_eq!(requests_of(&world, 0, XENSND_OP_HW_PARAM_QUERY).len(), 1);
    assert_eq!(requests_of(&world, 0, XENSND_OP_OPEN).len(), 1);
    assert_eq!(pcm.channel_stats().round_trips, 1);
    pcm.prepare().unwrap();
    assert_eq!(requests_of(&world, 0, XENSND_OP_OPEN).len(), 1);
    assert_eq!(pcm.channel_stats().round_trips, 1);
    pcm.start().unwrap();
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    // A second prepare opens again (the stream starts over).
    pcm.prepare().unwrap();
    assert_eq!(requests_of(&world, 0, XENSND_OP_OPEN).len(), 2);
    pcm.close().unwrap();
    drop(pcm);

    let layout = StreamRequest::layout(SampleFormat::S16Le, 48_000, 2);
    let mut mic = SndCapture::open_unique_id(&world.frontend, "mic", &layout).unwrap();
    assert_eq!(requests_of(&world, 1, XENSND_OP_HW_PARAM_QUERY).len(), 1);
    assert!(requests_of(&world, 1, XENSND_OP_OPEN).is_empty());
    mic.prepare().unwrap();
    assert_eq!(requests_of(&world, 1, XENSND_OP_OPEN).len(), 1);
    assert_eq!(mic.channel_stats().round_trips, 2);
    assert_clean_teardown(&world);
}

/// A backend that accepts the query but refuses the OPEN sent with it:
/// `open` succeeds as before (the query decided), and `prepare` sends
/// OPEN again and gives the same error as before.
#[test]
fn open_refused_after_the_query_is_the_same_error_at_prepare() {
    use xen_abi::errno::XEN_EIO;
    let world = setup();
    world.hostile.borrow_mut().script = Some(Box::new(|request, mut honest| {
        if request.operation == XENSND_OP_OPEN {
            honest.status = -XEN_EIO;
        }
        vec![xensnd_sim::hostile::Reply::Now(honest)]
    }));
    let mut pcm = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap();
    assert!(pcm.negotiation().backend_answered);
    let error = pcm.prepare().unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Backend(-XEN_EIO), "{error}");
    assert_eq!(requests_of(&world, 0, XENSND_OP_OPEN).len(), 2);
    assert_clean_teardown(&world);
}
