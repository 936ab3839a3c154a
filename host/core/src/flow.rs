//! Per-flow state of the flow allocator.

use crate::congestion::{Aimd, AimdConfig};
use crate::rng::SplitMix64;
use crate::time::Instant;
use crate::{Address, Eid, NameHash, QosSpec};
use std::collections::BTreeMap;

/// Where a flow is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowState {
    /// Requester: looking the name up in the directory; `tried` replicas asked so far.
    Resolving {
        /// Directory query id.
        query: u32,
        /// Replicas already asked.
        tried: usize,
        /// When the current query was sent.
        sent_at: Instant,
    },
    /// Requester: request sent to `peer`, waiting for the reply.
    Requested {
        /// The responder.
        peer: Address,
        /// The responder's public key, from the directory (the request's proof is made
        /// for it).
        peer_key: [u8; 32],
        /// Requests sent so far.
        attempts: u8,
        /// When the last request was sent.
        sent_at: Instant,
    },
    /// Responder: announced to the application, waiting for accept / reject.
    PendingAccept {
        /// The requester.
        peer: Address,
        /// The requester's endpoint id.
        peer_eid: Eid,
    },
    /// Both ends know each other's endpoint ids: data flows.
    Allocated {
        /// The other end's IPCP.
        peer: Address,
        /// The other end's endpoint id.
        peer_eid: Eid,
    },
}

/// One flow endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Local endpoint id (the flow handle).
    pub eid: Eid,
    /// State.
    pub state: FlowState,
    /// The destination name (requester) or the requested name (responder).
    pub name: NameHash,
    /// The QoS asked for.
    pub qos: QosSpec,
    /// Last time anything arrived from the peer.
    pub last_rx: Instant,
    /// Last time anything was sent to the peer.
    pub last_tx: Instant,
    /// Highest ECN value seen on received data since the last congestion echo.
    pub ecn_seen: u8,
    /// The latest congestion echo from the peer.
    pub peer_ece: u16,
    /// Receiver: no congestion echo before this instant (echoes are rate-limited).
    pub next_echo: Instant,
    /// Congestion echoes sent.
    pub echoes_sent: u64,
    /// Sender: the AIMD send rate this end keeps for the flow.
    pub cc: Aimd,
}

impl Flow {
    /// A flow endpoint created at `now`.
    pub fn new(eid: Eid, state: FlowState, name: NameHash, qos: QosSpec, now: Instant) -> Flow {
        Flow {
            eid,
            state,
            name,
            qos,
            last_rx: now,
            last_tx: now,
            ecn_seen: 0,
            peer_ece: 0,
            next_echo: now,
            echoes_sent: 0,
            cc: Aimd::new(AimdConfig::default(), now),
        }
    }

    /// `(peer address, peer eid)` once allocated.
    pub fn peer(&self) -> Option<(Address, Eid)> {
        match self.state {
            FlowState::Allocated { peer, peer_eid } => Some((peer, peer_eid)),
            _ => None,
        }
    }
}

/// All flow endpoints of one IPCP, by local endpoint id.
#[derive(Clone, Debug, Default)]
pub struct FlowTable {
    flows: BTreeMap<Eid, Flow>,
}

impl FlowTable {
    /// An empty table.
    pub fn new() -> Self {
        FlowTable::default()
    }

    /// A fresh, unused, non-zero endpoint id.
    pub fn fresh_eid(&self, rng: &mut SplitMix64) -> Eid {
        loop {
            let eid = Eid(rng.next_u32());
            if eid != Eid::MGMT && !self.flows.contains_key(&eid) {
                return eid;
            }
        }
    }

    /// Add a flow.
    pub fn insert(&mut self, flow: Flow) {
        self.flows.insert(flow.eid, flow);
    }

    /// The flow `eid`.
    pub fn get(&self, eid: Eid) -> Option<&Flow> {
        self.flows.get(&eid)
    }

    /// The flow `eid`, mutably.
    pub fn get_mut(&mut self, eid: Eid) -> Option<&mut Flow> {
        self.flows.get_mut(&eid)
    }

    /// Remove the flow `eid`.
    pub fn remove(&mut self, eid: Eid) -> Option<Flow> {
        self.flows.remove(&eid)
    }

    /// The responder-side flow already created for `(peer, peer_eid)`, if any (duplicate
    /// requests).
    pub fn find_by_peer(&self, peer: Address, peer_eid: Eid) -> Option<Eid> {
        self.flows.values().find_map(|f| match f.state {
            FlowState::PendingAccept {
                peer: p,
                peer_eid: e,
            }
            | FlowState::Allocated {
                peer: p,
                peer_eid: e,
            } if p == peer && e == peer_eid => Some(f.eid),
            _ => None,
        })
    }

    /// The requester-side flow waiting for directory query `query`.
    pub fn find_by_query(&self, query: u32) -> Option<Eid> {
        self.flows.values().find_map(|f| match f.state {
            FlowState::Resolving { query: q, .. } if q == query => Some(f.eid),
            _ => None,
        })
    }

    /// Endpoint ids of all flows, ascending.
    pub fn eids(&self) -> Vec<Eid> {
        self.flows.keys().copied().collect()
    }

    /// All flows, by endpoint id.
    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.flows.values()
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}
