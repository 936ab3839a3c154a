//! The forwarding table: destination → next-hop ports, one table per QoS cube that routes
//! differently (most share the default one), replaced whole after each route computation.

use crate::id_hash::IdHashBuilder;
#[cfg(doc)]
use crate::id_hash::IdHasher;
use crate::qos::QosCube;
use crate::{Address, PortId};
use std::collections::HashMap;

/// Forwarding state towards one destination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FibEntry {
    /// Equal-cost next hops, sorted by neighbour address: (neighbour, port).
    pub next_hops: Vec<(Address, PortId)>,
    /// Loop-free alternate: (neighbour, port).
    pub backup: Option<(Address, PortId)>,
}

/// The entries of one table, hashed with [`IdHasher`] (looked up once per PDU).
pub type FibEntries = HashMap<Address, FibEntry, IdHashBuilder>;

/// The forwarding table of one IPCP: the default table plus one per QoS cube that routes
/// differently. A lookup picks the table by an array index on the cube, then hashes the
/// destination, as a single table would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fib {
    /// `tables[0]` is the default; the others belong to cubes.
    tables: Vec<FibEntries>,
    /// Cube (as `u8`) → index into `tables`.
    by_cube: [u8; QosCube::COUNT],
}

impl Default for Fib {
    fn default() -> Fib {
        Fib::new(FibEntries::default())
    }
}

impl Fib {
    /// A table from its entries, used by every cube.
    pub fn new(entries: FibEntries) -> Fib {
        Fib {
            tables: vec![entries],
            by_cube: [0; QosCube::COUNT],
        }
    }

    /// A default table plus separate tables for some cubes (a cube listed twice keeps its
    /// last table).
    pub fn with_cubes(
        entries: FibEntries,
        cubes: impl IntoIterator<Item = (QosCube, FibEntries)>,
    ) -> Fib {
        let mut fib = Fib::new(entries);
        for (cube, table) in cubes {
            fib.by_cube[cube as usize] = fib.tables.len() as u8;
            fib.tables.push(table);
        }
        fib
    }

    /// The port for a PDU to `dst` whose flow hashes to `flow_hash`, in the default table.
    pub fn lookup(&self, dst: Address, flow_hash: u64) -> Option<PortId> {
        Self::pick(self.tables.first()?.get(&dst)?, flow_hash)
    }

    /// The port for a PDU of cube `cube` to `dst` whose flow hashes to `flow_hash`: always
    /// the same member of the equal-cost set for the same flow (no reordering), the backup
    /// if the set is empty.
    pub fn lookup_cube(&self, dst: Address, cube: QosCube, flow_hash: u64) -> Option<PortId> {
        Self::pick(self.table(cube)?.get(&dst)?, flow_hash)
    }

    fn pick(entry: &FibEntry, flow_hash: u64) -> Option<PortId> {
        match entry.next_hops.as_slice() {
            [] => entry.backup.map(|(_, port)| port),
            // The common case: no division per PDU.
            [(_, port)] => Some(*port),
            hops => hops
                .get((flow_hash % hops.len() as u64) as usize)
                .map(|(_, port)| *port),
        }
    }

    /// The table `cube` forwards with.
    fn table(&self, cube: QosCube) -> Option<&FibEntries> {
        let i = *self.by_cube.get(cube as usize)?;
        self.tables.get(usize::from(i))
    }

    /// The default entry for `dst`.
    pub fn get(&self, dst: Address) -> Option<&FibEntry> {
        self.tables.first()?.get(&dst)
    }

    /// The entry for `dst` that cube `cube` uses.
    pub fn get_cube(&self, dst: Address, cube: QosCube) -> Option<&FibEntry> {
        self.table(cube)?.get(&dst)
    }

    /// All default entries (unordered).
    pub fn iter(&self) -> impl Iterator<Item = (&Address, &FibEntry)> {
        self.tables.iter().take(1).flatten()
    }

    /// The cubes with their own table, with it.
    pub fn cube_tables(&self) -> impl Iterator<Item = (QosCube, &FibEntries)> {
        (0..QosCube::COUNT as u8).filter_map(|c| {
            let cube = QosCube::from_u8(c)?;
            match self.by_cube[usize::from(c)] {
                0 => None,
                i => self.tables.get(usize::from(i)).map(|t| (cube, t)),
            }
        })
    }

    /// Apply `f` to every table (the default and the cubes'), keeping the cube mapping.
    pub fn map_tables(&self, mut f: impl FnMut(&FibEntries) -> FibEntries) -> Fib {
        Fib {
            tables: self.tables.iter().map(&mut f).collect(),
            by_cube: self.by_cube,
        }
    }

    /// Number of destinations in the default table.
    pub fn len(&self) -> usize {
        self.tables.first().map_or(0, HashMap::len)
    }

    /// True if the default table has no routes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Mix the fields that identify a flow into a hash for ECMP selection.
pub fn flow_hash(src: Address, dst: Address, eid: crate::Eid) -> u64 {
    let mut x = (u64::from(src.0) << 32) ^ u64::from(dst.0) ^ (u64::from(eid.0) << 16);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(port: u32) -> FibEntry {
        FibEntry {
            next_hops: vec![(Address(port), PortId(port))],
            backup: None,
        }
    }

    #[test]
    fn cubes_without_a_table_use_the_default() {
        let default = FibEntries::from_iter([(Address(9), entry(1))]);
        let voice = FibEntries::from_iter([(Address(9), entry(2))]);
        let fib = Fib::with_cubes(default, [(QosCube::Voice, voice)]);
        assert_eq!(fib.lookup(Address(9), 7), Some(PortId(1)));
        assert_eq!(
            fib.lookup_cube(Address(9), QosCube::BestEffort, 7),
            Some(PortId(1))
        );
        assert_eq!(
            fib.lookup_cube(Address(9), QosCube::Voice, 7),
            Some(PortId(2))
        );
        assert_eq!(fib.lookup_cube(Address(8), QosCube::Voice, 7), None);
        assert_eq!(
            fib.cube_tables().map(|(c, _)| c).collect::<Vec<_>>(),
            [QosCube::Voice]
        );
        let repaired = fib.map_tables(|t| {
            t.iter()
                .filter(|(_, e)| e.next_hops[0].1 != PortId(2))
                .map(|(a, e)| (*a, e.clone()))
                .collect()
        });
        assert_eq!(repaired.lookup_cube(Address(9), QosCube::Voice, 7), None);
        assert_eq!(repaired.lookup(Address(9), 7), Some(PortId(1)));
    }

    #[test]
    fn address_hashes_spread_over_buckets_and_control_bytes() {
        use std::hash::BuildHasher;
        let build = IdHashBuilder::default();
        // Sequential addresses (as a small layer might hand out) and random-looking ones.
        let keys: Vec<Address> = (1..=4096u32)
            .chain((1..=4096u32).map(|i| i.wrapping_mul(0x2545_f491)))
            .map(Address)
            .collect();
        let hashes: Vec<u64> = keys.iter().map(|a| build.hash_one(a)).collect();
        let mut distinct = hashes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), hashes.len(), "no two addresses collide");
        // hashbrown's control byte is the top 7 bits: all 128 values occur.
        let mut top = [false; 128];
        for h in &hashes {
            top[(h >> 57) as usize] = true;
        }
        assert!(top.iter().all(|t| *t));
        // Bucket bits (the low ones, for a 1,024-bucket table): no bucket holds more than
        // a few times its share.
        let mut buckets = vec![0u32; 1024];
        for h in &hashes {
            buckets[(h & 1023) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|n| *n <= 32),
            "{:?}",
            buckets.iter().max()
        );
        // And a table keyed this way finds every entry.
        let table: FibEntries = keys.iter().map(|a| (*a, entry(a.0 % 7))).collect();
        assert!(keys.iter().all(|a| {
            table
                .get(a)
                .is_some_and(|e| e.next_hops[0].1 == PortId(a.0 % 7))
        }));
    }
}
