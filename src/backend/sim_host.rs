//! Hosting the backend engine in the simulator: a [`GrantMapper`] over [`SimCore`].
//!
//! Host-only glue for `crate::sim`: a simulated dom0 backend maps the
//! frontend's grants with `GNTTABOP_map_grant_ref` semantics
//! ([`SimCore::map_grant`]), so the simulated grant table sees the backend's
//! mappings (`GTF_reading`/`GTF_writing`) exactly as Xen would. The engine
//! drops pages when it closes a stream; a dropped page cannot reach the core
//! (a simulator peer only borrows it during a step), so its handle is queued
//! and [`SimUnmapQueue::flush`] unmaps it at the end of the step.
#![forbid(unsafe_code)]

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::buffer::GrantMapper;
use crate::sim::{SimCore, SimPage};
use crate::xen::{DomId, Gfn, GrantRef, SharedPage, XenError};

/// Handles of pages the engine dropped, waiting to be unmapped.
#[derive(Debug, Clone, Default)]
pub struct SimUnmapQueue(Rc<RefCell<Vec<u32>>>);

impl SimUnmapQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Unmap every queued handle. Returns how many were unmapped.
    pub fn flush(&self, core: &mut SimCore) -> usize {
        let handles: Vec<u32> = core::mem::take(&mut *self.0.borrow_mut());
        for handle in &handles {
            if let Err(error) = core.unmap_grant(*handle) {
                log::error!("sim backend: unmap of handle {handle} failed: {error:?}");
            }
        }
        handles.len()
    }

    /// Handles waiting.
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
}

/// A frontend page mapped by the simulated backend; queued for unmapping on drop.
#[derive(Debug)]
pub struct SimMappedPage {
    page: SimPage,
    handle: u32,
    queue: SimUnmapQueue,
}

impl SharedPage for SimMappedPage {
    fn gfn(&self) -> Gfn {
        self.page.gfn()
    }
    fn load_u32(&self, offset: usize) -> u32 {
        self.page.load_u32(offset)
    }
    fn store_u32(&self, offset: usize, value: u32) {
        self.page.store_u32(offset, value);
    }
    fn read(&self, offset: usize, out: &mut [u8]) {
        self.page.read(offset, out);
    }
    fn write(&self, offset: usize, data: &[u8]) {
        self.page.write(offset, data);
    }
}

impl Drop for SimMappedPage {
    fn drop(&mut self) {
        self.queue.0.borrow_mut().push(self.handle);
    }
}

/// Maps `frontend`'s grants as `backend` for the length of one simulator step.
pub struct SimCoreMapper<'core> {
    core: &'core mut SimCore,
    backend: DomId,
    frontend: DomId,
    queue: SimUnmapQueue,
}

impl<'core> SimCoreMapper<'core> {
    /// A mapper for `backend` mapping `frontend`'s grants; dropped pages go to `queue`.
    pub fn new(
        core: &'core mut SimCore,
        backend: DomId,
        frontend: DomId,
        queue: &SimUnmapQueue,
    ) -> Self {
        Self {
            core,
            backend,
            frontend,
            queue: queue.clone(),
        }
    }

    /// The core, for the rest of the step (event channels, XenStore).
    pub fn core(&mut self) -> &mut SimCore {
        self.core
    }
}

impl GrantMapper for SimCoreMapper<'_> {
    type Page = SimMappedPage;
    fn map(&mut self, gref: GrantRef, writable: bool) -> Result<SimMappedPage, XenError> {
        let mapping = self
            .core
            .map_grant(self.backend, self.frontend, gref, writable)?;
        Ok(SimMappedPage {
            page: mapping.page,
            handle: mapping.handle,
            queue: self.queue.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimXen;

    #[test]
    fn engine_mappings_show_in_the_simulated_grant_table_and_are_unmapped() {
        let xen = SimXen::new();
        let mut guest = xen.add_guest(1);
        let page = xen.with_core(|core| core.alloc_page(1)).unwrap();
        page.store_u32(8, 0x1234_5678);
        let granted = guest
            .grant_page(page, 0, false)
            .map_err(|(_, e)| e)
            .unwrap();
        let gref = granted.gref();
        let queue = SimUnmapQueue::new();
        let mapped = xen.with_core(|core| {
            let mut mapper = SimCoreMapper::new(core, 0, 1, &queue);
            mapper.map(gref, true)
        });
        let mapped = mapped.unwrap();
        assert_eq!(mapped.load_u32(8), 0x1234_5678);
        assert_eq!(xen.with_core(|core| core.mapped_refs(1)), alloc::vec![gref]);
        drop(mapped);
        assert_eq!(queue.len(), 1);
        assert_eq!(xen.with_core(|core| queue.flush(core)), 1);
        assert!(xen.with_core(|core| core.mapped_refs(1)).is_empty());
        // A gref that was never granted fails to map.
        let refused = xen.with_core(|core| SimCoreMapper::new(core, 0, 1, &queue).map(999, true));
        assert!(refused.is_err());
    }
}
