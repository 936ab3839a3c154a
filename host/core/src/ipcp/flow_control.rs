//! Flow control of allocated flows: local back-pressure (a write that finds the flow's
//! outgoing cube queue full is refused, not dropped), the sender's AIMD rate
//! ([`crate::congestion`]), and the receiver's prompt, rate-limited congestion echo.
//!
//! The receiver echoes congestion in a `FlowUpdate` (PROTOCOL.md, 0x32) as soon as it sees
//! it — an ECN-marked PDU (a relay's or the sender's queue was over its marking threshold)
//! or its driver's report that the flow's backlog towards the application is deep
//! ([`Ipcp::flow_congested`]) — but at most once per [`ECHO_INTERVAL`]; what arrives in
//! between is echoed by the next one (or by the hello-interval tick). The sender's
//! [`crate::congestion::Aimd`] cuts its rate on each echo (at most once per hold-off).

use super::{Ipcp, IpcpError};
use crate::congestion::{AimdStats, Credit};
use crate::time::Instant;
use crate::wire::MgmtMsg;
use crate::{Eid, PortId, QosCube};
use std::time::Duration;

/// Least time between two congestion echoes of one flow.
pub const ECHO_INTERVAL: Duration = Duration::from_micros(500);

/// The congestion-control state of one flow, for status displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowCc {
    /// The allowed send rate in packets per second (`None`: unlimited).
    pub rate_pps: Option<u64>,
    /// The send rate measured over the last window.
    pub measured_pps: u64,
    /// The sender's counters.
    pub stats: AimdStats,
    /// Congestion echoes this end sent as a receiver.
    pub echoes_sent: u64,
}

impl Ipcp {
    /// Send application data on an allocated flow if its queue has room and its rate allows.
    pub(super) fn try_write_flow(
        &mut self,
        now: Instant,
        eid: Eid,
        data: &[u8],
    ) -> Result<(), IpcpError> {
        let Some(flow) = self.flows.get_mut(eid) else {
            return Err(IpcpError::NoSuchFlow);
        };
        let Some((peer, peer_eid)) = flow.peer() else {
            return Err(IpcpError::NoSuchFlow);
        };
        if let Credit::Wait(_) = flow.cc.credit(now) {
            self.counters.flow_refused += 1;
            return Err(IpcpError::WouldBlock);
        }
        let cube = flow.qos.cube();
        // One route lookup per PDU: the port whose queue must have room is the one the PDU
        // is then queued on.
        let port = self.route(peer, peer_eid, cube);
        if self.port_room(port, cube) == Some(0) {
            self.counters.flow_refused += 1;
            return Err(IpcpError::WouldBlock);
        }
        if let Some(flow) = self.flows.get_mut(eid) {
            flow.last_tx = now;
            flow.cc.sent(now, 1);
        }
        self.send_routed_via(port, peer, peer_eid, cube, data)
    }

    /// Room left in the scheduled queue PDUs to `(dst, eid)` in `cube` go to (`None`: the
    /// route's port is not scheduled, or there is no route).
    fn queue_room(&self, dst: crate::Address, eid: Eid, cube: QosCube) -> Option<usize> {
        self.port_room(self.route(dst, eid, cube), cube)
    }

    /// Room left in `port`'s queue of `cube` (`None`: no port, or not scheduled).
    fn port_room(&self, port: Option<PortId>, cube: QosCube) -> Option<usize> {
        self.port_queues.get(&port?).map(|q| q.cube_room(cube))
    }

    /// What `flow` may send at `now`: [`Credit::Pdus`] with the room in its outgoing queue
    /// (or its rate's credit, whichever is smaller), [`Credit::Unlimited`] if neither
    /// limits it, [`Credit::Wait`] until its rate allows more, or `Pdus(0)` while its
    /// queue is full (room comes back when the driver dequeues). `None` if there is no
    /// such allocated flow.
    pub fn flow_room(&mut self, now: Instant, flow: Eid) -> Option<Credit> {
        let f = self.flows.get_mut(flow)?;
        let (peer, peer_eid) = f.peer()?;
        let cube = f.qos.cube();
        let rate = f.cc.credit(now);
        let queue = self.queue_room(peer, peer_eid, cube).map(|n| n as u64);
        Some(match (rate, queue) {
            (Credit::Wait(t), _) => Credit::Wait(t),
            (Credit::Unlimited, None) => Credit::Unlimited,
            (Credit::Unlimited, Some(q)) => Credit::Pdus(q),
            (Credit::Pdus(n), None) => Credit::Pdus(n),
            (Credit::Pdus(n), Some(q)) => Credit::Pdus(n.min(q)),
        })
    }

    /// Room left in the outgoing queue `flow`'s PDUs go to, whatever its rate allows
    /// (`None`: no such allocated flow, no route, or the route's port is not scheduled).
    pub fn flow_queue_room(&self, flow: Eid) -> Option<usize> {
        let f = self.flows.get(flow)?;
        let (peer, peer_eid) = f.peer()?;
        self.queue_room(peer, peer_eid, f.qos.cube())
    }

    /// The driver reports that `flow`'s data is piling up towards its application (its
    /// backlog passed a threshold, or dropped): echo congestion to the sender, as for an
    /// ECN-marked PDU.
    pub fn flow_congested(&mut self, now: Instant, flow: Eid) {
        self.tick_clock(now);
        if let Some(f) = self.flows.get_mut(flow) {
            f.ecn_seen = f.ecn_seen.max(1);
            self.echo_congestion(now, flow);
        }
        self.flush(now);
    }

    /// Send `flow`'s congestion echo now unless one went out within [`ECHO_INTERVAL`].
    pub(super) fn echo_congestion(&mut self, now: Instant, flow: Eid) {
        let Some(f) = self.flows.get_mut(flow) else {
            return;
        };
        let Some((peer, peer_eid)) = f.peer() else {
            return;
        };
        if f.ecn_seen == 0 || now < f.next_echo {
            return;
        }
        let ece = u16::from(f.ecn_seen);
        f.ecn_seen = 0;
        f.next_echo = now + ECHO_INTERVAL;
        f.echoes_sent += 1;
        self.counters.echoes_sent += 1;
        let _ = self.send_mgmt(peer, &MgmtMsg::FlowUpdate { eid: peer_eid, ece });
    }

    /// The congestion-control state of `flow`.
    pub fn flow_cc(&self, flow: Eid) -> Option<FlowCc> {
        let f = self.flows.get(flow)?;
        Some(FlowCc {
            rate_pps: f.cc.rate(),
            measured_pps: f.cc.measured_pps(),
            stats: f.cc.stats,
            echoes_sent: f.echoes_sent,
        })
    }
}
