//! Link-state routing: originating and flooding advertisements, route computation through
//! the routing policy, and installing the forwarding table.
//!
//! Originations are throttled (`lsa_min_interval`) and route computations delayed and held
//! down (`spf_delay`, `spf_hold`), as OSPF does, so that a burst of changes costs one
//! computation. A failed or invalid policy result keeps the table in force. The policy runs
//! here, or in the driver when asked (`route_requests`).

use super::route_requests::Router;
use super::{Event, Ipcp};
use crate::lsdb::Install;
use crate::routing::{Fib, FibEntries, FibEntry, NextHops, RoutingError, RoutingTable, Topology};
use crate::time::Instant;
use crate::wire::{Lsa, LsaRef};
use crate::{Address, PortId};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Delay between an adjacency change and the origination of our advertisement, so that the
/// adjacencies coming up together (a new member connecting to all its neighbours) are
/// announced in one advertisement.
pub const LSA_ORIGINATION_DELAY: std::time::Duration = std::time::Duration::from_millis(20);

impl Ipcp {
    /// Lifetime carried by our advertisements, in seconds.
    fn lsa_lifetime_s(&self) -> u16 {
        u16::try_from(self.config.lsa_max_age.as_secs())
            .unwrap_or(u16::MAX)
            .max(1)
    }

    /// Arrange for our advertisement to be (re)originated, respecting the minimum interval.
    pub(super) fn schedule_lsa(&mut self, now: Instant) {
        if !self.is_enrolled() || self.lsa_due.is_some() {
            return;
        }
        let earliest = self
            .last_lsa_at
            .map_or(now, |t| t + self.config.lsa_min_interval);
        self.lsa_due = Some(earliest.max(now + LSA_ORIGINATION_DELAY));
    }

    /// Originate our advertisement now and flood it.
    pub(super) fn originate_lsa(&mut self, now: Instant) {
        self.lsa_due = None;
        self.last_lsa_at = Some(now);
        self.own_seqno += 1;
        let lsa = Lsa {
            origin: self.address,
            seqno: self.own_seqno,
            lifetime_s: self.lsa_lifetime_s(),
            links: self.advertised_links(),
        };
        self.counters.lsas_originated += 1;
        self.lsdb.install(lsa, now);
        self.flood(self.address, None);
        self.schedule_spf(now);
    }

    /// Ports of the up adjacencies, but `except`.
    fn up_ports_except(&self, except: Option<PortId>) -> Vec<PortId> {
        self.adjacencies
            .iter()
            .filter(|(p, a)| a.up && Some(**p) != except)
            .map(|(p, _)| *p)
            .collect()
    }

    /// Queue `origin`'s advertisement on every up adjacency except `except`.
    fn flood(&mut self, origin: Address, except: Option<PortId>) {
        for port in self.up_ports_except(except) {
            self.queue_flood(port, origin);
        }
    }

    /// Send a flush (lifetime 0) on every up adjacency except `except` at once: it is no
    /// longer in the database for a paced batch to pick up.
    fn flood_flush(&mut self, now: Instant, lsa: &Lsa, except: Option<PortId>) {
        for port in self.up_ports_except(except) {
            self.send_lsas(now, port, vec![lsa.clone()]);
        }
    }

    /// The neighbour on `port` holds `origin`'s advertisement at `seqno`: drop older copies
    /// queued for it or waiting for its acknowledgement.
    fn neighbor_has(&mut self, port: PortId, origin: Address, seqno: u64) {
        let held = self.lsdb.get(origin).map(|l| l.seqno);
        if held.is_none_or(|h| h <= seqno)
            && let Some(q) = self.flood_queue.get_mut(&port)
        {
            q.remove(&origin);
        }
        if let Some(pending) = self.unacked.get_mut(&port)
            && pending.get(&origin).is_some_and(|(s, _)| *s <= seqno)
        {
            pending.remove(&origin);
        }
    }

    /// Advertisements from a neighbour.
    pub(super) fn on_lsu(&mut self, now: Instant, port: PortId, lsas: Vec<Lsa>) {
        if !self.is_enrolled() || !self.adjacencies.contains_key(&port) {
            self.counters.drop_not_ready += 1;
            return;
        }
        let acks = self.ack_queue.entry(port).or_default();
        acks.extend(lsas.iter().map(|l| LsaRef {
            origin: l.origin,
            seqno: l.seqno,
        }));
        for lsa in lsas {
            if lsa.origin == self.address {
                self.on_own_lsa(now, port, &lsa);
                continue;
            }
            let (origin, seqno) = (lsa.origin, lsa.seqno);
            let flush = (lsa.lifetime_s == 0).then(|| lsa.clone());
            let outcome = self.lsdb.install(lsa, now);
            if outcome != Install::Older {
                self.neighbor_has(port, origin, seqno);
            }
            match outcome {
                Install::Flushed => {
                    if let Some(flush) = flush {
                        self.flood_flush(now, &flush, Some(port));
                    }
                    self.schedule_spf(now);
                }
                Install::New | Install::Newer => {
                    self.flood(origin, Some(port));
                    self.schedule_spf(now);
                }
                Install::Older => self.queue_flood(port, origin),
                Install::Duplicate => {}
            }
        }
    }

    /// The neighbour on `port` acknowledges advertisements.
    pub(super) fn on_lsa_ack(&mut self, port: PortId, acks: &[LsaRef]) {
        let Some(pending) = self.unacked.get_mut(&port) else {
            return;
        };
        for ack in acks {
            if pending
                .get(&ack.origin)
                .is_some_and(|(seqno, _)| *seqno <= ack.seqno)
            {
                pending.remove(&ack.origin);
            }
        }
    }

    /// Send again, in their current version, the advertisements not acknowledged within a
    /// hello interval.
    fn retransmit_unacked(&mut self, now: Instant) {
        let rxmt = self.config.hello_interval;
        let mut resend: Vec<(PortId, Address)> = Vec::new();
        for (port, pending) in &self.unacked {
            for (origin, (_, sent_at)) in pending {
                if *sent_at + rxmt <= now {
                    resend.push((*port, *origin));
                }
            }
        }
        for (port, origin) in resend {
            if self.lsdb.contains(origin) {
                self.queue_flood(port, origin);
            } else if let Some(p) = self.unacked.get_mut(&port) {
                p.remove(&origin);
            }
        }
    }

    /// A copy of our own advertisement came back: if it claims a sequence number at least as
    /// high as ours (we restarted), jump past it; if it is older, send the neighbour ours.
    fn on_own_lsa(&mut self, now: Instant, port: PortId, lsa: &Lsa) {
        if lsa.seqno > self.own_seqno
            || (lsa.seqno == self.own_seqno && self.lsdb.get(self.address) != Some(lsa))
        {
            self.own_seqno = lsa.seqno;
            self.schedule_lsa(now);
        } else if lsa.seqno < self.own_seqno && self.lsdb.contains(self.address) {
            self.queue_flood(port, self.address);
        }
    }

    /// Arrange for a route computation after `spf_delay`, at most one per `spf_hold`.
    pub(super) fn schedule_spf(&mut self, now: Instant) {
        if !self.is_enrolled() || self.spf_due.is_some() || self.follow_up_outstanding_request() {
            return;
        }
        let soonest = now + self.config.spf_delay;
        let due = match self.last_spf_at {
            Some(t) => soonest.max(t + self.config.spf_hold),
            None => soonest,
        };
        self.spf_due = Some(due);
    }

    /// The topology the policy sees: everyone's advertisements, with our own links taken
    /// from our adjacencies as they are now (our advertisement may lag behind).
    pub(super) fn current_topology(&self) -> Topology {
        let own = self.address;
        let others = self.lsdb.links().filter(move |(from, _, _)| *from != own);
        let mine = self
            .advertised_links()
            .into_iter()
            .map(move |l| (own, l.neighbor, l.cost));
        Topology::from_links(others.chain(mine))
    }

    /// Run the routing policy and install its table, or, in requested mode, ask
    /// the driver for it.
    pub(super) fn run_spf(&mut self, now: Instant) {
        self.spf_due = None;
        self.last_spf_at = Some(now);
        self.counters.route_computations += 1;
        let topology = self.current_topology();
        let result = match &mut self.router {
            Router::Inline(policy) => policy.compute(self.address, &topology),
            Router::Requested { .. } => return self.emit_route_request(topology),
        };
        self.apply_routes(now, result, false);
    }

    /// Install a computation's result, wherever it ran: a failure, or a table whose next
    /// hops are not all up neighbours, keeps the table in force (counted in
    /// `routing_failures`, or in `stale_routes` when it is `outdated`: the topology changed
    /// while the driver computed and a newer computation is due).
    pub(super) fn apply_routes(
        &mut self,
        now: Instant,
        result: Result<RoutingTable, RoutingError>,
        outdated: bool,
    ) {
        let Ok(table) = result else {
            self.counters.routing_failures += 1;
            return;
        };
        match self.fib_from_table(&table) {
            Some(fib) => self.install_fib(fib),
            None if outdated => self.counters.stale_routes += 1,
            None => self.counters.routing_failures += 1,
        }
        self.republish_moved_names(now);
    }

    /// Turn a policy's tables into a forwarding table; `None` if a next hop is not an up
    /// neighbour (the output breaks the contract).
    fn fib_from_table(&self, table: &RoutingTable) -> Option<Fib> {
        let default = self.fib_entries(&table.routes)?;
        let mut cubes = Vec::with_capacity(table.cubes.len());
        for (cube, routes) in &table.cubes {
            cubes.push((*cube, self.fib_entries(routes)?));
        }
        Some(Fib::with_cubes(default, cubes))
    }

    /// The forwarding entries of one table of next hops.
    fn fib_entries(&self, routes: &BTreeMap<Address, NextHops>) -> Option<FibEntries> {
        let mut entries = FibEntries::with_capacity_and_hasher(routes.len(), Default::default());
        for (dst, hops) in routes {
            if *dst == self.address {
                continue;
            }
            let port_of = |a: &Address| self.neighbor_ports.get(a).map(|p| (*a, *p));
            let next_hops: Option<Vec<(Address, PortId)>> = hops.ecmp.iter().map(port_of).collect();
            let backup = match &hops.lfa {
                Some(a) => Some(port_of(a)?),
                None => None,
            };
            let mut next_hops = next_hops?;
            next_hops.sort_unstable();
            next_hops.dedup();
            if next_hops.is_empty() && backup.is_none() {
                continue;
            }
            entries.insert(*dst, FibEntry { next_hops, backup });
        }
        Some(entries)
    }

    /// Swap in `fib` if it differs from the table in force.
    fn install_fib(&mut self, fib: Fib) {
        if *self.fib != fib {
            self.fib = Arc::new(fib);
            self.emit_event(Event::RoutesChanged);
        }
    }

    /// Fast local repair after losing `port`: drop it from every entry, falling back on the
    /// loop-free alternates, until the next route computation.
    pub(super) fn repair_fib_without(&mut self, port: PortId) {
        let fib = self.fib.map_tables(|table| {
            let mut entries = FibEntries::with_capacity_and_hasher(table.len(), Default::default());
            for (dst, entry) in table {
                let next_hops: Vec<_> = entry
                    .next_hops
                    .iter()
                    .copied()
                    .filter(|(_, p)| *p != port)
                    .collect();
                let backup = entry.backup.filter(|(_, p)| *p != port);
                if next_hops.is_empty() && backup.is_none() {
                    continue;
                }
                entries.insert(*dst, FibEntry { next_hops, backup });
            }
            entries
        });
        self.install_fib(fib);
    }

    /// Age out advertisements and refresh our own.
    pub(super) fn link_state_tick(&mut self, now: Instant) {
        self.retransmit_unacked(now);
        if !self.lsdb.expire(now).is_empty() {
            self.schedule_spf(now);
        }
        if self
            .last_lsa_at
            .is_some_and(|t| t + self.config.lsa_refresh <= now)
        {
            self.schedule_lsa(now);
        }
    }
}
