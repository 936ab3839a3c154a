//! A monotone priority queue for Dijkstra (a radix heap): keys pushed are never below the
//! last key popped. Bucket `i > 0` holds keys whose highest bit differing from the last
//! popped key is bit `i - 1`; bucket 0 holds keys equal to it. Popping refills bucket 0 by
//! redistributing the first non-empty bucket around its minimum.

/// The radix heap; buckets keep their allocations between runs.
#[derive(Clone, Debug)]
pub struct RadixHeap {
    last: u64,
    len: usize,
    buckets: [Vec<(u64, u32)>; 65],
}

impl Default for RadixHeap {
    fn default() -> Self {
        RadixHeap {
            last: 0,
            len: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }
}

impl RadixHeap {
    /// Empty it (keeping allocations).
    pub fn clear(&mut self) {
        self.last = 0;
        self.len = 0;
        for b in &mut self.buckets {
            b.clear();
        }
    }

    #[inline]
    fn bucket(last: u64, key: u64) -> usize {
        (64 - (key ^ last).leading_zeros()) as usize
    }

    /// Push `(key, value)`; a key below the last popped one is clamped up to it.
    #[inline]
    pub fn push(&mut self, key: u64, value: u32) {
        let key = key.max(self.last);
        let b = Self::bucket(self.last, key);
        self.buckets[b].push((key, value));
        self.len += 1;
    }

    /// Pop an entry with the smallest key.
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, u32)> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].is_empty() {
            let i = self.buckets.iter().position(|b| !b.is_empty())?;
            let mut moving = std::mem::take(&mut self.buckets[i]);
            let new_last = moving.iter().map(|&(k, _)| k).min()?;
            self.last = new_last;
            for &(k, v) in &moving {
                self.buckets[Self::bucket(new_last, k)].push((k, v));
            }
            moving.clear();
            self.buckets[i] = moving;
        }
        let item = self.buckets[0].pop()?;
        self.len -= 1;
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_order() {
        let mut h = RadixHeap::default();
        let mut x = 12345u64;
        let mut last = 0;
        let mut n = 0;
        for round in 0..300u64 {
            for _ in 0..3 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                h.push(last + (x >> 40) % (1 + round * 7), 0);
            }
            if let Some((k, _)) = h.pop() {
                assert!(k >= last);
                last = k;
                n += 1;
            }
        }
        while let Some((k, _)) = h.pop() {
            assert!(k >= last);
            last = k;
            n += 1;
        }
        assert_eq!(n, 900);
    }
}
