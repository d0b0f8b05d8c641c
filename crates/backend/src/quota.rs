//! What one frontend, and all of them together, may make the backend hold.
//!
//! Every stream costs the backend its two ring pages, two event channels,
//! a sink or source, and at OPEN up to `max_buffer_bytes` of mapped buffer
//! pages. Without a limit one guest could connect any number of streams
//! and open each with the largest buffer, exhausting the grant-mapping
//! space, memory and file descriptors every guest shares. So the backend
//! keeps a [`Ledger`] of what it holds per frontend domain and in total,
//! checked against [`Caps`]:
//! - streams: charged at connect (a stream and its two ring pages); a
//!   device whose streams would pass a cap does not connect (it settles in
//!   the error state, see [`super::xenbus`], with `ENOSPC` in its `error`
//!   node);
//! - pages: the ring pages at connect and the buffer pages at OPEN; an OPEN
//!   that would pass a cap fails with `-ENOMEM` before anything is mapped,
//!   logged (rate-limited, [`super::ratelimit`]).
//!
//! Charges are [`Charge`] values refunded when dropped (CLOSE, teardown,
//! a failed connect), so nothing a frontend does can leak ledger entries;
//! the ledger holds a row only for domains holding something.
#![forbid(unsafe_code)]

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use core::cell::RefCell;

/// Limits on what the backend holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Connected streams of one frontend domain.
    pub streams_per_domain: u32,
    /// Connected streams of every frontend.
    pub streams_total: u32,
    /// Grant-mapped pages (rings and buffers) of one frontend domain.
    pub pages_per_domain: u32,
    /// Grant-mapped pages of every frontend.
    pub pages_total: u32,
}

impl Default for Caps {
    /// 32 streams and 16384 pages (64 MiB: four 16 MiB buffers) per
    /// domain; 256 streams and 65536 pages (256 MiB) in total.
    fn default() -> Self {
        Self {
            streams_per_domain: 32,
            streams_total: 256,
            pages_per_domain: 16_384,
            pages_total: 65_536,
        }
    }
}

impl Caps {
    /// No limit at all (tests that are about something else).
    pub const UNLIMITED: Caps = Caps {
        streams_per_domain: u32::MAX,
        streams_total: u32::MAX,
        pages_per_domain: u32::MAX,
        pages_total: u32::MAX,
    };
}

/// What is held, of one domain or in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Connected streams.
    pub streams: u32,
    /// Mapped pages.
    pub pages: u32,
}

/// Which cap a charge would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// `streams_per_domain`.
    StreamsPerDomain(u32),
    /// `streams_total`.
    StreamsTotal(u32),
    /// `pages_per_domain`.
    PagesPerDomain(u32),
    /// `pages_total`.
    PagesTotal(u32),
}

impl core::fmt::Display for Exceeded {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::StreamsPerDomain(cap) => {
                write!(formatter, "more than {cap} streams for this domain")
            }
            Self::StreamsTotal(cap) => write!(formatter, "more than {cap} streams in all"),
            Self::PagesPerDomain(cap) => {
                write!(formatter, "more than {cap} mapped pages for this domain")
            }
            Self::PagesTotal(cap) => write!(formatter, "more than {cap} mapped pages in all"),
        }
    }
}

#[derive(Debug, Default)]
struct Book {
    caps: Option<Caps>,
    total: Usage,
    domains: BTreeMap<u32, Usage>,
}

/// The backend's ledger; clones share it.
#[derive(Debug, Clone)]
pub struct Ledger(Rc<RefCell<Book>>);

impl Default for Ledger {
    fn default() -> Self {
        Self::new(Caps::default())
    }
}

impl PartialEq for Ledger {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Ledger {}

impl Ledger {
    /// An empty ledger checked against `caps`.
    pub fn new(caps: Caps) -> Self {
        Self(Rc::new(RefCell::new(Book {
            caps: Some(caps),
            ..Book::default()
        })))
    }

    /// The caps.
    pub fn caps(&self) -> Caps {
        self.0.borrow().caps.unwrap_or(Caps::UNLIMITED)
    }

    /// What `domid` holds.
    pub fn usage(&self, domid: u32) -> Usage {
        self.0
            .borrow()
            .domains
            .get(&domid)
            .copied()
            .unwrap_or_default()
    }

    /// What every domain holds.
    pub fn total(&self) -> Usage {
        self.0.borrow().total
    }

    /// Domains holding something (the ledger's rows).
    pub fn domains(&self) -> usize {
        self.0.borrow().domains.len()
    }

    /// Charge `domid` for `streams` streams and `pages` pages, if every cap
    /// allows it; refunded when the [`Charge`] is dropped.
    pub fn charge(&self, domid: u32, streams: u32, pages: u32) -> Result<Charge, Exceeded> {
        let mut book = self.0.borrow_mut();
        let caps = book.caps.unwrap_or(Caps::UNLIMITED);
        let domain = book.domains.get(&domid).copied().unwrap_or_default();
        let over =
            |held: u32, more: u32, cap: u32| held.checked_add(more).is_none_or(|sum| sum > cap);
        if streams > 0 && over(domain.streams, streams, caps.streams_per_domain) {
            return Err(Exceeded::StreamsPerDomain(caps.streams_per_domain));
        }
        if streams > 0 && over(book.total.streams, streams, caps.streams_total) {
            return Err(Exceeded::StreamsTotal(caps.streams_total));
        }
        if pages > 0 && over(domain.pages, pages, caps.pages_per_domain) {
            return Err(Exceeded::PagesPerDomain(caps.pages_per_domain));
        }
        if pages > 0 && over(book.total.pages, pages, caps.pages_total) {
            return Err(Exceeded::PagesTotal(caps.pages_total));
        }
        let row = book.domains.entry(domid).or_default();
        row.streams += streams;
        row.pages += pages;
        book.total.streams += streams;
        book.total.pages += pages;
        Ok(Charge {
            ledger: self.clone(),
            domid,
            usage: Usage { streams, pages },
        })
    }
}

/// Streams and pages charged to a domain; refunded on drop.
#[derive(Debug)]
pub struct Charge {
    ledger: Ledger,
    domid: u32,
    usage: Usage,
}

impl Charge {
    /// What this charge holds.
    pub fn usage(&self) -> Usage {
        self.usage
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        let mut book = self.ledger.0.borrow_mut();
        let Usage { streams, pages } = self.usage;
        book.total.streams = book.total.streams.saturating_sub(streams);
        book.total.pages = book.total.pages.saturating_sub(pages);
        if let Some(row) = book.domains.get_mut(&self.domid) {
            row.streams = row.streams.saturating_sub(streams);
            row.pages = row.pages.saturating_sub(pages);
            if *row == Usage::default() {
                book.domains.remove(&self.domid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn charges_stay_within_every_cap_and_refund_on_drop() {
        let caps = Caps {
            streams_per_domain: 3,
            streams_total: 5,
            pages_per_domain: 10,
            pages_total: 16,
        };
        let ledger = Ledger::new(caps);
        let mut held = Vec::new();
        for domid in 1..=3u32 {
            for _ in 0..4 {
                if let Ok(charge) = ledger.charge(domid, 1, 2) {
                    held.push(charge);
                }
            }
        }
        // Domain 1: 3 streams, domain 2: 2 (total cap 5), domain 3: none.
        assert_eq!(
            ledger.usage(1),
            Usage {
                streams: 3,
                pages: 6
            }
        );
        assert_eq!(
            ledger.usage(2),
            Usage {
                streams: 2,
                pages: 4
            }
        );
        assert_eq!(ledger.usage(3), Usage::default());
        assert_eq!(
            ledger.charge(3, 1, 0).unwrap_err(),
            Exceeded::StreamsTotal(5)
        );
        assert_eq!(
            ledger.charge(1, 0, 5).unwrap_err(),
            Exceeded::PagesPerDomain(10)
        );
        held.push(ledger.charge(2, 0, 6).unwrap());
        assert_eq!(
            ledger.charge(3, 0, 1).unwrap_err(),
            Exceeded::PagesTotal(16)
        );
        assert_eq!(
            ledger.charge(3, 0, u32::MAX).unwrap_err(),
            Exceeded::PagesPerDomain(10)
        );
        assert_eq!(
            ledger.total(),
            Usage {
                streams: 5,
                pages: 16
            }
        );
        assert_eq!(ledger.domains(), 2);
        held.clear();
        assert_eq!(ledger.total(), Usage::default());
        assert_eq!(ledger.domains(), 0, "no row left behind");
        // Zero charges always fit.
        let _nothing = Ledger::new(Caps {
            streams_per_domain: 0,
            streams_total: 0,
            pages_per_domain: 0,
            pages_total: 0,
        })
        .charge(1, 0, 0)
        .unwrap();
    }
}
