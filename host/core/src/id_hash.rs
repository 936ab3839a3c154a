//! A hasher for small integer identifiers (addresses, endpoint ids, ports, indices) used as
//! keys of maps looked up once per PDU.
//!
//! One multiplication per word (Fibonacci hashing) instead of SipHash, which cost about as
//! much per relayed PDU as the rest of the forwarding-table lookup. The keys are not chosen
//! by whoever sends the PDUs (addresses are the layer's members, admitted at enrollment;
//! endpoint ids and ports are allocated here), so flooding a table with colliding keys is
//! not an attack SipHash would have to answer.

use std::hash::{BuildHasherDefault, Hasher};

/// Builds [`IdHasher`]s: `HashMap<K, V, IdHashBuilder>`.
pub type IdHashBuilder = BuildHasherDefault<IdHasher>;

/// See the [module](self) documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

/// 2^64 / the golden ratio.
const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl IdHasher {
    fn add(&mut self, n: u64) {
        // hashbrown takes its control byte from the top 7 bits and the bucket from the
        // low ones: the multiplication spreads the key over both.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than integers.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    #[test]
    fn tuple_keys_of_index_and_id_do_not_collide() {
        let build = IdHashBuilder::default();
        let keys: Vec<(usize, u32)> = (0..4usize)
            .flat_map(|l| (0..2048u32).map(move |e| (l, e.wrapping_mul(0x9e37_79b9))))
            .collect();
        let mut hashes: Vec<u64> = keys.iter().map(|k| build.hash_one(k)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), keys.len());
        let map: HashMap<(usize, u32), usize, IdHashBuilder> =
            keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        assert!(keys.iter().enumerate().all(|(i, k)| map.get(k) == Some(&i)));
    }

    #[test]
    fn byte_keys_hash_every_byte() {
        let build = IdHashBuilder::default();
        let a = build.hash_one([1u8, 2, 3, 4, 5, 6, 7, 8, 9]);
        let b = build.hash_one([1u8, 2, 3, 4, 5, 6, 7, 8, 10]);
        assert_ne!(a, b);
    }
}
