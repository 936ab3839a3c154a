//! Helpers shared by the integration tests: topology generators and an independent
//! shortest-path oracle.
//!
//! The oracle deliberately uses a different algorithm from the native routing policy: an
//! O(V²) array Dijkstra (no heap) per source, and equal-cost first hops found by the
//! textbook identity `cost(s,n) + dist(n,d) == dist(s,d)` rather than by propagation.
#![forbid(unsafe_code)]

use ouro_core::Address;
use ouro_core::rng::SplitMix64;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};

/// An undirected graph with symmetric integer costs (≥ 1), no self loops and no duplicate
/// edges. Nodes are `0..n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestGraph {
    /// Number of nodes.
    pub n: usize,
    /// Undirected edges `(a, b, cost)`.
    pub edges: Vec<(usize, usize, u32)>,
}

impl TestGraph {
    /// A path `0 - 1 - … - n-1`, unit costs.
    pub fn line(n: usize) -> TestGraph {
        let edges = (1..n).map(|i| (i - 1, i, 1)).collect();
        TestGraph { n, edges }
    }

    /// A cycle `0 - 1 - … - n-1 - 0`, unit costs (a line for `n < 3`, which has no cycle
    /// without duplicate edges).
    pub fn ring(n: usize) -> TestGraph {
        let mut g = TestGraph::line(n);
        if n >= 3 {
            g.edges.push((n - 1, 0, 1));
        }
        g
    }

    /// A `w × h` grid, unit costs; node `(x, y)` is `y * w + x`.
    pub fn grid(w: usize, h: usize) -> TestGraph {
        let mut edges = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                if x + 1 < w {
                    edges.push((i, i + 1, 1));
                }
                if y + 1 < h {
                    edges.push((i, i + w, 1));
                }
            }
        }
        TestGraph { n: w * h, edges }
    }

    /// A connected random graph: a random spanning tree (each node, in a random order,
    /// attaches to a random earlier one) plus random extra edges until the average degree
    /// reaches `avg_degree` (or the graph is complete). Costs are uniform in
    /// `1..=max_cost` (`max_cost` 0 counts as 1). Deterministic for a given `seed`.
    pub fn random_connected(n: usize, avg_degree: f64, max_cost: u32, seed: u64) -> TestGraph {
        let mut rng = SplitMix64::new(seed);
        let max_cost = u64::from(max_cost.max(1));
        let cost = |rng: &mut SplitMix64| 1 + rng.below(max_cost) as u32;

        // Random order (Fisher–Yates), then a random recursive tree over it.
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut seen: HashSet<(usize, usize)> = HashSet::new();
        let mut edges = Vec::new();
        for i in 1..n {
            let parent = order[rng.below(i as u64) as usize];
            let child = order[i];
            seen.insert((parent.min(child), parent.max(child)));
            edges.push((parent, child, cost(&mut rng)));
        }

        let max_edges = n.saturating_mul(n.saturating_sub(1)) / 2;
        let wanted = ((n as f64 * avg_degree.max(0.0) / 2.0).round() as usize).min(max_edges);
        let mut attempts = 0usize;
        let attempt_limit = wanted.saturating_mul(20).max(1000);
        while edges.len() < wanted && attempts < attempt_limit {
            attempts += 1;
            let a = rng.below(n as u64) as usize;
            let b = rng.below(n as u64) as usize;
            if a == b || !seen.insert((a.min(b), a.max(b))) {
                continue;
            }
            edges.push((a, b, cost(&mut rng)));
        }
        TestGraph { n, edges }
    }

    /// The neighbours of node `i` with link costs, sorted by neighbour.
    pub fn neighbors(&self, i: usize) -> Vec<(usize, u32)> {
        let mut out: Vec<(usize, u32)> = self
            .edges
            .iter()
            .filter_map(|&(a, b, c)| {
                if a == i {
                    Some((b, c))
                } else if b == i {
                    Some((a, c))
                } else {
                    None
                }
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// Adjacency lists for every node (each sorted by neighbour).
    pub fn adjacency(&self) -> Vec<Vec<(usize, u32)>> {
        let mut adj = vec![Vec::new(); self.n];
        for &(a, b, c) in &self.edges {
            if a < self.n && b < self.n {
                adj[a].push((b, c));
                adj[b].push((a, c));
            }
        }
        for row in &mut adj {
            row.sort_unstable();
        }
        adj
    }

    /// True if every node is reachable from node 0 (an empty graph counts as connected).
    pub fn is_connected(&self) -> bool {
        if self.n == 0 {
            return true;
        }
        distances(self, 0).iter().all(Option::is_some)
    }

    /// Both directions of every edge as link-state advertisements, node `i` having address
    /// `i + 1` (the input of `Topology::from_links`).
    pub fn directed_links(&self) -> Vec<(Address, Address, u32)> {
        self.edges
            .iter()
            .flat_map(|&(a, b, c)| {
                let (x, y) = (Address(a as u32 + 1), Address(b as u32 + 1));
                [(x, y, c), (y, x, c)]
            })
            .collect()
    }

    /// The graph as networkx node-link JSON, key order and spacing as Python's
    /// `json.dumps(networkx.node_link_data(g))` writes them, with each edge's cost under
    /// `weight_attr` when given.
    pub fn to_node_link_json(&self, weight_attr: Option<&str>) -> String {
        use std::fmt::Write as _;
        let attr = weight_attr.map(|a| Value::String(a.to_owned()).to_string());
        let mut out = String::with_capacity(32 + self.n * 12 + self.edges.len() * 48);
        out.push_str(r#"{"directed": false, "multigraph": false, "graph": {}, "nodes": ["#);
        for i in 0..self.n {
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(out, r#"{sep}{{"id": {i}}}"#);
        }
        out.push_str(r#"], "links": ["#);
        for (k, &(a, b, c)) in self.edges.iter().enumerate() {
            let sep = if k == 0 { "" } else { ", " };
            let _ = write!(out, r#"{sep}{{"source": {a}, "target": {b}"#);
            if let Some(attr) = &attr {
                let _ = write!(out, ", {attr}: {c}");
            }
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}

/// Shortest distances from `src` by the O(V²) array Dijkstra (linear scan for the closest
/// unsettled node, no heap); `None` for unreachable nodes (all `None` if `src` is out of
/// range).
pub fn distances(g: &TestGraph, src: usize) -> Vec<Option<u64>> {
    distances_adj(&g.adjacency(), src)
}

fn distances_adj(adj: &[Vec<(usize, u32)>], src: usize) -> Vec<Option<u64>> {
    let n = adj.len();
    let mut dist: Vec<Option<u64>> = vec![None; n];
    let mut done = vec![false; n];
    if src >= n {
        return dist;
    }
    dist[src] = Some(0);
    loop {
        let mut best: Option<(u64, usize)> = None;
        for v in 0..n {
            if let (false, Some(d)) = (done[v], dist[v])
                && best.is_none_or(|(bd, _)| d < bd)
            {
                best = Some((d, v));
            }
        }
        let Some((d, u)) = best else { break };
        done[u] = true;
        for &(v, c) in &adj[u] {
            let nd = d + u64::from(c);
            if dist[v].is_none_or(|old| nd < old) {
                dist[v] = Some(nd);
            }
        }
    }
    dist
}

/// For each destination `d ≠ src`, the neighbours `n` of `src` that start a shortest path:
/// `cost(src,n) + dist(n,d) == dist(src,d)`. Empty for `src` itself and unreachable nodes.
pub fn shortest_next_hops(g: &TestGraph, src: usize) -> Vec<BTreeSet<usize>> {
    let adj = g.adjacency();
    let mut out = vec![BTreeSet::new(); g.n];
    if src >= g.n {
        return out;
    }
    let from_src = distances_adj(&adj, src);
    for &(nb, c) in &adj[src] {
        let from_nb = distances_adj(&adj, nb);
        for d in 0..g.n {
            if d == src {
                continue;
            }
            if let (Some(sd), Some(nd)) = (from_src[d], from_nb[d])
                && u64::from(c) + nd == sd
            {
                out[d].insert(nb);
            }
        }
    }
    out
}

/// PDUs any IPCP of `sim` dropped for want of a route, by TTL or for an unknown endpoint,
/// plus PDUs the simulated links lost: what a routing change under traffic must keep at 0.
pub fn packets_lost(sim: &ouro_sim::Simulator) -> u64 {
    let dropped: u64 = (0..sim.graph().node_count())
        .map(|i| {
            let c = sim.ipcp(i).counters();
            c.drop_no_route + c.drop_ttl + c.drop_unknown_eid
        })
        .sum();
    dropped + sim.counters().pdus_lost
}

/// What a scheduler is shown on the busiest port: one queue per QoS cube (the most a port
/// has), each holding 1,024 packets of 1,400 bytes, the head of cube `c` waiting `c` ms.
pub fn backlogged_port() -> Vec<ouro_core::sched::QueueState> {
    (0..5u8)
        .map(|cube| ouro_core::sched::QueueState {
            id: u32::from(cube),
            cube,
            packets: 1024,
            bytes: 1024 * 1400,
            head_age: std::time::Duration::from_millis(u64::from(cube)),
            drops: 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_simple(g: &TestGraph) {
        let mut seen = HashSet::new();
        for &(a, b, c) in &g.edges {
            assert!(a < g.n && b < g.n);
            assert_ne!(a, b, "self loop");
            assert!(c >= 1);
            assert!(seen.insert((a.min(b), a.max(b))), "duplicate edge");
        }
    }

    #[test]
    fn fixed_shapes() {
        let l = TestGraph::line(5);
        assert_eq!(l.edges.len(), 4);
        assert!(l.is_connected());
        let r = TestGraph::ring(10);
        assert_eq!(r.edges.len(), 10);
        assert!(r.neighbors(0).iter().map(|x| x.0).eq([1, 9]));
        assert_eq!(TestGraph::ring(2).edges.len(), 1);
        assert_eq!(TestGraph::ring(0).n, 0);
        let g = TestGraph::grid(6, 4);
        assert_eq!(g.n, 24);
        assert_eq!(g.edges.len(), 5 * 4 + 6 * 3);
        assert!(g.is_connected());
        for g in [l, r, g] {
            check_simple(&g);
        }
    }

    #[test]
    fn random_connected_is_simple_connected_and_sized() {
        for (n, deg, seed) in [(1, 4.0, 1), (2, 4.0, 2), (50, 4.0, 3), (300, 6.0, 4)] {
            let g = TestGraph::random_connected(n, deg, 10, seed);
            assert_eq!(g.n, n);
            check_simple(&g);
            assert!(g.is_connected());
            let max = n * (n - 1) / 2;
            let wanted = ((n as f64 * deg / 2.0).round() as usize).min(max);
            assert_eq!(g.edges.len(), wanted.max(n.saturating_sub(1)));
            assert!(g.edges.iter().all(|e| e.2 <= 10));
        }
        // Asking for more than complete stops at complete.
        let g = TestGraph::random_connected(6, 50.0, 1, 9);
        assert_eq!(g.edges.len(), 15);
        assert_eq!(TestGraph::random_connected(0, 4.0, 1, 0).edges.len(), 0);
    }

    #[test]
    fn random_connected_is_deterministic() {
        let a = TestGraph::random_connected(200, 4.0, 5, 42);
        let b = TestGraph::random_connected(200, 4.0, 5, 42);
        let c = TestGraph::random_connected(200, 4.0, 5, 43);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn oracle_on_small_graphs() {
        let r = TestGraph::ring(6);
        let d = distances(&r, 0);
        assert_eq!(d, [0, 1, 2, 3, 2, 1].map(Some).to_vec());
        let nh = shortest_next_hops(&r, 0);
        assert!(nh[0].is_empty());
        assert_eq!(nh[3], BTreeSet::from([1, 5]));
        assert_eq!(nh[2], BTreeSet::from([1]));
        let g = TestGraph {
            n: 3,
            edges: vec![(0, 1, 2)],
        };
        assert_eq!(distances(&g, 0), vec![Some(0), Some(2), None]);
        assert!(shortest_next_hops(&g, 0)[2].is_empty());
        assert!(distances(&g, 9).iter().all(Option::is_none));
    }

    use serde_json::json;

    #[test]
    fn node_link_json() {
        let g = TestGraph {
            n: 2,
            edges: vec![(0, 1, 3)],
        };
        let v: Value = serde_json::from_str(&g.to_node_link_json(Some("weight"))).expect("json");
        assert_eq!(
            v,
            json!({
                "directed": false, "multigraph": false, "graph": {},
                "nodes": [{"id": 0}, {"id": 1}],
                "links": [{"source": 0, "target": 1, "weight": 3}]
            })
        );
        assert_eq!(
            g.to_node_link_json(Some("cost")),
            r#"{"directed": false, "multigraph": false, "graph": {}, "nodes": [{"id": 0}, {"id": 1}], "links": [{"source": 0, "target": 1, "cost": 3}]}"#
        );
        let v: Value = serde_json::from_str(&g.to_node_link_json(None)).expect("json");
        assert_eq!(v["links"], json!([{"source": 0, "target": 1}]));
    }

    #[test]
    fn directed_links_use_index_plus_one() {
        let l = TestGraph::line(2).directed_links();
        assert_eq!(
            l,
            vec![(Address(1), Address(2), 1), (Address(2), Address(1), 1)]
        );
    }
}
