//! A template routing policy: shortest paths with ECMP, plus a parameter and a log line.
//! Edit `compute`; keep it a pure function of its input and parameters.
#![forbid(unsafe_code)]

use ouro_policy_sdk::graph::{Graph, RouteOptions, Routes};
use ouro_policy_sdk::routing::host::{self, Level, ParamValue};
use ouro_policy_sdk::routing::{Guest, RoutingOutput, Topology, export};

/// The policy.
struct MyPolicy;

impl Guest for MyPolicy {
    fn compute(source: u32, topology: Topology) -> Result<RoutingOutput, String> {
        let graph = Graph::from_topology(&topology).map_err(|e| e.to_string())?;
        // Parameters come from the configuration file; `lfa = true` adds alternates.
        let lfa = matches!(host::param("lfa"), Some(ParamValue::Boolean(true)));
        let options = if lfa {
            RouteOptions::ECMP_LFA
        } else {
            RouteOptions::ECMP
        };
        let table = Routes::compute(&graph, source, options);
        host::log(
            Level::Debug,
            &format!("{} routes from {source}", table.len()),
        );
        // One table for every QoS cube; see `compute_with_cubes` for per-cube tables.
        Ok(table.into())
    }
}

export!(MyPolicy);
