//! The forwarding table: destination → next-hop ports, replaced whole after each route
//! computation.

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

/// The forwarding table of one IPCP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fib {
    entries: HashMap<Address, FibEntry>,
}

impl Fib {
    /// A table from its entries.
    pub fn new(entries: HashMap<Address, FibEntry>) -> Fib {
        Fib { entries }
    }

    /// The port for a PDU to `dst` whose flow hashes to `flow_hash`: always the same member of
    /// the equal-cost set for the same flow (no reordering), the backup if the set is empty.
    pub fn lookup(&self, dst: Address, flow_hash: u64) -> Option<PortId> {
        let entry = self.entries.get(&dst)?;
        if entry.next_hops.is_empty() {
            return entry.backup.map(|(_, port)| port);
        }
        let i = (flow_hash % entry.next_hops.len() as u64) as usize;
        entry.next_hops.get(i).map(|(_, port)| *port)
    }

    /// The entry for `dst`.
    pub fn get(&self, dst: Address) -> Option<&FibEntry> {
        self.entries.get(&dst)
    }

    /// All entries (unordered).
    pub fn iter(&self) -> impl Iterator<Item = (&Address, &FibEntry)> {
        self.entries.iter()
    }

    /// Number of destinations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if there are no routes.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
