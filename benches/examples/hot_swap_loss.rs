//! Packets lost while routing policies are hot-swapped again and again under the highest
//! load the simulated links carry.
//!
//! A 6×6 grid; every node opens one flow (to node `(s * 7 + 12) mod n`) and writes all its
//! messages at once, so every link on the paths is busy for the whole run: the packet rate
//! is the links' full rate (the simulator's queues are unbounded, so this load is lossless
//! without swaps, which the `swaps = 0` row checks). For each link rate the run is repeated
//! with every node's routing policy swapped every `period` of simulated time, cycling
//! lfa → spf → ecmp → native → lfa... (the Wasm policies on the deterministic fuel engine,
//! as `ouro sim` runs them), with route computations 1 ms after a change and at most every
//! 5 ms, so every swap installs new tables under the load. Lost = PDUs dropped for want of a route, by TTL or for
//! an unknown endpoint, plus PDUs lost by links; a flow fails if a message is missing.
//!
//! Run: `cargo run --release -p ouro-benches --example hot_swap_loss`
#![forbid(unsafe_code)]

use ouro_policy::RoutingChoice;
use ouro_sim::{Graph, LinkParams, SimConfig, Simulator};
use ouro_tests::{TestGraph, packets_lost as lost};
use std::time::{Duration, Instant};

/// Simulated time allowed per batch of flows.
const LIMIT: Duration = Duration::from_secs(600);
/// Message size, bytes.
const SIZE: usize = 500;

fn main() {
    let g = TestGraph::grid(6, 6);
    let graph = Graph::from_json_str(&g.to_node_link_json(Some("weight")), Some("weight"))
        .expect("generated JSON loads");
    let pairs: Vec<(usize, usize)> = (0..g.n)
        .map(|s| (s, (s * 7 + 12) % g.n))
        .filter(|(s, d)| s != d)
        .collect();
    let policies: Vec<RoutingChoice> = ["lfa", "spf", "ecmp", "native"]
        .iter()
        .map(|s| RoutingChoice::resolve_deterministic(s).expect("policy"))
        .collect();
    println!(
        "| link rate | flows × msgs | swap period | swaps | packets delivered | sim time | packets/s (sum over flows) | route computations | lost | flows failed | wall |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (rate, msgs) in [
        (10_000_000u64, 400u32),
        (100_000_000, 4_000),
        (1_000_000_000, 20_000),
    ] {
        for period in [None, Some(Duration::from_millis(10))] {
            let link = LinkParams {
                bandwidth_bps: Some(rate),
                ..LinkParams::default()
            };
            let mut config = SimConfig {
                link,
                check_interval: Duration::from_millis(1),
                ..SimConfig::default()
            };
            // Route computations follow a swap within 1 ms and may run every 5 ms, so each
            // swap (every 10 ms) really replaces the forwarding tables under the load.
            config.layer.spf_delay = Duration::from_millis(1);
            config.layer.spf_hold = Duration::from_millis(5);
            let mut sim = Simulator::new(graph.clone(), config).expect("topology");
            assert!(sim.run_until_converged(LIMIT), "did not converge");
            sim.register_names(Duration::from_secs(1));
            let lost_before = lost(&sim);
            let computed_before = computations(&sim);
            let start = sim.now();
            let wall = Instant::now();
            let mut swaps = 0usize;
            let summary = sim.run_flow_pairs_every(
                &pairs,
                msgs,
                SIZE,
                LIMIT,
                period.unwrap_or(LIMIT),
                &mut |sim: &mut Simulator| {
                    if period.is_none() {
                        return;
                    }
                    let next = &policies[swaps % policies.len()];
                    for i in 0..sim.graph().node_count() {
                        let p = next.instance();
                        sim.set_routing_policy(i, move |_| p);
                    }
                    swaps += 1;
                },
            );
            let secs = (sim.now() - start).as_secs_f64();
            let delivered: u64 = sim
                .flow_results()
                .iter()
                .map(|r| u64::from(r.received))
                .sum();
            println!(
                "| {} Mbit/s | {} × {msgs} | {} | {swaps} | {delivered} | {:.3} s | {:.0} | {} | {} | {} | {:.2} s |",
                rate / 1_000_000,
                pairs.len(),
                period.map_or("—".to_string(), |p| format!("{} ms", p.as_millis())),
                secs,
                delivered as f64 / secs,
                computations(&sim) - computed_before,
                lost(&sim) - lost_before,
                summary.failed,
                wall.elapsed().as_secs_f64(),
            );
        }
    }
}

/// Route computations run by all nodes so far.
fn computations(sim: &Simulator) -> u64 {
    (0..sim.graph().node_count())
        .map(|i| sim.ipcp(i).counters().route_computations)
        .sum()
}
