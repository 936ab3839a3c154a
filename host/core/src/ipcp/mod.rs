//! The unicast IPCP: a sans-IO state machine for one member of a unicast layer.
//!
//! Drive it like quinn-proto's `Connection`: feed it N-1 flow events ([`Ipcp::connect`],
//! [`Ipcp::enroll_via`], [`Ipcp::port_down`]), received PDUs ([`Ipcp::handle_pdu`]) and timer
//! expiries ([`Ipcp::handle_timeout`]), each with the current time; then drain
//! [`Ipcp::poll_transmit`] (PDUs to send on N-1 ports) and [`Ipcp::poll_event`] (what
//! happened, for the application side), and arm a timer for [`Ipcp::poll_timeout`].

mod adjacency;
mod authorize;
mod directory_ops;
mod enroll;
mod flow_alloc;
mod flow_control;
mod io;
mod link_state;
mod policy_swap;
mod replay;
mod route_requests;
mod scheduling;
mod timers;

pub use flow_control::{ECHO_INTERVAL, FlowCc};
pub use replay::{REPLAY_CAPACITY, REPLAY_WINDOW};
pub use route_requests::RouteMode;

use crate::auth::{AllowAll, AuthPolicy, RequestKind};
use crate::directory::DirStore;
use crate::flow::FlowTable;
use crate::identity::{Identity, KEY_LEN, NONCE_LEN};
use crate::lsdb::Lsdb;
use crate::rng::SplitMix64;
use crate::routing::{Fib, RoutingPolicy, Topology};
use crate::sched::{Plan, PortQueues, QueueState, SchedError, SchedulerPolicy, StrictPriority};
use crate::time::Instant;
use crate::{Address, Eid, LayerConfig, NameHash, PortId, QosSpec};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Most buffers [`Ipcp::recycle`] keeps (a full cube queue's worth, at the default size).
pub const RECYCLED_BUFFERS: usize = 1024;
/// Largest buffer [`Ipcp::recycle`] keeps, in bytes (a full-size UDP PDU and some).
pub const RECYCLED_CAPACITY: usize = 2048;

/// A PDU to send on an N-1 port (see [`Ipcp::poll_transmit`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The N-1 flow to send it on.
    pub port: PortId,
    /// The whole PDU (DT header and payload).
    pub data: Vec<u8>,
}

/// Why a flow ended or could not be allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowEnd {
    /// The name is not in the directory.
    NameUnknown,
    /// The responder refused or has no such name.
    Refused,
    /// No answer in time, or no route to the responder.
    Unreachable,
    /// The responder (its auth policy or its application) denied the flow.
    Denied,
    /// Deallocated by the peer.
    Remote,
    /// The peer went silent for longer than the flow's timeout.
    PeerTimeout,
}

/// Something that happened inside the IPCP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Enrollment completed: the IPCP now has an address and the layer configuration.
    Enrolled {
        /// The assigned address.
        address: Address,
    },
    /// Enrollment through the given port failed.
    EnrollFailed {
        /// The port enrollment was tried through.
        port: PortId,
    },
    /// An adjacency came up.
    AdjacencyUp {
        /// Its port.
        port: PortId,
        /// The neighbour's address.
        neighbor: Address,
    },
    /// An adjacency went down.
    AdjacencyDown {
        /// Its port.
        port: PortId,
        /// The neighbour's address.
        neighbor: Address,
    },
    /// A new forwarding table was installed.
    RoutesChanged,
    /// In [`RouteMode::Requested`]: a route computation is due. Run the routing policy
    /// over `topology` from `own` and answer with [`Ipcp::install_routes`] and this `id`;
    /// the table in force keeps forwarding meanwhile.
    RouteRequest {
        /// The request's id (increasing; only the latest request's answer is installed).
        id: u64,
        /// This IPCP's address, the source of the routes.
        own: Address,
        /// The layer's graph as it is now (our own links from the live adjacencies).
        topology: Topology,
    },
    /// A flow this IPCP requested is allocated.
    FlowAllocated {
        /// The local endpoint id (the flow handle).
        flow: Eid,
    },
    /// A peer asks for a flow to a name registered here; answer with
    /// [`Ipcp::accept_flow`] or [`Ipcp::reject_flow`].
    FlowRequest {
        /// The local endpoint id reserved for it.
        flow: Eid,
        /// The requested name.
        name: NameHash,
        /// The requested QoS.
        qos: QosSpec,
    },
    /// Data arrived on a flow.
    FlowData {
        /// The flow.
        flow: Eid,
        /// The payload.
        data: Vec<u8>,
    },
    /// A flow ended (or its allocation failed).
    FlowEnded {
        /// The flow.
        flow: Eid,
        /// Why.
        reason: FlowEnd,
    },
}

/// Errors from application-side calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IpcpError {
    /// The IPCP is not enrolled in a layer yet.
    #[error("not enrolled")]
    NotEnrolled,
    /// No such flow, or not in a state that allows the call.
    #[error("no such flow")]
    NoSuchFlow,
    /// No route to the flow's peer at the moment (the PDU was dropped and counted).
    #[error("no route")]
    NoRoute,
    /// The flow may not send now: its outgoing queue is full or its congestion-controlled
    /// rate says wait. Nothing was sent; try again later ([`Ipcp::flow_room`] says when).
    #[error("would block")]
    WouldBlock,
}

/// Drop and traffic counters of one IPCP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// PDUs received from N-1 ports.
    pub rx_pdus: u64,
    /// PDUs sent on N-1 ports.
    pub tx_pdus: u64,
    /// PDUs relayed for other IPCPs.
    pub forwarded: u64,
    /// PDUs delivered to local flows.
    pub delivered: u64,
    /// Dropped: could not be parsed.
    pub drop_malformed: u64,
    /// Dropped: TTL expired.
    pub drop_ttl: u64,
    /// Dropped: no route to the destination.
    pub drop_no_route: u64,
    /// Dropped: addressed here, to an unknown endpoint.
    pub drop_unknown_eid: u64,
    /// Dropped: arrived on a port with no adjacency, or before enrollment.
    pub drop_not_ready: u64,
    /// Route computations run (in requested mode: asked of the driver).
    pub route_computations: u64,
    /// Route computations whose policy failed or returned invalid output (old table kept).
    pub routing_failures: u64,
    /// Route answers ignored ([`Ipcp::install_routes`] for a request no longer
    /// outstanding), and answers rejected because the topology had changed while the
    /// driver computed them (a newer computation follows).
    pub stale_routes: u64,
    /// Link-state advertisements originated by this IPCP.
    pub lsas_originated: u64,
    /// Dropped: the PDU's queue on a scheduled port was full.
    pub drop_queue_full: u64,
    /// Dropped: waiting in the queues of a port that went down.
    pub drop_port_down: u64,
    /// Dropped by the scheduler's plan.
    pub sched_dropped: u64,
    /// PDUs ECN-marked by a queue over its threshold or by the scheduler's plan.
    pub ecn_marked: u64,
    /// Batches whose scheduler failed or planned invalidly (the last good plan was applied).
    pub scheduler_failures: u64,
    /// Enrollment and flow requests the auth policy denied here.
    pub auth_denied: u64,
    /// Auth policy calls that failed (each also a denial).
    pub auth_failures: u64,
    /// Our enrollment or flow requests a peer denied.
    pub denied_by_peer: u64,
    /// Enrollment and flow requests denied here because the peer's proof of possession of
    /// its key failed (forged key, tampered or replayed message, low-order key), plus
    /// proofs this IPCP could not make for a peer's low-order key.
    pub proof_failures: u64,
    /// Application writes refused because the flow's queue was full or its rate said wait
    /// ([`Ipcp::flow_try_write`]; the driver holds them, nothing is lost).
    pub flow_refused: u64,
    /// Congestion echoes (`FlowUpdate` with ECE) sent to our flows' senders.
    pub echoes_sent: u64,
    /// Congestion echoes received from our flows' receivers.
    pub cc_signals: u64,
    /// Send-rate decreases they caused.
    pub cc_decreases: u64,
}

/// A challenge sent to an enrollee, waiting for its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Challenge {
    /// The `EnrollRequest` as received (the start of the transcript).
    request: (NameHash, [u8; KEY_LEN]),
    /// The nonce sent.
    nonce: [u8; NONCE_LEN],
    /// The proof must arrive before this.
    deadline: Instant,
}

/// Enrollment state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Enrollment {
    /// Not a member, not trying.
    Idle,
    /// Waiting for an enrollment response on `port` until `deadline`.
    Pending { port: PortId, deadline: Instant },
    /// A member.
    Enrolled,
}

/// State of an N-1 port on which an adjacency was asked for or formed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Adjacency {
    /// The neighbour's address, once known.
    neighbor: Address,
    /// True once both ends agreed.
    up: bool,
    /// Cost this IPCP advertises for the link.
    cost: u32,
    /// True if the cost was set here with [`Ipcp::connect`] (else adopted from the peer).
    cost_set: bool,
    /// Last time a PDU arrived on the port.
    last_rx: Instant,
}

/// One member of a unicast layer.
pub struct Ipcp {
    /// Hash of this IPCP's own name (full 32 bytes).
    name: NameHash,
    enrollment: Enrollment,
    config: LayerConfig,
    address: Address,
    rng: SplitMix64,
    /// Who runs the routing policy.
    router: route_requests::Router,
    /// The route requests of [`RouteMode::Requested`].
    route_requests: route_requests::RouteRequests,
    /// Ports with an adjacency requested or up.
    adjacencies: BTreeMap<PortId, Adjacency>,
    /// Up neighbours: address → port (the lowest port if several reach the same neighbour).
    neighbor_ports: BTreeMap<Address, PortId>,
    /// Congestion level (ECN value to mark) per outgoing port, set by the driver.
    port_congestion: BTreeMap<PortId, u8>,
    lsdb: Lsdb,
    own_seqno: u64,
    last_lsa_at: Option<Instant>,
    lsa_due: Option<Instant>,
    last_spf_at: Option<Instant>,
    spf_due: Option<Instant>,
    fib: Arc<Fib>,
    /// Addresses recently handed out to enrollees (not yet in the database).
    assigned: BTreeMap<Address, Instant>,
    dir_store: DirStore,
    /// Names registered here: hash → replicas last published to.
    local_names: BTreeMap<NameHash, Vec<Address>>,
    last_dir_publish: Option<Instant>,
    next_query: u32,
    flows: FlowTable,
    next_tick: Option<Instant>,
    /// PDUs addressed to this IPCP by itself, processed before returning to the driver.
    loopback: VecDeque<Vec<u8>>,
    /// Empty buffers the driver gave back ([`Ipcp::recycle`]) for the PDUs of
    /// [`Ipcp::flow_try_write`]: no allocation per PDU written by an application.
    recycled: Vec<Vec<u8>>,
    /// Origins whose advertisement waits to be flooded, per port (sent in batches, in the
    /// version held when the batch goes out).
    flood_queue: BTreeMap<PortId, std::collections::BTreeSet<Address>>,
    /// Acknowledgements waiting to be sent, per port (sent with the next flood batch).
    ack_queue: BTreeMap<PortId, Vec<crate::wire::LsaRef>>,
    /// When the queued advertisements and acknowledgements go out.
    flood_due: Option<Instant>,
    /// Advertisements sent on each port and not acknowledged yet: origin → (seqno, sent at).
    unacked: BTreeMap<PortId, BTreeMap<Address, (u64, Instant)>>,
    transmits: VecDeque<Transmit>,
    /// Latest time seen (stamps PDUs queued on scheduled ports).
    clock: Instant,
    /// Queues of the ports the driver schedules.
    port_queues: BTreeMap<PortId, PortQueues>,
    scheduler: Box<dyn SchedulerPolicy>,
    /// The last plan that passed validation (applied again when the scheduler fails).
    last_plan: Option<Plan>,
    last_scheduler_error: Option<SchedError>,
    /// Reused for the queue states of each batch.
    sched_scratch: Vec<QueueState>,
    auth: Box<dyn AuthPolicy>,
    /// This IPCP's static key pair.
    identity: Identity,
    /// Enrollment challenges sent and not answered yet, per port.
    challenges: BTreeMap<PortId, Challenge>,
    /// Nonces of recently verified flow requests.
    replay: replay::ReplayGuard,
    last_denial: Option<(RequestKind, String)>,
    events: VecDeque<Event>,
    counters: Counters,
}

impl Ipcp {
    /// The first member of a layer: holds `config`, takes an address at once.
    pub fn bootstrap(
        name: &str,
        config: LayerConfig,
        policy: Box<dyn RoutingPolicy>,
        now: Instant,
        seed: u64,
    ) -> Ipcp {
        let mut ipcp = Ipcp::new(name, policy, now, seed);
        ipcp.config = config;
        let address = ipcp.random_free_address();
        ipcp.become_member(now, address);
        ipcp
    }

    /// A member-to-be: enroll it with [`Ipcp::enroll_via`]. Its key pair is derived from
    /// `seed` and `name` (reproducible; a real node replaces it with
    /// [`Ipcp::set_identity`]).
    pub fn new(name: &str, policy: Box<dyn RoutingPolicy>, now: Instant, seed: u64) -> Ipcp {
        Ipcp {
            name: NameHash::of(name, crate::name::MAX_HASH_LEN),
            enrollment: Enrollment::Idle,
            config: LayerConfig::default(),
            address: Address::NONE,
            rng: SplitMix64::new(seed),
            router: route_requests::Router::Inline(policy),
            route_requests: route_requests::RouteRequests::default(),
            adjacencies: BTreeMap::new(),
            neighbor_ports: BTreeMap::new(),
            port_congestion: BTreeMap::new(),
            lsdb: Lsdb::new(),
            own_seqno: 0,
            last_lsa_at: None,
            lsa_due: None,
            last_spf_at: None,
            spf_due: None,
            fib: Arc::new(Fib::default()),
            assigned: BTreeMap::new(),
            dir_store: DirStore::new(),
            local_names: BTreeMap::new(),
            last_dir_publish: None,
            next_query: 1,
            flows: FlowTable::new(),
            next_tick: None,
            loopback: VecDeque::new(),
            recycled: Vec::new(),
            flood_queue: BTreeMap::new(),
            unacked: BTreeMap::new(),
            ack_queue: BTreeMap::new(),
            flood_due: None,
            transmits: VecDeque::new(),
            clock: now,
            port_queues: BTreeMap::new(),
            scheduler: Box::new(StrictPriority::default()),
            last_plan: None,
            last_scheduler_error: None,
            sched_scratch: Vec::new(),
            auth: Box::new(AllowAll),
            identity: Identity::from_seed(seed, name),
            challenges: BTreeMap::new(),
            replay: replay::ReplayGuard::default(),
            last_denial: None,
            events: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    /// Enroll through the member at the other end of `port`.
    pub fn enroll_via(&mut self, now: Instant, port: PortId) {
        self.tick_clock(now);
        self.start_enrollment(now, port);
        self.flush(now);
    }

    /// Form an adjacency (data and management) with the IPCP at the other end of `port`.
    /// Either end may call it; the other end answers. `cost` is the link cost this IPCP
    /// advertises (the other end adopts it unless it connected with a cost of its own).
    pub fn connect(&mut self, now: Instant, port: PortId, cost: u32) {
        self.tick_clock(now);
        self.request_adjacency(now, port, cost.max(1));
        self.flush(now);
    }

    /// The N-1 flow behind `port` is gone.
    pub fn port_down(&mut self, now: Instant, port: PortId) {
        self.tick_clock(now);
        self.port_congestion.remove(&port);
        if let Some(q) = self.port_queues.get_mut(&port) {
            self.counters.drop_port_down += q.clear() as u64;
        }
        self.adjacency_lost(now, port);
        self.challenges.remove(&port);
        if let Enrollment::Pending { port: p, .. } = self.enrollment
            && p == port
        {
            self.enrollment = Enrollment::Idle;
            self.events.push_back(Event::EnrollFailed { port });
        }
        self.flush(now);
    }

    /// Tell the IPCP how congested the queue of outgoing `port` is: PDUs relayed onto it get
    /// their ECN field raised to at least `level` (0: not congested).
    pub fn set_port_congestion(&mut self, port: PortId, level: u8) {
        if level == 0 {
            self.port_congestion.remove(&port);
        } else {
            self.port_congestion.insert(port, level);
        }
    }

    /// A PDU arrived on `port`. Never panics; bad input is counted and dropped.
    pub fn handle_pdu(&mut self, now: Instant, port: PortId, pdu: Vec<u8>) {
        self.tick_clock(now);
        self.receive(now, Some(port), pdu);
        self.flush(now);
    }

    /// Run the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick_clock(now);
        self.run_timers(now);
        self.flush(now);
    }

    /// The earliest time [`Ipcp::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_deadline()
    }

    /// Next PDU to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Register `name` in the layer's directory (and accept flows for it here).
    pub fn register(&mut self, now: Instant, name: &str) -> Result<(), IpcpError> {
        self.tick_clock(now);
        self.require_enrolled()?;
        let hash = self.hash_name(name);
        self.local_names.entry(hash).or_default();
        self.publish_name(now, hash, false);
        self.flush(now);
        Ok(())
    }

    /// Withdraw `name` from the directory; flows for it are refused from now on.
    pub fn unregister(&mut self, now: Instant, name: &str) -> Result<(), IpcpError> {
        self.tick_clock(now);
        self.require_enrolled()?;
        let hash = self.hash_name(name);
        self.withdraw_name(now, hash);
        self.flush(now);
        Ok(())
    }

    /// Ask for a flow to `name`; the answer comes as [`Event::FlowAllocated`] or
    /// [`Event::FlowEnded`].
    pub fn alloc_flow(&mut self, now: Instant, name: &str, qos: QosSpec) -> Result<Eid, IpcpError> {
        self.tick_clock(now);
        self.require_enrolled()?;
        let hash = self.hash_name(name);
        let eid = self.start_flow(now, hash, qos);
        self.flush(now);
        Ok(eid)
    }

    /// Accept an incoming flow announced by [`Event::FlowRequest`].
    pub fn accept_flow(&mut self, now: Instant, flow: Eid) -> Result<(), IpcpError> {
        self.tick_clock(now);
        let res = self.answer_flow(now, flow, true);
        self.flush(now);
        res
    }

    /// Refuse an incoming flow announced by [`Event::FlowRequest`].
    pub fn reject_flow(&mut self, now: Instant, flow: Eid) -> Result<(), IpcpError> {
        self.tick_clock(now);
        let res = self.answer_flow(now, flow, false);
        self.flush(now);
        res
    }

    /// Send `data` on an allocated flow.
    pub fn flow_write(&mut self, now: Instant, flow: Eid, data: &[u8]) -> Result<(), IpcpError> {
        self.tick_clock(now);
        let res = self.write_flow(now, flow, data);
        self.flush(now);
        res
    }

    /// Send application data on a flow unless its outgoing queue is full or its congestion
    /// control says wait: then nothing is sent and the result is
    /// [`IpcpError::WouldBlock`] (the caller keeps the data and stops reading its
    /// application until [`Ipcp::flow_room`] allows more). [`Ipcp::flow_write`] instead
    /// always queues (and a full queue drops, counted).
    pub fn flow_try_write(
        &mut self,
        now: Instant,
        flow: Eid,
        data: &[u8],
    ) -> Result<(), IpcpError> {
        self.tick_clock(now);
        let res = self.try_write_flow(now, flow, data);
        self.flush(now);
        res
    }

    /// Give back the buffer of a PDU the driver is done with (sent, say): the PDUs of
    /// later writes ([`Ipcp::flow_try_write`]) are built in such buffers instead of fresh
    /// allocations. Keeps at most [`RECYCLED_BUFFERS`] buffers of at most
    /// [`RECYCLED_CAPACITY`] bytes; returns a buffer it does not keep.
    pub fn recycle(&mut self, buf: Vec<u8>) -> Option<Vec<u8>> {
        if self.recycled.len() >= RECYCLED_BUFFERS || buf.capacity() > RECYCLED_CAPACITY {
            return Some(buf);
        }
        self.recycled.push(buf);
        None
    }

    /// An empty buffer for a PDU of `len` bytes: a recycled one if any.
    pub(super) fn pdu_buffer(&mut self, len: usize) -> Vec<u8> {
        match self.recycled.pop() {
            Some(mut buf) => {
                buf.clear();
                buf.reserve(len);
                buf
            }
            None => Vec::with_capacity(len),
        }
    }

    /// Deallocate a flow (the peer is told).
    pub fn dealloc_flow(&mut self, now: Instant, flow: Eid) -> Result<(), IpcpError> {
        self.tick_clock(now);
        let res = self.end_flow_locally(now, flow);
        self.flush(now);
        res
    }

    /// Replace this IPCP's key pair (a node loads it from its configuration). Call it
    /// before enrolling: peers see the key in requests sent from then on.
    pub fn set_identity(&mut self, identity: Identity) {
        self.identity = identity;
    }

    /// This IPCP's static X25519 public key.
    pub fn public_key(&self) -> [u8; KEY_LEN] {
        self.identity.public()
    }

    /// This IPCP's address ([`Address::NONE`] before enrollment).
    pub fn address(&self) -> Address {
        self.address
    }

    /// True once enrolled (or bootstrapped).
    pub fn is_enrolled(&self) -> bool {
        self.enrollment == Enrollment::Enrolled
    }

    /// The layer configuration (the default until enrolled).
    pub fn config(&self) -> &LayerConfig {
        &self.config
    }

    /// The forwarding table in force.
    pub fn fib(&self) -> Arc<Fib> {
        Arc::clone(&self.fib)
    }

    /// Traffic and drop counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Number of link-state advertisements held.
    pub fn lsdb_len(&self) -> usize {
        self.lsdb.len()
    }

    /// Order-independent digest of the (origin, seqno) pairs held: equal digests mean the
    /// same database.
    pub fn lsdb_digest(&self) -> u64 {
        self.lsdb.digest()
    }

    /// The link-state database.
    pub fn lsdb(&self) -> &Lsdb {
        &self.lsdb
    }

    /// True while a route computation or an origination of this IPCP's own advertisement is
    /// scheduled but not yet run, or a route request waits for its answer.
    pub fn routes_pending(&self) -> bool {
        self.spf_due.is_some() || self.lsa_due.is_some() || self.route_request_pending()
    }

    /// Neighbours with an established adjacency: (port, address).
    pub fn neighbors(&self) -> Vec<(PortId, Address)> {
        self.adjacencies
            .iter()
            .filter(|(_, a)| a.up)
            .map(|(p, a)| (*p, a.neighbor))
            .collect()
    }

    /// Number of flow endpoints (in any state).
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Number of names this IPCP stores as a directory replica.
    pub fn directory_len(&self) -> usize {
        self.dir_store.len()
    }

    /// Hash a name with this layer's hash length.
    pub fn hash_name(&self, name: &str) -> NameHash {
        NameHash::of(name, usize::from(self.config.hash_len))
    }

    fn require_enrolled(&self) -> Result<(), IpcpError> {
        if self.is_enrolled() {
            Ok(())
        } else {
            Err(IpcpError::NotEnrolled)
        }
    }

    /// A random address not in use as far as this IPCP knows.
    fn random_free_address(&mut self) -> Address {
        loop {
            let a = Address(self.rng.next_u32());
            if !a.is_none()
                && a != self.address
                && !self.lsdb.contains(a)
                && !self.assigned.contains_key(&a)
            {
                return a;
            }
        }
    }

    /// Take `address` and start acting as a member.
    fn become_member(&mut self, now: Instant, address: Address) {
        self.address = address;
        self.enrollment = Enrollment::Enrolled;
        self.next_tick = Some(now + self.config.hello_interval);
        self.schedule_lsa(now);
        self.resend_adjacency_requests();
    }
}

#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod proof_tests;
#[cfg(test)]
mod tests;
