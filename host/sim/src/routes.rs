//! Route computations the simulator runs for its IPCPs
//! ([`crate::SimConfig::requested_routes`]): a request is computed at once with the node's
//! policy, deterministically, and its answer installed after the configured delay.

use crate::sim::{Action, Simulator};
use ouro_core::Address;
use ouro_core::routing::{RoutingError, RoutingPolicy, RoutingTable, Topology};

/// Run `policy` for a route request (no policy: the request cannot be answered well).
pub(crate) fn compute(
    policy: Option<&mut Box<dyn RoutingPolicy>>,
    own: Address,
    topology: &Topology,
) -> Result<RoutingTable, RoutingError> {
    match policy {
        Some(p) => p.compute(own, topology),
        None => Err(RoutingError::Failed(
            "no routing policy in the driver".into(),
        )),
    }
}

impl Simulator {
    /// Node `n` asks for its routes: compute them now, answer after the configured delay.
    pub(crate) fn answer_routes(&mut self, n: usize, id: u64, own: Address, topology: &Topology) {
        let result = compute(self.nodes[n].policy.as_mut(), own, topology);
        match self.config.requested_routes.filter(|d| !d.is_zero()) {
            Some(delay) => self.queue.push(
                self.now + delay,
                Action::Routes {
                    node: n,
                    id,
                    result,
                },
            ),
            None => self.install_routes(n, id, result),
        }
    }

    /// The answer to node `n`'s route request `id` arrives.
    pub(crate) fn install_routes(
        &mut self,
        n: usize,
        id: u64,
        result: Result<RoutingTable, RoutingError>,
    ) {
        let now = self.now;
        self.nodes[n].ipcp.install_routes(now, id, result);
        self.mark(n);
    }
}
