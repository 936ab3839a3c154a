//! The name directory: a one-hop distributed hash table.
//!
//! Ouroboros uses a Kademlia DHT, whose multi-hop lookups exist because a Kademlia node does
//! not know the membership. Inside a link-state layer every member *does* know every other
//! member (the link-state database), so we place each name on the `k` members with the
//! highest rendezvous score for it (highest random weight hashing): a registration is `k`
//! routed messages, a lookup one routed request and its reply, and the placement is the same
//! on every member that holds the same database. When membership changes only the names whose
//! replica set changed move (registrants re-publish after route changes and periodically).
//! Storage per member is `k/N` of all registrations.

use crate::time::Instant;
use crate::wire::DirTarget;
use crate::{Address, NameHash};
use std::collections::BTreeMap;

/// The rendezvous score of `member` for `name`: the members with the highest scores hold it.
pub fn score(name: &NameHash, member: Address) -> u64 {
    let mut x = name.prefix_u64() ^ u64::from(member.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// The `k` members responsible for `name`, best first.
pub fn replicas(
    name: &NameHash,
    members: impl IntoIterator<Item = Address>,
    k: usize,
) -> Vec<Address> {
    let mut scored: Vec<(u64, Address)> =
        members.into_iter().map(|m| (score(name, m), m)).collect();
    scored.sort_unstable_by(|a, b| b.cmp(a));
    scored.dedup_by_key(|(_, m)| *m);
    scored.into_iter().take(k.max(1)).map(|(_, m)| m).collect()
}

/// The registrations this member stores as a replica.
#[derive(Clone, Debug, Default)]
pub struct DirStore {
    /// name → address → (expiry, the registering IPCP's public key).
    entries: BTreeMap<NameHash, BTreeMap<Address, (Instant, [u8; 32])>>,
}

impl DirStore {
    /// An empty store.
    pub fn new() -> Self {
        DirStore::default()
    }

    /// Store (or refresh) `name` at `address`, whose public key is `key`, until
    /// `expires_at`.
    pub fn put(&mut self, name: NameHash, address: Address, key: [u8; 32], expires_at: Instant) {
        self.entries
            .entry(name)
            .or_default()
            .insert(address, (expires_at, key));
    }

    /// Remove `name` at `address`.
    pub fn remove(&mut self, name: &NameHash, address: Address) {
        if let Some(set) = self.entries.get_mut(name) {
            set.remove(&address);
            if set.is_empty() {
                self.entries.remove(name);
            }
        }
    }

    /// The live registrations of `name` at `now` (address and key), by ascending address.
    pub fn get(&self, name: &NameHash, now: Instant) -> Vec<DirTarget> {
        self.entries
            .get(name)
            .map(|set| {
                set.iter()
                    .filter(|(_, (exp, _))| *exp > now)
                    .map(|(a, (_, key))| DirTarget {
                        address: *a,
                        key: *key,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drop expired registrations.
    pub fn expire(&mut self, now: Instant) {
        self.entries.retain(|_, set| {
            set.retain(|_, (exp, _)| *exp > now);
            !set.is_empty()
        });
    }

    /// Number of names stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_stable_and_distinct() {
        let name = NameHash::of("echo", 16);
        let members: Vec<Address> = (1..=50).map(Address).collect();
        let a = replicas(&name, members.iter().copied(), 3);
        let b = replicas(&name, members.iter().rev().copied(), 3);
        assert_eq!(a, b, "placement must not depend on member order");
        assert_eq!(a.len(), 3);
        assert!(a[0] != a[1] && a[1] != a[2] && a[0] != a[2]);
        // Removing a non-replica does not move the name.
        let fewer = members
            .iter()
            .copied()
            .filter(|m| !a.contains(m) && m.0 != 7);
        let kept = replicas(&name, fewer.chain(a.iter().copied()), 3);
        assert_eq!(kept, a);
    }

    #[test]
    fn names_spread_over_members() {
        let members: Vec<Address> = (1..=10).map(Address).collect();
        let mut load = [0u32; 11];
        for i in 0..1000 {
            let r = replicas(
                &NameHash::of(&format!("n{i}"), 16),
                members.iter().copied(),
                1,
            );
            load[r[0].0 as usize] += 1;
        }
        assert!(
            load[1..].iter().all(|&l| l > 50),
            "uneven placement: {load:?}"
        );
    }

    #[test]
    fn store_expires_and_removes() {
        let mut s = DirStore::new();
        let n = NameHash::of("x", 16);
        s.put(n, Address(2), [2; 32], Instant::from_millis(100));
        s.put(n, Address(1), [1; 32], Instant::from_millis(50));
        let t = |a: u32| DirTarget {
            address: Address(a),
            key: [a as u8; 32],
        };
        assert_eq!(s.get(&n, Instant::ZERO), vec![t(1), t(2)]);
        assert_eq!(s.get(&n, Instant::from_millis(60)), vec![t(2)]);
        s.remove(&n, Address(2));
        s.expire(Instant::from_millis(60));
        assert!(s.is_empty());
    }
}
