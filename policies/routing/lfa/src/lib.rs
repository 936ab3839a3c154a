//! Routing policy `lfa`: every equal-cost next hop plus an RFC 5286 loop-free alternate.
#![forbid(unsafe_code)]

use ouro_policy_sdk::graph::{Graph, RouteOptions, Routes};
use ouro_policy_sdk::routing::{Guest, RoutingTable, Topology, export};

/// The policy.
struct Policy;

impl Guest for Policy {
    fn compute(own: u32, topology: Topology) -> Result<RoutingTable, String> {
        let graph = Graph::from_topology(&topology).map_err(|e| e.to_string())?;
        Ok(Routes::compute(&graph, own, RouteOptions::ECMP_LFA).into())
    }
}

export!(Policy);
