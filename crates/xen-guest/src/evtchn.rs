//! Two-level event-channel upcall scan and per-port dispatch.
//!
//! Implements the x86_64 two-level ABI of `xen.h` (`struct shared_info`:
//! `evtchn_pending[64]`, `evtchn_mask[64]`; `struct vcpu_info`:
//! `evtchn_upcall_pending`, `evtchn_pending_sel`): 64 selector bits, each
//! covering one 64-bit word of pending bits, so ports 0..4096.
//!
//! The scan is pure: it works over [`EventBitmaps`], which the guest
//! implements over the real `shared_info` (with atomics) and the simulator
//! over its own bitmaps.
#![forbid(unsafe_code)]

use alloc::collections::BTreeMap;

use super::{Port, XenError};
use xen_abi::hvm;

/// Bits per bitmap word (`xen_ulong_t` on x86_64).
pub const BITS_PER_WORD: u32 = 64;
/// Words in `evtchn_pending` / `evtchn_mask` (two-level ABI on x86_64).
pub const WORDS: usize = 64;
/// Number of ports the two-level ABI can address (`EVTCHN_2L_NR_CHANNELS`).
pub const MAX_PORTS: u32 = BITS_PER_WORD * WORDS as u32;

/// The value to set `HVM_PARAM_CALLBACK_IRQ` ([`hvm::HVM_PARAM_CALLBACK_IRQ`]) to so Xen raises the event
/// upcall on IDT `vector` (type in bits 63:56, vector in bits 7:0; no LAPIC
/// EOI is needed in this mode).
pub const fn callback_via_vector(vector: u8) -> u64 {
    (hvm::HVM_PARAM_CALLBACK_TYPE_VECTOR << hvm::HVM_PARAM_CALLBACK_IRQ_TYPE_SHIFT) | vector as u64
}

/// How many times one upcall re-reads the selector before returning, so a
/// flood of events cannot keep the CPU in the handler forever; anything left
/// keeps `evtchn_upcall_pending` set and raises the upcall again.
const MAX_SCAN_ROUNDS: u32 = 16;

/// Access to the two-level event bitmaps of one vCPU.
///
/// Every method is one access to memory Xen writes concurrently; the real
/// implementation uses atomic operations where noted.
pub trait EventBitmaps {
    /// Clear `vcpu_info.evtchn_upcall_pending` (a plain byte store).
    fn clear_upcall_pending(&self);
    /// Atomically exchange `vcpu_info.evtchn_pending_sel` with zero and
    /// return the old value (`xchg`).
    fn take_pending_selector(&self) -> u64;
    /// Load `shared_info.evtchn_pending[word]`.
    fn pending_word(&self, word: usize) -> u64;
    /// Load `shared_info.evtchn_mask[word]`.
    fn mask_word(&self, word: usize) -> u64;
    /// Atomically clear `bits` in `shared_info.evtchn_pending[word]`
    /// (`lock and`).
    fn clear_pending_bits(&self, word: usize, bits: u64);
}

/// Run one upcall's scan: find every pending, unmasked port, clear its
/// pending bit and call `fire(port)` for it, in port order within a word.
///
/// Masked ports stay pending in `evtchn_pending` (Xen re-raises them when
/// they are unmasked). Returns the number of ports fired.
pub fn scan<B: EventBitmaps + ?Sized>(bitmaps: &B, mut fire: impl FnMut(Port)) -> u32 {
    let mut fired = 0;
    for _ in 0..MAX_SCAN_ROUNDS {
        // Clear the upcall flag before taking the selector: a port that
        // becomes pending after this sets both again and is seen next round
        // (or raises a new upcall).
        bitmaps.clear_upcall_pending();
        let selector = bitmaps.take_pending_selector();
        if selector == 0 {
            break;
        }
        let mut words = selector;
        while words != 0 {
            let word = words.trailing_zeros() as usize;
            words &= words - 1;
            let ready = bitmaps.pending_word(word) & !bitmaps.mask_word(word);
            if ready == 0 {
                continue;
            }
            bitmaps.clear_pending_bits(word, ready);
            let mut bits = ready;
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                fire(word as u32 * BITS_PER_WORD + bit);
                fired += 1;
            }
        }
    }
    fired
}

/// A per-port handler called from the upcall (interrupt context: it must not
/// block or allocate).
pub type PortHandler = fn(Port);

/// The guest's view of which ports fired: a pending set filled by
/// [`EventDispatcher::upcall`] and read by [`EventDispatcher::take_pending`],
/// plus optional per-port handlers.
#[derive(Debug, Clone)]
pub struct EventDispatcher {
    fired: [u64; WORDS],
    handlers: BTreeMap<Port, PortHandler>,
}

impl Default for EventDispatcher {
    fn default() -> Self {
        Self::new()
    }
}

impl EventDispatcher {
    /// An empty dispatcher: nothing pending, no handlers.
    pub const fn new() -> Self {
        Self {
            fired: [0; WORDS],
            handlers: BTreeMap::new(),
        }
    }

    /// Call `handler` (besides recording the port as pending) whenever
    /// `port` fires. Replaces an earlier handler.
    pub fn register(&mut self, port: Port, handler: PortHandler) -> Result<(), XenError> {
        if port >= MAX_PORTS {
            return Err(XenError::Invalid);
        }
        self.handlers.insert(port, handler);
        Ok(())
    }

    /// Remove the handler of `port` and forget a pending signal (on close).
    pub fn unregister(&mut self, port: Port) {
        self.handlers.remove(&port);
        let _ = self.take_pending(port);
    }

    /// The upcall body: scan `bitmaps`, record each fired port and call its
    /// handler. Returns the number of ports fired.
    pub fn upcall<B: EventBitmaps + ?Sized>(&mut self, bitmaps: &B) -> u32 {
        let fired = &mut self.fired;
        let handlers = &self.handlers;
        scan(bitmaps, |port| {
            // `scan` only yields ports below MAX_PORTS.
            fired[(port / BITS_PER_WORD) as usize] |= 1 << (port % BITS_PER_WORD);
            if let Some(handler) = handlers.get(&port) {
                handler(port);
            }
        })
    }

    /// Whether `port` fired since the last call, clearing the flag.
    pub fn take_pending(&mut self, port: Port) -> bool {
        if port >= MAX_PORTS {
            return false;
        }
        let word = &mut self.fired[(port / BITS_PER_WORD) as usize];
        let bit = 1u64 << (port % BITS_PER_WORD);
        let was = *word & bit != 0;
        *word &= !bit;
        was
    }

    /// Whether any port fired and was not yet taken.
    pub fn any_pending(&self) -> bool {
        self.fired.iter().any(|word| *word != 0)
    }
}
