//! Simulator benchmarks: wall time to converge a 1,000-node random layer, against the same-run
//! baseline of computing all 1,000 nodes' routes centrally with `NativeSpf`.
#![forbid(unsafe_code)]
// `criterion_main!` generates an undocumented `main`.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ouro_core::Address;
use ouro_core::routing::{NativeSpf, RoutingPolicy, Topology};
use ouro_sim::{Graph, SimConfig, Simulator};
use ouro_tests::TestGraph;
use std::hint::black_box;
use std::time::Duration;

const NODES: usize = 1000;
const AVG_DEGREE: usize = 4;

/// The shared connected random graph (spanning tree plus random edges, costs 1..=10).
fn random_graph(n: usize, avg_degree: usize, seed: u64) -> Graph {
    let g = TestGraph::random_connected(n, avg_degree as f64, 10, seed);
    Graph::from_json_str(&g.to_node_link_json(Some("weight")), Some("weight"))
        .expect("generated JSON loads")
}

fn address(i: usize) -> Address {
    Address(u32::try_from(i + 1).unwrap_or(u32::MAX))
}

fn bench_sim(c: &mut Criterion) {
    let graph = random_graph(NODES, AVG_DEGREE, 42);
    let mut group = c.benchmark_group("sim_1000_nodes");
    group.sample_size(10);

    group.bench_function("simulated_convergence", |b| {
        b.iter(|| {
            let mut sim = Simulator::new(graph.clone(), SimConfig::default()).expect("non-empty");
            assert!(
                sim.run_until_converged(Duration::from_secs(300)),
                "converges"
            );
            black_box(sim.converged_at())
        })
    });

    // Baseline: the same routes, computed centrally (one SPF per node over one topology).
    let links: Vec<(Address, Address, u32)> = graph
        .edges()
        .iter()
        .flat_map(|e| {
            [
                (address(e.a), address(e.b), e.cost),
                (address(e.b), address(e.a), e.cost),
            ]
        })
        .collect();
    let topology = Topology::from_links(links);
    group.bench_function("central_spf_all_nodes", |b| {
        b.iter(|| {
            let mut spf = NativeSpf::default();
            for i in 0..NODES {
                black_box(spf.compute(address(i), &topology).expect("routes"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_sim);
criterion_main!(benches);
