//! The node driven by a tiny in-memory network: no sockets, no clocks. Each test wires
//! nodes' shims port to port; scheduled ports are drained at a fixed pace per tick.

use super::*;
use ouro_core::ipcp::FlowEnd;
use ouro_core::routing::RoutingPolicy;
use std::collections::BTreeMap;

/// Nodes joined by wires: (node, shim, port) ↔ (node, shim, port).
struct Net {
    nodes: Vec<Node>,
    wires: BTreeMap<(usize, ShimId, PortId), (usize, ShimId, PortId)>,
    now: Instant,
    /// PDUs each scheduled port may send per tick (`None`: all).
    pace: Option<u32>,
    events: Vec<(usize, Event)>,
    cut: bool,
}

const SHIM: ShimId = ShimId(0);
const TICK: Duration = Duration::from_millis(1);

impl Net {
    fn new(n: usize) -> Net {
        Net {
            nodes: (0..n)
                .map(|i| {
                    Node::new(NodeConfig {
                        seed: i as u64 + 1,
                        enroll_retry: Duration::from_millis(100),
                        n1_retry: Duration::from_millis(100),
                    })
                })
                .collect(),
            wires: BTreeMap::new(),
            now: Instant::ZERO,
            pace: None,
            events: Vec::new(),
            cut: false,
        }
    }

    /// Wire port `pa` of node `a`'s shim to port `pb` of node `b`'s.
    fn wire(&mut self, a: usize, pa: u32, b: usize, pb: u32) {
        self.wires
            .insert((a, SHIM, PortId(pa)), (b, SHIM, PortId(pb)));
        self.wires
            .insert((b, SHIM, PortId(pb)), (a, SHIM, PortId(pa)));
        self.nodes[a].shim_port_up(SHIM, PortId(pa));
        self.nodes[b].shim_port_up(SHIM, PortId(pb));
    }

    /// Move PDUs until none is in flight (scheduled ports as far as the pace allows).
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                while let Some(t) = self.nodes[i].poll_transmit() {
                    moved = true;
                    if self.cut {
                        continue;
                    }
                    if let Some(&(j, shim, port)) = self.wires.get(&(i, t.shim, t.port)) {
                        let now = self.now;
                        self.nodes[j].shim_receive(now, shim, port, t.data);
                    }
                }
                while let Some(e) = self.nodes[i].poll_event() {
                    self.events.push((i, e));
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// One tick: drain scheduled ports at the pace, run due timers, deliver.
    fn tick(&mut self) {
        self.now += TICK;
        let now = self.now;
        for node in &mut self.nodes {
            for port in node.ports_waiting(SHIM) {
                node.dequeue(now, SHIM, port, self.pace.unwrap_or(u32::MAX));
            }
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.handle_timeout(now);
            }
        }
        self.settle();
    }

    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.tick();
        }
    }

    /// Run until `done` holds (at most `ms` ticks); true if it did.
    fn run_until(&mut self, ms: u64, mut done: impl FnMut(&mut Net) -> bool) -> bool {
        for _ in 0..ms {
            if done(self) {
                return true;
            }
            self.tick();
        }
        done(self)
    }

    fn saw(&self, node: usize, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(|(n, e)| *n == node && f(e))
    }
}

fn layer(name: &str) -> LayerConfig {
    let mut c = LayerConfig::named(name);
    c.hello_interval = Duration::from_millis(50);
    c.dead_interval = Duration::from_millis(200);
    c
}

fn shim_lower(scheduled: bool) -> Lower {
    Lower::Shim {
        shim: SHIM,
        scheduled,
    }
}

/// Nodes 0..n in a line over wires, one layer `net` over them (0 bootstraps, each next one
/// enrolls through the one before). Returns each node's IPCP.
fn line(net: &mut Net, scheduled: bool) -> Vec<IpcpId> {
    line_with(net, scheduled, |_| IpcpOptions::default())
}

/// [`line`], node `i`'s IPCP made with `opts(i)`.
fn line_with(net: &mut Net, scheduled: bool, opts: impl Fn(usize) -> IpcpOptions) -> Vec<IpcpId> {
    let n = net.nodes.len();
    for i in 0..n - 1 {
        net.wire(i, 2, i + 1, 1);
    }
    let now = net.now;
    let ids: Vec<IpcpId> = (0..n)
        .map(|i| {
            let id = net.nodes[i]
                .create_ipcp(now, &format!("n{i}.net"), shim_lower(scheduled), opts(i))
                .expect("create");
            net.nodes[i].shim_port_up(SHIM, PortId(1));
            net.nodes[i].shim_port_up(SHIM, PortId(2));
            id
        })
        .collect();
    net.nodes[0]
        .bootstrap(now, ids[0], layer("net"))
        .expect("bootstrap");
    for (i, &id) in ids.iter().enumerate().skip(1) {
        net.nodes[i]
            .enroll(now, id, Via::Port(PortId(1)))
            .expect("enroll");
        net.settle();
        assert!(
            net.run_until(2_000, |net| net.nodes[i]
                .ipcp(id)
                .is_some_and(|p| p.is_enrolled())),
            "node {i} enrolls"
        );
        net.nodes[i]
            .connect(net.now, id, Via::Port(PortId(1)), 1)
            .expect("connect");
    }
    net.run(300);
    ids
}

/// Node 1's IPCP `b` enrolls through `port`; run until that attempt has failed.
fn enroll_and_fail(net: &mut Net, b: IpcpId, port: u32) {
    net.nodes[1]
        .enroll(net.now, b, Via::Port(PortId(port)))
        .expect("enroll");
    assert!(net.run_until(10_000, |net| {
        net.saw(1, |e| matches!(e, Event::EnrollFailed { .. }))
    }));
}

/// True if node 1 reports an IPCP enrolled within `ms` ticks.
fn enrolled_within(net: &mut Net, ms: u64) -> bool {
    net.run_until(ms, |net| {
        net.saw(1, |e| matches!(e, Event::Enrolled { .. }))
    })
}

/// Two nodes in a line (ports not scheduled), node 1 serving `name`, and a raw flow to it
/// from node 0: the net, the IPCPs, node 0's end and node 1's.
fn pair_with_flow(name: &str) -> (Net, Vec<IpcpId>, FlowId, FlowId) {
    let mut net = Net::new(2);
    let ids = line(&mut net, false);
    net.nodes[1]
        .register(net.now, ids[1], name)
        .expect("register");
    net.run(300);
    let (fa, fb) = flow(&mut net, 0, ids[0], 1, name, QosSpec::RAW);
    (net, ids, fa, fb)
}

/// An IPCP named `names[i]` on node `i`, over its shim (ports not scheduled), in no layer.
fn ipcps<const N: usize>(net: &mut Net, names: [&str; N]) -> [IpcpId; N] {
    let now = net.now;
    std::array::from_fn(|i| {
        net.nodes[i]
            .create_ipcp(now, names[i], shim_lower(false), IpcpOptions::default())
            .expect("create")
    })
}

/// Allocate a flow from node `a` (IPCP `ia`) to `name` served on node `b`.
fn flow(
    net: &mut Net,
    a: usize,
    ia: IpcpId,
    b: usize,
    name: &str,
    qos: QosSpec,
) -> (FlowId, FlowId) {
    net.nodes[b].listen(name);
    let fa = net.nodes[a]
        .alloc_flow(net.now, ia, name, qos)
        .expect("alloc");
    net.settle();
    let mut fb = None;
    assert!(net.run_until(2_000, |net| {
        fb = net.events.iter().find_map(|(n, e)| match e {
            Event::FlowIncoming { flow, .. } if *n == b => Some(*flow),
            _ => None,
        });
        fb.is_some() && net.saw(a, |e| *e == Event::FlowAllocated { flow: fa })
    }));
    (fa, fb.expect("incoming"))
}

#[test]
fn messages_cross_a_layer_and_come_back() {
    let mut net = Net::new(3);
    let ids = line(&mut net, false);
    for (i, &id) in ids.iter().enumerate().skip(1) {
        net.nodes[i]
            .register(net.now, id, &format!("app{i}"))
            .expect("register");
    }
    net.run(300);
    let (fa, fb) = flow(&mut net, 0, ids[0], 2, "app2", QosSpec::BEST_EFFORT);
    assert_eq!(
        net.nodes[0].write(net.now, fa, b"ping").expect("write"),
        Written::Sent
    );
    net.settle();
    assert_eq!(net.nodes[2].read(fb).as_deref(), Some(&b"ping"[..]));
    assert!(net.saw(2, |e| *e == Event::FlowReadable { flow: fb }));
    net.nodes[2]
        .write(net.now, fb, b"pong")
        .expect("write back");
    net.settle();
    assert_eq!(net.nodes[0].read(fa).as_deref(), Some(&b"pong"[..]));
    let s = net.nodes[0].flow_stats(fa).expect("stats");
    assert_eq!((s.tx_msgs, s.rx_msgs, s.rx_drops), (1, 1, 0));
}

#[test]
fn a_flow_to_a_name_nobody_listens_on_is_refused() {
    let mut net = Net::new(2);
    let ids = line(&mut net, false);
    net.nodes[1]
        .register(net.now, ids[1], "quiet")
        .expect("register");
    net.run(300);
    let fa = net.nodes[0]
        .alloc_flow(net.now, ids[0], "quiet", QosSpec::RAW)
        .expect("alloc");
    assert!(net.run_until(2_000, |net| {
        net.saw(0, |e| {
            matches!(e,
        Event::FlowEnded { flow, reason: FlowEnd::Refused | FlowEnd::Denied } if *flow == fa)
        })
    }));
    assert_eq!(net.nodes[1].stats().flows_refused, 1);
    assert!(net.nodes[0].write(net.now, fa, b"x").is_err());
}

#[test]
fn a_failed_enrollment_is_tried_again_until_the_member_is_there() {
    let mut net = Net::new(2);
    net.wire(0, 1, 1, 1);
    let [a, b] = ipcps(&mut net, ["a", "b"]);
    // Nobody is in a layer yet: b's enrollment fails.
    enroll_and_fail(&mut net, b, 1);
    net.nodes[0]
        .bootstrap(net.now, a, layer("late"))
        .expect("bootstrap");
    assert!(enrolled_within(&mut net, 10_000));
    assert_eq!(
        net.nodes[1].ipcp(b).map(|p| p.config().layer_name.clone()),
        Some("late".into())
    );
}

#[test]
fn a_layer_runs_over_a_layer() {
    let mut net = Net::new(3);
    let low = line(&mut net, true);
    let now = net.now;
    // An upper layer on the two ends only: its one adjacency is an N-1 flow through the
    // relay in the middle.
    let up0 = net.nodes[0]
        .create_ipcp(now, "n0.up", Lower::Unicast(low[0]), IpcpOptions::default())
        .expect("create");
    let up2 = net.nodes[2]
        .create_ipcp(now, "n2.up", Lower::Unicast(low[2]), IpcpOptions::default())
        .expect("create");
    net.nodes[0]
        .bootstrap(now, up0, layer("up"))
        .expect("bootstrap");
    net.run(300); // the lower layer learns where n0.up is
    net.nodes[2]
        .enroll(net.now, up2, Via::Name("n0.up".into()))
        .expect("enroll");
    assert!(net.run_until(5_000, |net| {
        net.nodes[2].ipcp(up2).is_some_and(|p| p.is_enrolled())
    }));
    net.nodes[2]
        .connect(net.now, up2, Via::Name("n0.up".into()), 1)
        .expect("connect");
    net.nodes[2]
        .register(net.now, up2, "top")
        .expect("register");
    net.run(500);
    // One N-1 flow carries the adjacency: reused by the connect.
    assert_eq!(net.nodes[2].n1_ports(up2).len(), 1);
    assert_eq!(
        net.nodes[0].n1_ports(up0).len(),
        1,
        "enroll and connect share the flow"
    );
    assert!(net.saw(
        0,
        |e| matches!(e, Event::AdjacencyUp { ipcp, .. } if *ipcp == up0)
    ));
    let (fa, fb) = flow(&mut net, 0, up0, 2, "top", QosSpec::BEST_EFFORT);
    for i in 0..100u32 {
        assert_eq!(
            net.nodes[0]
                .write(net.now, fa, &i.to_be_bytes())
                .expect("write"),
            Written::Sent
        );
    }
    net.run(50);
    let got: Vec<Vec<u8>> = std::iter::from_fn(|| net.nodes[2].read(fb)).collect();
    assert_eq!(got.len(), 100);
    // The relay's lower IPCP carried them; the relay has no upper IPCP at all.
    assert!(
        net.nodes[1]
            .ipcp(low[1])
            .is_some_and(|p| p.counters().forwarded >= 100)
    );
    let p = &net.nodes[0].n1_ports(up0)[0];
    assert!(p.tx_pdus >= 100 && p.tx_drops == 0, "{p:?}");
}

#[test]
fn a_slow_link_holds_the_writer_back_and_loses_nothing() {
    let mut net = Net::new(2);
    net.pace = Some(4); // 4 PDUs per port per ms
    let ids = line(&mut net, true);
    net.nodes[1]
        .register(net.now, ids[1], "sink")
        .expect("register");
    net.run(300);
    let (fa, fb) = flow(&mut net, 0, ids[0], 1, "sink", QosSpec::BEST_EFFORT);
    let total = 5_000u32;
    let mut sent = 0u32;
    let mut got = Vec::new();
    let mut held = 0;
    for _ in 0..20_000 {
        while sent < total && !net.nodes[0].is_held(fa) {
            let w = net.nodes[0]
                .write(net.now, fa, &sent.to_be_bytes())
                .expect("write");
            sent += 1;
            if w == Written::Held {
                held += 1;
                break;
            }
        }
        net.tick();
        while let Some(m) = net.nodes[1].read(fb) {
            got.push(u32::from_be_bytes(m[..4].try_into().expect("4 bytes")));
        }
        if got.len() == total as usize {
            break;
        }
    }
    assert!(held > 0, "the writer was held back");
    assert!(net.saw(0, |e| *e == Event::FlowWritable { flow: fa }));
    assert_eq!(got, (0..total).collect::<Vec<_>>(), "all, in order");
    let ipcp = net.nodes[0].ipcp(ids[0]).expect("ipcp").counters();
    assert_eq!(ipcp.sched_dropped, 0);
}

#[test]
fn a_reader_that_does_not_read_fills_its_backlog_and_congestion_is_reported() {
    let mut net = Net::new(2);
    net.nodes[1] = Node::new(NodeConfig::default());
    net.wire(0, 1, 1, 1);
    let now = net.now;
    let small = IpcpOptions {
        backlog: BacklogLimits {
            msgs: 8,
            bytes: 1 << 20,
        },
        ..IpcpOptions::default()
    };
    let a = net.nodes[0]
        .create_ipcp(now, "a", shim_lower(false), IpcpOptions::default())
        .expect("a");
    let b = net.nodes[1]
        .create_ipcp(now, "b", shim_lower(false), small)
        .expect("b");
    net.nodes[0]
        .bootstrap(now, a, layer("l"))
        .expect("bootstrap");
    net.nodes[1]
        .enroll(now, b, Via::Port(PortId(1)))
        .expect("enroll");
    net.settle();
    net.nodes[1]
        .connect(net.now, b, Via::Port(PortId(1)), 1)
        .expect("connect");
    net.nodes[1].register(net.now, b, "slow").expect("register");
    net.run(300);
    let (fa, fb) = flow(&mut net, 0, a, 1, "slow", QosSpec::RAW);
    for i in 0..20u8 {
        // Held writes (the congestion echo slows the sender) go out as its rate allows.
        net.nodes[0].write(net.now, fa, &[i]).expect("write");
        net.settle();
    }
    assert!(net.run_until(5_000, |net| !net.nodes[0].is_held(fa)));
    net.run(10);
    let s = net.nodes[1].flow_stats(fb).expect("stats");
    assert_eq!(s.backlog, 8);
    assert_eq!(s.rx_drops, 12);
    assert!(s.congestion_reports >= 1);
    assert_eq!(net.nodes[1].read(fb), Some(vec![0]));
}

#[test]
fn a_cut_link_brings_the_adjacency_down_and_it_comes_back() {
    let mut net = Net::new(2);
    let ids = line(&mut net, false);
    net.events.clear();
    net.cut = true;
    assert!(net.run_until(2_000, |net| {
        net.saw(1, |e| matches!(e, Event::AdjacencyDown { .. }))
    }));
    net.cut = false;
    assert!(net.run_until(2_000, |net| {
        net.saw(1, |e| matches!(e, Event::AdjacencyUp { .. }))
    }));
    assert_eq!(
        net.nodes[1].ipcp(ids[1]).map(|p| p.neighbors().len()),
        Some(1)
    );
}

#[test]
fn management_refuses_what_makes_no_sense() {
    let mut node = Node::new(NodeConfig::default());
    let now = Instant::ZERO;
    let a = node
        .create_ipcp(now, "a", shim_lower(false), IpcpOptions::default())
        .expect("create");
    assert!(matches!(
        node.create_ipcp(now, "a", shim_lower(false), IpcpOptions::default()),
        Err(NodeError::NameTaken(_))
    ));
    assert!(matches!(
        node.enroll(now, a, Via::Name("x".into())),
        Err(NodeError::BadVia(..))
    ));
    assert!(matches!(
        node.create_ipcp(now, "b", Lower::Unicast(IpcpId(9)), IpcpOptions::default()),
        Err(NodeError::NoSuchIpcp(9))
    ));
    node.bootstrap(now, a, layer("l")).expect("bootstrap");
    assert!(matches!(
        node.bootstrap(now, a, layer("l")),
        Err(NodeError::AlreadyMember(_))
    ));
    node.destroy(now, a).expect("destroy");
    assert!(node.ipcps().all(|i| i != a));
    assert!(matches!(
        node.destroy(now, a),
        Err(NodeError::NoSuchIpcp(_))
    ));
    // The name is free again.
    node.create_ipcp(now, "a", shim_lower(false), IpcpOptions::default())
        .expect("create again");
}

#[test]
fn an_allocation_without_an_answer_is_given_up_at_its_deadline() {
    let mut net = Net::new(2);
    let ids = line(&mut net, false);
    net.nodes[1].listen("far");
    net.nodes[1]
        .register(net.now, ids[1], "far")
        .expect("register");
    net.run(300);
    net.cut = true;
    let fa = net.nodes[0]
        .alloc_flow_within(
            net.now,
            ids[0],
            "far",
            QosSpec::RAW,
            Duration::from_millis(50),
        )
        .expect("alloc");
    let asked = net.now;
    assert!(net.run_until(1_000, |net| net.saw(0, |e| *e
        == Event::FlowEnded {
            flow: fa,
            reason: FlowEnd::Unreachable
        })));
    assert!(net.now.saturating_duration_since(asked) <= Duration::from_millis(52));
    assert!(net.nodes[0].write(net.now, fa, b"late").is_err());
}

#[test]
fn a_driver_takes_many_messages_at_once_and_reads_them_as_consumed() {
    let (mut net, _, fa, fb) = pair_with_flow("batch");
    for i in 0..5u8 {
        net.nodes[0].write(net.now, fa, &[i]).expect("write");
    }
    net.settle();
    let seen: Vec<Vec<u8>> = net.nodes[1].pending(fb).map(<[u8]>::to_vec).collect();
    assert_eq!(seen, (0..5u8).map(|i| vec![i]).collect::<Vec<_>>());
    let mut back = Vec::new();
    assert_eq!(net.nodes[1].consume(fb, 3, |buf| back.push(buf)), 3);
    assert_eq!(back.len(), 3);
    assert_eq!(net.nodes[1].read(fb), Some(vec![3]));
    let s = net.nodes[1].flow_stats(fb).expect("stats");
    assert_eq!((s.rx_msgs, s.backlog), (4, 1));
}

/// Answer node `n`'s route requests with `policy` until it asks no more; how many it asked.
fn answer_routes(net: &mut Net, n: usize, policy: &mut dyn RoutingPolicy) -> usize {
    let mut asked = 0;
    loop {
        let mut requests = Vec::new();
        net.events.retain(|(i, e)| match e {
            Event::RouteRequest {
                ipcp,
                id,
                own,
                topology,
            } if *i == n => {
                requests.push((*ipcp, *id, policy.compute(*own, topology)));
                false
            }
            _ => true,
        });
        if requests.is_empty() {
            return asked;
        }
        for (ipcp, id, result) in requests {
            asked += 1;
            let now = net.now;
            net.nodes[n]
                .install_routes(now, ipcp, id, result)
                .expect("live IPCP");
        }
        net.settle();
        net.run(300);
    }
}

#[test]
fn a_relay_in_requested_mode_forwards_on_the_routes_its_driver_computes() {
    let mut net = Net::new(3);
    let requested = |i| IpcpOptions {
        route_mode: if i == 1 {
            RouteMode::Requested
        } else {
            RouteMode::Inline
        },
        ..IpcpOptions::default()
    };
    let ids = line_with(&mut net, false, requested);
    let mut policy = net.nodes[1]
        .take_routing_policy(ids[1])
        .expect("the policy the options made");
    assert!(net.nodes[1].take_routing_policy(ids[1]).is_none());
    assert!(net.nodes[0].take_routing_policy(ids[0]).is_none(), "inline");
    let relay = net.nodes[1].ipcp(ids[1]).expect("live");
    assert_eq!(relay.route_mode(), RouteMode::Requested);
    assert_eq!(relay.routing_policy_name(), "native");
    assert!(relay.fib().is_empty(), "nothing computed on the node");
    assert!(relay.routes_pending());

    assert!(answer_routes(&mut net, 1, policy.as_mut()) >= 1);
    assert!(net.saw(1, |e| *e == Event::RoutesChanged { ipcp: ids[1] }));
    let relay = net.nodes[1].ipcp(ids[1]).expect("live");
    assert_eq!(relay.fib().len(), 2);
    assert!(!relay.routes_pending());
    net.nodes[2]
        .register(net.now, ids[2], "app2")
        .expect("register");
    net.run(300);
    let (fa, fb) = flow(&mut net, 0, ids[0], 2, "app2", QosSpec::BEST_EFFORT);
    net.nodes[0].write(net.now, fa, b"via").expect("write");
    net.settle();
    assert_eq!(net.nodes[2].read(fb).as_deref(), Some(&b"via"[..]));

    // An answer for no IPCP is refused; a stale one is counted.
    assert_eq!(
        net.nodes[1].install_routes(net.now, IpcpId(9), 1, Ok(Default::default())),
        Err(NodeError::NoSuchIpcp(9))
    );
    net.nodes[1]
        .install_routes(net.now, ids[1], 1, Ok(Default::default()))
        .expect("live");
    let relay = net.nodes[1].ipcp(ids[1]).expect("live");
    assert_eq!(relay.counters().stale_routes, 1);
    assert_eq!(relay.fib().len(), 2);
}

#[test]
fn an_ipcp_on_its_way_in_can_be_pointed_at_another_member() {
    let mut net = Net::new(3);
    net.wire(2, 1, 1, 1); // to node 1, in no layer
    net.wire(2, 2, 0, 1); // to node 0, the member
    let now = net.now;
    let ids = ipcps(&mut net, ["n0", "n1", "n2"]);
    net.nodes[0]
        .bootstrap(now, ids[0], layer("l"))
        .expect("bootstrap");
    let enrolled = |net: &mut Net| net.nodes[2].ipcp(ids[2]).is_some_and(|p| p.is_enrolled());

    // An attempt under way through a port nobody answers on is abandoned at once.
    net.nodes[2]
        .enroll(now, ids[2], Via::Port(PortId(3)))
        .expect("enroll");
    net.run(10);
    net.nodes[2]
        .enroll(net.now, ids[2], Via::Port(PortId(2)))
        .expect("another port");
    assert!(net.run_until(20, enrolled), "well before the 3 s timeout");
    assert!(matches!(
        net.nodes[2].enroll(net.now, ids[2], Via::Port(PortId(1))),
        Err(NodeError::AlreadyMember(_))
    ));

    // A failed attempt waiting to be tried again is tried through the new port, at its
    // time (port 1 leads nowhere: only port 2 can have carried it).
    let mut fresh = Net::new(2);
    fresh.wire(0, 2, 1, 2);
    let [a, b] = ipcps(&mut fresh, ["a", "b"]);
    fresh.nodes[0]
        .bootstrap(fresh.now, a, layer("l"))
        .expect("bootstrap");
    enroll_and_fail(&mut fresh, b, 1);
    fresh.nodes[1]
        .enroll(fresh.now, b, Via::Port(PortId(2)))
        .expect("pointed at port 2");
    let failed_at = fresh.now;
    assert!(enrolled_within(&mut fresh, 1_000));
    assert!(fresh.now.saturating_duration_since(failed_at) >= Duration::from_millis(99));
    // Over a unicast layer, enrollment goes by name: no pointing at ports there.
    let up = fresh.nodes[1]
        .create_ipcp(fresh.now, "up", Lower::Unicast(b), IpcpOptions::default())
        .expect("upper");
    fresh.nodes[1]
        .enroll(fresh.now, up, Via::Name("a.up".into()))
        .expect("enroll by name");
    assert!(matches!(
        fresh.nodes[1].enroll(fresh.now, up, Via::Name("other".into())),
        Err(NodeError::AlreadyMember(_))
    ));
}

#[test]
fn a_source_that_never_waits_is_queued_or_dropped_once_ports_are_scheduled() {
    let (mut net, ids, fa, fb) = pair_with_flow("cbr");
    let limits = ouro_core::sched::QueueLimits {
        packets: 4,
        mgmt_packets: 64,
        ecn_threshold: None,
    };
    net.nodes[0]
        .schedule_ports(ids[0], limits)
        .expect("over a shim");
    for i in 0..10u8 {
        net.nodes[0]
            .write_or_drop(net.now, fa, &[i])
            .expect("never held");
    }
    net.settle();
    assert_eq!(net.nodes[0].ports_waiting(SHIM), vec![PortId(2)]);
    assert_eq!(net.nodes[0].queued(SHIM, PortId(2)), 4);
    let c = net.nodes[0].ipcp(ids[0]).expect("ipcp").counters();
    assert_eq!(c.drop_queue_full, 6, "the rest dropped, counted");
    assert!(!net.nodes[0].is_held(fa));
    net.run(2);
    let got: Vec<Vec<u8>> = std::iter::from_fn(|| net.nodes[1].read(fb)).collect();
    assert_eq!(got, (0..4u8).map(|i| vec![i]).collect::<Vec<_>>());
    assert_eq!(net.nodes[0].flow_stats(fa).map(|s| s.tx_msgs), Some(10));
    // A flow that is not open takes nothing; an IPCP with no lower layer has no ports.
    assert_eq!(
        net.nodes[0].write_or_drop(
            net.now,
            FlowId {
                ipcp: ids[0],
                eid: Eid(7)
            },
            b"x"
        ),
        Err(NodeError::NoSuchFlow)
    );
    let idle = net.nodes[0]
        .create_ipcp(net.now, "idle", None, IpcpOptions::default())
        .expect("create");
    assert_eq!(
        net.nodes[0].schedule_ports(idle, limits),
        Err(NodeError::NoLower("idle".into()))
    );
}
