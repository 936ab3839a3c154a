//! Benchmarks live in `benches/benches/` and `benches/examples/`; this library holds what
//! they share.
#![forbid(unsafe_code)]

use ouro_core::Address;
use ouro_core::routing::{RoutingTable, Topology};
use ouro_policy::validate::FlatRoutes;
use ouro_tests::TestGraph;

/// The routing benchmarks' graph of `n` nodes: random, connected, average degree 4, costs
/// 1–10, seeded by `n`; with a source of typical degree (the first node of degree 4).
pub fn random_graph(n: usize) -> (Topology, Address) {
    let g = TestGraph::random_connected(n, 4.0, 10, 0x5EED + n as u64);
    let topo = Topology::from_links(g.directed_links());
    let own = (0..topo.len())
        .find(|&i| topo.degree(i) == 4)
        .and_then(|i| topo.address(i))
        .unwrap_or(Address(1));
    (topo, own)
}

/// A native table in the WIT's flat layout, as a guest would return it.
pub struct Flat {
    /// Destination addresses.
    pub destinations: Vec<u32>,
    /// Offsets into `next_hops`.
    pub hop_offsets: Vec<u32>,
    /// Concatenated ECMP sets.
    pub next_hops: Vec<u32>,
    /// Alternate per destination, 0 = none.
    pub alternates: Vec<u32>,
}

impl From<&RoutingTable> for Flat {
    fn from(t: &RoutingTable) -> Flat {
        let n = t.routes.len();
        let mut f = Flat {
            destinations: Vec::with_capacity(n),
            hop_offsets: Vec::with_capacity(n + 1),
            next_hops: Vec::with_capacity(2 * n),
            alternates: Vec::with_capacity(n),
        };
        f.hop_offsets.push(0);
        for (d, h) in &t.routes {
            f.destinations.push(d.0);
            f.next_hops.extend(h.ecmp.iter().map(|a| a.0));
            f.hop_offsets.push(f.next_hops.len() as u32);
            f.alternates.push(h.lfa.map_or(0, |a| a.0));
        }
        f
    }
}

impl Flat {
    /// The validator's view.
    pub fn routes(&self) -> FlatRoutes<'_> {
        FlatRoutes {
            destinations: &self.destinations,
            hop_offsets: &self.hop_offsets,
            next_hops: &self.next_hops,
            alternates: &self.alternates,
        }
    }
}
