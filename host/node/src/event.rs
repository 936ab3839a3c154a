//! What the node tells its driver.

use crate::ids::{FlowId, IpcpId};
use ouro_core::ipcp::FlowEnd;
use ouro_core::routing::Topology;
use ouro_core::{Address, PortId, QosSpec};

/// Something that happened in the node (see [`crate::Node::poll_event`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An IPCP joined its layer (bootstrap or enrollment).
    Enrolled {
        /// The IPCP.
        ipcp: IpcpId,
        /// Its address.
        address: Address,
    },
    /// An enrollment failed; it is tried again after [`crate::NodeConfig::enroll_retry`].
    EnrollFailed {
        /// The IPCP.
        ipcp: IpcpId,
    },
    /// An adjacency came up.
    AdjacencyUp {
        /// The IPCP.
        ipcp: IpcpId,
        /// Its port.
        port: PortId,
        /// The neighbour's address.
        neighbor: Address,
    },
    /// An adjacency went down (a configured one is asked for again).
    AdjacencyDown {
        /// The IPCP.
        ipcp: IpcpId,
        /// Its port.
        port: PortId,
        /// The neighbour's address.
        neighbor: Address,
    },
    /// An IPCP installed a new forwarding table.
    RoutesChanged {
        /// The IPCP.
        ipcp: IpcpId,
    },
    /// An IPCP in requested mode ([`crate::IpcpOptions::route_mode`]) needs its routes
    /// computed: run its routing policy over `topology` from `own` and answer with
    /// [`crate::Node::install_routes`] and this `id`. It forwards on the table in force
    /// meanwhile.
    RouteRequest {
        /// The IPCP.
        ipcp: IpcpId,
        /// The request's id (only the latest request's answer is installed).
        id: u64,
        /// The IPCP's address, the source of the routes.
        own: Address,
        /// The layer's graph as the IPCP sees it now.
        topology: Topology,
    },
    /// A flow an application asked for is allocated.
    FlowAllocated {
        /// The flow.
        flow: FlowId,
    },
    /// A flow to a name an application listens on was accepted.
    FlowIncoming {
        /// The flow.
        flow: FlowId,
        /// The name it was asked for.
        name: String,
        /// The QoS asked for.
        qos: QosSpec,
    },
    /// Data waits to be read on a flow whose backlog was empty ([`crate::Node::read`]).
    FlowReadable {
        /// The flow.
        flow: FlowId,
    },
    /// A flow whose writes were held sent them all: the application may write again.
    FlowWritable {
        /// The flow.
        flow: FlowId,
    },
    /// A flow ended, or its allocation failed. What its backlog holds can still be read.
    FlowEnded {
        /// The flow.
        flow: FlowId,
        /// Why.
        reason: FlowEnd,
    },
}
