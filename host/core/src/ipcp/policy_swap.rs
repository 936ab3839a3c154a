//! Replacing the routing policy at run time (hot swap).

use super::Ipcp;
use super::route_requests::Router;
use crate::routing::{NativeSpf, RoutingPolicy};
use crate::time::Instant;

impl Ipcp {
    /// Replace the routing policy: `make` receives the policy in force and returns the new
    /// one (it may keep the old one as a fallback). The forwarding table in force keeps
    /// forwarding until the new policy's first computation, scheduled now (subject to the
    /// usual SPF delay and hold-down); if that computation fails the table stays.
    ///
    /// In [`RouteMode::Requested`](super::RouteMode) the IPCP holds no policy: `make`
    /// receives the native [`NativeSpf`], computations come back inline and the answer to
    /// a request outstanding is stale.
    pub fn set_routing_policy(
        &mut self,
        now: Instant,
        make: impl FnOnce(Box<dyn RoutingPolicy>) -> Box<dyn RoutingPolicy>,
    ) {
        let placeholder = Router::Inline(Box::new(NativeSpf::new()));
        let old = match std::mem::replace(&mut self.router, placeholder) {
            Router::Inline(policy) => policy,
            Router::Requested { .. } => {
                self.drop_route_request();
                Box::new(NativeSpf::new())
            }
        };
        self.router = Router::Inline(make(old));
        self.schedule_spf(now);
    }

    /// The name of the routing policy in force (in
    /// [`RouteMode::Requested`](super::RouteMode), of the one the driver runs, as it last
    /// said: [`Ipcp::routing_policy_changed`]).
    pub fn routing_policy_name(&self) -> &str {
        self.router.name()
    }
}
