//! The single-layer simulator: one unicast layer over a topology. Every topology node is a
//! real [`ouro_node::Node`] (the node `ourod` runs) with one unicast IPCP ([`IPCP`]) over
//! its shim, whose ports are the node's links ([`crate::fabric`]).
//!
//! The simulator plays the operator and the applications: the bootstrap node starts the
//! layer; when a node is seen enrolled, its neighbours that are not in the layer yet
//! enroll through it and it connects to those that are (each link is connected by its
//! later end). Retries of enrollment and of lost adjacencies are the node's own; after a
//! failed enrollment, or when the link it goes through is down, the simulator points the
//! node at another enrolled neighbour (rotating over them) for its next try.

use crate::fabric::{Driver, Fabric, SHIM};
use crate::flows::FlowTracker;
use crate::link::LinkParams;
use crate::ports::port_of;
use crate::topology::Graph;
use ouro_core::Ipcp;
use ouro_core::LayerConfig;
use ouro_core::rng::SplitMix64;
use ouro_core::routing::{NativeSpf, RoutingPolicy};
use ouro_core::time::Instant;
use ouro_node::{Event, IpcpId, IpcpOptions, Lower, Node, NodeConfig, RouteMode, Via};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

/// Builds the routing policy of node `index` (called again for the IPCP a bootstrap makes).
pub type PolicyFactory = Box<dyn FnMut(usize) -> Box<dyn RoutingPolicy>>;

/// The IPCP of the layer in every node (the node's first and only one).
pub(crate) const IPCP: IpcpId = IpcpId(0);

/// How to set up a simulation.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of every random choice (node seeds, loss, flow pairs). Each node's X25519 key
    /// pair is derived from its node seed and name, so the same seed gives the same keys.
    pub seed: u64,
    /// The node that bootstraps the layer (default: the first in file order).
    pub bootstrap: usize,
    /// Nodes held back at boot; bring them in with [`Simulator::join`].
    pub held_back: BTreeSet<usize>,
    /// Properties of every link at boot.
    pub link: LinkParams,
    /// The layer configuration the bootstrap node starts with.
    pub layer: LayerConfig,
    /// How often (simulated) convergence and flow completion are checked.
    pub check_interval: Duration,
    /// Wait before a node tries a failed enrollment again
    /// ([`ouro_node::NodeConfig::enroll_retry`]).
    pub enroll_retry: Duration,
    /// `Some(delay)`: every IPCP asks the simulator for its routes
    /// ([`ouro_core::ipcp::RouteMode::Requested`]), which runs the node's policy at once
    /// and installs the answer `delay` later (zero: in the same step, as a driver answering
    /// inline would). `None` (the default): the IPCPs compute their routes themselves.
    pub requested_routes: Option<Duration>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            bootstrap: 0,
            held_back: BTreeSet::new(),
            link: LinkParams::default(),
            layer: LayerConfig::named("sim"),
            check_interval: Duration::from_millis(5),
            enroll_retry: Duration::from_millis(100),
            requested_routes: None,
        }
    }
}

/// Why a simulation could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The topology has no nodes.
    #[error("topology has no nodes")]
    Empty,
    /// The bootstrap node index is out of range.
    #[error("bootstrap node #{0} is not in the topology")]
    BadBootstrap(usize),
    /// A node refused to set up its IPCP (a bug: a fresh node accepts it).
    #[error("node #{0}: {1}")]
    Node(usize, ouro_node::NodeError),
}

/// Totals over the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// PDUs handed to links.
    pub pdus_sent: u64,
    /// PDUs delivered to a node.
    pub pdus_delivered: u64,
    /// PDUs lost: at random, on a down link, in flight when the link went down, or to a node
    /// that has not joined.
    pub pdus_lost: u64,
    /// Transmissions on a port that is not a link of the node (a node bug).
    pub bad_ports: u64,
    /// Operator and application calls (`enroll`, `alloc_flow`, `dealloc`...) that failed.
    pub call_errors: u64,
    /// Queue events processed.
    pub events: u64,
    /// Timers re-armed for the very instant they had just run at (a node bug), moved 1 µs
    /// on.
    pub timer_nudges: u64,
}

/// A running simulation.
pub struct Simulator {
    pub(crate) fabric: Fabric,
    pub(crate) config: SimConfig,
    /// Per node: seen enrolled (bootstrap or [`Event::Enrolled`]).
    pub(crate) enrolled: Vec<bool>,
    /// Per node: the link its enrollment goes through, while it is on its way in.
    enroll_edge: Vec<Option<usize>>,
    /// Per node: failed enrollment attempts (to rotate over neighbours).
    enroll_failures: Vec<usize>,
    pub(crate) flow_rng: SplitMix64,
    pub(crate) call_errors: u64,
    pub(crate) last_routes_changed: Option<Instant>,
    pub(crate) converged: bool,
    pub(crate) wall: Duration,
    pub(crate) flows: FlowTracker,
    pub(crate) streams: crate::streams::StreamTracker,
}

impl Simulator {
    /// A simulation of `graph` where every node runs [`NativeSpf`].
    pub fn new(graph: Graph, config: SimConfig) -> Result<Simulator, SimError> {
        Simulator::with_policies(graph, config, Box::new(|_| Box::new(NativeSpf::default())))
    }

    /// A simulation of `graph` where node `i` runs the routing policy `policy(i)`.
    ///
    /// The bootstrap node bootstraps the layer at time zero and enrollment spreads from it.
    pub fn with_policies(
        graph: Graph,
        config: SimConfig,
        policy: PolicyFactory,
    ) -> Result<Simulator, SimError> {
        let n = graph.node_count();
        if n == 0 {
            return Err(SimError::Empty);
        }
        let boot = config.bootstrap;
        if boot >= n {
            return Err(SimError::BadBootstrap(boot));
        }
        let names: Vec<String> = graph
            .nodes()
            .iter()
            .map(|id| format!("ipcp-{id}"))
            .collect();
        let factory = Rc::new(RefCell::new(policy));
        let route_mode = match config.requested_routes {
            Some(_) => RouteMode::Requested,
            None => RouteMode::Inline,
        };
        let node_config = NodeConfig {
            enroll_retry: config.enroll_retry,
            ..NodeConfig::default()
        };
        let mut seeds = SplitMix64::new(config.seed ^ 0x0D15_EA5E_5EED_0001);
        let mut failed = None;
        let mut fabric = Fabric::new(graph, config.link, config.seed, |i| {
            let mut node = Node::new(NodeConfig {
                seed: seeds.next_u64(),
                ..node_config
            });
            let f = Rc::clone(&factory);
            let opts = IpcpOptions {
                routing: Box::new(move || (*f.borrow_mut())(i)),
                route_mode,
                ..IpcpOptions::default()
            };
            let lower = Lower::Shim {
                shim: SHIM,
                scheduled: false,
            };
            if let Err(e) = node.create_ipcp(Instant::ZERO, &names[i], lower, opts) {
                failed.get_or_insert((i, e));
            }
            node
        });
        if let Some((i, e)) = failed {
            return Err(SimError::Node(i, e));
        }
        fabric.route_delay = Some(config.requested_routes.unwrap_or_default());
        for (i, s) in fabric.systems.iter_mut().enumerate() {
            s.attached = i == boot || !config.held_back.contains(&i);
        }
        let layer = config.layer.clone();
        fabric
            .node_mut(boot)
            .bootstrap(Instant::ZERO, IPCP, layer)
            .map_err(|e| SimError::Node(boot, e))?;
        let mut sim = Simulator {
            fabric,
            enrolled: vec![false; n],
            enroll_edge: vec![None; n],
            enroll_failures: vec![0; n],
            flow_rng: SplitMix64::new(config.seed ^ 0xF10E_F10E_F10E_F10E),
            call_errors: 0,
            last_routes_changed: None,
            converged: false,
            wall: Duration::ZERO,
            flows: FlowTracker::default(),
            streams: Default::default(),
            config,
        };
        sim.flush();
        Ok(sim)
    }

    /// The simulated topology.
    pub fn graph(&self) -> &Graph {
        &self.fabric.graph
    }

    /// Current simulated time.
    pub fn now(&self) -> Instant {
        self.fabric.now
    }

    /// Node `index`, the whole system.
    pub fn node(&self, index: usize) -> &Node {
        self.fabric.node(index)
    }

    /// The IPCP of node `index` (for inspection: counters, tables, keys). Panics if there
    /// is no node `index`, as indexing does.
    pub fn ipcp(&self, index: usize) -> &Ipcp {
        // Made with the node, never destroyed.
        self.fabric
            .node(index)
            .ipcp(IPCP)
            .expect("every simulated node has its IPCP")
    }

    /// True once the driver has seen node `index` enrolled.
    pub fn is_enrolled(&self, index: usize) -> bool {
        self.enrolled[index]
    }

    /// Run totals.
    pub fn counters(&self) -> SimCounters {
        let c = self.fabric.counters;
        SimCounters {
            pdus_sent: c.pdus_sent,
            pdus_delivered: c.pdus_delivered,
            pdus_lost: c.pdus_lost,
            bad_ports: c.bad_ports,
            call_errors: self.call_errors,
            events: self.fabric.events,
            timer_nudges: c.timer_nudges,
        }
    }

    /// Simulated time of the last [`Event::RoutesChanged`] seen on any node.
    pub fn converged_at(&self) -> Option<Instant> {
        self.last_routes_changed
    }

    /// Wall-clock time spent in the `run_*` methods so far.
    pub fn wall_time(&self) -> Duration {
        self.wall
    }

    /// Run the simulation for `span` of simulated time.
    pub fn run_for(&mut self, span: Duration) {
        let wall = std::time::Instant::now();
        let until = self.fabric.now + span;
        self.run_until(until);
        self.wall += wall.elapsed();
    }

    /// Call into node `n` at the current time; what it does is sent at the next flush.
    pub(crate) fn node_mut(&mut self, n: usize) -> (&mut Node, Instant) {
        let now = self.fabric.now;
        (self.fabric.node_mut(n), now)
    }

    /// Count a failed operator or application call.
    pub(crate) fn count_error<T, E>(&mut self, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(_) => {
                self.call_errors += 1;
                None
            }
        }
    }

    /// `n` just became a member: neighbours that are not in the layer enroll through it,
    /// then it connects to the neighbours already enrolled (each link is connected by its
    /// later end).
    pub(crate) fn on_enrolled(&mut self, n: usize) {
        self.enrolled[n] = true;
        self.enroll_edge[n] = None;
        for (edge, m) in self.fabric.adj[n].clone() {
            if self.fabric.links[edge].is_up() && !self.enrolling_well(m) {
                self.enroll_through(m, edge);
            }
        }
        for (edge, m) in self.fabric.adj[n].clone() {
            if self.fabric.links[edge].is_up()
                && self.fabric.systems[m].attached
                && self.enrolled[m]
            {
                let cost = self.fabric.graph.edges()[edge].cost;
                let (node, now) = self.node_mut(n);
                let r = node.connect(now, IPCP, Via::Port(port_of(edge)), cost);
                self.count_error(r);
            }
        }
    }

    /// True if node `m` should not be (re)pointed at another neighbour: it is not in the
    /// network, in the layer already, or on its way in through a link that can carry it.
    fn enrolling_well(&self, m: usize) -> bool {
        !self.fabric.systems[m].attached
            || self.enrolled[m]
            || self.enroll_edge[m].is_some_and(|e| self.can_enroll_through(m, e))
    }

    /// True if `edge` leads from `m` to an enrolled neighbour over a link that is up.
    fn can_enroll_through(&self, m: usize, edge: usize) -> bool {
        let peer = self.fabric.graph.edges()[edge].other(m);
        self.fabric.links[edge].is_up() && self.fabric.systems[peer].attached && self.enrolled[peer]
    }

    /// Enroll node `m` through `edge` (a node on its way in is pointed there instead).
    fn enroll_through(&mut self, m: usize, edge: usize) {
        self.enroll_edge[m] = Some(edge);
        let (node, now) = self.node_mut(m);
        let r = node.enroll(now, IPCP, Via::Port(port_of(edge)));
        self.count_error(r);
    }

    /// Enroll node `m` through an enrolled neighbour (rotating over them after failures)
    /// unless it is on its way in through a link that can carry it.
    pub(crate) fn try_enroll(&mut self, m: usize) {
        if !self.enrolling_well(m) {
            self.enroll_elsewhere(m);
        }
    }

    /// Point node `m`, not in the layer, at the next enrolled neighbour in rotation.
    fn enroll_elsewhere(&mut self, m: usize) {
        let via: Vec<usize> = self.fabric.adj[m]
            .iter()
            .map(|&(e, _)| e)
            .filter(|&e| self.can_enroll_through(m, e))
            .collect();
        if let Some(&edge) = via.get(self.enroll_failures[m] % via.len().max(1))
            && self.enroll_edge[m] != Some(edge)
        {
            self.enroll_through(m, edge);
        }
    }

    /// What node `n`'s application reads on `flow` now: test messages and stream messages.
    fn read_flow(&mut self, n: usize, flow: ouro_node::FlowId) {
        let now_ms = self.fabric.now.as_millis();
        while let Some(data) = self.fabric.node_mut(n).read(flow) {
            if self.stream_data(&data) {
                continue;
            }
            if let Some(idx) = self.flows.on_data(n, flow.eid, &data, now_ms) {
                self.finish_flow(idx);
            }
        }
    }
}

impl Driver for Simulator {
    fn fabric(&mut self) -> &mut Fabric {
        &mut self.fabric
    }

    fn on_event(&mut self, n: usize, event: Event) {
        match event {
            Event::Enrolled { .. } => {
                if !self.enrolled[n] {
                    self.on_enrolled(n);
                }
            }
            // The node tries again after `enroll_retry`: through the next neighbour.
            Event::EnrollFailed { .. } => {
                if self.fabric.systems[n].attached && !self.enrolled[n] {
                    self.enroll_failures[n] += 1;
                    self.enroll_elsewhere(n);
                }
            }
            // A lost adjacency the node asks for again.
            Event::AdjacencyUp { .. } | Event::AdjacencyDown { .. } => {}
            Event::RoutesChanged { .. } => self.last_routes_changed = Some(self.fabric.now),
            // Answered by the fabric already.
            Event::RouteRequest { .. } => {}
            Event::FlowAllocated { flow } => {
                if !self.stream_allocated(n, flow.eid) {
                    self.start_sending(n, flow.eid);
                }
            }
            // Accepted: the node listens on its application name.
            Event::FlowIncoming { .. } => {}
            Event::FlowReadable { flow } => self.read_flow(n, flow),
            // A flood's writer looks again at its next interval.
            Event::FlowWritable { .. } => {}
            Event::FlowEnded { flow, reason } => {
                self.stream_ended(n, flow.eid, reason);
                self.flows
                    .on_ended(n, flow.eid, reason, self.fabric.now.as_millis());
                // The application closes it (unless it did already, in this same step).
                let (node, now) = self.node_mut(n);
                let _ = node.dealloc(now, flow);
            }
        }
    }

    fn on_driver(&mut self, stream: usize) {
        self.stream_tick(stream);
    }
}
