//! The demo and the conversion adapter on streams of every convertible
//! format, end to end: the real frontend, the simulated Xen and the real
//! backend engine, on a card that offers only that format. What reaches
//! the backend's sink (and what the guest measures from its source) is
//! checked byte for byte against the independent model in
//! `tests/convert_model`.

mod convert_model;

#[macro_use]
mod profiles;

use std::cell::RefCell;
use std::rc::Rc;

use convert_model::*;
use xensnd_backend::io::IoError;
use xensnd_backend::Source;
use xensnd_demo::demo;
use xensnd_demo::run::{run, Options};
use xensnd_demo::signal::{Crc32, Tone};
use xensnd_pcm::convert::ConvertingStream;
use xensnd_pcm::format::{FormatSet, SampleFormat};
use xensnd_pcm::{Stream, StreamState};
use xensnd_sim::backend_host::BackendProfile;
use xensnd_sim::backend_host::{SimBackendView, SimSndBackend};
use xensnd_sim::vsnd::{add_vsnd_device, SimVsndSpec};
use xensnd_sim::{SimGuest, SimXen};
use xensnd_sndif::frontend::{Frontend, FrontendOptions};
use xensnd_sndif::negotiate::StreamRequest;
use xensnd_sndif::pcm::{SndCapture, SndPlayback};

const GUEST: u16 = 11;

/// A capture source repeating `bytes`.
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

/// 251 bytes (prime: no frame size divides it), every value class.
fn pattern() -> Vec<u8> {
    (0..251u32).map(|i| (i * 97 + 13) as u8).collect()
}

type View = Rc<RefCell<SimBackendView>>;

/// A card offering `formats` (a XenStore list, e.g. `s32_le` or
/// `s16_le,float_le`), 48 kHz, 1..2 channels, with `spk` and `mic`.
fn setup(profile: BackendProfile, formats: &str) -> (SimXen, Frontend<SimGuest>, View) {
    let mut spec = SimVsndSpec::simple();
    for (key, value) in spec.card.iter_mut() {
        if key == "sample-formats" {
            *value = formats.to_string();
        }
    }
    let sim = SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &spec));
    let bytes = pattern();
    // The backend serves every format with a sample size (its default is
    // s16_le and s32_le); the card narrows it.
    let mut settings = profile.settings(1 << 20);
    settings.limits.formats = FormatSet::SIZED;
    let view = SimSndBackend::attach(
        &sim,
        settings,
        Box::new(move |_, _| {
            Box::new(Pattern {
                bytes: bytes.clone(),
                at: 0,
            }) as Box<dyn Source>
        }),
    );
    let store = guest.xenstore().expect("store ring");
    let probe = Frontend::probe(guest, store, FrontendOptions::default()).expect("probe");
    assert!(probe.failed.is_empty(), "{:?}", probe.failed);
    (sim, probe.frontend, view)
}

const TONE: Tone = Tone {
    frequency_hz: 440,
    rate: 48_000,
    channels: 2,
    level_millidb: -6000,
};

/// The tone's first `frames` frames in a format, by the model.
fn tone_in(layout: Layout, big: bool, frames: u64) -> Vec<u8> {
    let mut samples = vec![0i16; frames as usize * 2];
    TONE.fill(0, &mut samples);
    samples
        .iter()
        .flat_map(|&v| model_from_i16(layout, big, v))
        .collect()
}

fn played(view: &View) -> (Vec<u8>, Option<u8>) {
    let view = view.borrow();
    let sink = view
        .sinks
        .iter()
        .find(|((domid, id), _)| *domid == u32::from(GUEST) && id == "spk")
        .map(|(_, sink)| sink.clone())
        .expect("a sink for spk");
    (sink.bytes(), sink.params().map(|params| params.format))
}

fn options(pairs: &[(&str, &str)]) -> Options {
    Options::parse(pairs.iter().copied()).expect("options")
}

per_backend! {
    fn the_demo_plays_on_a_card_offering_only_one_format_any_of_them(profile) {
        for (format, layout, big) in formats() {
            let (_sim, frontend, view) = setup(profile, format.name());
            run(&frontend, &frontend, &options(&[("demo", "tone"), ("ms", "100")]))
                .unwrap_or_else(|error| panic!("{format}: {error}"));
            let (bytes, code) = played(&view);
            assert_eq!(code, Some(format.code()), "{format}: the stream's format");
            let expected = tone_in(layout, big, 4_800);
            assert_eq!(bytes.len(), expected.len(), "{format}");
            assert!(
                bytes == expected,
                "{format}: the sink differs from the model"
            );
        }
    }
}

per_backend! {
    fn format_option_chooses_and_the_default_prefers_s16(profile) {
        let both = "u8,s16_le,s32_le,float_le";
        for (wish, expected) in [
            (None, SampleFormat::S16Le),
            (Some("s32_le"), SampleFormat::S32Le),
            (Some("FLOAT_LE"), SampleFormat::F32Le),
            (Some("u8"), SampleFormat::U8),
        ] {
            let (_sim, frontend, view) = setup(profile, both);
            let mut pairs = vec![("demo", "tone"), ("ms", "20")];
            if let Some(name) = wish {
                pairs.push(("format", name));
            }
            run(&frontend, &frontend, &options(&pairs)).unwrap();
            let (bytes, code) = played(&view);
            assert_eq!(code, Some(expected.code()), "format={wish:?}");
            let (_, layout, big) = formats().find(|(f, ..)| *f == expected).unwrap();
            assert!(bytes == tone_in(layout, big, 960), "format={wish:?}");
        }
        // A format the card does not offer: a clear error naming it, nothing played.
        let (_sim, frontend, view) = setup(profile, "s32_le");
        let error = run(
            &frontend,
            &frontend,
            &options(&[("demo", "tone"), ("ms", "20"), ("format", "s16_le")]),
        )
        .unwrap_err();
        assert!(error.contains("s16_le"), "{error}");
        assert!(view
            .borrow()
            .sinks
            .iter()
            .all(|(_, sink)| sink.bytes().is_empty()));
        // Names that are no format.
        let error = Options::parse([("format", "s16")]).unwrap_err();
        assert!(error.contains("format=s16"), "{error}");
        // A card with no convertible format: Unsupported, nothing played.
        let (_sim, frontend, view) = setup(profile, "iec958_subframe_le");
        let error = run(&frontend, &frontend, &options(&[("demo", "tone"), ("ms", "20")])).unwrap_err();
        assert!(error.contains("not supported"), "{error}");
        assert!(view
            .borrow()
            .sinks
            .iter()
            .all(|(_, sink)| sink.bytes().is_empty()));
    }
}

per_backend! {
    fn the_chime_and_cycles_convert_too(profile) {
        let (_sim, frontend, view) = setup(profile, "s24_be");
        run(&frontend, &frontend, &options(&[("demo", "chime")])).unwrap();
        let frames = xensnd_demo::chime::frames_at(48_000);
        let mut samples = vec![0i16; frames as usize * 2];
        xensnd_demo::chime::fill(48_000, 2, 0, &mut samples);
        let (_, layout, big) = formats().find(|(f, ..)| *f == SampleFormat::S24Be).unwrap();
        let expected: Vec<u8> = samples
            .iter()
            .flat_map(|&v| model_from_i16(layout, big, v))
            .collect();
        assert!(played(&view).0 == expected, "chime on s24_be");
        let (_sim, frontend, _view) = setup(profile, "mu_law");
        run(
            &frontend,
            &frontend,
            &options(&[("demo", "cycles"), ("cycles", "3"), ("stream", "spk")]),
        )
        .unwrap();
    }
}

per_backend! {
    fn record_measures_every_format_and_its_crc_is_over_the_stream_bytes(profile) {
        let source = pattern();
        for (format, layout, big) in formats() {
            let (_sim, frontend, _view) = setup(profile, format.name());
            let mut pcm = SndCapture::open_unique_id(&frontend, "mic", &StreamRequest::default())
                .unwrap();
            assert_eq!(pcm.config().format, format);
            pcm.prepare().unwrap();
            let frames = 2_400u64;
            let report = demo::record(&mut pcm, frames).unwrap();
            let width = bytes_of(layout);
            let total = frames as usize * 2 * width;
            let wire: Vec<u8> = source.iter().copied().cycle().take(total).collect();
            assert_eq!(report.frames, frames);
            assert_eq!(
                report.crc32,
                Crc32::of(&wire),
                "{format}: CRC over the wire bytes"
            );
            let peak = wire
                .chunks_exact(width)
                .map(|bytes| i32::from(model_to_i16(layout, big, bytes)).unsigned_abs())
                .max()
                .unwrap();
            assert_eq!(u32::from(report.peak), peak, "{format}: peak");
            pcm.close().unwrap();
        }
    }
}

per_backend! {
    fn the_adapter_works_unchanged_over_the_simulated_backend(profile) {
        let source = pattern();
        for (format, layout, big) in formats() {
            let (_sim, frontend, view) = setup(profile, format.name());
            // Playback of f32 samples.
            let pcm = SndPlayback::open_unique_id(&frontend, "spk", &StreamRequest::default())
                .unwrap();
            let mut stream = ConvertingStream::<_, f32>::new(pcm).unwrap();
            stream.prepare().unwrap();
            let frames = 3_000usize;
            let samples: Vec<f32> = (0..frames * 2)
                .map(|i| ((i * 7919) % 65_537) as f32 / 32_768.5 - 1.0 + 1.0 / 3.0e5)
                .collect();
            let mut done = 0;
            while done < frames {
                let rest = &samples[done * 2..];
                if stream.state() == StreamState::Prepared && stream.available() < rest.len() / 2 {
                    stream.start().unwrap();
                }
                done += stream.write(rest).unwrap();
            }
            if stream.state() == StreamState::Prepared {
                stream.start().unwrap();
            }
            stream.drain().unwrap();
            let expected: Vec<u8> = samples
                .iter()
                .flat_map(|&x| model_from_f32(layout, big, x))
                .collect();
            assert!(played(&view).0 == expected, "{format}: f32 playback");
            // Capture into f32 samples.
            let pcm = SndCapture::open_unique_id(&frontend, "mic", &StreamRequest::default())
                .unwrap();
            let mut stream = ConvertingStream::<_, f32>::new(pcm).unwrap();
            stream.prepare().unwrap();
            stream.start().unwrap();
            let mut got = vec![0f32; frames * 2];
            let mut wire = Vec::new();
            let mut done = 0;
            while done < frames {
                done += stream.read(&mut got[done * 2..]).unwrap();
                wire.extend_from_slice(stream.wire());
            }
            stream.stop().unwrap();
            let width = bytes_of(layout);
            let expected: Vec<u8> = source.iter().copied().cycle().take(wire.len()).collect();
            assert!(wire == expected, "{format}: capture wire bytes");
            for (index, (sample, bytes)) in got.iter().zip(wire.chunks_exact(width)).enumerate() {
                let want = model_to_f32(layout, big, bytes);
                assert_eq!(sample.to_bits(), want.to_bits(), "{format}: sample {index}");
            }
        }
    }
}
