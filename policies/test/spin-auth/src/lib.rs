//! Test policy: an auth policy that loops forever (the host's short on-loop deadline or
//! fuel cap must stop it, and the request is denied).
#![forbid(unsafe_code)]

use ouro_policy_sdk::auth::{Decision, Guest, Request, export};

struct Policy;

impl Guest for Policy {
    fn authorize(request: Request) -> Decision {
        let mut x = u64::from(request.cube);
        loop {
            x = std::hint::black_box(
                x.wrapping_mul(6364136223846793005)
                    .wrapping_add(request.name_hash.len() as u64),
            );
        }
    }
}

export!(Policy);
