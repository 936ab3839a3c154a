//! The native reference routing policy: Dijkstra, ECMP sets and loop-free alternates.
//!
//! One Dijkstra from the computing node yields the distances and, for every destination, the
//! full set of equal-cost first hops: the set is kept as a bitset over the node's own
//! neighbours and propagated from predecessors in distance order (link costs are ≥ 1, so a
//! node's predecessors are all settled before it). Loop-free alternates (RFC 5286) need the
//! distances from each neighbour, so one more Dijkstra runs per neighbour. All scratch
//! buffers live in the policy and are reused between computations.

use super::{NextHops, RoutingError, RoutingPolicy, RoutingTable, Topology};
use crate::Address;
use std::collections::BTreeMap;

/// Shortest paths over link costs with all equal-cost next hops and one loop-free alternate
/// per destination where one exists.
#[derive(Clone, Debug, Default)]
pub struct NativeSpf {
    /// Distances from the computing node, by node index.
    dist: Vec<u64>,
    /// Distances from the neighbour currently examined for LFAs.
    alt_dist: Vec<u64>,
    /// First-hop bitsets, `stride` words per node; bit `k` = the `k`-th neighbour of `own`.
    first_hops: Vec<u64>,
    /// Best alternate so far per destination: (cost via it, neighbour position + 1; 0 = none).
    lfa: Vec<(u64, u32)>,
    /// The Dijkstra priority queue (lazy deletion).
    heap: RadixHeap,
    /// The source and bitset stride of the last [`NativeSpf::check_from`] run.
    checked: Option<(usize, usize)>,
}

/// The distance of a node that cannot be reached.
const UNREACHABLE: u64 = NativeSpf::UNREACHABLE;

impl NativeSpf {
    /// The distance of a node that cannot be reached, in [`NativeSpf::distances`].
    pub const UNREACHABLE: u64 = u64::MAX;

    /// A policy with empty scratch buffers.
    pub fn new() -> NativeSpf {
        NativeSpf::default()
    }

    /// Plain single-source shortest distances from `own`, indexed by node index
    /// ([`Topology::index_of`]), [`NativeSpf::UNREACHABLE`] for nodes that cannot be reached; empty if
    /// `own` is not in the topology. No next hops are computed (a baseline for benchmarks
    /// and a helper for diagnostics).
    pub fn distances(&mut self, own: Address, topology: &Topology) -> &[u64] {
        match topology.index_of(own) {
            Some(src) => {
                self.checked = None;
                dijkstra(topology, src, &mut self.dist, &mut self.heap);
                &self.dist
            }
            None => &[],
        }
    }

    /// Prepare to check another policy's output computed by `own`: one Dijkstra from `own`
    /// with the equal-cost first-hop sets, queried with [`NativeSpf::own_distance`] and
    /// [`NativeSpf::is_first_hop`]; distances from `own`'s neighbours come from
    /// [`NativeSpf::neighbour_distances`]. False if `own` is not in the topology.
    pub fn check_from(&mut self, own: Address, topology: &Topology) -> bool {
        self.checked = None;
        let Some(src) = topology.index_of(own) else {
            return false;
        };
        let stride = topology.degree(src).div_ceil(64).max(1);
        self.spf_with_first_hops(topology, src, stride);
        self.checked = Some((src, stride));
        true
    }

    /// After [`NativeSpf::check_from`]: the distance from `own` to node `d`
    /// ([`NativeSpf::UNREACHABLE`] if it cannot be reached or is out of range).
    pub fn own_distance(&self, d: usize) -> u64 {
        self.dist.get(d).copied().unwrap_or(UNREACHABLE)
    }

    /// After [`NativeSpf::check_from`]: true if `own`'s `k`-th neighbour (in address
    /// order) starts a shortest path from `own` to node `d`. Such a next hop is strictly
    /// closer to `d` than `own` (costs are ≥ 1).
    pub fn is_first_hop(&self, d: usize, k: usize) -> bool {
        let Some((src, stride)) = self.checked else {
            return false;
        };
        if d == src || self.own_distance(d) == UNREACHABLE {
            return false;
        }
        self.first_hops
            .get(d * stride + k / 64)
            .is_some_and(|w| w & (1u64 << (k % 64)) != 0)
    }

    /// After [`NativeSpf::check_from`]: distances from `own`'s `k`-th neighbour `n` into
    /// `out`, pruned as for the LFA computation: exact for every destination `d` with
    /// `dist(n,d) < dist(n,own) + dist(own,d)` (which includes every `d` with
    /// `dist(n,d) < dist(own,d)`), never below the true distance elsewhere. So both the
    /// downstream test and RFC 5286 inequality 1 give the exact answer on these values.
    /// `out` is left empty if `k` is out of range.
    pub fn neighbour_distances(&mut self, topology: &Topology, k: usize, out: &mut Vec<u64>) {
        out.clear();
        let Some((src, _)) = self.checked else { return };
        let (targets, _) = topology.row_slices(src);
        let Some(&nb) = targets.get(k) else { return };
        alternate_dijkstra(topology, nb as usize, src, &self.dist, out, &mut self.heap);
    }

    /// The main run: distances from `src` into `self.dist` and first-hop sets into
    /// `self.first_hops` (`stride` words per node).
    fn spf_with_first_hops(&mut self, topology: &Topology, src: usize, stride: usize) {
        let n = topology.len();
        let dist = &mut self.dist;
        let fh = &mut self.first_hops;
        let heap = &mut self.heap;
        dist.clear();
        dist.resize(n, UNREACHABLE);
        // Every row is fully written when its node is first reached, so stale contents from a
        // previous run never leak; only the length must be right.
        fh.resize(n * stride, 0);
        heap.clear();

        let Some(d0) = dist.get_mut(src) else { return };
        *d0 = 0;

        // Seed: the direct neighbours, each first hop to itself.
        let (targets, costs) = topology.row_slices(src);
        for (k, (&v, &c)) in targets.iter().zip(costs).enumerate() {
            let v = v as usize;
            let nd = u64::from(c);
            let row = &mut fh[v * stride..(v + 1) * stride];
            row.fill(0);
            row[k / 64] |= 1u64 << (k % 64);
            dist[v] = nd;
            heap.push(nd, v as u32);
        }

        while let Some((d, u)) = heap.pop() {
            let u = u as usize;
            if d > dist[u] {
                continue; // stale entry
            }
            let (targets, costs) = topology.row_slices(u);
            for (&v, &c) in targets.iter().zip(costs) {
                let v = v as usize;
                let nd = d + u64::from(c);
                let dv = dist[v];
                if nd < dv {
                    dist[v] = nd;
                    copy_row(fh, u, v, stride);
                    heap.push(nd, v as u32);
                } else if nd == dv && v != src {
                    or_row(fh, u, v, stride);
                }
            }
        }
    }
}

/// A monotone priority queue for Dijkstra (a radix heap): keys pushed are never below the
/// last key popped. Bucket `i > 0` holds keys whose highest bit differing from the last
/// popped key is bit `i - 1`; bucket 0 holds keys equal to it. Popping refills bucket 0 by
/// redistributing the first non-empty bucket around its minimum, so each entry moves at
/// most 64 times and usually far fewer; all buckets keep their allocations between runs.
#[derive(Clone, Debug)]
struct RadixHeap {
    last: u64,
    len: usize,
    buckets: [Vec<(u64, u32)>; 65],
}

impl Default for RadixHeap {
    fn default() -> Self {
        RadixHeap {
            last: 0,
            len: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }
}

impl RadixHeap {
    fn clear(&mut self) {
        self.last = 0;
        self.len = 0;
        for b in &mut self.buckets {
            b.clear();
        }
    }

    #[inline]
    fn bucket(last: u64, key: u64) -> usize {
        (64 - (key ^ last).leading_zeros()) as usize
    }

    /// Push `(key, value)`; `key` must be ≥ the last popped key (clamped up if not, which
    /// never happens in Dijkstra with non-negative costs).
    #[inline]
    fn push(&mut self, key: u64, value: u32) {
        let key = key.max(self.last);
        let b = Self::bucket(self.last, key);
        if let Some(bucket) = self.buckets.get_mut(b) {
            bucket.push((key, value));
            self.len += 1;
        }
    }

    /// Pop an entry with the smallest key.
    #[inline]
    fn pop(&mut self) -> Option<(u64, u32)> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].is_empty() {
            let i = self.buckets.iter().position(|b| !b.is_empty())?;
            let mut moving = std::mem::take(&mut self.buckets[i]);
            let new_last = moving.iter().map(|&(k, _)| k).min()?;
            self.last = new_last;
            for &(k, v) in &moving {
                let b = Self::bucket(new_last, k);
                if let Some(bucket) = self.buckets.get_mut(b) {
                    bucket.push((k, v));
                }
            }
            moving.clear();
            // Give the (now empty) allocation back so it is reused.
            self.buckets[i] = moving;
        }
        let item = self.buckets[0].pop()?;
        self.len -= 1;
        Some(item)
    }
}

/// `fh[v] = fh[u]` for bitset rows of `stride` words.
#[inline]
fn copy_row(fh: &mut [u64], u: usize, v: usize, stride: usize) {
    if stride == 1 {
        fh[v] = fh[u];
    } else {
        fh.copy_within(u * stride..(u + 1) * stride, v * stride);
    }
}

/// `fh[v] |= fh[u]` for bitset rows of `stride` words.
#[inline]
fn or_row(fh: &mut [u64], u: usize, v: usize, stride: usize) {
    for w in 0..stride {
        let x = fh[u * stride + w];
        fh[v * stride + w] |= x;
    }
}

/// Plain Dijkstra from node `src` into `dist` (resized to the topology, [`UNREACHABLE`] for
/// nodes not reached).
fn dijkstra(topology: &Topology, src: usize, dist: &mut Vec<u64>, heap: &mut RadixHeap) {
    dist.clear();
    dist.resize(topology.len(), UNREACHABLE);
    heap.clear();
    let Some(d0) = dist.get_mut(src) else { return };
    *d0 = 0;
    heap.push(0, src as u32);
    while let Some((d, u)) = heap.pop() {
        let u = u as usize;
        if d > dist[u] {
            continue;
        }
        relax(topology, u, d, dist, heap);
    }
}

/// Relax the links of `u`, settled at distance `d`.
fn relax(topology: &Topology, u: usize, d: u64, dist: &mut [u64], heap: &mut RadixHeap) {
    let (targets, costs) = topology.row_slices(u);
    for (&v, &c) in targets.iter().zip(costs) {
        let v = v as usize;
        let nd = d + u64::from(c);
        if nd < dist[v] {
            dist[v] = nd;
            heap.push(nd, v as u32);
        }
    }
}

/// Dijkstra from `nb`, a neighbour of `src`, for the LFA check, into `dist`.
///
/// A node `u` with `dist(nb,u) ≥ dist(nb,src) + dist(src,u)` is settled but not expanded:
/// every destination reached through it fails RFC 5286 inequality 1 anyway (by the
/// triangle inequality), while every node on a shortest path to a destination that
/// satisfies it satisfies it too. So the distances computed are exact for every destination
/// that satisfies the inequality, and no smaller than the true ones elsewhere (still
/// failing it), which is all the LFA selection needs. `src` itself is never expanded.
fn alternate_dijkstra(
    topology: &Topology,
    nb: usize,
    src: usize,
    dist_src: &[u64],
    dist: &mut Vec<u64>,
    heap: &mut RadixHeap,
) {
    dist.clear();
    dist.resize(topology.len(), UNREACHABLE);
    heap.clear();
    let Some(d0) = dist.get_mut(nb) else { return };
    *d0 = 0;
    heap.push(0, nb as u32);
    // dist(nb, src), once settled.
    let mut d_ns = UNREACHABLE;
    while let Some((d, u)) = heap.pop() {
        let u = u as usize;
        if d > dist[u] {
            continue;
        }
        if u == src {
            d_ns = d;
            continue;
        }
        // Before `src` is settled, d_ns ≥ d and the test cannot hold (dist_src[u] ≥ 1).
        if d >= d_ns.saturating_add(dist_src.get(u).copied().unwrap_or(UNREACHABLE)) {
            continue;
        }
        relax(topology, u, d, dist, heap);
    }
}

impl RoutingPolicy for NativeSpf {
    fn name(&self) -> &str {
        "native"
    }

    fn compute(&mut self, own: Address, topology: &Topology) -> Result<RoutingTable, RoutingError> {
        self.checked = None;
        let Some(src) = topology.index_of(own) else {
            return Ok(RoutingTable::default());
        };
        let n = topology.len();
        let (own_targets, own_costs) = topology.row_slices(src);
        let degree = own_targets.len();
        if degree == 0 {
            return Ok(RoutingTable::default());
        }
        let stride = degree.div_ceil(64);

        self.spf_with_first_hops(topology, src, stride);

        // Loop-free alternates: with a single neighbour every path starts there, so none.
        self.lfa.clear();
        self.lfa.resize(n, (UNREACHABLE, 0));
        if degree > 1 {
            for (k, (&nb, &c_sn)) in own_targets.iter().zip(own_costs).enumerate() {
                alternate_dijkstra(
                    topology,
                    nb as usize,
                    src,
                    &self.dist,
                    &mut self.alt_dist,
                    &mut self.heap,
                );
                let d_ns = self.alt_dist[src];
                let bit = 1u64 << (k % 64);
                let word = k / 64;
                let c_sn = u64::from(c_sn);
                for (d, (&d_sd, &d_nd)) in self.dist.iter().zip(&self.alt_dist).enumerate() {
                    if d == src || d_sd == UNREACHABLE || d_nd == UNREACHABLE {
                        continue;
                    }
                    if self.first_hops[d * stride + word] & bit != 0 {
                        continue; // already a primary next hop
                    }
                    // RFC 5286 inequality 1: dist(N,D) < dist(N,S) + dist(S,D).
                    if d_nd >= d_ns.saturating_add(d_sd) {
                        continue;
                    }
                    let metric = c_sn + d_nd;
                    // Neighbours are visited in ascending address order, so a strict
                    // improvement keeps the lowest address on ties.
                    let best = &mut self.lfa[d];
                    if metric < best.0 {
                        *best = (metric, k as u32 + 1);
                    }
                }
            }
        }

        let own_addrs: Vec<Address> = own_targets
            .iter()
            .map(|&t| topology.address(t as usize).unwrap_or(Address::NONE))
            .collect();
        let mut routes = Vec::with_capacity(n.saturating_sub(1));
        for (d, &dd) in self.dist.iter().enumerate() {
            if d == src || dd == UNREACHABLE {
                continue;
            }
            let Some(dst) = topology.address(d) else {
                continue;
            };
            let row = &self.first_hops[d * stride..(d + 1) * stride];
            let count: u32 = row.iter().map(|w| w.count_ones()).sum();
            let mut ecmp = Vec::with_capacity(count as usize);
            for (w, &word) in row.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let k = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if let Some(&a) = own_addrs.get(k) {
                        ecmp.push(a);
                    }
                }
            }
            let lfa = match self.lfa.get(d) {
                Some(&(_, k)) if k > 0 => own_addrs.get(k as usize - 1).copied(),
                _ => None,
            };
            routes.push((dst, NextHops { ecmp, lfa }));
        }
        // `routes` is already sorted by address: the map is bulk-built in linear time.
        let routes: BTreeMap<Address, NextHops> = routes.into_iter().collect();
        Ok(RoutingTable {
            routes,
            cubes: BTreeMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(x: u32) -> Address {
        Address(x)
    }

    /// Two-way links for every undirected `(x, y, cost)`.
    fn topo(edges: &[(u32, u32, u32)]) -> Topology {
        Topology::from_links(
            edges
                .iter()
                .flat_map(|&(x, y, c)| [(a(x), a(y), c), (a(y), a(x), c)]),
        )
    }

    fn table(own: u32, t: &Topology) -> RoutingTable {
        NativeSpf::new()
            .compute(a(own), t)
            .expect("native never fails")
    }

    fn hops(t: &RoutingTable, dst: u32) -> (Vec<u32>, Option<u32>) {
        let h = t.routes.get(&a(dst)).expect("route present");
        (h.ecmp.iter().map(|x| x.0).collect(), h.lfa.map(|x| x.0))
    }

    #[test]
    fn radix_heap_pops_in_order() {
        let mut h = RadixHeap::default();
        let mut rng = crate::rng::SplitMix64::new(3);
        let mut popped = Vec::new();
        let mut last = 0;
        for round in 0..200u32 {
            for _ in 0..3 {
                h.push(last + rng.below(1 << (round % 40)), round);
            }
            if let Some((k, _)) = h.pop() {
                assert!(k >= last);
                last = k;
                popped.push(k);
            }
        }
        while let Some((k, _)) = h.pop() {
            assert!(k >= last);
            last = k;
            popped.push(k);
        }
        assert_eq!(popped.len(), 600);
        h.clear();
        assert_eq!(h.pop(), None);
        h.push(5, 1);
        h.push(5, 2);
        h.push(u64::MAX, 3);
        assert_eq!(h.pop().map(|x| x.0), Some(5));
        assert_eq!(h.pop().map(|x| x.0), Some(5));
        assert_eq!(h.pop(), Some((u64::MAX, 3)));
    }

    #[test]
    fn name_is_native() {
        assert_eq!(NativeSpf::new().name(), "native");
    }

    #[test]
    fn line() {
        let t = topo(&[(1, 2, 1), (2, 3, 1), (3, 4, 1)]);
        let r = table(1, &t);
        assert_eq!(r.routes.len(), 3);
        for d in 2..=4 {
            assert_eq!(hops(&r, d), (vec![2], None));
        }
        assert!(!r.routes.contains_key(&a(1)));
        let r = table(2, &t);
        assert_eq!(hops(&r, 1), (vec![1], None));
        assert_eq!(hops(&r, 4), (vec![3], None));
        assert_eq!(NativeSpf::new().distances(a(1), &t), &[0, 1, 2, 3]);
    }

    #[test]
    fn even_ring_has_two_paths_to_the_opposite_node() {
        // 1-2-3-4-5-6-1
        let edges: Vec<_> = (1..=6).map(|i| (i, i % 6 + 1, 1)).collect();
        let t = topo(&edges);
        let r = table(1, &t);
        assert_eq!(hops(&r, 4), (vec![2, 6], None));
        assert_eq!(hops(&r, 2).0, vec![2]);
        assert_eq!(hops(&r, 3).0, vec![2]);
        assert_eq!(hops(&r, 5).0, vec![6]);
        // Via 6, 2 is 4 away; 6 reaches 2 in 4 < dist(6,1) + dist(1,2) = 2? No: no LFA.
        assert_eq!(hops(&r, 2).1, None);
    }

    #[test]
    fn odd_ring_single_paths_and_lfa() {
        // 1-2-3-4-5-1: from 1, node 3 via 2 (2 hops); via 5 is 3 hops.
        let edges: Vec<_> = (1..=5).map(|i| (i, i % 5 + 1, 1)).collect();
        let t = topo(&edges);
        let r = table(1, &t);
        assert_eq!(hops(&r, 3).0, vec![2]);
        assert_eq!(hops(&r, 4).0, vec![5]);
        // dist(5,3) = 2 < dist(5,1) + dist(1,3) = 1 + 2: 5 is an LFA for 3.
        assert_eq!(hops(&r, 3).1, Some(5));
        assert_eq!(hops(&r, 4).1, Some(2));
        // dist(5,2) = 3, not < 1 + 1.
        assert_eq!(hops(&r, 2).1, None);
    }

    #[test]
    fn square_with_a_diagonal() {
        // Square 1-2-3-4-1 (cost 1) with diagonal 1-3 of cost 2: two equal paths plus the
        // direct link, all of cost 2, towards 3.
        let t = topo(&[(1, 2, 1), (2, 3, 1), (3, 4, 1), (4, 1, 1), (1, 3, 2)]);
        let r = table(1, &t);
        assert_eq!(hops(&r, 3), (vec![2, 3, 4], None));
        assert_eq!(hops(&r, 2).0, vec![2]);
        // To 2: via 3 costs 2 + 1 = 3 and dist(3,2) = 1 < dist(3,1) + dist(1,2) = 2 + 1.
        // Via 4: dist(4,2) = 2 < 1 + 1 = 2? No. So 3 is the LFA.
        assert_eq!(hops(&r, 2).1, Some(3));
        assert_eq!(hops(&r, 4).1, Some(3));
        // A cheap diagonal wins alone.
        let t = topo(&[(1, 2, 1), (2, 3, 1), (3, 4, 1), (4, 1, 1), (1, 3, 1)]);
        assert_eq!(hops(&table(1, &t), 3).0, vec![3]);
    }

    #[test]
    fn one_way_advertisement_is_ignored() {
        let mut links = vec![(a(1), a(2), 1), (a(2), a(1), 1)];
        links.push((a(2), a(3), 1)); // 3 never confirms
        links.push((a(3), a(4), 1));
        links.push((a(4), a(3), 1));
        let t = Topology::from_links(links);
        let r = table(1, &t);
        assert_eq!(r.routes.len(), 1);
        assert_eq!(hops(&r, 2), (vec![2], None));
    }

    #[test]
    fn lfa_present_and_absent() {
        // Triangle 1-2-3 plus 3-4; from 1, 4 goes via 3 (cost 1+1), the alternate via 2
        // (cost 1 + dist(2,4) = 2): dist(2,4) = 2 < dist(2,1) + dist(1,4) = 1 + 2.
        let t = topo(&[(1, 2, 1), (2, 3, 1), (1, 3, 1), (3, 4, 1)]);
        let r = table(1, &t);
        assert_eq!(hops(&r, 4), (vec![3], Some(2)));
        // Without the 2-3 link, 2 can only reach 4 through 1: no LFA.
        let t = topo(&[(1, 2, 1), (1, 3, 1), (3, 4, 1)]);
        let r = table(1, &t);
        assert_eq!(hops(&r, 4), (vec![3], None));
    }

    #[test]
    fn lfa_prefers_cheapest_then_lowest_address() {
        // From 1 to 9 primary via 2 (cost 1 + 1). Alternates 3 and 4 both satisfy the
        // inequality; 4's total is lower.
        let t = topo(&[
            (1, 2, 1),
            (2, 9, 1),
            (1, 3, 2),
            (3, 9, 3),
            (1, 4, 2),
            (4, 9, 2),
            (1, 5, 2),
            (5, 9, 2),
        ]);
        let r = table(1, &t);
        // 4 and 5 tie at cost 4: the lower address wins.
        assert_eq!(hops(&r, 9), (vec![2], Some(4)));
    }

    #[test]
    fn disconnected_graph() {
        let t = topo(&[(1, 2, 1), (3, 4, 1)]);
        let r = table(1, &t);
        assert_eq!(r.routes.len(), 1);
        assert!(r.routes.contains_key(&a(2)));
        let d = NativeSpf::new().distances(a(1), &t).to_vec();
        assert_eq!(d, vec![0, 1, UNREACHABLE, UNREACHABLE]);
    }

    #[test]
    fn unknown_or_isolated_own() {
        let t = topo(&[(1, 2, 1)]);
        assert!(table(7, &t).routes.is_empty());
        assert!(NativeSpf::new().distances(a(7), &t).is_empty());
        let t = Topology::from_links([(a(5), a(6), 1)]);
        assert!(table(5, &t).routes.is_empty());
        assert!(table(1, &Topology::default()).routes.is_empty());
    }

    #[test]
    fn many_neighbours_use_multiword_bitsets() {
        // A star hub 1 with 150 leaves, all also linked to a sink 1000 at cost 1: the hub
        // reaches 1000 through every leaf.
        let mut edges = Vec::new();
        for leaf in 2..152 {
            edges.push((1, leaf, 1));
            edges.push((leaf, 1000, 1));
        }
        let t = topo(&edges);
        let mut spf = NativeSpf::new();
        let r = spf.compute(a(1), &t).expect("ok");
        assert_eq!(hops(&r, 1000).0, (2..152).collect::<Vec<_>>());
        assert_eq!(hops(&r, 1000).1, None);
        // Leaf 77: direct; another leaf L has dist(L,77) = 2 = dist(L,1) + dist(1,77), so
        // no alternate is loop-free.
        assert_eq!(hops(&r, 77), (vec![77], None));
        // Reusing the buffers on a different graph gives fresh answers.
        let t2 = topo(&[(1, 2, 1), (2, 3, 1)]);
        let r2 = spf.compute(a(1), &t2).expect("ok");
        assert_eq!(hops(&r2, 3), (vec![2], None));
    }

    #[test]
    fn asymmetric_costs_use_the_advertiser_cost() {
        let t = Topology::from_links([
            (a(1), a(2), 10),
            (a(2), a(1), 1),
            (a(1), a(3), 1),
            (a(3), a(1), 10),
            (a(3), a(2), 1),
            (a(2), a(3), 1),
        ]);
        let r = table(1, &t);
        assert_eq!(hops(&r, 2).0, vec![3]);
        assert_eq!(NativeSpf::new().distances(a(1), &t), &[0, 2, 1]);
    }
}
