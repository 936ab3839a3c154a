//! Test policy: loops forever (the host's deadline or fuel limit must stop it).
#![forbid(unsafe_code)]

use ouro_policy_sdk::routing::{Guest, RoutingOutput, Topology, export};

struct Policy;

impl Guest for Policy {
    fn compute(own: u32, topology: Topology) -> Result<RoutingOutput, String> {
        let mut x = u64::from(own);
        loop {
            x = std::hint::black_box(
                x.wrapping_mul(6364136223846793005)
                    .wrapping_add(topology.addresses.len() as u64),
            );
        }
    }
}

export!(Policy);
