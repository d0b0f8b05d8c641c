//! The only `unsafe` in sndback: Xen's libraries (libxenstore, libxenevtchn,
//! libxengnttab from Debian's `libxen-dev`), poll(2) and signals, wrapped
//! in safe types.
//!
//! Prototypes are from `/usr/include/xenstore.h`, `xenevtchn.h` and
//! `xengnttab.h` (Xen 4.17). Every handle is closed on drop; every grant
//! mapping is unmapped on drop; every C string the libraries return is
//! copied and freed at once.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr, CString};
use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use xen_guest::{GrantRef, SharedPage, XenError, PAGE_SIZE};
use xensnd_backend::GrantMapper;

#[repr(C)]
struct XsHandle {
    _private: [u8; 0],
}
#[repr(C)]
struct XenevtchnHandle {
    _private: [u8; 0],
}
#[repr(C)]
struct XengnttabHandle {
    _private: [u8; 0],
}

/// `XBT_NULL`: no transaction.
const XBT_NULL: u32 = 0;

#[link(name = "xenstore")]
extern "C" {
    fn xs_open(flags: c_ulong) -> *mut XsHandle;
    fn xs_close(handle: *mut XsHandle);
    fn xs_read(
        handle: *mut XsHandle,
        transaction: u32,
        path: *const c_char,
        length: *mut c_uint,
    ) -> *mut c_void;
    fn xs_write(
        handle: *mut XsHandle,
        transaction: u32,
        path: *const c_char,
        data: *const c_void,
        length: c_uint,
    ) -> bool;
    fn xs_directory(
        handle: *mut XsHandle,
        transaction: u32,
        path: *const c_char,
        count: *mut c_uint,
    ) -> *mut *mut c_char;
    fn xs_rm(handle: *mut XsHandle, transaction: u32, path: *const c_char) -> bool;
    fn xs_watch(handle: *mut XsHandle, path: *const c_char, token: *const c_char) -> bool;
    fn xs_unwatch(handle: *mut XsHandle, path: *const c_char, token: *const c_char) -> bool;
    fn xs_fileno(handle: *mut XsHandle) -> c_int;
    fn xs_check_watch(handle: *mut XsHandle) -> *mut *mut c_char;
}

#[link(name = "xenevtchn")]
extern "C" {
    fn xenevtchn_open(logger: *mut c_void, flags: c_uint) -> *mut XenevtchnHandle;
    fn xenevtchn_close(handle: *mut XenevtchnHandle) -> c_int;
    fn xenevtchn_fd(handle: *mut XenevtchnHandle) -> c_int;
    fn xenevtchn_notify(handle: *mut XenevtchnHandle, port: u32) -> c_int;
    fn xenevtchn_bind_interdomain(
        handle: *mut XenevtchnHandle,
        domid: u32,
        remote_port: u32,
    ) -> c_int;
    fn xenevtchn_unbind(handle: *mut XenevtchnHandle, port: u32) -> c_int;
    fn xenevtchn_pending(handle: *mut XenevtchnHandle) -> c_int;
    fn xenevtchn_unmask(handle: *mut XenevtchnHandle, port: u32) -> c_int;
}

#[link(name = "xengnttab")]
extern "C" {
    fn xengnttab_open(logger: *mut c_void, flags: c_uint) -> *mut XengnttabHandle;
    fn xengnttab_close(handle: *mut XengnttabHandle) -> c_int;
    fn xengnttab_map_domain_grant_refs(
        handle: *mut XengnttabHandle,
        count: u32,
        domid: u32,
        refs: *mut u32,
        protection: c_int,
    ) -> *mut c_void;
    fn xengnttab_unmap(handle: *mut XengnttabHandle, address: *mut c_void, count: u32) -> c_int;
}

fn c_string(text: &str) -> io::Result<CString> {
    CString::new(text).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))
}

/// A connection to xenstored (`xs_open(0)`).
pub struct XenStore {
    handle: NonNull<XsHandle>,
}

impl XenStore {
    /// Connect (socket or xenbus device).
    pub fn open() -> io::Result<Self> {
        // SAFETY: xs_open takes flags by value and returns a new handle or NULL.
        let handle = unsafe { xs_open(0) };
        NonNull::new(handle)
            .map(|handle| Self { handle })
            .ok_or_else(io::Error::last_os_error)
    }

    /// The value of `path`, or `None` when it does not exist (or is not UTF-8).
    pub fn read(&self, path: &str) -> Option<String> {
        let path = c_string(path).ok()?;
        let mut length: c_uint = 0;
        // SAFETY: the handle is live, path is a NUL-terminated string that
        // outlives the call, length points to a local.
        let value = unsafe { xs_read(self.handle.as_ptr(), XBT_NULL, path.as_ptr(), &mut length) };
        if value.is_null() {
            return None;
        }
        // SAFETY: on success xs_read returns a malloc'd buffer of `length`
        // bytes (plus a NUL), which we copy before freeing.
        let bytes =
            unsafe { std::slice::from_raw_parts(value.cast::<u8>(), length as usize) }.to_vec();
        // SAFETY: the buffer came from malloc in libxenstore and is freed once.
        unsafe { libc::free(value) };
        String::from_utf8(bytes).ok()
    }

    /// Write `value` at `path`.
    pub fn write(&self, path: &str, value: &str) -> io::Result<()> {
        let path = c_string(path)?;
        let length = c_uint::try_from(value.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "value too long"))?;
        // SAFETY: the handle is live; path is NUL-terminated; data points to
        // `length` readable bytes for the duration of the call.
        let written = unsafe {
            xs_write(
                self.handle.as_ptr(),
                XBT_NULL,
                path.as_ptr(),
                value.as_ptr().cast(),
                length,
            )
        };
        if written {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Remove `path` and everything below it (absent is not an error).
    pub fn remove(&self, path: &str) -> io::Result<()> {
        let path = c_string(path)?;
        // SAFETY: the handle is live; path is NUL-terminated and outlives the call.
        if unsafe { xs_rm(self.handle.as_ptr(), XBT_NULL, path.as_ptr()) } {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::ENOENT) {
            Ok(())
        } else {
            Err(error)
        }
    }

    /// The children of `path` (empty when it does not exist).
    pub fn directory(&self, path: &str) -> Vec<String> {
        let Ok(path) = c_string(path) else {
            return Vec::new();
        };
        let mut count: c_uint = 0;
        // SAFETY: the handle is live, path is NUL-terminated, count points to a local.
        let list =
            unsafe { xs_directory(self.handle.as_ptr(), XBT_NULL, path.as_ptr(), &mut count) };
        if list.is_null() {
            return Vec::new();
        }
        let mut names = Vec::with_capacity(count as usize);
        for index in 0..count as usize {
            // SAFETY: xs_directory returns `count` pointers to NUL-terminated
            // strings, all inside one malloc'd block that is still live.
            let name = unsafe { CStr::from_ptr(*list.add(index)) };
            names.push(name.to_string_lossy().into_owned());
        }
        // SAFETY: the array and its strings are one malloc'd block, freed once.
        unsafe { libc::free(list.cast()) };
        names
    }

    /// Watch `path` (and everything below it) with `token`.
    pub fn watch(&self, path: &str, token: &str) -> io::Result<()> {
        let path = c_string(path)?;
        let token = c_string(token)?;
        // SAFETY: the handle is live; both strings are NUL-terminated and
        // live for the call (libxenstore copies them).
        if unsafe { xs_watch(self.handle.as_ptr(), path.as_ptr(), token.as_ptr()) } {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Remove a watch set with [`XenStore::watch`].
    pub fn unwatch(&self, path: &str, token: &str) {
        let (Ok(path), Ok(token)) = (c_string(path), c_string(token)) else {
            return;
        };
        // SAFETY: as for xs_watch.
        let _ = unsafe { xs_unwatch(self.handle.as_ptr(), path.as_ptr(), token.as_ptr()) };
    }

    /// The descriptor that becomes readable when a watch fires.
    pub fn fileno(&self) -> RawFd {
        // SAFETY: the handle is live.
        unsafe { xs_fileno(self.handle.as_ptr()) }
    }

    /// The next fired watch `(path, token)` without blocking, or `None`.
    pub fn check_watch(&self) -> Option<(String, String)> {
        // SAFETY: the handle is live.
        let event = unsafe { xs_check_watch(self.handle.as_ptr()) };
        if event.is_null() {
            return None;
        }
        // SAFETY: on success event[0] (XS_WATCH_PATH) and event[1]
        // (XS_WATCH_TOKEN) are NUL-terminated strings in one malloc'd block.
        let (path, token) = unsafe {
            (
                CStr::from_ptr(*event).to_string_lossy().into_owned(),
                CStr::from_ptr(*event.add(1)).to_string_lossy().into_owned(),
            )
        };
        // SAFETY: the block is freed once, all in one go as documented.
        unsafe { libc::free(event.cast()) };
        Some((path, token))
    }
}

impl Drop for XenStore {
    fn drop(&mut self) {
        // SAFETY: the handle is live and not used after this.
        unsafe { xs_close(self.handle.as_ptr()) };
    }
}

/// An event-channel handle (`/dev/xen/evtchn`).
pub struct EventChannels {
    handle: NonNull<XenevtchnHandle>,
    /// Local ports bound through this handle (and not unbound since), with
    /// the remote domain of each: what `bound_ports` reports.
    bound: RefCell<BTreeMap<u32, u32>>,
}

fn check(result: c_int) -> io::Result<c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

impl EventChannels {
    /// Open the driver.
    pub fn open() -> io::Result<Self> {
        // SAFETY: a NULL logger is allowed; flags 0.
        let handle = unsafe { xenevtchn_open(std::ptr::null_mut(), 0) };
        NonNull::new(handle)
            .map(|handle| Self {
                handle,
                bound: RefCell::new(BTreeMap::new()),
            })
            .ok_or_else(io::Error::last_os_error)
    }

    /// Ports bound to `domid` now (all domains: `None`), counted from the
    /// binds and unbinds that libxenevtchn accepted.
    pub fn bound_ports(&self, domid: Option<u32>) -> usize {
        self.bound
            .borrow()
            .values()
            .filter(|remote| domid.is_none_or(|domid| **remote == domid))
            .count()
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> RawFd {
        // SAFETY: the handle is live.
        unsafe { xenevtchn_fd(self.handle.as_ptr()) }
    }

    /// Bind a local port to `remote_port` of `domid`; returns the local port.
    pub fn bind_interdomain(&self, domid: u32, remote_port: u32) -> io::Result<u32> {
        // SAFETY: the handle is live; plain integer arguments.
        let port =
            check(unsafe { xenevtchn_bind_interdomain(self.handle.as_ptr(), domid, remote_port) })?;
        self.bound.borrow_mut().insert(port as u32, domid);
        Ok(port as u32)
    }

    /// Unbind a local port (it stays counted in `bound_ports` if the
    /// driver refuses).
    pub fn unbind(&self, port: u32) {
        // SAFETY: the handle is live; an unknown port only fails.
        match check(unsafe { xenevtchn_unbind(self.handle.as_ptr(), port) }) {
            Ok(_) => {
                self.bound.borrow_mut().remove(&port);
            }
            Err(error) => log::error!("xenevtchn_unbind({port}): {error}"),
        }
    }

    /// Signal the remote end of a local port.
    pub fn notify(&self, port: u32) -> io::Result<()> {
        // SAFETY: the handle is live.
        check(unsafe { xenevtchn_notify(self.handle.as_ptr(), port) }).map(|_| ())
    }

    /// The next pending port. Call only after poll() said the fd is readable.
    pub fn pending(&self) -> io::Result<u32> {
        // SAFETY: the handle is live.
        let port = check(unsafe { xenevtchn_pending(self.handle.as_ptr()) })?;
        Ok(port as u32)
    }

    /// Unmask a port after handling it.
    pub fn unmask(&self, port: u32) {
        // SAFETY: the handle is live.
        let _ = unsafe { xenevtchn_unmask(self.handle.as_ptr(), port) };
    }
}

impl Drop for EventChannels {
    fn drop(&mut self) {
        // SAFETY: the handle is live and not used after this.
        unsafe { xenevtchn_close(self.handle.as_ptr()) };
    }
}

/// A grant-table handle (`/dev/xen/gntdev`).
pub struct GrantTable {
    handle: NonNull<XengnttabHandle>,
    /// Pages mapped through this handle and not unmapped since, per
    /// granting domain: what `mapped_pages` reports.
    mapped: RefCell<BTreeMap<u32, usize>>,
}

impl GrantTable {
    /// Open the driver.
    pub fn open() -> io::Result<Rc<Self>> {
        // SAFETY: a NULL logger is allowed; flags 0.
        let handle = unsafe { xengnttab_open(std::ptr::null_mut(), 0) };
        NonNull::new(handle)
            .map(|handle| {
                Rc::new(Self {
                    handle,
                    mapped: RefCell::new(BTreeMap::new()),
                })
            })
            .ok_or_else(io::Error::last_os_error)
    }

    /// Pages of `domid` mapped now (all domains: `None`), counted from the
    /// maps and unmaps that libxengnttab accepted.
    pub fn mapped_pages(&self, domid: Option<u32>) -> usize {
        let mapped = self.mapped.borrow();
        match domid {
            Some(domid) => mapped.get(&domid).copied().unwrap_or(0),
            None => mapped.values().sum(),
        }
    }
}

impl Drop for GrantTable {
    fn drop(&mut self) {
        // Every MappedPage holds an Rc to us, so none is left mapped here.
        // SAFETY: the handle is live and not used after this.
        unsafe { xengnttab_close(self.handle.as_ptr()) };
    }
}

/// Pages of another domain mapped by one call, contiguous in our address
/// space; unmapped (all at once) when the last of its pages is dropped.
struct MappedRegion {
    table: Rc<GrantTable>,
    address: NonNull<u8>,
    count: u32,
    domid: u32,
}

impl MappedRegion {
    /// Map `grefs` of `domid` in one `xengnttab_map_domain_grant_refs`
    /// (one mmap; gntdev maps every grant or fails the whole call).
    fn map(table: &Rc<GrantTable>, domid: u32, grefs: &[u32], writable: bool) -> io::Result<Self> {
        let protection = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let count = u32::try_from(grefs.len())
            .ok()
            .filter(|count| *count > 0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        // libxengnttab takes a non-const array; give it a copy.
        let mut refs = grefs.to_vec();
        // SAFETY: the handle is live; `refs` holds `count` grant references
        // and outlives the call. The result is a fresh mapping of `count`
        // pages or NULL.
        let address = unsafe {
            xengnttab_map_domain_grant_refs(
                table.handle.as_ptr(),
                count,
                domid,
                refs.as_mut_ptr(),
                protection,
            )
        };
        let region = NonNull::new(address.cast::<u8>())
            .map(|address| Self {
                table: Rc::clone(table),
                address,
                count,
                domid,
            })
            .ok_or_else(io::Error::last_os_error)?;
        *table.mapped.borrow_mut().entry(domid).or_insert(0) += count as usize;
        Ok(region)
    }
}

impl Drop for MappedRegion {
    fn drop(&mut self) {
        // SAFETY: the address came from xengnttab_map_domain_grant_refs on
        // this handle (kept alive by our Rc) for `count` pages and is
        // unmapped exactly once.
        let result = unsafe {
            xengnttab_unmap(
                self.table.handle.as_ptr(),
                self.address.as_ptr().cast(),
                self.count,
            )
        };
        if result != 0 {
            log::error!("xengnttab_unmap failed: {}", io::Error::last_os_error());
            return;
        }
        let mut mapped = self.table.mapped.borrow_mut();
        if let Some(pages) = mapped.get_mut(&self.domid) {
            *pages = pages.saturating_sub(self.count as usize);
            if *pages == 0 {
                mapped.remove(&self.domid);
            }
        }
    }
}

/// One page of another domain mapped into our address space; its region is
/// unmapped when its last page is dropped.
pub struct MappedPage {
    /// Held so the mapping lives as long as any of its pages.
    _region: Rc<MappedRegion>,
    address: NonNull<u8>,
}

impl MappedPage {
    /// Map `gref` of `domid`.
    pub fn map(table: &Rc<GrantTable>, domid: u32, gref: u32, writable: bool) -> io::Result<Self> {
        let region = Rc::new(MappedRegion::map(table, domid, &[gref], writable)?);
        Ok(Self {
            address: region.address,
            _region: region,
        })
    }

    /// Map every page of `grefs` of `domid` with one call, in order.
    pub fn map_many(
        table: &Rc<GrantTable>,
        domid: u32,
        grefs: &[u32],
        writable: bool,
    ) -> io::Result<Vec<Self>> {
        if grefs.is_empty() {
            return Ok(Vec::new());
        }
        let region = Rc::new(MappedRegion::map(table, domid, grefs, writable)?);
        Ok((0..grefs.len())
            .map(|index| Self {
                // SAFETY: index < count: the address stays inside the
                // region's `count * PAGE_SIZE` bytes, so it is non-null.
                address: unsafe {
                    NonNull::new_unchecked(region.address.as_ptr().add(index * PAGE_SIZE))
                },
                _region: Rc::clone(&region),
            })
            .collect())
    }

    fn check(offset: usize, length: usize) {
        assert!(
            offset
                .checked_add(length)
                .is_some_and(|end| end <= PAGE_SIZE),
            "access outside the page: {offset}+{length}"
        );
    }
}

impl std::fmt::Debug for MappedPage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "MappedPage({:p})", self.address)
    }
}

impl SharedPage for MappedPage {
    /// Not meaningful for a foreign page we mapped: 0.
    fn gfn(&self) -> u64 {
        0
    }

    fn load_u32(&self, offset: usize) -> u32 {
        Self::check(offset, 4);
        assert!(offset % 4 == 0, "misaligned u32 at {offset}");
        // SAFETY: offset + 4 <= PAGE_SIZE and aligned, inside the live mapping;
        // volatile because the other domain writes the page concurrently.
        unsafe {
            self.address
                .as_ptr()
                .add(offset)
                .cast::<u32>()
                .read_volatile()
        }
    }

    fn store_u32(&self, offset: usize, value: u32) {
        Self::check(offset, 4);
        assert!(offset % 4 == 0, "misaligned u32 at {offset}");
        // SAFETY: as in load_u32; the mapping is writable for every page we
        // store to (rings, event pages and buffers are mapped read-write).
        unsafe {
            self.address
                .as_ptr()
                .add(offset)
                .cast::<u32>()
                .write_volatile(value)
        }
    }

    fn read(&self, offset: usize, out: &mut [u8]) {
        Self::check(offset, out.len());
        for (index, byte) in out.iter_mut().enumerate() {
            // SAFETY: offset + index < PAGE_SIZE, inside the live mapping.
            *byte = unsafe { self.address.as_ptr().add(offset + index).read_volatile() };
        }
    }

    fn write(&self, offset: usize, data: &[u8]) {
        Self::check(offset, data.len());
        for (index, byte) in data.iter().enumerate() {
            // SAFETY: offset + index < PAGE_SIZE, inside the live writable mapping.
            unsafe {
                self.address
                    .as_ptr()
                    .add(offset + index)
                    .write_volatile(*byte)
            };
        }
    }
}

/// Maps grants of one frontend domain.
pub struct DomainMapper {
    table: Rc<GrantTable>,
    domid: u32,
}

impl DomainMapper {
    /// A mapper for `domid`.
    pub fn new(table: &Rc<GrantTable>, domid: u32) -> Self {
        Self {
            table: Rc::clone(table),
            domid,
        }
    }

    /// Map grants of `domid` from now on.
    pub fn set_domid(&mut self, domid: u32) {
        self.domid = domid;
    }
}

impl GrantMapper for DomainMapper {
    type Page = MappedPage;
    fn map(&mut self, gref: GrantRef, writable: bool) -> Result<MappedPage, XenError> {
        MappedPage::map(&self.table, self.domid, gref, writable)
            .map_err(|error| XenError::Hypercall(-error.raw_os_error().unwrap_or(libc::EIO)))
    }
    fn map_many(
        &mut self,
        grefs: &[GrantRef],
        writable: bool,
    ) -> Result<Vec<MappedPage>, XenError> {
        MappedPage::map_many(&self.table, self.domid, grefs, writable)
            .map_err(|error| XenError::Hypercall(-error.raw_os_error().unwrap_or(libc::EIO)))
    }
}

/// ppoll(2) for readability on `fds` for up to `timeout_ns` (nanosecond
/// precision, unlike poll's milliseconds). Returns which are readable; an
/// interrupted wait returns all false.
pub fn poll_readable(fds: &[RawFd], timeout_ns: u64) -> io::Result<Vec<bool>> {
    let mut entries: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: *fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let timeout = libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: entries is a valid array of entries.len() pollfd structures,
    // timeout a valid timespec; a null signal mask keeps the current one.
    let result = unsafe {
        libc::ppoll(
            entries.as_mut_ptr(),
            entries.len() as libc::nfds_t,
            &timeout,
            std::ptr::null(),
        )
    };
    if result < 0 {
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(error);
    }
    Ok(entries
        .iter()
        .map(|entry| entry.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0)
        .collect())
}

static TERMINATE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_terminate(_signal: c_int) {
    TERMINATE.store(true, Ordering::SeqCst);
}

/// Make SIGTERM and SIGINT set a flag (and interrupt poll) instead of killing us.
pub fn install_termination_handler() -> io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is a valid starting point; the handler
        // only stores to an atomic (async-signal-safe); no SA_RESTART, so
        // poll() returns EINTR.
        let result = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_terminate as extern "C" fn(c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        check(result)?;
    }
    Ok(())
}

/// Whether SIGTERM or SIGINT arrived.
pub fn termination_requested() -> bool {
    TERMINATE.load(Ordering::SeqCst)
}

/// Run this process under `SCHED_FIFO` at `priority` (1-99), as audio
/// servers run their audio threads (PipeWire, PulseAudio through rtkit):
/// the busy-loop processes of a loaded dom0 then cannot delay a position
/// event or the service of a WRITE. Needs root (or `CAP_SYS_NICE`).
pub fn set_realtime(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid sched_param that outlives the call; pid 0
    // is this process.
    check(unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) }).map(drop)
}
