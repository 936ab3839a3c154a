//! The native reference routing policy: Dijkstra, ECMP sets and loop-free alternates.

use super::{RoutingError, RoutingPolicy, RoutingTable, Topology};
use crate::Address;

/// Shortest paths over link costs with all equal-cost next hops and one loop-free alternate
/// per destination where one exists.
#[derive(Clone, Debug, Default)]
pub struct NativeSpf {
    _todo: (),
}

impl RoutingPolicy for NativeSpf {
    fn name(&self) -> &str {
        "native"
    }
    fn compute(&mut self, own: Address, topology: &Topology) -> Result<RoutingTable, RoutingError> {
        let _ = (own, topology);
        todo!("routing helper")
    }
}
