//! Fuzz target: a hostile frontend against the backend engine and its
//! XenBus state machine (`xensnd_sim::back_chaos`). The input chooses
//! everything: requests (ids, operations, absurd OPENs, ranges anywhere),
//! `req_prod` moved anywhere, garbage in the ring header and event page,
//! page directories that loop, repeat or name bogus references, XenBus
//! state flips, ring nodes rewritten or removed, hostile `unique-id`s, the
//! device removed and added, time passing. Any broken invariant panics
//! (see the module docs): an action not served in bounded steps, the
//! ledger differing from the grant table or past its caps, a mapping or
//! event channel left after teardown, an arithmetic overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = xensnd_sim::back_chaos::run(data);
});
