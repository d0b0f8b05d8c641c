//! A simulated sound card for an application's own host tests: one guest
//! domain with one vsnd card, served by the backend engine sndback runs,
//! and the guest's frontend connected to it, on simulated time.
//!
//! ```
//! use xensnd_pcm::{Playback, Stream};
//! use xensnd_sim::sound::SimSound;
//! use xensnd_sndif::negotiate::StreamRequest;
//! use xensnd_sndif::pcm::SndPlayback;
//!
//! let sim = SimSound::new(Vec::new());
//! let request = StreamRequest::default();
//! let mut speaker = SndPlayback::open_unique_id(sim.frontend(), "spk", &request).unwrap();
//! speaker.prepare().unwrap();
//! let frames = vec![1u8; 4 * 480]; // 10 ms of 48 kHz s16_le stereo
//! speaker.write(&frames).unwrap();
//! speaker.drain().unwrap();
//! speaker.close().unwrap();
//! assert_eq!(sim.played("spk"), frames);
//! ```

use std::boxed::Box;
use std::cell::RefCell;
use std::rc::Rc;
use std::vec::Vec;

use xensnd_backend::io::IoError;
use xensnd_backend::Source;
use xensnd_pcm::format::FormatSet;
use xensnd_sndif::frontend::{Frontend, FrontendOptions};

use crate::backend_host::{BackendProfile, SimBackendView, SimSndBackend};
use crate::vsnd::{add_vsnd_device, SimVsndSpec};
use crate::{SimGuest, SimXen};

/// The guest's domain id.
pub const GUEST_DOMID: u16 = 5;

/// A simulated Xen with one guest, one vsnd card and a backend serving it.
pub struct SimSound {
    xen: SimXen,
    frontend: Frontend<SimGuest>,
    view: Rc<RefCell<SimBackendView>>,
}

impl SimSound {
    /// The card of [`SimVsndSpec::simple`] (48 kHz, `s16_le`, 1 or 2
    /// channels, 64 KiB buffers; playback stream `spk`, capture stream
    /// `mic`), served by the sndback profile. A capture reads `capture`
    /// over and over (silence if it is empty).
    pub fn new(capture: Vec<u8>) -> Self {
        Self::with_card(&SimVsndSpec::simple(), BackendProfile::Sndback, capture)
    }

    /// A card of your own (`spec`), served by the backend `profile`
    /// (sndback's, or one that behaves as xen-troops snd_be does). The
    /// backend serves every format with a sample size; the card narrows.
    pub fn with_card(spec: &SimVsndSpec, profile: BackendProfile, capture: Vec<u8>) -> Self {
        let xen = SimXen::new();
        let guest = xen.add_guest(GUEST_DOMID);
        xen.with_core(|core| add_vsnd_device(core, GUEST_DOMID, 0, spec));
        let mut settings = profile.settings(1 << 20);
        settings.limits.formats = FormatSet::SIZED;
        let capture = Rc::new(capture);
        let view = SimSndBackend::attach(
            &xen,
            settings,
            Box::new(move |_, _| {
                Box::new(Looped {
                    bytes: Rc::clone(&capture),
                    at: 0,
                }) as Box<dyn Source>
            }),
        );
        let store = guest
            .xenstore()
            .expect("the simulated guest has a XenStore ring");
        let probe = Frontend::probe(guest, store, FrontendOptions::default())
            .expect("the simulated card connects");
        assert!(probe.failed.is_empty(), "{:?}", probe.failed);
        SimSound {
            xen,
            frontend: probe.frontend,
            view,
        }
    }

    /// The guest's sound frontend (its cards and streams); also the
    /// application's clock, on simulated time.
    pub fn frontend(&self) -> &Frontend<SimGuest> {
        &self.frontend
    }

    /// Every byte the backend received on the playback stream `unique_id`.
    pub fn played(&self, unique_id: &str) -> Vec<u8> {
        self.view.borrow().played(u32::from(GUEST_DOMID), unique_id)
    }

    /// The simulation (time, XenStore as dom0, the backend's knobs).
    pub fn xen(&self) -> &SimXen {
        &self.xen
    }

    /// The backend's view (sinks, streams, knobs such as `silent`).
    pub fn backend(&self) -> &Rc<RefCell<SimBackendView>> {
        &self.view
    }
}

/// A capture source that repeats its bytes (silence when empty).
struct Looped {
    bytes: Rc<Vec<u8>>,
    at: usize,
}

impl Source for Looped {
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        if self.bytes.is_empty() {
            out.fill(0);
            return Ok(());
        }
        for byte in out {
            *byte = self.bytes[self.at % self.bytes.len()];
            self.at = (self.at + 1) % self.bytes.len();
        }
        Ok(())
    }
}
