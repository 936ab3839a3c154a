//! Test policy: a scheduler that loops forever (the host's short on-loop deadline or fuel
//! cap must stop it).
#![forbid(unsafe_code)]

use ouro_policy_sdk::scheduler::{Guest, Plan, QueueState, export};

struct Policy;

impl Guest for Policy {
    fn schedule(budget: u32, queues: Vec<QueueState>) -> Plan {
        let mut x = u64::from(budget);
        loop {
            x = std::hint::black_box(
                x.wrapping_mul(6364136223846793005)
                    .wrapping_add(queues.len() as u64),
            );
        }
    }
}

export!(Policy);
