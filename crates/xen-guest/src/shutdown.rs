//! `control/shutdown`: power-off and reboot requests from the toolstack.
//!
//! Implements the protocol of `xl shutdown` / `xl reboot` (libxl
//! `libxl__domain_pvcontrol_write`): the toolstack writes "poweroff",
//! "reboot", "halt" or "suspend" to `control/shutdown` of the guest; the
//! guest acknowledges by writing the empty string back, as Linux and Mini-OS
//! do, then acts.
#![forbid(unsafe_code)]

use super::xenstore::{BatchRequest, XenStore, XsEnv, XsError};
use super::SharedPage;
use alloc::vec::Vec;
use xen_abi::sched;

/// The node the toolstack writes (relative to the domain's home).
pub const SHUTDOWN_PATH: &str = "control/shutdown";
/// The watch token this module uses.
pub const SHUTDOWN_TOKEN: &str = "control-shutdown";

/// What the toolstack asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownRequest {
    /// "poweroff" (`xl shutdown`): stop cleanly and power off.
    Poweroff,
    /// "reboot" (`xl reboot`).
    Reboot,
    /// "halt": stop (treated like power-off by most guests).
    Halt,
    /// "suspend": save/migrate (this guest does not support it).
    Suspend,
}

impl ShutdownRequest {
    /// Parse the value of `control/shutdown`: `Ok(None)` for the empty
    /// value (no request, or our own acknowledgement), `Err(())` for an
    /// unknown word.
    #[allow(clippy::result_unit_err, reason = "the only error is 'unknown word'")]
    pub fn parse(value: &[u8]) -> Result<Option<Self>, ()> {
        let value = value.strip_suffix(b"\0").unwrap_or(value);
        Ok(Some(match value {
            b"" => return Ok(None),
            b"poweroff" => Self::Poweroff,
            b"reboot" => Self::Reboot,
            b"halt" => Self::Halt,
            b"suspend" => Self::Suspend,
            _ => return Err(()),
        }))
    }

    /// The `SCHEDOP_shutdown` reason that carries the request out
    /// (`sched.h`: `SHUTDOWN_poweroff` 0, `SHUTDOWN_reboot` 1,
    /// `SHUTDOWN_suspend` 2); halt powers off.
    pub fn sched_shutdown_reason(self) -> u32 {
        match self {
            Self::Poweroff | Self::Halt => sched::SHUTDOWN_poweroff,
            Self::Reboot => sched::SHUTDOWN_reboot,
            Self::Suspend => sched::SHUTDOWN_suspend,
        }
    }

    /// The word the toolstack writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Poweroff => "poweroff",
            Self::Reboot => "reboot",
            Self::Halt => "halt",
            Self::Suspend => "suspend",
        }
    }
}

/// Watches `control/shutdown` and turns changes into requests.
#[derive(Debug, Default)]
pub struct ShutdownWatch {
    registered: bool,
    /// The event the watch fired at registration is still to come and
    /// carries nothing new: the batch that registered it also read the
    /// node and found no request ([`from_batch`](Self::from_batch)).
    skip_registration_event: bool,
}

impl ShutdownWatch {
    /// Register the watch (it fires once at once; that event reads the
    /// current value).
    pub fn register<P: SharedPage, E: XsEnv + ?Sized>(
        store: &mut XenStore<P>,
        env: &mut E,
    ) -> Result<Self, XsError> {
        store.watch(env, SHUTDOWN_PATH, SHUTDOWN_TOKEN)?;
        Ok(Self {
            registered: true,
            skip_registration_event: false,
        })
    }

    /// The `XS_WATCH` that [`register`](Self::register) sends, to send it
    /// in a [`XenStore::batch`] with other requests instead; pass its reply
    /// to [`from_watch_reply`](Self::from_watch_reply).
    pub fn watch_request() -> BatchRequest<'static> {
        BatchRequest::Watch(SHUTDOWN_PATH, SHUTDOWN_TOKEN)
    }

    /// The watch registered by a batched [`watch_request`](Self::watch_request),
    /// given its reply.
    pub fn from_watch_reply(reply: Result<Vec<u8>, XsError>) -> Result<Self, XsError> {
        reply.map(|_| Self {
            registered: true,
            skip_registration_event: false,
        })
    }

    /// The watch and a read of `control/shutdown` after it, to send in one
    /// [`XenStore::batch`] with other requests (in this order); pass their
    /// replies to [`from_batch`](Self::from_batch). The read spares the
    /// round trip the registration's event would cost at the first poll.
    pub fn batch_requests() -> [BatchRequest<'static>; 2] {
        [
            BatchRequest::Watch(SHUTDOWN_PATH, SHUTDOWN_TOKEN),
            BatchRequest::Read(SHUTDOWN_PATH),
        ]
    }

    /// The watch registered by [`batch_requests`](Self::batch_requests),
    /// given their replies. xenstored fires a watch once when it is
    /// registered; when the read after it found no request (the node
    /// absent or empty), that event carries nothing new and the first poll
    /// skips it instead of reading the node again. A change after the read
    /// fires an event of its own, so none is missed. When the read found a
    /// request, or failed, the first poll reads and acknowledges it as
    /// usual.
    pub fn from_batch(
        watch_reply: Result<Vec<u8>, XsError>,
        read_reply: Result<Vec<u8>, XsError>,
    ) -> Result<Self, XsError> {
        watch_reply?;
        let nothing_pending = match read_reply {
            Ok(value) => ShutdownRequest::parse(&value) == Ok(None),
            Err(error) => error.is_not_found(),
        };
        Ok(Self {
            registered: true,
            skip_registration_event: nothing_pending,
        })
    }

    /// Check queued watch events (reading the ring first, without
    /// blocking). On a request, acknowledge it by writing "" and return it.
    /// Unknown words are acknowledged and ignored.
    pub fn poll<P: SharedPage, E: XsEnv + ?Sized>(
        &mut self,
        store: &mut XenStore<P>,
        env: &mut E,
    ) -> Result<Option<ShutdownRequest>, XsError> {
        if !self.registered {
            return Ok(None);
        }
        store.poll(env)?;
        let mut events = 0u32;
        while store.take_watch_event(SHUTDOWN_TOKEN).is_some() {
            events += 1;
        }
        if self.skip_registration_event && events > 0 {
            // The registration's event: the batch's read covered it.
            self.skip_registration_event = false;
            events -= 1;
        }
        if events == 0 {
            return Ok(None);
        }
        let value = match store.read(env, SHUTDOWN_PATH) {
            Ok(value) => value,
            Err(error) if error.is_not_found() => return Ok(None),
            Err(error) => return Err(error),
        };
        match ShutdownRequest::parse(&value) {
            Ok(None) => Ok(None),
            Ok(Some(request)) => {
                store.write(env, SHUTDOWN_PATH, b"")?;
                Ok(Some(request))
            }
            Err(()) => {
                store.write(env, SHUTDOWN_PATH, b"")?;
                Ok(None)
            }
        }
    }

    /// Remove the watch.
    pub fn unregister<P: SharedPage, E: XsEnv + ?Sized>(
        &mut self,
        store: &mut XenStore<P>,
        env: &mut E,
    ) -> Result<(), XsError> {
        if core::mem::take(&mut self.registered) {
            store.unwatch(env, SHUTDOWN_PATH, SHUTDOWN_TOKEN)?;
        }
        Ok(())
    }
}
