//! The discrete-event simulator: one real [`Ipcp`] per topology node, simulated links between
//! them, simulated time.
//!
//! After every call into an IPCP the node is queued for draining: its transmissions become
//! link deliveries, its events are acted on (enrollment of neighbours, adjacencies, flows) and
//! its timer is re-armed from `poll_timeout`. Nothing iterates a hash map, so the same seed
//! gives the same run.

use crate::flows::FlowTracker;
use crate::link::{Fate, Link, LinkParams};
use crate::node::{Node, edge_of, port_of};
use crate::queue::EventQueue;
use crate::topology::Graph;
use ouro_core::ipcp::Transmit;
use ouro_core::rng::SplitMix64;
use ouro_core::routing::{NativeSpf, RoutingError, RoutingPolicy, RoutingTable};
use ouro_core::time::Instant;
use ouro_core::{Event, Ipcp, LayerConfig};
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

/// Builds the routing policy of node `index`.
pub type PolicyFactory = Box<dyn FnMut(usize) -> Box<dyn RoutingPolicy>>;

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
    /// Wait before retrying a failed enrollment.
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
}

/// Totals over the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// PDUs handed to links.
    pub pdus_sent: u64,
    /// PDUs delivered to an IPCP.
    pub pdus_delivered: u64,
    /// PDUs lost: at random, on a down link, in flight when the link went down, or to a node
    /// that has not joined.
    pub pdus_lost: u64,
    /// Transmissions on a port that is not a link of the node (an IPCP bug).
    pub bad_ports: u64,
    /// Application-side calls (`accept_flow`, `register`, `dealloc_flow`...) that failed.
    pub call_errors: u64,
    /// Queue events processed.
    pub events: u64,
    /// Timers re-armed for the very instant they had just run at (an IPCP bug), moved 1 µs on.
    pub timer_nudges: u64,
}

/// What a queue event does.
pub(crate) enum Action {
    /// A PDU reaches `node` over `edge`, if the link has not gone down since `epoch`.
    Deliver {
        node: usize,
        edge: usize,
        epoch: u64,
        data: Vec<u8>,
    },
    /// `node`'s timer, if still armed for this time.
    Timer { node: usize },
    /// Try to enroll `node` again.
    RetryEnroll { node: usize },
    /// The transmitter of `node`'s scheduled port on `edge` is free: take the next batch.
    PortReady { node: usize, edge: usize },
    /// Test stream `stream` writes its next message.
    StreamTick { stream: usize },
    /// The answer to `node`'s route request `id` comes back.
    Routes {
        node: usize,
        id: u64,
        result: Result<RoutingTable, RoutingError>,
    },
}

/// A running simulation.
pub struct Simulator {
    pub(crate) graph: Graph,
    pub(crate) adj: Vec<Vec<(usize, usize)>>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) links: Vec<Link>,
    pub(crate) config: SimConfig,
    pub(crate) now: Instant,
    pub(crate) queue: EventQueue<Action>,
    link_rng: SplitMix64,
    pub(crate) flow_rng: SplitMix64,
    dirty: VecDeque<usize>,
    pub(crate) counters: SimCounters,
    pub(crate) last_routes_changed: Option<Instant>,
    pub(crate) converged: bool,
    pub(crate) wall: Duration,
    pub(crate) flows: FlowTracker,
    /// Batch size of scheduled ports (`None`: ports are not scheduled).
    pub(crate) batch: Option<u32>,
    /// (node, edge) of scheduled ports waiting for their transmitter.
    pub(crate) port_waiting: BTreeSet<(usize, usize)>,
    /// Reused buffer for dequeued batches.
    pub(crate) batch_buf: Vec<Transmit>,
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
        mut policy: PolicyFactory,
    ) -> Result<Simulator, SimError> {
        if graph.node_count() == 0 {
            return Err(SimError::Empty);
        }
        let boot = config.bootstrap;
        if boot >= graph.node_count() {
            return Err(SimError::BadBootstrap(boot));
        }
        let mut seeds = SplitMix64::new(config.seed ^ 0x0D15_EA5E_5EED_0001);
        let nodes = graph
            .nodes()
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let name = format!("ipcp-{id}");
                let seed = seeds.next_u64();
                let ipcp = if i == boot {
                    Ipcp::bootstrap(&name, config.layer.clone(), policy(i), Instant::ZERO, seed)
                } else {
                    Ipcp::new(&name, policy(i), Instant::ZERO, seed)
                };
                let mut node = Node::new(ipcp, i == boot || !config.held_back.contains(&i));
                if config.requested_routes.is_some() {
                    node.policy = node.ipcp.request_routes();
                }
                node
            })
            .collect();
        let links = graph
            .edges()
            .iter()
            .map(|_| Link::new(config.link))
            .collect();
        let mut sim = Simulator {
            adj: graph.adjacency(),
            graph,
            nodes,
            links,
            now: Instant::ZERO,
            queue: EventQueue::new(),
            link_rng: SplitMix64::new(config.seed),
            flow_rng: SplitMix64::new(config.seed ^ 0xF10E_F10E_F10E_F10E),
            dirty: VecDeque::new(),
            counters: SimCounters::default(),
            last_routes_changed: None,
            converged: false,
            wall: Duration::ZERO,
            flows: FlowTracker::default(),
            batch: None,
            port_waiting: BTreeSet::new(),
            batch_buf: Vec::new(),
            streams: Default::default(),
            config,
        };
        sim.mark(boot);
        sim.on_enrolled(boot);
        sim.flush();
        Ok(sim)
    }

    /// The simulated topology.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Current simulated time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The IPCP of node `index`.
    pub fn ipcp(&self, index: usize) -> &Ipcp {
        &self.nodes[index].ipcp
    }

    /// True once the driver has seen node `index` enrolled.
    pub fn is_enrolled(&self, index: usize) -> bool {
        self.nodes[index].enrolled
    }

    /// Run totals.
    pub fn counters(&self) -> SimCounters {
        self.counters
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
        self.run_until(self.now + span);
        self.wall += wall.elapsed();
    }

    /// Process every event due up to `until`, then set the clock to `until`.
    pub(crate) fn run_until(&mut self, until: Instant) {
        while let Some((time, action)) = self.queue.pop_due(until) {
            self.now = self.now.max(time);
            self.counters.events += 1;
            self.dispatch(action);
            self.flush();
        }
        self.now = self.now.max(until);
    }

    fn dispatch(&mut self, action: Action) {
        match action {
            Action::Deliver {
                node,
                edge,
                epoch,
                data,
            } => {
                if self.links[edge].delivers(epoch) && self.nodes[node].active {
                    self.counters.pdus_delivered += 1;
                    let now = self.now;
                    self.nodes[node].ipcp.handle_pdu(now, port_of(edge), data);
                    self.mark(node);
                } else {
                    self.counters.pdus_lost += 1;
                }
            }
            Action::Timer { node } => {
                if self.nodes[node].timer == Some(self.now) {
                    self.nodes[node].timer = None;
                    self.nodes[node].last_fired = Some(self.now);
                    let now = self.now;
                    self.nodes[node].ipcp.handle_timeout(now);
                    self.mark(node);
                }
            }
            Action::RetryEnroll { node } => self.try_enroll(node),
            Action::PortReady { node, edge } => {
                self.port_waiting.remove(&(node, edge));
                self.pull(node, edge);
            }
            Action::StreamTick { stream } => self.stream_tick(stream),
            Action::Routes { node, id, result } => self.install_routes(node, id, result),
        }
    }

    /// Queue `node` for draining (after a call into its IPCP).
    pub(crate) fn mark(&mut self, node: usize) {
        if !self.nodes[node].dirty {
            self.nodes[node].dirty = true;
            self.dirty.push_back(node);
        }
    }

    /// Drain every queued node: transmissions, events, timer.
    pub(crate) fn flush(&mut self) {
        while let Some(n) = self.dirty.pop_front() {
            self.nodes[n].dirty = false;
            while let Some(t) = self.nodes[n].ipcp.poll_transmit() {
                self.transmit(n, t);
            }
            if self.batch.is_some() {
                for (edge, _) in self.adj[n].clone() {
                    self.pull(n, edge);
                }
            }
            let mut events = Vec::new();
            while let Some(e) = self.nodes[n].ipcp.poll_event() {
                events.push(e);
            }
            for e in events {
                self.on_event(n, e);
            }
            self.rearm(n);
        }
    }

    /// Hand a batch from `n`'s scheduled port on `edge` to the link if its transmitter is
    /// free, and come back when it is free again while packets wait.
    pub(crate) fn pull(&mut self, n: usize, edge: usize) {
        let Some(batch) = self.batch else { return };
        if self.port_waiting.contains(&(n, edge)) {
            return;
        }
        let port = port_of(edge);
        let dir = self.graph.edges()[edge].direction_from(n);
        let mut buf = std::mem::take(&mut self.batch_buf);
        while self.nodes[n].ipcp.queued(port) > 0 {
            let free = self.links[edge].free_at(dir);
            if free > self.now {
                self.port_waiting.insert((n, edge));
                self.queue.push(free, Action::PortReady { node: n, edge });
                break;
            }
            let now = self.now;
            self.nodes[n].ipcp.dequeue(now, port, batch, &mut buf);
            for t in buf.drain(..) {
                self.transmit(n, t);
            }
        }
        self.batch_buf = buf;
    }

    fn transmit(&mut self, from: usize, t: Transmit) {
        let Some(edge) = edge_of(t.port).filter(|&e| self.adj[from].iter().any(|&(x, _)| x == e))
        else {
            self.counters.bad_ports += 1;
            return;
        };
        self.counters.pdus_sent += 1;
        let e = self.graph.edges()[edge];
        let dir = e.direction_from(from);
        let to = e.other(from);
        let link = &mut self.links[edge];
        match link.send(self.now, dir, t.data.len(), &mut self.link_rng) {
            Fate::Arrives(at) => {
                let epoch = link.epoch();
                self.queue.push(
                    at,
                    Action::Deliver {
                        node: to,
                        edge,
                        epoch,
                        data: t.data,
                    },
                );
            }
            Fate::Lost | Fate::Down => self.counters.pdus_lost += 1,
        }
    }

    fn rearm(&mut self, n: usize) {
        match self.nodes[n].ipcp.poll_timeout() {
            Some(deadline) => {
                let mut deadline = deadline.max(self.now);
                if self.nodes[n].last_fired == Some(deadline) {
                    // The timer just ran at this instant and asks to run again at once: an
                    // IPCP bug; step forward a microsecond rather than spin forever.
                    deadline += Duration::from_micros(1);
                    self.counters.timer_nudges += 1;
                }
                if self.nodes[n].timer != Some(deadline) {
                    self.nodes[n].timer = Some(deadline);
                    self.queue.push(deadline, Action::Timer { node: n });
                }
            }
            None => self.nodes[n].timer = None,
        }
    }

    fn on_event(&mut self, n: usize, event: Event) {
        let now_ms = self.now.as_millis();
        match event {
            Event::Enrolled { .. } => {
                if !self.nodes[n].enrolled {
                    self.on_enrolled(n);
                }
            }
            Event::EnrollFailed { .. } => {
                self.nodes[n].enrolling = None;
                self.nodes[n].enroll_failures += 1;
                self.queue.push(
                    self.now + self.config.enroll_retry,
                    Action::RetryEnroll { node: n },
                );
            }
            Event::AdjacencyUp { .. } | Event::AdjacencyDown { .. } => {}
            Event::RoutesChanged => self.last_routes_changed = Some(self.now),
            Event::RouteRequest { id, own, topology } => self.answer_routes(n, id, own, &topology),
            Event::FlowAllocated { flow } => {
                if !self.stream_allocated(n, flow) {
                    self.start_sending(n, flow);
                }
            }
            Event::FlowRequest { flow, .. } => {
                let now = self.now;
                if self.nodes[n].ipcp.accept_flow(now, flow).is_err() {
                    self.counters.call_errors += 1;
                }
                self.mark(n);
            }
            Event::FlowData { flow, data } => {
                if self.stream_data(&data) {
                    return;
                }
                if let Some(idx) = self.flows.on_data(n, flow, &data, now_ms) {
                    self.finish_flow(idx);
                }
            }
            Event::FlowEnded { flow, reason } => {
                self.stream_ended(n, flow, reason);
                self.flows.on_ended(n, flow, reason, now_ms)
            }
        }
    }

    /// `n` just became a member: neighbours that are not enrolling enroll through it, then it
    /// connects to the neighbours already enrolled (each link is connected by its later end).
    pub(crate) fn on_enrolled(&mut self, n: usize) {
        self.nodes[n].enrolled = true;
        self.nodes[n].enrolling = None;
        let now = self.now;
        for (edge, m) in self.adj[n].clone() {
            let peer = &self.nodes[m];
            if self.links[edge].is_up() && peer.active && !peer.enrolled && peer.enrolling.is_none()
            {
                self.start_enroll(m, edge);
            }
        }
        for (edge, m) in self.adj[n].clone() {
            if self.links[edge].is_up() && self.nodes[m].active && self.nodes[m].enrolled {
                let cost = self.graph.edges()[edge].cost;
                self.nodes[n].ipcp.connect(now, port_of(edge), cost);
                self.mark(n);
            }
        }
    }

    fn start_enroll(&mut self, n: usize, edge: usize) {
        let port = port_of(edge);
        self.nodes[n].enrolling = Some(port);
        let now = self.now;
        self.nodes[n].ipcp.enroll_via(now, port);
        self.mark(n);
    }

    /// Enroll `n` through one of its enrolled neighbours (rotating after failures).
    pub(crate) fn try_enroll(&mut self, n: usize) {
        let node = &self.nodes[n];
        if !node.active || node.enrolled || node.enrolling.is_some() {
            return;
        }
        let via: Vec<usize> = self.adj[n]
            .iter()
            .filter(|&&(e, m)| {
                self.links[e].is_up() && self.nodes[m].active && self.nodes[m].enrolled
            })
            .map(|&(e, _)| e)
            .collect();
        if via.is_empty() {
            return;
        }
        let pick = via[node.enroll_failures as usize % via.len()];
        self.start_enroll(n, pick);
    }
}
