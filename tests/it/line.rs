//! A small line of simulated systems with one unicast layer over their links, joined one
//! by one, for the scenarios that look closely at one IPCP in a working network (they used
//! to wire bare IPCPs together by hand). Every system is a real node in [`NodeSim`]; a test
//! reaches one IPCP through its node ([`Line::with_ipcp`]) only for what a node does not
//! offer (its counters, its queues, a policy).

use ouro_core::ipcp::FlowEnd;
use ouro_core::{Instant, Ipcp, LayerConfig, PortId};
use ouro_node::{Event, FlowId, IpcpId, IpcpOptions, Lower, NodeConfig, QosSpec, Via};
use ouro_sim::systems::SHIM;
use ouro_sim::{Graph, LinkParams, NodeSim};
use std::time::Duration;

/// The IPCPs' lower layer: the node's links, PDUs sent as they are made.
const UNSCHEDULED: Lower = Lower::Shim {
    shim: SHIM,
    scheduled: false,
};

/// Systems `0 - 1 - ... - (n-1)` over 1 ms links, one IPCP each.
pub(crate) struct Line {
    pub sim: NodeSim,
    /// Each system's IPCP.
    pub ids: Vec<IpcpId>,
}

impl Line {
    /// `n` systems, system `i`'s IPCP made with `opts(i)`; system 0's bootstraps the layer
    /// `test`, the others are in no layer yet ([`Line::join`]).
    pub fn new(n: usize, opts: impl Fn(usize) -> IpcpOptions) -> Line {
        let graph = Graph::from_parts(
            (0..n).map(|i| format!("n{i}")),
            (0..n.saturating_sub(1)).map(|i| (i, i + 1, 1)),
        );
        let config = NodeConfig {
            enroll_retry: Duration::from_millis(100),
            ..NodeConfig::default()
        };
        let mut sim = NodeSim::new(graph, 1, LinkParams::default(), config);
        let ids = (0..n)
            .map(|i| {
                sim.with_node(i, |node, now| {
                    node.create_ipcp(now, &format!("n{i}"), UNSCHEDULED, opts(i))
                })
                .expect("a new IPCP")
            })
            .collect::<Vec<_>>();
        sim.with_node(0, |node, now| {
            node.bootstrap(now, ids[0], LayerConfig::named("test"))
        })
        .expect("bootstrap");
        Line { sim, ids }
    }

    /// `n` systems with default IPCPs, each enrolled through and connected to the one
    /// before, run until converged (2 s).
    pub fn joined(n: usize) -> Line {
        let mut line = Line::new(n, |_| IpcpOptions::default());
        for i in 1..n {
            line.join(i, i - 1);
        }
        line.sim.run_for(Duration::from_secs(2));
        line
    }

    /// System `b` enrolls through its neighbour `a`, then connects to it.
    pub fn join(&mut self, b: usize, a: usize) {
        let (id, port) = (self.ids[b], self.port(b, a));
        self.sim
            .with_node(b, |node, now| node.enroll(now, id, Via::Port(port)))
            .expect("enroll");
        self.sim.run_for(Duration::from_millis(10));
        assert!(self.ipcp(b).is_enrolled(), "{b} did not enroll via {a}");
        self.connect(b, a);
        self.sim.run_for(Duration::from_millis(10));
    }

    /// System `a` asks for an adjacency with its neighbour `b`.
    pub fn connect(&mut self, a: usize, b: usize) {
        let (id, port) = (self.ids[a], self.port(a, b));
        self.sim
            .with_node(a, |node, now| node.connect(now, id, Via::Port(port), 1))
            .expect("connect");
    }

    /// The link between neighbours `a` and `b` breaks, and both ends are told.
    pub fn cut(&mut self, a: usize, b: usize) {
        self.sim.set_link_up(a.min(b), false);
        for (x, y) in [(a, b), (b, a)] {
            let port = self.port(x, y);
            self.sim
                .with_node(x, |node, now| node.shim_port_down(now, SHIM, port));
        }
    }

    /// The link between neighbours `a` and `b` is back, and `a` asks for the adjacency.
    pub fn mend(&mut self, a: usize, b: usize) {
        self.sim.set_link_up(a.min(b), true);
        for (x, y) in [(a, b), (b, a)] {
            let port = self.port(x, y);
            self.sim
                .with_node(x, |node, _| node.shim_port_up(SHIM, port));
        }
        self.connect(a, b);
    }

    /// The port of system `i` towards its neighbour `j`.
    pub fn port(&self, i: usize, j: usize) -> PortId {
        self.sim.port_towards(i, j).expect("neighbours")
    }

    /// System `i`'s IPCP.
    pub fn ipcp(&self, i: usize) -> &Ipcp {
        self.sim.node(i).ipcp(self.ids[i]).expect("never destroyed")
    }

    /// Call into system `i`'s IPCP at the current time; what it sends or reports goes
    /// through its node as usual.
    pub fn with_ipcp<R>(&mut self, i: usize, f: impl FnOnce(&mut Ipcp, Instant) -> R) -> R {
        let id = self.ids[i];
        self.sim.with_node(i, |node, now| {
            f(node.ipcp_mut(id).expect("never destroyed"), now)
        })
    }

    /// Run for `ms` milliseconds.
    pub fn run_ms(&mut self, ms: u64) {
        self.sim.run_for(Duration::from_millis(ms));
    }

    /// System `to` serves `name` (registered, listened on) and system 0 allocates a flow
    /// to it: both ends, once allocated.
    pub fn open_flow(&mut self, to: usize, name: &str, qos: QosSpec) -> (FlowId, FlowId) {
        let at = self.ids[to];
        self.sim
            .with_node(to, |node, now| {
                node.listen(name);
                node.register(now, at, name)
            })
            .expect("register");
        self.run_ms(50);
        let from = self.ids[0];
        let fa = self
            .sim
            .with_node(0, |node, now| node.alloc_flow(now, from, name, qos))
            .expect("alloc");
        self.run_ms(50);
        let fb = self
            .sim
            .events(to)
            .iter()
            .find_map(|(_, e)| match e {
                Event::FlowIncoming { flow, name: n, .. } if n == name => Some(*flow),
                _ => None,
            })
            .expect("the flow reached its server");
        assert!(
            self.saw(0, &Event::FlowAllocated { flow: fa }),
            "the flow is allocated"
        );
        (fa, fb)
    }

    /// True if system `i` reported `event`.
    pub fn saw(&self, i: usize, event: &Event) -> bool {
        self.sim.events(i).iter().any(|(_, e)| e == event)
    }

    /// True if system `i` reported `flow` ended for `reason`.
    pub fn saw_end(&self, i: usize, flow: FlowId, reason: FlowEnd) -> bool {
        self.saw(i, &Event::FlowEnded { flow, reason })
    }

    /// Everything system `to`'s application can read on `flow` now.
    pub fn read_all(&mut self, to: usize, flow: FlowId) -> Vec<Vec<u8>> {
        self.sim.with_node(to, |node, _| {
            std::iter::from_fn(|| node.read(flow)).collect()
        })
    }
}
