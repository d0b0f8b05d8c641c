//! Fuzz target: the stream/PCM chaos property test (`xensnd_sim::chaos`).
//! The input chooses everything: the hostile backend's answers (error
//! statuses, answers past the timeout or never, duplicates, wrong ids and
//! operations), its positions (stalled, trickling, repeated, skipped ids),
//! XenBus flips and `xl shutdown`, interleaved with random application
//! calls. Any broken invariant panics (see the module docs): a call past
//! its bound, capture bytes the backend did not write or out of order, a
//! playback position past what was written, a grant or event channel left
//! after teardown, an arithmetic overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = xensnd_sim::chaos::run(data);
});
