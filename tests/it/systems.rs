//! Whole systems in the simulator ([`NodeSim`]): every node runs the real `ouro-node`, the
//! node `ourod` drives, with layers stacked over simulated links.

use ouro_core::LayerConfig;
use ouro_node::{
    Event, FlowId, IpcpId, IpcpOptions, Lower, NodeConfig, QosSpec, RouteMode, Via, Written,
};
use ouro_sim::systems::OVER_LINKS;
use ouro_sim::{Graph, LinkParams, NodeSim};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

fn line_graph(n: usize) -> Graph {
    Graph::from_parts(
        (0..n).map(|i| format!("n{i}")),
        (0..n - 1).map(|i| (i, i + 1, 1)),
    )
}

fn layer(name: &str) -> LayerConfig {
    let mut c = LayerConfig::named(name);
    c.hello_interval = Duration::from_millis(100);
    c.dead_interval = Duration::from_millis(400);
    c
}

fn config() -> NodeConfig {
    NodeConfig {
        enroll_retry: Duration::from_millis(200),
        n1_retry: Duration::from_millis(200),
        ..NodeConfig::default()
    }
}

/// The options of every IPCP, in route mode `mode`.
fn options(mode: RouteMode) -> IpcpOptions {
    IpcpOptions {
        route_mode: mode,
        ..IpcpOptions::default()
    }
}

/// A layer `low` over the links of a line: node 0 bootstraps, each next node enrolls
/// through the one before and connects to it.
fn lower_layer(sim: &mut NodeSim) -> Vec<IpcpId> {
    lower_layer_in(sim, RouteMode::Inline)
}

/// [`lower_layer`], its IPCPs in route mode `mode`.
fn lower_layer_in(sim: &mut NodeSim, mode: RouteMode) -> Vec<IpcpId> {
    let n = sim.graph().node_count();
    let ids: Vec<IpcpId> = (0..n)
        .map(|i| {
            sim.with_node(i, |node, now| {
                node.create_ipcp(now, &format!("n{i}.low"), OVER_LINKS, options(mode))
            })
            .expect("create")
        })
        .collect();
    sim.with_node(0, |node, now| node.bootstrap(now, ids[0], layer("low")))
        .expect("bootstrap");
    for (i, &id) in ids.iter().enumerate().skip(1) {
        let port = sim.port_towards(i, i - 1).expect("link");
        sim.with_node(i, |node, now| {
            node.enroll(now, id, Via::Port(port))?;
            node.connect(now, id, Via::Port(port), 1)
        })
        .expect("enroll");
    }
    assert!(
        sim.run_with(Duration::from_secs(10), 10 * MS, |sim| {
            (0..n).all(|i| sim.node(i).ipcp(ids[i]).is_some_and(|p| p.is_enrolled()))
        }),
        "the lower layer forms"
    );
    sim.run_for(Duration::from_secs(1));
    ids
}

/// A layer `up` over `low` on the two ends of the line only: its one adjacency is an N-1
/// flow across every relay of `low`.
fn upper_layer(sim: &mut NodeSim, low: &[IpcpId]) -> (IpcpId, IpcpId) {
    upper_layer_in(sim, low, RouteMode::Inline)
}

/// [`upper_layer`], its IPCPs in route mode `mode`.
fn upper_layer_in(sim: &mut NodeSim, low: &[IpcpId], mode: RouteMode) -> (IpcpId, IpcpId) {
    let last = low.len() - 1;
    let a = sim
        .with_node(0, |node, now| {
            let id = node.create_ipcp(now, "a.up", Lower::Unicast(low[0]), options(mode))?;
            node.bootstrap(now, id, layer("up"))?;
            Ok::<_, ouro_node::NodeError>(id)
        })
        .expect("upper a");
    let b = sim
        .with_node(last, |node, now| {
            let id = node.create_ipcp(now, "b.up", Lower::Unicast(low[last]), options(mode))?;
            node.enroll(now, id, Via::Name("a.up".into()))?;
            node.connect(now, id, Via::Name("a.up".into()), 1)?;
            Ok::<_, ouro_node::NodeError>(id)
        })
        .expect("upper b");
    assert!(
        sim.run_with(Duration::from_secs(10), 10 * MS, |sim| {
            sim.node(last)
                .ipcp(b)
                .is_some_and(|p| p.neighbors().len() == 1)
                && sim
                    .node(0)
                    .ipcp(a)
                    .is_some_and(|p| p.neighbors().len() == 1)
        }),
        "the upper layer forms over the lower one"
    );
    (a, b)
}

/// A flow from node 0's `from` to `name`, served by node `to`'s `at`.
fn open_flow(
    sim: &mut NodeSim,
    from: IpcpId,
    to: usize,
    at: IpcpId,
    name: &str,
    qos: QosSpec,
) -> (FlowId, FlowId) {
    sim.with_node(to, |node, now| {
        node.listen(name);
        node.register(now, at, name)
    })
    .expect("register");
    sim.run_for(Duration::from_millis(500));
    let fa = sim
        .with_node(0, |node, now| node.alloc_flow(now, from, name, qos))
        .expect("alloc");
    let mut fb = None;
    assert!(
        sim.run_with(Duration::from_secs(5), MS, |sim| {
            fb = sim.events(to).iter().find_map(|(_, e)| match e {
                Event::FlowIncoming { flow, .. } => Some(*flow),
                _ => None,
            });
            fb.is_some()
                && sim
                    .events(0)
                    .iter()
                    .any(|(_, e)| *e == Event::FlowAllocated { flow: fa })
        }),
        "the flow is allocated"
    );
    (fa, fb.expect("incoming"))
}

/// Write `total` numbered messages of `size` bytes from node 0 as fast as the flow takes
/// them (holding back when told), reading at node `to` every millisecond; what arrived.
fn stream(
    sim: &mut NodeSim,
    fa: FlowId,
    to: usize,
    fb: FlowId,
    total: u32,
    size: usize,
) -> (Vec<u32>, u64) {
    let mut sent = 0u32;
    let mut held = 0u64;
    let mut got = Vec::new();
    let done = sim.run_with(Duration::from_secs(120), MS, |sim| {
        sim.with_node(0, |node, now| {
            while sent < total && !node.is_held(fa) {
                let mut msg = vec![0u8; size.max(4)];
                msg[..4].copy_from_slice(&sent.to_be_bytes());
                sent += 1;
                if node.write(now, fa, &msg).expect("write") == Written::Held {
                    held += 1;
                }
            }
        });
        sim.with_node(to, |node, _| {
            while let Some(m) = node.read(fb) {
                got.push(u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
            }
        });
        got.len() >= total as usize
    });
    assert!(done, "{} of {total} arrived in time", got.len());
    (got, held)
}

#[test]
fn a_unicast_layer_runs_over_a_unicast_layer_over_links() {
    let mut sim = NodeSim::new(line_graph(4), 7, LinkParams::default(), config());
    let low = lower_layer(&mut sim);
    let (a, b) = upper_layer(&mut sim, &low);
    let (fa, fb) = open_flow(&mut sim, a, 3, b, "svc", QosSpec::BEST_EFFORT);
    let (got, _) = stream(&mut sim, fa, 3, fb, 2_000, 200);
    assert_eq!(got, (0..2_000).collect::<Vec<_>>(), "all, in order");
    // The relays forwarded the upper layer's PDUs in the lower layer; they run no upper IPCP.
    for (i, &id) in low.iter().enumerate().take(3).skip(1) {
        let c = sim.node(i).ipcp(id).expect("relay").counters();
        assert!(c.forwarded >= 2_000, "relay {i} forwarded {}", c.forwarded);
        assert_eq!(sim.node(i).ipcps().count(), 1);
    }
    // Enrollment and the adjacency share one N-1 flow, seen from both ends.
    assert_eq!(sim.node(3).n1_ports(b).len(), 1);
    assert_eq!(sim.node(0).n1_ports(a).len(), 1);
    let port = &sim.node(0).n1_ports(a)[0];
    assert_eq!((port.lower, port.tx_drops), (low[0], 0));
}

#[test]
fn a_slow_lower_layer_holds_the_upper_applications_back_with_nothing_lost() {
    // 2 Mbit/s links: 250 messages of 1,000 B a second, far slower than the writer.
    let slow = LinkParams {
        delay: Duration::from_millis(2),
        bandwidth_bps: Some(2_000_000),
        loss: 0.0,
    };
    let mut sim = NodeSim::new(line_graph(3), 11, slow, config());
    let low = lower_layer(&mut sim);
    let (a, b) = upper_layer(&mut sim, &low);
    let (fa, fb) = open_flow(&mut sim, a, 2, b, "sink", QosSpec::BEST_EFFORT);
    let total = 3_000;
    let (got, held) = stream(&mut sim, fa, 2, fb, total, 1_000);
    assert_eq!(
        got,
        (0..total).collect::<Vec<_>>(),
        "all, in order, none lost"
    );
    assert!(held > 0, "the writer was held back");
    for (i, &id) in low.iter().enumerate() {
        let c = sim.node(i).ipcp(id).expect("ipcp").counters();
        assert_eq!(
            (c.sched_dropped, c.drop_queue_full),
            (0, 0),
            "node {i} dropped"
        );
    }
    let c = sim.node(0).ipcp(a).expect("upper").counters();
    assert_eq!(
        (c.sched_dropped, c.drop_queue_full),
        (0, 0),
        "the upper IPCP dropped"
    );
    assert_eq!(sim.node(2).flow_stats(fb).expect("flow").rx_drops, 0);
    assert!(
        sim.node(0).n1_ports(a)[0].waits > 0,
        "the N-1 flow made the upper queue wait"
    );
    assert_eq!(sim.counters().pdus_lost, 0);
}

#[test]
fn a_flapping_link_re_forms_its_adjacency() {
    let mut sim = NodeSim::new(line_graph(3), 3, LinkParams::default(), config());
    let low = lower_layer(&mut sim);
    let ups = |sim: &NodeSim| {
        sim.events(2)
            .iter()
            .filter(|(_, e)| matches!(e, Event::AdjacencyUp { .. }))
            .count()
    };
    for round in 0..3 {
        let before = ups(&sim);
        sim.set_link_up(1, false);
        assert!(
            sim.run_with(Duration::from_secs(5), 10 * MS, |sim| sim
                .node(2)
                .ipcp(low[2])
                .is_some_and(|p| p.neighbors().is_empty())),
            "round {round}: the adjacency goes down"
        );
        sim.set_link_up(1, true);
        assert!(
            sim.run_with(Duration::from_secs(5), 10 * MS, |sim| ups(sim) > before
                && sim
                    .node(2)
                    .ipcp(low[2])
                    .is_some_and(|p| p.neighbors().len() == 1)),
            "round {round}: the adjacency comes back"
        );
    }
    // And it carries flows again.
    sim.run_for(Duration::from_secs(1));
    let (fa, fb) = open_flow(&mut sim, low[0], 2, low[2], "after", QosSpec::RAW);
    let (got, _) = stream(&mut sim, fa, 2, fb, 100, 10);
    assert_eq!(got.len(), 100);
}

/// A lossy two-layer run: its trace and totals.
fn lossy_run(seed: u64) -> (String, String) {
    lossy_run_in(seed, RouteMode::Inline)
}

/// [`lossy_run`], every IPCP in route mode `mode`.
fn lossy_run_in(seed: u64, mode: RouteMode) -> (String, String) {
    let lossy = LinkParams {
        loss: 0.01,
        ..LinkParams::default()
    };
    let mut sim = NodeSim::new(line_graph(3), seed, lossy, config());
    let low = lower_layer_in(&mut sim, mode);
    let (a, b) = upper_layer_in(&mut sim, &low, mode);
    let (fa, fb) = open_flow(&mut sim, a, 2, b, "det", QosSpec::BEST_EFFORT);
    sim.with_node(0, |node, now| {
        for i in 0..200u32 {
            let _ = node.write(now, fa, &i.to_be_bytes());
        }
    });
    sim.run_for(Duration::from_secs(1));
    let rx: Vec<Vec<u8>> =
        sim.with_node(2, |node, _| std::iter::from_fn(|| node.read(fb)).collect());
    let fibs: Vec<_> = [(0, low[0]), (1, low[1]), (2, low[2]), (0, a), (2, b)]
        .into_iter()
        .map(|(n, id)| sim.node(n).ipcp(id).map(|p| p.fib()))
        .collect();
    let totals = format!(
        "{:?} rx={} {:?} {fibs:?}",
        sim.counters(),
        rx.len(),
        sim.node(2).flow_stats(fb)
    );
    (sim.trace().to_string(), totals)
}

#[test]
fn the_same_seed_gives_byte_identical_output() {
    let (t1, c1) = lossy_run(42);
    let (t2, c2) = lossy_run(42);
    assert!(t1.lines().count() > 20, "the trace records the run");
    assert_eq!(t1, t2, "same seed, same trace");
    assert_eq!(c1, c2);
    let (t3, _) = lossy_run(43);
    assert_ne!(t1, t3, "another seed, another run");
}

#[test]
fn routes_requested_and_answered_at_once_give_the_same_run_as_inline() {
    let (inline, inline_totals) = lossy_run_in(42, RouteMode::Inline);
    let (requested, requested_totals) = lossy_run_in(42, RouteMode::Requested);
    let asked = requested
        .lines()
        .filter(|l| l.contains("RouteRequest"))
        .count();
    assert!(asked > 0, "the IPCPs asked for their routes");
    assert!(!inline.contains("RouteRequest"));
    let answered: String = requested
        .lines()
        .filter(|l| !l.contains("RouteRequest"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(inline, answered, "the same trace, requests aside");
    assert_eq!(
        inline_totals, requested_totals,
        "the same tables and totals"
    );
}

#[test]
fn a_late_route_answer_leaves_the_old_table_forwarding_and_a_stale_one_is_dropped() {
    // A triangle whose direct link 0 - 2 costs 10: node 0 reaches 2 through 1.
    let graph = Graph::from_parts(
        (0..3).map(|i| format!("n{i}")),
        [(0, 1, 1), (1, 2, 1), (0, 2, 10)],
    );
    let mut sim = NodeSim::new(graph, 7, LinkParams::default(), config());
    let ids: Vec<IpcpId> = (0..3)
        .map(|i| {
            sim.with_node(i, |node, now| {
                node.create_ipcp(
                    now,
                    &format!("n{i}.net"),
                    OVER_LINKS,
                    options(RouteMode::Requested),
                )
            })
            .expect("create")
        })
        .collect();
    sim.with_node(0, |node, now| node.bootstrap(now, ids[0], layer("net")))
        .expect("bootstrap");
    for (i, j, cost) in [(1, 0, 1), (2, 1, 1)] {
        let port = sim.port_towards(i, j).expect("link");
        sim.with_node(i, |node, now| {
            node.enroll(now, ids[i], Via::Port(port))?;
            node.connect(now, ids[i], Via::Port(port), cost)
        })
        .expect("enroll");
        sim.run_for(Duration::from_millis(500));
    }
    let port = sim.port_towards(0, 2).expect("link");
    sim.with_node(0, |node, now| {
        node.connect(now, ids[0], Via::Port(port), 10)
    })
    .expect("connect");
    sim.run_for(Duration::from_secs(1));
    let addr2 = sim.node(2).ipcp(ids[2]).expect("live").address();
    let via1 = sim.port_towards(0, 1).expect("link");
    let hop_to_2 = |sim: &NodeSim| {
        let ipcp = sim.node(0).ipcp(ids[0]).expect("live");
        ipcp.fib().get(addr2).map(|e| e.next_hops.clone())
    };
    assert_eq!(
        hop_to_2(&sim),
        Some(vec![(
            sim.node(1).ipcp(ids[1]).expect("live").address(),
            via1
        )])
    );
    let (fa, fb) = open_flow(&mut sim, ids[0], 2, ids[2], "late", QosSpec::BEST_EFFORT);
    let old_hop = hop_to_2(&sim);

    // The direct link goes down; answers now come 300 ms after the requests.
    sim.set_route_delay(Duration::from_millis(300));
    let requests = |sim: &NodeSim| {
        sim.events(0)
            .iter()
            .filter(|(_, e)| matches!(e, Event::RouteRequest { .. }))
            .count()
    };
    let before = requests(&sim);
    sim.set_link_up(2, false);
    assert!(
        sim.run_with(Duration::from_secs(2), MS, |sim| requests(sim) > before),
        "node 0 asks once the adjacency is gone"
    );
    // Meanwhile the flow runs on the table in force.
    sim.with_node(0, |node, now| {
        for i in 0..20u8 {
            assert_eq!(node.write(now, fa, &[i; 32]).expect("write"), Written::Sent);
        }
    });
    sim.run_for(Duration::from_millis(100));
    let got = sim.with_node(2, |node, _| std::iter::from_fn(|| node.read(fb)).count());
    assert_eq!(got, 20, "forwarded on the old table");
    let ipcp = sim.node(0).ipcp(ids[0]).expect("live");
    assert!(ipcp.routes_pending(), "the answer is still on its way");
    assert_eq!(hop_to_2(&sim), old_hop);

    // The driver's policy changes before the answer is in: that answer is stale.
    sim.with_node(0, |node, now| {
        node.routing_policy_changed(now, ids[0], "native")
    })
    .expect("live");
    sim.run_for(Duration::from_secs(2));
    let ipcp = sim.node(0).ipcp(ids[0]).expect("live");
    let c = ipcp.counters();
    assert_eq!((c.stale_routes, c.routing_failures), (1, 0));
    assert!(!ipcp.routes_pending());
    assert_eq!(hop_to_2(&sim), old_hop);
    assert!(ipcp.neighbors().len() == 1);
}
