//! Checking a routing policy's output before the IPCP sees it.
//!
//! Structural rules: the flat arrays are consistent; every destination is a node of the
//! topology, not the computing node itself, and listed once; every ECMP set is non-empty,
//! without duplicates, made of neighbours; an alternate is a neighbour outside the ECMP set.
//!
//! Loop check ([`LoopCheck::Downstream`]): one node's table cannot show a loop by itself, so
//! the host enforces a local rule that makes loops impossible when every node obeys it:
//! each ECMP next hop `n` towards `d` must be strictly closer to `d` than this node
//! (`dist(n, d) < dist(self, d)` over link costs: the downstream condition), and each
//! alternate must satisfy RFC 5286 (`dist(n, d) < dist(n, self) + dist(self, d)`). Every
//! shortest-path policy passes; a policy routing on other metrics can turn the check off.

use ouro_core::Address;
use ouro_core::routing::{NativeSpf, NextHops, RoutingTable, Topology};
use std::collections::HashMap;

/// Which loop check the host applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoopCheck {
    /// Next hops must be downstream (strictly closer by link cost); alternates must be
    /// RFC 5286 loop-free. Costs one Dijkstra per distinct next hop used.
    #[default]
    Downstream,
    /// Structural checks only.
    Off,
}

/// A routing table as the guest returned it (the WIT's flat layout).
#[derive(Clone, Copy, Debug)]
pub struct FlatRoutes<'a> {
    /// Destination addresses.
    pub destinations: &'a [u32],
    /// Offsets into `next_hops`, one more than `destinations`.
    pub hop_offsets: &'a [u32],
    /// Concatenated ECMP sets.
    pub next_hops: &'a [u32],
    /// Alternate per destination, 0 = none.
    pub alternates: &'a [u32],
}

/// Reusable validation state.
#[derive(Clone, Debug, Default)]
pub struct Validator {
    spf: NativeSpf,
    /// Distances from the nodes examined so far, by node index.
    dist: HashMap<usize, Vec<u64>>,
}

impl Validator {
    /// Check `out`, computed by `own` over `topo`, and convert it.
    pub fn check(
        &mut self,
        own: Address,
        topo: &Topology,
        out: FlatRoutes<'_>,
        loops: LoopCheck,
    ) -> Result<RoutingTable, String> {
        let n = out.destinations.len();
        if out.hop_offsets.len() != n + 1 || out.alternates.len() != n {
            return Err(
                "hop-offsets must have one element more than destinations, alternates as many"
                    .into(),
            );
        }
        if out.hop_offsets.first() != Some(&0)
            || out.hop_offsets.windows(2).any(|w| w[0] > w[1])
            || out.hop_offsets.last().map(|&o| o as usize) != Some(out.next_hops.len())
        {
            return Err(
                "hop-offsets must start at 0, not decrease and end at the number of next hops"
                    .into(),
            );
        }
        self.dist.clear();
        let own_idx = topo.index_of(own);
        // The node's neighbours, ascending (rows are sorted by address).
        let nbrs: Vec<Address> = own_idx
            .map(|i| {
                topo.neighbors(i)
                    .filter_map(|(t, _)| topo.address(t))
                    .collect()
            })
            .unwrap_or_default();
        let is_nbr = |a: Address| nbrs.binary_search(&a).is_ok();
        let mut routes = Vec::with_capacity(n);
        for r in 0..n {
            let dst = Address(out.destinations[r]);
            if dst == own {
                return Err(format!("route to self ({dst})"));
            }
            if topo.index_of(dst).is_none() {
                return Err(format!("destination {dst} is not in the topology"));
            }
            let (a, b) = (out.hop_offsets[r] as usize, out.hop_offsets[r + 1] as usize);
            let mut ecmp: Vec<Address> = out.next_hops[a..b].iter().map(|&h| Address(h)).collect();
            if ecmp.is_empty() {
                return Err(format!("empty ECMP set towards {dst}"));
            }
            ecmp.sort_unstable();
            if ecmp.windows(2).any(|w| w[0] == w[1]) {
                return Err(format!("duplicate next hop towards {dst}"));
            }
            if let Some(h) = ecmp.iter().find(|&&h| !is_nbr(h)) {
                return Err(format!("next hop {h} towards {dst} is not a neighbour"));
            }
            let lfa = match out.alternates[r] {
                0 => None,
                a => {
                    let a = Address(a);
                    if !is_nbr(a) || ecmp.contains(&a) {
                        return Err(format!(
                            "alternate {a} towards {dst} is not a neighbour outside the ECMP set"
                        ));
                    }
                    Some(a)
                }
            };
            routes.push((dst, NextHops { ecmp, lfa }));
        }
        // Sorted by destination (a no-op for the usual ascending output), then bulk-built.
        routes.sort_by_key(|(d, _)| *d);
        if let Some(w) = routes.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("destination {} listed twice", w[0].0));
        }
        let table = RoutingTable {
            routes: routes.into_iter().collect(),
        };
        if loops == LoopCheck::Downstream
            && let Some(src) = own_idx
        {
            self.check_loop_free(src, topo, &table)?;
        }
        Ok(table)
    }

    fn distances(&mut self, topo: &Topology, idx: usize) -> &[u64] {
        let spf = &mut self.spf;
        self.dist.entry(idx).or_insert_with(|| {
            topo.address(idx)
                .map(|a| spf.distances(a, topo).to_vec())
                .unwrap_or_default()
        })
    }

    fn check_loop_free(
        &mut self,
        src: usize,
        topo: &Topology,
        table: &RoutingTable,
    ) -> Result<(), String> {
        let inf = NativeSpf::UNREACHABLE;
        for (dst, hops) in &table.routes {
            let Some(d) = topo.index_of(*dst) else {
                continue;
            };
            let d_sd = self.distances(topo, src).get(d).copied().unwrap_or(inf);
            if d_sd == inf {
                return Err(format!("route to {dst}, which is unreachable"));
            }
            for &h in &hops.ecmp {
                let Some(hi) = topo.index_of(h) else { continue };
                let d_hd = self.distances(topo, hi).get(d).copied().unwrap_or(inf);
                if d_hd >= d_sd {
                    return Err(format!(
                        "possible forwarding loop: next hop {h} towards {dst} is not closer to it ({d_hd} >= {d_sd})"
                    ));
                }
            }
            if let Some(a) = hops.lfa
                && let Some(ai) = topo.index_of(a)
            {
                let da = self.distances(topo, ai);
                let (d_ad, d_as) = (
                    da.get(d).copied().unwrap_or(inf),
                    da.get(src).copied().unwrap_or(inf),
                );
                if d_ad >= d_as.saturating_add(d_sd) {
                    return Err(format!(
                        "alternate {a} towards {dst} is not loop-free (RFC 5286)"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line 1 - 2 - 3, unit costs.
    fn line() -> Topology {
        let a = Address;
        Topology::from_links([
            (a(1), a(2), 1),
            (a(2), a(1), 1),
            (a(2), a(3), 1),
            (a(3), a(2), 1),
        ])
    }

    fn flat<'a>(d: &'a [u32], o: &'a [u32], h: &'a [u32], alt: &'a [u32]) -> FlatRoutes<'a> {
        FlatRoutes {
            destinations: d,
            hop_offsets: o,
            next_hops: h,
            alternates: alt,
        }
    }

    #[test]
    fn accepts_shortest_paths() {
        let t = Validator::default()
            .check(
                Address(2),
                &line(),
                flat(&[1, 3], &[0, 1, 2], &[1, 3], &[0, 0]),
                LoopCheck::Downstream,
            )
            .expect("valid");
        assert_eq!(t.routes[&Address(3)].ecmp, vec![Address(3)]);
    }

    #[test]
    fn rejects_each_broken_rule() {
        let topo = line();
        let mut v = Validator::default();
        let mut bad = |own: u32, f: FlatRoutes<'_>| {
            v.check(Address(own), &topo, f, LoopCheck::Downstream)
                .is_err()
        };
        assert!(bad(2, flat(&[2], &[0, 1], &[1], &[0])), "self route");
        assert!(
            bad(2, flat(&[9], &[0, 1], &[1], &[0])),
            "unknown destination"
        );
        assert!(
            bad(1, flat(&[3], &[0, 1], &[3], &[0])),
            "non-neighbour next hop"
        );
        assert!(bad(2, flat(&[1], &[0, 0], &[], &[0])), "empty ECMP set");
        assert!(
            bad(2, flat(&[1, 1], &[0, 1, 2], &[1, 1], &[0, 0])),
            "duplicate destination"
        );
        assert!(
            bad(2, flat(&[1], &[0, 1], &[1], &[1])),
            "alternate inside the ECMP set"
        );
        assert!(
            bad(2, flat(&[1], &[0, 2], &[1], &[0])),
            "offsets past the end"
        );
        // 2 routes to 1 via 3: 3 is farther from 1 than 2 is, so 3 sends it back.
        assert!(bad(2, flat(&[1], &[0, 1], &[3], &[0])), "forwarding loop");
        // The same table passes when the loop check is off.
        assert!(
            v.check(
                Address(2),
                &topo,
                flat(&[1], &[0, 1], &[3], &[0]),
                LoopCheck::Off
            )
            .is_ok()
        );
    }
}
