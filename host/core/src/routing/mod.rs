//! Routing: the link-state topology a policy reads, the [`RoutingPolicy`] trait, the native
//! reference policy and the forwarding table the IPCP applies.
//!
//! A routing policy runs once per topology change (never per packet): it reads a
//! [`Topology`] snapshot built from the link-state database and returns a [`RoutingTable`]
//! (next-hop addresses per destination). The IPCP turns that into a [`Fib`] (next-hop ports)
//! and swaps it in whole.

mod fib;
mod spf;
mod topology;

pub use fib::{Fib, FibEntries, FibEntry, flow_hash};
pub use spf::NativeSpf;
pub use topology::Topology;

use crate::Address;
use crate::qos::QosCube;
use std::collections::BTreeMap;

/// Next hops towards one destination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NextHops {
    /// The equal-cost next hops (neighbour addresses), sorted ascending; a flow uses one of
    /// them, chosen by its flow hash.
    pub ecmp: Vec<Address>,
    /// A loop-free alternate (RFC 5286 condition) not in `ecmp`, used if all of `ecmp` fail.
    pub lfa: Option<Address>,
}

/// A policy's output: next hops for every reachable destination (the IPCP itself excluded),
/// and separate routes for the QoS cubes that route differently.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutingTable {
    /// Destination address → next hops: the default, used by every cube not in `cubes`.
    pub routes: BTreeMap<Address, NextHops>,
    /// Per-cube routes replacing `routes` for that cube (empty: every cube uses `routes`).
    pub cubes: BTreeMap<QosCube, BTreeMap<Address, NextHops>>,
}

/// Why a routing policy produced no table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// The policy failed (trap, timeout, internal error), described by the string.
    #[error("routing policy failed: {0}")]
    Failed(String),
    /// The policy's output broke the contract (a next hop that is not a neighbour, a loop...).
    #[error("routing policy output rejected: {0}")]
    InvalidOutput(String),
}

/// A routing policy: topology in, next hops out.
pub trait RoutingPolicy: Send {
    /// Short name, for logs and status.
    fn name(&self) -> &str;
    /// Compute next hops from `own` to every destination in `topology`.
    fn compute(&mut self, own: Address, topology: &Topology) -> Result<RoutingTable, RoutingError>;
}
