//! The event queue: a min-heap on (time, insertion number), so simultaneous events run in
//! the order they were scheduled and every run with the same inputs is identical.

use ouro_core::time::Instant;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry<T> {
    time: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest entry first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Items scheduled at instants, popped earliest first, ties in insertion order.
pub struct EventQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    next_seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<T> EventQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedule `item` at `time`.
    pub fn push(&mut self, time: Instant, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, item });
    }

    /// Time of the earliest item.
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.time)
    }

    /// Remove the earliest item.
    pub fn pop(&mut self) -> Option<(Instant, T)> {
        self.heap.pop().map(|e| (e.time, e.item))
    }

    /// Remove the earliest item if it is due at or before `limit`.
    pub fn pop_due(&mut self, limit: Instant) -> Option<(Instant, T)> {
        if self.peek_time()? <= limit {
            self.pop()
        } else {
            None
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True if no item is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_ties_in_insertion_order() {
        let mut q = EventQueue::new();
        let t = Instant::from_millis;
        q.push(t(5), "e");
        q.push(t(1), "a");
        q.push(t(3), "c");
        q.push(t(1), "b");
        q.push(t(3), "d");
        assert_eq!(q.len(), 5);
        assert_eq!(q.peek_time(), Some(t(1)));
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, x)| x).collect();
        assert_eq!(order, ["a", "b", "c", "d", "e"]);
        assert!(q.is_empty());
    }

    #[test]
    fn pop_due_respects_limit() {
        let mut q = EventQueue::new();
        q.push(Instant::from_millis(2), 2);
        q.push(Instant::from_millis(1), 1);
        assert_eq!(
            q.pop_due(Instant::from_millis(1)),
            Some((Instant::from_millis(1), 1))
        );
        assert_eq!(q.pop_due(Instant::from_millis(1)), None);
        assert_eq!(
            q.pop_due(Instant::from_millis(2)),
            Some((Instant::from_millis(2), 2))
        );
        assert_eq!(q.pop_due(Instant::from_millis(9)), None);
    }

    #[test]
    fn many_ties_stay_ordered() {
        let mut q = EventQueue::new();
        for i in 0..1000 {
            q.push(Instant::from_millis(i % 3), i);
        }
        let mut last = (Instant::ZERO, -1i64);
        while let Some((t, i)) = q.pop() {
            let cur = (t, i as i64);
            assert!(cur > last, "{cur:?} after {last:?}");
            last = cur;
        }
    }
}
