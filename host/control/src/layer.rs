//! A unicast layer in the status ([`LayerStatus`]): its IPCP, neighbours, routes, flows,
//! queues, N-1 ports and counters.

use crate::{Backpressure, IpcpKind, Traffic};
use serde::{Deserialize, Serialize};

/// A unicast layer: this system's IPCP in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStatus {
    /// The layer's name (empty until the IPCP is bootstrapped or enrolled).
    pub name: String,
    /// Always [`IpcpKind::Unicast`].
    #[serde(rename = "type")]
    pub kind: IpcpKind,
    /// The IPCP's name.
    pub ipcp: String,
    /// The layer below (none yet: not set).
    pub lower: Option<String>,
    /// Whether the IPCP is a member of the layer.
    pub enrolled: bool,
    /// The IPCP's address in the layer.
    pub address: u32,
    /// The IPCP's public key, hex.
    pub public_key: String,
    /// Its neighbours (up adjacencies).
    pub neighbors: Vec<Neighbor>,
    /// Advertisements in its link-state database.
    pub lsdb: usize,
    /// Its forwarding table, by destination.
    pub fib: Vec<Route>,
    /// The names registered in the layer from this system.
    pub names: Vec<String>,
    /// The applications' flows in the layer.
    pub flows: Vec<LayerFlow>,
    /// Flows the IPCP itself holds (applications' and N-1 flows of layers above).
    pub core_flows: usize,
    /// The queues of its scheduled ports.
    pub ports: Vec<PortQueues>,
    /// Its ports that are N-1 flows of a unicast layer below.
    pub n1_ports: Vec<N1Port>,
    /// Its queue sizes.
    pub queues: QueueSizes,
    /// The IPCP's counters.
    pub counters: IpcpCounters,
}

/// A neighbour of an IPCP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbor {
    /// The port it is reached on.
    pub port: u32,
    /// Its address in the layer.
    pub address: u32,
    /// Its `address:port` when the layer runs over UDP.
    pub endpoint: Option<String>,
    /// Its configured peer name, if any.
    pub name: Option<String>,
}

/// One route of a forwarding table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The destination address.
    pub dst: u32,
    /// The next hops (several: equal-cost paths).
    pub next_hops: Vec<Hop>,
    /// The loop-free alternate, if any.
    pub backup: Option<Hop>,
}

/// A next hop: a neighbour and the port to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// The neighbour's address.
    pub addr: u32,
    /// The port.
    pub port: u32,
}

/// An application's flow in a layer's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerFlow {
    /// The flow id (the endpoint id in the layer).
    pub flow: u32,
    /// The name it was allocated to or accepted on.
    pub name: String,
    /// Its QoS preset.
    pub qos: String,
    /// Messages and bytes each way.
    #[serde(flatten)]
    pub traffic: Traffic,
    /// The application's process id, if known.
    pub pid: Option<u32>,
    /// Back-pressure towards and from the application.
    #[serde(flatten)]
    pub backpressure: Backpressure,
}

/// The queues of a scheduled port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortQueues {
    /// The port.
    pub port: u32,
    /// Its management queue.
    pub mgmt: MgmtQueue,
    /// Its per-cube queues, delay-sensitive cubes first.
    pub cubes: Vec<CubeQueue>,
}

/// A port's management queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MgmtQueue {
    /// PDUs waiting.
    pub queued: usize,
    /// PDUs dropped (queue full).
    pub dropped: u64,
}

/// One QoS cube's queue of a port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CubeQueue {
    /// The cube (`voice`, `video`, `data`, `best_effort`, `raw`, ...).
    pub cube: String,
    /// PDUs waiting.
    pub queued: usize,
    /// Bytes waiting.
    pub bytes: u64,
    /// PDUs dropped (queue full).
    pub dropped: u64,
    /// PDUs ECN-marked.
    pub ecn_marked: u64,
}

/// A port of an upper IPCP that is an N-1 flow in a unicast layer below.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct N1Port {
    /// The port.
    pub port: u32,
    /// The peer IPCP's name, if known.
    pub peer: Option<String>,
    /// The peer's address in the lower layer.
    pub remote_address: Option<u32>,
    /// The lower IPCP.
    pub lower: String,
    /// The N-1 flow's id in the lower layer.
    pub flow: u32,
    /// PDUs received.
    pub rx_pdus: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// PDUs sent.
    pub tx_pdus: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// PDUs the lower IPCP refused.
    pub tx_drops: u64,
    /// Times the lower IPCP had no room while PDUs waited for it.
    pub waits: u64,
}

/// The queue sizes of a unicast IPCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSizes {
    /// PDUs each per-cube queue of a scheduled port holds.
    pub queue_pdus: u32,
    /// PDUs each management queue holds.
    pub mgmt_queue_pdus: u32,
    /// The queue depth from which PDUs are ECN-marked.
    pub ecn_threshold: Option<u32>,
    /// SDUs kept per flow while its application's socket is full.
    pub backlog_sdus: usize,
    /// Bytes kept per flow while its application's socket is full.
    pub backlog_bytes: usize,
}

/// The counters of a unicast IPCP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpcpCounters {
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
    /// Route computations run.
    pub route_computations: u64,
    /// Route computations whose policy failed or returned invalid output (old table kept).
    pub routing_failures: u64,
    /// Route computations answered too late to install (the request was no longer the
    /// latest, or the topology changed meanwhile: a newer computation follows).
    #[serde(default)]
    pub stale_routes: u64,
    /// Link-state advertisements originated by this IPCP.
    pub lsas_originated: u64,
    /// Dropped: the PDU's queue on a scheduled port was full.
    pub drop_queue_full: u64,
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
    /// (the daemon holds them, nothing is lost).
    pub flow_refused: u64,
    /// Congestion echoes (`FlowUpdate` with ECE) sent to our flows' senders.
    pub echoes_sent: u64,
    /// Congestion echoes received from our flows' receivers.
    pub cc_signals: u64,
    /// Send-rate decreases they caused.
    pub cc_decreases: u64,
}
