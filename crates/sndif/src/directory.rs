//! The page directory of a shared PCM buffer and the page arithmetic over
//! it, as both ends use them (`io/sndif.h`, "Shared page for
//! XENSND_OP_OPEN", `struct xensnd_page_directory`).
//!
//! A buffer of `buffer_sz` bytes is `ceil(buffer_sz / 4096)` data pages. Their
//! grant references are listed in a chain of directory pages, each
//! `{ gref_dir_next_page, gref[1023] }`: the next directory page's reference
//! (0 at the end) and up to 1023 data-page references, in buffer order. The
//! first directory page's reference is `XENSND_OP_OPEN.gref_directory`.
//!
//! The frontend builds the chain ([`crate::buffer::GrantedBuffer`],
//! with [`store_directory_page`]) and the backend walks it
//! (`xensnd_backend::buffer::MappedBuffer`, with [`load_directory_page`]):
//! one [`DirectoryLayout`] says how many pages of each there are and which
//! data pages each directory page lists, so both ends agree by
//! construction. [`page_spans`] splits a byte range of the buffer into its
//! per-page pieces for both.
#![forbid(unsafe_code)]

use core::ops::Range;

use xen_abi::sndif::{XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE, XENSND_PAGE_DIRECTORY_GREF_OFFSET};
use xen_guest::{GrantRef, SharedPage, PAGE_SIZE};

/// How a buffer of some size is laid out in data and directory pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirectoryLayout {
    data_pages: usize,
}

impl DirectoryLayout {
    /// The layout of a buffer of `bytes` bytes (`buffer_sz`).
    pub const fn for_bytes(bytes: usize) -> Self {
        Self {
            data_pages: bytes.div_ceil(PAGE_SIZE),
        }
    }

    /// Data pages: `ceil(bytes / 4096)`.
    pub const fn data_pages(&self) -> usize {
        self.data_pages
    }

    /// Directory pages: enough for every data page's reference, and at
    /// least one (an empty chain has nothing for `gref_directory` to name).
    pub const fn directory_pages(&self) -> usize {
        let pages = self
            .data_pages
            .div_ceil(XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE);
        if pages == 0 {
            1
        } else {
            pages
        }
    }

    /// The data pages directory page `index` lists (empty past the end).
    pub fn listed_by(&self, index: usize) -> Range<usize> {
        let start = index
            .saturating_mul(XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE)
            .min(self.data_pages);
        let end = start
            .saturating_add(XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE)
            .min(self.data_pages);
        start..end
    }
}

/// Fill directory page `page`: `next` (the next directory page, 0 for the
/// last) and `grefs` (at most 1023) from `gref[0]` on.
pub fn store_directory_page<P: SharedPage + ?Sized>(page: &P, next: GrantRef, grefs: &[GrantRef]) {
    assert!(grefs.len() <= XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE);
    page.store_u32(0, next);
    for (i, gref) in grefs.iter().enumerate() {
        page.store_u32(XENSND_PAGE_DIRECTORY_GREF_OFFSET + 4 * i, *gref);
    }
}

/// Read directory page `page` (another domain's, untrusted): copy its
/// first `grefs.len()` (at most 1023) references into `grefs` in one read,
/// then return `gref_dir_next_page`. Each value is read once; nothing after
/// the references asked for is looked at.
pub fn load_directory_page<P: SharedPage + ?Sized>(page: &P, grefs: &mut [GrantRef]) -> GrantRef {
    assert!(grefs.len() <= XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE);
    let mut raw = [0u8; PAGE_SIZE - XENSND_PAGE_DIRECTORY_GREF_OFFSET];
    let raw = &mut raw[..grefs.len() * 4];
    page.read(XENSND_PAGE_DIRECTORY_GREF_OFFSET, raw);
    for (gref, bytes) in grefs.iter_mut().zip(raw.chunks_exact(4)) {
        *gref = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    page.load_u32(0)
}

/// The per-page pieces of the byte range `offset..offset + len` of a
/// buffer: `(page index, offset in that page, length)`, in order. The
/// caller checks the range against the buffer first.
pub fn page_spans(offset: usize, len: usize) -> PageSpans {
    PageSpans {
        at: offset,
        end: offset.saturating_add(len),
    }
}

/// The iterator [`page_spans`] returns.
#[derive(Debug, Clone)]
pub struct PageSpans {
    at: usize,
    end: usize,
}

impl Iterator for PageSpans {
    type Item = (usize, usize, usize);

    fn next(&mut self) -> Option<(usize, usize, usize)> {
        if self.at >= self.end {
            return None;
        }
        let in_page = self.at % PAGE_SIZE;
        let n = (PAGE_SIZE - in_page).min(self.end - self.at);
        let span = (self.at / PAGE_SIZE, in_page, n);
        self.at += n;
        Some(span)
    }
}
