//! A hostile frontend against the backend engine and its XenBus state
//! machine in the simulator (`xensnd_sim::back_chaos`): seeded runs of
//! random ring indices, page directories that loop or repeat or name
//! bogus references, absurd OPENs, requests in every state, event-page
//! garbage and XenBus state flips. Each run checks: no panic (overflow
//! checks on), every action served in bounded steps, the backend's ledger
//! equal to the grant table's mappings and within its caps, two event
//! channels per connected stream, and nothing left after teardown.
//!
//! The same runs are the cargo-fuzz target `backend_chaos` (fuzz/README.md).
//! A failing seed replays with
//! `XENSND_BACK_CHAOS_SEED=N cargo test --test backend_chaos replay -- --nocapture`.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use xensnd_sim::back_chaos::{run, Report};

/// Seeded runs in `cargo test` (a few seconds).
const SEEDS: u64 = 200;

fn bytes_for(seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let length = rng.usize(256..4096);
    (0..length).map(|_| rng.u8(..)).collect()
}

fn run_seed(seed: u64) -> Report {
    let bytes = bytes_for(seed);
    let result = std::panic::catch_unwind(|| run(&bytes));
    match result {
        Ok(report) => report,
        Err(panic) => {
            eprintln!(
                "backend chaos: seed {seed} failed; replay with XENSND_BACK_CHAOS_SEED={seed}"
            );
            std::panic::resume_unwind(panic)
        }
    }
}

#[test]
fn hostile_frontend_never_panics_leaks_or_exceeds_its_caps() {
    let mut total = Report::default();
    let mut connected_runs = 0;
    let mut opened_pages = 0;
    for seed in 0..SEEDS {
        let report = run_seed(seed);
        total.actions += report.actions;
        total.requests += report.requests;
        total.steps += report.steps;
        total.sabotages += report.sabotages;
        total.most_pages = total.most_pages.max(report.most_pages);
        total.most_streams = total.most_streams.max(report.most_streams);
        connected_runs += u64::from(report.most_streams > 0);
        // More than the ring pages: a buffer was mapped.
        opened_pages += u64::from(report.most_pages > 2 * report.most_streams);
    }
    println!(
        "backend chaos: {SEEDS} runs, {} actions, {} requests, {} sabotages, {} steps; {connected_runs} runs connected, {opened_pages} mapped a buffer; at most {} pages and {} streams at once",
        total.actions, total.requests, total.sabotages, total.steps, total.most_pages, total.most_streams
    );
    // The runs reach the interesting states, not only the refusals.
    assert!(connected_runs > SEEDS / 2, "{connected_runs}");
    assert!(opened_pages > SEEDS / 10, "{opened_pages}");
    assert!(total.requests > SEEDS * 50);
}

#[test]
fn replay() {
    let Ok(seed) = std::env::var("XENSND_BACK_CHAOS_SEED") else {
        return;
    };
    let report = run_seed(seed.parse().unwrap());
    println!("{report:?}");
}
