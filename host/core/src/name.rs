//! Names and their hashes.
//!
//! Applications and IPCPs are known by names (strings); the network only carries their
//! BLAKE3 hashes, truncated to a length chosen per layer.

use std::fmt;

/// Longest hash a layer may use (a full BLAKE3 output).
pub const MAX_HASH_LEN: usize = 32;
/// Shortest hash a layer may use.
pub const MIN_HASH_LEN: usize = 4;

/// The hash of a name, as carried on the wire (4 to 32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NameHash {
    len: u8,
    bytes: [u8; MAX_HASH_LEN],
}

impl NameHash {
    /// Hash `name` with BLAKE3 and keep the first `len` bytes (clamped to 4..=32).
    pub fn of(name: &str, len: usize) -> Self {
        let len = len.clamp(MIN_HASH_LEN, MAX_HASH_LEN);
        let full = blake3::hash(name.as_bytes());
        let mut bytes = [0u8; MAX_HASH_LEN];
        bytes[..len].copy_from_slice(&full.as_bytes()[..len]);
        NameHash {
            len: len as u8,
            bytes,
        }
    }

    /// A hash from raw bytes, or `None` if the length is outside 4..=32.
    pub fn from_bytes(raw: &[u8]) -> Option<Self> {
        if !(MIN_HASH_LEN..=MAX_HASH_LEN).contains(&raw.len()) {
            return None;
        }
        let mut bytes = [0u8; MAX_HASH_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(NameHash {
            len: raw.len() as u8,
            bytes,
        })
    }

    /// The hash bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The hash length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: a hash has at least [`MIN_HASH_LEN`] bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first eight bytes as a big-endian integer (for DHT placement and ECMP hashing).
    pub fn prefix_u64(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.bytes[..8]);
        u64::from_be_bytes(b)
    }
}

impl fmt::Debug for NameHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameHash({self})")
    }
}

impl fmt::Display for NameHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_blake3_prefix() {
        let h = NameHash::of("oping", 16);
        assert_eq!(h.len(), 16);
        assert_eq!(h.as_bytes(), &blake3::hash(b"oping").as_bytes()[..16]);
        assert_eq!(NameHash::of("x", 1).len(), MIN_HASH_LEN);
        assert_eq!(NameHash::of("x", 99).len(), MAX_HASH_LEN);
    }

    #[test]
    fn from_bytes_checks_length() {
        assert!(NameHash::from_bytes(&[1, 2, 3]).is_none());
        assert!(NameHash::from_bytes(&[0; 33]).is_none());
        let h = NameHash::from_bytes(&[9; 8]).expect("valid length");
        assert_eq!(h.as_bytes(), &[9; 8]);
    }
}
