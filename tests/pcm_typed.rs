//! Typed streams: one generic zero-copy player runs unchanged against the
//! in-memory mock and the sndif stream over the simulator; a stream of the
//! wrong direction is refused when opened; the same for a generic
//! zero-copy recorder. (That a capture stream cannot be
//! written is checked at compile time: the `compile_fail` doc tests on
//! `xensnd_sndif::pcm::SndCapture` and `SndPlayback`.)

#[macro_use]
mod profiles;

use std::cell::RefCell;
use std::rc::Rc;

use xensnd_backend::io::{IoError, Source};
use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::mock::LoopbackStream;
use xensnd_pcm::{
    Capture, CaptureBuffer, Error as _, ErrorKind, Playback, PlaybackBuffer, Stream, StreamConfig,
    StreamState,
};
use xensnd_sim::backend_host::{BackendProfile, SimBackendView, SimSndBackend};
use xensnd_sim::vsnd::{add_vsnd_device, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::config::Direction;
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::{SndCapture, SndPlayback, SndStream};

const GUEST: u16 = 7;

/// Capture source of the simulated backend: [`ramp`], repeated.
struct Ramp {
    at: usize,
}

impl Source for Ramp {
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        for byte in out {
            *byte = (self.at % 251) as u8;
            self.at += 1;
        }
        Ok(())
    }
}

/// A guest with one vsnd device (`spk`, `mic`) served by the simulated
/// backend of `profile`.
fn setup(profile: BackendProfile) -> (SimXen, Frontend<SimGuest>, Rc<RefCell<SimBackendView>>) {
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &SimVsndSpec::simple()));
    let (backend, view) = SimSndBackend::new(
        profile.settings(1 << 20),
        Box::new(|_, _| Box::new(Ramp { at: 0 }) as Box<dyn Source>),
    );
    sim.add_peer(Box::new(backend));
    let store = guest.xenstore().expect("store ring");
    let probe = Frontend::probe(guest, store, FrontendOptions::default()).expect("probe");
    assert!(probe.failed.is_empty(), "{:?}", probe.failed);
    (sim, probe.frontend, view)
}

fn request(period: u32, buffer: u32) -> StreamRequest {
    StreamRequest::exact(SampleFormat::S16Le, 48_000, 2, period, buffer)
}

/// `frames` stereo s16 frames no two neighbours of which are alike.
fn ramp(frames: usize) -> Vec<u8> {
    (0..frames * 4).map(|i| (i % 251) as u8).collect()
}

/// Queue all of `source` (whole frames) through the zero-copy calls of
/// any [`PlaybackBuffer`], taking turns between `begin_write` +
/// `commit_write` and `try_write_in_place`. With no room, a prepared
/// stream is started and a running one waits in a blocking `write` of one
/// frame. Leaves the stream running; returns the frames queued zero-copy.
fn play<P: PlaybackBuffer>(stream: &mut P, source: &[u8]) -> Result<usize, P::Error> {
    let frame = stream.config().frame_bytes().expect("sized format") as usize;
    stream.prepare()?;
    let mut done = 0;
    let mut zero_copy = 0;
    let mut turn = 0u64;
    while done < source.len() {
        let left = &source[done..];
        let frames = left.len() / frame;
        turn += 1;
        let queued = if turn % 2 == 0 {
            stream
                .begin_write()
                .map(|mut slice| {
                    let n = slice.frames().min(frames);
                    slice.bytes_mut()[..n * frame].copy_from_slice(&left[..n * frame]);
                    n
                })
                .and_then(|n| stream.commit_write(n).map(|()| n))
        } else {
            stream.try_write_in_place(frames, &mut |bytes, first| {
                let at = first * frame;
                bytes.copy_from_slice(&left[at..at + bytes.len()]);
            })
        };
        match queued {
            Ok(n) => {
                done += n * frame;
                zero_copy += n;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stream.state() == StreamState::Prepared {
                    stream.start()?;
                } else {
                    done += stream.write(&left[..frame])? * frame;
                }
            }
            Err(e) => return Err(e),
        }
    }
    if stream.state() == StreamState::Prepared {
        stream.start()?;
    }
    Ok(zero_copy)
}

/// Take `frames` frames through the zero-copy calls of any
/// [`CaptureBuffer`] (`begin_read` + `commit_read`), starting a prepared
/// stream; with nothing captured, wait in a blocking `read` of one frame.
/// Returns the frames and how many came zero-copy.
fn record<C: CaptureBuffer>(stream: &mut C, frames: usize) -> Result<(Vec<u8>, usize), C::Error> {
    let frame = stream.config().frame_bytes().expect("sized format") as usize;
    if stream.state() == StreamState::Prepared {
        stream.start()?;
    }
    let mut got = vec![0u8; frames * frame];
    let mut done = 0;
    let mut zero_copy = 0;
    while done < got.len() {
        let want = (got.len() - done) / frame;
        let taken = stream
            .begin_read()
            .map(|slice| {
                let n = slice.frames().min(want);
                got[done..done + n * frame].copy_from_slice(&slice.bytes()[..n * frame]);
                n
            })
            .and_then(|n| stream.commit_read(n).map(|()| n));
        match taken {
            Ok(n) => {
                done += n * frame;
                zero_copy += n;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                done += stream.read(&mut got[done..done + frame])? * frame;
            }
            Err(e) => return Err(e),
        }
    }
    Ok((got, zero_copy))
}

#[test]
fn generic_playback_buffer_player_on_the_mock_is_sample_exact() {
    let frames = 4800;
    let mut mock = LoopbackStream::new(StreamConfig {
        format: SampleFormat::S16Le,
        rate: 48_000,
        channels: 2,
        period_frames: 480,
        buffer_frames: frames as u32,
    })
    .unwrap();
    let source = ramp(frames);
    assert_eq!(play(&mut mock, &source), Ok(frames));
    // What the loopback would have played comes back out of `read`.
    let mut got = vec![0u8; source.len()];
    let mut done = 0;
    while done < got.len() {
        done += mock.read(&mut got[done..]).unwrap() * 4;
    }
    assert!(got == source, "the mock's bytes differ");
}

per_backend! {
    fn generic_playback_buffer_player_on_the_simulator_is_sample_exact(profile) {
        let (_sim, frontend, view) = setup(profile);
        let mut spk = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        let frames = 24_000;
        let source = ramp(frames);
        let zero_copy = play(&mut spk, &source).unwrap();
        spk.drain().unwrap();
        assert_eq!(spk.position(), frames as u64);
        // Waiting for room takes one frame by copy; the rest went in place.
        assert!(zero_copy * 10 >= frames * 9, "{zero_copy} of {frames} frames zero-copy");
        let played = view.borrow().played(GUEST as u32, "spk");
        assert_eq!(played.len(), source.len());
        assert!(played == source, "the backend's bytes differ");
        spk.close().unwrap();
    }
}

per_backend! {
    fn commit_write_takes_no_more_than_begin_write_offered(profile) {
        let (_sim, frontend, view) = setup(profile);
        let mut spk = SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        // Not prepared: nothing to write into.
        assert_eq!(spk.begin_write().unwrap_err().kind(), ErrorKind::InvalidState);
        spk.prepare().unwrap();
        let offered = spk.begin_write().unwrap().frames();
        assert!(offered > 0 && offered <= 480, "{offered}");
        let error = spk.commit_write(offered + 1).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        // A refused commit queued nothing (as with the mock, the offer stands).
        assert_eq!(spk.delay(), 0);
        let source = ramp(3);
        let mut slice = spk.begin_write().unwrap();
        slice.bytes_mut()[..12].copy_from_slice(&source);
        spk.commit_write(3).unwrap();
        spk.drain().unwrap();
        assert_eq!(view.borrow().played(GUEST as u32, "spk"), source);
    }
}

per_backend! {
    fn a_stream_of_the_other_direction_is_refused_when_opened(profile) {
        let (_sim, frontend, _view) = setup(profile);
        let error = SndPlayback::open_unique_id(&frontend, "mic", &request(480, 1920)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidConfig);
        assert!(
            error.detail.contains("\"mic\"") && error.detail.contains("capture stream, not playback"),
            "{error}"
        );
        let error = SndCapture::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidConfig);
        assert!(error.detail.contains("playback stream, not capture"), "{error}");
        // By device and stream index too (spk is stream 0, mic stream 1).
        let error = SndCapture::open(&frontend, 0, 0, &request(480, 1920)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidConfig);
        let error = SndPlayback::open(&frontend, 0, 1, &request(480, 1920)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidConfig);
        // The right direction still opens, and unknown ids stay InvalidInput.
        SndPlayback::open_unique_id(&frontend, "spk", &request(480, 1920)).unwrap();
        SndCapture::open_unique_id(&frontend, "mic", &request(480, 1920)).unwrap();
        let error = SndPlayback::open_unique_id(&frontend, "nope", &request(480, 1920)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }
}

per_backend! {
    fn a_stream_opened_without_knowing_its_direction_gets_its_type(profile) {
        let (_sim, frontend, _view) = setup(profile);
        for (unique_id, direction) in [("spk", Direction::Playback), ("mic", Direction::Capture)] {
            let mut stream = SndStream::open_unique_id(&frontend, unique_id, &request(480, 1920)).unwrap();
            assert_eq!(stream.direction(), direction);
            stream.prepare().unwrap();
            match &mut stream {
                SndStream::Playback(spk) => assert_eq!(spk.write(&[0; 4]).unwrap(), 1),
                SndStream::Capture(mic) => {
                    mic.start().unwrap();
                    assert_eq!(mic.try_read(&mut [0; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
                }
            }
            stream.close().unwrap();
            assert_eq!(stream.state(), StreamState::Closed);
        }
    }
}

#[test]
fn generic_capture_buffer_recorder_on_the_mock_is_sample_exact() {
    let frames = 4800;
    let mut mock = LoopbackStream::new(StreamConfig {
        format: SampleFormat::S16Le,
        rate: 48_000,
        channels: 2,
        period_frames: 480,
        buffer_frames: frames as u32,
    })
    .unwrap();
    let source = ramp(frames);
    mock.prepare().unwrap();
    assert_eq!(mock.write(&source), Ok(frames));
    let (got, zero_copy) = record(&mut mock, frames).unwrap();
    assert_eq!(zero_copy, frames);
    assert!(got == source, "the mock's bytes differ");
}

per_backend! {
    fn generic_capture_buffer_recorder_on_the_simulator_is_sample_exact(profile) {
        let (_sim, frontend, _view) = setup(profile);
        let mut mic = SndCapture::open_unique_id(&frontend, "mic", &request(240, 960)).unwrap();
        mic.prepare().unwrap();
        let frames = 12_000;
        let (got, zero_copy) = record(&mut mic, frames).unwrap();
        // The backend's source from its first byte, every frame once.
        assert!(got == ramp(frames), "the captured bytes differ");
        assert!(zero_copy * 10 >= frames * 9, "{zero_copy} of {frames} frames zero-copy");
        assert_eq!(mic.counters().lost_bytes, 0);
        // begin_read lends without taking; commit_read takes.
        let frame_at = |k: usize| ramp(k + 1)[k * 4..].to_vec();
        let mut next = frames;
        let offered = loop {
            match mic.begin_read() {
                Ok(slice) => {
                    assert_eq!(slice.bytes()[..4], frame_at(next)[..]);
                    break slice.frames();
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::WouldBlock);
                    let mut frame = [0u8; 4];
                    assert_eq!(mic.read(&mut frame).unwrap(), 1);
                    assert_eq!(frame[..], frame_at(next)[..]);
                    next += 1;
                }
            }
        };
        let error = mic.commit_read(offered + 1).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert_eq!(mic.begin_read().unwrap().bytes()[..4], frame_at(next)[..]);
        mic.commit_read(1).unwrap();
        assert_eq!(mic.begin_read().unwrap().bytes()[..4], frame_at(next + 1)[..]);
        mic.stop().unwrap();
        mic.close().unwrap();
    }
}
