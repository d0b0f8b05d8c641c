//! `hello` on the host, against a simulated Xen, card and backend.
use xensnd::sim::sound::SimSound;

#[test]
fn plays_the_sound_sample_exact_and_measures_the_capture() {
    let tone: Vec<u8> = (0..4800i16)
        .flat_map(|i| ((i % 100 - 50) * 300).to_le_bytes())
        .collect();
    let sim = SimSound::new(tone);
    let peak = hello::hello(sim.frontend(), "spk", "mic").unwrap();
    assert_eq!(sim.played("spk"), hello::SOUND);
    assert_eq!(peak, 15_000);
}
