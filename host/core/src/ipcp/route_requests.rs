//! Route computations the driver runs: in [`RouteMode::Requested`] the IPCP does not call a
//! routing policy itself. When a computation is due it emits [`Event::RouteRequest`] (its
//! address and a topology snapshot) and keeps forwarding on the table in force; the driver
//! runs its policy wherever it likes (inline in the simulator, on a worker thread in a
//! daemon) and hands the result back with [`Ipcp::install_routes`], which installs it as an
//! inline computation would.
//!
//! At most one request is outstanding: changes meanwhile ask for one follow-up request once
//! the answer is in (still under the `spf_hold` hold-down). An answer to anything but the
//! outstanding request is stale: ignored and counted.

use super::{Event, Ipcp};
use crate::routing::{RoutingError, RoutingPolicy, RoutingTable, Topology};
use crate::time::Instant;

/// Where an IPCP's route computations run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RouteMode {
    /// The IPCP calls its routing policy itself when a computation is due (the default).
    #[default]
    Inline,
    /// The IPCP asks the driver ([`Event::RouteRequest`]), which answers with
    /// [`Ipcp::install_routes`]; see [`Ipcp::request_routes`].
    Requested,
}

/// Who runs the routing policy.
pub(super) enum Router {
    /// The IPCP, with this policy.
    Inline(Box<dyn RoutingPolicy>),
    /// The driver, with a policy of this name.
    Requested {
        /// The name reported by [`Ipcp::routing_policy_name`].
        policy: String,
    },
}

impl Router {
    /// The name of the policy in force.
    pub(super) fn name(&self) -> &str {
        match self {
            Router::Inline(p) => p.name(),
            Router::Requested { policy } => policy,
        }
    }
}

/// The requests of [`RouteMode::Requested`].
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct RouteRequests {
    /// The id of the latest request emitted (ids start at 1).
    last_id: u64,
    /// The request waiting for its answer, if any.
    outstanding: Option<u64>,
    /// Something changed while a request was outstanding: ask again after its answer.
    again: bool,
}

impl Ipcp {
    /// Let the driver run route computations from now on ([`RouteMode::Requested`]):
    /// when one is due the IPCP emits [`Event::RouteRequest`] and the driver answers with
    /// [`Ipcp::install_routes`]. Returns the routing policy the IPCP held, for the driver
    /// to run (its name is the one [`Ipcp::routing_policy_name`] reports until
    /// [`Ipcp::routing_policy_changed`]); `None` if the driver runs them already.
    /// [`Ipcp::set_routing_policy`] brings the computations back inline.
    pub fn request_routes(&mut self) -> Option<Box<dyn RoutingPolicy>> {
        let policy = match &self.router {
            Router::Inline(p) => p.name().to_string(),
            Router::Requested { .. } => return None,
        };
        match std::mem::replace(&mut self.router, Router::Requested { policy }) {
            Router::Inline(p) => Some(p),
            Router::Requested { .. } => None,
        }
    }

    /// Where route computations run.
    pub fn route_mode(&self) -> RouteMode {
        match self.router {
            Router::Inline(_) => RouteMode::Inline,
            Router::Requested { .. } => RouteMode::Requested,
        }
    }

    /// In [`RouteMode::Requested`], the driver now runs another policy, named `name`: the
    /// answer to a request outstanding is stale from now on, and a computation by the new
    /// policy is scheduled (under the usual delay and hold-down). The table in force keeps
    /// forwarding meanwhile. Does nothing in [`RouteMode::Inline`] (use
    /// [`Ipcp::set_routing_policy`]).
    pub fn routing_policy_changed(&mut self, now: Instant, name: &str) {
        self.tick_clock(now);
        let Router::Requested { policy } = &mut self.router else {
            return;
        };
        *policy = name.to_string();
        self.route_requests.outstanding = None;
        self.route_requests.again = false;
        self.schedule_spf(now);
        self.flush(now);
    }

    /// The driver's answer to [`Event::RouteRequest`] `id`: a table is installed exactly as
    /// an inline computation's would be ([`Event::RoutesChanged`] if it differs, names
    /// republished), an error is counted in `routing_failures` and the table in force
    /// stays. An answer to anything but the outstanding request (an older one, one
    /// answered already, or any answer in [`RouteMode::Inline`]) is ignored and counted in
    /// `stale_routes`. Changes seen while the request was outstanding are computed next.
    pub fn install_routes(
        &mut self,
        now: Instant,
        id: u64,
        result: Result<RoutingTable, RoutingError>,
    ) {
        self.tick_clock(now);
        let current = matches!(self.router, Router::Requested { .. })
            && self.route_requests.outstanding == Some(id);
        if !current {
            self.counters.stale_routes += 1;
            return;
        }
        self.route_requests.outstanding = None;
        let again = std::mem::take(&mut self.route_requests.again);
        self.apply_routes(now, result, again);
        if again {
            self.schedule_spf(now);
        }
        self.flush(now);
    }

    /// Ask the driver for a route computation over `topology`.
    pub(super) fn emit_route_request(&mut self, topology: Topology) {
        self.route_requests.last_id += 1;
        let id = self.route_requests.last_id;
        self.route_requests.outstanding = Some(id);
        self.emit_event(Event::RouteRequest {
            id,
            own: self.address,
            topology,
        });
    }

    /// True if a request waits for its answer, and then a change only marks a follow-up
    /// request, made after the answer.
    pub(super) fn follow_up_outstanding_request(&mut self) -> bool {
        if self.route_requests.outstanding.is_none() {
            return false;
        }
        self.route_requests.again = true;
        true
    }

    /// True while a request waits for its answer or a follow-up is due after it.
    pub(super) fn route_request_pending(&self) -> bool {
        self.route_requests.outstanding.is_some() || self.route_requests.again
    }

    /// Forget the request outstanding (computations came back inline).
    pub(super) fn drop_route_request(&mut self) {
        self.route_requests.outstanding = None;
        self.route_requests.again = false;
    }
}
