//! The sans-IO Ouro node: everything one system runs above its shims.
//!
//! A [`Node`] holds the unicast IPCPs of every layer of one system, the recursion glue
//! (an IPCP over another unicast layer reaches its peers over N-1 flows allocated in that
//! layer, which become its ports), the applications' flows with their receive backlogs and
//! the back-pressure that holds a writer when its flow may not send, and the retries of
//! enrollment, adjacencies and N-1 allocations. It is driven like quinn-proto's
//! `Connection`: every input takes an explicit `now`, nothing inside reads a clock, opens a
//! socket or spawns a thread.
//!
//! ```text
//! driver ──shim_receive / shim_port_down / write / read / alloc_flow / handle_timeout(now)──▶ Node
//! driver ◀──────────────── poll_transmit / dequeue / poll_event / poll_timeout ──────────── Node
//! ```
//!
//! Inputs only record what came in; the node does the work once for a batch of them, when
//! the driver next asks for an output (`poll_*`, [`Node::read`]).
//!
//! Shims are the driver's: a [`ShimId`] names a medium (a UDP socket, an Ethernet
//! interface, a simulated link set) whose ports ([`PortId`]) the driver numbers. The IPCP
//! over a shim either hands its PDUs out at once ([`Node::poll_transmit`]) or, when the
//! shim's ports are *scheduled*, keeps them in per-port, per-QoS-cube queues that the driver
//! drains at the medium's pace ([`Node::dequeue`]), so congestion builds where the
//! scheduler policy orders it and pushes back on the applications.
#![forbid(unsafe_code)]

mod backlog;
mod event;
mod flows;
mod held;
mod ids;
mod layer;
mod mgmt;
pub mod pacer;
mod pump;
mod recursion;
mod routes;
mod timers;

#[cfg(test)]
mod tests;

pub use backlog::BacklogLimits;
pub use event::Event;
pub use flows::{FlowStats, Written};
pub use ids::{FlowId, IpcpId, Lower, ShimId, Via};
pub use layer::IpcpOptions;
pub use ouro_core::ipcp::RouteMode;
pub use ouro_core::{Eid, Instant, LayerConfig, PortId, QosSpec};
pub use recursion::N1Port;

use ouro_core::ipcp::Transmit;
use ouro_core::rng::SplitMix64;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

/// How a node behaves where the protocol leaves it open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// Wait before trying a failed enrollment again.
    pub enroll_retry: Duration,
    /// Wait before asking again for an N-1 flow that could not be allocated (or whose
    /// lower IPCP was not enrolled yet).
    pub n1_retry: Duration,
    /// Seed of the node's IPCPs' random choices (addresses, endpoint ids, key pairs); a
    /// driver derives it from the node's name, the simulator from its run seed.
    pub seed: u64,
}

impl Default for NodeConfig {
    /// Retries after 1 s, seed 0.
    fn default() -> Self {
        NodeConfig {
            enroll_retry: Duration::from_secs(1),
            n1_retry: Duration::from_secs(1),
            seed: 0,
        }
    }
}

/// Errors from management and application calls.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// No IPCP with that id (or it was destroyed).
    #[error("no IPCP #{0}")]
    NoSuchIpcp(u32),
    /// An IPCP of that name exists already.
    #[error("an IPCP named `{0}` exists already")]
    NameTaken(String),
    /// The IPCP is a member of a layer already (bootstrap or enroll twice).
    #[error("IPCP `{0}` is already in a layer")]
    AlreadyMember(String),
    /// The lower layer would make a loop (an IPCP over itself, or over one above it).
    #[error("IPCP `{0}` cannot run over `{1}`: it is above it")]
    LowerLoop(String, String),
    /// The way to a peer does not fit the IPCP's lower layer (a port over a unicast
    /// layer, or a name over a shim).
    #[error("IPCP `{0}`: {1}")]
    BadVia(String, &'static str),
    /// The IPCP has no lower layer yet.
    #[error("IPCP `{0}` has no lower layer")]
    NoLower(String),
    /// The IPCP has a lower layer already (one per IPCP).
    #[error("IPCP `{0}` already has a lower layer (one per IPCP)")]
    HasLower(String),
    /// Another IPCP sits on that shim already.
    #[error("the shim already carries IPCP `{0}`")]
    ShimTaken(String),
    /// The IPCP is not in a layer yet.
    #[error("IPCP `{0}` is not enrolled")]
    NotEnrolled(String),
    /// No such application flow.
    #[error("no such flow")]
    NoSuchFlow,
    /// The IPCP refused the call (see the core's error).
    #[error("{0}")]
    Core(#[from] ouro_core::ipcp::IpcpError),
}

/// A PDU to hand to a shim (see [`Node::poll_transmit`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShimTransmit {
    /// The shim.
    pub shim: ShimId,
    /// The shim's port (the driver's numbering).
    pub port: PortId,
    /// The whole PDU.
    pub data: Vec<u8>,
}

/// Node-level counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Flows this node's applications allocated.
    pub flows_allocated: u64,
    /// Flows accepted for a listening application.
    pub flows_accepted: u64,
    /// Flow requests refused (no listener for the name).
    pub flows_refused: u64,
    /// Times an application's write was held (its flow may not send now).
    pub app_pauses: u64,
    /// Times a flow's deep backlog was reported as congestion.
    pub backlog_reports: u64,
    /// Messages dropped because a flow's backlog towards its application was full.
    pub backlog_drops: u64,
    /// PDUs for a shim port whose IPCP is gone.
    pub shim_orphans: u64,
}

/// Every layer of one system, sans-IO. See the crate documentation.
pub struct Node {
    config: NodeConfig,
    layers: Vec<layer::Layer>,
    n1: recursion::N1Flows,
    flows: BTreeMap<FlowId, flows::AppFlow>,
    /// The ports of each shim (scheduled in the IPCP over it).
    shim_ports: BTreeMap<ShimId, BTreeSet<PortId>>,
    /// Names an application listens on (flows to them are accepted).
    listeners: BTreeSet<String>,
    /// Flows holding writes they may not send yet, and when to look at them again.
    parked: BTreeMap<FlowId, Instant>,
    /// The parked flows to resume this pump (reused).
    ready: Vec<FlowId>,
    /// Flows whose backlog is deep, to report to their IPCP this pump.
    congested: Vec<FlowId>,
    transmits: VecDeque<ShimTransmit>,
    events: VecDeque<Event>,
    /// One scheduler batch on its way (reused).
    batch: Vec<Transmit>,
    seeds: SplitMix64,
    stats: NodeStats,
    /// The latest time seen (inputs never move the clock back).
    now: Instant,
    /// An input arrived since the last pump: the outputs are drained before any is taken.
    dirty: bool,
}

impl Node {
    /// An empty node: create IPCPs with [`Node::create_ipcp`].
    pub fn new(config: NodeConfig) -> Node {
        Node {
            config,
            layers: Vec::new(),
            n1: recursion::N1Flows::default(),
            flows: BTreeMap::new(),
            shim_ports: BTreeMap::new(),
            listeners: BTreeSet::new(),
            parked: BTreeMap::new(),
            ready: Vec::new(),
            congested: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            batch: Vec::new(),
            seeds: SplitMix64::new(config.seed ^ 0x0DE5_0DE5_0DE5_0DE5),
            stats: NodeStats::default(),
            now: Instant::ZERO,
            dirty: false,
        }
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Node-level counters.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// The next PDU to hand to a shim (from IPCPs over shims whose ports are not
    /// scheduled, and every PDU when a scheduled port is drained with [`Node::dequeue`]).
    pub fn poll_transmit(&mut self) -> Option<ShimTransmit> {
        self.settle();
        self.transmits.pop_front()
    }

    /// The next thing that happened.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.settle();
        self.events.pop_front()
    }

    /// Run the pump if an input arrived since it last ran. Inputs only record what came
    /// in; the work (relaying, delivering, resuming writers) happens once for a whole batch
    /// of them, when an output is asked for.
    fn settle(&mut self) {
        if self.dirty {
            self.dirty = false;
            let now = self.now;
            self.pump(now);
        }
    }

    /// Advance the node's clock (never backwards).
    fn tick(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }
}
