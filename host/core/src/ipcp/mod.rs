//! The unicast IPCP: a sans-IO state machine for one member of a unicast layer.
//!
//! Drive it like quinn-proto's `Connection`: feed it N-1 flow events ([`Ipcp::connect`],
//! [`Ipcp::enroll_via`], [`Ipcp::port_down`]), received PDUs ([`Ipcp::handle_pdu`]) and timer
//! expiries ([`Ipcp::handle_timeout`]), each with the current time; then drain
//! [`Ipcp::poll_transmit`] (PDUs to send on N-1 ports) and [`Ipcp::poll_event`] (what
//! happened, for the application side), and arm a timer for [`Ipcp::poll_timeout`].

use crate::routing::{Fib, RoutingPolicy};
use crate::{Address, Eid, LayerConfig, NameHash, PortId, QosSpec};
use crate::time::Instant;
use std::sync::Arc;

/// A PDU to send on an N-1 port.
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
    /// Deallocated by this side.
    Local,
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
}

/// One member of a unicast layer.
pub struct Ipcp {
    _todo: (),
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
        let _ = (name, config, policy, now, seed);
        todo!()
    }

    /// A member-to-be: enroll it with [`Ipcp::enroll_via`].
    pub fn new(name: &str, policy: Box<dyn RoutingPolicy>, now: Instant, seed: u64) -> Ipcp {
        let _ = (name, policy, now, seed);
        todo!()
    }

    /// Enroll through the member at the other end of `port`.
    pub fn enroll_via(&mut self, now: Instant, port: PortId) {
        let _ = (now, port);
        todo!()
    }

    /// Form an adjacency (data and management) with the IPCP at the other end of `port`.
    /// Either end may call it; the other end answers. Cost is the link cost advertised.
    pub fn connect(&mut self, now: Instant, port: PortId, cost: u32) {
        let _ = (now, port, cost);
        todo!()
    }

    /// The N-1 flow behind `port` is gone.
    pub fn port_down(&mut self, now: Instant, port: PortId) {
        let _ = (now, port);
        todo!()
    }

    /// A PDU arrived on `port`. Never panics; bad input is counted and dropped.
    pub fn handle_pdu(&mut self, now: Instant, port: PortId, pdu: Vec<u8>) {
        let _ = (now, port, pdu);
        todo!()
    }

    /// Run the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }

    /// The earliest time [`Ipcp::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }

    /// Next PDU to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        todo!()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        todo!()
    }

    /// Register `name` in the layer's directory (and accept flows for it here).
    pub fn register(&mut self, now: Instant, name: &str) -> Result<(), IpcpError> {
        let _ = (now, name);
        todo!()
    }

    /// Ask for a flow to `name`; the answer comes as [`Event::FlowAllocated`] or
    /// [`Event::FlowEnded`].
    pub fn alloc_flow(&mut self, now: Instant, name: &str, qos: QosSpec) -> Result<Eid, IpcpError> {
        let _ = (now, name, qos);
        todo!()
    }

    /// Accept an incoming flow announced by [`Event::FlowRequest`].
    pub fn accept_flow(&mut self, now: Instant, flow: Eid) -> Result<(), IpcpError> {
        let _ = (now, flow);
        todo!()
    }

    /// Refuse an incoming flow announced by [`Event::FlowRequest`].
    pub fn reject_flow(&mut self, now: Instant, flow: Eid) -> Result<(), IpcpError> {
        let _ = (now, flow);
        todo!()
    }

    /// Send `data` on an allocated flow.
    pub fn flow_write(&mut self, now: Instant, flow: Eid, data: &[u8]) -> Result<(), IpcpError> {
        let _ = (now, flow, data);
        todo!()
    }

    /// Deallocate a flow (the peer is told).
    pub fn dealloc_flow(&mut self, now: Instant, flow: Eid) -> Result<(), IpcpError> {
        let _ = (now, flow);
        todo!()
    }

    /// This IPCP's address ([`Address::NONE`] before enrollment).
    pub fn address(&self) -> Address {
        todo!()
    }

    /// True once enrolled (or bootstrapped).
    pub fn is_enrolled(&self) -> bool {
        todo!()
    }

    /// The forwarding table in force.
    pub fn fib(&self) -> Arc<Fib> {
        todo!()
    }

    /// Traffic and drop counters.
    pub fn counters(&self) -> Counters {
        todo!()
    }

    /// Number of link-state advertisements held.
    pub fn lsdb_len(&self) -> usize {
        todo!()
    }

    /// An order-independent digest of the (origin, sequence number) pairs in the link-state
    /// database: two IPCPs with equal digests hold the same database.
    pub fn lsdb_digest(&self) -> u64 {
        todo!()
    }

    /// True while a route computation is scheduled but not yet run.
    pub fn routes_pending(&self) -> bool {
        todo!()
    }

    /// Neighbours with an established adjacency: (port, address).
    pub fn neighbors(&self) -> Vec<(PortId, Address)> {
        todo!()
    }
}
