//! A bounded byte queue: what a client delivered and the mixer has not
//! consumed yet.

use alloc::collections::VecDeque;

/// Bytes in arrival order, never more than the bound it was made with
/// (allocated once, up front).
#[derive(Debug, Clone)]
pub(crate) struct BoundedQueue {
    bytes: VecDeque<u8>,
    bound: usize,
}

impl BoundedQueue {
    pub fn new(bound: usize) -> Self {
        Self {
            bytes: VecDeque::with_capacity(bound),
            bound,
        }
    }

    /// Append what fits of `input`; returns the bytes taken.
    pub fn push(&mut self, input: &[u8]) -> usize {
        let take = input.len().min(self.bound - self.bytes.len());
        self.bytes.extend(&input[..take]);
        take
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn bound(&self) -> usize {
        self.bound
    }

    /// Move the first `out.len()` bytes (the queue holds them) into `out`.
    pub fn pop_into(&mut self, out: &mut [u8]) {
        let (front, back) = self.bytes.as_slices();
        let first = front.len().min(out.len());
        out[..first].copy_from_slice(&front[..first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&back[..rest]);
        self.bytes.drain(..out.len());
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::BoundedQueue;

    #[test]
    fn the_queue_never_holds_more_than_its_bound_nor_reallocates() {
        let mut queue = BoundedQueue::new(10);
        let capacity = queue.bytes.capacity();
        assert!(capacity >= 10);
        let mut out = [0u8; 3];
        for round in 0..100u8 {
            let taken = queue.push(&[round; 7]);
            assert!(queue.len() <= 10);
            assert_eq!(taken, 7.min(10 - (queue.len() - taken)));
            queue.pop_into(&mut out[..queue.len().min(3)]);
            assert_eq!(queue.bytes.capacity(), capacity);
        }
        // Order is kept across the ring's wrap.
        queue.clear();
        queue.push(&[1, 2, 3, 4, 5, 6, 7, 8]);
        queue.pop_into(&mut out);
        queue.push(&[9, 10, 11, 12, 13]);
        let mut all = [0u8; 10];
        queue.pop_into(&mut all);
        assert_eq!(all, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
        assert_eq!(queue.push(&[0; 20]), 10);
    }
}
