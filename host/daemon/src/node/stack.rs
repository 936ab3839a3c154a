//! Recursion: a unicast IPCP over a unicast layer. Each of its ports is an N-1 flow in the
//! lower layer, allocated to the peer IPCP's name (an IPCP over a unicast layer registers its
//! own name there, so peers can reach it). PDUs of the upper IPCP are SDUs of those flows.
//!
//! **Back-pressure.** Those ports are scheduled like UDP ports: the upper IPCP's PDUs wait in
//! its per-cube queues, and [`Daemon::n1_pull`] moves them into the N-1 flow only as far as
//! the flow takes them ([`Ipcp::flow_room`]: room in the lower IPCP's queue, and the flow's
//! congestion-controlled rate). When the lower layer is the bottleneck the upper queues
//! fill, mark (ECN) and push back on the upper layer's applications, as a slow UDP link
//! does, instead of the lower IPCP dropping the upper one's PDUs.
//!
//! [`Ipcp::flow_room`]: ouro_core::Ipcp::flow_room

use super::Daemon;
use super::backpressure::RECHECK;
use super::pacer::BATCH;
use crate::control_error::ControlError;
use ouro_control::{FlowInfo, FlowKind, N1Port, Traffic};
use ouro_core::congestion::Credit;
use ouro_core::ipcp::FlowEnd;
use ouro_core::{Eid, Instant, NameHash, PortId, QosSpec};
use std::collections::HashMap;

/// How long to wait before asking again for an N-1 flow that could not be allocated.
const RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// An N-1 flow being allocated for an upper IPCP.
#[derive(Clone)]
pub(super) struct Want {
    /// The upper IPCP.
    upper: usize,
    /// The peer IPCP's name.
    peer: String,
    /// Adjacency cost.
    cost: u32,
    /// Enroll through it (else: connect).
    enroll: bool,
}

/// An N-1 flow seen from the lower IPCP: the upper IPCP's port it carries, and what it
/// delivered up.
pub(super) struct Down {
    upper: usize,
    port: PortId,
    /// PDUs (SDUs of the N-1 flow) handed to the upper IPCP.
    rx_pdus: u64,
    /// Their bytes.
    rx_bytes: u64,
}

/// An N-1 flow seen from the upper IPCP's port: the lower IPCP's flow, the peer, and what
/// was sent down it.
struct Up {
    lower: usize,
    eid: Eid,
    /// The peer IPCP's name (empty on the accepting side).
    peer: String,
    /// PDUs written into the N-1 flow.
    tx_pdus: u64,
    /// Their bytes.
    tx_bytes: u64,
    /// PDUs the lower IPCP refused (flow not ready, no route...).
    tx_drops: u64,
    /// Times the N-1 flow had no room while PDUs waited for it.
    waits: u64,
}

/// The N-1 flows of every upper IPCP.
#[derive(Default)]
pub(super) struct N1Flows {
    /// (lower IPCP, flow) → the upper IPCP's port.
    pub(super) by_lower: HashMap<(usize, Eid), Down>,
    /// (upper IPCP, port) → the lower IPCP's flow.
    by_upper: HashMap<(usize, PortId), Up>,
    /// Allocations under way.
    pending: HashMap<(usize, Eid), Want>,
    /// Allocations to ask for again at a time (the lower IPCP was not enrolled yet, or the
    /// peer was not there yet).
    retry: Vec<(Instant, Want)>,
    next_port: u32,
    /// When [`Daemon::n1_pull`] must look again at ports whose flows had no room.
    pull_at: Option<Instant>,
    /// The ports [`Daemon::n1_pull`] visits (reused).
    scratch: Vec<((usize, PortId), (usize, Eid))>,
}

impl Daemon {
    /// Ask for an N-1 flow from upper IPCP `li` to `peer` through its lower unicast IPCP;
    /// the adjacency (or enrollment) starts once the flow is allocated. An existing flow to
    /// the same peer is reused.
    pub(super) fn n1_join(
        &mut self,
        li: usize,
        lo: usize,
        peer: &str,
        cost: u32,
        enroll: bool,
    ) -> Result<(), ControlError> {
        let now = self.now();
        if let Some((&(_, port), _)) = self
            .n1
            .by_upper
            .iter()
            .find(|((u, _), up)| *u == li && up.peer == peer)
        {
            self.n1_start(li, port, cost, enroll);
            return Ok(());
        }
        let want = Want {
            upper: li,
            peer: peer.to_string(),
            cost,
            enroll,
        };
        if !self.layers[lo].ipcp.is_enrolled() {
            // Asked for again once the lower IPCP is in its layer.
            tracing::info!(ipcp = %self.layers[li].ipcp_name, "N-1 flow waits for the lower IPCP to enroll");
            self.n1.retry.push((now + RETRY, want));
            return Ok(());
        }
        let eid = self.layers[lo]
            .ipcp
            .alloc_flow(now, peer, QosSpec::RAW)
            .map_err(|e| ControlError::N1Flow {
                peer: peer.to_string(),
                why: e.to_string(),
            })?;
        self.n1.pending.insert((lo, eid), want);
        Ok(())
    }

    /// The earliest N-1 allocation to ask for again.
    pub(super) fn n1_deadline(&self) -> Option<Instant> {
        self.n1.retry.iter().map(|(t, _)| *t).min()
    }

    /// Ask again for the N-1 flows whose time has come.
    pub(super) fn n1_retry(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.n1.retry)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.n1.retry = later;
        for (_, w) in due {
            let Some(lo) = self.layers[w.upper]
                .over
                .filter(|_| !self.layers[w.upper].destroyed)
            else {
                continue;
            };
            if let Err(e) = self.n1_join(w.upper, lo, &w.peer, w.cost, w.enroll) {
                tracing::warn!(ipcp = %self.layers[w.upper].ipcp_name, error = %e, "N-1 flow");
            }
        }
    }

    /// True while an enrollment of upper IPCP `li` waits for its N-1 flow.
    pub(super) fn n1_enrolling(&self, li: usize) -> bool {
        self.n1.pending.values().any(|w| w.upper == li && w.enroll)
            || self.n1.retry.iter().any(|(_, w)| w.upper == li && w.enroll)
    }

    fn n1_start(&mut self, li: usize, port: PortId, cost: u32, enroll: bool) {
        let now = self.now();
        let l = &mut self.layers[li];
        if enroll {
            l.enroll_via = Some(port);
            l.ipcp.enroll_via(now, port);
        } else {
            if let Some(c) = l.connects.iter_mut().find(|(p, _)| *p == port) {
                c.1 = cost;
            } else {
                l.connects.push((port, cost));
            }
            l.ipcp.connect(now, port, cost);
        }
    }

    fn n1_map(&mut self, lo: usize, eid: Eid, upper: usize, peer: String) -> PortId {
        let port = PortId(self.n1.next_port);
        self.n1.next_port = self.n1.next_port.wrapping_add(1);
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
        // Scheduled: its PDUs wait in the upper IPCP's queues until the flow takes them.
        let limits = self.layers[upper].queues.ports;
        self.layers[upper].ipcp.schedule_port(port, limits);
        port
    }

    /// Move what waits in the queues of upper IPCPs' N-1 ports into their flows, one
    /// scheduler batch per port, as far as each flow has room (see the module
    /// documentation). True if any PDU moved.
    pub(super) fn n1_pull(&mut self, now: Instant) -> bool {
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
                Some(Credit::Pdus(0)) => {
                    // The lower IPCP's pacer makes room and the pump calls again; look
                    // anyway after a while in case nothing else wakes the daemon.
                    Err(now + RECHECK)
                }
                Some(Credit::Pdus(n)) => Ok(u32::try_from(n).unwrap_or(BATCH).min(BATCH)),
                // The flow's rate: look again when it allows more.
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
                if let Some(buf) = self.layers[up].ipcp.recycle(t.data) {
                    self.spare.give(buf);
                }
            }
        }
        self.batch = batch;
        self.n1.scratch = ports;
        self.n1.pull_at = look_at;
        moved
    }

    /// When [`Daemon::n1_pull`] must run again for PDUs that wait for room.
    pub(super) fn n1_pull_deadline(&self) -> Option<Instant> {
        self.n1.pull_at
    }

    /// `FlowAllocated` in layer `lo`: true if it was an N-1 flow (now a port of its upper).
    pub(super) fn n1_allocated(&mut self, lo: usize, eid: Eid) -> bool {
        let Some(w) = self.n1.pending.remove(&(lo, eid)) else {
            return false;
        };
        if self.layers[w.upper].destroyed {
            let now = self.now();
            let _ = self.layers[lo].ipcp.dealloc_flow(now, eid);
            return true;
        }
        let port = self.n1_map(lo, eid, w.upper, w.peer.clone());
        tracing::info!(ipcp = %self.layers[w.upper].ipcp_name, peer = %w.peer, %port, "N-1 flow up");
        self.n1_start(w.upper, port, w.cost, w.enroll);
        true
    }

    /// `FlowRequest` in layer `lo` for `hash`: true if it names an IPCP over `lo` (accepted
    /// as a new port of it).
    pub(super) fn n1_request(&mut self, lo: usize, eid: Eid, hash: NameHash) -> bool {
        let Some(up) = (0..self.layers.len()).find(|u| {
            let l = &self.layers[*u];
            !l.destroyed
                && l.over == Some(lo)
                && self.layers[lo].ipcp.hash_name(&l.ipcp_name) == hash
        }) else {
            return false;
        };
        let now = self.now();
        if self.layers[lo].ipcp.accept_flow(now, eid).is_ok() {
            let port = self.n1_map(lo, eid, up, String::new());
            tracing::info!(ipcp = %self.layers[up].ipcp_name, %port, "N-1 flow accepted");
        }
        true
    }

    /// `FlowData` in layer `lo`: true if it was an upper IPCP's PDU (handed to it).
    pub(super) fn n1_data(&mut self, lo: usize, eid: Eid, data: Vec<u8>) -> Result<(), Vec<u8>> {
        match self.n1.by_lower.get_mut(&(lo, eid)) {
            Some(d) => {
                d.rx_pdus += 1;
                d.rx_bytes += data.len() as u64;
                let (up, port) = (d.upper, d.port);
                let now = self.now();
                self.layers[up].ipcp.handle_pdu(now, port, data);
                Ok(())
            }
            None => Err(data),
        }
    }

    /// `FlowEnded` in layer `lo`: true if it was an N-1 flow (its port goes down above).
    pub(super) fn n1_ended(&mut self, lo: usize, eid: Eid, reason: FlowEnd) -> bool {
        let now = self.now();
        if let Some(w) = self.n1.pending.remove(&(lo, eid)) {
            tracing::info!(ipcp = %self.layers[w.upper].ipcp_name, peer = %w.peer, ?reason, "N-1 flow not allocated; retrying");
            self.n1.retry.push((now + RETRY, w));
            return true;
        }
        let Some(Down {
            upper: up, port, ..
        }) = self.n1.by_lower.remove(&(lo, eid))
        else {
            return false;
        };
        self.n1.by_upper.remove(&(up, port));
        self.layers[up].connects.retain(|(p, _)| *p != port);
        self.layers[up].ipcp.port_down(now, port);
        tracing::info!(ipcp = %self.layers[up].ipcp_name, %port, ?reason, "N-1 flow ended");
        true
    }

    /// Send an upper IPCP's PDU on the N-1 flow behind `port`.
    pub(super) fn n1_transmit(&mut self, li: usize, port: PortId, data: &[u8]) {
        let now = self.now();
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

    /// How many N-1 flows carry ports of upper IPCP `li`.
    pub(super) fn n1_port_count(&self, li: usize) -> usize {
        self.n1.by_upper.keys().filter(|(up, _)| *up == li).count()
    }

    /// End every N-1 flow of upper IPCP `li` (it is being destroyed).
    pub(super) fn n1_drop_upper(&mut self, li: usize) {
        let now = self.now();
        let ports: Vec<_> = self
            .n1
            .by_upper
            .keys()
            .filter(|k| k.0 == li)
            .copied()
            .collect();
        for k in ports {
            if let Some(up) = self.n1.by_upper.remove(&k) {
                self.n1.by_lower.remove(&(up.lower, up.eid));
                let _ = self.layers[up.lower].ipcp.dealloc_flow(now, up.eid);
            }
        }
        self.n1.pending.retain(|_, w| w.upper != li);
        self.n1.retry.retain(|(_, w)| w.upper != li);
    }

    /// PDUs and bytes the N-1 flow behind `u` delivered to its upper IPCP.
    fn n1_received(&self, u: &Up) -> (u64, u64) {
        self.n1
            .by_lower
            .get(&(u.lower, u.eid))
            .map_or((0, 0), |d| (d.rx_pdus, d.rx_bytes))
    }

    /// The ports of upper IPCP `li` (N-1 flows) with their counters, as the UDP ports'
    /// are shown: each way PDUs and bytes, and PDUs the lower layer refused.
    pub(super) fn n1_ports(&self, li: usize) -> Vec<N1Port> {
        let mut v: Vec<N1Port> = self
            .n1
            .by_upper
            .iter()
            .filter(|((up, _), _)| *up == li)
            .map(|((_, port), u)| {
                let lower = &self.layers[u.lower];
                let (rx_pdus, rx_bytes) = self.n1_received(u);
                N1Port {
                    port: port.0,
                    peer: (!u.peer.is_empty()).then(|| u.peer.clone()),
                    remote_address: lower.ipcp.flow_peer(u.eid).map(|p| p.0.0),
                    lower: lower.ipcp_name.clone(),
                    flow: u.eid.0,
                    rx_pdus,
                    rx_bytes,
                    tx_pdus: u.tx_pdus,
                    tx_bytes: u.tx_bytes,
                    tx_drops: u.tx_drops,
                    waits: u.waits,
                }
            })
            .collect();
        v.sort_by_key(|r| r.port);
        v
    }

    /// The N-1 flows, for `ouro flows`.
    pub(super) fn n1_flows(&self) -> Vec<FlowInfo> {
        let mut v: Vec<FlowInfo> = self
            .n1
            .by_upper
            .iter()
            .map(|((up, port), u)| {
                let (rx_msgs, rx_bytes) = self.n1_received(u);
                FlowInfo {
                    layer: self.layers[u.lower].name.clone(),
                    ipcp: self.layers[u.lower].ipcp_name.clone(),
                    flow: u.eid.0,
                    name: (!u.peer.is_empty()).then(|| u.peer.clone()),
                    qos: "raw".into(),
                    traffic: Traffic {
                        tx_msgs: u.tx_pdus,
                        tx_bytes: u.tx_bytes,
                        rx_msgs,
                        rx_bytes,
                        tx_errors: u.tx_drops,
                    },
                    kind: FlowKind::N1 {
                        n1_for: self.layers[*up].ipcp_name.clone(),
                        port: port.0,
                    },
                }
            })
            .collect();
        v.sort_by(|a, b| (&a.layer, a.flow).cmp(&(&b.layer, b.flow)));
        v
    }
}
