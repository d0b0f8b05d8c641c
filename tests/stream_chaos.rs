//! The bounded, seeded run of the stream/PCM chaos property test
//! (`xensnd_sim::chaos`): a fixed set of cases, each from a seeded RNG's
//! bytes, so `make test` runs the same cases every time. The long run is
//! the cargo-fuzz target `stream_chaos` (fuzz/README.md).

use std::time::Instant;

use xensnd_sim::chaos::{run, ChaosReport};

/// Cases per run, and input bytes per case.
const CASES: u64 = 300;
const BYTES: usize = 4096;

#[test]
fn stream_and_pcm_calls_keep_their_invariants_against_a_random_backend() {
    let started = Instant::now();
    let mut total = ChaosReport::default();
    for seed in 0..CASES {
        let mut rng = fastrand::Rng::with_seed(seed);
        let data: Vec<u8> = (0..BYTES).map(|_| rng.u8(..)).collect();
        let report = std::panic::catch_unwind(|| run(&data))
            .unwrap_or_else(|_| panic!("chaos case with seed {seed} failed (see above)"));
        total.steps += report.steps;
        total.calls += report.calls;
        total.errors += report.errors;
        total.frames += report.frames;
        total.reconnections += report.reconnections;
        total.simulated_ns += report.simulated_ns;
    }
    println!(
        "stream chaos: {CASES} cases, {} steps, {} calls ({} failed as allowed), {} frames moved, {} reconnections, {:.1} s simulated, {:.1} s real",
        total.steps,
        total.calls,
        total.errors,
        total.frames,
        total.reconnections,
        total.simulated_ns as f64 / 1e9,
        started.elapsed().as_secs_f64()
    );
    assert!(total.calls > CASES * 10, "the cases did something");
    assert!(total.frames > 0, "some audio moved");
}

/// Replay one case: `XENSND_CHAOS_SEED=77 XENSND_CHAOS_TRACE=1 cargo test
/// --test stream_chaos replay -- --nocapture`.
#[test]
fn replay() {
    let Some(seed) = std::env::var("XENSND_CHAOS_SEED").ok() else {
        return;
    };
    let mut rng = fastrand::Rng::with_seed(seed.parse().expect("a number"));
    let data: Vec<u8> = (0..BYTES).map(|_| rng.u8(..)).collect();
    println!("{:?}", run(&data));
}
