//! The daemon's whole state ([`Status`], what `ouro status --json` prints): its shim
//! layers, its unicast layers ([`LayerStatus`]), its flows and its own counters.

use crate::{FlowInfo, IpcpKind, LayerStatus};
use serde::{Deserialize, Serialize};

/// The answer to [`Request::Status`](crate::Request::Status).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The node's name (from the configuration).
    pub node: String,
    /// The daemon's process id.
    pub pid: u32,
    /// Milliseconds since the daemon started.
    pub uptime_ms: u64,
    /// The UDP shim layers.
    pub shims: Vec<UdpShimStatus>,
    /// The local shim layers.
    pub locals: Vec<LocalShimStatus>,
    /// The unicast layers (one IPCP of this system each).
    pub layers: Vec<LayerStatus>,
    /// Every flow of this system, as [`Request::ListFlows`](crate::Request::ListFlows)
    /// lists them.
    pub flows: Vec<FlowInfo>,
    /// Flow allocations waiting for an answer.
    pub pending_allocs: usize,
    /// The daemon's own counters.
    pub counters: DaemonCounters,
}

/// The daemon's own counters (over all layers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonCounters {
    /// Flows allocated for applications.
    pub flows_allocated: u64,
    /// Flows accepted for listening applications.
    pub flows_accepted: u64,
    /// Flow requests refused (nobody listens, or the application could not be told).
    pub flows_refused: u64,
    /// Flows ended because their application closed its end.
    pub app_closed: u64,
    /// Malformed control requests.
    pub bad_requests: u64,
    /// Times an application's flow was paused (a message held, its socket not read).
    pub app_pauses: u64,
    /// Messages that flows since closed dropped because their backlog towards the
    /// application was full (the open flows' drops are in their own `rx_drops`).
    pub closed_flow_rx_drops: u64,
    /// Times a flow's deep backlog towards its application was reported as congestion.
    pub backlog_reports: u64,
}

/// A UDP shim layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UdpShimStatus {
    /// The layer's (and its IPCP's) name.
    pub name: String,
    /// Always [`IpcpKind::Udp`].
    #[serde(rename = "type")]
    pub kind: IpcpKind,
    /// The bound `address:port` (empty if unknown).
    pub bind: String,
    /// Its peers, configured and learned.
    pub peers: Vec<UdpPeer>,
    /// The fault injection, if any was set.
    pub faults: Option<FaultStatus>,
    /// How its ports are paced.
    pub sched: Pacing,
    /// Its counters.
    pub counters: UdpCounters,
}

/// A peer of a UDP shim: one port of the layer above.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpPeer {
    /// The port.
    pub port: u32,
    /// The peer's `address:port`.
    pub addr: String,
    /// Its configured name (none for a learned peer).
    pub name: Option<String>,
}

/// The fault injection of a shim layer (UDP or local): its setting and what it did.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultStatus {
    /// Loss probability.
    pub loss: f64,
    /// Duplication probability.
    pub duplicate: f64,
    /// Reordering probability.
    pub reorder: f64,
    /// Added delay in milliseconds.
    pub delay_ms: u64,
    /// Link down.
    pub down: bool,
    /// PDUs lost.
    pub lost: u64,
    /// PDUs dropped while the link was down.
    pub down_drops: u64,
    /// PDUs duplicated.
    pub duplicated: u64,
    /// PDUs reordered.
    pub reordered: u64,
    /// PDUs delayed.
    pub delayed: u64,
}

/// How a UDP shim's ports are paced: scheduled (per-cube queues, pulled at the link's
/// rate) or FIFO.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pacing {
    /// The ports are scheduled (else PDUs go through the shim's FIFO as they are made).
    pub scheduled: bool,
    /// The link's rate in PDUs per second (none: as fast as the socket takes them).
    pub rate_pps: Option<u64>,
    /// The scheduled ports.
    pub ports: Vec<u32>,
    /// Scheduler batches pulled.
    pub batches: u64,
    /// PDUs pulled.
    pub pulled: u64,
    /// Times PDUs waited for the rate.
    pub rate_waits: u64,
    /// Times PDUs waited for the shim's send queue.
    pub shim_waits: u64,
}

/// The counters of a UDP shim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpCounters {
    /// Datagrams received and handed up.
    pub rx_datagrams: u64,
    /// Bytes received and handed up.
    pub rx_bytes: u64,
    /// Datagrams sent.
    pub tx_datagrams: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Receive system calls that returned at least one datagram.
    pub rx_batches: u64,
    /// Send system calls.
    pub tx_syscalls: u64,
    /// Peers learned from incoming datagrams.
    pub peers_learned: u64,
    /// Learned peers forgotten after falling silent.
    pub peers_expired: u64,
    /// Datagrams dropped: from an unknown peer while the learned-peer table was full.
    pub drop_stranger: u64,
    /// Datagrams dropped: empty or truncated.
    pub drop_bad: u64,
    /// PDUs dropped on send: unknown port, too big, queue full or a socket error.
    pub drop_tx: u64,
    /// Datagrams the kernel dropped at the socket (its receive buffer was full), as of the
    /// status request.
    pub rx_overflow: u64,
    /// Times the daemon found the socket's receive buffer half full or more.
    pub rx_crowded: u64,
}

/// A local shim layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalShimStatus {
    /// The layer's (and its IPCP's) name.
    pub name: String,
    /// Always [`IpcpKind::Local`].
    #[serde(rename = "type")]
    pub kind: IpcpKind,
    /// The IPCPs joined through it.
    pub members: Vec<String>,
    /// The names registered in it.
    pub names: Vec<String>,
    /// Its counters.
    pub counters: LocalCounters,
    /// The fault injection, if any was set: its setting and what the injectors of its
    /// members' ends did, added up.
    #[serde(default)]
    pub faults: Option<FaultStatus>,
}

/// The counters of a local shim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalCounters {
    /// PDUs handed to a member.
    pub delivered: u64,
    /// Bytes handed to a member.
    pub delivered_bytes: u64,
    /// PDUs dropped: unknown or detached port, to itself, or empty.
    pub drop_port: u64,
    /// PDUs dropped: the queue was full.
    pub drop_full: u64,
}
