//! Layer management messages (the payload of DT PDUs for endpoint id 0).

use super::WireError;
use crate::{Address, Eid, LayerConfig, NameHash, QosSpec};

/// Management message type codes (first byte of every management message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MgmtType {
    /// [`MgmtMsg::EnrollRequest`]
    EnrollRequest = 0x01,
    /// [`MgmtMsg::EnrollResponse`]
    EnrollResponse = 0x02,
    /// [`MgmtMsg::AdjRequest`]
    AdjRequest = 0x03,
    /// [`MgmtMsg::AdjAccept`]
    AdjAccept = 0x04,
    /// [`MgmtMsg::Keepalive`]
    Keepalive = 0x05,
    /// [`MgmtMsg::Lsu`]
    Lsu = 0x10,
    /// [`MgmtMsg::DbSummary`]
    DbSummary = 0x11,
    /// [`MgmtMsg::DirPut`]
    DirPut = 0x20,
    /// [`MgmtMsg::DirDel`]
    DirDel = 0x21,
    /// [`MgmtMsg::DirGet`]
    DirGet = 0x22,
    /// [`MgmtMsg::DirReply`]
    DirReply = 0x23,
    /// [`MgmtMsg::FlowReq`]
    FlowReq = 0x30,
    /// [`MgmtMsg::FlowReply`]
    FlowReply = 0x31,
    /// [`MgmtMsg::FlowUpdate`]
    FlowUpdate = 0x32,
    /// [`MgmtMsg::FlowDealloc`]
    FlowDealloc = 0x33,
}

/// Outcome of an enrollment request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EnrollResult {
    /// Enrolled: the response carries an address and the layer configuration.
    Ok = 0,
    /// The member refused (policy).
    Denied = 1,
    /// The member could not find a free address.
    NoAddress = 2,
    /// The member is not enrolled itself.
    NotEnrolled = 3,
}

/// Outcome of a flow allocation request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FlowResult {
    /// Allocated.
    Ok = 0,
    /// No process accepts flows for that name at this IPCP.
    NoSuchName = 1,
    /// The accepting side refused.
    Denied = 2,
    /// The responder is out of endpoint ids or memory.
    NoResources = 3,
}

/// One link in a link-state advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LsaLink {
    /// The neighbour at the other end.
    pub neighbor: Address,
    /// Cost of the link from the origin to the neighbour (>= 1).
    pub cost: u32,
}

/// A link-state advertisement: one IPCP's adjacencies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lsa {
    /// The IPCP that originated it.
    pub origin: Address,
    /// Sequence number; higher is newer.
    pub seqno: u64,
    /// Remaining lifetime in seconds; 0 flushes the advertisement.
    pub lifetime_s: u16,
    /// The origin's adjacencies.
    pub links: Vec<LsaLink>,
}

/// One entry of a database summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LsaSummary {
    /// Originator.
    pub origin: Address,
    /// Sequence number held.
    pub seqno: u64,
}

/// One directory registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DirEntry {
    /// The registered name.
    pub name: NameHash,
    /// The IPCP where it is registered.
    pub address: Address,
    /// Seconds the entry stays valid without a refresh.
    pub lifetime_s: u16,
}

/// A parsed layer management message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MgmtMsg {
    /// Enrollee → member: please enroll me.
    EnrollRequest {
        /// Hash (32 bytes) of the enrollee's IPCP name.
        ipcp: NameHash,
    },
    /// Member → enrollee: the outcome, the assigned address and the layer configuration.
    EnrollResponse {
        /// Outcome.
        result: EnrollResult,
        /// Assigned address (0 unless `result` is Ok).
        address: Address,
        /// The layer configuration.
        config: LayerConfig,
    },
    /// Ask a neighbour to form an adjacency over this N-1 flow.
    AdjRequest {
        /// The sender's address.
        address: Address,
        /// Hash of the sender's IPCP name.
        ipcp: NameHash,
        /// Cost the sender advertises for the link; a receiver with no cost of its own for
        /// the port adopts it (links are symmetric unless both ends set a cost).
        cost: u32,
    },
    /// Accept an adjacency.
    AdjAccept {
        /// The sender's address.
        address: Address,
    },
    /// Keepalive: eid 0 for an adjacency (neighbour-scoped), else for that flow endpoint.
    Keepalive {
        /// Target endpoint at the receiver (0: the adjacency itself).
        eid: Eid,
    },
    /// Link-state update: one or more advertisements (flooded).
    Lsu {
        /// The advertisements.
        lsas: Vec<Lsa>,
    },
    /// Database summary, sent when an adjacency comes up.
    DbSummary {
        /// (origin, seqno) of every advertisement the sender holds (may be one chunk).
        entries: Vec<LsaSummary>,
    },
    /// Store registrations (sent to the replicas responsible for each name).
    DirPut {
        /// The registrations.
        entries: Vec<DirEntry>,
    },
    /// Remove a registration.
    DirDel {
        /// The name.
        name: NameHash,
        /// The address to remove for it.
        address: Address,
    },
    /// Look up a name.
    DirGet {
        /// Query id, echoed in the reply.
        query: u32,
        /// The name.
        name: NameHash,
    },
    /// Answer to a lookup (no addresses: unknown).
    DirReply {
        /// Query id of the request.
        query: u32,
        /// The name.
        name: NameHash,
        /// Addresses where it is registered.
        addresses: Vec<Address>,
    },
    /// Flow allocation request, sent to the IPCP where the name is registered.
    FlowReq {
        /// The requester's endpoint id.
        src_eid: Eid,
        /// The destination name.
        name: NameHash,
        /// Requested QoS.
        qos: QosSpec,
    },
    /// Flow allocation reply.
    FlowReply {
        /// The requester's endpoint id (echoed from the request).
        src_eid: Eid,
        /// The responder's endpoint id (0 on failure).
        dst_eid: Eid,
        /// Outcome.
        result: FlowResult,
    },
    /// Congestion feedback from a flow's receiver to its sender.
    FlowUpdate {
        /// The receiver-of-this-message's endpoint id.
        eid: Eid,
        /// Explicit congestion echo: the highest ECN value seen recently.
        ece: u16,
    },
    /// Deallocate a flow.
    FlowDealloc {
        /// The receiver-of-this-message's endpoint id.
        eid: Eid,
    },
}

impl MgmtMsg {
    /// Parse one whole message (trailing bytes are an error).
    pub fn parse(buf: &[u8]) -> Result<MgmtMsg, WireError> {
        let _ = buf;
        todo!("wire helper")
    }

    /// Bytes [`MgmtMsg::emit`] will write.
    pub fn buffer_len(&self) -> usize {
        todo!("wire helper")
    }

    /// Append the encoded message to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!("wire helper")
    }

    /// The message's type code.
    pub fn msg_type(&self) -> MgmtType {
        todo!("wire helper")
    }
}
