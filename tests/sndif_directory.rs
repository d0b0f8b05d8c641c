//! The one page-directory layout both ends use: the frontend's
//! `GrantedBuffer` builds the chain, the backend's `MappedBuffer` walks it,
//! for sizes around every page and directory-page boundary; and the layout
//! and page arithmetic themselves over whole ranges.

use std::cell::RefCell;
use std::rc::Rc;

use xen_abi::sndif::XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE as PER_PAGE;
use xen_guest::{GrantRef, XenError, PAGE_SIZE};
use xensnd_backend::buffer::{GrantMapper, MappedBuffer};
use xensnd_sim::{GuestConfig, SimPage, SimXen};
use xensnd_sndif::buffer::GrantedBuffer;
use xensnd_sndif::directory::{page_spans, DirectoryLayout};

const GUEST: u16 = 3;

/// Maps the guest's grants as dom0 through the simulated grant table,
/// remembering every handle to unmap at the end.
struct Mapper {
    sim: SimXen,
    handles: Rc<RefCell<Vec<u32>>>,
}

impl GrantMapper for Mapper {
    type Page = SimPage;
    fn map(&mut self, gref: GrantRef, writable: bool) -> Result<SimPage, XenError> {
        let mapping = self.sim.map_grant(0, GUEST, gref, writable)?;
        self.handles.borrow_mut().push(mapping.handle);
        Ok(mapping.page)
    }
}

#[test]
fn the_layout_lists_every_data_page_once_in_order() {
    for data_pages in 0..=3 * PER_PAGE + 2 {
        let layout = DirectoryLayout::for_bytes(data_pages * PAGE_SIZE);
        assert_eq!(layout.data_pages(), data_pages);
        let directories = layout.directory_pages();
        assert_eq!(directories, data_pages.div_ceil(PER_PAGE).max(1));
        let mut next = 0;
        for index in 0..directories {
            let listed = layout.listed_by(index);
            assert_eq!(listed.start, next, "{data_pages} pages, directory {index}");
            assert!(listed.len() <= PER_PAGE);
            // Only the last directory page may be partly used.
            if index + 1 < directories {
                assert_eq!(listed.len(), PER_PAGE);
            }
            next = listed.end;
        }
        assert_eq!(next, data_pages);
        assert!(layout.listed_by(directories).is_empty());
        // A size one byte short of whole pages needs the same pages.
        if data_pages > 0 {
            let short = DirectoryLayout::for_bytes(data_pages * PAGE_SIZE - 1);
            assert_eq!(short, layout);
        }
    }
}

#[test]
fn page_spans_cover_a_range_exactly_within_pages() {
    let points = [
        0,
        1,
        17,
        PAGE_SIZE - 1,
        PAGE_SIZE,
        PAGE_SIZE + 1,
        3 * PAGE_SIZE - 5,
    ];
    for offset in points {
        for len in points.iter().map(|p| p + 3 * PAGE_SIZE / 2).chain(points) {
            let mut at = offset;
            for (page, in_page, n) in page_spans(offset, len) {
                assert_eq!(page * PAGE_SIZE + in_page, at, "{offset}+{len}");
                assert!(n > 0 && in_page + n <= PAGE_SIZE);
                at += n;
            }
            assert_eq!(at, offset + len);
        }
    }
}

#[test]
fn the_backend_walks_what_the_frontend_builds() {
    let sim = SimXen::new();
    let mut guest = sim.add_guest_with(
        GUEST,
        GuestConfig {
            grant_frames: 8,
            ..GuestConfig::default()
        },
    );
    let sizes = [
        1,
        PAGE_SIZE - 1,
        PAGE_SIZE,
        PAGE_SIZE + 1,
        PER_PAGE * PAGE_SIZE,
        PER_PAGE * PAGE_SIZE + 1,
        2 * PER_PAGE * PAGE_SIZE + 5,
        2100 * PAGE_SIZE - 100,
    ];
    for size in sizes {
        let granted = GrantedBuffer::new(&mut guest, 0, size).unwrap();
        let layout = DirectoryLayout::for_bytes(size);
        assert_eq!(granted.data_pages(), layout.data_pages());
        assert_eq!(granted.directory_page_count(), layout.directory_pages());
        let pattern: Vec<u8> = (0..size).map(|i| (i * 29 % 251) as u8).collect();
        granted.write(0, &pattern);

        let handles = Rc::new(RefCell::new(Vec::new()));
        let mut mapper = Mapper {
            sim: sim.clone(),
            handles: handles.clone(),
        };
        let mapped =
            MappedBuffer::map(&mut mapper, granted.directory_gref(), size as u32, true).unwrap();
        assert_eq!(mapped.page_count(), layout.data_pages());
        let mut seen = vec![0u8; size];
        mapped.read(0, &mut seen).unwrap();
        assert!(seen == pattern, "{size} bytes: frontend to backend");

        // And the other way, across page boundaries.
        let back: Vec<u8> = pattern.iter().map(|b| !b).collect();
        mapped.write(0, &back).unwrap();
        let mut read = vec![0u8; size];
        granted.read(0, &mut read);
        assert!(read == back, "{size} bytes: backend to frontend");

        drop(mapped);
        for handle in handles.borrow_mut().drain(..) {
            sim.unmap_grant(handle).unwrap();
        }
        assert!(granted.release(&mut guest).is_empty());
    }
    assert!(sim.granted_refs(GUEST).is_empty());
}
