//! Whole systems in the simulator: every topology node is an [`ouro_node::Node`] — the same
//! sans-IO node `ourod` runs — whose one shim ([`SHIM`]) has a port per attached link
//! ([`port_of`] its edge). Layers, recursion, application flows, back-pressure and retries
//! run exactly as they do in the daemon; the links are simulated ([`Link`]), and so is time.
//!
//! The test or tool plays the applications and the operator: [`NodeSim::with_node`] runs
//! management and application calls on one node at the current simulated time, and
//! [`NodeSim::run_with`] calls back every step of simulated time. Every event of every node
//! is written to a trace ([`NodeSim::trace`]); the same seed gives the same trace, byte for
//! byte.

use crate::link::{Direction, Fate, Link, LinkParams};
use crate::node::{edge_of, port_of};
use crate::queue::EventQueue;
use crate::routes::compute;
use crate::topology::Graph;
use ouro_core::rng::SplitMix64;
use ouro_core::routing::{RoutingError, RoutingPolicy, RoutingTable, Topology};
use ouro_core::time::Instant;
use ouro_core::{Address, PortId};
use ouro_node::{Event, IpcpId, Lower, Node, NodeConfig, ShimId};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The shim of every simulated system: its ports are the node's links.
pub const SHIM: ShimId = ShimId(0);
/// PDUs a scheduled port hands its link per dequeue.
const BATCH: u32 = 64;

/// The lower layer of a unicast IPCP straight over a node's links (ports scheduled: each
/// link's transmitter drains its queues at the link's pace).
pub const OVER_LINKS: Lower = Lower::Shim {
    shim: SHIM,
    scheduled: true,
};

/// Totals over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeSimCounters {
    /// PDUs handed to links.
    pub pdus_sent: u64,
    /// PDUs delivered to a node.
    pub pdus_delivered: u64,
    /// PDUs lost at random, on a down link, or in flight when it went down.
    pub pdus_lost: u64,
    /// PDUs sent on a port that is no link of the node.
    pub bad_ports: u64,
    /// Timers re-armed for the instant they had just run at (moved 1 µs on).
    pub timer_nudges: u64,
}

enum Action {
    Deliver {
        node: usize,
        edge: usize,
        epoch: u64,
        data: Vec<u8>,
    },
    Timer {
        node: usize,
    },
    PortReady {
        node: usize,
        edge: usize,
    },
    /// The answer to a route request of IPCP `ipcp` of node `node` comes back.
    Routes {
        node: usize,
        ipcp: IpcpId,
        id: u64,
        result: Result<RoutingTable, RoutingError>,
    },
}

struct System {
    node: Node,
    /// The armed timer's deadline (older timer events are stale).
    timer: Option<Instant>,
    last_fired: Option<Instant>,
    events: Vec<(Instant, Event)>,
}

/// A network of simulated systems. See the module documentation.
pub struct NodeSim {
    graph: Graph,
    adj: Vec<Vec<(usize, usize)>>,
    systems: Vec<System>,
    links: Vec<Link>,
    queue: EventQueue<Action>,
    now: Instant,
    rng: SplitMix64,
    /// (node, edge) of ports waiting for their link's transmitter.
    waiting: std::collections::BTreeSet<(usize, usize)>,
    trace: String,
    counters: NodeSimCounters,
    /// The routing policies of the IPCPs in requested mode, per (node, IPCP).
    policies: BTreeMap<(usize, IpcpId), Box<dyn RoutingPolicy>>,
    /// How long after a route request its answer is installed.
    route_delay: Duration,
}

impl NodeSim {
    /// One node per topology node, every link up with `link`; `config`'s seed is replaced
    /// by one derived from `seed` per node.
    pub fn new(graph: Graph, seed: u64, link: LinkParams, config: NodeConfig) -> NodeSim {
        let mut seeds = SplitMix64::new(seed ^ 0x5157_5E55_0000_0001);
        let adj = graph.adjacency();
        let systems = (0..graph.node_count())
            .map(|i| {
                let mut node = Node::new(NodeConfig {
                    seed: seeds.next_u64(),
                    ..config
                });
                for &(edge, _) in &adj[i] {
                    node.shim_port_up(SHIM, port_of(edge));
                }
                System {
                    node,
                    timer: None,
                    last_fired: None,
                    events: Vec::new(),
                }
            })
            .collect();
        NodeSim {
            links: graph.edges().iter().map(|_| Link::new(link)).collect(),
            adj,
            graph,
            systems,
            queue: EventQueue::new(),
            now: Instant::ZERO,
            rng: SplitMix64::new(seed),
            waiting: Default::default(),
            trace: String::new(),
            counters: NodeSimCounters::default(),
            policies: BTreeMap::new(),
            route_delay: Duration::ZERO,
        }
    }

    /// Answer the route requests of IPCPs in requested mode
    /// ([`ouro_node::IpcpOptions::route_mode`]) `delay` after they are made (the default,
    /// zero: at once, in the same step). Each is computed when it is made, with the policy
    /// the IPCP's options made, as a worker thread would.
    pub fn set_route_delay(&mut self, delay: Duration) {
        self.route_delay = delay;
    }

    /// The topology.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Simulated time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Run totals.
    pub fn counters(&self) -> NodeSimCounters {
        self.counters
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Node {
        &self.systems[i].node
    }

    /// Everything node `i` reported so far, with its time.
    pub fn events(&self, i: usize) -> &[(Instant, Event)] {
        &self.systems[i].events
    }

    /// Every node's events, one line each (`<µs> <node> <event>`).
    pub fn trace(&self) -> &str {
        &self.trace
    }

    /// The port of node `i` on its link to node `j`.
    pub fn port_towards(&self, i: usize, j: usize) -> Option<PortId> {
        self.adj[i]
            .iter()
            .find(|&&(_, other)| other == j)
            .map(|&(edge, _)| port_of(edge))
    }

    /// Call into node `i` at the current time (management, an application's write or
    /// read...), then send what it produced.
    pub fn with_node<R>(&mut self, i: usize, f: impl FnOnce(&mut Node, Instant) -> R) -> R {
        let r = f(&mut self.systems[i].node, self.now);
        self.drain(i);
        r
    }

    /// Bring link `edge` up or down (what is in flight on a link going down is lost).
    pub fn set_link_up(&mut self, edge: usize, up: bool) {
        self.links[edge].set_up(up);
        let _ = writeln!(
            self.trace,
            "{} link {edge} {}",
            self.now.as_nanos() / 1000,
            if up { "up" } else { "down" }
        );
    }

    /// Change link `edge`'s properties.
    pub fn set_link(&mut self, edge: usize, params: LinkParams) {
        self.links[edge].set_params(params);
    }

    /// Run for `span` of simulated time.
    pub fn run_for(&mut self, span: Duration) {
        let until = self.now + span;
        self.run_until(until);
    }

    /// Run, calling `f` every `step` of simulated time, until it returns true or `limit`
    /// has passed; true if `f` did.
    pub fn run_with(
        &mut self,
        limit: Duration,
        step: Duration,
        mut f: impl FnMut(&mut NodeSim) -> bool,
    ) -> bool {
        let end = self.now + limit;
        loop {
            if f(self) {
                return true;
            }
            if self.now >= end {
                return false;
            }
            let next = (self.now + step).min(end);
            self.run_until(next);
        }
    }

    fn run_until(&mut self, until: Instant) {
        while let Some((time, action)) = self.queue.pop_due(until) {
            self.now = self.now.max(time);
            self.dispatch(action);
        }
        self.now = self.now.max(until);
    }

    fn dispatch(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::Deliver {
                node,
                edge,
                epoch,
                data,
            } => {
                if self.links[edge].delivers(epoch) {
                    self.counters.pdus_delivered += 1;
                    self.systems[node]
                        .node
                        .shim_receive(now, SHIM, port_of(edge), data);
                    self.drain(node);
                } else {
                    self.counters.pdus_lost += 1;
                }
            }
            Action::Timer { node } => {
                let s = &mut self.systems[node];
                if s.timer == Some(now) {
                    s.timer = None;
                    s.last_fired = Some(now);
                    s.node.handle_timeout(now);
                    self.drain(node);
                }
            }
            Action::PortReady { node, edge } => {
                self.waiting.remove(&(node, edge));
                self.pull(node, edge);
                self.drain(node);
            }
            Action::Routes {
                node,
                ipcp,
                id,
                result,
            } => {
                // A request of an IPCP destroyed since has no one to answer.
                let _ = self.systems[node]
                    .node
                    .install_routes(now, ipcp, id, result);
                self.drain(node);
            }
        }
    }

    /// Send what node `n` produced, pull its scheduled ports, log its events, answer its
    /// route requests, re-arm its timer.
    fn drain(&mut self, n: usize) {
        loop {
            self.send(n);
            let now_us = self.now.as_nanos() / 1000;
            let mut asked = false;
            while let Some(e) = self.systems[n].node.poll_event() {
                if let Event::RouteRequest {
                    ipcp,
                    id,
                    own,
                    topology,
                } = &e
                {
                    let (nodes, links) = (topology.len(), topology.link_count());
                    let _ = writeln!(
                        self.trace,
                        "{now_us} {n} RouteRequest {{ ipcp: {ipcp}, id: {id}, nodes: {nodes}, links: {links} }}"
                    );
                    asked |= self.answer_routes(n, *ipcp, *id, *own, topology);
                } else {
                    let _ = writeln!(self.trace, "{now_us} {n} {e:?}");
                }
                self.systems[n].events.push((self.now, e));
            }
            if !asked {
                break;
            }
        }
        self.rearm(n);
    }

    /// Send what node `n` produced and pull its scheduled ports until nothing moves.
    fn send(&mut self, n: usize) {
        loop {
            let mut moved = false;
            while let Some(t) = self.systems[n].node.poll_transmit() {
                moved = true;
                self.transmit(n, t.port, t.data);
            }
            for port in self.systems[n].node.ports_waiting(SHIM) {
                if let Some(edge) = edge_of(port) {
                    moved |= self.pull(n, edge);
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// IPCP `ipcp` of node `n` asks for its routes: compute them now with its policy and
    /// answer after the route delay. True if answered at once.
    fn answer_routes(
        &mut self,
        n: usize,
        ipcp: IpcpId,
        id: u64,
        own: Address,
        topology: &Topology,
    ) -> bool {
        if let Some(p) = self.systems[n].node.take_routing_policy(ipcp) {
            self.policies.insert((n, ipcp), p); // a new IPCP, a new policy
        }
        let result = compute(self.policies.get_mut(&(n, ipcp)), own, topology);
        if !self.route_delay.is_zero() {
            let action = Action::Routes {
                node: n,
                ipcp,
                id,
                result,
            };
            self.queue.push(self.now + self.route_delay, action);
            return false;
        }
        // Unknown only if destroyed meanwhile: nobody to answer.
        let _ = self.systems[n]
            .node
            .install_routes(self.now, ipcp, id, result);
        true
    }

    /// Hand batches from node `n`'s port on `edge` to the link while its transmitter is
    /// free; come back when it is free again. True if any PDU went.
    fn pull(&mut self, n: usize, edge: usize) -> bool {
        if self.waiting.contains(&(n, edge)) {
            return false;
        }
        let port = port_of(edge);
        let dir = self.direction(n, edge);
        let mut moved = false;
        while self.systems[n].node.queued(SHIM, port) > 0 {
            let free = self.links[edge].free_at(dir);
            if free > self.now {
                self.waiting.insert((n, edge));
                self.queue.push(free, Action::PortReady { node: n, edge });
                break;
            }
            let now = self.now;
            if self.systems[n].node.dequeue(now, SHIM, port, BATCH) == 0 {
                break;
            }
            while let Some(t) = self.systems[n].node.poll_transmit() {
                moved = true;
                self.transmit(n, t.port, t.data);
            }
        }
        moved
    }

    fn direction(&self, from: usize, edge: usize) -> Direction {
        self.graph.edges()[edge].direction_from(from)
    }

    fn transmit(&mut self, from: usize, port: PortId, data: Vec<u8>) {
        let Some(edge) = edge_of(port).filter(|&e| self.adj[from].iter().any(|&(x, _)| x == e))
        else {
            self.counters.bad_ports += 1;
            return;
        };
        self.counters.pdus_sent += 1;
        let dir = self.direction(from, edge);
        let to = self.graph.edges()[edge].other(from);
        let link = &mut self.links[edge];
        match link.send(self.now, dir, data.len(), &mut self.rng) {
            Fate::Arrives(at) => {
                let epoch = link.epoch();
                self.queue.push(
                    at,
                    Action::Deliver {
                        node: to,
                        edge,
                        epoch,
                        data,
                    },
                );
            }
            Fate::Lost | Fate::Down => self.counters.pdus_lost += 1,
        }
    }

    fn rearm(&mut self, n: usize) {
        let s = &mut self.systems[n];
        match s.node.poll_timeout() {
            Some(deadline) => {
                let mut deadline = deadline.max(self.now);
                if s.last_fired == Some(deadline) {
                    // Asked to run again at the instant it just ran: step a microsecond on
                    // rather than spin.
                    deadline += Duration::from_micros(1);
                    self.counters.timer_nudges += 1;
                }
                if s.timer != Some(deadline) {
                    s.timer = Some(deadline);
                    self.queue.push(deadline, Action::Timer { node: n });
                }
            }
            None => s.timer = None,
        }
    }
}
