//! The native routing policy against the independent oracle in `ouro_tests`.

use ouro_core::Address;
use ouro_core::routing::{NativeSpf, RoutingPolicy, Topology};
use ouro_tests::{TestGraph, distances, shortest_next_hops};
use std::collections::BTreeSet;

fn addr(i: usize) -> Address {
    Address(i as u32 + 1)
}

fn index(a: Address) -> usize {
    a.0 as usize - 1
}

/// Compare NativeSpf with the oracle from each of `sources`; returns the number of LFAs seen.
fn check(g: &TestGraph, sources: impl IntoIterator<Item = usize>) -> usize {
    let topo = Topology::from_links(g.directed_links());
    assert_eq!(topo.len(), g.n);
    let adj = g.adjacency();
    let mut spf = NativeSpf::new();
    let mut lfas = 0;
    for src in sources {
        let table = spf.compute(addr(src), &topo).expect("native never fails");
        let oracle = shortest_next_hops(g, src);
        let d_s = distances(g, src);
        // Same destinations: exactly the reachable ones, never the source.
        let reachable: BTreeSet<usize> =
            (0..g.n).filter(|&d| d != src && d_s[d].is_some()).collect();
        let routed: BTreeSet<usize> = table.routes.keys().map(|&a| index(a)).collect();
        assert_eq!(routed, reachable, "destinations from {src}");

        // Distances from each neighbour of the source, for the LFA checks.
        let mut from_nb: Vec<Option<Vec<Option<u64>>>> = vec![None; g.n];
        for &(n, _) in &adj[src] {
            from_nb[n] = Some(distances(g, n));
        }
        for (&dst, hops) in &table.routes {
            let d = index(dst);
            let got: BTreeSet<usize> = hops.ecmp.iter().map(|&a| index(a)).collect();
            assert_eq!(got, oracle[d], "ECMP set {src} -> {d}");
            assert!(
                hops.ecmp.windows(2).all(|w| w[0] < w[1]),
                "ECMP sorted {src} -> {d}"
            );
            if let Some(lfa) = hops.lfa {
                lfas += 1;
                let n = index(lfa);
                assert!(!got.contains(&n), "LFA {n} in ECMP set {src} -> {d}");
                assert!(
                    adj[src].iter().any(|&(x, _)| x == n),
                    "LFA {n} not a neighbour of {src}"
                );
                let dn = from_nb[n].as_ref().expect("neighbour distances");
                let (Some(n_d), Some(n_s), Some(s_d)) = (dn[d], dn[src], d_s[d]) else {
                    panic!("LFA {n} for {src} -> {d} with unreachable distances");
                };
                assert!(
                    n_d < n_s + s_d,
                    "RFC 5286 inequality for {src} -> {d} via {n}"
                );
            }
            // The choice itself: the cheapest qualifying neighbour, lowest index on ties.
            let expected = adj[src]
                .iter()
                .filter(|&&(n, _)| !got.contains(&n))
                .filter_map(|&(n, c)| {
                    let dn = from_nb[n].as_ref()?;
                    let (n_d, n_s, s_d) = (dn[d]?, dn[src]?, d_s[d]?);
                    (n_d < n_s + s_d).then_some((u64::from(c) + n_d, n))
                })
                .min()
                .map(|(_, n)| n);
            assert_eq!(hops.lfa.map(index), expected, "LFA choice {src} -> {d}");
        }
    }
    lfas
}

#[test]
fn line_10() {
    let g = TestGraph::line(10);
    assert_eq!(check(&g, 0..g.n), 0, "a line has no alternates");
}

#[test]
fn ring_10() {
    let g = TestGraph::ring(10);
    check(&g, 0..g.n);
}

#[test]
fn ring_11() {
    let g = TestGraph::ring(11);
    assert!(check(&g, 0..g.n) > 0);
}

#[test]
fn grid_6x6() {
    let g = TestGraph::grid(6, 6);
    check(&g, 0..g.n);
}

#[test]
fn random_50_and_200() {
    let mut lfas = 0;
    for seed in 1..=4 {
        let g = TestGraph::random_connected(50, 4.0, 10, seed);
        lfas += check(&g, 0..g.n);
        let g = TestGraph::random_connected(50, 3.0, 1, seed + 100);
        lfas += check(&g, 0..g.n);
    }
    for seed in [7, 8, 9] {
        let g = TestGraph::random_connected(200, 4.0, 5, seed);
        lfas += check(&g, 0..g.n);
    }
    assert!(lfas > 0);
}

#[test]
fn random_1000_sampled_sources() {
    let g = TestGraph::random_connected(1000, 4.0, 10, 2024);
    let step = g.n / 20;
    check(&g, (0..20).map(|i| i * step + i));
}

#[test]
fn disconnected_components() {
    // Two random components side by side: nothing crosses.
    let a = TestGraph::random_connected(30, 4.0, 5, 1);
    let b = TestGraph::random_connected(20, 4.0, 5, 2);
    let mut edges = a.edges.clone();
    edges.extend(b.edges.iter().map(|&(x, y, c)| (x + 30, y + 30, c)));
    let g = TestGraph { n: 50, edges };
    check(&g, [0, 10, 29, 30, 49]);
}
