//! The Ouro control protocol: what applications and the `ouro` CLI say to the daemon
//! `ourod` over its control socket, and what it answers.
//!
//! Control messages are JSON, one per `SOCK_SEQPACKET` message ([`codec`]): they are rare
//! (allocation, registration, management, status), so readability and easy debugging win
//! over compactness. A client sends a [`Request`] (tagged by `op`); the daemon answers with
//! a [`Reply`] (tagged by `reply`): done, a flow (its socket attached with `SCM_RIGHTS`), a
//! typed document ([`Info`]: [`Status`], [`FlowInfo`]s, [`NameInfo`]s, [`IpcpInfo`]s,
//! [`PolicyStats`]) or an error of some [`ErrorKind`]. Data never crosses the control
//! socket: each flow has its own socket pair (see `docs/FLOW-IPC.md`).
//!
//! The crate knows nothing of sockets: `ouro-flow` carries the messages for applications,
//! the daemon for itself.
#![forbid(unsafe_code)]

pub mod codec;
mod flows;
mod info;
mod ipcps;
mod layer;
mod names;
mod options;
mod policy;
mod reply;
mod request;
mod status;

pub use codec::{DecodeError, MAX_CONTROL};
pub use flows::{Backpressure, CcState, FlowInfo, FlowKind, Traffic};
pub use info::Info;
pub use ipcps::{IpcpDetail, IpcpInfo};
pub use layer::{
    CubeQueue, Hop, IpcpCounters, LayerFlow, LayerStatus, MgmtQueue, N1Port, Neighbor, PortQueues,
    QueueSizes, Route,
};
pub use names::NameInfo;
pub use options::{FaultSpec, QueueOptions, UdpOptions};
pub use policy::PolicyStats;
pub use reply::{ErrorKind, Reply};
pub use request::{IpcpKind, Request};
pub use status::{
    DaemonCounters, FaultStatus, LocalCounters, LocalShimStatus, Pacing, Status, UdpCounters,
    UdpPeer, UdpShimStatus,
};
