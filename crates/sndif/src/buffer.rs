//! The frontend's side of the stream's shared PCM buffer: pages it
//! allocates and grants, and the page directory it builds over them
//! (`io/sndif.h`, `struct xensnd_page_directory`).
//!
//! The buffer is `ceil(buffer_sz / 4096)` pages. Their grant references are
//! listed in a chain of directory pages: each holds the next directory
//! page's reference (0 at the end) and up to 1023 buffer references. The
//! first directory page's reference goes into `XENSND_OP_OPEN`
//! (`io/sndif.h`: "gref_directory - grant_ref_t, a reference to the first
//! shared page describing shared buffer references"). The layout and the
//! page arithmetic are [`super::directory`]'s, shared with the backend.
//!
//! # Why a [`GrantedBuffer`] is not the backend's `MappedBuffer`
//! Both are "the shared buffer", but they own different things and trust
//! different things. This one owns the pages: it allocates, grants and must
//! revoke them, and hands back pages the backend still maps
//! ([`StuckGrant`]) so they are never reused; the offsets it is given are
//! our own, so a bad one is a bug (it panics). The backend's
//! (`xensnd_backend::buffer::MappedBuffer`) owns mappings of another
//! domain's pages: it walks an untrusted directory with a bound, unmaps on
//! drop, and answers every bad offset from the peer with an error. What
//! they must agree on, the directory layout, is one type
//! ([`super::directory::DirectoryLayout`]).
//!
//! # Grant permissions: everything read-write, as the ecosystem does
//! `io/sndif.h` does not say how the pages are granted; the peers decide:
//! - Linux's frontend (`drivers/xen/xen-front-pgdir-shbuf.c`,
//!   `grant_references`) grants the directory pages and the buffer pages
//!   with `gnttab_grant_foreign_access_ref(ref, otherend_id, frame, 0)`:
//!   read-write, both.
//! - xen-troops libxenbe (under the snd_be backend) maps every grant
//!   read-write whatever it is asked (`XenGnttabBuffer::init` calls
//!   `xengnttab_map_domain_grant_refs(..., PROT_READ | PROT_WRITE)` and
//!   ignores its `prot` argument), the directory pages included, and Xen
//!   refuses to map a read-only grant writable: with a read-only directory
//!   every OPEN against snd_be fails with `-EINVAL`.
//!
//! So the directory pages are granted read-write (the backend has no reason
//! to write them, and nothing we read back from them is trusted: we never
//! read them), and so are the data pages, for both directions: capture and
//! `XENSND_OP_GET_VOLUME` need the backend to write, and a libxenbe backend
//! maps them read-write anyway.
#![forbid(unsafe_code)]

use alloc::vec::Vec;

use super::directory::{page_spans, store_directory_page, DirectoryLayout};
use xen_guest::{DomId, GrantRef, GrantTable, PageAllocator, SharedPage, XenError};

/// Largest buffer we share: 16 MiB (4096 pages, 5 directory pages).
pub const MAX_BUFFER_BYTES: usize = 16 << 20;

/// A page we allocated and granted.
#[derive(Debug)]
pub struct Granted<Page> {
    /// The page.
    pub page: Page,
    /// Its grant reference.
    pub gref: GrantRef,
}

/// A granted page the backend still had mapped when we tried to revoke it.
/// It must never be reused; [`GrantedBuffer::release`] hands these back so
/// the owner can retry later.
pub type StuckGrant<Page> = Granted<Page>;

/// A buffer we allocated and granted to the backend, with its page directory.
#[derive(Debug)]
pub struct GrantedBuffer<Page: SharedPage> {
    len: usize,
    pages: Vec<Granted<Page>>,
    directory: Vec<Granted<Page>>,
}

/// Why a buffer could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferError {
    /// Zero bytes, or more than [`MAX_BUFFER_BYTES`].
    BadSize(usize),
    /// Page allocation or granting failed.
    Xen(XenError),
}

impl From<XenError> for BufferError {
    fn from(e: XenError) -> Self {
        BufferError::Xen(e)
    }
}

impl<Page: SharedPage> GrantedBuffer<Page> {
    /// Allocate `len` bytes of zeroed pages, grant them to `backend`
    /// (read-write) and build the directory (granted read-write too, see
    /// the module docs). On failure everything granted so far is revoked
    /// again.
    pub fn new<X>(xen: &mut X, backend: DomId, len: usize) -> Result<Self, BufferError>
    where
        X: GrantTable + PageAllocator<Page = Page>,
    {
        if len == 0 || len > MAX_BUFFER_BYTES {
            return Err(BufferError::BadSize(len));
        }
        let mut buffer = GrantedBuffer {
            len,
            pages: Vec::new(),
            directory: Vec::new(),
        };
        if let Err(e) = buffer.populate(xen, backend) {
            // Nothing was handed to the backend yet, so revoking cannot race a
            // mapping; a stuck page is dropped without reuse.
            let _ = buffer.release(xen);
            return Err(e);
        }
        Ok(buffer)
    }

    fn populate<X>(&mut self, xen: &mut X, backend: DomId) -> Result<(), BufferError>
    where
        X: GrantTable + PageAllocator<Page = Page>,
    {
        let layout = DirectoryLayout::for_bytes(self.len);
        for _ in 0..layout.data_pages() {
            let page = xen.alloc_page()?;
            let gref = xen.grant(backend, page.gfn(), false)?;
            self.pages.push(Granted { page, gref });
        }
        // Build the directory back to front, so each page can name the next.
        let mut next: GrantRef = 0;
        let mut grefs = Vec::new();
        // Built in place, so a grant failing halfway leaves every earlier
        // directory page where `release` revokes it.
        let directory = &mut self.directory;
        for index in (0..layout.directory_pages()).rev() {
            let page = xen.alloc_page()?;
            grefs.clear();
            grefs.extend(self.pages[layout.listed_by(index)].iter().map(|g| g.gref));
            store_directory_page(&page, next, &grefs);
            // Read-write, like Linux: a libxenbe backend maps it writable.
            let gref = xen.grant(backend, page.gfn(), false)?;
            next = gref;
            directory.push(Granted { page, gref });
        }
        directory.reverse();
        Ok(())
    }

    /// Length in bytes (what `buffer_sz` says in OPEN).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a buffer has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first directory page's grant reference (`gref_directory`).
    pub fn directory_gref(&self) -> GrantRef {
        self.directory.first().map_or(0, |d| d.gref)
    }

    /// Number of data pages.
    pub fn data_pages(&self) -> usize {
        self.pages.len()
    }

    /// Number of directory pages.
    pub fn directory_page_count(&self) -> usize {
        self.directory.len()
    }

    fn check(&self, offset: usize, len: usize) {
        assert!(
            offset.checked_add(len).is_some_and(|end| end <= self.len),
            "buffer access {offset}+{len} outside {} bytes",
            self.len
        );
    }

    /// Copy `data` into the buffer at `offset` (our own offsets: out of range panics).
    pub fn write(&self, offset: usize, data: &[u8]) {
        let mut done = 0;
        for (page, in_page, n) in self.segments(offset, data.len()) {
            page.write(in_page, &data[done..done + n]);
            done += n;
        }
    }

    /// Copy bytes out of the buffer at `offset`.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        let mut done = 0;
        for (page, in_page, n) in self.segments(offset, out.len()) {
            page.read(in_page, &mut out[done..done + n]);
            done += n;
        }
    }

    /// The pages covering `offset..offset + len`, each with the byte range
    /// inside that page: the zero-copy path writes through these directly.
    pub fn segments(
        &self,
        offset: usize,
        len: usize,
    ) -> impl Iterator<Item = (&Page, usize, usize)> {
        self.check(offset, len);
        page_spans(offset, len).map(|(index, in_page, n)| (&self.pages[index].page, in_page, n))
    }

    /// Revoke every grant. Pages the backend still maps are returned (they
    /// must not be reused); an empty vector means everything was released.
    pub fn release<X: GrantTable>(self, xen: &mut X) -> Vec<StuckGrant<Page>> {
        let mut stuck = Vec::new();
        for granted in self.directory.into_iter().chain(self.pages) {
            if xen.revoke(granted.gref).is_err() {
                stuck.push(granted);
            }
        }
        stuck
    }
}
