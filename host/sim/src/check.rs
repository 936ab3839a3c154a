//! Checking the forwarding tables of a converged layer: reachability, loop-freedom and
//! optimality against the native reference policy computed centrally. This is what
//! `ouro policy test` reports.

use crate::sim::Simulator;
use ouro_core::routing::{NativeSpf, RoutingPolicy, Topology};
use ouro_core::{Address, QosCube};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How next hops are compared with the native reference's equal-cost sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Optimality {
    /// Every ECMP set must equal the reference's (ECMP policies).
    Exact,
    /// Every ECMP set must be a non-empty subset of the reference's (shortest-path policies
    /// that keep fewer next hops).
    Subset,
    /// No comparison (policies that do not route on shortest paths).
    Off,
}

/// The result of [`Simulator::check_routes`]. Problem lists hold `(node id, destination id)`
/// pairs, at most [`RouteCheck::EXAMPLES`] each; the counters count them all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RouteCheck {
    /// Nodes in the bootstrap node's component.
    pub nodes: usize,
    /// Ordered (source, destination) pairs checked.
    pub pairs: usize,
    /// Pairs whose source has no route to the destination, or whose path ends at a node
    /// without one.
    pub unreachable: usize,
    /// Pairs from which following next hops can come back to a node already visited.
    pub loops: usize,
    /// Pairs whose next hops differ from the reference's equal-cost set.
    pub suboptimal: usize,
    /// Examples of unreachable pairs.
    pub unreachable_examples: Vec<(String, String)>,
    /// Examples of looping pairs.
    pub loop_examples: Vec<(String, String)>,
    /// Examples of suboptimal pairs.
    pub suboptimal_examples: Vec<(String, String)>,
    /// The cubes some member forwards with a table of its own (per-cube routing), each
    /// checked for reachability and loops along the tables that cube's PDUs really follow
    /// (optimality is not checked there: the policy chose that cube's costs).
    pub cubes: Vec<CubeCheck>,
}

/// Reachability and loops along one QoS cube's forwarding tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CubeCheck {
    /// The cube's name.
    pub cube: String,
    /// Members with a table of their own for this cube (the others forward it with their
    /// default table).
    pub own_tables: usize,
    /// Ordered (source, destination) pairs checked.
    pub pairs: usize,
    /// Pairs this cube's PDUs cannot reach.
    pub unreachable: usize,
    /// Pairs this cube's PDUs can loop between.
    pub loops: usize,
    /// Examples of unreachable pairs.
    pub unreachable_examples: Vec<(String, String)>,
    /// Examples of looping pairs.
    pub loop_examples: Vec<(String, String)>,
}

impl RouteCheck {
    /// Problem examples kept per kind.
    pub const EXAMPLES: usize = 5;

    /// True if nothing is wrong.
    pub fn passed(&self) -> bool {
        self.unreachable == 0
            && self.loops == 0
            && self.suboptimal == 0
            && self
                .cubes
                .iter()
                .all(|c| c.unreachable == 0 && c.loops == 0)
    }
}

fn note(
    count: &mut usize,
    examples: &mut Vec<(String, String)>,
    ids: &[String],
    s: usize,
    d: usize,
) {
    *count += 1;
    if examples.len() < RouteCheck::EXAMPLES {
        examples.push((ids[s].clone(), ids[d].clone()));
    }
}

impl Simulator {
    /// Check every member's forwarding table (call after convergence).
    pub fn check_routes(&self, optimality: Optimality) -> RouteCheck {
        let members = self.component();
        let ids = self.graph().nodes();
        let n = self.enrolled.len();
        let tables: BTreeMap<usize, Vec<BTreeSet<usize>>> =
            members.iter().map(|&s| (s, self.next_hops(s))).collect();
        let mut check = RouteCheck {
            nodes: members.len(),
            ..RouteCheck::default()
        };
        let walked = walk_all(&members, &tables, n, ids);
        check.pairs = walked.pairs;
        check.unreachable = walked.unreachable;
        check.unreachable_examples = walked.unreachable_examples;
        check.loops = walked.loops;
        check.loop_examples = walked.loop_examples;
        for c in 0..QosCube::COUNT as u8 {
            let Some(cube) = QosCube::from_u8(c) else {
                continue;
            };
            let own_tables = members
                .iter()
                .filter(|&&s| self.ipcp(s).fib().cube_tables().any(|(k, _)| k == cube))
                .count();
            if own_tables == 0 {
                continue;
            }
            let tables: BTreeMap<usize, Vec<BTreeSet<usize>>> = members
                .iter()
                .map(|&s| (s, self.next_hops_for(s, Some(cube))))
                .collect();
            check.cubes.push(CubeCheck {
                cube: cube.to_string(),
                own_tables,
                ..walk_all(&members, &tables, n, ids)
            });
        }
        if optimality != Optimality::Off {
            self.check_optimality(&members, &tables, optimality, &mut check);
        }
        check
    }

    fn check_optimality(
        &self,
        members: &[usize],
        tables: &BTreeMap<usize, Vec<BTreeSet<usize>>>,
        optimality: Optimality,
        check: &mut RouteCheck,
    ) {
        let ids = self.graph().nodes();
        let addr = |i: usize| self.ipcp(i).address();
        let in_comp: BTreeSet<usize> = members.iter().copied().collect();
        let by_addr: BTreeMap<Address, usize> = members.iter().map(|&i| (addr(i), i)).collect();
        let links = self
            .graph()
            .edges()
            .iter()
            .enumerate()
            .filter(|(e, edge)| {
                self.fabric.links[*e].is_up()
                    && in_comp.contains(&edge.a)
                    && in_comp.contains(&edge.b)
            })
            .flat_map(|(_, e)| {
                [
                    (addr(e.a), addr(e.b), e.cost),
                    (addr(e.b), addr(e.a), e.cost),
                ]
            });
        let topo = Topology::from_links(links);
        let mut native = NativeSpf::new();
        for &s in members {
            let Ok(reference) = native.compute(addr(s), &topo) else {
                continue;
            };
            let Some(table) = tables.get(&s) else {
                continue;
            };
            for &d in members {
                if d == s {
                    continue;
                }
                let want: BTreeSet<usize> = reference
                    .routes
                    .get(&addr(d))
                    .map(|h| {
                        h.ecmp
                            .iter()
                            .filter_map(|a| by_addr.get(a).copied())
                            .collect()
                    })
                    .unwrap_or_default();
                let got = &table[d];
                let ok = match optimality {
                    Optimality::Exact => *got == want,
                    Optimality::Subset => !got.is_empty() && got.is_subset(&want),
                    Optimality::Off => true,
                };
                if !ok {
                    note(
                        &mut check.suboptimal,
                        &mut check.suboptimal_examples,
                        ids,
                        s,
                        d,
                    );
                }
            }
        }
    }
}

/// Reachability and loops for every ordered pair of `members` along `tables`.
fn walk_all(
    members: &[usize],
    tables: &BTreeMap<usize, Vec<BTreeSet<usize>>>,
    n: usize,
    ids: &[String],
) -> CubeCheck {
    let mut check = CubeCheck::default();
    for &d in members {
        let mut state = vec![UNSEEN; n];
        state[d] = memo(Walk::Reaches);
        for &s in members {
            if s == d {
                continue;
            }
            check.pairs += 1;
            match walk(s, d, tables, &mut state) {
                Walk::Reaches => {}
                Walk::Loops => note(&mut check.loops, &mut check.loop_examples, ids, s, d),
                Walk::Dead => note(
                    &mut check.unreachable,
                    &mut check.unreachable_examples,
                    ids,
                    s,
                    d,
                ),
            }
        }
    }
    check
}

/// Where following next hops from a node leads (worst case over every ECMP branch).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Walk {
    Reaches,
    Dead,
    Loops,
}

/// Memo states per node for one destination.
const UNSEEN: u8 = 0;
const ON_PATH: u8 = 1;

fn memo(w: Walk) -> u8 {
    match w {
        Walk::Reaches => 2,
        Walk::Dead => 3,
        Walk::Loops => 4,
    }
}

/// Depth-first over every next hop from `s` towards `d`, memoising finished nodes in
/// `state` (the destination starts as "reaches").
fn walk(
    s: usize,
    d: usize,
    tables: &BTreeMap<usize, Vec<BTreeSet<usize>>>,
    state: &mut [u8],
) -> Walk {
    let hops_of = |u: usize| -> Vec<usize> {
        tables
            .get(&u)
            .and_then(|t| t.get(d))
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default()
    };
    let known = |m: u8| match m {
        2 => Some(Walk::Reaches),
        3 => Some(Walk::Dead),
        4 => Some(Walk::Loops),
        _ => None,
    };
    if let Some(w) = known(state[s]) {
        return w;
    }
    // Frames: (node, next hops left, worst outcome so far).
    let mut stack: Vec<(usize, Vec<usize>, Walk)> = Vec::new();
    let first = hops_of(s);
    if first.is_empty() {
        state[s] = memo(Walk::Dead);
        return Walk::Dead;
    }
    state[s] = ON_PATH;
    stack.push((s, first, Walk::Reaches));
    loop {
        let Some((u, rest, worst)) = stack.last_mut() else {
            return Walk::Dead;
        };
        let Some(v) = rest.pop() else {
            let (u, w) = (*u, *worst);
            state[u] = memo(w);
            stack.pop();
            match stack.last_mut() {
                Some(parent) => parent.2 = parent.2.max(w),
                None => return w,
            }
            continue;
        };
        let seen = state.get(v).copied();
        let outcome = match seen {
            None => Some(Walk::Dead), // a next hop that is no node
            Some(ON_PATH) => Some(Walk::Loops),
            Some(UNSEEN) => None,
            Some(m) => known(m),
        };
        match outcome {
            Some(w) => *worst = (*worst).max(w),
            None => {
                let hops = hops_of(v);
                if hops.is_empty() {
                    state[v] = memo(Walk::Dead);
                    *worst = (*worst).max(Walk::Dead);
                } else {
                    state[v] = ON_PATH;
                    stack.push((v, hops, Walk::Reaches));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(hops: &[&[usize]]) -> BTreeMap<usize, Vec<BTreeSet<usize>>> {
        // Every node's next hops towards destination 0.
        hops.iter()
            .enumerate()
            .map(|(i, h)| {
                let mut t = vec![BTreeSet::new(); hops.len()];
                t[0] = h.iter().copied().collect();
                (i, t)
            })
            .collect()
    }

    fn outcome(hops: &[&[usize]], s: usize) -> Walk {
        let mut state = vec![UNSEEN; hops.len()];
        state[0] = memo(Walk::Reaches);
        walk(s, 0, &tables(hops), &mut state)
    }

    #[test]
    fn walks_classify_paths() {
        // 1 -> 0 ; 2 -> {1, 3} ; 3 -> 2 (loop between 2 and 3) ; 4 -> {} (dead)
        let hops: &[&[usize]] = &[&[], &[0], &[1, 3], &[2], &[]];
        assert!(outcome(hops, 1) == Walk::Reaches);
        assert!(outcome(hops, 2) == Walk::Loops);
        assert!(outcome(hops, 3) == Walk::Loops);
        assert!(outcome(hops, 4) == Walk::Dead);
        let fine: &[&[usize]] = &[&[], &[0], &[1, 0], &[2, 1]];
        assert!(outcome(fine, 3) == Walk::Reaches);
    }
}
