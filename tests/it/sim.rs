//! Simulator scenarios: the real IPCP on line, ring, grid and random topologies, checked
//! against an independent shortest-path oracle.
//!
//! Node `i` of a test graph has id `i` in its node-link JSON, hence index `i` in the
//! simulator (checked by [`simulate`]).

use ouro_core::ipcp::RouteMode;
use ouro_sim::{Graph, SimConfig, Simulator};
use ouro_tests::{TestGraph, shortest_next_hops};
use std::collections::BTreeSet;
use std::time::Duration;

/// Simulated time allowed for convergence and for a batch of flows.
const LIMIT: Duration = Duration::from_secs(120);

/// A simulator over `g` (costs in the `weight` attribute), not yet run.
fn simulator(g: &TestGraph, config: SimConfig) -> Simulator {
    let json = g.to_node_link_json(Some("weight"));
    let graph = Graph::from_json_str(&json, Some("weight")).expect("generated JSON loads");
    assert_eq!(graph.node_count(), g.n);
    for (i, id) in graph.nodes().iter().enumerate() {
        assert_eq!(id, &i.to_string(), "node index mapping");
    }
    Simulator::new(graph, config).expect("non-empty topology")
}

/// A simulator over `g`, run to convergence.
fn simulate(g: &TestGraph, seed: u64) -> Simulator {
    let mut sim = simulator(
        g,
        SimConfig {
            seed,
            ..SimConfig::default()
        },
    );
    assert!(
        sim.run_until_converged(LIMIT),
        "did not converge in {LIMIT:?}"
    );
    sim
}

/// Every node's ECMP next-hop sets equal the oracle's on `g`.
fn assert_fibs_match(sim: &Simulator, g: &TestGraph) {
    for src in 0..g.n {
        let want = shortest_next_hops(g, src);
        let got = sim.next_hops(src);
        for dst in 0..g.n {
            assert_eq!(got[dst], want[dst], "next hops from {src} to {dst}");
        }
    }
}

/// The simulator's edge between nodes `a` and `b`.
fn edge_index(sim: &Simulator, a: usize, b: usize) -> usize {
    let (a, b) = (a.min(b), a.max(b));
    sim.graph()
        .edges()
        .iter()
        .position(|e| (e.a, e.b) == (a, b))
        .expect("edge exists")
}

fn check_topology(g: &TestGraph, seed: u64) -> Simulator {
    let sim = simulate(g, seed);
    assert_fibs_match(&sim, g);
    assert!(sim.component().len() == g.n);
    let c = sim.counters();
    assert!(c.pdus_delivered > 0);
    assert_eq!(
        (c.pdus_lost, c.bad_ports, c.timer_nudges),
        (0, 0, 0),
        "lossless links, valid ports, sane timers"
    );
    let at = sim.converged_at().expect("routes were computed");
    assert!(at <= sim.now());
    // Enrollment handed out distinct addresses and the bootstrap node's configuration.
    let addrs: BTreeSet<_> = (0..g.n).map(|i| sim.ipcp(i).address()).collect();
    assert_eq!(addrs.len(), g.n);
    assert!((0..g.n).all(|i| sim.ipcp(i).config().layer_name == "sim"));
    sim
}

#[test]
fn line_converges_to_shortest_paths() {
    check_topology(&TestGraph::line(6), 1);
}

#[test]
fn ring_converges_with_ecmp() {
    // An even ring: the opposite node is reached through both neighbours.
    let sim = check_topology(&TestGraph::ring(8), 2);
    assert_eq!(sim.next_hops(0)[4], BTreeSet::from([1, 7]));
}

#[test]
fn grid_converges() {
    check_topology(&TestGraph::grid(5, 4), 3);
}

#[test]
fn random_50_converges() {
    check_topology(&TestGraph::random_connected(50, 4.0, 5, 50), 4);
}

#[test]
fn random_200_converges() {
    check_topology(&TestGraph::random_connected(200, 4.0, 10, 200), 5);
}

#[test]
fn random_1000_converges() {
    let mut sim = check_topology(&TestGraph::random_connected(1000, 4.0, 10, 1000), 6);
    // The directory works at this scale: flows between random pairs find their names.
    assert_eq!(sim.register_names(Duration::from_secs(1)), 0);
    let summary = sim.run_flows(20, 5, 100, LIMIT);
    assert_eq!(
        (summary.ok, summary.failed),
        (20, 0),
        "{:?}",
        sim.flow_results()
    );
}

#[test]
fn flows_between_random_pairs_deliver_everything() {
    let g = TestGraph::random_connected(30, 3.0, 4, 7);
    let mut sim = simulate(&g, 7);
    assert_eq!(
        sim.register_names(Duration::from_secs(1)),
        0,
        "registrations"
    );
    let summary = sim.run_flows(20, 10, 200, LIMIT);
    assert_eq!(
        (summary.ok, summary.failed),
        (20, 0),
        "{:?}",
        sim.flow_results()
    );
    for rec in sim.flow_results() {
        assert_ne!(rec.src, rec.dst);
        assert_eq!((rec.sent, rec.received), (10, 10));
    }
    let report = sim.report(&[]);
    assert_eq!((report.flows_ok, report.flows_failed), (20, 0));
}

#[test]
fn flows_to_an_unregistered_name_fail() {
    // Honesty check: without registration no flow can succeed.
    let g = TestGraph::line(4);
    let mut sim = simulate(&g, 8);
    let summary = sim.run_flow_pairs(&[(0, 3)], 1, 8, Duration::from_secs(30));
    assert_eq!((summary.ok, summary.failed), (0, 1));
}

#[test]
fn link_failure_reroutes() {
    let g = TestGraph::grid(4, 4);
    let mut sim = simulate(&g, 9);
    assert_fibs_match(&sim, &g);
    // Node 5 = (1,1), node 6 = (1,2) in the 4x4 grid: a middle link.
    let (a, b) = (5, 6);
    let edge = edge_index(&sim, a, b);
    sim.set_link(edge, false);
    assert!(!sim.link_is_up(edge));
    assert!(sim.run_until_converged(LIMIT), "did not reconverge");
    let without = TestGraph {
        n: g.n,
        edges: g
            .edges
            .iter()
            .copied()
            .filter(|&(x, y, _)| (x.min(y), x.max(y)) != (a.min(b), a.max(b)))
            .collect(),
    };
    assert_fibs_match(&sim, &without);
    assert!(!sim.next_hops(a)[b].contains(&b));

    // And back up: the original routes return.
    sim.set_link(edge, true);
    assert!(
        sim.run_until_converged(LIMIT),
        "did not reconverge after repair"
    );
    assert_fibs_match(&sim, &g);
}

#[test]
fn node_joined_later_enrolls_and_is_reachable() {
    let g = TestGraph::ring(6);
    let late = 3;
    let config = SimConfig {
        seed: 10,
        held_back: BTreeSet::from([late]),
        ..SimConfig::default()
    };
    let mut sim = simulator(&g, config);
    assert!(sim.run_until_converged(LIMIT));
    assert!(!sim.is_enrolled(late));
    assert_eq!(sim.component().len(), g.n - 1);
    // Without node 3 the ring is a line 4-5-0-1-2: node 2 reaches 4 through 1.
    assert_eq!(sim.next_hops(2)[4], BTreeSet::from([1]));

    sim.join(late);
    assert!(
        sim.run_until_converged(LIMIT),
        "did not converge after the join"
    );
    assert!(sim.is_enrolled(late));
    assert!(sim.ipcp(late).is_enrolled());
    assert_fibs_match(&sim, &g);
    assert_eq!(sim.register_names(Duration::from_secs(1)), 0);
    let summary = sim.run_flow_pairs(&[(0, late), (late, 0)], 5, 64, LIMIT);
    assert_eq!(
        (summary.ok, summary.failed),
        (2, 0),
        "{:?}",
        sim.flow_results()
    );
}

#[test]
fn same_seed_same_run() {
    let g = TestGraph::random_connected(40, 3.0, 5, 11);
    let run = || {
        let mut sim = simulate(&g, 11);
        sim.register_names(Duration::from_secs(1));
        sim.run_flows(10, 5, 100, LIMIT);
        let all: Vec<usize> = (0..g.n).collect();
        let mut report = sim.report(&all);
        report.wall_ms = 0;
        let dumps: Vec<_> = all.iter().map(|&n| sim.fib_dump(n)).collect();
        (
            serde_json::to_string(&report).expect("serialises"),
            dumps,
            sim.counters(),
        )
    };
    let (a, b) = (run(), run());
    assert_eq!(a.0, b.0, "report");
    assert_eq!(a.1, b.1, "FIB dumps");
    assert_eq!(a.2, b.2, "counters");
}

#[test]
fn lossy_links_still_converge() {
    let g = TestGraph::ring(10);
    let link = ouro_sim::LinkParams {
        loss: 0.05,
        ..ouro_sim::LinkParams::default()
    };
    let mut sim = simulator(
        &g,
        SimConfig {
            seed: 12,
            link,
            ..SimConfig::default()
        },
    );
    assert!(sim.run_until_converged(LIMIT));
    assert!(sim.counters().pdus_lost > 0, "the loss model is in force");
    assert_fibs_match(&sim, &g);
}

#[test]
fn generators_oracle_and_loader_agree() {
    // Needs no IPCP: the test scaffolding itself.
    let ring = TestGraph::ring(8);
    assert_eq!(shortest_next_hops(&ring, 0)[4], BTreeSet::from([1, 7]));
    assert_eq!(shortest_next_hops(&ring, 0)[1], BTreeSet::from([1]));
    assert!(shortest_next_hops(&ring, 0)[0].is_empty());
    let g = TestGraph::random_connected(1000, 4.0, 10, 1000);
    let graph =
        Graph::from_json_str(&g.to_node_link_json(Some("weight")), Some("weight")).expect("loads");
    assert_eq!(graph.components().len(), 1);
    assert_eq!(graph.edge_count(), g.edges.len());
    assert!(
        (1900..=2000).contains(&graph.edge_count()),
        "{}",
        graph.edge_count()
    );
    let costs: BTreeSet<u32> = graph.edges().iter().map(|e| e.cost).collect();
    assert_eq!(costs, (1..=10).collect());
    let hops = shortest_next_hops(&g, 0);
    assert!(
        hops.iter().skip(1).all(|h| !h.is_empty()),
        "connected: every node reachable"
    );
}

/// 0 — 1 — 2 with the link 1 — 2 a bottleneck of 80 Mbit/s (about 9,860 PDUs/s of
/// 1,000-byte messages), every port scheduled (256 packets per cube), converged, names
/// registered; then a flood of 100 messages per millisecond (10× the bottleneck) from 0 to
/// 2 for 2 s, written regardless or with back-pressure and congestion control. Returns
/// the flood's result and the PDUs node 1 dropped at its full queue.
fn flood_through_bottleneck(back_pressure: bool) -> (ouro_sim::StreamResult, u64) {
    use ouro_core::QosSpec;
    use ouro_core::sched::QueueLimits;
    use ouro_sim::{LinkParams, Stream};
    let mut sim = simulator(&TestGraph::line(3), SimConfig::default());
    let bottleneck = edge_index(&sim, 1, 2);
    sim.set_link_params(
        bottleneck,
        LinkParams {
            delay: Duration::from_millis(1),
            bandwidth_bps: Some(80_000_000),
            loss: 0.0,
        },
    );
    sim.schedule_ports(QueueLimits::default(), 16);
    assert!(sim.run_until_converged(LIMIT));
    assert_eq!(sim.register_names(Duration::from_millis(500)), 0);
    let flood = Stream {
        src: 0,
        dst: 2,
        qos: QosSpec::BEST_EFFORT,
        size: 1_000,
        interval: Duration::from_millis(1),
        count: u32::MAX,
    };
    let r = sim.run_floods(&[flood], 100, back_pressure, Duration::from_secs(2));
    let dropped = sim.ipcp(1).counters().drop_queue_full;
    (r.into_iter().next().expect("one flood"), dropped)
}

#[test]
fn congestion_control_stops_a_flood_wasting_the_bottleneck() {
    // What the bottleneck carries in 2 s: 80 Mbit/s over 1,015-byte PDUs.
    let capacity = 2.0 * 80e6 / 8.0 / 1_015.0;
    let (open, open_drops) = flood_through_bottleneck(false);
    let (cc, cc_drops) = flood_through_bottleneck(true);
    let loss = |r: &ouro_sim::StreamResult| 1.0 - f64::from(r.received) / f64::from(r.sent);
    // Without flow control, nine in ten messages die at the relay's queue.
    assert!(loss(&open) > 0.8, "open loop loss {:.3}", loss(&open));
    assert!(open_drops > 100_000, "{open_drops}");
    assert_eq!(open.refused, 0);
    // With it, the sender is held back: little loss, and the bottleneck stays busy.
    assert!(cc.refused > 0, "the application was paused");
    let stats = cc.cc.expect("the sender's flow").stats;
    assert!(
        stats.decreases > 0 && stats.signals >= stats.decreases,
        "{stats:?}"
    );
    // Deterministic: 12.9 % lost (the first signals travel while the flood goes on, and
    // each saw-tooth peak overflows the queue), 91 % of the bottleneck used, against 90 %
    // lost without.
    assert!(
        loss(&cc) < 0.2,
        "loss {:.3} ({} of {})",
        loss(&cc),
        cc.received,
        cc.sent
    );
    assert!(cc_drops * 20 < open_drops, "{cc_drops} vs {open_drops}");
    let goodput = f64::from(cc.received) / capacity;
    eprintln!(
        "bottleneck flood: open loop sent {} received {} (relay dropped {open_drops}); \
         with back-pressure sent {} received {} (relay dropped {cc_drops}), refused {}, {stats:?}",
        open.sent, open.received, cc.sent, cc.received, cc.refused
    );
    assert!(goodput > 0.85, "goodput {goodput:.3} of the bottleneck");
    assert!(
        f64::from(open.received) / capacity > 0.8,
        "the flood fills it too"
    );
}

/// A run of `g` with the routes computed inline or, `Some(delay)`, requested from the
/// simulator: its report, every node's forwarding table and the run totals.
fn routed_run(
    g: &TestGraph,
    requested_routes: Option<Duration>,
) -> (
    String,
    Vec<std::collections::BTreeMap<String, Vec<String>>>,
    ouro_sim::SimCounters,
) {
    let mut sim = simulator(
        g,
        SimConfig {
            seed: 13,
            requested_routes,
            ..SimConfig::default()
        },
    );
    assert!(sim.run_until_converged(LIMIT));
    assert_fibs_match(&sim, g);
    assert_eq!(sim.register_names(Duration::from_secs(1)), 0);
    let summary = sim.run_flows(10, 5, 100, LIMIT);
    assert_eq!((summary.ok, summary.failed), (10, 0));
    let all: Vec<usize> = (0..g.n).collect();
    let mut report = sim.report(&all);
    report.wall_ms = 0;
    for &n in &all {
        let c = sim.ipcp(n).counters();
        assert_eq!((c.routing_failures, c.stale_routes), (0, 0));
        let mode = sim.ipcp(n).route_mode();
        assert_eq!(mode == RouteMode::Requested, requested_routes.is_some());
    }
    let fibs = all.iter().map(|&n| sim.fib_dump(n)).collect();
    (
        serde_json::to_string(&report).expect("serialises"),
        fibs,
        sim.counters(),
    )
}

#[test]
fn routes_requested_and_answered_at_once_give_the_same_run_as_inline() {
    let g = TestGraph::random_connected(40, 3.0, 5, 13);
    let inline = routed_run(&g, None);
    let requested = routed_run(&g, Some(Duration::ZERO));
    assert_eq!(inline.0, requested.0, "report");
    assert_eq!(inline.1, requested.1, "forwarding tables");
    assert_eq!(inline.2, requested.2, "counters");
}

#[test]
fn delayed_route_answers_keep_the_old_table_forwarding_and_stale_ones_are_dropped() {
    // A ring of six with a chord 0 - 3, down at first.
    let ring = TestGraph::ring(6);
    let mut edges = ring.edges.clone();
    edges.push((0, 3, 1));
    let g = TestGraph { n: 6, edges };
    let delay = Duration::from_millis(300);
    let mut sim = simulator(
        &g,
        SimConfig {
            seed: 14,
            requested_routes: Some(delay),
            ..SimConfig::default()
        },
    );
    let chord = edge_index(&sim, 0, 3);
    sim.set_link(chord, false);
    assert!(sim.run_until_converged(LIMIT));
    assert_fibs_match(&sim, &ring);
    assert_eq!(sim.register_names(Duration::from_secs(1)), 0);
    let old = sim.next_hops(0);
    assert_eq!(old[3], BTreeSet::from([1, 5]));

    // The chord comes up: node 0's request is answered 300 ms later; meanwhile its flows
    // run on the table in force.
    let computed = sim.ipcp(0).counters().route_computations;
    sim.set_link(chord, true);
    sim.run_for(Duration::from_millis(100));
    assert!(sim.ipcp(0).routes_pending(), "the answer is on its way");
    assert_eq!(sim.ipcp(0).counters().route_computations, computed + 1);
    let summary = sim.run_flow_pairs(&[(0, 3), (3, 0)], 5, 64, Duration::from_millis(150));
    assert_eq!((summary.ok, summary.failed), (2, 0));
    assert!(sim.ipcp(0).routes_pending());
    assert_eq!(sim.next_hops(0), old, "still the old table");
    assert!(sim.run_until_converged(LIMIT));
    assert_fibs_match(&sim, &g);
    assert_eq!(sim.next_hops(0)[3], BTreeSet::from([3]));
    assert_eq!(sim.ipcp(0).counters().stale_routes, 0);

    // The chord goes down and node 0's policy is replaced while its request is out: the
    // old policy's answer is stale, the new one's is installed.
    sim.set_link(chord, false);
    sim.run_for(Duration::from_millis(100));
    assert!(sim.ipcp(0).routes_pending());
    sim.set_routing_policy(0, |old| old);
    assert!(sim.run_until_converged(LIMIT));
    let c = sim.ipcp(0).counters();
    assert_eq!((c.stale_routes, c.routing_failures), (1, 0));
    assert_fibs_match(&sim, &ring);
}
