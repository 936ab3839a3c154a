//! Replacing a node's routing policy while the simulation runs (hot swap).

use crate::sim::Simulator;
use ouro_core::routing::RoutingPolicy;

impl Simulator {
    /// Replace node `node`'s routing policy: `make` receives the policy in force and
    /// returns the new one (see [`ouro_core::Ipcp::set_routing_policy`]). Traffic keeps
    /// flowing on the forwarding table in force until the new policy has computed one.
    pub fn set_routing_policy(
        &mut self,
        node: usize,
        make: impl FnOnce(Box<dyn RoutingPolicy>) -> Box<dyn RoutingPolicy>,
    ) {
        let now = self.now;
        self.nodes[node].ipcp.set_routing_policy(now, make);
        self.mark(node);
        self.flush();
    }
}
