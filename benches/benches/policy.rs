//! Wasm policy benchmarks: per-call overhead of a routing component, and route computation
//! by the Wasm `lfa` component against the native reference (`NativeSpf`, same algorithm
//! family: Dijkstra + ECMP + RFC 5286 LFA) on 100 / 1,000 / 4,000-node random graphs.
//!
//! `wasm_lfa_guest` is the guest call alone on the kept instance (copy the topology in,
//! compute, copy the table out); `wasm_lfa_validated` adds the host's output validation
//! with the downstream loop check, which is what the IPCP actually runs, and
//! `native_ecmp_lfa_validated` runs the same validation on the native policy's output (the
//! baseline for the validated row). `policy_call` measures the fixed cost of one call on a
//! 2-node graph, on the kept instance and on a fresh one.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ouro_benches::{Flat, random_graph};
use ouro_core::Address;
use ouro_core::routing::{NativeSpf, RoutingPolicy, Topology};
use ouro_policy::validate::Validator;
use ouro_policy::{
    CacheDir, EngineConfig, LoopCheck, Params, PolicyEngine, WasmRoutingPolicy, builtin,
};
use ouro_tests::TestGraph;
use std::hint::black_box;

fn engine() -> PolicyEngine {
    PolicyEngine::new(EngineConfig {
        cache: CacheDir::Off,
        ..EngineConfig::router()
    })
    .expect("engine")
}

fn call_overhead(c: &mut Criterion) {
    let engine = engine();
    let mut group = c.benchmark_group("policy_call");
    // Two nodes, one link: the cost is the call machinery, not the computation.
    let topo = Topology::from_links(TestGraph::line(2).directed_links());
    let mut wasm =
        WasmRoutingPolicy::load(&engine, "spf", builtin::SPF, Params::new()).expect("loads");
    group.bench_function("wasm_spf_2_nodes_guest", |b| {
        b.iter(|| wasm.call_raw(black_box(Address(1)), black_box(&topo)))
    });
    group.bench_function("wasm_spf_2_nodes_validated", |b| {
        b.iter(|| wasm.compute(black_box(Address(1)), black_box(&topo)))
    });
    group.bench_function("wasm_spf_2_nodes_fresh_instance", |b| {
        b.iter(|| {
            wasm.drop_instance();
            wasm.call_raw(black_box(Address(1)), black_box(&topo))
        })
    });
    let mut native = NativeSpf::new();
    group.bench_function("native_2_nodes", |b| {
        b.iter(|| native.compute(black_box(Address(1)), black_box(&topo)))
    });
    group.finish();
}

fn route_computation(c: &mut Criterion) {
    let engine = engine();
    let mut group = c.benchmark_group("policy_routing");
    group.sample_size(20);
    let lfa = WasmRoutingPolicy::load(&engine, "lfa", builtin::LFA, Params::new()).expect("loads");
    for n in [100usize, 1_000, 4_000] {
        let (topo, own) = random_graph(n);
        let mut native = NativeSpf::new();
        group.bench_with_input(BenchmarkId::new("native_ecmp_lfa", n), &topo, |b, t| {
            b.iter(|| native.compute(black_box(own), black_box(t)))
        });
        let mut validator = Validator::default();
        group.bench_with_input(
            BenchmarkId::new("native_ecmp_lfa_validated", n),
            &topo,
            |b, t| {
                b.iter(|| {
                    let table = native
                        .compute(black_box(own), black_box(t))
                        .expect("native");
                    let flat = Flat::from(&table);
                    validator.check(own, t, flat.routes(), LoopCheck::Downstream)
                })
            },
        );
        let mut guest = lfa.clone();
        group.bench_with_input(BenchmarkId::new("wasm_lfa_guest", n), &topo, |b, t| {
            b.iter(|| guest.call_raw(black_box(own), black_box(t)))
        });
        let mut checked = lfa.clone();
        group.bench_with_input(BenchmarkId::new("wasm_lfa_validated", n), &topo, |b, t| {
            b.iter(|| checked.compute(black_box(own), black_box(t)))
        });
        let mut structural = lfa.clone().with_loop_check(LoopCheck::Off);
        group.bench_with_input(
            BenchmarkId::new("wasm_lfa_structural_check", n),
            &topo,
            |b, t| b.iter(|| structural.compute(black_box(own), black_box(t))),
        );
    }
    group.finish();
}

criterion_group!(benches, call_overhead, route_computation);
criterion_main!(benches);
