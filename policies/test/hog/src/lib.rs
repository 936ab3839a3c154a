//! Test policy: allocates memory without bound (the host's memory cap must stop it).
#![forbid(unsafe_code)]

use ouro_policy_sdk::routing::{Guest, RoutingOutput, Topology, export};

struct Policy;

impl Guest for Policy {
    fn compute(own: u32, _topology: Topology) -> Result<RoutingOutput, String> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![own as u8; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
}

export!(Policy);
