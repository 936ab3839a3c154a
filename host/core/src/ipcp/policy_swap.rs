//! Replacing the routing policy at run time (hot swap).

use super::Ipcp;
use crate::routing::{NativeSpf, RoutingPolicy};
use crate::time::Instant;

impl Ipcp {
    /// Replace the routing policy: `make` receives the policy in force and returns the new
    /// one (it may keep the old one as a fallback). The forwarding table in force keeps
    /// forwarding until the new policy's first computation, scheduled now (subject to the
    /// usual SPF delay and hold-down); if that computation fails the table stays.
    pub fn set_routing_policy(
        &mut self,
        now: Instant,
        make: impl FnOnce(Box<dyn RoutingPolicy>) -> Box<dyn RoutingPolicy>,
    ) {
        let old = std::mem::replace(&mut self.policy, Box::new(NativeSpf::new()));
        self.policy = make(old);
        self.schedule_spf(now);
    }

    /// The name of the routing policy in force.
    pub fn routing_policy_name(&self) -> &str {
        self.policy.name()
    }
}
