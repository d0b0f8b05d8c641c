//! What a blocking stream call watches while it waits: the device's XenBus
//! state (`io/sndif.h` state diagram; `xenbus.h`) and the domain's
//! `control/shutdown` node (`xl shutdown` / `xl reboot`).
//!
//! Suspend requests are acknowledged and ignored (not supported).
//!
//! The frontend's XenStore client lives in a [`Bus`] shared (`Rc<RefCell>`)
//! between the frontend and every stream's channel. Before and after each
//! wait a channel asks its [`DeviceWatch`] whether to give up: the bus
//! reads whatever XenStore delivered (cheap: two ring indices when nothing
//! came), and
//! - when the backend's state node fired and the backend is no longer
//!   Connected (Closing, Closed, InitWait after a restart, gone), the call
//!   ends with [`SndError::Disconnected`]; the watch event stays queued, so
//!   the frontend's next poll tears the device down and reconnects;
//! - when the toolstack asked the domain to power off, reboot or halt (and
//!   the application handed its [`ShutdownWatch`] to the frontend), the
//!   call ends with [`SndError::Shutdown`], and so does every later
//!   blocking call: the application stops and the runtime acts on the
//!   request ([`Bus::shutdown_request`]).
#![forbid(unsafe_code)]

use alloc::rc::Rc;
use alloc::string::String;
use core::cell::RefCell;

use super::roundtrips::Ledger;
use super::SndError;
use xen_guest::shutdown::{ShutdownRequest, ShutdownWatch};
use xen_guest::xenbus::{read_state, XenbusState};
use xen_guest::xenstore::XenStore;
use xen_guest::{Platform, SharedPage};

/// The frontend's XenStore client and what blocking calls learn from it.
#[derive(Debug)]
pub struct Bus<P: SharedPage> {
    /// The XenStore client.
    pub store: XenStore<P>,
    /// The store ring may hold (or the client may have queued) watch events
    /// nobody looked at: set by whatever used the store outside the
    /// frontend's poll (including the waits here), cleared by that poll.
    pub dirty: bool,
    /// Round trips counted by the streams and the handshake (see
    /// [`super::roundtrips`]).
    pub ledger: Ledger,
    /// `control/shutdown`, if the application handed it over.
    shutdown: Option<ShutdownWatch>,
    /// What the toolstack asked for (kept: it is final).
    shutdown_request: Option<ShutdownRequest>,
}

impl<P: SharedPage> Bus<P> {
    /// A bus over `store`.
    pub fn new(store: XenStore<P>) -> Self {
        Self {
            store,
            dirty: true,
            ledger: Ledger::default(),
            shutdown: None,
            shutdown_request: None,
        }
    }

    /// Follow `control/shutdown` through `watch` (already registered).
    pub fn follow_shutdown(&mut self, watch: ShutdownWatch) {
        self.shutdown = Some(watch);
    }

    /// Read what XenStore delivered for `control/shutdown` (without
    /// blocking, unless a request came: then its value is read and
    /// acknowledged) and return the request seen so far, if any. Suspend
    /// requests are acknowledged and ignored (not supported).
    pub fn shutdown_request<X: Platform<Page = P>>(
        &mut self,
        xen: &mut X,
    ) -> Option<ShutdownRequest> {
        if self.shutdown_request.is_some() {
            return self.shutdown_request;
        }
        let watch = self.shutdown.as_mut()?;
        self.dirty = true;
        // Suspend is not supported (ignored); a store error is tried
        // again at the next look.
        if let Ok(Some(request)) = watch.poll(&mut self.store, xen) {
            if request != ShutdownRequest::Suspend {
                log::info!("control/shutdown: {} requested", request.as_str());
                self.shutdown_request = Some(request);
            }
        }
        self.shutdown_request
    }

    /// Whether a blocking call on a stream of the device watched with
    /// `token` (backend directory `backend_path`) must give up now.
    pub fn check<X: Platform<Page = P>>(
        &mut self,
        xen: &mut X,
        token: &str,
        backend_path: &str,
    ) -> Result<(), SndError> {
        if self.shutdown_request(xen).is_some() {
            return Err(SndError::Shutdown);
        }
        self.dirty = true;
        if self.store.poll(xen).is_err() {
            // A broken store ring: nothing more to learn from it.
            return Ok(());
        }
        if !self.store.has_watch_event(token) {
            return Ok(());
        }
        match read_state(&mut self.store, xen, backend_path) {
            Ok(XenbusState::Connected) => {
                // Nothing changed for the streams: the event is spent.
                while self.store.take_watch_event(token).is_some() {}
                Ok(())
            }
            // Left queued for the frontend's poll, which tears down.
            _ => Err(SndError::Disconnected),
        }
    }
}

/// A stream channel's handle on the [`Bus`]: which device it belongs to.
#[derive(Debug)]
pub struct DeviceWatch<P: SharedPage> {
    bus: Rc<RefCell<Bus<P>>>,
    token: String,
    backend_path: String,
}

impl<P: SharedPage> DeviceWatch<P> {
    /// Watch the device whose backend directory is `backend_path` (its
    /// `state` node watched with `token`).
    pub fn new(bus: Rc<RefCell<Bus<P>>>, token: String, backend_path: String) -> Self {
        Self {
            bus,
            token,
            backend_path,
        }
    }

    /// Count in the bus's [`Ledger`]: `write` says a WRITE is being
    /// submitted (the first one takes the snapshot), `requests` requests
    /// were sent, `round_trips` waits for them began. Skipped, never
    /// failing, while the bus is in use (it is not, when a stream submits
    /// or waits).
    pub fn note(&self, write: bool, requests: u64, round_trips: u64) {
        if let Ok(mut bus) = self.bus.try_borrow_mut() {
            let bus = &mut *bus;
            if write {
                bus.ledger.note_write(bus.store.stats());
            }
            bus.ledger.ring_requests += requests;
            bus.ledger.ring_round_trips += round_trips;
        }
    }

    /// See [`Bus::check`]. Never fails because the bus is in use (a wait
    /// inside a XenStore operation has nothing to add).
    pub fn check<X: Platform<Page = P>>(&self, xen: &mut X) -> Result<(), SndError> {
        match self.bus.try_borrow_mut() {
            Ok(mut bus) => bus.check(xen, &self.token, &self.backend_path),
            Err(_) => Ok(()),
        }
    }
}
