//! The simulation report and forwarding-table dumps in node ids.

use crate::sim::Simulator;
use ouro_core::{Address, QosCube};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Summary of a simulation run; serialises with its fields in this order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimReport {
    /// Number of nodes.
    pub nodes: usize,
    /// Number of (undirected) links.
    pub links: usize,
    /// Whether the last convergence run converged.
    pub converged: bool,
    /// Simulated time (ms) of the last route change seen.
    pub converged_at_ms: u64,
    /// Wall-clock time (ms) spent simulating.
    pub wall_ms: u64,
    /// Test flows that succeeded.
    pub flows_ok: u64,
    /// Test flows that failed.
    pub flows_failed: u64,
    /// For each node asked for: destination id → ids of the equal-cost next hops in use.
    pub fib: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Simulator {
    /// Enrolled nodes by address.
    fn address_map(&self) -> BTreeMap<Address, usize> {
        (0..self.enrolled.len())
            .filter(|&n| self.enrolled[n])
            .map(|n| (self.ipcp(n).address(), n))
            .collect()
    }

    /// Node `index`'s forwarding table in node indices: for each other enrolled node, the set
    /// of next hops in its ECMP set (empty if it has no route). A next-hop address that is no
    /// node's address maps to `usize::MAX`.
    pub fn next_hops(&self, index: usize) -> Vec<BTreeSet<usize>> {
        self.next_hops_for(index, None)
    }

    /// Like [`Simulator::next_hops`], for the table PDUs of `cube` are forwarded with (the
    /// default table when the node has none of its own for that cube); `None`: the default.
    pub fn next_hops_for(&self, index: usize, cube: Option<QosCube>) -> Vec<BTreeSet<usize>> {
        let by_addr = self.address_map();
        let fib = self.ipcp(index).fib();
        (0..self.enrolled.len())
            .map(|dst| {
                if dst == index || !self.enrolled[dst] {
                    return BTreeSet::new();
                }
                let addr = self.ipcp(dst).address();
                let entry = match cube {
                    Some(c) => fib.get_cube(addr, c),
                    None => fib.get(addr),
                };
                entry
                    .map(|entry| {
                        entry
                            .next_hops
                            .iter()
                            .map(|(a, _)| by_addr.get(a).copied().unwrap_or(usize::MAX))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Node `index`'s forwarding table in node ids (destinations without a route omitted).
    pub fn fib_dump(&self, index: usize) -> BTreeMap<String, Vec<String>> {
        let ids = self.graph().nodes();
        self.next_hops(index)
            .into_iter()
            .enumerate()
            .filter(|(_, hops)| !hops.is_empty())
            .map(|(dst, hops)| {
                let hops = hops
                    .into_iter()
                    .map(|h| ids.get(h).cloned().unwrap_or_else(|| "?".to_string()));
                (ids[dst].clone(), hops.collect())
            })
            .collect()
    }

    /// The report, with the forwarding tables of the nodes `dump` (indices).
    pub fn report(&self, dump: &[usize]) -> SimReport {
        let flows = self.flow_summary();
        SimReport {
            nodes: self.graph().node_count(),
            links: self.graph().edge_count(),
            converged: self.converged,
            converged_at_ms: self.last_routes_changed.map_or(0, |t| t.as_millis()),
            wall_ms: u64::try_from(self.wall.as_millis()).unwrap_or(u64::MAX),
            flows_ok: flows.ok,
            flows_failed: flows.failed,
            fib: dump
                .iter()
                .map(|&n| (self.graph().nodes()[n].clone(), self.fib_dump(n)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_serialises_in_documented_order() {
        let mut fib = BTreeMap::new();
        fib.insert(
            "a".to_string(),
            BTreeMap::from([("b".to_string(), vec!["c".to_string(), "d".to_string()])]),
        );
        let r = SimReport {
            nodes: 4,
            links: 5,
            converged: true,
            converged_at_ms: 120,
            wall_ms: 3,
            flows_ok: 2,
            flows_failed: 0,
            fib,
        };
        assert_eq!(
            serde_json::to_string(&r).expect("serialises"),
            r#"{"nodes":4,"links":5,"converged":true,"converged_at_ms":120,"wall_ms":3,"flows_ok":2,"flows_failed":0,"fib":{"a":{"b":["c","d"]}}}"#
        );
    }
}
