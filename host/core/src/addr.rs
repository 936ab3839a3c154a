//! Identifiers: layer addresses, endpoint ids and N-1 port ids.

use std::fmt;

/// The address of an IPCP inside one unicast layer (32 bits, never 0 once enrolled).
///
/// Addresses are assigned at enrollment and are only meaningful inside their layer;
/// applications never see them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub u32);

impl Address {
    /// "No address": an IPCP that is not enrolled yet, or a neighbour-scoped message.
    pub const NONE: Address = Address(0);

    /// True for [`Address::NONE`].
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An endpoint id: names one end of a flow inside an IPCP. Eid 0 is the IPCP's own
/// management endpoint (layer management messages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Eid(pub u32);

impl Eid {
    /// The management endpoint of every IPCP.
    pub const MGMT: Eid = Eid(0);
}

impl fmt::Display for Eid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A handle, chosen by the driver, for one N-1 flow (a flow in the layer below, or a shim
/// link) that reaches one neighbour IPCP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortId(pub u32);

impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
