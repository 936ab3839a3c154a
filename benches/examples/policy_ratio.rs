//! Wasm vs native route computation, measured interleaved so both see the same machine load.
//!
//! The criterion bench (`--bench policy`) runs each variant for seconds in turn; on a shared
//! 2-core machine the load changes between them and the ratios drift. Here every round runs
//! each variant once, in turn, on the same graph. On a shared machine a run is often
//! preempted for a whole time slice (milliseconds), so the report gives each variant's
//! minimum over the rounds (the cost without interference) and its median, with the ratios. Variants (random connected graphs, average
//! degree 4, costs 1–10, computed from a node of degree 4):
//!
//! - `native`: `NativeSpf::compute` (Dijkstra + ECMP + RFC 5286 LFA), trusted, unchecked.
//! - `native+check`: the same, then the host's validation of its output (flattened as a guest
//!   returns it) with the downstream loop check: what the native policy would cost if it
//!   were checked like a guest.
//! - `wasm`: the embedded `lfa` component on its kept instance (topology in, table out).
//! - `wasm+check`: the same plus the validation, i.e. `WasmRoutingPolicy::compute`, what
//!   the IPCP runs.
//! - `wasm fresh`: `wasm` in a fresh instance per call (the engine's behaviour before the
//!   instance was kept).
//!
//! Run: `cargo run --release -p ouro-benches --example policy_ratio [ROUNDS]`
#![forbid(unsafe_code)]

use ouro_benches::{Flat, random_graph};
use ouro_core::routing::{NativeSpf, RoutingPolicy};
use ouro_policy::validate::Validator;
use ouro_policy::{
    CacheDir, EngineConfig, LoopCheck, Params, PolicyEngine, WasmRoutingPolicy, builtin,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let engine = PolicyEngine::new(EngineConfig {
        cache: CacheDir::Off,
        ..EngineConfig::router()
    })
    .expect("engine");
    let lfa = WasmRoutingPolicy::load(&engine, "lfa", builtin::LFA, Params::new()).expect("loads");
    println!("rounds per size: {rounds}; each cell: minimum / median");
    println!(
        "| graph | native | native+check | wasm | wasm+check | wasm fresh | wasm / native | wasm+check / native | wasm+check / native+check |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [2usize, 100, 1_000, 4_000] {
        let (topo, own) = random_graph(n);
        let mut native = NativeSpf::new();
        let mut validator = Validator::default();
        let mut guest = lfa.clone();
        let mut times: [Vec<Duration>; 5] = Default::default();
        // Reps per sample so a sample lasts well above the timer's resolution.
        let reps = if n <= 100 { 20 } else { 1 };
        for round in 0..rounds + 3 {
            let mut sample = [Duration::ZERO; 5];
            sample[0] = time(reps, || {
                black_box(native.compute(black_box(own), &topo).expect("native"));
            });
            sample[1] = time(reps, || {
                let table = native.compute(black_box(own), &topo).expect("native");
                let flat = Flat::from(&table);
                black_box(
                    validator
                        .check(own, &topo, flat.routes(), LoopCheck::Downstream)
                        .expect("valid"),
                );
            });
            sample[2] = time(reps, || {
                black_box(guest.call_raw(black_box(own), &topo).expect("wasm"));
            });
            sample[3] = time(reps, || {
                black_box(guest.compute(black_box(own), &topo).expect("wasm"));
            });
            sample[4] = time(reps, || {
                guest.drop_instance();
                black_box(guest.call_raw(black_box(own), &topo).expect("wasm"));
            });
            if round >= 3 {
                // The first rounds warm caches and the instance up.
                for (t, s) in times.iter_mut().zip(sample) {
                    t.push(s);
                }
            }
        }
        let lo: Vec<f64> = times.iter_mut().map(|t| quantile(t, 0)).collect();
        let mid: Vec<f64> = times.iter_mut().map(|t| quantile(t, 50)).collect();
        let cell = |i: usize| format!("{} / {}", fmt(lo[i]), fmt(mid[i]));
        let ratio = |a: usize, b: usize| format!("{:.2}× / {:.2}×", lo[a] / lo[b], mid[a] / mid[b]);
        println!(
            "| {n} nodes | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            cell(4),
            ratio(2, 0),
            ratio(3, 0),
            ratio(3, 1),
        );
    }
}

/// Mean time of one run of `f` over `reps` runs.
fn time(reps: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    start.elapsed() / reps
}

/// The `pct`-th percentile in seconds (0 = minimum).
fn quantile(t: &mut [Duration], pct: usize) -> f64 {
    t.sort_unstable();
    t.get(t.len() * pct / 100)
        .map_or(0.0, Duration::as_secs_f64)
}

fn fmt(secs: f64) -> String {
    if secs < 1e-3 {
        format!("{:.1} µs", secs * 1e6)
    } else {
        format!("{:.2} ms", secs * 1e3)
    }
}
