//! The shared-info page: mapped once with `XENMEM_add_to_physmap`
//! (`XENMAPSPACE_shared_info`, `xen.h` `struct shared_info`), then read as
//! the two-level event bitmaps ([`EventBitmaps`]) and vCPU 0's PV clock
//! ([`PvClockSource`]).
//!
//! Every access is an atomic operation on the real words: Xen sets bits
//! concurrently (from another physical CPU), so the selector is taken with
//! `xchg` and pending bits are cleared with `lock and`.

use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

use super::{cpu, hypercall};
use xen_abi::memory::XENMAPSPACE_shared_info;
use xen_abi::shared_info::{SharedInfo, VcpuInfo, VcpuTimeInfo};
use xen_guest::evtchn::{EventBitmaps, WORDS};
use xen_guest::time::{PvClockSnapshot, PvClockSource};
use xen_guest::{Gfn, XenError, PAGE_SIZE};

const VCPU0: usize = offset_of!(SharedInfo, vcpu_info);
const UPCALL_PENDING: usize = VCPU0 + offset_of!(VcpuInfo, evtchn_upcall_pending);
const PENDING_SELECTOR: usize = VCPU0 + offset_of!(VcpuInfo, evtchn_pending_sel);
const TIME: usize = VCPU0 + offset_of!(VcpuInfo, time);
const TIME_VERSION: usize = TIME + offset_of!(VcpuTimeInfo, version);
const TIME_TSC_TIMESTAMP: usize = TIME + offset_of!(VcpuTimeInfo, tsc_timestamp);
const TIME_SYSTEM_TIME: usize = TIME + offset_of!(VcpuTimeInfo, system_time);
const TIME_MUL: usize = TIME + offset_of!(VcpuTimeInfo, tsc_to_system_mul);
const TIME_SHIFT: usize = TIME + offset_of!(VcpuTimeInfo, tsc_shift);
const EVTCHN_PENDING: usize = offset_of!(SharedInfo, evtchn_pending);
const EVTCHN_MASK: usize = offset_of!(SharedInfo, evtchn_mask);
const WC_VERSION: usize = offset_of!(SharedInfo, wc_version);
const WC_SEC: usize = offset_of!(SharedInfo, wc_sec);
const WC_NSEC: usize = offset_of!(SharedInfo, wc_nsec);
const WC_SEC_HI: usize = offset_of!(SharedInfo, wc_sec_hi);

/// The mapped shared-info page (vCPU 0's view). Copyable: it is only an
/// address, and the page stays mapped for the life of the domain.
#[derive(Debug, Clone, Copy)]
pub struct SharedInfoPage {
    address: usize,
}

impl SharedInfoPage {
    /// Map the shared-info page at frame `gfn`.
    ///
    /// # Safety
    /// `gfn` must be a free guest frame (no RAM the guest uses, not the
    /// image, heap or a special page) inside the identity map, used for
    /// nothing else afterwards. Call once.
    pub unsafe fn map(gfn: Gfn) -> Result<Self, XenError> {
        // SAFETY: the caller vouches that the frame is free and ours alone.
        unsafe { hypercall::add_to_physmap(XENMAPSPACE_shared_info, 0, gfn) }?;
        Ok(Self {
            address: (gfn as usize) * PAGE_SIZE,
        })
    }

    /// Guest frame number of the page.
    pub fn gfn(&self) -> Gfn {
        (self.address / PAGE_SIZE) as Gfn
    }

    fn u64_at(&self, offset: usize) -> &AtomicU64 {
        debug_assert!(offset % 8 == 0 && offset + 8 <= PAGE_SIZE);
        // SAFETY: the page is mapped for the life of the domain (`map`);
        // every offset used is an aligned field of `struct shared_info`
        // (constants above), and all accesses to it are atomic.
        unsafe { AtomicU64::from_ptr((self.address + offset) as *mut u64) }
    }

    fn u32_at(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset % 4 == 0 && offset + 4 <= PAGE_SIZE);
        // SAFETY: as in `u64_at`.
        unsafe { AtomicU32::from_ptr((self.address + offset) as *mut u32) }
    }

    fn u8_at(&self, offset: usize) -> &AtomicU8 {
        debug_assert!(offset < PAGE_SIZE);
        // SAFETY: as in `u64_at`.
        unsafe { AtomicU8::from_ptr((self.address + offset) as *mut u8) }
    }

    /// `vcpu_info[0].evtchn_upcall_pending`.
    pub fn upcall_pending(&self) -> bool {
        self.u8_at(UPCALL_PENDING).load(Ordering::Acquire) != 0
    }

    /// The wall clock at Xen system time 0, in nanoseconds since the Unix
    /// epoch (`wc_sec_hi:wc_sec`, `wc_nsec`, read under `wc_version` like
    /// the PV clock). `None` while Xen has not set it (all zero).
    pub fn wallclock_base_ns(&self) -> Option<u64> {
        loop {
            let before = self.u32_at(WC_VERSION).load(Ordering::Acquire);
            let seconds_low = self.u32_at(WC_SEC).load(Ordering::Relaxed);
            let nanoseconds = self.u32_at(WC_NSEC).load(Ordering::Relaxed);
            let seconds_high = self.u32_at(WC_SEC_HI).load(Ordering::Relaxed);
            let after = self.u32_at(WC_VERSION).load(Ordering::Acquire);
            if before & 1 == 0 && before == after {
                let seconds = (u64::from(seconds_high) << 32) | u64::from(seconds_low);
                if seconds == 0 && nanoseconds == 0 {
                    return None;
                }
                return Some(
                    seconds
                        .saturating_mul(1_000_000_000)
                        .saturating_add(u64::from(nanoseconds)),
                );
            }
        }
    }

    /// Set the mask bit of `port` (`lock or` on `evtchn_mask`).
    pub fn mask(&self, port: u32) {
        let word = (port / 64) as usize;
        if word < WORDS {
            self.u64_at(EVTCHN_MASK + word * 8)
                .fetch_or(1 << (port % 64), Ordering::SeqCst);
        }
    }
}

impl EventBitmaps for SharedInfoPage {
    fn clear_upcall_pending(&self) {
        self.u8_at(UPCALL_PENDING).store(0, Ordering::SeqCst);
    }

    fn take_pending_selector(&self) -> u64 {
        self.u64_at(PENDING_SELECTOR).swap(0, Ordering::SeqCst)
    }

    fn pending_word(&self, word: usize) -> u64 {
        assert!(word < WORDS, "event word {word} out of range");
        self.u64_at(EVTCHN_PENDING + word * 8)
            .load(Ordering::Acquire)
    }

    fn mask_word(&self, word: usize) -> u64 {
        assert!(word < WORDS, "event word {word} out of range");
        self.u64_at(EVTCHN_MASK + word * 8).load(Ordering::Acquire)
    }

    fn clear_pending_bits(&self, word: usize, bits: u64) {
        assert!(word < WORDS, "event word {word} out of range");
        self.u64_at(EVTCHN_PENDING + word * 8)
            .fetch_and(!bits, Ordering::SeqCst);
    }
}

impl PvClockSource for SharedInfoPage {
    fn version(&self) -> u32 {
        self.u32_at(TIME_VERSION).load(Ordering::Acquire)
    }

    fn fields(&self) -> PvClockSnapshot {
        let mul_and_shift = self.u64_at(TIME_MUL).load(Ordering::Relaxed);
        const _: () = assert!(TIME_SHIFT == TIME_MUL + 4);
        PvClockSnapshot {
            tsc_timestamp: self.u64_at(TIME_TSC_TIMESTAMP).load(Ordering::Relaxed),
            system_time: self.u64_at(TIME_SYSTEM_TIME).load(Ordering::Relaxed),
            tsc_to_system_mul: mul_and_shift as u32,
            tsc_shift: (mul_and_shift >> 32) as u8 as i8,
        }
    }

    fn rdtsc(&self) -> u64 {
        cpu::read_tsc()
    }
}
