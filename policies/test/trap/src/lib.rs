//! Test policy: traps (panics) on every call.
#![forbid(unsafe_code)]

use ouro_policy_sdk::routing::{Guest, RoutingOutput, Topology, export};

struct Policy;

impl Guest for Policy {
    fn compute(own: u32, topology: Topology) -> Result<RoutingOutput, String> {
        let i = std::hint::black_box(topology.addresses.len() + own as usize);
        panic!("test policy traps on purpose (index {i})");
    }
}

export!(Policy);
