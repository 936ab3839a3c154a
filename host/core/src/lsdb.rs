//! The link-state database: the newest advertisement of every layer member.
//!
//! Pure bookkeeping: the IPCP decides what to flood and when to recompute routes from the
//! [`Install`] outcome of each received advertisement. Entries live for the lifetime their
//! advertisement carried (not decremented in transit: the error is bounded by the flooding
//! delay) and are removed by [`Lsdb::expire`].

use crate::Address;
use crate::time::Instant;
use crate::wire::{Lsa, LsaLink};
use std::collections::BTreeMap;
use std::time::Duration;

/// What installing an advertisement did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Install {
    /// First advertisement from this origin: installed (flood it, recompute routes).
    New,
    /// Newer than the one held: replaced (flood it, recompute routes).
    Newer,
    /// A flush (lifetime 0) removed the origin's entry (flood it, recompute routes).
    Flushed,
    /// Same sequence number as the one held: ignored.
    Duplicate,
    /// Older than the one held: ignored (the sender should get ours).
    Older,
}

impl Install {
    /// True when the database changed.
    pub fn changed(self) -> bool {
        matches!(self, Install::New | Install::Newer | Install::Flushed)
    }
}

/// One held advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsdbEntry {
    /// The advertisement as received.
    pub lsa: Lsa,
    /// When it stops being valid.
    pub expires_at: Instant,
}

/// The database, ordered by origin address (deterministic iteration).
#[derive(Clone, Debug, Default)]
pub struct Lsdb {
    entries: BTreeMap<Address, LsdbEntry>,
}

impl Lsdb {
    /// An empty database.
    pub fn new() -> Self {
        Lsdb::default()
    }

    /// Install `lsa` received at `now`.
    pub fn install(&mut self, lsa: Lsa, now: Instant) -> Install {
        let held = self.entries.get(&lsa.origin).map(|e| e.lsa.seqno);
        match held {
            Some(seq) if lsa.seqno < seq => return Install::Older,
            Some(seq) if lsa.seqno == seq && lsa.lifetime_s != 0 => return Install::Duplicate,
            _ => {}
        }
        if lsa.lifetime_s == 0 {
            return match self.entries.remove(&lsa.origin) {
                Some(_) => Install::Flushed,
                None => Install::Duplicate,
            };
        }
        let expires_at = now + Duration::from_secs(u64::from(lsa.lifetime_s));
        let outcome = if held.is_some() {
            Install::Newer
        } else {
            Install::New
        };
        self.entries
            .insert(lsa.origin, LsdbEntry { lsa, expires_at });
        outcome
    }

    /// Remove expired entries; returns the origins removed.
    pub fn expire(&mut self, now: Instant) -> Vec<Address> {
        let gone: Vec<Address> = self
            .entries
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(a, _)| *a)
            .collect();
        for origin in &gone {
            self.entries.remove(origin);
        }
        gone
    }

    /// The advertisement held for `origin`.
    pub fn get(&self, origin: Address) -> Option<&Lsa> {
        self.entries.get(&origin).map(|e| &e.lsa)
    }

    /// Remove `origin`'s entry.
    pub fn remove(&mut self, origin: Address) -> Option<Lsa> {
        self.entries.remove(&origin).map(|e| e.lsa)
    }

    /// All held advertisements, by origin.
    pub fn iter(&self) -> impl Iterator<Item = &Lsa> {
        self.entries.values().map(|e| &e.lsa)
    }

    /// Every directed link `(origin, neighbour, cost)` advertised.
    pub fn links(&self) -> impl Iterator<Item = (Address, Address, u32)> + '_ {
        self.entries.values().flat_map(|e| {
            let origin = e.lsa.origin;
            e.lsa
                .links
                .iter()
                .map(move |l: &LsaLink| (origin, l.neighbor, l.cost))
        })
    }

    /// Every origin, with or without links.
    pub fn origins(&self) -> impl Iterator<Item = Address> + '_ {
        self.entries.keys().copied()
    }

    /// True if `origin` has an entry.
    pub fn contains(&self, origin: Address) -> bool {
        self.entries.contains_key(&origin)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// An order-independent digest of the (origin, seqno) pairs: two databases with the same
    /// digest hold the same advertisement versions (with overwhelming probability).
    pub fn digest(&self) -> u64 {
        self.entries.values().fold(0u64, |acc, e| {
            let mut x = (u64::from(e.lsa.origin.0) << 32) ^ e.lsa.seqno.rotate_left(17);
            x ^= x >> 31;
            x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            x ^= x >> 29;
            acc.wrapping_add(x)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsa(origin: u32, seqno: u64, lifetime_s: u16) -> Lsa {
        Lsa {
            origin: Address(origin),
            seqno,
            lifetime_s,
            links: vec![LsaLink {
                neighbor: Address(origin + 1),
                cost: 1,
            }],
        }
    }

    #[test]
    fn install_orders_by_sequence_number() {
        let mut db = Lsdb::new();
        let t = Instant::ZERO;
        assert_eq!(db.install(lsa(1, 5, 60), t), Install::New);
        assert_eq!(db.install(lsa(1, 5, 60), t), Install::Duplicate);
        assert_eq!(db.install(lsa(1, 4, 60), t), Install::Older);
        assert_eq!(db.install(lsa(1, 6, 60), t), Install::Newer);
        assert_eq!(db.get(Address(1)).map(|l| l.seqno), Some(6));
        assert_eq!(
            db.links().collect::<Vec<_>>(),
            vec![(Address(1), Address(2), 1)]
        );
    }

    #[test]
    fn flush_and_expiry_remove_entries() {
        let mut db = Lsdb::new();
        db.install(lsa(1, 1, 10), Instant::ZERO);
        db.install(lsa(2, 1, 100), Instant::ZERO);
        assert_eq!(db.install(lsa(1, 1, 0), Instant::ZERO), Install::Flushed);
        assert_eq!(db.install(lsa(1, 1, 0), Instant::ZERO), Install::Duplicate);
        db.install(lsa(3, 1, 10), Instant::ZERO);
        assert_eq!(db.expire(Instant::from_millis(10_000)), vec![Address(3)]);
        assert_eq!(db.origins().collect::<Vec<_>>(), vec![Address(2)]);
    }

    #[test]
    fn digest_ignores_insertion_order() {
        let mut a = Lsdb::new();
        let mut b = Lsdb::new();
        a.install(lsa(1, 1, 60), Instant::ZERO);
        a.install(lsa(2, 3, 60), Instant::ZERO);
        b.install(lsa(2, 3, 60), Instant::ZERO);
        b.install(lsa(1, 1, 60), Instant::ZERO);
        assert_eq!(a.digest(), b.digest());
        b.install(lsa(1, 2, 60), Instant::ZERO);
        assert_ne!(a.digest(), b.digest());
    }
}
