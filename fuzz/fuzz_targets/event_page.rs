//! Fuzz target: a hostile event page. The "backend" writes arbitrary events
//! and moves `in_prod` anywhere; the frontend's channel consumes them
//! (`EventConsumer::take_event` + event handling). The tracked position may
//! never go backwards (except on an explicit reset) nor pass the limit.
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
    let events_gref = channel.xenstore_values()[2].1;
    let Ok(mapping) = sim.map_grant(0, GUEST, events_gref, true) else {
        return;
    };
    let page = mapping.page;
    let mut limit: Option<u64> = None;
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next();
    let mut last = channel.position();
    while let Some(op) = next() {
        match op % 6 {
            0 => {
                // An event slot: id, type, then a position (mostly small).
                let slot = usize::from(next().unwrap_or(0) % 63);
                let mut entry = [0u8; 64];
                entry[0] = next().unwrap_or(0);
                entry[1] = next().unwrap_or(0);
                entry[2] = next().unwrap_or(0) % 3;
                let position = u64::from(next().unwrap_or(0)) * u64::from(next().unwrap_or(1));
                entry[8..16].copy_from_slice(&position.to_le_bytes());
                page.write(64 + slot * 64, &entry);
            }
            1 => {
                let step = u32::from(next().unwrap_or(0));
                let current = page.load_u32(4);
                page.store_u32(4, current.wrapping_add(step));
            }
            2 => {
                let mut raw = [0u8; 4];
                for byte in raw.iter_mut() {
                    *byte = next().unwrap_or(0);
                }
                page.store_u32(4, u32::from_le_bytes(raw));
            }
            3 => {
                limit = match next().unwrap_or(0) {
                    0 => None,
                    n => Some(u64::from(n) * 1000),
                };
                channel.set_position_limit(limit);
            }
            4 => {
                // Also forgets the limit.
                channel.reset_position();
                limit = None;
                last = channel.position();
            }
            _ => {
                let _ = channel.poll(&mut guest);
                let now = channel.position();
                assert!(now.bytes >= last.bytes, "position went backwards");
                assert!(now.updates >= last.updates);
                if now.updates != last.updates {
                    assert!(limit.is_none_or(|limit| now.bytes <= limit));
                }
                last = now;
            }
        }
    }
    let _ = sim.unmap_grant(mapping.handle);
    assert!(channel.close(&mut guest).is_empty());
});
