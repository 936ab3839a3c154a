//! The port numbering of simulated links.
//!
//! Every link end is a port of its node's shim; a link's port number is the same at both
//! ends: its edge index plus one.

use ouro_core::PortId;

/// The port that stands for edge `edge` on either of its ends.
pub fn port_of(edge: usize) -> PortId {
    PortId(u32::try_from(edge + 1).unwrap_or(u32::MAX))
}

/// The edge behind `port`, if it names one.
pub fn edge_of(port: PortId) -> Option<usize> {
    usize::try_from(port.0).ok()?.checked_sub(1)
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
