//! Routing policy `lfa`: every equal-cost next hop plus an RFC 5286 loop-free alternate.
#![forbid(unsafe_code)]

use ouro_policy_sdk::graph::RouteOptions;
use ouro_policy_sdk::routing::{Guest, RoutingOutput, Topology, compute_with_cubes, export};

/// The policy.
struct Policy;

impl Guest for Policy {
    fn compute(own: u32, topology: Topology) -> Result<RoutingOutput, String> {
        compute_with_cubes(own, &topology, RouteOptions::ECMP_LFA)
    }
}

export!(Policy);
