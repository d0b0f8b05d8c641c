//! Per-stream log rate limiting: the first few lines of an interval, then a
//! count.
//!
//! A frontend decides how many requests it sends, and each failed one is
//! worth a warning; unbounded, a guest floods dom0's log. Each stream keeps
//! a [`RateLimit`] (plain data, driven by the engine's own `now_ns`, so a
//! test injects the clock): at most `burst` lines per `interval_ns`; the
//! ones past that are counted, and the first line allowed after them says
//! how many were suppressed (as does the stream's teardown, through
//! [`RateLimit::take_suppressed`]).
#![forbid(unsafe_code)]

/// Lines a stream may log per interval by default.
pub const DEFAULT_BURST: u32 = 10;
/// The default interval: 10 s.
pub const DEFAULT_INTERVAL_NS: u64 = 10_000_000_000;

/// What to do with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; `suppressed` lines were dropped since the last one logged
    /// (say so when non-zero).
    Log {
        /// Lines dropped before this one.
        suppressed: u64,
    },
    /// Drop it (counted).
    Suppress,
}

/// At most `burst` lines per `interval_ns`, the rest counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    burst: u32,
    interval_ns: u64,
    /// Start of the current interval (`None` before the first line).
    window_start: Option<u64>,
    /// Lines logged in the current interval.
    in_window: u32,
    /// Lines dropped since the last one logged.
    suppressed: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::new(DEFAULT_BURST, DEFAULT_INTERVAL_NS)
    }
}

impl RateLimit {
    /// At most `burst` lines per `interval_ns`.
    pub fn new(burst: u32, interval_ns: u64) -> Self {
        Self {
            burst,
            interval_ns,
            window_start: None,
            in_window: 0,
            suppressed: 0,
        }
    }

    /// Whether a line at `now_ns` is logged. A clock that goes backwards
    /// starts a new interval (never a stall).
    pub fn check(&mut self, now_ns: u64) -> Verdict {
        let new_window = match self.window_start {
            None => true,
            Some(start) => now_ns < start || now_ns - start >= self.interval_ns,
        };
        if new_window {
            self.window_start = Some(now_ns);
            self.in_window = 0;
        }
        if self.in_window < self.burst {
            self.in_window += 1;
            Verdict::Log {
                suppressed: core::mem::take(&mut self.suppressed),
            }
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
            Verdict::Suppress
        }
    }

    /// Lines dropped and not yet reported (then 0): for a last summary
    /// when the stream goes away.
    pub fn take_suppressed(&mut self) -> u64 {
        core::mem::take(&mut self.suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_per_interval_then_a_count() {
        for burst in [0u32, 1, 3, 10] {
            for interval in [1u64, 1000, 10_000_000_000] {
                let mut limit = RateLimit::new(burst, interval);
                // 50 lines at the same instant: `burst` logged.
                let logged = (0..50)
                    .filter(|_| matches!(limit.check(5), Verdict::Log { .. }))
                    .count();
                assert_eq!(logged, burst as usize);
                // Still inside the interval (when it is longer than 0 ns).
                if interval > 1 {
                    assert_eq!(limit.check(5 + interval - 1), Verdict::Suppress);
                }
                let dropped = 50 - u64::from(burst) + u64::from(interval > 1);
                // The next interval: the first line carries the count.
                let next = limit.check(5 + interval);
                if burst > 0 {
                    assert_eq!(
                        next,
                        Verdict::Log {
                            suppressed: dropped
                        }
                    );
                    assert_eq!(limit.take_suppressed(), 0);
                } else {
                    assert_eq!(next, Verdict::Suppress);
                    assert_eq!(limit.take_suppressed(), dropped + 1);
                }
            }
        }
    }

    #[test]
    fn a_clock_going_backwards_starts_afresh() {
        let mut limit = RateLimit::new(1, 100);
        assert_eq!(limit.check(1000), Verdict::Log { suppressed: 0 });
        assert_eq!(limit.check(1001), Verdict::Suppress);
        assert_eq!(limit.check(10), Verdict::Log { suppressed: 1 });
        assert_eq!(limit.check(u64::MAX), Verdict::Log { suppressed: 0 });
        assert_eq!(limit.check(u64::MAX), Verdict::Suppress);
    }
}
