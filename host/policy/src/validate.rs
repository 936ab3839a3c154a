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
//!
//! Cost: one Dijkstra from this node that also records, per destination, the set of
//! neighbours starting a shortest path to it (a bitset propagated in distance order, as
//! the native policy does). A next hop in that set is downstream with no further work; for
//! any other next hop, and for every alternate, the distances from that neighbour are
//! computed once per check (a Dijkstra pruned as in the native LFA computation, exact for
//! every destination the two conditions can accept). So a shortest-path policy without
//! alternates costs one Dijkstra, one with alternates one more per neighbour used as an
//! alternate: never one per destination.

use ouro_core::Address;
use ouro_core::routing::{NativeSpf, NextHops, RoutingTable, Topology};

/// Which loop check the host applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoopCheck {
    /// Next hops must be downstream (strictly closer by link cost); alternates must be
    /// RFC 5286 loop-free. Costs one Dijkstra, plus one per neighbour used as an alternate
    /// or as a next hop off every shortest path.
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
    /// Distances from each of the node's neighbours (by position), once computed.
    from_nbr: Vec<Vec<u64>>,
    /// Whether `from_nbr[k]` is computed for the current check.
    have_nbr: Vec<bool>,
}

/// The loop check's view of one check: this node's index and the shortest-path data.
struct Loops<'v> {
    src: usize,
    v: &'v mut Validator,
}

impl Loops<'_> {
    /// Distances from neighbour `k`, computed on first use.
    fn nbr_distances(&mut self, topo: &Topology, k: usize) -> &[u64] {
        let v = &mut *self.v;
        if !v.have_nbr[k] {
            v.spf.neighbour_distances(topo, k, &mut v.from_nbr[k]);
            v.have_nbr[k] = true;
        }
        &v.from_nbr[k]
    }

    /// Check the route to node `d` through next hops `ecmp` and alternate `lfa`, both given
    /// as (address, neighbour position).
    fn check(
        &mut self,
        topo: &Topology,
        d: usize,
        dst: Address,
        ecmp: &[(Address, usize)],
        lfa: Option<(Address, usize)>,
    ) -> Result<(), String> {
        let inf = NativeSpf::UNREACHABLE;
        let d_sd = self.v.spf.own_distance(d);
        if d_sd == inf {
            return Err(format!("route to {dst}, which is unreachable"));
        }
        for &(h, k) in ecmp {
            if self.v.spf.is_first_hop(d, k) {
                continue;
            }
            let d_hd = self.nbr_distances(topo, k).get(d).copied().unwrap_or(inf);
            if d_hd >= d_sd {
                return Err(format!(
                    "possible forwarding loop: next hop {h} towards {dst} is not closer to it ({d_hd} >= {d_sd})"
                ));
            }
        }
        if let Some((a, k)) = lfa {
            let src = self.src;
            let da = self.nbr_distances(topo, k);
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
        Ok(())
    }
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
        let own_idx = topo.index_of(own);
        // The node's neighbours, ascending (rows are sorted by address): position `k` here
        // is bit `k` of the first-hop sets.
        let nbrs: Vec<Address> = own_idx
            .map(|i| {
                topo.neighbors(i)
                    .filter_map(|(t, _)| topo.address(t))
                    .collect()
            })
            .unwrap_or_default();
        let nbr_pos = |a: Address| nbrs.binary_search(&a).ok();
        let mut loop_check = match own_idx {
            Some(src) if loops == LoopCheck::Downstream && self.spf.check_from(own, topo) => {
                self.have_nbr.clear();
                self.have_nbr.resize(nbrs.len(), false);
                self.from_nbr.resize_with(nbrs.len(), Vec::new);
                Some(Loops { src, v: self })
            }
            _ => None,
        };
        let addrs = topo.addresses();
        let mut routes = Vec::with_capacity(n);
        let mut hops: Vec<(Address, usize)> = Vec::new();
        let mut cursor = 0;
        for r in 0..n {
            let dst = Address(out.destinations[r]);
            if dst == own {
                return Err(format!("route to self ({dst})"));
            }
            // Destinations usually come in address order: try the next nodes first.
            let d = if addrs.get(cursor) == Some(&dst) {
                Some(cursor)
            } else if addrs.get(cursor + 1) == Some(&dst) {
                Some(cursor + 1)
            } else {
                addrs.binary_search(&dst).ok()
            };
            let Some(d) = d else {
                return Err(format!("destination {dst} is not in the topology"));
            };
            cursor = d + 1;
            let (a, b) = (out.hop_offsets[r] as usize, out.hop_offsets[r + 1] as usize);
            if a == b {
                return Err(format!("empty ECMP set towards {dst}"));
            }
            hops.clear();
            for &h in &out.next_hops[a..b] {
                let h = Address(h);
                let Some(k) = nbr_pos(h) else {
                    return Err(format!("next hop {h} towards {dst} is not a neighbour"));
                };
                hops.push((h, k));
            }
            hops.sort_unstable();
            if hops.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(format!("duplicate next hop towards {dst}"));
            }
            let lfa = match out.alternates[r] {
                0 => None,
                a => {
                    let a = Address(a);
                    match nbr_pos(a) {
                        Some(k) if hops.binary_search(&(a, k)).is_err() => Some((a, k)),
                        _ => {
                            return Err(format!(
                                "alternate {a} towards {dst} is not a neighbour outside the ECMP set"
                            ));
                        }
                    }
                }
            };
            if let Some(l) = loop_check.as_mut() {
                l.check(topo, d, dst, &hops, lfa)?;
            }
            let ecmp = hops.iter().map(|&(h, _)| h).collect();
            routes.push((
                dst,
                NextHops {
                    ecmp,
                    lfa: lfa.map(|(a, _)| a),
                },
            ));
        }
        // Sorted by destination (a no-op for the usual ascending output), then bulk-built.
        if routes.windows(2).any(|w| w[0].0 >= w[1].0) {
            routes.sort_by_key(|(d, _)| *d);
            if let Some(w) = routes.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(format!("destination {} listed twice", w[0].0));
            }
        }
        Ok(RoutingTable {
            routes: routes.into_iter().collect(),
            cubes: Default::default(),
        })
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

    /// Symmetric links `(a, b, cost)` in both directions.
    fn both(links: &[(u32, u32, u32)]) -> Topology {
        Topology::from_links(
            links
                .iter()
                .flat_map(|&(a, b, c)| [(Address(a), Address(b), c), (Address(b), Address(a), c)]),
        )
    }

    #[test]
    fn downstream_next_hop_off_the_shortest_path_and_alternates() {
        // 1 -1- 2 -1- 4 and 1 -2- 3 -1- 4: from 1, 4 is 2 away via 2, 3 away via 3.
        let topo = both(&[(1, 2, 1), (2, 4, 1), (1, 3, 2), (3, 4, 1)]);
        let mut v = Validator::default();
        let mut check = |f: FlatRoutes<'_>| v.check(Address(1), &topo, f, LoopCheck::Downstream);
        // 3 is not on a shortest path to 4 but is closer to it (1 < 2): accepted.
        assert!(check(flat(&[4], &[0, 1], &[3], &[0])).is_ok());
        // 3 as the alternate of 2 towards 4: dist(3,4) = 1 < dist(3,1) + dist(1,4) = 4.
        let t = check(flat(&[4], &[0, 1], &[2], &[3])).expect("valid LFA");
        assert_eq!(t.routes[&Address(4)].lfa, Some(Address(3)));
        // 3 towards 2 is not closer to 2 (2 + ... = 2 via 4, and 1 is 1 away): rejected.
        assert!(check(flat(&[2], &[0, 1], &[3], &[0])).is_err());
        // Ring 1-2-3-4-1: 4 is no loop-free alternate towards 2 (2 is not < 1 + 1).
        let ring = both(&[(1, 2, 1), (2, 3, 1), (3, 4, 1), (4, 1, 1)]);
        let mut v = Validator::default();
        let r = v.check(
            Address(1),
            &ring,
            flat(&[2], &[0, 1], &[2], &[4]),
            LoopCheck::Downstream,
        );
        assert!(r.is_err_and(|e| e.contains("RFC 5286")));
    }

    #[test]
    fn native_output_always_passes() {
        let mut seed = 0x1234_5678_u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        let mut v = Validator::default();
        for _ in 0..40 {
            let n = 2 + next() % 30;
            let mut links: Vec<(u32, u32, u32)> = (2..=n)
                .map(|i| (i, 1 + next() % (i - 1), 1 + next() % 5))
                .collect();
            for _ in 0..n {
                let (a, b) = (1 + next() % n, 1 + next() % n);
                if a != b {
                    links.push((a, b, 1 + next() % 5));
                }
            }
            let topo = both(&links);
            for own in 1..=n {
                let table = ouro_core::routing::RoutingPolicy::compute(
                    &mut NativeSpf::new(),
                    Address(own),
                    &topo,
                )
                .expect("native");
                let mut dests = Vec::new();
                let mut offsets = vec![0];
                let mut hops = Vec::new();
                let mut alts = Vec::new();
                for (d, h) in &table.routes {
                    dests.push(d.0);
                    hops.extend(h.ecmp.iter().map(|a| a.0));
                    offsets.push(hops.len() as u32);
                    alts.push(h.lfa.map_or(0, |a| a.0));
                }
                let out = v
                    .check(
                        Address(own),
                        &topo,
                        flat(&dests, &offsets, &hops, &alts),
                        LoopCheck::Downstream,
                    )
                    .expect("native output is valid");
                assert_eq!(out, table);
            }
        }
    }
}
