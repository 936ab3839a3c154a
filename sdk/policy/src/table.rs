//! Building the flat routing table the `routing` world returns.

/// A routing table in the WIT's flat layout: route `r` leads to `destinations[r]` through
/// `next_hops[hop_offsets[r]..hop_offsets[r + 1]]`, with alternate `alternates[r]` (0 = none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlatTable {
    /// Destination addresses.
    pub destinations: Vec<u32>,
    /// One more element than `destinations`; starts at 0.
    pub hop_offsets: Vec<u32>,
    /// ECMP next hops of all routes, concatenated.
    pub next_hops: Vec<u32>,
    /// Loop-free alternate per route, 0 for none.
    pub alternates: Vec<u32>,
}

impl Default for FlatTable {
    fn default() -> Self {
        FlatTable {
            destinations: Vec::new(),
            hop_offsets: vec![0],
            next_hops: Vec::new(),
            alternates: Vec::new(),
        }
    }
}

impl FlatTable {
    /// Append a route to `dst` via `hops` (ascending addresses) with alternate `alt` (0 = none).
    pub fn push(&mut self, dst: u32, hops: &[u32], alt: u32) {
        self.destinations.push(dst);
        self.next_hops.extend_from_slice(hops);
        self.hop_offsets.push(self.next_hops.len() as u32);
        self.alternates.push(alt);
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.destinations.len()
    }

    /// True if there is no route.
    pub fn is_empty(&self) -> bool {
        self.destinations.is_empty()
    }

    /// The ECMP next hops of route `r` (empty if out of range).
    pub fn hops(&self, r: usize) -> &[u32] {
        match (self.hop_offsets.get(r), self.hop_offsets.get(r + 1)) {
            (Some(&a), Some(&b)) => self.next_hops.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}
