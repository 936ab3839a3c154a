//! The pump: after every input, the node drains its IPCPs' transmissions and events until
//! nothing moves — PDUs go to their shim or down their N-1 flow, events reach flows and
//! the driver, deep backlogs are reported, parked writers resume.

use crate::ids::{FlowId, IpcpId, Lower, ShimId};
use crate::{Event, Node, ShimTransmit};
use ouro_core::ipcp::Event as IpcpEvent;
use ouro_core::{Instant, PortId};

impl Node {
    /// Drain every IPCP until nothing moves.
    pub(crate) fn pump(&mut self, now: Instant) {
        loop {
            let mut busy = false;
            for li in 0..self.layers.len() {
                while let Some(t) = self.layers[li].ipcp.poll_transmit() {
                    busy = true;
                    self.transmit(now, li, t.port, t.data);
                }
                while let Some(ev) = self.layers[li].ipcp.poll_event() {
                    busy = true;
                    self.on_ipcp_event(now, li, ev);
                }
            }
            busy |= self.report_congestion(now);
            busy |= self.n1_pull(now);
            busy |= self.wake_parked(now);
            if !busy {
                break;
            }
        }
    }

    /// A PDU IPCP `li` sends on `port` without queueing it.
    fn transmit(&mut self, now: Instant, li: usize, port: PortId, data: Vec<u8>) {
        match self.layers[li].lower {
            Some(Lower::Shim { shim, .. }) => {
                self.transmits.push_back(ShimTransmit { shim, port, data })
            }
            Some(Lower::Unicast(_)) => self.n1_transmit(now, li, port, &data),
            None => {} // no ports: nothing to send on
        }
    }

    fn on_ipcp_event(&mut self, now: Instant, li: usize, ev: IpcpEvent) {
        let ipcp = IpcpId::of(li);
        match ev {
            IpcpEvent::Enrolled { address } => {
                self.on_enrolled(now, li);
                self.events.push_back(Event::Enrolled { ipcp, address });
            }
            IpcpEvent::EnrollFailed { .. } => {
                self.layers[li].enroll_retry_at = Some(now + self.config.enroll_retry);
                self.events.push_back(Event::EnrollFailed { ipcp });
            }
            IpcpEvent::AdjacencyUp { port, neighbor } => {
                self.events.push_back(Event::AdjacencyUp {
                    ipcp,
                    port,
                    neighbor,
                });
            }
            IpcpEvent::AdjacencyDown { port, neighbor } => {
                // Keep asking on configured ports: the neighbour may come back.
                let l = &mut self.layers[li];
                if let Some(&(_, cost)) = l.connects.iter().find(|(p, _)| *p == port) {
                    l.ipcp.connect(now, port, cost);
                }
                self.events.push_back(Event::AdjacencyDown {
                    ipcp,
                    port,
                    neighbor,
                });
            }
            IpcpEvent::RoutesChanged => self.events.push_back(Event::RoutesChanged { ipcp }),
            IpcpEvent::RouteRequest { id, own, topology } => {
                self.events.push_back(Event::RouteRequest {
                    ipcp,
                    id,
                    own,
                    topology,
                });
            }
            IpcpEvent::FlowAllocated { flow: eid } => {
                if !self.n1_allocated(now, li, eid) && !self.flow_allocated(FlowId { ipcp, eid }) {
                    // Nobody asked for it (any more).
                    let _ = self.layers[li].ipcp.dealloc_flow(now, eid);
                }
            }
            IpcpEvent::FlowRequest {
                flow: eid,
                name,
                qos,
            } => {
                if !self.n1_request(now, li, eid, name) {
                    let known = self.layers[li].names.get(&name).cloned();
                    self.flow_requested(now, FlowId { ipcp, eid }, qos, known);
                }
            }
            IpcpEvent::FlowData { flow: eid, data } => {
                if let Err(data) = self.n1_data(now, li, eid, data) {
                    self.flow_data(FlowId { ipcp, eid }, data);
                }
            }
            IpcpEvent::FlowEnded { flow: eid, reason } => {
                if !self.n1_ended(now, li, eid, reason) {
                    self.flow_ended(FlowId { ipcp, eid }, reason);
                }
            }
        }
    }

    /// A PDU arrived on `port` of shim `shim`: the IPCP over the shim takes it.
    pub fn shim_receive(&mut self, now: Instant, shim: ShimId, port: PortId, pdu: Vec<u8>) {
        let now = self.tick(now);
        match self.carrier(shim) {
            Some(li) => self.layers[li].ipcp.handle_pdu(now, port, pdu),
            None => self.stats.shim_orphans += 1,
        }
        self.dirty = true;
    }

    /// Take one scheduler batch of at most `budget` PDUs waiting for `port` of shim `shim`
    /// (management first, then the cube queues as the scheduler plans); they come out of
    /// [`Node::poll_transmit`]. Returns how many. The room this makes may resume held
    /// writers.
    pub fn dequeue(&mut self, now: Instant, shim: ShimId, port: PortId, budget: u32) -> u32 {
        let now = self.tick(now);
        let Some(li) = self.carrier(shim) else {
            return 0;
        };
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        let n = self.layers[li].ipcp.dequeue(now, port, budget, &mut batch);
        for t in batch.drain(..) {
            self.transmits.push_back(ShimTransmit {
                shim,
                port: t.port,
                data: t.data,
            });
        }
        self.batch = batch;
        self.dirty = true;
        n
    }

    /// PDUs waiting in the queues of `port` of shim `shim`.
    pub fn queued(&self, shim: ShimId, port: PortId) -> usize {
        self.carrier(shim)
            .map_or(0, |li| self.layers[li].ipcp.queued(port))
    }

    /// The scheduled ports of shim `shim` with PDUs waiting, in port order.
    pub fn ports_waiting(&self, shim: ShimId) -> Vec<PortId> {
        let Some(li) = self.carrier(shim) else {
            return Vec::new();
        };
        self.layers[li]
            .ipcp
            .scheduled_ports()
            .filter(|(_, q)| !q.is_empty())
            .map(|(p, _)| p)
            .collect()
    }
}
