//! The probe's read-ahead of the vsnd configuration: every node the
//! configuration reader ([`crate::config::read_config`]) and the handshake
//! (`backend`, `backend-id`) read, in as few XenStore round trips as the
//! layout allows (boot time is mostly round trips).
//!
//! The first batch carries the caller's own requests (the runtime's
//! `name`, its `control/shutdown` watch, `domid`), the listing of
//! `device/vsnd`, and a guess at the usual layout: device `0`, its PCM `0`
//! and that PCM's streams `0` and `1`, each node read with every leaf the
//! configuration reads at its level (one `XS_READ` per leaf, `ENOENT` for
//! the absent ones: no listing needed) and the listing of each card and
//! PCM. Paths are relative (xenstored resolves them against
//! `/local/domain/<domid>`), so nothing waits for `domid`. A listing that
//! shows a device, PCM or stream not read yet sends one more batch for
//! those (with the same guesses under each); a layout the guess covers
//! costs one round trip.
#![forbid(unsafe_code)]

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::config::{parse_number, MAX_PCMS, MAX_STREAMS_PER_PCM};
use xen_abi::sndif::{
    XENSND_FIELD_BUFFER_SIZE, XENSND_FIELD_CHANNELS_MAX, XENSND_FIELD_CHANNELS_MIN,
    XENSND_FIELD_DEVICE_NAME, XENSND_FIELD_SAMPLE_FORMATS, XENSND_FIELD_SAMPLE_RATES,
    XENSND_FIELD_STREAM_UNIQUE_ID, XENSND_FIELD_TYPE, XENSND_FIELD_VCARD_LONG_NAME,
    XENSND_FIELD_VCARD_SHORT_NAME,
};
use xen_guest::xenstore::{BatchRequest, XenStore, XsEnv, XsError};
use xen_guest::SharedPage;

/// This domain's vsnd devices, relative to its home.
pub const VSND_DIR: &str = "device/vsnd";

/// What the configuration reads at a card: the handshake's two nodes,
/// the names and the five parameters.
const CARD_LEAVES: [&str; 9] = [
    "backend",
    "backend-id",
    XENSND_FIELD_VCARD_SHORT_NAME,
    XENSND_FIELD_VCARD_LONG_NAME,
    XENSND_FIELD_SAMPLE_RATES,
    XENSND_FIELD_SAMPLE_FORMATS,
    XENSND_FIELD_CHANNELS_MIN,
    XENSND_FIELD_CHANNELS_MAX,
    XENSND_FIELD_BUFFER_SIZE,
];
/// What it reads at a PCM instance.
const PCM_LEAVES: [&str; 6] = [
    XENSND_FIELD_DEVICE_NAME,
    XENSND_FIELD_SAMPLE_RATES,
    XENSND_FIELD_SAMPLE_FORMATS,
    XENSND_FIELD_CHANNELS_MIN,
    XENSND_FIELD_CHANNELS_MAX,
    XENSND_FIELD_BUFFER_SIZE,
];
/// What it reads at a stream.
const STREAM_LEAVES: [&str; 7] = [
    XENSND_FIELD_TYPE,
    XENSND_FIELD_STREAM_UNIQUE_ID,
    XENSND_FIELD_SAMPLE_RATES,
    XENSND_FIELD_SAMPLE_FORMATS,
    XENSND_FIELD_CHANNELS_MIN,
    XENSND_FIELD_CHANNELS_MAX,
    XENSND_FIELD_BUFFER_SIZE,
];

/// Where a node is in the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// [`VSND_DIR`]: its children are the devices.
    Root,
    Card,
    Pcm,
    Stream,
}

impl Level {
    fn leaves(self) -> &'static [&'static str] {
        match self {
            Level::Root => &[],
            Level::Card => &CARD_LEAVES,
            Level::Pcm => &PCM_LEAVES,
            Level::Stream => &STREAM_LEAVES,
        }
    }

    /// Its numbered children: their level, how many are guessed, and the
    /// highest index the configuration reads (it reads the one past its
    /// limit to report it).
    fn children(self) -> Option<(Level, u32, u32)> {
        match self {
            Level::Root => Some((Level::Card, 1, u32::MAX)),
            Level::Card => Some((Level::Pcm, 1, MAX_PCMS)),
            Level::Pcm => Some((Level::Stream, 2, MAX_STREAMS_PER_PCM)),
            Level::Stream => None,
        }
    }
}

/// What [`read_ahead`] found.
#[derive(Debug)]
pub struct ReadAhead {
    /// The replies to the caller's requests, in order.
    pub replies: Vec<Result<Vec<u8>, XsError>>,
    /// The numbered names [`VSND_DIR`] lists (none when it is absent).
    pub devices: Vec<String>,
    /// Every node read, by path relative to the domain's home (absent
    /// nodes left out); or the first node whose read failed otherwise than
    /// with `ENOENT` and why ([`VSND_DIR`] and [`XsError::TooLarge`] for a
    /// tree past the limit).
    pub nodes: Result<BTreeMap<String, Vec<u8>>, (String, XsError)>,
}

/// The value of the node `path` from its reply: `None` when it is absent
/// (`ENOENT`) or the reply is another error, which is kept in `failed`
/// (the first one).
fn value(
    reply: Option<Result<Vec<u8>, XsError>>,
    path: &str,
    failed: &mut Option<(String, XsError)>,
) -> Option<Vec<u8>> {
    let error = match reply {
        Some(Ok(value)) => return Some(value),
        Some(Err(error)) if error.is_not_found() => return None,
        Some(Err(error)) => error,
        None => XsError::Malformed("batch reply count"),
    };
    failed.get_or_insert((String::from(path), error));
    None
}

/// Add the node `path` at `level` to `next` (unless asked for already):
/// its value, its listing if it has numbered children (`Some` of its
/// level), its leaves, and the guessed children under it.
fn plan(
    next: &mut Vec<(String, Option<Level>)>,
    asked: &mut Vec<String>,
    path: String,
    level: Level,
) {
    if asked.contains(&path) {
        return;
    }
    asked.push(path.clone());
    for leaf in level.leaves() {
        next.push((format!("{path}/{leaf}"), None));
    }
    next.push((path.clone(), level.children().map(|_| level)));
    if let Some((child, guessed, _)) = level.children() {
        for index in 0..guessed {
            plan(next, asked, format!("{path}/{index}"), child);
        }
    }
}

/// Read `first` (answered in [`ReadAhead::replies`]), the device listing
/// and every configuration node of every device (see the module docs),
/// at most `max_requests` requests in all. Fails only when the store
/// itself does (a transport error of a batch).
pub fn read_ahead<P: SharedPage, E: XsEnv + ?Sized>(
    store: &mut XenStore<P>,
    env: &mut E,
    first: &[BatchRequest<'_>],
    max_requests: usize,
) -> Result<ReadAhead, XsError> {
    let mut asked = Vec::new();
    let mut level = Vec::new();
    plan(&mut level, &mut asked, String::from(VSND_DIR), Level::Root);
    let mut replies_first = None;
    let mut devices = Vec::new();
    let mut nodes = BTreeMap::new();
    let mut sent = 0;
    let mut failed = None;
    while !level.is_empty() && failed.is_none() {
        let mut requests = Vec::new();
        if replies_first.is_none() {
            requests.extend_from_slice(first);
        }
        for (path, listed) in &level {
            requests.push(BatchRequest::Read(path));
            if listed.is_some() {
                requests.push(BatchRequest::Directory(path));
            }
        }
        sent += requests.len();
        if replies_first.is_some() && sent > max_requests {
            failed = Some((String::from(VSND_DIR), XsError::TooLarge));
            break;
        }
        let mut replies = store.batch(env, &requests)?.into_iter();
        if replies_first.is_none() {
            replies_first = Some(replies.by_ref().take(first.len()).collect());
        }
        let mut next = Vec::new();
        for (path, listed) in &level {
            if let Some(value) = value(replies.next(), path, &mut failed) {
                nodes.insert(path.clone(), value);
            }
            let Some(level) = *listed else { continue };
            let Some(listing) = value(replies.next(), path, &mut failed) else {
                continue;
            };
            let Some((child, _, max)) = level.children() else {
                continue;
            };
            for name in listing.split(|byte| *byte == 0) {
                let Ok(name) = core::str::from_utf8(name) else {
                    continue;
                };
                if parse_number(name, 0, max).is_ok() {
                    plan(&mut next, &mut asked, format!("{path}/{name}"), child);
                    if level == Level::Root {
                        devices.push(String::from(name));
                    }
                }
            }
        }
        level = next;
    }
    Ok(ReadAhead {
        replies: replies_first.unwrap_or_default(),
        devices,
        nodes: match failed {
            Some(failed) => Err(failed),
            None => Ok(nodes),
        },
    })
}
