//! A small simulated xenstored: a node tree, watches, transactions, and a
//! server for the store ring.
//!
//! Follows the behaviour of Xen's C xenstored that clients can observe
//! (`docs/misc/xenstore.txt`): writes create missing parents, `rm` of a
//! missing node whose parent exists succeeds, a watch fires once when it is
//! registered and then for every change at or below its path, relative
//! paths resolve against `/local/domain/<domid>` (and relative watches
//! report relative paths), and a transaction that read or wrote a node
//! someone else changed meanwhile fails its commit with `EAGAIN`.
//! Permissions are not modelled. The ring server speaks the real
//! `xs_wire.h` framing, so the client is tested on the wire format.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use super::page::SimPage;
use xen_guest::xenstore::{
    validate_path, Errno, MessageType, WatchEvent, HEADER_SIZE, PAYLOAD_MAX, REQ_CONS, REQ_OFFSET,
    REQ_PROD, RING_SIZE, RSP_CONS, RSP_OFFSET, RSP_PROD,
};
use xen_guest::{DomId, SharedPage};

/// Identifies one client connection.
pub type ConnId = u32;

/// The home of a domain.
pub fn domain_path(domid: DomId) -> String {
    format!("/local/domain/{domid}")
}

fn parent_of(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(index) => Some(&path[..index]),
        None => None,
    }
}

fn child_prefix(path: &str) -> String {
    if path == "/" {
        String::from("/")
    } else {
        format!("{path}/")
    }
}

fn is_at_or_below(path: &str, ancestor: &str) -> bool {
    path == ancestor || path.starts_with(&child_prefix(ancestor))
}

/// What a tree operation changed.
#[derive(Default)]
struct Change {
    /// Paths whose watches fire: (path, also fire watches below it).
    fire: Vec<(String, bool)>,
    /// Every node whose value, existence or child list changed.
    touched: Vec<String>,
}

type Tree = BTreeMap<String, Vec<u8>>;

fn tree_create_parents(tree: &mut Tree, path: &str, change: &mut Change) {
    let mut missing = Vec::new();
    let mut current = parent_of(path);
    while let Some(parent) = current {
        if tree.contains_key(parent) {
            break;
        }
        missing.push(parent.to_string());
        current = parent_of(parent);
    }
    for parent in missing.into_iter().rev() {
        if let Some(grandparent) = parent_of(&parent) {
            change.touched.push(grandparent.to_string());
        }
        tree.insert(parent.clone(), Vec::new());
        // Like C xenstored, implicitly created parents do not fire watches
        // of their own (the watch on the written node covers them).
        change.touched.push(parent);
    }
}

fn tree_write(tree: &mut Tree, path: &str, value: &[u8], change: &mut Change) {
    tree_create_parents(tree, path, change);
    if tree.insert(path.to_string(), value.to_vec()).is_none() {
        if let Some(parent) = parent_of(path) {
            change.touched.push(parent.to_string());
        }
    }
    change.touched.push(path.to_string());
    change.fire.push((path.to_string(), false));
}

fn tree_mkdir(tree: &mut Tree, path: &str, change: &mut Change) {
    if !tree.contains_key(path) {
        tree_write(tree, path, b"", change);
    }
}

fn tree_rm(tree: &mut Tree, path: &str, change: &mut Change) -> Result<(), Errno> {
    if path == "/" {
        return Err(Errno::Invalid);
    }
    if !tree.contains_key(path) {
        return match parent_of(path) {
            Some(parent) if tree.contains_key(parent) => Ok(()),
            _ => Err(Errno::NotFound),
        };
    }
    let doomed: Vec<String> = tree
        .keys()
        .filter(|key| is_at_or_below(key, path))
        .cloned()
        .collect();
    for key in doomed {
        tree.remove(&key);
        change.touched.push(key);
    }
    if let Some(parent) = parent_of(path) {
        change.touched.push(parent.to_string());
    }
    change.fire.push((path.to_string(), true));
    Ok(())
}

fn tree_directory(tree: &Tree, path: &str) -> Result<Vec<String>, Errno> {
    if !tree.contains_key(path) {
        return Err(Errno::NotFound);
    }
    let prefix = child_prefix(path);
    Ok(tree
        .range(prefix.clone()..)
        .map(|(key, _)| key)
        .take_while(|key| key.starts_with(&prefix))
        .filter_map(|key| {
            let rest = &key[prefix.len()..];
            (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_string())
        })
        .collect())
}

#[derive(Debug, Clone)]
enum Operation {
    Write(String, Vec<u8>),
    Mkdir(String),
    Rm(String),
}

struct Transaction {
    conn: ConnId,
    start_generation: u64,
    tree: Tree,
    accessed: BTreeSet<String>,
    operations: Vec<Operation>,
}

struct Watch {
    conn: ConnId,
    /// Absolute path watched.
    path: String,
    /// Strip this prefix ("/local/domain/N/") from event paths: the watch
    /// was registered with a relative path.
    relative_to: Option<String>,
    token: String,
}

/// The ring half of a connection.
struct Ring {
    page: SimPage,
    incoming: Vec<u8>,
    outgoing: VecDeque<u8>,
    paused: bool,
    broken: bool,
}

struct Connection {
    domid: DomId,
    /// Watch events of a local (in-process) connection.
    events: VecDeque<WatchEvent>,
    ring: Option<Ring>,
}

/// The simulated xenstored.
pub struct XenStored {
    tree: Tree,
    changed_at: BTreeMap<String, u64>,
    generation: u64,
    watches: Vec<Watch>,
    connections: BTreeMap<ConnId, Connection>,
    next_conn: ConnId,
    transactions: BTreeMap<u32, Transaction>,
    next_transaction: u32,
    requests_served: u64,
}

impl Default for XenStored {
    fn default() -> Self {
        Self::new()
    }
}

impl XenStored {
    /// A store holding only `/`, `/local`, `/local/domain`.
    pub fn new() -> Self {
        let mut store = Self {
            tree: Tree::new(),
            changed_at: BTreeMap::new(),
            generation: 0,
            watches: Vec::new(),
            connections: BTreeMap::new(),
            next_conn: 1,
            transactions: BTreeMap::new(),
            next_transaction: 1,
            requests_served: 0,
        };
        store.tree.insert(String::from("/"), Vec::new());
        let mut change = Change::default();
        tree_mkdir(&mut store.tree, "/local/domain", &mut change);
        store
    }

    /// A new in-process client acting as domain `domid` (the toolstack or
    /// a simulated backend); its watch events are read with
    /// [`XenStored::take_event`].
    pub fn connect_local(&mut self, domid: DomId) -> ConnId {
        self.add_connection(domid, None)
    }

    /// A new client served through the store ring in `page`.
    pub fn connect_ring(&mut self, domid: DomId, page: SimPage) -> ConnId {
        let ring = Ring {
            page,
            incoming: Vec::new(),
            outgoing: VecDeque::new(),
            paused: false,
            broken: false,
        };
        self.add_connection(domid, Some(ring))
    }

    fn add_connection(&mut self, domid: DomId, ring: Option<Ring>) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        self.connections.insert(
            id,
            Connection {
                domid,
                events: VecDeque::new(),
                ring,
            },
        );
        id
    }

    /// Stop (or resume) serving a ring connection, so a test can write the
    /// response ring itself.
    pub fn set_paused(&mut self, conn: ConnId, paused: bool) {
        if let Some(ring) = self
            .connections
            .get_mut(&conn)
            .and_then(|c| c.ring.as_mut())
        {
            ring.paused = paused;
        }
    }

    /// Whether the ring client broke the protocol (the server gave up on it).
    pub fn is_broken(&self, conn: ConnId) -> bool {
        self.connections
            .get(&conn)
            .and_then(|c| c.ring.as_ref())
            .is_some_and(|ring| ring.broken)
    }

    /// Requests served so far (over rings and local connections).
    pub fn requests_served(&self) -> u64 {
        self.requests_served
    }

    /// Take the oldest watch event of a local connection.
    pub fn take_event(&mut self, conn: ConnId) -> Option<WatchEvent> {
        self.connections.get_mut(&conn)?.events.pop_front()
    }

    /// The whole tree (absolute path → value), for assertions.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.tree.clone()
    }

    fn resolve(&self, conn: ConnId, path: &str) -> Result<String, Errno> {
        validate_path(path).map_err(|_| Errno::Invalid)?;
        if path.starts_with('/') {
            return Ok(path.to_string());
        }
        let domid = self.connections.get(&conn).ok_or(Errno::Invalid)?.domid;
        Ok(format!("{}/{path}", domain_path(domid)))
    }

    fn transaction_mut(&mut self, conn: ConnId, tx: u32) -> Result<&mut Transaction, Errno> {
        match self.transactions.get_mut(&tx) {
            Some(transaction) if transaction.conn == conn => Ok(transaction),
            _ => Err(Errno::NotFound),
        }
    }

    fn apply(&mut self, change: Change) {
        if change.touched.is_empty() && change.fire.is_empty() {
            return;
        }
        self.generation += 1;
        for path in change
            .touched
            .iter()
            .chain(change.fire.iter().map(|(path, _)| path))
        {
            self.changed_at.insert(path.clone(), self.generation);
        }
        for (path, recursive) in change.fire {
            self.fire(&path, recursive);
        }
    }

    fn fire(&mut self, path: &str, recursive: bool) {
        let mut deliveries = Vec::new();
        for watch in &self.watches {
            let matches = is_at_or_below(path, &watch.path)
                || (recursive && is_at_or_below(&watch.path, path));
            if !matches {
                continue;
            }
            let reported = match &watch.relative_to {
                Some(prefix) => path.strip_prefix(prefix.as_str()).unwrap_or(path),
                None => path,
            };
            deliveries.push((
                watch.conn,
                WatchEvent {
                    path: reported.to_string(),
                    token: watch.token.clone(),
                },
            ));
        }
        for (conn, event) in deliveries {
            self.deliver(conn, event);
        }
    }

    fn deliver(&mut self, conn: ConnId, event: WatchEvent) {
        let Some(connection) = self.connections.get_mut(&conn) else {
            return;
        };
        match connection.ring.as_mut() {
            Some(ring) => {
                let mut payload = event.path.into_bytes();
                payload.push(0);
                payload.extend_from_slice(event.token.as_bytes());
                payload.push(0);
                push_message(
                    &mut ring.outgoing,
                    MessageType::WatchEvent as u32,
                    0,
                    0,
                    &payload,
                );
            }
            None => connection.events.push_back(event),
        }
    }

    /// `XS_READ`.
    pub fn read(&mut self, conn: ConnId, tx: u32, path: &str) -> Result<Vec<u8>, Errno> {
        let path = self.resolve(conn, path)?;
        self.requests_served += 1;
        if tx == 0 {
            return self.tree.get(&path).cloned().ok_or(Errno::NotFound);
        }
        let transaction = self.transaction_mut(conn, tx)?;
        transaction.accessed.insert(path.clone());
        transaction.tree.get(&path).cloned().ok_or(Errno::NotFound)
    }

    /// `XS_DIRECTORY`.
    pub fn directory(&mut self, conn: ConnId, tx: u32, path: &str) -> Result<Vec<String>, Errno> {
        let path = self.resolve(conn, path)?;
        self.requests_served += 1;
        if tx == 0 {
            return tree_directory(&self.tree, &path);
        }
        let transaction = self.transaction_mut(conn, tx)?;
        transaction.accessed.insert(path.clone());
        tree_directory(&transaction.tree, &path)
    }

    fn modify(&mut self, conn: ConnId, tx: u32, operation: Operation) -> Result<(), Errno> {
        self.requests_served += 1;
        if tx == 0 {
            let mut change = Change::default();
            run_operation(&mut self.tree, &operation, &mut change)?;
            self.apply(change);
            return Ok(());
        }
        let transaction = self.transaction_mut(conn, tx)?;
        let mut change = Change::default();
        run_operation(&mut transaction.tree, &operation, &mut change)?;
        transaction.accessed.extend(change.touched);
        transaction.operations.push(operation);
        Ok(())
    }

    /// `XS_WRITE` (creates missing parents).
    pub fn write(&mut self, conn: ConnId, tx: u32, path: &str, value: &[u8]) -> Result<(), Errno> {
        let path = self.resolve(conn, path)?;
        self.modify(conn, tx, Operation::Write(path, value.to_vec()))
    }

    /// `XS_MKDIR`.
    pub fn mkdir(&mut self, conn: ConnId, tx: u32, path: &str) -> Result<(), Errno> {
        let path = self.resolve(conn, path)?;
        self.modify(conn, tx, Operation::Mkdir(path))
    }

    /// `XS_RM` (the whole subtree).
    pub fn rm(&mut self, conn: ConnId, tx: u32, path: &str) -> Result<(), Errno> {
        let path = self.resolve(conn, path)?;
        self.modify(conn, tx, Operation::Rm(path))
    }

    /// `XS_WATCH`: registers and fires once at once.
    pub fn watch(&mut self, conn: ConnId, path: &str, token: &str) -> Result<(), Errno> {
        let absolute = self.resolve(conn, path)?;
        if token.is_empty() || token.contains('\0') {
            return Err(Errno::Invalid);
        }
        self.requests_served += 1;
        if self
            .watches
            .iter()
            .any(|watch| watch.conn == conn && watch.path == absolute && watch.token == token)
        {
            return Err(Errno::Exists);
        }
        let relative_to =
            (!path.starts_with('/')).then(|| absolute[..absolute.len() - path.len()].to_string());
        self.watches.push(Watch {
            conn,
            path: absolute,
            relative_to,
            token: token.to_string(),
        });
        self.deliver(
            conn,
            WatchEvent {
                path: path.to_string(),
                token: token.to_string(),
            },
        );
        Ok(())
    }

    /// `XS_UNWATCH`.
    pub fn unwatch(&mut self, conn: ConnId, path: &str, token: &str) -> Result<(), Errno> {
        let absolute = self.resolve(conn, path)?;
        self.requests_served += 1;
        let before = self.watches.len();
        self.watches.retain(|watch| {
            !(watch.conn == conn && watch.path == absolute && watch.token == token)
        });
        if self.watches.len() == before {
            return Err(Errno::NotFound);
        }
        Ok(())
    }

    /// `XS_TRANSACTION_START`: a snapshot of the tree.
    pub fn transaction_start(&mut self, conn: ConnId) -> Result<u32, Errno> {
        self.requests_served += 1;
        let id = self.next_transaction;
        self.next_transaction = self.next_transaction.wrapping_add(1).max(1);
        self.transactions.insert(
            id,
            Transaction {
                conn,
                start_generation: self.generation,
                tree: self.tree.clone(),
                accessed: BTreeSet::new(),
                operations: Vec::new(),
            },
        );
        Ok(id)
    }

    /// `XS_TRANSACTION_END`: commit (`EAGAIN` if a node it used changed
    /// since the start) or abort.
    pub fn transaction_end(&mut self, conn: ConnId, tx: u32, commit: bool) -> Result<(), Errno> {
        self.requests_served += 1;
        self.transaction_mut(conn, tx)?;
        let Some(transaction) = self.transactions.remove(&tx) else {
            return Err(Errno::NotFound);
        };
        if !commit {
            return Ok(());
        }
        let conflict = transaction.accessed.iter().any(|path| {
            self.changed_at
                .get(path)
                .is_some_and(|generation| *generation > transaction.start_generation)
        });
        if conflict {
            return Err(Errno::Again);
        }
        for operation in &transaction.operations {
            let mut change = Change::default();
            // Cannot fail: the same operations succeeded on an identical
            // view of every node they touched.
            let _ = run_operation(&mut self.tree, operation, &mut change);
            self.apply(change);
        }
        Ok(())
    }

    /// Serve one ring connection: take the requests the client published,
    /// answer complete ones, write as much output as fits. Returns whether
    /// it consumed or produced anything.
    pub(crate) fn serve_ring(&mut self, conn: ConnId) -> bool {
        let Some(ring) = self
            .connections
            .get_mut(&conn)
            .and_then(|c| c.ring.as_mut())
        else {
            return false;
        };
        if ring.paused || ring.broken {
            return false;
        }
        let page = ring.page.clone();
        let mut progress = false;

        // Requests.
        let cons = page.load_u32(REQ_CONS);
        let prod = page.load_u32(REQ_PROD);
        let available = prod.wrapping_sub(cons);
        if available > RING_SIZE {
            ring.broken = true;
            return false;
        }
        if available > 0 {
            let bytes = ring_copy_out(&page, REQ_OFFSET, cons, available);
            ring.incoming.extend_from_slice(&bytes);
            page.store_u32(REQ_CONS, prod);
            progress = true;
        }
        let mut messages = Vec::new();
        loop {
            if ring.incoming.len() < HEADER_SIZE {
                break;
            }
            let word = |index: usize| {
                u32::from_le_bytes(
                    ring.incoming[index * 4..index * 4 + 4]
                        .try_into()
                        .unwrap_or([0; 4]),
                )
            };
            let (kind, req_id, tx, length) = (word(0), word(1), word(2), word(3) as usize);
            if length > PAYLOAD_MAX {
                ring.broken = true;
                return progress;
            }
            if ring.incoming.len() < HEADER_SIZE + length {
                break;
            }
            let payload = ring.incoming[HEADER_SIZE..HEADER_SIZE + length].to_vec();
            ring.incoming.drain(..HEADER_SIZE + length);
            messages.push((kind, req_id, tx, payload));
        }
        for (kind, req_id, tx, payload) in messages {
            let (reply_kind, reply) = match self.handle(conn, kind, tx, &payload) {
                Ok(reply) => (kind, reply),
                Err(errno) => {
                    let mut text = errno.as_str().as_bytes().to_vec();
                    text.push(0);
                    (MessageType::Error as u32, text)
                }
            };
            if let Some(ring) = self
                .connections
                .get_mut(&conn)
                .and_then(|c| c.ring.as_mut())
            {
                push_message(&mut ring.outgoing, reply_kind, req_id, tx, &reply);
            }
        }

        // Responses (and watch events).
        let Some(ring) = self
            .connections
            .get_mut(&conn)
            .and_then(|c| c.ring.as_mut())
        else {
            return progress;
        };
        let rsp_cons = page.load_u32(RSP_CONS);
        let rsp_prod = page.load_u32(RSP_PROD);
        let used = rsp_prod.wrapping_sub(rsp_cons);
        if used > RING_SIZE {
            ring.broken = true;
            return progress;
        }
        let length = ((RING_SIZE - used) as usize).min(ring.outgoing.len());
        if length > 0 {
            let bytes: Vec<u8> = ring.outgoing.drain(..length).collect();
            let mut position = rsp_prod;
            let mut written = 0;
            while written < bytes.len() {
                let start = (position & (RING_SIZE - 1)) as usize;
                let chunk = (bytes.len() - written).min(RING_SIZE as usize - start);
                page.write(RSP_OFFSET + start, &bytes[written..written + chunk]);
                written += chunk;
                position = position.wrapping_add(chunk as u32);
            }
            page.store_u32(RSP_PROD, position);
            progress = true;
        }
        progress
    }

    fn handle(
        &mut self,
        conn: ConnId,
        kind: u32,
        tx: u32,
        payload: &[u8],
    ) -> Result<Vec<u8>, Errno> {
        let ok = || b"OK\0".to_vec();
        let text = |bytes: &[u8]| -> Result<String, Errno> {
            String::from_utf8(bytes.to_vec()).map_err(|_| Errno::Invalid)
        };
        let mut parts = payload.splitn(2, |byte| *byte == 0);
        let first = text(parts.next().unwrap_or(b""))?;
        let rest = parts.next().unwrap_or(b"");
        let second = || text(rest.strip_suffix(b"\0").unwrap_or(rest));
        match MessageType::from_u32(kind) {
            Some(MessageType::Read) => self.read(conn, tx, &first),
            Some(MessageType::Directory) => Ok(self
                .directory(conn, tx, &first)?
                .into_iter()
                .flat_map(|name| name.into_bytes().into_iter().chain([0]))
                .collect()),
            Some(MessageType::Write) => self.write(conn, tx, &first, rest).map(|()| ok()),
            Some(MessageType::Mkdir) => self.mkdir(conn, tx, &first).map(|()| ok()),
            Some(MessageType::Rm) => self.rm(conn, tx, &first).map(|()| ok()),
            Some(MessageType::Watch) => self.watch(conn, &first, &second()?).map(|()| ok()),
            Some(MessageType::Unwatch) => self.unwatch(conn, &first, &second()?).map(|()| ok()),
            Some(MessageType::TransactionStart) => {
                let id = self.transaction_start(conn)?;
                Ok(format!("{id}\0").into_bytes())
            }
            Some(MessageType::TransactionEnd) => match first.as_str() {
                "T" => self.transaction_end(conn, tx, true).map(|()| ok()),
                "F" => self.transaction_end(conn, tx, false).map(|()| ok()),
                _ => Err(Errno::Invalid),
            },
            Some(MessageType::GetDomainPath) => {
                let domid: DomId = first.parse().map_err(|_| Errno::Invalid)?;
                self.requests_served += 1;
                Ok(format!("{}\0", domain_path(domid)).into_bytes())
            }
            _ => Err(Errno::Invalid),
        }
    }
}

fn run_operation(tree: &mut Tree, operation: &Operation, change: &mut Change) -> Result<(), Errno> {
    match operation {
        Operation::Write(path, value) => {
            tree_write(tree, path, value, change);
            Ok(())
        }
        Operation::Mkdir(path) => {
            tree_mkdir(tree, path, change);
            Ok(())
        }
        Operation::Rm(path) => tree_rm(tree, path, change),
    }
}

fn push_message(out: &mut VecDeque<u8>, kind: u32, req_id: u32, tx: u32, payload: &[u8]) {
    for word in [kind, req_id, tx, payload.len() as u32] {
        out.extend(word.to_le_bytes());
    }
    out.extend(payload.iter().copied());
}

/// Copy `length` bytes out of a 1024-byte ring at `base`, starting at the
/// free-running index `start`.
fn ring_copy_out(page: &SimPage, base: usize, start: u32, length: u32) -> Vec<u8> {
    let mut out = std::vec![0u8; length as usize];
    let mut done = 0usize;
    let mut position = start;
    while done < out.len() {
        let offset = (position & (RING_SIZE - 1)) as usize;
        let chunk = (out.len() - done).min(RING_SIZE as usize - offset);
        page.read(base + offset, &mut out[done..done + chunk]);
        done += chunk;
        position = position.wrapping_add(chunk as u32);
    }
    out
}
