//! Fuzz target: a hostile xenstored. The guest's XenStore client sends
//! requests while the simulated xenstored is paused and the input writes
//! arbitrary bytes into the response ring and moves its indices. The client
//! must fail cleanly (error, timeout, broken ring), never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xensnd_sim::SimXen;
use xen_guest::xenstore::{RSP_OFFSET, RSP_PROD, RING_SIZE};
use xen_guest::SharedPage;

const GUEST: u16 = 3;

fuzz_target!(|data: &[u8]| {
    let sim = SimXen::new();
    let mut guest = sim.add_guest(GUEST);
    let Ok(mut store) = guest.xenstore() else {
        return;
    };
    store.set_timeout_ns(1_000_000);
    sim.set_store_paused(GUEST, true);
    let page = guest.store_page();
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next();
    let mut rsp_prod = page.load_u32(RSP_PROD);
    while let Some(op) = next() {
        match op % 6 {
            0 => {
                // Append response bytes and publish them.
                let count = usize::from(next().unwrap_or(0) % 64);
                for _ in 0..count {
                    let byte = next().unwrap_or(0);
                    let at = RSP_OFFSET + (rsp_prod % RING_SIZE) as usize;
                    page.write(at, &[byte]);
                    rsp_prod = rsp_prod.wrapping_add(1);
                }
                page.store_u32(RSP_PROD, rsp_prod);
            }
            1 => {
                // A whole header: type, req_id, tx_id, len (len often sane).
                let mut header = [0u8; 16];
                header[0] = next().unwrap_or(0) % 20;
                header[4] = next().unwrap_or(1);
                header[12] = next().unwrap_or(0);
                header[13] = next().unwrap_or(0) % 5;
                for byte in header {
                    let at = RSP_OFFSET + (rsp_prod % RING_SIZE) as usize;
                    page.write(at, &[byte]);
                    rsp_prod = rsp_prod.wrapping_add(1);
                }
                page.store_u32(RSP_PROD, rsp_prod);
            }
            2 => {
                let mut raw = [0u8; 4];
                for byte in raw.iter_mut() {
                    *byte = next().unwrap_or(0);
                }
                rsp_prod = u32::from_le_bytes(raw);
                page.store_u32(RSP_PROD, rsp_prod);
            }
            3 => {
                let _ = store.read(&mut guest, "domid");
            }
            4 => {
                let _ = store.directory(&mut guest, "/local/domain");
            }
            _ => {
                let _ = store.poll(&mut guest);
                while store.next_watch_event().is_some() {}
            }
        }
    }
});
