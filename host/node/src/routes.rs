//! Route computations the driver runs: an IPCP made with
//! [`RouteMode::Requested`](ouro_core::ipcp::RouteMode) never calls its routing policy on
//! the node's thread. When a computation is due the node emits [`Event::RouteRequest`]
//! and keeps forwarding on the table in force; the driver runs the policy (inline in the
//! simulator, on a worker thread in a daemon) and hands the result back with
//! [`Node::install_routes`].
//!
//! [`Event::RouteRequest`]: crate::Event::RouteRequest

use crate::ids::IpcpId;
use crate::{Node, NodeError};
use ouro_core::Instant;
use ouro_core::routing::{RoutingError, RoutingPolicy, RoutingTable};

impl Node {
    /// The answer to IPCP `ipcp`'s route request `id`: installed as an inline computation
    /// would be (see [`ouro_core::Ipcp::install_routes`]: a failure keeps the table in
    /// force, an answer to anything but the request outstanding is stale and ignored).
    pub fn install_routes(
        &mut self,
        now: Instant,
        ipcp: IpcpId,
        id: u64,
        result: Result<RoutingTable, RoutingError>,
    ) -> Result<(), NodeError> {
        let now = self.tick(now);
        self.live_mut(ipcp)?.ipcp.install_routes(now, id, result);
        self.pump(now);
        Ok(())
    }

    /// The routing policy [`crate::IpcpOptions::routing`] made for IPCP `ipcp` in
    /// requested mode, for the driver to run: once per IPCP made (a bootstrap makes a new
    /// one, with a new policy). `None` in inline mode, or once taken.
    pub fn take_routing_policy(&mut self, ipcp: IpcpId) -> Option<Box<dyn RoutingPolicy>> {
        self.live_mut(ipcp).ok()?.policy.take()
    }

    /// In requested mode, the driver now runs another policy for IPCP `ipcp`, named `name`:
    /// see [`ouro_core::Ipcp::routing_policy_changed`].
    pub fn routing_policy_changed(
        &mut self,
        now: Instant,
        ipcp: IpcpId,
        name: &str,
    ) -> Result<(), NodeError> {
        let now = self.tick(now);
        self.live_mut(ipcp)?.ipcp.routing_policy_changed(now, name);
        self.pump(now);
        Ok(())
    }
}
