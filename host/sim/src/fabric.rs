//! The simulated world under both simulators: one [`ouro_node::Node`] per topology node —
//! the node `ourod` runs — whose one shim ([`SHIM`]) has a port per attached link
//! ([`port_of`] its edge), the links between them ([`Link`]), the event queue and
//! simulated time. [`crate::Simulator`] and [`crate::NodeSim`] are drivers over it
//! ([`Driver`]): they play the operators and applications and react to what the nodes
//! report; delivery, timers, scheduled ports and route requests are handled here, once.
//!
//! After every input a node is marked; [`Driver::flush`] drains the marked nodes: their
//! transmissions go to the links (scheduled ports as fast as each link's transmitter
//! takes them), route requests are answered, events go to the driver, and the node's
//! timer is re-armed from `poll_timeout`. Nothing iterates a hash map, so the same seed
//! gives the same run.

use crate::link::{Direction, Fate, Link, LinkParams};
use crate::ports::{edge_of, port_of};
use crate::queue::EventQueue;
use crate::routes::compute;
use crate::topology::Graph;
use ouro_core::rng::SplitMix64;
use ouro_core::routing::{RoutingError, RoutingPolicy, RoutingTable, Topology};
use ouro_core::time::Instant;
use ouro_core::{Address, PortId};
use ouro_node::{Event, IpcpId, Node, NodeError, ShimId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

/// The shim of every simulated system: its ports are the node's links.
pub const SHIM: ShimId = ShimId(0);

/// Totals over a run of the simulated links and timers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeSimCounters {
    /// PDUs handed to links.
    pub pdus_sent: u64,
    /// PDUs delivered to a node.
    pub pdus_delivered: u64,
    /// PDUs lost at random, on a down link, in flight when it went down, or to a node not
    /// in the network yet.
    pub pdus_lost: u64,
    /// PDUs sent on a port that is no link of the node.
    pub bad_ports: u64,
    /// Timers re-armed for the instant they had just run at (moved 1 µs on).
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
    /// The transmitter of `node`'s scheduled port on `edge` is free: take the next batch.
    PortReady { node: usize, edge: usize },
    /// The answer to a route request of IPCP `ipcp` of node `node` comes back.
    Routes {
        node: usize,
        ipcp: IpcpId,
        id: u64,
        result: Result<RoutingTable, RoutingError>,
    },
    /// The driver's own event number `n` (a test stream's next write, say).
    Driver(usize),
}

/// One simulated system.
pub(crate) struct System {
    /// Its node.
    pub node: Node,
    /// False while it is not in the network (held back): what reaches it is lost.
    pub attached: bool,
    /// The deadline of the armed timer event, if any (older timer events are stale).
    timer: Option<Instant>,
    /// When its timer last ran.
    last_fired: Option<Instant>,
    /// Marked for draining.
    dirty: bool,
}

/// The systems, their links and simulated time. See the module documentation.
pub(crate) struct Fabric {
    pub graph: Graph,
    /// Per node: (edge, neighbour) of each link.
    pub adj: Vec<Vec<(usize, usize)>>,
    pub links: Vec<Link>,
    pub systems: Vec<System>,
    pub now: Instant,
    pub counters: NodeSimCounters,
    /// Queue events processed.
    pub events: u64,
    /// How long after a route request its answer is installed (`None`: the driver's
    /// user answers route requests itself).
    pub route_delay: Option<Duration>,
    /// PDUs a scheduled port hands its link per dequeue.
    pub batch: u32,
    queue: EventQueue<Action>,
    rng: SplitMix64,
    /// (node, edge) of scheduled ports waiting for their link's transmitter.
    waiting: BTreeSet<(usize, usize)>,
    /// Nodes marked for draining, in marking order.
    dirty: VecDeque<usize>,
    /// The routing policies of the IPCPs in requested mode, per (node, IPCP).
    policies: BTreeMap<(usize, IpcpId), Box<dyn RoutingPolicy>>,
    /// Events taken from a node, on their way to the driver (reused).
    events_buf: Vec<Event>,
}

/// What [`Fabric::step`] did.
pub(crate) enum Step {
    /// Delivered a PDU, ran a timer, pulled a port or installed routes.
    Done,
    /// The driver's own event came.
    Driver(usize),
}

impl Fabric {
    /// The systems `make(i)` builds, one per node of `graph`, every link up with `link`;
    /// loss is drawn from `seed`. Each node's shim has a port per link.
    pub fn new(
        graph: Graph,
        link: LinkParams,
        seed: u64,
        mut make: impl FnMut(usize) -> Node,
    ) -> Fabric {
        let adj = graph.adjacency();
        let systems = (0..graph.node_count())
            .map(|i| {
                let mut node = make(i);
                for &(edge, _) in &adj[i] {
                    node.shim_port_up(SHIM, port_of(edge));
                }
                System {
                    node,
                    attached: true,
                    timer: None,
                    last_fired: None,
                    dirty: false,
                }
            })
            .collect();
        Fabric {
            links: graph.edges().iter().map(|_| Link::new(link)).collect(),
            adj,
            graph,
            systems,
            now: Instant::ZERO,
            counters: NodeSimCounters::default(),
            events: 0,
            route_delay: Some(Duration::ZERO),
            batch: 64,
            queue: EventQueue::new(),
            rng: SplitMix64::new(seed),
            waiting: BTreeSet::new(),
            dirty: VecDeque::new(),
            policies: BTreeMap::new(),
            events_buf: Vec::new(),
        }
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Node {
        &self.systems[i].node
    }

    /// Node `i`, to call into at the current time; it is marked for draining.
    pub fn node_mut(&mut self, i: usize) -> &mut Node {
        self.mark(i);
        &mut self.systems[i].node
    }

    /// The port of node `i` on its link to node `j`.
    pub fn port_towards(&self, i: usize, j: usize) -> Option<PortId> {
        self.adj[i]
            .iter()
            .find(|&&(_, other)| other == j)
            .map(|&(edge, _)| port_of(edge))
    }

    /// Queue the driver's event `n` at `at`.
    pub fn schedule(&mut self, at: Instant, n: usize) {
        self.queue.push(at, Action::Driver(n));
    }

    /// Mark node `n` for draining (after a call into it).
    pub fn mark(&mut self, n: usize) {
        let s = &mut self.systems[n];
        if !s.dirty {
            s.dirty = true;
            self.dirty.push_back(n);
        }
    }

    /// Run the earliest queued event due at or before `until`, if any.
    pub fn step(&mut self, until: Instant) -> Option<Step> {
        let (time, action) = self.queue.pop_due(until)?;
        self.now = self.now.max(time);
        self.events += 1;
        let now = self.now;
        match action {
            Action::Deliver {
                node,
                edge,
                epoch,
                data,
            } => {
                if self.links[edge].delivers(epoch) && self.systems[node].attached {
                    self.counters.pdus_delivered += 1;
                    self.node_mut(node)
                        .shim_receive(now, SHIM, port_of(edge), data);
                } else {
                    self.counters.pdus_lost += 1;
                }
            }
            Action::Timer { node } => {
                let s = &mut self.systems[node];
                if s.timer == Some(now) {
                    s.timer = None;
                    s.last_fired = Some(now);
                    self.node_mut(node).handle_timeout(now);
                }
            }
            Action::PortReady { node, edge } => {
                self.waiting.remove(&(node, edge));
                self.pull(node, edge);
                self.mark(node);
            }
            Action::Routes {
                node,
                ipcp,
                id,
                result,
            } => self.install_routes(node, ipcp, id, result),
            Action::Driver(n) => return Some(Step::Driver(n)),
        }
        Some(Step::Done)
    }

    /// Send what node `n` produced, pull its scheduled ports, answer its route requests,
    /// re-arm its timer; its events go to `out`.
    fn drain(&mut self, n: usize, out: &mut Vec<Event>) {
        self.systems[n].dirty = false;
        loop {
            self.send(n);
            let mut asked = false;
            while let Some(e) = self.systems[n].node.poll_event() {
                if let Event::RouteRequest {
                    ipcp,
                    id,
                    own,
                    topology,
                } = &e
                {
                    asked |= self.answer_routes(n, *ipcp, *id, *own, topology);
                }
                out.push(e);
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
                self.transmit(n, t.shim, t.port, t.data);
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
    /// answer after the route delay (unless the driver's user answers). True if answered
    /// at once.
    fn answer_routes(
        &mut self,
        n: usize,
        ipcp: IpcpId,
        id: u64,
        own: Address,
        topology: &Topology,
    ) -> bool {
        let Some(delay) = self.route_delay else {
            return false;
        };
        self.take_policy(n, ipcp);
        let result = compute(self.policies.get_mut(&(n, ipcp)), own, topology);
        if !delay.is_zero() {
            let action = Action::Routes {
                node: n,
                ipcp,
                id,
                result,
            };
            self.queue.push(self.now + delay, action);
            return false;
        }
        self.install_routes(n, ipcp, id, result);
        true
    }

    /// The policy a new IPCP in requested mode was made with comes to the driver.
    fn take_policy(&mut self, n: usize, ipcp: IpcpId) {
        if let Some(p) = self.systems[n].node.take_routing_policy(ipcp) {
            self.policies.insert((n, ipcp), p); // a new IPCP, a new policy
        }
    }

    fn install_routes(
        &mut self,
        n: usize,
        ipcp: IpcpId,
        id: u64,
        result: Result<RoutingTable, RoutingError>,
    ) {
        let now = self.now;
        // A request of an IPCP destroyed since has no one to answer.
        let _ = self.node_mut(n).install_routes(now, ipcp, id, result);
    }

    /// Replace the routing policy of IPCP `ipcp` of node `n`: `make` receives the one in
    /// force. In requested mode the driver holds it (an answer of the old one still on
    /// its way is stale); else the IPCP does.
    pub fn set_routing_policy(
        &mut self,
        n: usize,
        ipcp: IpcpId,
        make: impl FnOnce(Box<dyn RoutingPolicy>) -> Box<dyn RoutingPolicy>,
    ) -> Result<(), NodeError> {
        self.take_policy(n, ipcp);
        let now = self.now;
        match self.policies.remove(&(n, ipcp)) {
            Some(old) => {
                let new = make(old);
                let name = new.name().to_string();
                self.policies.insert((n, ipcp), new);
                self.node_mut(n).routing_policy_changed(now, ipcp, &name)
            }
            None => {
                let p = self
                    .node_mut(n)
                    .ipcp_mut(ipcp)
                    .ok_or(NodeError::NoSuchIpcp(ipcp.0))?;
                p.set_routing_policy(now, make);
                Ok(())
            }
        }
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
            if self.systems[n].node.dequeue(now, SHIM, port, self.batch) == 0 {
                break;
            }
            while let Some(t) = self.systems[n].node.poll_transmit() {
                moved = true;
                self.transmit(n, t.shim, t.port, t.data);
            }
        }
        moved
    }

    fn direction(&self, from: usize, edge: usize) -> Direction {
        self.graph.edges()[edge].direction_from(from)
    }

    fn transmit(&mut self, from: usize, shim: ShimId, port: PortId, data: Vec<u8>) {
        let Some(edge) =
            edge_of(port).filter(|&e| shim == SHIM && self.adj[from].iter().any(|&(x, _)| x == e))
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
                    // Asked to run again at the instant it just ran: a bug in the node;
                    // step a microsecond on rather than spin forever.
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

/// A simulator over a [`Fabric`]: it reacts to what the nodes report.
pub(crate) trait Driver {
    /// The simulated world.
    fn fabric(&mut self) -> &mut Fabric;

    /// Node `n` reported `event` (route requests are answered already).
    fn on_event(&mut self, n: usize, event: Event);

    /// The driver's own event `id`, queued with [`Fabric::schedule`], came.
    fn on_driver(&mut self, id: usize);

    /// Drain every marked node, handing its events to [`Driver::on_event`] (which may
    /// mark nodes again) until none is marked.
    fn flush(&mut self) {
        let mut events = std::mem::take(&mut self.fabric().events_buf);
        while let Some(n) = self.fabric().dirty.pop_front() {
            self.fabric().drain(n, &mut events);
            for e in events.drain(..) {
                self.on_event(n, e);
            }
        }
        self.fabric().events_buf = events;
    }

    /// Run every event due up to `until`, then set the clock to `until`.
    fn run_until(&mut self, until: Instant) {
        while let Some(step) = self.fabric().step(until) {
            if let Step::Driver(id) = step {
                self.on_driver(id);
            }
            self.flush();
        }
        let f = self.fabric();
        f.now = f.now.max(until);
    }
}
