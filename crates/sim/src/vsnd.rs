//! vsnd devices in the simulated XenStore, written the way libxl does for a
//! `vsnd = [...]` line of an xl config (`tools/libs/light/libxl_vsnd.c`):
//! the frontend directory with the card/PCM/stream nodes, the backend
//! directory, both states Initialising, and the guest's `domid` node. The
//! simulated backend that serves them is
//! [`crate::backend_host::SimSndBackend`].
#![forbid(unsafe_code)]

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::SimCore;
use xen_guest::DomId;

/// One `STREAM` of a simulated vsnd device.
#[derive(Debug, Clone)]
pub struct SimStreamSpec {
    /// `unique-id`.
    pub unique_id: String,
    /// Playback (`p`) or capture (`c`).
    pub playback: bool,
    /// Extra stream-level nodes (e.g. `("sample-rates", "48000")`).
    pub nodes: Vec<(String, String)>,
}

/// One `PCM` of a simulated vsnd device.
#[derive(Debug, Clone)]
pub struct SimPcmSpec {
    /// `name`.
    pub name: String,
    /// Extra PCM-level nodes.
    pub nodes: Vec<(String, String)>,
    /// Its streams.
    pub streams: Vec<SimStreamSpec>,
}

/// A vsnd device as `xl` would configure it.
#[derive(Debug, Clone)]
pub struct SimVsndSpec {
    /// Card-level nodes (`short-name`, `sample-rates`, ...).
    pub card: Vec<(String, String)>,
    /// PCM instances.
    pub pcms: Vec<SimPcmSpec>,
}

impl SimVsndSpec {
    /// A card with one PCM holding a playback stream `spk` and a capture
    /// stream `mic`, 48 kHz, s16_le, 2 channels.
    pub fn simple() -> Self {
        let node = |k: &str, v: &str| (k.to_string(), v.to_string());
        SimVsndSpec {
            card: alloc::vec![
                node("short-name", "SimCard"),
                node("long-name", "Simulated sound card"),
                node("sample-rates", "48000"),
                node("sample-formats", "s16_le"),
                node("channels-min", "1"),
                node("channels-max", "2"),
                node("buffer-size", "65536"),
            ],
            pcms: alloc::vec![SimPcmSpec {
                name: "main".to_string(),
                nodes: Vec::new(),
                streams: alloc::vec![
                    SimStreamSpec {
                        unique_id: "spk".to_string(),
                        playback: true,
                        nodes: Vec::new(),
                    },
                    SimStreamSpec {
                        unique_id: "mic".to_string(),
                        playback: false,
                        nodes: Vec::new(),
                    },
                ],
            }],
        }
    }
}

/// Frontend path of device `dev` of `domid`.
pub fn frontend_path(domid: DomId, dev: u32) -> String {
    format!("/local/domain/{domid}/device/vsnd/{dev}")
}

/// Backend path of device `dev` of `domid` (backend in dom0).
pub fn backend_path(domid: DomId, dev: u32) -> String {
    format!("/local/domain/0/backend/vsnd/{domid}/{dev}")
}

/// Write device `dev` for `domid` into XenStore as libxl does (both
/// directories, states Initialising, and the guest's `domid` node).
pub fn add_vsnd_device(core: &mut SimCore, domid: DomId, dev: u32, spec: &SimVsndSpec) {
    let fe = frontend_path(domid, dev);
    let be = backend_path(domid, dev);
    let conn = core.store().connect_local(0);
    let store = &mut core.store;
    let mut w = |path: &str, value: &str| {
        store
            .write(conn, 0, path, value.as_bytes())
            .expect("toolstack write");
    };
    w(&format!("/local/domain/{domid}/domid"), &domid.to_string());
    w(&format!("{fe}/backend"), &be);
    w(&format!("{fe}/backend-id"), "0");
    w(&format!("{fe}/state"), "1");
    for (k, v) in &spec.card {
        w(&format!("{fe}/{k}"), v);
    }
    for (p, pcm) in spec.pcms.iter().enumerate() {
        w(&format!("{fe}/{p}/name"), &pcm.name);
        for (k, v) in &pcm.nodes {
            w(&format!("{fe}/{p}/{k}"), v);
        }
        for (s, stream) in pcm.streams.iter().enumerate() {
            let dir = format!("{fe}/{p}/{s}");
            w(
                &format!("{dir}/type"),
                if stream.playback { "p" } else { "c" },
            );
            w(&format!("{dir}/unique-id"), &stream.unique_id);
            for (k, v) in &stream.nodes {
                w(&format!("{dir}/{k}"), v);
            }
        }
    }
    w(&format!("{be}/frontend"), &fe);
    w(&format!("{be}/frontend-id"), &domid.to_string());
    w(&format!("{be}/online"), "1");
    w(&format!("{be}/state"), "1");
}
