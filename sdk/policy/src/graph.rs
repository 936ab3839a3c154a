//! Graph helpers over the host's topology (compressed sparse rows): Dijkstra, equal-cost
//! first hops and RFC 5286 loop-free alternates, with reusable scratch buffers.

use crate::heap::RadixHeap;
use crate::table::FlatTable;

/// The distance of a node that cannot be reached.
pub const UNREACHABLE: u64 = u64::MAX;

/// Why a topology handed to [`Graph::new`] is malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphError {
    /// `offsets` does not have one element more than `addresses`.
    OffsetsLength,
    /// An offset is decreasing or past the end of `targets`.
    BadOffset,
    /// `targets` and `costs` differ in length.
    CostsLength,
    /// A link target is not a node index.
    BadTarget,
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            GraphError::OffsetsLength => "offsets must have one element more than addresses",
            GraphError::BadOffset => "offsets must be non-decreasing and within targets",
            GraphError::CostsLength => "targets and costs must have the same length",
            GraphError::BadTarget => "a link target is not a node index",
        };
        f.write_str(s)
    }
}

impl std::error::Error for GraphError {}

/// A checked, borrowed view of a topology: node `i` has address `addresses[i]` and links
/// `targets[offsets[i]..offsets[i + 1]]` with `costs[...]`.
#[derive(Clone, Copy, Debug)]
pub struct Graph<'a> {
    addresses: &'a [u32],
    offsets: &'a [u32],
    targets: &'a [u32],
    costs: &'a [u32],
}

impl<'a> Graph<'a> {
    /// Check the arrays and wrap them.
    pub fn new(
        addresses: &'a [u32],
        offsets: &'a [u32],
        targets: &'a [u32],
        costs: &'a [u32],
    ) -> Result<Graph<'a>, GraphError> {
        if offsets.len() != addresses.len() + 1 {
            return Err(GraphError::OffsetsLength);
        }
        if targets.len() != costs.len() {
            return Err(GraphError::CostsLength);
        }
        if offsets.first() != Some(&0)
            || offsets.windows(2).any(|w| w[0] > w[1])
            || offsets.last().map(|&o| o as usize) != Some(targets.len())
        {
            return Err(GraphError::BadOffset);
        }
        if targets.iter().any(|&t| t as usize >= addresses.len()) {
            return Err(GraphError::BadTarget);
        }
        Ok(Graph {
            addresses,
            offsets,
            targets,
            costs,
        })
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.addresses.len()
    }

    /// True if the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    /// Node addresses, ascending.
    pub fn addresses(&self) -> &'a [u32] {
        self.addresses
    }

    /// The index of the node with address `addr`.
    pub fn index_of(&self, addr: u32) -> Option<usize> {
        self.addresses.binary_search(&addr).ok()
    }

    /// The links of node `i`: (target indices, costs).
    pub fn row(&self, i: usize) -> (&'a [u32], &'a [u32]) {
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        (&self.targets[a..b], &self.costs[a..b])
    }
}

/// Which next hops [`Routes::compute`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteOptions {
    /// Keep every equal-cost first hop (else only the one with the lowest address).
    pub ecmp: bool,
    /// Add one loop-free alternate per destination where one exists.
    pub lfa: bool,
}

impl RouteOptions {
    /// One shortest-path next hop per destination.
    pub const SPF: RouteOptions = RouteOptions {
        ecmp: false,
        lfa: false,
    };
    /// All equal-cost next hops.
    pub const ECMP: RouteOptions = RouteOptions {
        ecmp: true,
        lfa: false,
    };
    /// All equal-cost next hops plus loop-free alternates.
    pub const ECMP_LFA: RouteOptions = RouteOptions {
        ecmp: true,
        lfa: true,
    };
}

/// Reusable Dijkstra state.
#[derive(Clone, Debug, Default)]
pub struct Dijkstra {
    /// Distances by node index after the last run.
    pub dist: Vec<u64>,
    heap: RadixHeap,
}

impl Dijkstra {
    /// Shortest distances from `src` into `self.dist`.
    pub fn run(&mut self, g: &Graph<'_>, src: usize) {
        self.dist.clear();
        self.dist.resize(g.len(), UNREACHABLE);
        self.heap.clear();
        if src >= g.len() {
            return;
        }
        self.dist[src] = 0;
        self.heap.push(0, src as u32);
        while let Some((d, u)) = self.heap.pop() {
            let u = u as usize;
            if d > self.dist[u] {
                continue;
            }
            let (targets, costs) = g.row(u);
            for (&v, &c) in targets.iter().zip(costs) {
                let nd = d + u64::from(c.max(1));
                if nd < self.dist[v as usize] {
                    self.dist[v as usize] = nd;
                    self.heap.push(nd, v);
                }
            }
        }
    }

    /// Dijkstra from `nb`, a neighbour of `src`, for the LFA check (`dist_src` = distances
    /// from `src`). A node `u` with `dist(nb,u) >= dist(nb,src) + dist(src,u)` is settled
    /// but not expanded: every destination reached through it fails RFC 5286 inequality 1
    /// anyway, while the distances of destinations that pass it stay exact.
    pub fn run_alternate(&mut self, g: &Graph<'_>, nb: usize, src: usize, dist_src: &[u64]) {
        self.dist.clear();
        self.dist.resize(g.len(), UNREACHABLE);
        self.heap.clear();
        if nb >= g.len() {
            return;
        }
        self.dist[nb] = 0;
        self.heap.push(0, nb as u32);
        let mut d_ns = UNREACHABLE;
        while let Some((d, u)) = self.heap.pop() {
            let u = u as usize;
            if d > self.dist[u] {
                continue;
            }
            if u == src {
                d_ns = d;
                continue;
            }
            if d >= d_ns.saturating_add(dist_src.get(u).copied().unwrap_or(UNREACHABLE)) {
                continue;
            }
            let (targets, costs) = g.row(u);
            for (&v, &c) in targets.iter().zip(costs) {
                let nd = d + u64::from(c.max(1));
                if nd < self.dist[v as usize] {
                    self.dist[v as usize] = nd;
                    self.heap.push(nd, v);
                }
            }
        }
    }
}

/// Shortest-path routes from one node, with scratch buffers kept between computations.
#[derive(Clone, Debug, Default)]
pub struct Routes {
    spf: Dijkstra,
    alt: Dijkstra,
    /// First-hop bitsets, `stride` words per node; bit `k` = the `k`-th neighbour of `own`.
    first: Vec<u64>,
    /// Best alternate per destination: (metric, neighbour position + 1; 0 = none).
    lfa: Vec<(u64, u32)>,
}

impl Routes {
    /// A fresh computation state.
    pub fn new() -> Routes {
        Routes::default()
    }

    /// One-shot convenience: routes from `own` in `g`.
    pub fn compute(g: &Graph<'_>, own: u32, options: RouteOptions) -> FlatTable {
        Routes::new().table(g, own, options)
    }

    /// Routes from the node with address `own` (an empty table if it is not in `g`).
    pub fn table(&mut self, g: &Graph<'_>, own: u32, options: RouteOptions) -> FlatTable {
        let mut out = FlatTable::default();
        let Some(src) = g.index_of(own) else {
            return out;
        };
        let (nbrs, _) = g.row(src);
        let degree = nbrs.len();
        if degree == 0 {
            return out;
        }
        let stride = degree.div_ceil(64);
        self.first_hops(g, src, stride);
        if options.lfa && degree > 1 {
            self.alternates(g, src, stride);
        } else {
            // No alternates this time: none may leak from a previous computation.
            self.lfa.clear();
        }
        let n = g.len();
        let mut hops = Vec::new();
        for d in 0..n {
            if d == src || self.spf.dist[d] == UNREACHABLE {
                continue;
            }
            hops.clear();
            let row = &self.first[d * stride..(d + 1) * stride];
            for (w, &word) in row.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let k = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    hops.push(g.addresses()[nbrs[k] as usize]);
                }
            }
            if !options.ecmp {
                hops.truncate(1);
            }
            let alt = match self.lfa.get(d) {
                Some(&(_, k)) if options.lfa && k > 0 => {
                    g.addresses()[nbrs[k as usize - 1] as usize]
                }
                _ => 0,
            };
            out.push(g.addresses()[d], &hops, alt);
        }
        out
    }

    /// Dijkstra from `src` propagating first-hop sets: a node's set is final when it is
    /// settled (costs are >= 1, so all its shortest-path predecessors were settled first).
    fn first_hops(&mut self, g: &Graph<'_>, src: usize, stride: usize) {
        let n = g.len();
        let dist = &mut self.spf.dist;
        let heap = &mut self.spf.heap;
        let fh = &mut self.first;
        dist.clear();
        dist.resize(n, UNREACHABLE);
        fh.clear();
        fh.resize(n * stride, 0);
        heap.clear();
        dist[src] = 0;
        let (nbrs, costs) = g.row(src);
        for (k, (&v, &c)) in nbrs.iter().zip(costs).enumerate() {
            let (v, nd) = (v as usize, u64::from(c.max(1)));
            if nd < dist[v] {
                dist[v] = nd;
                fh[v * stride..(v + 1) * stride].fill(0);
                heap.push(nd, v as u32);
            }
            if nd == dist[v] {
                fh[v * stride + k / 64] |= 1 << (k % 64);
            }
        }
        while let Some((d, u)) = heap.pop() {
            let u = u as usize;
            if d > dist[u] {
                continue;
            }
            let (targets, costs) = g.row(u);
            for (&v, &c) in targets.iter().zip(costs) {
                let v = v as usize;
                if v == src {
                    continue;
                }
                let nd = d + u64::from(c.max(1));
                if nd < dist[v] {
                    dist[v] = nd;
                    if stride == 1 {
                        fh[v] = fh[u];
                    } else {
                        fh.copy_within(u * stride..(u + 1) * stride, v * stride);
                    }
                    heap.push(nd, v as u32);
                } else if nd == dist[v] {
                    for w in 0..stride {
                        let bits = fh[u * stride + w];
                        fh[v * stride + w] |= bits;
                    }
                }
            }
        }
    }

    /// RFC 5286 loop-free alternates: neighbour `n` protects `d` if
    /// `dist(n, d) < dist(n, src) + dist(src, d)`; the cheapest (then lowest address) wins.
    fn alternates(&mut self, g: &Graph<'_>, src: usize, stride: usize) {
        let n = g.len();
        self.lfa.clear();
        self.lfa.resize(n, (UNREACHABLE, 0));
        let (nbrs, costs) = g.row(src);
        for (k, (&nb, &c)) in nbrs.iter().zip(costs).enumerate() {
            self.alt.run_alternate(g, nb as usize, src, &self.spf.dist);
            let d_ns = self.alt.dist[src];
            for d in 0..n {
                let (d_sd, d_nd) = (self.spf.dist[d], self.alt.dist[d]);
                if d == src || d_sd == UNREACHABLE || d_nd == UNREACHABLE {
                    continue;
                }
                if self.first[d * stride + k / 64] & (1 << (k % 64)) != 0 {
                    continue;
                }
                if d_nd >= d_ns.saturating_add(d_sd) {
                    continue;
                }
                let metric = u64::from(c.max(1)) + d_nd;
                if metric < self.lfa[d].0 {
                    self.lfa[d] = (metric, k as u32 + 1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A square 1-2-3-4-1 plus a diagonal 1-3 of cost 3.
    fn square() -> (Vec<u32>, Vec<u32>, Vec<u32>, Vec<u32>) {
        let addrs = vec![1, 2, 3, 4];
        // rows: 1:[2,3,4] 2:[1,3] 3:[1,2,4] 4:[1,3]
        let offsets = vec![0, 3, 5, 8, 10];
        let targets = vec![1, 2, 3, 0, 2, 0, 1, 3, 0, 2];
        let costs = vec![1, 3, 1, 1, 1, 3, 1, 1, 1, 1];
        (addrs, offsets, targets, costs)
    }

    #[test]
    fn ecmp_and_lfa_on_a_square() {
        let (a, o, t, c) = square();
        let g = Graph::new(&a, &o, &t, &c).expect("valid graph");
        let table = Routes::compute(&g, 1, RouteOptions::ECMP_LFA);
        assert_eq!(table.destinations, vec![2, 3, 4]);
        // To 3: via 2 and via 4 (cost 2 each); the diagonal (cost 3) is an LFA.
        assert_eq!(table.hops(1), &[2, 4]);
        assert_eq!(table.alternates[1], 3);
        let spf = Routes::compute(&g, 1, RouteOptions::SPF);
        assert_eq!(spf.hops(1), &[2]);
        assert_eq!(spf.alternates, vec![0, 0, 0]);
    }

    #[test]
    fn reused_state_gives_the_same_tables() {
        let (a, o, t, c) = square();
        let g = Graph::new(&a, &o, &t, &c).expect("valid");
        // A line 1 - 2: node 1 has one neighbour, so no alternates.
        let line = Graph::new(&[1, 2], &[0, 1, 2], &[1, 0], &[1, 1]).expect("valid");
        let mut routes = Routes::new();
        for own in [1, 2, 3, 4] {
            let kept = routes.table(&g, own, RouteOptions::ECMP_LFA);
            assert_eq!(kept, Routes::compute(&g, own, RouteOptions::ECMP_LFA));
            let kept = routes.table(&line, 1, RouteOptions::ECMP_LFA);
            assert_eq!(kept, Routes::compute(&line, 1, RouteOptions::ECMP_LFA));
        }
    }

    #[test]
    fn malformed_topologies_are_rejected() {
        assert_eq!(
            Graph::new(&[1], &[0], &[], &[]).err(),
            Some(GraphError::OffsetsLength)
        );
        assert_eq!(
            Graph::new(&[1], &[0, 1], &[5], &[1]).err(),
            Some(GraphError::BadTarget)
        );
        assert_eq!(
            Graph::new(&[1], &[0, 2], &[0], &[1]).err(),
            Some(GraphError::BadOffset)
        );
    }
}
