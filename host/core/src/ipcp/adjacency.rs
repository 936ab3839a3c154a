//! Adjacencies: forming, keeping alive and losing neighbours on N-1 flows.
//!
//! One N-1 flow carries both the data transfer and the management adjacency with a
//! neighbour. Either end sends `AdjRequest` (repeated every hello interval until answered);
//! the other answers `AdjAccept`. When an adjacency comes up each end pushes its whole
//! link-state database to the neighbour (in batched LSUs) and re-originates its own
//! advertisement. Keepalives every hello interval; silence for the dead interval, or the
//! driver's [`Ipcp::port_down`], ends the adjacency.

use super::{Adjacency, Event, Ipcp};
use crate::time::Instant;
use crate::wire::MgmtMsg;
use crate::{Address, Eid, PortId};

impl Ipcp {
    /// Ask for an adjacency on `port` (now if enrolled, else once enrolled).
    pub(super) fn request_adjacency(&mut self, now: Instant, port: PortId, cost: u32) {
        let adj = self.adjacencies.entry(port).or_insert(Adjacency {
            neighbor: Address::NONE,
            up: false,
            cost,
            cost_set: true,
            last_rx: now,
        });
        let changed = adj.cost != cost;
        adj.cost = cost;
        adj.cost_set = true;
        let up = adj.up;
        if up {
            if changed {
                self.schedule_lsa(now);
            }
        } else if self.is_enrolled() {
            self.send_adj_request(port, cost);
        }
    }

    fn send_adj_request(&mut self, port: PortId, cost: u32) {
        let msg = MgmtMsg::AdjRequest {
            address: self.address,
            ipcp: self.name,
            cost,
        };
        self.send_on_port(port, &msg);
    }

    /// Re-send the requests of adjacencies not up yet.
    pub(super) fn resend_adjacency_requests(&mut self) {
        let waiting: Vec<(PortId, u32)> = self
            .adjacencies
            .iter()
            .filter(|(_, a)| !a.up)
            .map(|(p, a)| (*p, a.cost))
            .collect();
        for (port, cost) in waiting {
            self.send_adj_request(port, cost);
        }
    }

    /// A neighbour asks for an adjacency.
    pub(super) fn on_adj_request(
        &mut self,
        now: Instant,
        port: PortId,
        address: Address,
        cost: u32,
    ) {
        if !self.is_enrolled() || address.is_none() || address == self.address {
            self.counters.drop_not_ready += 1;
            return;
        }
        let adj = self.adjacencies.entry(port).or_insert(Adjacency {
            neighbor: address,
            up: false,
            cost: cost.max(1),
            cost_set: false,
            last_rx: now,
        });
        if !adj.cost_set && adj.cost != cost.max(1) {
            adj.cost = cost.max(1);
            if adj.up {
                self.schedule_lsa(now);
            }
        }
        self.send_on_port(
            port,
            &MgmtMsg::AdjAccept {
                address: self.address,
            },
        );
        self.adjacency_established(now, port, address);
    }

    /// A neighbour accepted our request.
    pub(super) fn on_adj_accept(&mut self, now: Instant, port: PortId, address: Address) {
        if !self.is_enrolled()
            || address.is_none()
            || address == self.address
            || !self.adjacencies.contains_key(&port)
        {
            self.counters.drop_not_ready += 1;
            return;
        }
        self.adjacency_established(now, port, address);
    }

    fn adjacency_established(&mut self, now: Instant, port: PortId, neighbor: Address) {
        let Some(adj) = self.adjacencies.get_mut(&port) else {
            return;
        };
        if adj.up && adj.neighbor == neighbor {
            return;
        }
        let previous = adj.up.then_some(adj.neighbor);
        adj.up = true;
        adj.neighbor = neighbor;
        adj.last_rx = now;
        if let Some(old) = previous {
            self.unmap_neighbor_port(old, port);
            self.emit_event(Event::AdjacencyDown {
                port,
                neighbor: old,
            });
        }
        let best = self
            .neighbor_ports
            .get(&neighbor)
            .map_or(port, |p| (*p).min(port));
        self.neighbor_ports.insert(neighbor, best);
        self.emit_event(Event::AdjacencyUp { port, neighbor });
        let all: Vec<_> = self.lsdb.iter().cloned().collect();
        self.send_lsas(now, port, all);
        self.schedule_lsa(now);
        self.schedule_spf(now);
    }

    /// The adjacency on `port` is gone (port down or dead interval).
    pub(super) fn adjacency_lost(&mut self, now: Instant, port: PortId) {
        self.flood_queue.remove(&port);
        self.unacked.remove(&port);
        self.ack_queue.remove(&port);
        let Some(adj) = self.adjacencies.remove(&port) else {
            return;
        };
        if !adj.up {
            return;
        }
        self.unmap_neighbor_port(adj.neighbor, port);
        self.emit_event(Event::AdjacencyDown {
            port,
            neighbor: adj.neighbor,
        });
        self.repair_fib_without(port);
        self.schedule_lsa(now);
        self.schedule_spf(now);
    }

    /// Drop `port` as the way to `neighbor`, falling back on another up port to it.
    fn unmap_neighbor_port(&mut self, neighbor: Address, port: PortId) {
        if self.neighbor_ports.get(&neighbor) != Some(&port) {
            return;
        }
        let other = self
            .adjacencies
            .iter()
            .find(|(p, a)| **p != port && a.up && a.neighbor == neighbor)
            .map(|(p, _)| *p);
        match other {
            Some(p) => self.neighbor_ports.insert(neighbor, p),
            None => self.neighbor_ports.remove(&neighbor),
        };
    }

    /// Keepalives and dead-interval checks, once per hello interval.
    pub(super) fn adjacency_tick(&mut self, now: Instant) {
        let dead_after = self.config.dead_interval;
        let mut dead = Vec::new();
        let mut alive = Vec::new();
        for (port, adj) in &self.adjacencies {
            if adj.up && now.saturating_duration_since(adj.last_rx) > dead_after {
                dead.push(*port);
            } else if adj.up {
                alive.push(*port);
            }
        }
        for port in dead {
            self.adjacency_lost(now, port);
        }
        for port in alive {
            self.send_on_port(port, &MgmtMsg::Keepalive { eid: Eid::MGMT });
        }
        self.resend_adjacency_requests();
    }

    /// Up adjacencies as advertised links: (neighbour, cost), one per neighbour (lowest cost).
    pub(super) fn advertised_links(&self) -> Vec<crate::wire::LsaLink> {
        let mut best: std::collections::BTreeMap<Address, u32> = Default::default();
        for adj in self.adjacencies.values().filter(|a| a.up) {
            let c = best.entry(adj.neighbor).or_insert(adj.cost);
            *c = (*c).min(adj.cost);
        }
        best.into_iter()
            .map(|(neighbor, cost)| crate::wire::LsaLink { neighbor, cost })
            .collect()
    }
}
