//! Route computations the simulators run for IPCPs in requested mode
//! ([`crate::SimConfig::requested_routes`], [`crate::NodeSim::set_route_delay`]): a request
//! is computed at once with the IPCP's policy, deterministically, and its answer installed
//! after the configured delay ([`crate::fabric`]).

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
