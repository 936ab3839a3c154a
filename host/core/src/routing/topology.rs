//! A compact, immutable snapshot of the layer's graph (CSR adjacency arrays).

use crate::Address;
use std::collections::HashMap;

/// The layer graph as a policy sees it: nodes (addresses) and directed links with costs,
/// keeping only links confirmed by both ends (the two-way check).
///
/// Nodes are numbered `0..len()` in ascending address order; the adjacency is stored as
/// compressed sparse rows (one offset per node into flat neighbour and cost arrays), each
/// row sorted by neighbour index (hence by neighbour address).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// Node addresses, sorted ascending; a node's index is its position here.
    addrs: Vec<Address>,
    /// Address → node index.
    index: HashMap<Address, u32>,
    /// Row offsets: the links of node `i` are `offsets[i]..offsets[i + 1]`.
    offsets: Vec<usize>,
    /// Link targets (node indices), per row sorted ascending.
    targets: Vec<u32>,
    /// Link costs (≥ 1), parallel to `targets`.
    costs: Vec<u32>,
}

impl Topology {
    /// Build from directed links `(from, to, cost)`. A link is kept only if the reverse link
    /// is also present (two-way check); its cost is the one `from` advertised. Every `from`
    /// is a node, even without links.
    ///
    /// A cost of 0 is treated as 1; when the same directed link appears several times the
    /// lowest cost wins; self-links are ignored.
    pub fn from_links(links: impl IntoIterator<Item = (Address, Address, u32)>) -> Topology {
        let mut links: Vec<(Address, Address, u32)> = links.into_iter().collect();
        // Sort by (from, to, cost) so the first of each (from, to) run has the lowest cost.
        links.sort_unstable();

        let mut addrs: Vec<Address> = links.iter().map(|&(from, _, _)| from).collect();
        addrs.dedup();
        links.dedup_by(|next, kept| next.0 == kept.0 && next.1 == kept.1);

        let index: HashMap<Address, u32> = addrs
            .iter()
            .enumerate()
            .map(|(i, &a)| (a, i as u32))
            .collect();

        let mut offsets = Vec::with_capacity(addrs.len() + 1);
        let mut targets = Vec::with_capacity(links.len());
        let mut costs = Vec::with_capacity(links.len());
        offsets.push(0);
        let mut row = 0usize;
        for &(from, to, cost) in &links {
            if from == to {
                continue;
            }
            // The reverse link must exist (its cost does not matter here).
            let reverse = links
                .binary_search_by(|&(f, t, _)| (f, t).cmp(&(to, from)))
                .is_ok();
            if !reverse {
                continue;
            }
            let (Some(&fi), Some(&ti)) = (index.get(&from), index.get(&to)) else {
                continue;
            };
            let fi = fi as usize;
            while row < fi {
                offsets.push(targets.len());
                row += 1;
            }
            targets.push(ti);
            costs.push(cost.max(1));
        }
        while offsets.len() < addrs.len() + 1 {
            offsets.push(targets.len());
        }

        Topology {
            addrs,
            index,
            offsets,
            targets,
            costs,
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// True if the topology has no nodes.
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// Number of directed links kept (each two-way adjacency counts twice).
    pub fn link_count(&self) -> usize {
        self.targets.len()
    }

    /// All node addresses, sorted ascending; position = node index.
    pub fn addresses(&self) -> &[Address] {
        &self.addrs
    }

    /// The index of the node with address `addr`, if it is in the topology.
    pub fn index_of(&self, addr: Address) -> Option<usize> {
        self.index.get(&addr).map(|&i| i as usize)
    }

    /// The address of node `idx`, if `idx < len()`.
    pub fn address(&self, idx: usize) -> Option<Address> {
        self.addrs.get(idx).copied()
    }

    /// The outgoing links of node `idx` as `(neighbour index, cost)`, sorted by neighbour
    /// index (empty if `idx` is out of range).
    pub fn neighbors(&self, idx: usize) -> impl ExactSizeIterator<Item = (usize, u32)> + '_ {
        let range = self.row(idx);
        let targets = self.targets.get(range.clone()).unwrap_or(&[]);
        let costs = self.costs.get(range).unwrap_or(&[]);
        targets.iter().zip(costs).map(|(&t, &c)| (t as usize, c))
    }

    /// Number of outgoing links of node `idx` (0 if out of range).
    pub fn degree(&self, idx: usize) -> usize {
        self.row(idx).len()
    }

    /// The cost of the link `a → b` (as `a` advertised it), if that two-way link exists.
    pub fn link_cost(&self, a: Address, b: Address) -> Option<u32> {
        let ai = self.index_of(a)?;
        let bi = self.index_of(b)? as u32;
        let range = self.row(ai);
        let targets = self.targets.get(range.clone())?;
        let pos = targets.binary_search(&bi).ok()?;
        self.costs.get(range.start + pos).copied()
    }

    /// The same graph with link costs `costs` (one per link, in CSR order: node by node,
    /// each row by neighbour index, as [`Topology::neighbors`] lists them), or `None` if
    /// the count differs or a cost is 0.
    pub fn with_costs(&self, costs: &[u32]) -> Option<Topology> {
        if costs.len() != self.costs.len() || costs.contains(&0) {
            return None;
        }
        Some(Topology {
            costs: costs.to_vec(),
            ..self.clone()
        })
    }

    /// The raw CSR row of `idx` for hot loops: `(targets, costs)` slices of equal length.
    pub(crate) fn row_slices(&self, idx: usize) -> (&[u32], &[u32]) {
        let range = self.row(idx);
        (
            self.targets.get(range.clone()).unwrap_or(&[]),
            self.costs.get(range).unwrap_or(&[]),
        )
    }

    fn row(&self, idx: usize) -> std::ops::Range<usize> {
        match (self.offsets.get(idx), self.offsets.get(idx + 1)) {
            (Some(&s), Some(&e)) if s <= e => s..e,
            _ => 0..0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(x: u32) -> Address {
        Address(x)
    }

    #[test]
    fn two_way_check_drops_one_way_links() {
        let t = Topology::from_links([(a(1), a(2), 5), (a(2), a(1), 7), (a(2), a(3), 1)]);
        assert_eq!(t.addresses(), &[a(1), a(2)]);
        assert_eq!(t.link_cost(a(1), a(2)), Some(5));
        assert_eq!(t.link_cost(a(2), a(1)), Some(7));
        assert_eq!(t.link_cost(a(2), a(3)), None);
        assert_eq!(t.link_count(), 2);
    }

    #[test]
    fn duplicates_keep_lowest_cost_and_zero_is_one() {
        let t = Topology::from_links([
            (a(1), a(2), 9),
            (a(1), a(2), 3),
            (a(2), a(1), 0),
            (a(1), a(1), 1),
        ]);
        assert_eq!(t.link_cost(a(1), a(2)), Some(3));
        assert_eq!(t.link_cost(a(2), a(1)), Some(1));
        assert_eq!(t.link_cost(a(1), a(1)), None);
        assert_eq!(t.link_count(), 2);
    }

    #[test]
    fn isolated_from_nodes_and_accessors() {
        let t = Topology::from_links([(a(30), a(10), 1), (a(10), a(30), 1), (a(20), a(99), 1)]);
        assert_eq!(t.len(), 3);
        assert!(!t.is_empty());
        assert_eq!(t.addresses(), &[a(10), a(20), a(30)]);
        assert_eq!(t.index_of(a(20)), Some(1));
        assert_eq!(t.index_of(a(99)), None);
        assert_eq!(t.address(2), Some(a(30)));
        assert_eq!(t.address(3), None);
        assert_eq!(t.neighbors(0).collect::<Vec<_>>(), vec![(2, 1)]);
        assert_eq!(t.neighbors(1).count(), 0);
        assert_eq!(t.neighbors(7).count(), 0);
        assert_eq!(t.degree(2), 1);
    }

    #[test]
    fn with_costs_replaces_costs_in_row_order() {
        let t = Topology::from_links([(a(1), a(2), 5), (a(2), a(1), 7)]);
        let u = t.with_costs(&[1, 2]).expect("same shape");
        assert_eq!(u.link_cost(a(1), a(2)), Some(1));
        assert_eq!(u.link_cost(a(2), a(1)), Some(2));
        assert!(t.with_costs(&[1]).is_none());
        assert!(t.with_costs(&[1, 0]).is_none());
    }

    #[test]
    fn empty() {
        let t = Topology::from_links([]);
        assert!(t.is_empty());
        assert_eq!(t.neighbors(0).count(), 0);
        assert_eq!(Topology::default().neighbors(0).count(), 0);
    }
}
