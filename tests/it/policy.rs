//! Wasm policies: the default routing policies on generated topologies, the engine's
//! fail-safes (a policy that spins, hogs memory, traps or returns a loop never stops
//! forwarding), rollback, the compiled-component cache, hot swap under traffic, and the
//! default schedulers and auth policies.

use crate::test_policies;
use ouro_core::Address;
use ouro_core::routing::{NativeSpf, RoutingPolicy, Topology};
use ouro_policy::builtin;
use ouro_policy::{
    AuthRequest, CacheDir, Deadline, EngineConfig, Fallback, LoopCheck, OnLoop, ParamValue, Params,
    PolicyEngine, QueueState, RequestKind, RoutingChoice, Verdict, WasmAuth, WasmRoutingPolicy,
    WasmScheduler,
};
use ouro_sim::{Graph, LinkParams, Optimality, SimConfig, Simulator};
use ouro_tests::{TestGraph, packets_lost};
use std::time::Duration;

/// Simulated time allowed for convergence and for a batch of flows.
const LIMIT: Duration = Duration::from_secs(120);

/// A deterministic engine without a disk cache (tests must not write to `$HOME`).
fn engine_with(deadline: Deadline, memory_cap: usize) -> PolicyEngine {
    PolicyEngine::new(EngineConfig {
        deadline,
        on_loop: OnLoop::DEFAULT,
        memory_cap,
        max_instances: 8,
        cache: CacheDir::Off,
    })
    .expect("engine")
}

fn engine() -> PolicyEngine {
    engine_with(Deadline::Fuel(1_000_000_000), 64 << 20)
}

fn graph_of(g: &TestGraph) -> Graph {
    Graph::from_json_str(&g.to_node_link_json(Some("weight")), Some("weight"))
        .expect("generated JSON loads")
}

/// A simulator over `g` where every node runs `choice`, run to convergence.
fn converged(g: &TestGraph, choice: &RoutingChoice, link: LinkParams) -> Simulator {
    let choice = choice.clone();
    let config = SimConfig {
        link,
        ..SimConfig::default()
    };
    let mut sim =
        Simulator::with_policies(graph_of(g), config, Box::new(move |_| choice.instance()))
            .expect("non-empty topology");
    assert!(sim.run_until_converged(LIMIT), "did not converge");
    sim
}

fn routing_failures(sim: &Simulator) -> u64 {
    (0..sim.graph().node_count())
        .map(|i| sim.ipcp(i).counters().routing_failures)
        .sum()
}

fn topologies() -> Vec<(&'static str, TestGraph)> {
    vec![
        ("line", TestGraph::line(7)),
        ("ring", TestGraph::ring(10)),
        ("grid", TestGraph::grid(5, 4)),
        ("random", TestGraph::random_connected(60, 3.5, 6, 7)),
    ]
}

#[test]
fn default_policies_pass_the_route_check_on_line_ring_grid_random() {
    let engine = engine();
    for (spec, optimality) in [
        ("spf", Optimality::Subset),
        ("ecmp", Optimality::Exact),
        ("lfa", Optimality::Exact),
    ] {
        let choice = RoutingChoice::resolve(&engine, spec, Params::new()).expect("built-in policy");
        for (name, g) in topologies() {
            let sim = converged(&g, &choice, LinkParams::default());
            let check = sim.check_routes(optimality);
            assert!(check.passed(), "{spec} on {name}: {check:?}");
            assert_eq!(check.nodes, g.n, "{spec} on {name}");
            assert_eq!(routing_failures(&sim), 0, "{spec} on {name}");
        }
        let m = choice.wasm().expect("a Wasm policy").metrics().snapshot();
        assert!(
            m.calls > 0 && m.failures == 0 && m.fuel_used > 0,
            "{spec}: {m:?}"
        );
    }
}

#[test]
fn wasm_tables_equal_the_native_reference_including_alternates() {
    let engine = engine();
    let g = TestGraph::random_connected(150, 4.0, 10, 3);
    let topo = Topology::from_links(g.directed_links());
    let mut native = NativeSpf::new();
    let load = |name: &str, wasm: &[u8]| {
        WasmRoutingPolicy::load(&engine, name, wasm, Params::new()).expect("loads")
    };
    let (mut spf, mut ecmp, mut lfa) = (
        load("spf", builtin::SPF),
        load("ecmp", builtin::ECMP),
        load("lfa", builtin::LFA),
    );
    for &own in topo.addresses().iter().step_by(10) {
        let want = native.compute(own, &topo).expect("native");
        let got = lfa.compute(own, &topo).expect("lfa");
        assert_eq!(got, want, "lfa from {own}");
        let got = ecmp.compute(own, &topo).expect("ecmp");
        assert_eq!(got.routes.len(), want.routes.len());
        for (dst, hops) in &got.routes {
            assert_eq!(hops.ecmp, want.routes[dst].ecmp, "ecmp from {own} to {dst}");
            assert_eq!(hops.lfa, None);
        }
        let got = spf.compute(own, &topo).expect("spf");
        for (dst, hops) in &got.routes {
            assert_eq!(hops.ecmp.len(), 1);
            assert_eq!(
                hops.ecmp[0], want.routes[dst].ecmp[0],
                "spf from {own} to {dst}"
            );
        }
    }
}

/// Converge on the native policy, swap every node to the misbehaving `wasm`, and show that
/// each node's computation failed and was counted, the forwarding tables stayed, and flows
/// between every node pair still deliver everything. Returns the policy's last error.
fn bad_policy_keeps_forwarding(engine: &PolicyEngine, wasm: &[u8]) -> String {
    let g = TestGraph::grid(3, 3);
    let mut sim = converged(&g, &RoutingChoice::Native, LinkParams::default());
    let before: Vec<_> = (0..g.n).map(|i| sim.ipcp(i).fib()).collect();
    let bad = WasmRoutingPolicy::load(engine, "bad", wasm, Params::new()).expect("loads");
    for i in 0..g.n {
        let bad = bad.clone();
        sim.set_routing_policy(i, move |_| Box::new(bad));
    }
    sim.run_for(Duration::from_secs(1));
    for (i, fib) in before.iter().enumerate() {
        assert_eq!(sim.ipcp(i).routing_policy_name(), "bad");
        assert!(
            sim.ipcp(i).counters().routing_failures >= 1,
            "node {i} counted no failure"
        );
        assert_eq!(
            *sim.ipcp(i).fib(),
            **fib,
            "node {i} lost its forwarding table"
        );
    }
    sim.register_names(Duration::from_secs(1));
    let pairs: Vec<(usize, usize)> = (0..g.n)
        .flat_map(|s| (0..g.n).filter(move |&d| d != s).map(move |d| (s, d)))
        .collect();
    let summary = sim.run_flow_pairs(&pairs, 5, 64, LIMIT);
    assert_eq!((summary.ok, summary.failed), (pairs.len() as u64, 0));
    assert_eq!(packets_lost(&sim), 0);
    let m = bad.metrics().snapshot();
    assert!(m.failures >= g.n as u64 && m.failures == m.calls, "{m:?}");
    m.last_error.expect("the failure is reported")
}

#[test]
fn policy_that_loops_forever_runs_out_of_fuel_and_forwarding_continues() {
    let engine = engine_with(Deadline::Fuel(20_000_000), 64 << 20);
    let err = bad_policy_keeps_forwarding(&engine, test_policies::SPIN);
    assert!(err.contains("ran out of fuel"), "{err}");
}

#[test]
fn policy_that_loops_forever_hits_the_epoch_deadline() {
    let deadline = Deadline::Epoch {
        tick: Duration::from_millis(1),
        per_call: Duration::from_millis(20),
    };
    let err = bad_policy_keeps_forwarding(&engine_with(deadline, 64 << 20), test_policies::SPIN);
    assert!(err.contains("ran past its deadline"), "{err}");
}

#[test]
fn policy_that_grows_memory_without_bound_hits_the_cap_and_forwarding_continues() {
    let engine = engine_with(Deadline::Fuel(1_000_000_000), 16 << 20);
    let err = bad_policy_keeps_forwarding(&engine, test_policies::HOG);
    assert!(err.contains("trapped") && err.contains("memory"), "{err}");
}

#[test]
fn policy_that_traps_is_contained_and_forwarding_continues() {
    let err = bad_policy_keeps_forwarding(&engine(), test_policies::TRAP);
    assert!(err.contains("trapped"), "{err}");
}

#[test]
fn policy_that_returns_a_forwarding_loop_is_rejected_and_forwarding_continues() {
    let err = bad_policy_keeps_forwarding(&engine(), test_policies::LOOP);
    assert!(
        err.contains("invalid output") && err.contains("forwarding loop"),
        "{err}"
    );
}

#[test]
fn a_forwarding_loop_gets_through_without_the_loop_check_and_the_route_check_sees_it() {
    // Shows both that the loop policy really loops and that `ouro policy test` catches it.
    let engine = engine();
    let bad = WasmRoutingPolicy::load(&engine, "loop", test_policies::LOOP, Params::new())
        .expect("loads")
        .with_loop_check(LoopCheck::Off);
    let choice = RoutingChoice::Wasm(Box::new(bad));
    let sim = converged(&TestGraph::line(4), &choice, LinkParams::default());
    let check = sim.check_routes(Optimality::Off);
    assert!(check.loops > 0, "{check:?}");
}

#[test]
fn failing_new_policy_is_rolled_back_to_the_previous_one() {
    let engine = engine();
    let g = TestGraph::ring(6);
    let mut sim = converged(&g, &RoutingChoice::Native, LinkParams::default());
    let bad = WasmRoutingPolicy::load(&engine, "trap", test_policies::TRAP, Params::new())
        .expect("loads");
    for i in 0..g.n {
        let bad = bad.clone();
        sim.set_routing_policy(i, move |old| Box::new(Fallback::new(Box::new(bad), old, 3)));
    }
    sim.run_for(Duration::from_secs(1));
    for i in 0..g.n {
        assert_eq!(
            sim.ipcp(i).routing_policy_name(),
            "native",
            "node {i} not rolled back"
        );
    }
    assert_eq!(
        routing_failures(&sim),
        0,
        "the previous policy computed the tables"
    );
    assert!(bad.metrics().snapshot().failures >= g.n as u64);
    assert!(sim.check_routes(Optimality::Exact).passed());
}

#[test]
fn compiled_components_are_cached_on_disk_and_a_corrupt_entry_is_recompiled() {
    let dir = std::env::temp_dir().join(format!("ouro-policy-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = EngineConfig {
        cache: CacheDir::At(dir.clone()),
        ..EngineConfig::deterministic()
    };
    let topo = Topology::from_links(TestGraph::ring(5).directed_links());
    let run = |config: &EngineConfig| {
        let engine = PolicyEngine::new(config.clone()).expect("engine");
        let mut p =
            WasmRoutingPolicy::load(&engine, "ecmp", builtin::ECMP, Params::new()).expect("loads");
        p.compute(Address(1), &topo).expect("computes").routes.len()
    };
    assert_eq!(run(&config), 4);
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("cache dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let name = entries[0]
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        name.starts_with(&blake3::hash(builtin::ECMP).to_hex().to_string())
            && name.ends_with(".cwasm"),
        "{name}"
    );
    // From the cache (a fresh engine has no in-memory copy).
    assert_eq!(run(&config), 4);
    // Corrupt the entry: it is detected, recompiled and rewritten.
    let mut bytes = std::fs::read(&entries[0]).expect("entry");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&entries[0], &bytes).expect("write");
    assert_eq!(run(&config), 4);
    assert_ne!(
        std::fs::read(&entries[0]).expect("entry"),
        bytes,
        "entry rewritten"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hot_swap_under_traffic_loses_no_packet() {
    let engine = engine();
    let g = TestGraph::grid(5, 5);
    // 10 Mbit/s links: a 200-message flow takes tens of milliseconds, so the swap lands
    // while packets are queued and in flight.
    let link = LinkParams {
        bandwidth_bps: Some(10_000_000),
        ..LinkParams::default()
    };
    let mut sim = converged(&g, &RoutingChoice::Native, link);
    sim.register_names(Duration::from_secs(1));
    let pairs: Vec<(usize, usize)> = (0..g.n)
        .map(|s| (s, (s * 7 + 12) % g.n))
        .filter(|(s, d)| s != d)
        .collect();
    let mut swaps = 0;
    for spec in ["lfa", "spf", "native", "ecmp"] {
        let next = RoutingChoice::resolve(&engine, spec, Params::new()).expect("policy");
        let swapped = std::cell::Cell::new(false);
        let in_flight = std::cell::Cell::new(false);
        let summary = sim.run_flow_pairs_with(
            &pairs,
            200,
            500,
            LIMIT,
            Some((
                Duration::from_millis(15),
                Box::new(|sim: &mut Simulator| {
                    in_flight.set(
                        sim.flow_results()
                            .iter()
                            .any(|r| r.received > 0 && r.received < r.sent),
                    );
                    for i in 0..sim.graph().node_count() {
                        let p = next.instance();
                        sim.set_routing_policy(i, move |_| p);
                    }
                    swapped.set(true);
                }),
            )),
        );
        assert!(
            swapped.get() && in_flight.get(),
            "swap to {spec} did not happen under traffic"
        );
        assert_eq!(
            (summary.ok, summary.failed),
            (pairs.len() as u64, 0),
            "swap to {spec}"
        );
        assert_eq!(packets_lost(&sim), 0, "swap to {spec}");
        assert_eq!(routing_failures(&sim), 0);
        assert_eq!(sim.ipcp(0).routing_policy_name(), spec);
        swaps += 1;
    }
    assert_eq!(swaps, 4);
    assert!(sim.check_routes(Optimality::Exact).passed());
}

fn queue(id: u32, cube: u8, packets: u32) -> QueueState {
    QueueState {
        id,
        cube,
        packets,
        bytes: u64::from(packets) * 1000,
        head_age: Duration::from_micros(u64::from(id) * 100),
        drops: 0,
    }
}

#[test]
fn strict_priority_scheduler_serves_lower_cubes_first() {
    let engine = engine();
    let queues = [queue(10, 2, 5), queue(11, 0, 3), queue(12, 1, 4)];
    let mut s = WasmScheduler::load(
        &engine,
        "strict-priority",
        builtin::STRICT_PRIORITY,
        Params::new(),
    )
    .expect("loads");
    let plan = s.schedule(6, &queues).expect("plan");
    assert_eq!(plan.takes, vec![(11, 3), (12, 3)]);
    assert!(plan.actions.is_empty());
    let params = Params::from([("reverse".to_string(), ParamValue::Boolean(true))]);
    let mut r = WasmScheduler::load(&engine, "strict-priority", builtin::STRICT_PRIORITY, params)
        .expect("loads");
    assert_eq!(
        r.schedule(6, &queues).expect("plan").takes,
        vec![(10, 5), (12, 1)]
    );
    assert_eq!(s.metrics().snapshot().calls, 1);
}

#[test]
fn drr_scheduler_shares_the_link_by_weight_across_batches() {
    let engine = engine();
    let params = Params::from([
        ("weight-0".to_string(), ParamValue::Integer(3)),
        ("weight-1".to_string(), ParamValue::Integer(1)),
        ("ecn-age-ns".to_string(), ParamValue::Integer(150_000)),
    ]);
    let mut s = WasmScheduler::load(&engine, "drr", builtin::DRR, params).expect("loads");
    // Two always-backlogged queues, a budget of 2 per batch: the 3:1 weights only show up
    // because the guest carries its deficit from one batch to the next.
    let queues = [queue(1, 0, 1000), queue(2, 1, 1000)];
    let mut sent = [0u32; 2];
    for _ in 0..100 {
        let plan = s.schedule(2, &queues).expect("plan");
        for (q, n) in plan.takes {
            sent[(q - 1) as usize] += n;
        }
    }
    assert_eq!(sent[0] + sent[1], 200);
    assert_eq!(sent, [150, 50], "3:1 weighted share");
    // Queue 2's head is 200 µs old (> 150 µs): what is taken from it is ECN-marked.
    let plan = s.schedule(8, &queues).expect("plan");
    assert!(
        plan.actions
            .iter()
            .all(|&(q, _, v)| q == 2 && v == Verdict::MarkEcn),
        "{plan:?}"
    );
    assert!(!plan.actions.is_empty());
    assert!(s.last_good().is_some());
}

#[test]
fn scheduler_that_runs_out_of_fuel_fails_and_keeps_its_last_good_plan() {
    // Enough fuel to instantiate and serve one tiny batch, not a huge one.
    let engine = engine_with(Deadline::Fuel(200_000), 64 << 20);
    let mut s = WasmScheduler::load(&engine, "drr", builtin::DRR, Params::new()).expect("loads");
    let good = s
        .schedule(2, &[queue(1, 0, 5), queue(2, 0, 5)])
        .expect("small batch fits");
    let many: Vec<QueueState> = (0..5_000).map(|i| queue(i, 0, 100)).collect();
    let err = s.schedule(1_000_000, &many).expect_err("out of fuel");
    assert!(err.to_string().contains("ran out of fuel"), "{err}");
    assert_eq!(s.last_good(), Some(&good));
    let m = s.metrics().snapshot();
    assert_eq!((m.calls, m.failures), (2, 1));
    // A fresh instance serves the next batch.
    assert!(s.schedule(2, &[queue(1, 0, 5)]).is_ok());
}

fn request(kind: RequestKind, key: Option<u8>, name: u8) -> AuthRequest {
    AuthRequest {
        kind,
        layer: "sim".into(),
        peer_key: key.map(|k| [k; 32]),
        name_hash: vec![name; 4],
        cube: 1,
    }
}

#[test]
fn allow_all_and_allowlist_auth_policies_decide_as_configured() {
    let engine = engine();
    let all =
        WasmAuth::load(&engine, "allow-all", builtin::ALLOW_ALL, Params::new()).expect("loads");
    let d = all.authorize(&request(RequestKind::Flow, None, 1));
    assert!(d.allow && !d.require_encryption, "{d:?}");

    let key = "07".repeat(32);
    let params = Params::from([
        ("keys".to_string(), ParamValue::TextList(vec![key.clone()])),
        (
            "names".to_string(),
            ParamValue::TextList(vec!["aaaaaaaa".into()]),
        ),
    ]);
    let list = WasmAuth::load(&engine, "allowlist", builtin::ALLOWLIST, params).expect("loads");
    let d = list.authorize(&request(RequestKind::Enrollment, Some(7), 0));
    assert!(d.allow && d.require_encryption, "{d:?}");
    assert!(
        list.authorize(&request(RequestKind::Flow, Some(7), 0xaa))
            .allow
    );
    let d = list.authorize(&request(RequestKind::Flow, Some(7), 0xbb));
    assert!(!d.allow && d.reason.contains("name bbbbbbbb"), "{d:?}");
    let d = list.authorize(&request(RequestKind::Enrollment, Some(8), 0));
    assert!(
        !d.allow && d.reason.contains("not on the allowlist"),
        "{d:?}"
    );
    assert!(
        !list
            .authorize(&request(RequestKind::Enrollment, None, 0))
            .allow
    );
    assert_eq!(list.metrics().snapshot().failures, 0);
}

#[test]
fn auth_policy_that_fails_denies() {
    let engine = engine_with(Deadline::Fuel(10), 64 << 20);
    let all =
        WasmAuth::load(&engine, "allow-all", builtin::ALLOW_ALL, Params::new()).expect("loads");
    let d = all.authorize(&request(RequestKind::Flow, Some(1), 1));
    assert!(!d.allow && d.reason.contains("ran out of fuel"), "{d:?}");
    assert_eq!(all.metrics().snapshot().failures, 1);
}

#[test]
fn qos_cubes_with_their_own_metric_take_their_own_paths() {
    use ouro_core::QosCube;
    // A path 0-1-2-3 of unit costs and a direct link 0-3 of cost 10: by cost, 0 reaches 3
    // over three hops; by hop count (the `voice` cube here), over the direct link.
    let json = r#"{"directed": false, "multigraph": false, "graph": {},
        "nodes": [{"id": 0}, {"id": 1}, {"id": 2}, {"id": 3}],
        "links": [{"source": 0, "target": 1, "weight": 1}, {"source": 1, "target": 2, "weight": 1},
                  {"source": 2, "target": 3, "weight": 1}, {"source": 0, "target": 3, "weight": 10}]}"#;
    let graph = Graph::from_json_str(json, Some("weight")).expect("graph");
    let params = Params::from([(
        "hop-count-cubes".to_string(),
        ParamValue::TextList(vec!["voice".into()]),
    )]);
    for spec in ["spf", "ecmp", "lfa"] {
        let choice = RoutingChoice::resolve(&engine(), spec, params.clone()).expect("policy");
        let mut sim = Simulator::with_policies(
            graph.clone(),
            SimConfig::default(),
            Box::new(move |_| choice.instance()),
        )
        .expect("topology");
        assert!(sim.run_until_converged(LIMIT), "{spec}: did not converge");
        assert_eq!(routing_failures(&sim), 0, "{spec}");
        let (a1, a3) = (sim.ipcp(1).address(), sim.ipcp(3).address());
        let fib = sim.ipcp(0).fib();
        let via = |cube| {
            fib.get_cube(a3, cube)
                .map(|e| e.next_hops.iter().map(|(a, _)| *a).collect::<Vec<_>>())
        };
        assert_eq!(via(QosCube::BestEffort), Some(vec![a1]), "{spec}: by cost");
        assert_eq!(via(QosCube::Data), Some(vec![a1]), "{spec}: by cost");
        assert_eq!(via(QosCube::Voice), Some(vec![a3]), "{spec}: by hop count");
        // Forwarding picks the port by the PDU's cube.
        let port = |cube| fib.lookup_cube(a3, cube, 0);
        assert_ne!(port(QosCube::Voice), port(QosCube::BestEffort), "{spec}");
    }
}

/// The native reference, plus a `voice` table that sends every PDU away from its
/// destination where it can (to a neighbour off the shortest path): loops in that cube only.
struct VoiceBackwards(NativeSpf);

impl RoutingPolicy for VoiceBackwards {
    fn name(&self) -> &str {
        "voice-backwards"
    }

    fn compute(
        &mut self,
        own: Address,
        topology: &Topology,
    ) -> Result<ouro_core::routing::RoutingTable, ouro_core::routing::RoutingError> {
        let mut table = self.0.compute(own, topology)?;
        let me = topology.index_of(own).expect("own node");
        let neighbours: Vec<Address> = topology
            .neighbors(me)
            .filter_map(|(i, _)| topology.address(i))
            .collect();
        let mut voice = table.routes.clone();
        for hops in voice.values_mut() {
            if let Some(away) = neighbours.iter().find(|n| !hops.ecmp.contains(n)) {
                hops.ecmp = vec![*away];
                hops.lfa = None;
            }
        }
        table.cubes.insert(ouro_core::QosCube::Voice, voice);
        Ok(table)
    }
}

#[test]
fn the_route_check_walks_each_cube_table_and_finds_loops_there_only() {
    let g = TestGraph::line(4);
    let mut sim = Simulator::with_policies(
        graph_of(&g),
        SimConfig::default(),
        Box::new(|_| Box::new(VoiceBackwards(NativeSpf::new()))),
    )
    .expect("topology");
    assert!(sim.run_until_converged(LIMIT), "did not converge");
    let check = sim.check_routes(Optimality::Exact);
    // The default table is the reference's: nothing wrong there.
    assert_eq!(
        (check.unreachable, check.loops, check.suboptimal),
        (0, 0, 0)
    );
    // The voice table bounces between the inner nodes and their neighbours.
    assert_eq!(check.cubes.len(), 1, "{check:?}");
    let voice = &check.cubes[0];
    assert_eq!((voice.cube.as_str(), voice.own_tables), ("voice", 4));
    assert_eq!(voice.pairs, check.pairs);
    assert!(voice.loops > 0, "{voice:?}");
    assert!(!check.passed());
    // A policy with correct cube tables passes (the built-in with hop-count cubes).
    let params = Params::from([(
        "hop-count-cubes".to_string(),
        ParamValue::TextList(vec!["voice".into()]),
    )]);
    let choice = RoutingChoice::resolve(&engine(), "ecmp", params).expect("policy");
    let sim = converged(&g, &choice, LinkParams::default());
    let check = sim.check_routes(Optimality::Exact);
    assert_eq!(check.cubes.len(), 1);
    assert!(check.passed(), "{check:?}");
}

#[test]
fn the_instance_is_kept_after_a_good_call_and_replaced_after_a_failure() {
    let engine = engine();
    let topo = Topology::from_links(TestGraph::ring(6).directed_links());
    let mut good =
        WasmRoutingPolicy::load(&engine, "spf", builtin::SPF, Params::new()).expect("loads");
    assert!(!good.keeps_instance());
    let first = good.compute(Address(1), &topo).expect("computes");
    assert!(good.keeps_instance());
    // The kept instance gives the same answer, and clones share it.
    let mut clone = good.clone();
    assert_eq!(clone.compute(Address(1), &topo).expect("computes"), first);
    assert!(good.keeps_instance());
    for bad in [test_policies::TRAP, test_policies::SPIN, test_policies::HOG] {
        let mut p = WasmRoutingPolicy::load(&engine, "bad", bad, Params::new()).expect("loads");
        assert!(p.compute(Address(1), &topo).is_err());
        assert!(!p.keeps_instance(), "a failed instance is never reused");
    }
    // A memory cap so small that the guest's memory is past a quarter of it: the instance
    // is retired after every call (and the calls still succeed).
    let small = engine_with(Deadline::Fuel(1_000_000_000), 4 << 20);
    let mut p = WasmRoutingPolicy::load(&small, "spf", builtin::SPF, Params::new()).expect("loads");
    assert_eq!(p.compute(Address(1), &topo).expect("computes"), first);
    assert!(!p.keeps_instance());
}

#[test]
fn repeated_hot_swaps_with_every_link_busy_lose_no_packet() {
    // As `cargo run --release -p ouro-benches --example hot_swap_loss` (its first rows): a
    // 6×6 grid, every node sends 400 × 500 B at once over 10 Mbit/s links, and every node's
    // policy is swapped every 10 ms, each swap followed by a route computation.
    let g = TestGraph::grid(6, 6);
    let mut config = SimConfig {
        link: LinkParams {
            bandwidth_bps: Some(10_000_000),
            ..LinkParams::default()
        },
        check_interval: Duration::from_millis(1),
        ..SimConfig::default()
    };
    config.layer.spf_delay = Duration::from_millis(1);
    config.layer.spf_hold = Duration::from_millis(5);
    let mut sim = Simulator::new(graph_of(&g), config).expect("topology");
    assert!(sim.run_until_converged(LIMIT), "did not converge");
    sim.register_names(Duration::from_secs(1));
    let pairs: Vec<(usize, usize)> = (0..g.n)
        .map(|s| (s, (s * 7 + 12) % g.n))
        .filter(|(s, d)| s != d)
        .collect();
    let engine = engine();
    let cycle: Vec<RoutingChoice> = ["lfa", "spf", "ecmp", "native"]
        .iter()
        .map(|s| RoutingChoice::resolve(&engine, s, Params::new()).expect("policy"))
        .collect();
    let computed = |sim: &Simulator| -> u64 {
        (0..g.n)
            .map(|i| sim.ipcp(i).counters().route_computations)
            .sum()
    };
    let before = computed(&sim);
    let mut swaps = 0;
    let summary = sim.run_flow_pairs_every(
        &pairs,
        400,
        500,
        LIMIT,
        Duration::from_millis(10),
        &mut |sim: &mut Simulator| {
            let next = &cycle[swaps % cycle.len()];
            for i in 0..g.n {
                let p = next.instance();
                sim.set_routing_policy(i, move |_| p);
            }
            swaps += 1;
        },
    );
    assert!(swaps >= 40, "only {swaps} swaps");
    assert_eq!(computed(&sim) - before, swaps as u64 * g.n as u64);
    assert_eq!((summary.ok, summary.failed), (pairs.len() as u64, 0));
    assert_eq!(packets_lost(&sim), 0);
    assert_eq!(routing_failures(&sim), 0);
}
