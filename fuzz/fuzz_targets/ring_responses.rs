//! Fuzz target: a hostile request/response ring page. The input is a
//! program of operations: the frontend's channel submits requests, polls
//! (`FrontRing::take_response` + the channel's response matching) and
//! claims completions, while the "backend" writes arbitrary bytes into
//! response slots and moves `rsp_prod` anywhere. No input may panic, index
//! out of bounds, or complete more requests than were submitted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xensnd_sim::SimXen;
use xensnd_sndif::channel::Channel;
use xen_guest::SharedPage;

const GUEST: u16 = 3;

fuzz_target!(|data: &[u8]| {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(GUEST);
    let Ok(mut channel) = Channel::new(&mut guest, 0) else {
        return;
    };
    channel.set_timeout_ns(1_000_000);
    let ring_gref = channel.xenstore_values()[0].1;
    let Ok(mapping) = sim.map_grant(0, GUEST, ring_gref, true) else {
        return;
    };
    let page = mapping.page;
    let mut submitted = 0u64;
    let mut completed = 0u64;
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next();
    while let Some(op) = next() {
        match op % 6 {
            0 => {
                let operation = next().unwrap_or(0) % 12;
                if channel.submit(&mut guest, operation, &[0u8; 8]).is_ok() {
                    submitted += 1;
                }
            }
            1 => {
                // A response slot, byte by byte.
                let slot = usize::from(next().unwrap_or(0) % 32);
                let mut entry = [0u8; 64];
                for byte in entry.iter_mut() {
                    *byte = next().unwrap_or(0);
                }
                page.write(64 + slot * 64, &entry);
            }
            2 => {
                let mut raw = [0u8; 4];
                for byte in raw.iter_mut() {
                    *byte = next().unwrap_or(0);
                }
                page.store_u32(8, u32::from_le_bytes(raw));
            }
            3 => {
                // Move rsp_prod by a small step (the interesting region).
                let step = u32::from(next().unwrap_or(0) % 40);
                let current = page.load_u32(8);
                page.store_u32(8, current.wrapping_add(step));
            }
            4 => {
                let _ = channel.poll(&mut guest);
                while channel.take_any_completion().is_some() {
                    completed += 1;
                }
            }
            _ => {
                let now = sim.now_ns();
                sim.advance_to(now + u64::from(next().unwrap_or(0)) * 100_000);
                let _ = channel.poll(&mut guest);
            }
        }
        assert!(completed <= submitted);
        assert!(channel.in_flight() <= 32);
        if channel.broken().is_some() {
            assert!(channel.submit(&mut guest, 0, &[]).is_err());
        }
    }
    let _ = sim.unmap_grant(mapping.handle);
    let leftovers = channel.close(&mut guest);
    assert!(leftovers.is_empty());
});
