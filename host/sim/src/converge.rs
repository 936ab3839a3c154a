//! Convergence: when every member of the bootstrap node's component agrees on the
//! link-state database and has its routes computed.

use crate::fabric::Driver;
use crate::ports::port_of;
use crate::sim::Simulator;
use std::collections::BTreeSet;
use std::time::Duration;

impl Simulator {
    /// The nodes reachable from the bootstrap node over links that are up, through nodes
    /// that have joined, sorted by index.
    pub fn component(&self) -> Vec<usize> {
        let f = &self.fabric;
        let mut seen = vec![false; f.systems.len()];
        let boot = self.config.bootstrap;
        seen[boot] = true;
        let mut members = vec![boot];
        let mut i = 0;
        while i < members.len() {
            let n = members[i];
            i += 1;
            for &(e, m) in &f.adj[n] {
                if !seen[m] && f.links[e].is_up() && f.systems[m].attached {
                    seen[m] = true;
                    members.push(m);
                }
            }
        }
        members.sort_unstable();
        members
    }

    /// True if every node of [`Simulator::component`] is enrolled, has an adjacency on each of
    /// its links that are up (and none on links that are down), holds one advertisement per
    /// member, has the same database digest as the others, and has no route computation or
    /// origination pending.
    pub fn is_converged(&self) -> bool {
        let members = self.component();
        let mut in_comp = vec![false; self.enrolled.len()];
        for &n in &members {
            in_comp[n] = true;
        }
        let mut digest = None;
        for &n in &members {
            let ipcp = self.ipcp(n);
            if !self.enrolled[n] || ipcp.routes_pending() || ipcp.lsdb_len() != members.len() {
                return false;
            }
            let d = ipcp.lsdb_digest();
            if *digest.get_or_insert(d) != d {
                return false;
            }
            let adjacent: BTreeSet<_> = ipcp.neighbors().into_iter().map(|(p, _)| p).collect();
            for &(e, m) in &self.fabric.adj[n] {
                let expected = self.fabric.links[e].is_up() && in_comp[m];
                if expected != adjacent.contains(&port_of(e)) {
                    return false;
                }
            }
        }
        true
    }

    /// Run until [`Simulator::is_converged`] holds (checked every
    /// [`crate::SimConfig::check_interval`] of simulated time) or `limit` of simulated time has
    /// passed. Returns whether it converged.
    pub fn run_until_converged(&mut self, limit: Duration) -> bool {
        let wall = std::time::Instant::now();
        let deadline = self.fabric.now + limit;
        self.converged = loop {
            if self.is_converged() {
                break true;
            }
            let now = self.fabric.now;
            if now >= deadline {
                break false;
            }
            let step = (now + self.config.check_interval).min(deadline);
            self.run_until(step);
        };
        self.wall += wall.elapsed();
        self.converged
    }
}
