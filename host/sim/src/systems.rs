//! Whole systems in the simulator: every topology node is an [`ouro_node::Node`] — the same
//! sans-IO node `ourod` runs — whose one shim ([`SHIM`]) has a port per attached link
//! ([`crate::port_of`] its edge). Layers, recursion, application flows, back-pressure and
//! retries run exactly as they do in the daemon; the links are simulated
//! ([`crate::link::Link`]), and so is time.
//!
//! The test or tool plays the applications and the operator: [`NodeSim::with_node`] runs
//! management and application calls on one node at the current simulated time, and
//! [`NodeSim::run_with`] calls back every step of simulated time. Every event of every node
//! is written to a trace ([`NodeSim::trace`]); the same seed gives the same trace, byte for
//! byte.

use crate::fabric::{Driver, Fabric};
use crate::link::LinkParams;
use crate::topology::Graph;
use ouro_core::PortId;
use ouro_core::rng::SplitMix64;
use ouro_core::time::Instant;
use ouro_node::{Event, Lower, Node, NodeConfig};
use std::fmt::Write as _;
use std::time::Duration;

pub use crate::fabric::{NodeSimCounters, SHIM};

/// The lower layer of a unicast IPCP straight over a node's links (ports scheduled: each
/// link's transmitter drains its queues at the link's pace).
pub const OVER_LINKS: Lower = Lower::Shim {
    shim: SHIM,
    scheduled: true,
};

/// A network of simulated systems. See the module documentation.
pub struct NodeSim {
    fabric: Fabric,
    /// Everything each node reported, with its time.
    events: Vec<Vec<(Instant, Event)>>,
    trace: String,
}

impl NodeSim {
    /// One node per topology node, every link up with `link`; `config`'s seed is replaced
    /// by one derived from `seed` per node.
    pub fn new(graph: Graph, seed: u64, link: LinkParams, config: NodeConfig) -> NodeSim {
        let mut seeds = SplitMix64::new(seed ^ 0x5157_5E55_0000_0001);
        let events = vec![Vec::new(); graph.node_count()];
        let fabric = Fabric::new(graph, link, seed, |_| {
            Node::new(NodeConfig {
                seed: seeds.next_u64(),
                ..config
            })
        });
        NodeSim {
            fabric,
            events,
            trace: String::new(),
        }
    }

    /// Answer the route requests of IPCPs in requested mode
    /// ([`ouro_node::IpcpOptions::route_mode`]) `delay` after they are made (the default,
    /// zero: at once, in the same step). Each is computed when it is made, with the policy
    /// the IPCP's options made, as a worker thread would.
    pub fn set_route_delay(&mut self, delay: Duration) {
        self.fabric.route_delay = Some(delay);
    }

    /// Answer no route request from now on: the test does, for the IPCPs it wants, with
    /// [`Node::take_routing_policy`], the [`Event::RouteRequest`]s in [`NodeSim::events`]
    /// and [`Node::install_routes`] (in [`NodeSim::with_node`]). Undone by
    /// [`NodeSim::set_route_delay`].
    pub fn leave_route_requests(&mut self) {
        self.fabric.route_delay = None;
    }

    /// The topology.
    pub fn graph(&self) -> &Graph {
        &self.fabric.graph
    }

    /// Simulated time.
    pub fn now(&self) -> Instant {
        self.fabric.now
    }

    /// Run totals.
    pub fn counters(&self) -> NodeSimCounters {
        self.fabric.counters
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Node {
        self.fabric.node(i)
    }

    /// Everything node `i` reported so far, with its time.
    pub fn events(&self, i: usize) -> &[(Instant, Event)] {
        &self.events[i]
    }

    /// Every node's events, one line each (`<µs> <node> <event>`).
    pub fn trace(&self) -> &str {
        &self.trace
    }

    /// The port of node `i` on its link to node `j`.
    pub fn port_towards(&self, i: usize, j: usize) -> Option<PortId> {
        self.fabric.port_towards(i, j)
    }

    /// Call into node `i` at the current time (management, an application's write or
    /// read...), then send what it produced.
    pub fn with_node<R>(&mut self, i: usize, f: impl FnOnce(&mut Node, Instant) -> R) -> R {
        let now = self.fabric.now;
        let r = f(self.fabric.node_mut(i), now);
        self.flush();
        r
    }

    /// Bring link `edge` up or down (what is in flight on a link going down is lost).
    pub fn set_link_up(&mut self, edge: usize, up: bool) {
        self.fabric.links[edge].set_up(up);
        let _ = writeln!(
            self.trace,
            "{} link {edge} {}",
            self.fabric.now.as_nanos() / 1000,
            if up { "up" } else { "down" }
        );
    }

    /// Change link `edge`'s properties.
    pub fn set_link(&mut self, edge: usize, params: LinkParams) {
        self.fabric.links[edge].set_params(params);
    }

    /// Run for `span` of simulated time.
    pub fn run_for(&mut self, span: Duration) {
        let until = self.fabric.now + span;
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
        let end = self.fabric.now + limit;
        loop {
            if f(self) {
                return true;
            }
            if self.fabric.now >= end {
                return false;
            }
            let next = (self.fabric.now + step).min(end);
            self.run_until(next);
        }
    }
}

impl Driver for NodeSim {
    fn fabric(&mut self) -> &mut Fabric {
        &mut self.fabric
    }

    /// Every event goes to the trace (a route request summed up) and to the node's list.
    fn on_event(&mut self, n: usize, e: Event) {
        let now = self.fabric.now;
        let now_us = now.as_nanos() / 1000;
        if let Event::RouteRequest {
            ipcp, id, topology, ..
        } = &e
        {
            let (nodes, links) = (topology.len(), topology.link_count());
            let _ = writeln!(
                self.trace,
                "{now_us} {n} RouteRequest {{ ipcp: {ipcp}, id: {id}, nodes: {nodes}, links: {links} }}"
            );
        } else {
            let _ = writeln!(self.trace, "{now_us} {n} {e:?}");
        }
        self.events[n].push((now, e));
    }

    /// NodeSim queues no events of its own.
    fn on_driver(&mut self, _id: usize) {}
}
