//! Simulated guest pages: 4 KiB byte arrays shared by handle.
#![forbid(unsafe_code)]

use std::boxed::Box;
use std::cell::RefCell;
use std::rc::Rc;
use std::vec::Vec;

use xen_guest::{Gfn, SharedPage, PAGE_SIZE};

/// A simulated page. Clones share the same bytes (like two domains mapping
/// one frame).
#[derive(Clone)]
pub struct SimPage {
    gfn: Gfn,
    bytes: Rc<RefCell<Box<[u8; PAGE_SIZE]>>>,
}

impl core::fmt::Debug for SimPage {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("SimPage")
            .field("gfn", &self.gfn)
            .finish()
    }
}

impl SimPage {
    /// A zeroed page with frame number `gfn`.
    pub fn new(gfn: Gfn) -> Self {
        Self {
            gfn,
            bytes: Rc::new(RefCell::new(Box::new([0; PAGE_SIZE]))),
        }
    }

    /// A copy of the whole page.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes.borrow().to_vec()
    }

    /// Whether two handles share the same bytes.
    pub fn same_page(&self, other: &SimPage) -> bool {
        Rc::ptr_eq(&self.bytes, &other.bytes)
    }

    #[cold]
    #[inline(never)]
    fn out_of_range(offset: usize, length: usize) -> ! {
        panic!("SimPage access out of range: offset {offset} length {length}")
    }
}

impl SharedPage for SimPage {
    fn gfn(&self) -> Gfn {
        self.gfn
    }

    // One load or store, as on a real page (no slice copy): the data
    // path's cost in the simulator stays close to the guest's.
    #[inline]
    fn load_u32(&self, offset: usize) -> u32 {
        assert!(
            offset % 4 == 0 && offset < PAGE_SIZE,
            "bad u32 load at {offset}"
        );
        let bytes = self.bytes.borrow();
        u32::from_le_bytes([
            bytes[offset],
            bytes[offset + 1],
            bytes[offset + 2],
            bytes[offset + 3],
        ])
    }

    #[inline]
    fn store_u32(&self, offset: usize, value: u32) {
        assert!(
            offset % 4 == 0 && offset < PAGE_SIZE,
            "bad u32 store at {offset}"
        );
        let mut bytes = self.bytes.borrow_mut();
        bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }

    // A range check and one copy, as the guest's pages do.
    #[inline]
    fn read(&self, offset: usize, out: &mut [u8]) {
        let bytes = self.bytes.borrow();
        match offset
            .checked_add(out.len())
            .and_then(|end| bytes.get(offset..end))
        {
            Some(range) => out.copy_from_slice(range),
            None => Self::out_of_range(offset, out.len()),
        }
    }

    #[inline]
    fn write(&self, offset: usize, data: &[u8]) {
        let mut bytes = self.bytes.borrow_mut();
        match offset
            .checked_add(data.len())
            .and_then(|end| bytes.get_mut(offset..end))
        {
            Some(range) => range.copy_from_slice(data),
            None => Self::out_of_range(offset, data.len()),
        }
    }

    /// Direct access (no staging copy): the zero-copy path writes the
    /// shared bytes themselves.
    #[inline]
    fn with_bytes_mut<R>(&self, offset: usize, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let mut bytes = self.bytes.borrow_mut();
        match offset
            .checked_add(len)
            .and_then(|end| bytes.get_mut(offset..end))
        {
            Some(range) => f(range),
            None => Self::out_of_range(offset, len),
        }
    }
}
