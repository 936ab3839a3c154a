//! Scheduled shim ports: the daemon pulls batches from the node's per-port, per-cube queues
//! only while the shim can take more, so congestion builds where the scheduler policy
//! orders it. Written against [`ouro_shim::Shim`] (`queued`, `flush`): any shim with a
//! send queue can be paced; today the UDP shims are.
//!
//! Every port of a unicast IPCP over a UDP shim is scheduled (the node does it when the
//! port comes up): its PDUs wait in the core's management and per-cube queues.
//! [`Daemon::pull`] asks the node for batches of up to [`BATCH`] PDUs
//! ([`ouro_node::Node::dequeue`], one scheduler call per batch) while the shim's send queue
//! holds fewer than [`HIGH_WATER`] PDUs and, on a rate-limited link (`rate_pps`), while the
//! link's token bucket has credit ([`ouro_node::pacer::Pacer`]). When the socket is full
//! the shim's socket is watched for room and pulls again; when the bucket is empty the timer
//! wakes the daemon when it has refilled. The shim still sends runs of equal-size PDUs with
//! GSO; PDUs move from the core's queue to the shim's without a copy.
//!
//! Local-shim ports are not paced: a local shim hands PDUs straight to the IPCP above it in
//! the same process (nothing below it fills up). The ports of an IPCP over a unicast layer
//! (N-1 flows) are scheduled and pulled by the node itself, as far as their flows take PDUs.

use super::Daemon;
use ouro_control::{CubeQueue, MgmtQueue, Pacing, PortQueues};
use ouro_core::sched::DEFAULT_ORDER;
use ouro_core::{Instant, Ipcp};
use ouro_node::pacer::{BATCH, HIGH_WATER, Pacer, Room};
use ouro_shim::Shim;

/// The pacing state of a shim for `ouro status`.
pub(super) fn pacing(p: &Pacer) -> Pacing {
    Pacing {
        scheduled: p.enabled(),
        rate_pps: p.rate_pps(),
        ports: p.ports().iter().map(|p| p.0).collect(),
        batches: p.batches,
        pulled: p.pulled,
        rate_waits: p.rate_waits,
        shim_waits: p.shim_waits,
    }
}

/// The per-port per-cube queues of `ipcp` for `ouro status`: depth, drops and ECN
/// marks of every cube queue (delay-sensitive cubes first) and of the management queue.
pub(super) fn port_queues(ipcp: &Ipcp) -> Vec<PortQueues> {
    ipcp.scheduled_ports()
        .map(|(port, q)| PortQueues {
            port: port.0,
            mgmt: MgmtQueue {
                queued: q.mgmt_len(),
                dropped: q.mgmt_dropped(),
            },
            cubes: DEFAULT_ORDER
                .iter()
                .map(|c| {
                    let st = q.cube_stats(*c);
                    CubeQueue {
                        cube: format!("{c:?}").to_lowercase(),
                        queued: st.packets,
                        bytes: st.bytes,
                        dropped: st.dropped,
                        ecn_marked: st.marked,
                    }
                })
                .collect(),
        })
        .collect()
}

impl Daemon {
    /// Pull batches from the node's queues into shim `si` while it can take more. True if
    /// any PDU moved.
    pub(super) fn pull(&mut self, si: usize, now: Instant) -> bool {
        if !self.shims[si].pacer.enabled() {
            return false;
        }
        let id = self.shims[si].id;
        let mut moved = false;
        loop {
            let node = &self.node;
            let shim = &mut self.shims[si];
            let Some(port) = shim.pacer.next_port(|p| node.queued(id, p) > 0) else {
                break;
            };
            let budget = match shim.pacer.room(now, shim.link.queued()) {
                Room::Pdus(n) => n,
                Room::Rate => {
                    shim.pacer.rate_waits += 1;
                    break;
                }
                Room::Shim => {
                    // Hand the socket what it takes; pull again if that made room. The
                    // buffers it sent go back to the IPCP at once: a writer the node
                    // resumes meanwhile builds its next PDUs in them.
                    shim.link.flush();
                    let room = shim.link.queued() < HIGH_WATER;
                    if !room {
                        shim.pacer.shim_waits += 1;
                    }
                    self.reclaim_sent(si);
                    if room {
                        continue;
                    }
                    break;
                }
            };
            let n = self.node.dequeue(now, id, port, budget);
            self.shims[si].pacer.consumed(n);
            // Taking the batch runs the node's pump: writers held back resume into the
            // room it made.
            while let Some(t) = self.node.poll_transmit() {
                moved = true;
                self.transmit(now, t);
            }
            if n == 0 {
                break;
            }
        }
        moved
    }

    /// Before exiting: hand every shim all that waits in its ports' queues, whatever the
    /// link's rate (in the scheduler's order, management first), and send it, so the last
    /// messages (flow deallocations) leave even when the link had no credit left.
    pub(super) fn drain_ports(&mut self, now: Instant) {
        for si in 0..self.shims.len() {
            let id = self.shims[si].id;
            let ports = self.shims[si].pacer.ports().to_vec();
            for port in ports {
                while self.node.dequeue(now, id, port, BATCH) > 0 {
                    while let Some(t) = self.node.poll_transmit() {
                        self.transmit(now, t);
                    }
                }
            }
            self.shims[si].link.flush();
        }
    }

    /// The earliest time a rate-limited shim can take PDUs that wait in its queues.
    pub(super) fn pacer_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for s in &self.shims {
            let waiting = s
                .pacer
                .ports()
                .iter()
                .any(|p| self.node.queued(s.id, *p) > 0);
            if let Some(t) = s.pacer.deadline(waiting) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }
}
