//! Replacing a node's routing policy while the simulation runs (hot swap).

use crate::fabric::Driver;
use crate::sim::{IPCP, Simulator};
use ouro_core::routing::RoutingPolicy;

impl Simulator {
    /// Replace node `node`'s routing policy: `make` receives the policy in force and
    /// returns the new one (see [`ouro_core::Ipcp::set_routing_policy`]). Traffic keeps
    /// flowing on the forwarding table in force until the new policy has computed one.
    /// With [`crate::SimConfig::requested_routes`] the simulator holds the policy: it is
    /// replaced there, and an answer of the old one still on its way is stale.
    pub fn set_routing_policy(
        &mut self,
        node: usize,
        make: impl FnOnce(Box<dyn RoutingPolicy>) -> Box<dyn RoutingPolicy>,
    ) {
        let r = self.fabric.set_routing_policy(node, IPCP, make);
        self.count_error(r);
        self.flush();
    }
}
