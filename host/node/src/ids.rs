//! Handles the node gives out and takes: IPCPs, shims, flows, and what an IPCP sits on.

use ouro_core::{Eid, PortId};
use std::fmt;

/// One IPCP of the node (an index that stays valid after other IPCPs are destroyed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpcpId(pub u32);

impl IpcpId {
    /// Its index among the node's IPCPs (creation order).
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The IPCP at `index` (creation order).
    pub fn of_index(index: usize) -> IpcpId {
        IpcpId(u32::try_from(index).unwrap_or(u32::MAX))
    }

    pub(crate) fn of(index: usize) -> IpcpId {
        IpcpId::of_index(index)
    }
}

impl fmt::Display for IpcpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ipcp#{}", self.0)
    }
}

/// A shim: a medium the driver owns (a UDP socket, an Ethernet interface, a set of
/// simulated links). The driver numbers its ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShimId(pub u32);

/// An application flow: the IPCP it runs in and its endpoint id there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId {
    /// The IPCP (layer) the flow belongs to.
    pub ipcp: IpcpId,
    /// Its endpoint id in that IPCP.
    pub eid: Eid,
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ipcp, self.eid)
    }
}

/// What a unicast IPCP sits on: one lower layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lower {
    /// A shim: its ports are the shim's ports; `scheduled` keeps each port's PDUs in
    /// per-cube queues the driver drains with [`crate::Node::dequeue`] (else they come
    /// out of [`crate::Node::poll_transmit`] at once).
    Shim {
        /// The shim.
        shim: ShimId,
        /// Whether its ports are scheduled.
        scheduled: bool,
    },
    /// Another unicast IPCP of this node: its ports are N-1 flows allocated in that
    /// layer to the peer IPCPs' names (and always scheduled).
    Unicast(IpcpId),
}

/// How to reach the peer to enroll or connect through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// A port of the IPCP's shim.
    Port(PortId),
    /// The peer IPCP's name in the lower unicast layer (an N-1 flow is allocated to it).
    Name(String),
}
