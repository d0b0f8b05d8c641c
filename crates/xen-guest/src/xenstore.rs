//! XenStore client over the shared store ring.
//!
//! Implements the wire protocol of `io/xs_wire.h`: a 1024-byte request ring
//! and a 1024-byte response ring in one page with free-running `u32`
//! indices (masked with `& 1023`), messages of a 16-byte header
//! (`struct xsd_sockmsg`) plus a payload of at most
//! `XENSTORE_PAYLOAD_MAX` bytes, errors as `xsd_errors` strings, and watch
//! events (`XS_WATCH_EVENT`, "path\0token\0") that may arrive between any
//! two replies. Several requests may be in flight; replies are matched by
//! `req_id`. Everything read from the page is validated: a bad index or
//! length is [`XsError::Malformed`], never a panic.
//!
//! Offsets, limits and message numbers come from [`xen_abi::xs_wire`].
#![forbid(unsafe_code)]

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::mem::{offset_of, size_of};

use xen_abi::xs_wire::{self, XenstoreDomainInterface, XsdSockmsg};

use super::barrier::{mb, rmb, wmb};
use super::{Clock, EventChannels, Port, SharedPage, XenError};

/// `XENSTORE_RING_SIZE` (as the `u32` the indices use).
pub const RING_SIZE: u32 = xs_wire::XENSTORE_RING_SIZE as u32;
/// Offset of `req[]` in the page.
pub const REQ_OFFSET: usize = offset_of!(XenstoreDomainInterface, req);
/// Offset of `rsp[]` in the page.
pub const RSP_OFFSET: usize = offset_of!(XenstoreDomainInterface, rsp);
/// Offset of `req_cons`.
pub const REQ_CONS: usize = offset_of!(XenstoreDomainInterface, req_cons);
/// Offset of `req_prod`.
pub const REQ_PROD: usize = offset_of!(XenstoreDomainInterface, req_prod);
/// Offset of `rsp_cons`.
pub const RSP_CONS: usize = offset_of!(XenstoreDomainInterface, rsp_cons);
/// Offset of `rsp_prod`.
pub const RSP_PROD: usize = offset_of!(XenstoreDomainInterface, rsp_prod);
/// Size of `struct xsd_sockmsg`.
pub const HEADER_SIZE: usize = size_of::<XsdSockmsg>();
/// `XENSTORE_PAYLOAD_MAX`.
pub const PAYLOAD_MAX: usize = xs_wire::XENSTORE_PAYLOAD_MAX;
/// `XENSTORE_ABS_PATH_MAX`.
pub const ABS_PATH_MAX: usize = xs_wire::XENSTORE_ABS_PATH_MAX;
/// `XENSTORE_REL_PATH_MAX`.
pub const REL_PATH_MAX: usize = xs_wire::XENSTORE_REL_PATH_MAX;
/// How many times [`XenStore::transaction`] tries before giving up with
/// `EAGAIN`.
pub const MAX_TRANSACTION_ATTEMPTS: u32 = 16;
/// Watch events kept before the oldest are dropped (a misbehaving store can
/// flood us).
pub const MAX_QUEUED_WATCH_EVENTS: usize = 1024;
/// Ring-fulls one [`XenStore::poll`] reads at most.
const MAX_POLL_ROUNDS: u32 = 64;
/// Default timeout of one request, in nanoseconds.
pub const DEFAULT_TIMEOUT_NS: u64 = 5_000_000_000;

/// `enum xsd_sockmsg_type` (the message types this client uses).
#[doc(alias = "xsd_sockmsg_type")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum MessageType {
    /// `XS_DIRECTORY`.
    Directory = xs_wire::XS_DIRECTORY,
    /// `XS_READ`.
    Read = xs_wire::XS_READ,
    /// `XS_WATCH`.
    Watch = xs_wire::XS_WATCH,
    /// `XS_UNWATCH`.
    Unwatch = xs_wire::XS_UNWATCH,
    /// `XS_TRANSACTION_START`.
    TransactionStart = xs_wire::XS_TRANSACTION_START,
    /// `XS_TRANSACTION_END`.
    TransactionEnd = xs_wire::XS_TRANSACTION_END,
    /// `XS_GET_DOMAIN_PATH`.
    GetDomainPath = xs_wire::XS_GET_DOMAIN_PATH,
    /// `XS_WRITE`.
    Write = xs_wire::XS_WRITE,
    /// `XS_MKDIR`.
    Mkdir = xs_wire::XS_MKDIR,
    /// `XS_RM`.
    Rm = xs_wire::XS_RM,
    /// `XS_WATCH_EVENT`.
    WatchEvent = xs_wire::XS_WATCH_EVENT,
    /// `XS_ERROR`.
    Error = xs_wire::XS_ERROR,
}

impl MessageType {
    /// The type with wire number `value`, if this client knows it.
    pub fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            xs_wire::XS_DIRECTORY => Self::Directory,
            xs_wire::XS_READ => Self::Read,
            xs_wire::XS_WATCH => Self::Watch,
            xs_wire::XS_UNWATCH => Self::Unwatch,
            xs_wire::XS_TRANSACTION_START => Self::TransactionStart,
            xs_wire::XS_TRANSACTION_END => Self::TransactionEnd,
            xs_wire::XS_GET_DOMAIN_PATH => Self::GetDomainPath,
            xs_wire::XS_WRITE => Self::Write,
            xs_wire::XS_MKDIR => Self::Mkdir,
            xs_wire::XS_RM => Self::Rm,
            xs_wire::XS_WATCH_EVENT => Self::WatchEvent,
            xs_wire::XS_ERROR => Self::Error,
            _ => return None,
        })
    }
}

/// The `xsd_errors` strings xenstored replies with, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Errno {
    /// `EINVAL`.
    Invalid,
    /// `EACCES`.
    AccessDenied,
    /// `EEXIST`.
    Exists,
    /// `EISDIR`.
    IsDirectory,
    /// `ENOENT`.
    NotFound,
    /// `ENOMEM`.
    OutOfMemory,
    /// `ENOSPC`.
    NoSpace,
    /// `EIO`.
    Io,
    /// `ENOTEMPTY`.
    NotEmpty,
    /// `ENOSYS`.
    NotImplemented,
    /// `EROFS`.
    ReadOnly,
    /// `EBUSY`.
    Busy,
    /// `EAGAIN`: a transaction conflicted; retry it.
    Again,
    /// `EISCONN`.
    IsConnected,
    /// `E2BIG`.
    TooBig,
    /// `EPERM`.
    NotPermitted,
    /// A string not in `xsd_errors`.
    Unknown,
}

impl Errno {
    /// Every known error with its wire string.
    const TABLE: [(Errno, &'static str); 16] = [
        (Errno::Invalid, "EINVAL"),
        (Errno::AccessDenied, "EACCES"),
        (Errno::Exists, "EEXIST"),
        (Errno::IsDirectory, "EISDIR"),
        (Errno::NotFound, "ENOENT"),
        (Errno::OutOfMemory, "ENOMEM"),
        (Errno::NoSpace, "ENOSPC"),
        (Errno::Io, "EIO"),
        (Errno::NotEmpty, "ENOTEMPTY"),
        (Errno::NotImplemented, "ENOSYS"),
        (Errno::ReadOnly, "EROFS"),
        (Errno::Busy, "EBUSY"),
        (Errno::Again, "EAGAIN"),
        (Errno::IsConnected, "EISCONN"),
        (Errno::TooBig, "E2BIG"),
        (Errno::NotPermitted, "EPERM"),
    ];

    /// Parse an `XS_ERROR` payload ("ENOENT" with or without its NUL).
    pub fn parse(payload: &[u8]) -> Self {
        let name = payload.strip_suffix(b"\0").unwrap_or(payload);
        Self::TABLE
            .iter()
            .find(|(_, text)| text.as_bytes() == name)
            .map_or(Errno::Unknown, |(errno, _)| *errno)
    }

    /// The wire string ("EIO" for [`Errno::Unknown`]).
    pub fn as_str(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(errno, _)| *errno == self)
            .map_or("EIO", |(_, text)| text)
    }
}

/// Errors of the XenStore client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum XsError {
    /// xenstored answered with an error.
    Store(Errno),
    /// The page or a reply broke the protocol (bad index, length or
    /// payload). After a framing error the connection is unusable and every
    /// later call fails with this too.
    Malformed(&'static str),
    /// No reply before the deadline.
    Timeout,
    /// A path is empty, too long, or has a character xenstored rejects.
    InvalidPath,
    /// A request payload would exceed `XENSTORE_PAYLOAD_MAX`.
    TooLarge,
    /// An event-channel or other hypervisor error.
    Xen(XenError),
}

impl XsError {
    /// Whether this is xenstored's `ENOENT`.
    pub fn is_not_found(&self) -> bool {
        *self == XsError::Store(Errno::NotFound)
    }
}

impl fmt::Display for XsError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XsError::Store(errno) => write!(formatter, "xenstore error {}", errno.as_str()),
            XsError::Malformed(what) => write!(formatter, "malformed xenstore message: {what}"),
            XsError::Timeout => formatter.write_str("xenstore request timed out"),
            XsError::InvalidPath => formatter.write_str("invalid xenstore path"),
            XsError::TooLarge => formatter.write_str("xenstore payload too large"),
            XsError::Xen(error) => write!(formatter, "hypervisor error {error:?}"),
        }
    }
}

impl From<XenError> for XsError {
    fn from(error: XenError) -> Self {
        XsError::Xen(error)
    }
}

/// A transaction id (`tx_id`); [`TxId::NONE`] outside transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxId(pub u32);

impl TxId {
    /// No transaction.
    pub const NONE: TxId = TxId(0);
}

/// A request id (`req_id`) of a request in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u32);

/// One request of a [`XenStore::batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchRequest<'a> {
    /// `XS_READ` of the path.
    Read(&'a str),
    /// `XS_DIRECTORY` of the path (the reply is the NUL-separated names).
    Directory(&'a str),
    /// `XS_WATCH` of the path with the token (xenstored fires once).
    Watch(&'a str, &'a str),
    /// `XS_WRITE` of the path in the transaction.
    Write(TxId, &'a str, &'a [u8]),
    /// `XS_GET_DOMAIN_PATH` of the domain.
    GetDomainPath(super::DomId),
}

impl BatchRequest<'_> {
    fn encode(&self) -> Result<(MessageType, TxId, Vec<u8>), XsError> {
        Ok(match *self {
            BatchRequest::Read(path) => {
                validate_path(path)?;
                (
                    MessageType::Read,
                    TxId::NONE,
                    nul_terminated(&[path.as_bytes()]),
                )
            }
            BatchRequest::Directory(path) => {
                validate_path(path)?;
                (
                    MessageType::Directory,
                    TxId::NONE,
                    nul_terminated(&[path.as_bytes()]),
                )
            }
            BatchRequest::Watch(path, token) => {
                validate_path(path)?;
                check_token(token)?;
                (
                    MessageType::Watch,
                    TxId::NONE,
                    nul_terminated(&[path.as_bytes(), token.as_bytes()]),
                )
            }
            BatchRequest::Write(tx, path, value) => {
                validate_path(path)?;
                let mut payload = nul_terminated(&[path.as_bytes()]);
                payload.extend_from_slice(value);
                (MessageType::Write, tx, payload)
            }
            BatchRequest::GetDomainPath(domid) => {
                let mut number = String::new();
                let _ = fmt::write(&mut number, format_args!("{domid}"));
                (
                    MessageType::GetDomainPath,
                    TxId::NONE,
                    nul_terminated(&[number.as_bytes()]),
                )
            }
        })
    }
}

/// A reply's bytes as a string, without the trailing NUL (for
/// [`XenStore::batch`] replies).
pub fn reply_string(bytes: Vec<u8>) -> Result<String, XsError> {
    bytes_to_string(bytes)
}

/// What a [`XenStore`] client sent and how often it waited for it
/// ([`XenStore::stats`]): plain counts, machine-independent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XsStats {
    /// Requests sent (every message type, watches and transactions too).
    pub requests: u64,
    /// Round trips: waits for replies to requests sent since the previous
    /// wait. A batch of N requests sent together and then waited for is
    /// one; waiting again for the rest of the same batch, with nothing
    /// new sent, adds none (nor do waits for watch events).
    pub round_trips: u64,
}

/// A watch event: the path that changed and the token of the watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// The node that changed (relative if the watch was relative).
    pub path: String,
    /// The token given to [`XenStore::watch`].
    pub token: String,
}

/// One complete message read from the response ring.
#[derive(Debug, Clone)]
struct Message {
    kind: u32,
    req_id: u32,
    payload: Vec<u8>,
}

/// What the client needs from the platform: notify a port, the clock, and
/// blocking waits.
pub trait XsEnv: EventChannels + Clock {}
impl<T: EventChannels + Clock + ?Sized> XsEnv for T {}

/// Check a path the way xenstored does: non-empty, within the length limit
/// for absolute/relative paths, characters `[A-Za-z0-9-/_@]`, no `//`, no
/// trailing `/` except the root.
pub fn validate_path(path: &str) -> Result<(), XsError> {
    let limit = if path.starts_with('/') {
        ABS_PATH_MAX
    } else {
        REL_PATH_MAX
    };
    let valid_chars = path
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"-/_@".contains(&byte));
    let bad_slashes = path.contains("//") || (path.len() > 1 && path.ends_with('/'));
    if path.is_empty() || path.len() > limit || !valid_chars || bad_slashes {
        return Err(XsError::InvalidPath);
    }
    Ok(())
}

/// The XenStore client.
///
/// Every call takes the platform (`env`) for notifications and waits, so the
/// client can live beside the other users of the platform.
#[derive(Debug)]
pub struct XenStore<P: SharedPage> {
    page: P,
    port: Port,
    /// Our copy of `req_prod` (we are the only producer).
    req_prod: u32,
    /// Our copy of `rsp_cons` (we are the only consumer).
    rsp_cons: u32,
    /// Bytes taken from the response ring that do not yet form a message.
    incoming: Vec<u8>,
    next_req_id: u32,
    in_flight: BTreeSet<u32>,
    replies: BTreeMap<u32, Message>,
    watch_events: VecDeque<WatchEvent>,
    dropped_events: u64,
    broken: Option<&'static str>,
    timeout_ns: u64,
    stats: XsStats,
    /// Requests were sent since the last wait for a reply.
    sent_since_wait: bool,
}

impl<P: SharedPage> XenStore<P> {
    /// A client over the store ring `page`, notified through `port`
    /// (`HVM_PARAM_STORE_PFN` / `HVM_PARAM_STORE_EVTCHN`). Starts from the
    /// indices found in the page; fails if they are inconsistent.
    pub fn new(page: P, port: Port) -> Result<Self, XsError> {
        let req_prod = page.load_u32(REQ_PROD);
        let req_cons = page.load_u32(REQ_CONS);
        let rsp_cons = page.load_u32(RSP_CONS);
        let rsp_prod = page.load_u32(RSP_PROD);
        if req_prod.wrapping_sub(req_cons) > RING_SIZE
            || rsp_prod.wrapping_sub(rsp_cons) > RING_SIZE
        {
            return Err(XsError::Malformed("ring indices at connect"));
        }
        Ok(Self {
            page,
            port,
            req_prod,
            rsp_cons,
            incoming: Vec::new(),
            next_req_id: 1,
            in_flight: BTreeSet::new(),
            replies: BTreeMap::new(),
            watch_events: VecDeque::new(),
            dropped_events: 0,
            broken: None,
            timeout_ns: DEFAULT_TIMEOUT_NS,
            stats: XsStats::default(),
            sent_since_wait: false,
        })
    }

    /// The event-channel port of the store.
    pub fn port(&self) -> Port {
        self.port
    }

    /// The ring page.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Set the timeout of each request (default [`DEFAULT_TIMEOUT_NS`]).
    pub fn set_timeout_ns(&mut self, timeout_ns: u64) {
        self.timeout_ns = timeout_ns;
    }

    /// The timeout of each request.
    pub fn timeout_ns(&self) -> u64 {
        self.timeout_ns
    }

    /// Watch events and unsolicited replies dropped so far.
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events
    }

    /// Requests sent and round trips waited so far (see [`XsStats`]).
    pub fn stats(&self) -> XsStats {
        self.stats
    }

    /// Round trips to xenstored so far ([`XsStats::round_trips`]).
    pub fn round_trips(&self) -> u64 {
        self.stats.round_trips
    }

    /// Number of requests sent whose reply has not been taken.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn check_usable(&self) -> Result<(), XsError> {
        match self.broken {
            Some(what) => Err(XsError::Malformed(what)),
            None => Ok(()),
        }
    }

    fn fail(&mut self, what: &'static str) -> XsError {
        self.broken = Some(what);
        XsError::Malformed(what)
    }

    /// Copy whatever the response ring holds into `incoming` and turn
    /// complete messages into replies and watch events. Returns whether
    /// anything was consumed.
    fn pump<E: XsEnv + ?Sized>(&mut self, env: &mut E) -> Result<bool, XsError> {
        self.check_usable()?;
        let _ = env.take_pending(self.port);
        let prod = self.page.load_u32(RSP_PROD);
        let available = prod.wrapping_sub(self.rsp_cons);
        if available > RING_SIZE {
            return Err(self.fail("rsp_prod ahead of rsp_cons by more than the ring"));
        }
        if available == 0 {
            return Ok(false);
        }
        // Read rsp_prod before the bytes it publishes.
        rmb();
        let mut cons = self.rsp_cons;
        let mut left = available as usize;
        let mut chunk = [0u8; RING_SIZE as usize];
        while left > 0 {
            let start = (cons & (RING_SIZE - 1)) as usize;
            let length = left.min(RING_SIZE as usize - start);
            self.page.read(RSP_OFFSET + start, &mut chunk[..length]);
            self.incoming.extend_from_slice(&chunk[..length]);
            cons = cons.wrapping_add(length as u32);
            left -= length;
        }
        // Finish reading the bytes before handing the space back.
        mb();
        self.rsp_cons = prod;
        self.page.store_u32(RSP_CONS, prod);
        // xenstored may be waiting for space to write more.
        env.notify(self.port);
        self.parse_incoming()?;
        Ok(true)
    }

    fn parse_incoming(&mut self) -> Result<(), XsError> {
        loop {
            if self.incoming.len() < HEADER_SIZE {
                return Ok(());
            }
            let word = |index: usize| {
                let mut bytes = [0u8; 4];
                bytes.copy_from_slice(&self.incoming[index * 4..index * 4 + 4]);
                u32::from_le_bytes(bytes)
            };
            let (kind, req_id, length) = (word(0), word(1), word(3) as usize);
            if length > PAYLOAD_MAX {
                return Err(self.fail("reply payload longer than XENSTORE_PAYLOAD_MAX"));
            }
            if self.incoming.len() < HEADER_SIZE + length {
                return Ok(());
            }
            let payload = self.incoming[HEADER_SIZE..HEADER_SIZE + length].to_vec();
            self.incoming.drain(..HEADER_SIZE + length);
            self.deliver(Message {
                kind,
                req_id,
                payload,
            });
        }
    }

    fn deliver(&mut self, message: Message) {
        if message.kind == MessageType::WatchEvent as u32 {
            match parse_watch_event(&message.payload) {
                Some(event) => {
                    if self.watch_events.len() >= MAX_QUEUED_WATCH_EVENTS {
                        self.watch_events.pop_front();
                        self.dropped_events += 1;
                    }
                    self.watch_events.push_back(event);
                }
                None => self.dropped_events += 1,
            }
        } else if self.in_flight.remove(&message.req_id) {
            self.replies.insert(message.req_id, message);
        } else {
            // A reply nobody asked for (or a duplicate): ignore it.
            self.dropped_events += 1;
        }
    }

    /// Write `bytes` into the request ring, as space allows, notifying after
    /// each chunk; reads responses while waiting so xenstored never blocks
    /// on a full response ring.
    fn send_bytes<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        bytes: &[u8],
        deadline: u64,
    ) -> Result<(), XsError> {
        let mut sent = 0;
        while sent < bytes.len() {
            self.check_usable()?;
            let cons = self.page.load_u32(REQ_CONS);
            let used = self.req_prod.wrapping_sub(cons);
            if used > RING_SIZE {
                return Err(self.fail("req_cons ahead of req_prod"));
            }
            let free = (RING_SIZE - used) as usize;
            if free == 0 {
                if !self.pump(env)? {
                    if env.now_ns() >= deadline {
                        return Err(XsError::Timeout);
                    }
                    env.wait_until(deadline);
                }
                continue;
            }
            // Read req_cons before overwriting the space it freed.
            mb();
            let start = (self.req_prod & (RING_SIZE - 1)) as usize;
            let length = free.min(RING_SIZE as usize - start).min(bytes.len() - sent);
            self.page
                .write(REQ_OFFSET + start, &bytes[sent..sent + length]);
            // The bytes must be visible before the index that publishes them.
            wmb();
            self.req_prod = self.req_prod.wrapping_add(length as u32);
            self.page.store_u32(REQ_PROD, self.req_prod);
            env.notify(self.port);
            sent += length;
        }
        Ok(())
    }

    fn allocate_request_id(&mut self) -> u32 {
        loop {
            let id = self.next_req_id;
            self.next_req_id = self.next_req_id.wrapping_add(1);
            if !self.in_flight.contains(&id) && !self.replies.contains_key(&id) {
                return id;
            }
        }
    }

    /// Send one request and return its id without waiting for the reply
    /// (several may be in flight; see [`XenStore::wait_reply`]).
    pub fn submit<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        kind: MessageType,
        tx: TxId,
        payload: &[u8],
    ) -> Result<RequestId, XsError> {
        self.check_usable()?;
        if payload.len() > PAYLOAD_MAX {
            return Err(XsError::TooLarge);
        }
        let id = self.allocate_request_id();
        let mut message = Vec::with_capacity(HEADER_SIZE + payload.len());
        for word in [kind as u32, id, tx.0, payload.len() as u32] {
            message.extend_from_slice(&word.to_le_bytes());
        }
        message.extend_from_slice(payload);
        let deadline = env.now_ns().saturating_add(self.timeout_ns);
        self.in_flight.insert(id);
        if let Err(error) = self.send_bytes(env, &message, deadline) {
            self.in_flight.remove(&id);
            // A half-written request desynchronises the ring for good.
            if error == XsError::Timeout {
                self.broken = Some("request only partly written");
            }
            return Err(error);
        }
        self.stats.requests += 1;
        self.sent_since_wait = true;
        Ok(RequestId(id))
    }

    /// Send one request of a batch without waiting for its reply (take it
    /// with [`XenStore::poll_reply`] or [`XenStore::wait_reply`]).
    pub fn send<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        request: &BatchRequest<'_>,
    ) -> Result<RequestId, XsError> {
        let (kind, tx, payload) = request.encode()?;
        self.submit(env, kind, tx, &payload)
    }

    /// Take the reply to `id` if it has arrived (reading the ring first).
    /// `XS_ERROR` replies become [`XsError::Store`].
    pub fn poll_reply<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        id: RequestId,
    ) -> Result<Option<Vec<u8>>, XsError> {
        if !self.replies.contains_key(&id.0) {
            if !self.in_flight.contains(&id.0) {
                return Err(XsError::Xen(XenError::Invalid));
            }
            self.pump(env)?;
        }
        match self.replies.remove(&id.0) {
            None => Ok(None),
            Some(message) if message.kind == MessageType::Error as u32 => {
                Err(XsError::Store(Errno::parse(&message.payload)))
            }
            Some(message) => Ok(Some(message.payload)),
        }
    }

    /// Wait (up to the request timeout) for the reply to `id`. Replies to
    /// other requests and watch events that arrive meanwhile are kept.
    pub fn wait_reply<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        id: RequestId,
    ) -> Result<Vec<u8>, XsError> {
        // A wait for what was sent since the last one: one round trip
        // (counted even when the reply is already there, so the count does
        // not depend on how fast xenstored is).
        if self.sent_since_wait {
            self.sent_since_wait = false;
            self.stats.round_trips += 1;
        }
        let deadline = env.now_ns().saturating_add(self.timeout_ns);
        loop {
            if let Some(payload) = self.poll_reply(env, id)? {
                return Ok(payload);
            }
            if env.now_ns() >= deadline {
                // Forget the request: a late reply is dropped as unsolicited.
                self.in_flight.remove(&id.0);
                return Err(XsError::Timeout);
            }
            env.wait_until(deadline);
        }
    }

    fn request<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        kind: MessageType,
        tx: TxId,
        payload: &[u8],
    ) -> Result<Vec<u8>, XsError> {
        let id = self.submit(env, kind, tx, payload)?;
        self.wait_reply(env, id)
    }

    /// `XS_READ` inside `tx`.
    pub fn read_in<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        tx: TxId,
        path: &str,
    ) -> Result<Vec<u8>, XsError> {
        validate_path(path)?;
        self.request(
            env,
            MessageType::Read,
            tx,
            &nul_terminated(&[path.as_bytes()]),
        )
    }

    /// `XS_WRITE` inside `tx`.
    pub fn write_in<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        tx: TxId,
        path: &str,
        value: &[u8],
    ) -> Result<(), XsError> {
        validate_path(path)?;
        let mut payload = nul_terminated(&[path.as_bytes()]);
        payload.extend_from_slice(value);
        self.request(env, MessageType::Write, tx, &payload)
            .map(drop)
    }

    /// `XS_DIRECTORY` inside `tx`: the names of the children.
    pub fn directory_in<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        tx: TxId,
        path: &str,
    ) -> Result<Vec<String>, XsError> {
        validate_path(path)?;
        let reply = self.request(
            env,
            MessageType::Directory,
            tx,
            &nul_terminated(&[path.as_bytes()]),
        )?;
        reply
            .split(|byte| *byte == 0)
            .filter(|name| !name.is_empty())
            .map(|name| {
                core::str::from_utf8(name)
                    .map(String::from)
                    .map_err(|_| XsError::Malformed("directory entry is not UTF-8"))
            })
            .collect()
    }

    /// `XS_MKDIR` inside `tx`.
    pub fn mkdir_in<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        tx: TxId,
        path: &str,
    ) -> Result<(), XsError> {
        validate_path(path)?;
        self.request(
            env,
            MessageType::Mkdir,
            tx,
            &nul_terminated(&[path.as_bytes()]),
        )
        .map(drop)
    }

    /// `XS_RM` inside `tx` (removes the subtree).
    pub fn rm_in<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        tx: TxId,
        path: &str,
    ) -> Result<(), XsError> {
        validate_path(path)?;
        self.request(
            env,
            MessageType::Rm,
            tx,
            &nul_terminated(&[path.as_bytes()]),
        )
        .map(drop)
    }

    /// Send every request of `requests` before waiting for any reply (one
    /// round trip to xenstored for the lot, ring space allowing), then
    /// collect the replies in order. An `XS_ERROR` reply is that request's
    /// `Err`; a transport failure (timeout, broken ring) fails the whole
    /// batch and forgets the requests still in flight.
    pub fn batch<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        requests: &[BatchRequest<'_>],
    ) -> Result<Vec<Result<Vec<u8>, XsError>>, XsError> {
        let mut ids = Vec::with_capacity(requests.len());
        let mut outcome = Ok(());
        for request in requests {
            match request
                .encode()
                .and_then(|(kind, tx, payload)| self.submit(env, kind, tx, &payload))
            {
                Ok(id) => ids.push(Ok(id)),
                Err(error @ (XsError::InvalidPath | XsError::TooLarge)) => ids.push(Err(error)),
                Err(error) => {
                    outcome = Err(error);
                    break;
                }
            }
        }
        let mut replies = Vec::with_capacity(ids.len());
        if outcome.is_ok() {
            for id in &ids {
                let reply = match id {
                    Ok(id) => match self.wait_reply(env, *id) {
                        Ok(payload) => Ok(payload),
                        Err(error @ XsError::Store(_)) => Err(error),
                        Err(error) => {
                            outcome = Err(error);
                            break;
                        }
                    },
                    Err(error) => Err(*error),
                };
                replies.push(reply);
            }
        }
        if let Err(error) = outcome {
            for id in ids.iter().flatten() {
                self.in_flight.remove(&id.0);
                self.replies.remove(&id.0);
            }
            return Err(error);
        }
        Ok(replies)
    }

    /// Read the subtree under `root` (its value and every descendant's),
    /// one pipelined [`batch`](Self::batch) of `XS_READ` + `XS_DIRECTORY`
    /// per level instead of one round trip per node. Absent nodes (`ENOENT`,
    /// e.g. removed meanwhile) are left out. Children are listed for the
    /// root and for every node whose name `descend` accepts (the others
    /// are read as leaves: one request instead of two). Fails with
    /// [`XsError::TooLarge`] past `max_nodes` nodes (a hostile tree).
    pub fn read_tree<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        root: &str,
        max_nodes: usize,
        descend: impl Fn(&str) -> bool,
    ) -> Result<BTreeMap<String, Vec<u8>>, XsError> {
        let mut tree = BTreeMap::new();
        let mut level = alloc::vec![(String::from(root.trim_end_matches('/')), true)];
        while !level.is_empty() {
            if tree.len() + level.len() > max_nodes {
                return Err(XsError::TooLarge);
            }
            let mut requests: Vec<BatchRequest<'_>> = Vec::new();
            for (path, list) in &level {
                requests.push(BatchRequest::Read(path));
                if *list {
                    requests.push(BatchRequest::Directory(path));
                }
            }
            let mut replies = self.batch(env, &requests)?.into_iter();
            let mut next = Vec::new();
            for (path, list) in &level {
                let value = replies
                    .next()
                    .ok_or(XsError::Malformed("batch reply count"))?;
                let children = if *list {
                    replies
                        .next()
                        .ok_or(XsError::Malformed("batch reply count"))?
                } else {
                    Ok(Vec::new())
                };
                match value {
                    Ok(value) => {
                        tree.insert(path.clone(), value);
                    }
                    Err(error) if error.is_not_found() => continue,
                    Err(error) => return Err(error),
                }
                match children {
                    Ok(names) => {
                        for name in names
                            .split(|byte| *byte == 0)
                            .filter(|name| !name.is_empty())
                        {
                            let name = core::str::from_utf8(name)
                                .map_err(|_| XsError::Malformed("directory entry is not UTF-8"))?;
                            next.push((alloc::format!("{path}/{name}"), descend(name)));
                        }
                    }
                    Err(error) if error.is_not_found() => {}
                    Err(error) => return Err(error),
                }
            }
            level = next;
        }
        Ok(tree)
    }

    /// `XS_READ`: the value of `path`.
    pub fn read<E: XsEnv + ?Sized>(&mut self, env: &mut E, path: &str) -> Result<Vec<u8>, XsError> {
        self.read_in(env, TxId::NONE, path)
    }

    /// `XS_READ` of a UTF-8 value.
    pub fn read_string<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        path: &str,
    ) -> Result<String, XsError> {
        bytes_to_string(self.read(env, path)?)
    }

    /// `XS_READ` of a UTF-8 value; `Ok(None)` when the node does not exist.
    pub fn read_optional<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        path: &str,
    ) -> Result<Option<String>, XsError> {
        match self.read_string(env, path) {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Pair the client with the platform for a run of calls without passing
    /// `env` each time.
    pub fn session<'s, E: XsEnv + ?Sized>(&'s mut self, env: &'s mut E) -> Session<'s, P, E> {
        Session { store: self, env }
    }

    /// `XS_WRITE`: set `path` to `value`, creating it (and its parents).
    pub fn write<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        path: &str,
        value: &[u8],
    ) -> Result<(), XsError> {
        self.write_in(env, TxId::NONE, path, value)
    }

    /// `XS_DIRECTORY`: the names of the children of `path`.
    pub fn directory<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        path: &str,
    ) -> Result<Vec<String>, XsError> {
        self.directory_in(env, TxId::NONE, path)
    }

    /// `XS_MKDIR`: create `path` with an empty value (no error if it exists).
    pub fn mkdir<E: XsEnv + ?Sized>(&mut self, env: &mut E, path: &str) -> Result<(), XsError> {
        self.mkdir_in(env, TxId::NONE, path)
    }

    /// `XS_RM`: remove `path` and everything under it.
    pub fn rm<E: XsEnv + ?Sized>(&mut self, env: &mut E, path: &str) -> Result<(), XsError> {
        self.rm_in(env, TxId::NONE, path)
    }

    /// `XS_GET_DOMAIN_PATH`: `/local/domain/<domid>`.
    pub fn get_domain_path<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        domid: super::DomId,
    ) -> Result<String, XsError> {
        let mut number = String::new();
        let _ = fmt::write(&mut number, format_args!("{domid}"));
        let reply = self.request(
            env,
            MessageType::GetDomainPath,
            TxId::NONE,
            &nul_terminated(&[number.as_bytes()]),
        )?;
        bytes_to_string(reply)
    }

    /// `XS_WATCH`: queue a [`WatchEvent`] with `token` whenever `path` or
    /// anything below it changes. xenstored fires once at registration.
    pub fn watch<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        path: &str,
        token: &str,
    ) -> Result<(), XsError> {
        validate_path(path)?;
        check_token(token)?;
        let payload = nul_terminated(&[path.as_bytes(), token.as_bytes()]);
        self.request(env, MessageType::Watch, TxId::NONE, &payload)
            .map(drop)
    }

    /// `XS_UNWATCH`, and drop queued events of that token.
    pub fn unwatch<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        path: &str,
        token: &str,
    ) -> Result<(), XsError> {
        validate_path(path)?;
        check_token(token)?;
        let payload = nul_terminated(&[path.as_bytes(), token.as_bytes()]);
        let result = self
            .request(env, MessageType::Unwatch, TxId::NONE, &payload)
            .map(drop);
        self.watch_events.retain(|event| event.token != token);
        result
    }

    /// Read the ring without blocking (queues watch events and replies).
    /// Bounded, so a store that never stops writing cannot hold us here.
    pub fn poll<E: XsEnv + ?Sized>(&mut self, env: &mut E) -> Result<(), XsError> {
        for _ in 0..MAX_POLL_ROUNDS {
            if !self.pump(env)? {
                break;
            }
        }
        Ok(())
    }

    /// Take the oldest queued watch event of any token.
    pub fn next_watch_event(&mut self) -> Option<WatchEvent> {
        self.watch_events.pop_front()
    }

    /// Take the oldest queued watch event with `token`, leaving the others.
    pub fn take_watch_event(&mut self, token: &str) -> Option<WatchEvent> {
        let index = self
            .watch_events
            .iter()
            .position(|event| event.token == token)?;
        self.watch_events.remove(index)
    }

    /// Take the oldest queued watch event whose token `wanted` accepts
    /// (e.g. a family of tokens with one prefix), leaving the others.
    pub fn take_watch_event_where(&mut self, wanted: impl Fn(&str) -> bool) -> Option<WatchEvent> {
        let index = self
            .watch_events
            .iter()
            .position(|event| wanted(&event.token))?;
        self.watch_events.remove(index)
    }

    /// Whether a watch event with `token` is queued (it stays queued).
    pub fn has_watch_event(&self, token: &str) -> bool {
        self.watch_events.iter().any(|event| event.token == token)
    }

    /// Number of queued watch events.
    pub fn queued_watch_events(&self) -> usize {
        self.watch_events.len()
    }

    /// Hand every queued watch event to `handler` (dispatch by token).
    pub fn dispatch_watch_events(&mut self, mut handler: impl FnMut(&WatchEvent)) {
        while let Some(event) = self.watch_events.pop_front() {
            handler(&event);
        }
    }

    /// Wait until a watch event with `token` arrives or `deadline_ns`
    /// passes ([`XsError::Timeout`]).
    pub fn wait_watch_event<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        token: &str,
        deadline_ns: u64,
    ) -> Result<WatchEvent, XsError> {
        loop {
            if let Some(event) = self.take_watch_event(token) {
                return Ok(event);
            }
            // Traffic for other tokens must not hold us past the deadline.
            let pumped = self.pump(env)?;
            if env.now_ns() >= deadline_ns {
                return match self.take_watch_event(token) {
                    Some(event) => Ok(event),
                    None => Err(XsError::Timeout),
                };
            }
            if !pumped {
                env.wait_until(deadline_ns);
            }
        }
    }

    /// `XS_TRANSACTION_START`.
    pub fn transaction_start<E: XsEnv + ?Sized>(&mut self, env: &mut E) -> Result<TxId, XsError> {
        let reply = self.request(env, MessageType::TransactionStart, TxId::NONE, b"\0")?;
        let text = bytes_to_string(reply)?;
        match text.parse::<u32>() {
            Ok(0) | Err(_) => Err(XsError::Malformed("transaction id")),
            Ok(id) => Ok(TxId(id)),
        }
    }

    /// `XS_TRANSACTION_END`: commit (`true`) or abort. A commit that
    /// conflicted fails with `Store(Again)`.
    pub fn transaction_end<E: XsEnv + ?Sized>(
        &mut self,
        env: &mut E,
        tx: TxId,
        commit: bool,
    ) -> Result<(), XsError> {
        let payload: &[u8] = if commit { b"T\0" } else { b"F\0" };
        self.request(env, MessageType::TransactionEnd, tx, payload)
            .map(drop)
    }

    /// Run `body` in a transaction and commit it, starting over when
    /// xenstored reports a conflict (`EAGAIN`, from the body or the commit),
    /// at most [`MAX_TRANSACTION_ATTEMPTS`] times. Other errors abort the
    /// transaction and are returned.
    pub fn transaction<T, E, F>(&mut self, env: &mut E, mut body: F) -> Result<T, XsError>
    where
        E: XsEnv + ?Sized,
        F: for<'t> FnMut(&mut Transaction<'t, P, E>) -> Result<T, XsError>,
    {
        const AGAIN: XsError = XsError::Store(Errno::Again);
        for _ in 0..MAX_TRANSACTION_ATTEMPTS {
            let id = self.transaction_start(env)?;
            let result = body(&mut Transaction {
                store: self,
                env,
                id,
            });
            match result {
                Ok(value) => match self.transaction_end(env, id, true) {
                    Ok(()) => return Ok(value),
                    Err(AGAIN) => continue,
                    Err(error) => return Err(error),
                },
                Err(error) => {
                    // Best effort: the transaction is dead either way.
                    let _ = self.transaction_end(env, id, false);
                    if error != AGAIN {
                        return Err(error);
                    }
                }
            }
        }
        Err(AGAIN)
    }
}

/// A client borrowed together with its platform ([`XenStore::session`]).
pub struct Session<'s, P: SharedPage, E: ?Sized> {
    store: &'s mut XenStore<P>,
    env: &'s mut E,
}

impl<P: SharedPage, E: XsEnv + ?Sized> Session<'_, P, E> {
    /// The client.
    pub fn store(&mut self) -> &mut XenStore<P> {
        self.store
    }

    /// The platform.
    pub fn env(&mut self) -> &mut E {
        self.env
    }

    /// [`XenStore::read`].
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, XsError> {
        self.store.read(self.env, path)
    }

    /// [`XenStore::read_string`].
    pub fn read_string(&mut self, path: &str) -> Result<String, XsError> {
        self.store.read_string(self.env, path)
    }

    /// [`XenStore::read_optional`].
    pub fn read_optional(&mut self, path: &str) -> Result<Option<String>, XsError> {
        self.store.read_optional(self.env, path)
    }

    /// [`XenStore::write`].
    pub fn write(&mut self, path: &str, value: &[u8]) -> Result<(), XsError> {
        self.store.write(self.env, path, value)
    }

    /// [`XenStore::directory`].
    pub fn directory(&mut self, path: &str) -> Result<Vec<String>, XsError> {
        self.store.directory(self.env, path)
    }

    /// [`XenStore::mkdir`].
    pub fn mkdir(&mut self, path: &str) -> Result<(), XsError> {
        self.store.mkdir(self.env, path)
    }

    /// [`XenStore::rm`].
    pub fn rm(&mut self, path: &str) -> Result<(), XsError> {
        self.store.rm(self.env, path)
    }

    /// [`XenStore::watch`].
    pub fn watch(&mut self, path: &str, token: &str) -> Result<(), XsError> {
        self.store.watch(self.env, path, token)
    }

    /// [`XenStore::unwatch`].
    pub fn unwatch(&mut self, path: &str, token: &str) -> Result<(), XsError> {
        self.store.unwatch(self.env, path, token)
    }

    /// [`XenStore::transaction`].
    pub fn transaction<T, F>(&mut self, body: F) -> Result<T, XsError>
    where
        F: for<'t> FnMut(&mut Transaction<'t, P, E>) -> Result<T, XsError>,
    {
        self.store.transaction(self.env, body)
    }
}

/// Operations inside a transaction started by [`XenStore::transaction`].
pub struct Transaction<'t, P: SharedPage, E: ?Sized> {
    store: &'t mut XenStore<P>,
    env: &'t mut E,
    id: TxId,
}

impl<P: SharedPage, E: XsEnv + ?Sized> Transaction<'_, P, E> {
    /// The transaction id.
    pub fn id(&self) -> TxId {
        self.id
    }

    /// The platform, for work between operations.
    pub fn env(&mut self) -> &mut E {
        self.env
    }

    /// `XS_READ` in this transaction.
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, XsError> {
        self.store.read_in(self.env, self.id, path)
    }

    /// `XS_READ` of a UTF-8 value in this transaction.
    pub fn read_string(&mut self, path: &str) -> Result<String, XsError> {
        bytes_to_string(self.read(path)?)
    }

    /// `XS_WRITE` in this transaction.
    pub fn write(&mut self, path: &str, value: &[u8]) -> Result<(), XsError> {
        self.store.write_in(self.env, self.id, path, value)
    }

    /// `XS_DIRECTORY` in this transaction.
    pub fn directory(&mut self, path: &str) -> Result<Vec<String>, XsError> {
        self.store.directory_in(self.env, self.id, path)
    }

    /// `XS_MKDIR` in this transaction.
    pub fn mkdir(&mut self, path: &str) -> Result<(), XsError> {
        self.store.mkdir_in(self.env, self.id, path)
    }

    /// `XS_RM` in this transaction.
    pub fn rm(&mut self, path: &str) -> Result<(), XsError> {
        self.store.rm_in(self.env, self.id, path)
    }
}

fn check_token(token: &str) -> Result<(), XsError> {
    if token.is_empty() || token.contains('\0') || token.len() > REL_PATH_MAX {
        return Err(XsError::InvalidPath);
    }
    Ok(())
}

/// Each part followed by a NUL.
fn nul_terminated(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(part);
        out.push(0);
    }
    out
}

/// A reply as a string, without its trailing NUL.
fn bytes_to_string(mut bytes: Vec<u8>) -> Result<String, XsError> {
    if bytes.last() == Some(&0) {
        bytes.pop();
    }
    String::from_utf8(bytes).map_err(|_| XsError::Malformed("reply is not UTF-8"))
}

/// Parse "path\0token\0" (the final NUL optional).
pub fn parse_watch_event(payload: &[u8]) -> Option<WatchEvent> {
    let mut parts = payload.splitn(2, |byte| *byte == 0);
    let path = parts.next()?;
    let rest = parts.next()?;
    let token = rest.strip_suffix(b"\0").unwrap_or(rest);
    if path.is_empty() || token.contains(&0) {
        return None;
    }
    Some(WatchEvent {
        path: String::from(core::str::from_utf8(path).ok()?),
        token: String::from(core::str::from_utf8(token).ok()?),
    })
}
