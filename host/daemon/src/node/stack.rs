//! Recursion: a unicast IPCP over a unicast layer. Each of its ports is an N-1 flow in the
//! lower layer, allocated to the peer IPCP's name (an IPCP over a unicast layer registers its
//! own name there, so peers can reach it). PDUs of the upper IPCP are SDUs of those flows.

use super::Daemon;
use ouro_core::ipcp::FlowEnd;
use ouro_core::{Eid, Instant, NameHash, PortId, QosSpec};
use serde_json::json;
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

/// The N-1 flows of every upper IPCP.
#[derive(Default)]
pub(super) struct N1Flows {
    /// (lower IPCP, flow) → (upper IPCP, port).
    pub(super) by_lower: HashMap<(usize, Eid), (usize, PortId)>,
    /// (upper IPCP, port) → (lower IPCP, flow, peer name).
    by_upper: HashMap<(usize, PortId), (usize, Eid, String)>,
    /// Allocations under way.
    pending: HashMap<(usize, Eid), Want>,
    /// Allocations to ask for again at a time (the lower IPCP was not enrolled yet, or the
    /// peer was not there yet).
    retry: Vec<(Instant, Want)>,
    next_port: u32,
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
    ) -> Result<(), String> {
        let now = self.now();
        if let Some((&(_, port), _)) = self
            .n1
            .by_upper
            .iter()
            .find(|((u, _), (_, _, p))| *u == li && p == peer)
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
            .map_err(|e| format!("N-1 flow to `{peer}`: {e}"))?;
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
        self.n1.by_lower.insert((lo, eid), (upper, port));
        self.n1.by_upper.insert((upper, port), (lo, eid, peer));
        port
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
        match self.n1.by_lower.get(&(lo, eid)) {
            Some(&(up, port)) => {
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
        let Some((up, port)) = self.n1.by_lower.remove(&(lo, eid)) else {
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
        if let Some(&(lo, eid, _)) = self.n1.by_upper.get(&(li, port)) {
            let now = self.now();
            let _ = self.layers[lo].ipcp.flow_write(now, eid, data);
        }
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
            if let Some((lo, eid, _)) = self.n1.by_upper.remove(&k) {
                self.n1.by_lower.remove(&(lo, eid));
                let _ = self.layers[lo].ipcp.dealloc_flow(now, eid);
            }
        }
        self.n1.pending.retain(|_, w| w.upper != li);
        self.n1.retry.retain(|(_, w)| w.upper != li);
    }

    /// The N-1 flows, for `ouro flows`.
    pub(super) fn n1_json(&self) -> Vec<serde_json::Value> {
        let mut v: Vec<_> = self
            .n1
            .by_upper
            .iter()
            .map(|((up, port), (lo, eid, peer))| {
                json!({
                    "layer": self.layers[*lo].name,
                    "ipcp": self.layers[*lo].ipcp_name,
                    "flow": eid.0,
                    "name": if peer.is_empty() { None } else { Some(peer) },
                    "qos": "raw",
                    "n1_for": self.layers[*up].ipcp_name,
                    "port": port.0,
                })
            })
            .collect();
        v.sort_by_key(|r| (r["layer"].to_string(), r["flow"].as_u64()));
        v
    }
}
