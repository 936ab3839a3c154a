//! Route computations off the event loop: every unicast IPCP of the daemon runs in
//! requested mode, its routing policy held by the routing worker
//! ([`crate::route_worker`]). A route request the node emits goes to the worker; a handler
//! run when the worker's eventfd is readable installs the answers in the node. Forwarding goes on with
//! the tables in force while a policy computes.

use super::Daemon;
use ouro_core::Address;
use ouro_core::routing::Topology;
use ouro_node::IpcpId;

impl Daemon {
    /// Give the routing worker the policy the node made for IPCP `ipcp` if it has one to
    /// hand over (after the IPCP was created, or remade by a bootstrap).
    pub(super) fn hand_over_routing(&mut self, ipcp: IpcpId) {
        if let Some(policy) = self.node.take_routing_policy(ipcp) {
            self.routes.set(ipcp, policy);
        }
    }

    /// The node asks for IPCP `ipcp`'s routes: the worker computes them.
    pub(super) fn route_request(
        &mut self,
        ipcp: IpcpId,
        id: u64,
        own: Address,
        topology: Topology,
    ) {
        self.hand_over_routing(ipcp);
        self.routes.compute(ipcp, id, own, topology);
    }

    /// Install the worker's answers (the node drops those it no longer waits for), note
    /// the rollbacks they report, and pump.
    pub(super) fn take_routes(&mut self) {
        let now = self.now();
        for a in self.routes.answers() {
            let _ = self.node.install_routes(now, a.ipcp, a.id, a.result);
            if let Some(name) = a.rolled_back_to {
                // The IPCP reports the policy in force by the name it was told. Told, it
                // asks for one more computation (by the policy that just answered): the
                // price of keeping the name in one place.
                tracing::warn!(
                    layer = %self.layers[a.ipcp.index()].name, policy = %name,
                    "routing policy failed on probation; rolled back"
                );
                let _ = self.node.routing_policy_changed(now, a.ipcp, &name);
            }
        }
        self.pump_at(now);
    }
}
