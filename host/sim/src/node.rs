//! The driver-side state of one simulated node, and the port numbering.
//!
//! Every link end is an N-1 port on its node; a link's port number is the same at both
//! ends: its edge index plus one.

use ouro_core::routing::RoutingPolicy;
use ouro_core::time::Instant;
use ouro_core::{Ipcp, PortId};

/// The port that stands for edge `edge` on either of its ends.
pub fn port_of(edge: usize) -> PortId {
    PortId(u32::try_from(edge + 1).unwrap_or(u32::MAX))
}

/// The edge behind `port`, if it names one.
pub fn edge_of(port: PortId) -> Option<usize> {
    usize::try_from(port.0).ok()?.checked_sub(1)
}

/// One topology node: its IPCP and what the driver knows about it.
pub(crate) struct Node {
    /// The IPCP under test.
    pub ipcp: Ipcp,
    /// False while held back at boot (not yet joined): nobody enrolls it.
    pub active: bool,
    /// Set when the driver has seen it enrolled (bootstrap or `Event::Enrolled`).
    pub enrolled: bool,
    /// The port an enrollment is under way through.
    pub enrolling: Option<PortId>,
    /// Failed enrollment attempts (to rotate over neighbours).
    pub enroll_failures: u32,
    /// The deadline of the armed timer event, if any (older timer events are stale).
    pub timer: Option<Instant>,
    /// When its timer last ran.
    pub last_fired: Option<Instant>,
    /// Queued for draining.
    pub dirty: bool,
    /// The routing policy the simulator runs for it (requested mode), else `None`.
    pub policy: Option<Box<dyn RoutingPolicy>>,
}

impl Node {
    pub fn new(ipcp: Ipcp, active: bool) -> Node {
        Node {
            ipcp,
            active,
            enrolled: false,
            enrolling: None,
            enroll_failures: 0,
            timer: None,
            last_fired: None,
            dirty: false,
            policy: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_round_trip() {
        for e in [0, 1, 999] {
            assert_eq!(edge_of(port_of(e)), Some(e));
        }
        assert_eq!(edge_of(PortId(0)), None);
    }
}
