//! Time for an application: what it reads the time with and waits on,
//! whatever runs it (the runtime under Xen, the simulator in a host test).
//!
//! An application that plays while it does other work writes what fits
//! without blocking ([`Playback::try_write`](crate::Playback::try_write),
//! [`Playback::write_ready`](crate::Playback::write_ready)), does its work,
//! and then waits for the next event with [`Clock::wait_until`]: a backend's
//! answer, a position event, a XenStore watch or the deadline, whichever
//! comes first.

/// The application's clock: the current time and waiting.
///
/// Under Xen the runtime implements it over Xen's PV clock and the event
/// channels (the CPU halts until an event or the deadline); the sndif
/// frontend implements it over its platform, so host tests run an
/// application on simulated time. Implemented for `&T`.
pub trait Clock {
    /// Nanoseconds since an arbitrary origin (Xen's system time: since the
    /// host booted); never goes back.
    fn now_ns(&self) -> u64;

    /// Wait until `deadline_ns` or the next event, whichever is first. May
    /// return early (an event came): check the time or the streams again.
    fn wait_until(&self, deadline_ns: u64);

    /// Wait until `deadline_ns` has passed.
    fn sleep_until(&self, deadline_ns: u64) {
        while self.now_ns() < deadline_ns {
            self.wait_until(deadline_ns);
        }
    }

    /// Wait `duration_ns` nanoseconds.
    fn sleep_ns(&self, duration_ns: u64) {
        self.sleep_until(self.now_ns().saturating_add(duration_ns));
    }

    /// Wait `milliseconds` milliseconds.
    fn sleep_ms(&self, milliseconds: u64) {
        self.sleep_ns(milliseconds.saturating_mul(1_000_000));
    }
}

impl<T: Clock + ?Sized> Clock for &T {
    fn now_ns(&self) -> u64 {
        (**self).now_ns()
    }

    fn wait_until(&self, deadline_ns: u64) {
        (**self).wait_until(deadline_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;
    use core::cell::Cell;

    /// A clock whose waits jump to the deadline in two steps.
    struct Stepping(Cell<u64>);

    impl Clock for Stepping {
        fn now_ns(&self) -> u64 {
            self.0.get()
        }
        fn wait_until(&self, deadline_ns: u64) {
            let now = self.0.get();
            self.0
                .set(now + deadline_ns.saturating_sub(now).div_ceil(2));
        }
    }

    #[test]
    fn sleep_waits_until_the_deadline_even_when_waits_return_early() {
        let clock = Stepping(Cell::new(1_000));
        clock.sleep_ms(3);
        assert!(clock.now_ns() >= 3_001_000);
        let by_reference = &clock;
        by_reference.sleep_ns(10);
        assert!(clock.now_ns() >= 3_001_010);
    }
}
