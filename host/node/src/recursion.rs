//! Recursion: a unicast IPCP over a unicast layer. Each of its ports is an N-1 flow in the
//! lower layer, allocated to the peer IPCP's name (an IPCP over a unicast layer registers
//! its own name there, so peers can reach it); its PDUs are SDUs of those flows.
//!
//! **Back-pressure.** Those ports are scheduled: the upper IPCP's PDUs wait in its per-cube
//! queues, and [`Node::n1_pull`] moves them into the N-1 flow only as far as the flow takes
//! them ([`Ipcp::flow_room`]: room in the lower IPCP's queue, and the flow's
//! congestion-controlled rate). When the lower layer is the bottleneck the upper queues
//! fill, mark (ECN) and push back on the upper layer's applications, as a slow link does,
//! instead of the lower IPCP dropping the upper one's PDUs.
//!
//! [`Ipcp::flow_room`]: ouro_core::Ipcp::flow_room

use crate::ids::{IpcpId, Lower};
use crate::{Node, NodeError};
use ouro_core::congestion::Credit;
use ouro_core::ipcp::FlowEnd;
use ouro_core::{Eid, Instant, NameHash, PortId, QosSpec};
use std::collections::BTreeMap;
use std::time::Duration;

/// PDUs moved from an upper port's queues into its N-1 flow per scheduler call (at most).
pub(crate) const BATCH: u32 = 64;
/// A port whose N-1 flow had no room is looked at again after this long even if nothing
/// else wakes the node.
pub(crate) const RECHECK: Duration = Duration::from_millis(5);

/// An N-1 flow being allocated for an upper IPCP.
#[derive(Clone, Debug)]
pub(crate) struct Want {
    /// The upper IPCP.
    upper: usize,
    /// The peer IPCP's name.
    peer: String,
    /// Enroll through it.
    enroll: bool,
    /// Ask for an adjacency over it, with this cost.
    connect: Option<u32>,
}

impl Want {
    /// Upper IPCP `upper` wants to enroll through `peer`, or connect to it with `cost`.
    fn new(upper: usize, peer: &str, enroll: bool, cost: u32) -> Want {
        let mut want = Want {
            upper,
            peer: peer.to_string(),
            enroll: false,
            connect: None,
        };
        want.merge(enroll, cost);
        want
    }

    /// Add what another request for the same peer asks for.
    fn merge(&mut self, enroll: bool, cost: u32) {
        if enroll {
            self.enroll = true;
        } else {
            self.connect = Some(cost);
        }
    }
}

/// An N-1 flow seen from the lower IPCP: the upper IPCP's port it carries.
#[derive(Debug)]
struct Down {
    upper: usize,
    port: PortId,
    rx_pdus: u64,
    rx_bytes: u64,
}

/// An N-1 flow seen from the upper IPCP's port.
#[derive(Debug)]
struct Up {
    lower: usize,
    eid: Eid,
    /// The peer IPCP's name (empty on the accepting side).
    peer: String,
    tx_pdus: u64,
    tx_bytes: u64,
    tx_drops: u64,
    waits: u64,
}

/// One port of an IPCP over a unicast layer, for status displays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct N1Port {
    /// The upper IPCP's port.
    pub port: PortId,
    /// The lower IPCP.
    pub lower: IpcpId,
    /// The N-1 flow's endpoint id there.
    pub flow: Eid,
    /// The peer IPCP's name (`None` on the accepting side).
    pub peer: Option<String>,
    /// PDUs and bytes written into the N-1 flow.
    pub tx_pdus: u64,
    /// Bytes of those.
    pub tx_bytes: u64,
    /// PDUs the lower IPCP refused.
    pub tx_drops: u64,
    /// Times the N-1 flow had no room while PDUs waited for it.
    pub waits: u64,
    /// PDUs the N-1 flow delivered up.
    pub rx_pdus: u64,
    /// Bytes of those.
    pub rx_bytes: u64,
}

/// The N-1 flows of every upper IPCP. Ordered maps: the simulator needs the same order
/// every run.
#[derive(Default)]
pub(crate) struct N1Flows {
    by_lower: BTreeMap<(usize, Eid), Down>,
    by_upper: BTreeMap<(usize, PortId), Up>,
    pending: BTreeMap<(usize, Eid), Want>,
    /// Allocations to ask for again at a time.
    retry: Vec<(Instant, Want)>,
    next_port: u32,
    /// When [`Node::n1_pull`] must look again at ports whose flows had no room.
    pull_at: Option<Instant>,
    scratch: Vec<((usize, PortId), (usize, Eid))>,
}

impl Node {
    /// Ask for an N-1 flow from upper IPCP `li` to `peer` through its lower IPCP `lo`;
    /// the adjacency (or enrollment) starts once it is allocated. An existing flow to the
    /// same peer is reused.
    pub(crate) fn n1_join(
        &mut self,
        now: Instant,
        li: usize,
        lo: usize,
        peer: &str,
        cost: u32,
        enroll: bool,
    ) -> Result<(), NodeError> {
        if let Some((&(_, port), _)) = self
            .n1
            .by_upper
            .iter()
            .find(|((u, _), up)| *u == li && up.peer == peer)
        {
            self.n1_start(now, port, &Want::new(li, peer, enroll, cost));
            return Ok(());
        }
        // One N-1 flow per peer: a request while one is being allocated (or waits to be
        // asked for again) rides on it.
        let same = |w: &Want| w.upper == li && w.peer == peer;
        if let Some(w) = self.n1.pending.values_mut().find(|w| same(w)) {
            w.merge(enroll, cost);
            return Ok(());
        }
        if let Some((_, w)) = self.n1.retry.iter_mut().find(|(_, w)| same(w)) {
            w.merge(enroll, cost);
            return Ok(());
        }
        let want = Want::new(li, peer, enroll, cost);
        if !self.layers[lo].ipcp.is_enrolled() {
            // Asked for at once when the lower IPCP enrolls (and in any case later).
            self.push_retry(now, want);
            return Ok(());
        }
        let eid = self.layers[lo]
            .ipcp
            .alloc_flow(now, peer, QosSpec::RAW)
            .map_err(NodeError::Core)?;
        self.n1.pending.insert((lo, eid), want);
        Ok(())
    }

    /// Ask for `want` again after [`crate::NodeConfig::n1_retry`] (merged into a retry of
    /// the same flow already waiting).
    fn push_retry(&mut self, now: Instant, want: Want) {
        if let Some((_, w)) = self
            .n1
            .retry
            .iter_mut()
            .find(|(_, w)| w.upper == want.upper && w.peer == want.peer)
        {
            w.enroll |= want.enroll;
            w.connect = want.connect.or(w.connect);
            return;
        }
        self.n1.retry.push((now + self.config.n1_retry, want));
    }

    /// Lower IPCP `lo` enrolled: the N-1 allocations that waited for it go now.
    pub(crate) fn n1_lower_ready(&mut self, now: Instant, lo: usize) {
        let layers = &self.layers;
        for (t, w) in &mut self.n1.retry {
            if layers[w.upper].lower == Some(Lower::Unicast(IpcpId::of(lo))) {
                *t = now;
            }
        }
        self.n1_retry(now);
    }

    /// The earliest N-1 allocation to ask for again, or port to look at.
    pub(crate) fn n1_deadline(&self) -> Option<Instant> {
        let retry = self.n1.retry.iter().map(|(t, _)| *t).min();
        match (retry, self.n1.pull_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Ask again for the N-1 flows whose time has come.
    pub(crate) fn n1_retry(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.n1.retry)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.n1.retry = later;
        for (_, w) in due {
            let l = &self.layers[w.upper];
            let Some(Lower::Unicast(lo)) = l.lower else {
                continue;
            };
            if !l.is_live() || !self.layers[lo.index()].is_live() {
                continue;
            }
            // Enrollment first: a connect on the same flow follows it.
            let mut asks = Vec::new();
            if w.enroll {
                asks.push((true, 1));
            }
            if let Some(cost) = w.connect {
                asks.push((false, cost));
            }
            for (enroll, cost) in asks {
                if self
                    .n1_join(now, w.upper, lo.index(), &w.peer, cost, enroll)
                    .is_err()
                {
                    let mut again = w.clone();
                    again.enroll = enroll;
                    again.connect = (!enroll).then_some(cost);
                    self.push_retry(now, again);
                }
            }
        }
    }

    /// The N-1 flow behind `port` is up: enroll and/or connect over it as `want` asks.
    fn n1_start(&mut self, now: Instant, port: PortId, want: &Want) {
        let l = &mut self.layers[want.upper];
        if want.enroll && !l.ipcp.is_enrolled() {
            l.ipcp.enroll_via(now, port);
        }
        if let Some(cost) = want.connect {
            l.connect(now, port, cost);
        }
    }

    fn n1_map(&mut self, lo: usize, eid: Eid, upper: usize, peer: String) -> PortId {
        self.n1.next_port = self.n1.next_port.wrapping_add(1).max(1);
        let port = PortId(self.n1.next_port);
        self.n1.by_lower.insert(
            (lo, eid),
            Down {
                upper,
                port,
                rx_pdus: 0,
                rx_bytes: 0,
            },
        );
        self.n1.by_upper.insert(
            (upper, port),
            Up {
                lower: lo,
                eid,
                peer,
                tx_pdus: 0,
                tx_bytes: 0,
                tx_drops: 0,
                waits: 0,
            },
        );
        let limits = self.layers[upper].opts.queues;
        self.layers[upper].ipcp.schedule_port(port, limits);
        port
    }

    /// Move what waits in the queues of upper IPCPs' N-1 ports into their flows, one
    /// scheduler batch per port, as far as each flow has room. True if any PDU moved.
    pub(crate) fn n1_pull(&mut self, now: Instant) -> bool {
        if self.n1.by_upper.is_empty() {
            return false;
        }
        let mut ports = std::mem::take(&mut self.n1.scratch);
        ports.clear();
        ports.extend(self.n1.by_upper.iter().map(|(k, u)| (*k, (u.lower, u.eid))));
        let mut batch = std::mem::take(&mut self.batch);
        let mut moved = false;
        let mut look_at: Option<Instant> = None;
        for &((up, port), (lo, eid)) in &ports {
            if self.layers[up].ipcp.queued(port) == 0 {
                continue;
            }
            let budget = match self.layers[lo].ipcp.flow_room(now, eid) {
                Some(Credit::Unlimited) => Ok(BATCH),
                Some(Credit::Pdus(0)) => Err(now + RECHECK),
                Some(Credit::Pdus(n)) => Ok(u32::try_from(n).unwrap_or(BATCH).min(BATCH)),
                Some(Credit::Wait(t)) => Err(t),
                // Not allocated yet: the PDUs wait (they go when the port goes down).
                None => continue,
            };
            let budget = match budget {
                Ok(budget) => budget,
                Err(again) => {
                    if let Some(u) = self.n1.by_upper.get_mut(&(up, port)) {
                        u.waits += 1;
                    }
                    look_at = Some(look_at.map_or(again, |a| a.min(again)));
                    continue;
                }
            };
            batch.clear();
            self.layers[up].ipcp.dequeue(now, port, budget, &mut batch);
            let Some(u) = self.n1.by_upper.get_mut(&(up, port)) else {
                continue;
            };
            for t in batch.drain(..) {
                match self.layers[lo].ipcp.flow_try_write(now, eid, &t.data) {
                    Ok(()) => {
                        u.tx_pdus += 1;
                        u.tx_bytes += t.data.len() as u64;
                    }
                    Err(_) => u.tx_drops += 1,
                }
                moved = true;
                let _ = self.layers[up].ipcp.recycle(t.data);
            }
        }
        self.batch = batch;
        self.n1.scratch = ports;
        self.n1.pull_at = look_at;
        moved
    }

    /// `FlowAllocated` in layer `lo`: true if it was an N-1 flow (now a port of its upper).
    pub(crate) fn n1_allocated(&mut self, now: Instant, lo: usize, eid: Eid) -> bool {
        let Some(w) = self.n1.pending.remove(&(lo, eid)) else {
            return false;
        };
        if !self.layers[w.upper].is_live() {
            let _ = self.layers[lo].ipcp.dealloc_flow(now, eid);
            return true;
        }
        let port = self.n1_map(lo, eid, w.upper, w.peer.clone());
        self.n1_start(now, port, &w);
        true
    }

    /// `FlowRequest` in layer `lo` for `hash`: true if it names an IPCP over `lo` (accepted
    /// as a new port of it).
    pub(crate) fn n1_request(&mut self, now: Instant, lo: usize, eid: Eid, hash: NameHash) -> bool {
        let below = Some(Lower::Unicast(IpcpId::of(lo)));
        let Some(up) = (0..self.layers.len()).find(|u| {
            let l = &self.layers[*u];
            l.is_live() && l.lower == below && self.layers[lo].ipcp.hash_name(&l.name) == hash
        }) else {
            return false;
        };
        if self.layers[lo].ipcp.accept_flow(now, eid).is_ok() {
            self.n1_map(lo, eid, up, String::new());
        }
        true
    }

    /// `FlowData` in layer `lo`: handed to the upper IPCP if it is an N-1 flow; the data
    /// comes back otherwise.
    pub(crate) fn n1_data(
        &mut self,
        now: Instant,
        lo: usize,
        eid: Eid,
        data: Vec<u8>,
    ) -> Result<(), Vec<u8>> {
        match self.n1.by_lower.get_mut(&(lo, eid)) {
            Some(d) => {
                d.rx_pdus += 1;
                d.rx_bytes += data.len() as u64;
                let (up, port) = (d.upper, d.port);
                self.layers[up].ipcp.handle_pdu(now, port, data);
                Ok(())
            }
            None => Err(data),
        }
    }

    /// `FlowEnded` in layer `lo`: true if it was an N-1 flow (its port goes down above; an
    /// allocation that failed is asked for again).
    pub(crate) fn n1_ended(&mut self, now: Instant, lo: usize, eid: Eid, reason: FlowEnd) -> bool {
        if let Some(w) = self.n1.pending.remove(&(lo, eid)) {
            let _ = reason;
            self.push_retry(now, w);
            return true;
        }
        let Some(Down { upper, port, .. }) = self.n1.by_lower.remove(&(lo, eid)) else {
            return false;
        };
        self.n1.by_upper.remove(&(upper, port));
        self.layers[upper].connects.retain(|(p, _)| *p != port);
        self.layers[upper].ipcp.port_down(now, port);
        true
    }

    /// Send an upper IPCP's PDU on the N-1 flow behind `port` (PDUs the upper IPCP did not
    /// queue: its ports are scheduled, so this is rare).
    pub(crate) fn n1_transmit(&mut self, now: Instant, li: usize, port: PortId, data: &[u8]) {
        if let Some(up) = self.n1.by_upper.get_mut(&(li, port)) {
            match self.layers[up.lower].ipcp.flow_write(now, up.eid, data) {
                Ok(()) => {
                    up.tx_pdus += 1;
                    up.tx_bytes += data.len() as u64;
                }
                Err(_) => up.tx_drops += 1,
            }
        }
    }

    /// End every N-1 flow of upper IPCP `li` (it is being destroyed).
    pub(crate) fn n1_drop_upper(&mut self, now: Instant, li: usize) {
        let keys: Vec<_> = self
            .n1
            .by_upper
            .keys()
            .filter(|k| k.0 == li)
            .copied()
            .collect();
        for k in keys {
            if let Some(up) = self.n1.by_upper.remove(&k) {
                self.n1.by_lower.remove(&(up.lower, up.eid));
                let _ = self.layers[up.lower].ipcp.dealloc_flow(now, up.eid);
            }
        }
        self.n1.pending.retain(|_, w| w.upper != li);
        self.n1.retry.retain(|(_, w)| w.upper != li);
    }

    /// Lower IPCP `lo` is being destroyed: the ports its N-1 flows carried go down above.
    pub(crate) fn n1_drop_lower(&mut self, now: Instant, lo: usize) {
        let keys: Vec<_> = self
            .n1
            .by_lower
            .keys()
            .filter(|k| k.0 == lo)
            .copied()
            .collect();
        for k in keys {
            self.n1_ended(now, k.0, k.1, FlowEnd::Remote);
        }
        self.n1.pending.retain(|(l, _), _| *l != lo);
    }

    /// The ports of IPCP `id` that are N-1 flows, in port order.
    pub fn n1_ports(&self, id: IpcpId) -> Vec<N1Port> {
        self.n1
            .by_upper
            .range((id.index(), PortId(0))..=(id.index(), PortId(u32::MAX)))
            .map(|(&(_, port), u)| {
                let (rx_pdus, rx_bytes) = self
                    .n1
                    .by_lower
                    .get(&(u.lower, u.eid))
                    .map_or((0, 0), |d| (d.rx_pdus, d.rx_bytes));
                N1Port {
                    port,
                    lower: IpcpId::of(u.lower),
                    flow: u.eid,
                    peer: (!u.peer.is_empty()).then(|| u.peer.clone()),
                    tx_pdus: u.tx_pdus,
                    tx_bytes: u.tx_bytes,
                    tx_drops: u.tx_drops,
                    waits: u.waits,
                    rx_pdus,
                    rx_bytes,
                }
            })
            .collect()
    }
}
