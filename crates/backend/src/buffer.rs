//! The backend's side of the shared PCM buffer: the page-directory walk at
//! OPEN, the mapped pages, and bounds-checked access.
//!
//! `io/sndif.h`, "Shared page for XENSND_OP_OPEN": the buffer is
//! `ceil(buffer_sz / 4096)` pages, listed in a chain of directory pages
//! `{ gref_dir_next_page, gref[1023] }` whose first gref is
//! `XENSND_OP_OPEN.gref_directory`; the layout is the one the frontend
//! builds ([`xensnd_sndif::directory`]). The chain is untrusted: we walk at
//! most as many directory pages as the page count needs (so a loop in the
//! chain cannot keep us going), copy each gref out before using it, and
//! ignore anything after the last gref we need.
//!
//! A [`MappedBuffer`] is deliberately not the frontend's
//! [`xensnd_sndif::buffer::GrantedBuffer`]: that one owns granted pages
//! and trusts its own offsets; this one owns mappings of a peer's pages and
//! checks every offset the peer sends (see the frontend module's docs).
#![forbid(unsafe_code)]

use alloc::vec::Vec;

use super::RequestError;
use xen_abi::errno::XEN_ENOMEM;
use xen_guest::{GrantRef, SharedPage, XenError};
use xensnd_sndif::directory::{load_directory_page, page_spans, DirectoryLayout};

/// Maps pages a frontend granted to us. The returned page is unmapped when
/// it is dropped.
pub trait GrantMapper {
    /// A mapped page.
    type Page: SharedPage;
    /// Map the page behind `gref`; `writable` asks for a read-write mapping.
    fn map(&mut self, gref: GrantRef, writable: bool) -> Result<Self::Page, XenError>;

    /// Map every page of `grefs`, in order: all or nothing (on an error
    /// nothing stays mapped). A host that can map many grants in one call
    /// (libxengnttab's `xengnttab_map_domain_grant_refs`: one `mmap`, one
    /// hypercall batch, one unmap) overrides this; a buffer of a thousand
    /// pages then costs one round trip instead of a thousand.
    fn map_many(
        &mut self,
        grefs: &[GrantRef],
        writable: bool,
    ) -> Result<Vec<Self::Page>, XenError> {
        let mut pages = Vec::new();
        pages
            .try_reserve_exact(grefs.len())
            .map_err(|_| XenError::Hypercall(-XEN_ENOMEM))?;
        for &gref in grefs {
            pages.push(self.map(gref, writable)?);
        }
        Ok(pages)
    }
}

impl<M: GrantMapper + ?Sized> GrantMapper for &mut M {
    type Page = M::Page;
    fn map(&mut self, gref: GrantRef, writable: bool) -> Result<Self::Page, XenError> {
        (**self).map(gref, writable)
    }
    fn map_many(
        &mut self,
        grefs: &[GrantRef],
        writable: bool,
    ) -> Result<Vec<Self::Page>, XenError> {
        (**self).map_many(grefs, writable)
    }
}

/// The largest buffer the backend maps unless configured otherwise (16 MiB).
pub const DEFAULT_MAX_BUFFER_BYTES: u32 = 16 << 20;

/// A shared buffer of `size` bytes, mapped from the frontend's grants.
#[derive(Debug)]
pub struct MappedBuffer<P: SharedPage> {
    pages: Vec<P>,
    size: u32,
}

impl<P: SharedPage> MappedBuffer<P> {
    /// Walk the page directory starting at `directory` and map every buffer
    /// page (writable: capture and GET_VOLUME write into it). The directory
    /// pages are only read; they are mapped read-write when
    /// `directory_writable` (libxenbe's way, which needs the frontend to
    /// grant them read-write, as Linux's does). `size` must already be
    /// validated (non-zero, capped).
    pub fn map<M: GrantMapper<Page = P>>(
        mapper: &mut M,
        directory: GrantRef,
        size: u32,
        directory_writable: bool,
    ) -> Result<Self, RequestError> {
        let layout = DirectoryLayout::for_bytes(size as usize);
        let page_count = layout.data_pages();
        if page_count == 0 {
            return Err(RequestError::Invalid("empty buffer"));
        }
        // The directory walk collects every gref first (copied out of the
        // shared pages), then the buffer pages are mapped in one batch.
        let mut grefs: Vec<GrantRef> = Vec::new();
        grefs
            .try_reserve_exact(page_count)
            .map_err(|_| RequestError::NoMemory)?;
        let mut next_directory = directory;
        // At most this many directory pages can be needed; the loop is
        // bounded by it whatever the chain says.
        let directory_pages = layout.directory_pages();
        let mut visited: Vec<GrantRef> = Vec::new();
        visited
            .try_reserve_exact(directory_pages)
            .map_err(|_| RequestError::NoMemory)?;
        for directory_index in 0..directory_pages {
            if next_directory == 0 {
                return Err(RequestError::Invalid("page directory chain ends early"));
            }
            if visited.contains(&next_directory) {
                return Err(RequestError::Invalid("page directory chain loops"));
            }
            visited.push(next_directory);
            let directory_page =
                mapper
                    .map(next_directory, directory_writable)
                    .map_err(|error| {
                        log::debug!(
                            "directory page {directory_index} gref {next_directory}: map failed: {error:?}"
                        );
                        RequestError::Fault
                    })?;
            // Copy the grefs out of the shared page once, then use the copy
            // (within the capacity reserved above).
            let start = grefs.len();
            grefs.resize(start + layout.listed_by(directory_index).len(), 0);
            let chained = load_directory_page(&directory_page, &mut grefs[start..]);
            drop(directory_page);
            next_directory = chained;
        }
        let pages = mapper.map_many(&grefs, true).map_err(|error| {
            log::debug!(
                "{} buffer pages (grefs {}..): map failed: {error:?}",
                grefs.len(),
                grefs.first().copied().unwrap_or(0)
            );
            RequestError::Fault
        })?;
        Ok(Self { pages, size })
    }

    /// Build a buffer from pages already mapped (tests, the simulator).
    pub fn from_pages(pages: Vec<P>, size: u32) -> Result<Self, RequestError> {
        if size == 0 || pages.len() != DirectoryLayout::for_bytes(size as usize).data_pages() {
            return Err(RequestError::Invalid("page count does not match size"));
        }
        Ok(Self { pages, size })
    }

    /// Size in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Number of pages mapped.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Check that `[offset, offset + length)` lies within the buffer
    /// (overflow-safe) and return it as a `usize` range start.
    pub fn check_range(&self, offset: u32, length: u32) -> Result<usize, RequestError> {
        match offset.checked_add(length) {
            Some(end) if end <= self.size => Ok(offset as usize),
            _ => Err(RequestError::Invalid("offset + length outside the buffer")),
        }
    }

    /// Copy `out.len()` bytes at `offset` out of the buffer.
    pub fn read(&self, offset: u32, out: &mut [u8]) -> Result<(), RequestError> {
        let length = u32::try_from(out.len()).map_err(|_| RequestError::Invalid("too long"))?;
        let start = self.check_range(offset, length)?;
        let mut done = 0;
        for (index, in_page, n) in page_spans(start, out.len()) {
            self.pages[index].read(in_page, &mut out[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Copy `data` into the buffer at `offset`.
    pub fn write(&self, offset: u32, data: &[u8]) -> Result<(), RequestError> {
        let length = u32::try_from(data.len()).map_err(|_| RequestError::Invalid("too long"))?;
        let start = self.check_range(offset, length)?;
        let mut done = 0;
        for (index, in_page, n) in page_spans(start, data.len()) {
            self.pages[index].write(in_page, &data[done..done + n]);
            done += n;
        }
        Ok(())
    }
}
