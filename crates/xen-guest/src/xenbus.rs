//! XenBus device states and the handshake helpers built on XenStore.
//!
//! Implements `io/xenbus.h` (`enum xenbus_state`): each end of a split
//! device publishes its state in its `state` node and follows the other
//! end's through a watch. [`XenbusState::transition`] is the lifecycle as a
//! plain-data state machine that rejects invalid moves.
#![forbid(unsafe_code)]

use alloc::format;
use alloc::string::String;

use super::xenstore::{XenStore, XsEnv, XsError};
use super::SharedPage;

/// `enum xenbus_state`: the one definition, with its parsing, wire number
/// and lifecycle ([`XenbusState::transition`], used by both ends), lives
/// with the header mirror in [`xen_abi::xenbus`].
pub use xen_abi::xenbus::{InvalidTransition, XenbusState};

/// Read the state in `<device_path>/state`. A missing node reads as
/// [`XenbusState::Unknown`], like Linux's `xenbus_read_driver_state`; an
/// unparsable value is [`XsError::Malformed`].
pub fn read_state<P: SharedPage, E: XsEnv + ?Sized>(
    store: &mut XenStore<P>,
    env: &mut E,
    device_path: &str,
) -> Result<XenbusState, XsError> {
    match store.read(env, &state_path(device_path)) {
        Ok(value) => XenbusState::parse(&value).ok_or(XsError::Malformed("xenbus state")),
        Err(error) if error.is_not_found() => Ok(XenbusState::Unknown),
        Err(error) => Err(error),
    }
}

/// Write `state` to `<device_path>/state`.
pub fn write_state<P: SharedPage, E: XsEnv + ?Sized>(
    store: &mut XenStore<P>,
    env: &mut E,
    device_path: &str,
    state: XenbusState,
) -> Result<(), XsError> {
    store.write(
        env,
        &state_path(device_path),
        format!("{}", state.as_u32()).as_bytes(),
    )
}

/// The `state` node of a device directory.
pub fn state_path(device_path: &str) -> String {
    format!("{device_path}/state")
}

/// Wait until the state in `<device_path>/state` satisfies `accept`, or
/// `timeout_ns` passes ([`XsError::Timeout`]); returns that state. Uses a
/// watch on the node (token `xenbus-wait:<path>`), removed before
/// returning.
pub fn wait_for_state<P: SharedPage, E: XsEnv + ?Sized>(
    store: &mut XenStore<P>,
    env: &mut E,
    device_path: &str,
    mut accept: impl FnMut(XenbusState) -> bool,
    timeout_ns: u64,
) -> Result<XenbusState, XsError> {
    let deadline = env.now_ns().saturating_add(timeout_ns);
    let path = state_path(device_path);
    let token = format!("xenbus-wait:{path}");
    store.watch(env, &path, &token)?;
    let result: Result<XenbusState, XsError> = (|| loop {
        let state = read_state(store, env, device_path)?;
        if accept(state) {
            return Ok(state);
        }
        store.wait_watch_event(env, &token, deadline)?;
        // Coalesce events already queued: one read covers them all.
        while store.take_watch_event(&token).is_some() {}
    })();
    let unwatched = store.unwatch(env, &path, &token);
    let state = result?;
    unwatched?;
    Ok(state)
}
