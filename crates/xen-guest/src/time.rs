//! Time: PV clock arithmetic and a one-shot timer queue.
//!
//! Implements the `vcpu_time_info` protocol of `xen.h` (system time is
//! `system_time + (((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul
//! >> 32)`, read under the odd/even `version` protocol) and the deadline
//! bookkeeping for `VCPUOP_set_singleshot_timer` (`vcpu.h`). The hypercall
//! and the `rdtsc` live in `arch`; the math and ordering live here.
#![forbid(unsafe_code)]

use alloc::collections::{BTreeMap, BTreeSet};

use super::barrier::rmb;
use super::Clock;

/// One consistent copy of the fields of `struct vcpu_time_info` that the
/// clock needs.
#[doc(alias = "vcpu_time_info")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PvClockSnapshot {
    /// `tsc_timestamp`: TSC at the last update.
    pub tsc_timestamp: u64,
    /// `system_time`: nanoseconds since boot at `tsc_timestamp`.
    pub system_time: u64,
    /// `tsc_to_system_mul`: 32.32 fixed-point nanoseconds per (shifted) tick.
    pub tsc_to_system_mul: u32,
    /// `tsc_shift`: shift applied to the TSC delta before multiplying
    /// (negative = right shift).
    pub tsc_shift: i8,
}

/// Scale a TSC delta to nanoseconds: shift, then a 64x32 multiply keeping
/// bits 32..96 of the product (the `pvclock_scale_delta` computation).
pub fn scale_delta(delta: u64, tsc_to_system_mul: u32, tsc_shift: i8) -> u64 {
    let shifted = if tsc_shift < 0 {
        delta
            .checked_shr(u32::from(tsc_shift.unsigned_abs()))
            .unwrap_or(0)
    } else {
        delta.checked_shl(tsc_shift as u32).unwrap_or(0)
    };
    let mul = u64::from(tsc_to_system_mul);
    let low = (shifted & 0xffff_ffff) * mul; // < 2^64
    let high = (shifted >> 32) * mul; // < 2^64
                                      // (high << 32 + low) >> 32, truncated to 64 bits like the C version.
    high.wrapping_add(low >> 32)
}

impl PvClockSnapshot {
    /// Nanoseconds since boot at TSC value `tsc`. A TSC behind
    /// `tsc_timestamp` (another vCPU's stale read) counts as no time passed.
    pub fn ns_at(&self, tsc: u64) -> u64 {
        let delta = tsc.saturating_sub(self.tsc_timestamp);
        self.system_time
            .wrapping_add(scale_delta(delta, self.tsc_to_system_mul, self.tsc_shift))
    }
}

/// Where the PV clock fields live (the real `vcpu_time_info`, or a fake).
pub trait PvClockSource {
    /// Load `version` (odd while Xen is updating the fields).
    fn version(&self) -> u32;
    /// Load the fields (each one plain load; consistency comes from the
    /// version protocol around this call).
    fn fields(&self) -> PvClockSnapshot;
    /// Read the CPU's time-stamp counter.
    fn rdtsc(&self) -> u64;
}

/// Read the clock: nanoseconds since boot, retrying while the version is
/// odd or changed during the read.
pub fn read_clock_ns<S: PvClockSource + ?Sized>(source: &S) -> u64 {
    loop {
        let before = source.version();
        // Read the version before the fields.
        rmb();
        let fields = source.fields();
        let tsc = source.rdtsc();
        // Read the fields before re-reading the version.
        rmb();
        let after = source.version();
        if before & 1 == 0 && before == after {
            return fields.ns_at(tsc);
        }
    }
}

/// A monotonic wrapper: never returns less than it returned before (the PV
/// clock can step back slightly across vCPU updates).
#[derive(Debug, Clone, Copy, Default)]
pub struct MonotonicClock {
    last: u64,
}

impl MonotonicClock {
    /// A clock that has returned nothing yet.
    pub const fn new() -> Self {
        Self { last: 0 }
    }

    /// Nanoseconds since boot, non-decreasing.
    pub fn now_ns<S: PvClockSource + ?Sized>(&mut self, source: &S) -> u64 {
        let now = read_clock_ns(source);
        if now > self.last {
            self.last = now;
        }
        self.last
    }
}

/// Identifies one scheduled timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(u64);

/// Deadlines ordered earliest first (ties in scheduling order); the head is
/// what the one-shot timer is programmed with.
#[derive(Debug, Clone, Default)]
pub struct TimerQueue {
    by_deadline: BTreeSet<(u64, TimerId)>,
    deadline_of: BTreeMap<TimerId, u64>,
    next_id: u64,
}

impl TimerQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        Self {
            by_deadline: BTreeSet::new(),
            deadline_of: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// Schedule a timer at `deadline_ns`.
    pub fn schedule(&mut self, deadline_ns: u64) -> TimerId {
        let id = TimerId(self.next_id);
        self.next_id += 1;
        self.by_deadline.insert((deadline_ns, id));
        self.deadline_of.insert(id, deadline_ns);
        id
    }

    /// Cancel a timer; false if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        match self.deadline_of.remove(&id) {
            Some(deadline) => self.by_deadline.remove(&(deadline, id)),
            None => false,
        }
    }

    /// The earliest deadline (what to program the one-shot timer with).
    pub fn next_deadline(&self) -> Option<u64> {
        self.by_deadline.first().map(|(deadline, _)| *deadline)
    }

    /// Remove and return the earliest timer whose deadline is at or before
    /// `now_ns`.
    pub fn pop_expired(&mut self, now_ns: u64) -> Option<TimerId> {
        let (deadline, id) = *self.by_deadline.first()?;
        if deadline > now_ns {
            return None;
        }
        self.by_deadline.remove(&(deadline, id));
        self.deadline_of.remove(&id);
        Some(id)
    }

    /// Whether `id` is still scheduled.
    pub fn is_scheduled(&self, id: TimerId) -> bool {
        self.deadline_of.contains_key(&id)
    }

    /// Number of scheduled timers.
    pub fn len(&self) -> usize {
        self.deadline_of.len()
    }

    /// Whether no timer is scheduled.
    pub fn is_empty(&self) -> bool {
        self.deadline_of.is_empty()
    }
}

/// Sleep until `deadline_ns`: wait (the CPU halts; each event wakes it)
/// until the clock has passed the deadline.
pub fn sleep_until<C: Clock + ?Sized>(clock: &mut C, deadline_ns: u64) {
    while clock.now_ns() < deadline_ns {
        clock.wait_until(deadline_ns);
    }
}

/// Sleep for `duration_ns` from now.
pub fn sleep_ns<C: Clock + ?Sized>(clock: &mut C, duration_ns: u64) {
    let deadline = clock.now_ns().saturating_add(duration_ns);
    sleep_until(clock, deadline);
}
