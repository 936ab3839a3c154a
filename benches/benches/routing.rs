//! Routing policy benchmarks: the native policy (ECMP + LFA) against plain single-source
//! Dijkstra distances on the same random graphs.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ouro_benches::random_graph;
use ouro_core::routing::{NativeSpf, RoutingPolicy};
use std::hint::black_box;

fn routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("routing");
    for n in [100usize, 1_000, 10_000] {
        // A source of typical degree: the first node with the graph's median-ish degree 4.
        let (topo, own) = random_graph(n);
        let mut spf = NativeSpf::new();
        group.bench_with_input(BenchmarkId::new("native_ecmp_lfa", n), &topo, |b, t| {
            b.iter(|| spf.compute(black_box(own), black_box(t)))
        });
        let mut base = NativeSpf::new();
        group.bench_with_input(BenchmarkId::new("dijkstra_distances", n), &topo, |b, t| {
            b.iter(|| base.distances(black_box(own), black_box(t)).len())
        });
    }
    group.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
