//! The starter (`apps/hello`) against both backend profiles: sndback's and
//! one that behaves as xen-troops snd_be does (no volume, timer-driven
//! positions, rounded periods), and against a mono-only card.
use xensnd_sim::backend_host::BackendProfile;
use xensnd_sim::sound::SimSound;
use xensnd_sim::vsnd::SimVsndSpec;

/// A ramp, as the capture source.
fn ramp() -> Vec<u8> {
    (0..4800i16)
        .flat_map(|i| ((i % 100 - 50) * 300).to_le_bytes())
        .collect()
}

#[test]
fn hello_plays_sample_exact_against_both_backend_profiles() {
    for profile in [BackendProfile::Sndback, BackendProfile::SndBeLike] {
        let sim = SimSound::with_card(&SimVsndSpec::simple(), profile, ramp());
        let peak = hello::hello(sim.frontend(), "spk", "mic").unwrap();
        assert_eq!(sim.played("spk"), hello::SOUND, "{profile:?}");
        assert_eq!(peak, 15_000, "{profile:?}");
    }
}

#[test]
fn hello_is_refused_with_a_clear_error_by_a_stereo_only_card() {
    let mut spec = SimVsndSpec::simple();
    for (key, value) in spec.card.iter_mut() {
        if key == "channels-min" {
            *value = "2".to_string();
        }
    }
    let sim = SimSound::with_card(&spec, BackendProfile::Sndback, ramp());
    let error = hello::hello(sim.frontend(), "spk", "mic").unwrap_err();
    assert_eq!(error.kind, xensnd_pcm::ErrorKind::InvalidConfig, "{error}");
    assert!(sim.played("spk").is_empty());
}
