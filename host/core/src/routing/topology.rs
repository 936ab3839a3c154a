//! A compact, immutable snapshot of the layer's graph (CSR adjacency arrays).

use crate::Address;

/// The layer graph as a policy sees it: nodes (addresses) and directed links with costs,
/// keeping only links confirmed by both ends (the two-way check).
#[derive(Clone, Debug, Default)]
pub struct Topology {
    _todo: (),
}

impl Topology {
    /// Build from directed links `(from, to, cost)`. A link is kept only if the reverse link
    /// is also present (two-way check); its cost is the one `from` advertised. Every `from`
    /// is a node, even without links.
    pub fn from_links(links: impl IntoIterator<Item = (Address, Address, u32)>) -> Topology {
        let _ = links.into_iter();
        todo!("routing helper")
    }
}
