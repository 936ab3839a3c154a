//! Recycled PDU buffers: a received PDU is copied into a buffer a sent or delivered PDU
//! gave back, instead of a fresh allocation per PDU (which, freed in bursts of thousands
//! after a batch was sent, cost more in `malloc` than the rest of the receive path).

/// A bounded stack of empty buffers.
#[derive(Debug, Default)]
pub struct Spare {
    bufs: Vec<Vec<u8>>,
}

impl Spare {
    /// At most this many buffers are kept.
    pub const MAX_BUFS: usize = 4096;
    /// Larger buffers are freed, not kept (so the pool holds at most 8 MiB).
    pub const MAX_CAPACITY: usize = 2048;

    /// A buffer holding a copy of `data` (a recycled one if there is one).
    pub fn copy_of(&mut self, data: &[u8]) -> Vec<u8> {
        match self.bufs.pop() {
            Some(mut buf) => {
                buf.extend_from_slice(data);
                buf
            }
            None => data.to_vec(),
        }
    }

    /// Take `buf` back for later use, if there is room and it is not too big.
    pub fn give(&mut self, mut buf: Vec<u8>) {
        if self.bufs.len() < Self::MAX_BUFS && buf.capacity() <= Self::MAX_CAPACITY {
            buf.clear();
            self.bufs.push(buf);
        }
    }

    /// Buffers kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.bufs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_what_it_is_given_within_its_bounds() {
        let mut spare = Spare::default();
        let first = spare.copy_of(b"abc");
        assert_eq!(first, b"abc");
        let ptr = first.as_ptr();
        spare.give(first);
        assert_eq!(spare.len(), 1);
        let again = spare.copy_of(b"xy");
        assert_eq!(again, b"xy", "cleared before reuse");
        assert_eq!(again.as_ptr(), ptr, "the same allocation");
        assert_eq!(spare.len(), 0);
        // Too big: freed.
        spare.give(Vec::with_capacity(Spare::MAX_CAPACITY + 1));
        assert_eq!(spare.len(), 0);
        // Full: freed.
        for _ in 0..Spare::MAX_BUFS + 10 {
            spare.give(Vec::with_capacity(16));
        }
        assert_eq!(spare.len(), Spare::MAX_BUFS);
    }
}
