//! One unicast IPCP of the node and what the node keeps beside it.

use crate::backlog::BacklogLimits;
use crate::ids::{Lower, Via};
use ouro_core::identity::Identity;
use ouro_core::ipcp::RouteMode;
use ouro_core::routing::{NativeSpf, RoutingPolicy};
use ouro_core::sched::QueueLimits;
use ouro_core::{Instant, Ipcp, NameHash, PortId};
use std::collections::BTreeMap;

/// How to make a unicast IPCP.
pub struct IpcpOptions {
    /// Limits of each scheduled port's queues.
    pub queues: QueueLimits,
    /// Limits of each application flow's backlog.
    pub backlog: BacklogLimits,
    /// Makes the routing policy (called again when the IPCP is remade by a bootstrap).
    pub routing: Box<dyn FnMut() -> Box<dyn RoutingPolicy>>,
    /// Where route computations run: in the IPCP ([`RouteMode::Inline`], the default), or
    /// in the driver ([`RouteMode::Requested`]: the node emits
    /// [`crate::Event::RouteRequest`], the driver runs the policy `routing` made, taken
    /// with [`crate::Node::take_routing_policy`], and answers with
    /// [`crate::Node::install_routes`]).
    pub route_mode: RouteMode,
}

impl Default for IpcpOptions {
    /// Default queues and backlogs, the native shortest-path policy computed inline.
    fn default() -> Self {
        IpcpOptions {
            queues: QueueLimits::default(),
            backlog: BacklogLimits::default(),
            routing: Box::new(|| Box::new(NativeSpf::default())),
            route_mode: RouteMode::Inline,
        }
    }
}

/// A unicast IPCP slot.
pub(crate) struct Layer {
    /// The IPCP's name (unique in the node).
    pub name: String,
    /// The layer's name (empty until bootstrapped or enrolled).
    pub layer: String,
    /// Destroyed: the slot stays (ids are keys elsewhere) with an idle IPCP in it.
    pub destroyed: bool,
    pub ipcp: Ipcp,
    /// What it sits on (`None` until given one).
    pub lower: Option<Lower>,
    pub opts: IpcpOptions,
    /// The seed its IPCP is made from (the same again for a bootstrap's new IPCP).
    pub seed: u64,
    /// The way enrollment goes (kept to retry).
    pub enroll_via: Option<Via>,
    /// When to try a failed enrollment again.
    pub enroll_retry_at: Option<Instant>,
    /// Adjacencies asked for (port, cost): asked for again when they go down.
    pub connects: Vec<(PortId, u32)>,
    /// Names registered in this layer once it is enrolled: hash → name.
    pub names: BTreeMap<NameHash, String>,
    /// Names to register once enrolled.
    pub wanted: Vec<String>,
    /// The key pair given by the driver (set again whenever the IPCP is remade).
    pub identity: Option<Identity>,
    /// In requested mode, the policy the IPCP was made with, until the driver takes it.
    pub policy: Option<Box<dyn RoutingPolicy>>,
}

impl Layer {
    /// Put `ipcp` (new, or remade by a bootstrap) in the slot, in the options' route mode.
    pub fn set_ipcp(&mut self, ipcp: Ipcp) {
        self.ipcp = ipcp;
        self.hand_over_routing();
    }

    /// In requested mode, take the routing policy out of the IPCP for the driver.
    pub fn hand_over_routing(&mut self) {
        self.policy = match self.opts.route_mode {
            RouteMode::Inline => None,
            RouteMode::Requested => self.ipcp.request_routes(),
        };
    }

    /// True for a live IPCP in a layer.
    pub fn is_live(&self) -> bool {
        !self.destroyed
    }

    /// Ask for the adjacency on `port` (and remember it to ask again after it goes down).
    pub fn connect(&mut self, now: Instant, port: PortId, cost: u32) {
        if let Some(c) = self.connects.iter_mut().find(|(p, _)| *p == port) {
            c.1 = cost;
        } else {
            self.connects.push((port, cost));
        }
        self.ipcp.connect(now, port, cost);
    }
}
