//! Applications' flows: allocation, the backlog towards the reader, and the back-pressure
//! that holds a writer.
//!
//! **Writer.** A message goes to the IPCP with [`Ipcp::flow_try_write`]. When the flow's
//! outgoing cube queue is full, or its congestion-controlled rate says wait, the IPCP
//! refuses it (nothing is dropped): the node holds it ([`Written::Held`]) and the driver
//! stops taking the application's writes. The flow is *parked*: when the queue has room
//! again ([`RESUME_ROOM`]; the node looks after every dequeue) or its rate's wait is over
//! (a timer; a parked flow is also looked at every [`RECHECK`]), the held messages go and,
//! once none is left, [`Event::FlowWritable`] lets the application write again.
//!
//! **Reader.** What arrives waits in the flow's backlog until [`Node::read`]. From half
//! full on, and when it overflows (the message is dropped, counted), the node tells the
//! IPCP once per pump ([`Ipcp::flow_congested`]), which echoes congestion to the sender.
//!
//! [`Ipcp::flow_try_write`]: ouro_core::Ipcp::flow_try_write
//! [`Ipcp::flow_congested`]: ouro_core::Ipcp::flow_congested
//! [`RECHECK`]: crate::recursion::RECHECK

use crate::backlog::{Backlog, Pushed};
use crate::held::Held;
use crate::ids::{FlowId, IpcpId};
use crate::recursion::RECHECK;
use crate::{Event, Node, NodeError};
use ouro_core::congestion::Credit;
use ouro_core::ipcp::{FlowEnd, IpcpError};
use ouro_core::{Instant, QosSpec};
use std::collections::BTreeMap;
use std::time::Duration;

/// A parked flow is resumed when its queue has room for this many PDUs again (or for half
/// the queue, if that is less): a resumed writer fills a good part of the queue at once
/// rather than a scheduler batch at a time.
pub(crate) const RESUME_ROOM: u64 = 512;

/// What became of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Handed to the layer.
    Sent,
    /// Held: the flow may not send now. Nothing is lost; write no more until
    /// [`Event::FlowWritable`].
    Held,
}

/// Counters of one application flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Messages handed to the layer.
    pub tx_msgs: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Writes the layer refused (no route, flow gone...).
    pub tx_errors: u64,
    /// Messages read by the application.
    pub rx_msgs: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Messages dropped because the backlog was full.
    pub rx_drops: u64,
    /// Times a write was held.
    pub pauses: u64,
    /// Times the deep backlog was reported as congestion.
    pub congestion_reports: u64,
    /// Messages waiting to be read.
    pub backlog: u64,
    /// Their bytes.
    pub backlog_bytes: u64,
    /// Messages held back from the layer.
    pub held: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Allocating,
    Open,
    Ended(FlowEnd),
}

/// One application flow.
pub(crate) struct AppFlow {
    pub state: State,
    pub name: String,
    pub qos: QosSpec,
    pub backlog: Backlog,
    pub held: Held,
    /// Reported as congested this pump already.
    pub congested: bool,
    /// Given up if not allocated by then.
    pub deadline: Option<Instant>,
    pub stats: FlowStats,
}

impl Node {
    /// Ask IPCP `ipcp`'s layer for a flow to `name`: [`Event::FlowAllocated`] or
    /// [`Event::FlowEnded`] tells how it went.
    pub fn alloc_flow(
        &mut self,
        now: Instant,
        ipcp: IpcpId,
        name: &str,
        qos: QosSpec,
    ) -> Result<FlowId, NodeError> {
        let now = self.tick(now);
        let l = self.live_mut(ipcp)?;
        let eid = l.ipcp.alloc_flow(now, name, qos)?;
        let backlog = Backlog::new(l.opts.backlog);
        let flow = FlowId { ipcp, eid };
        self.flows
            .insert(flow, AppFlow::new(State::Allocating, name, qos, backlog));
        self.dirty = true;
        Ok(flow)
    }

    /// [`Node::alloc_flow`], given up (deallocated, [`FlowEnd::Unreachable`]) if it is not
    /// allocated within `timeout`.
    pub fn alloc_flow_within(
        &mut self,
        now: Instant,
        ipcp: IpcpId,
        name: &str,
        qos: QosSpec,
        timeout: Duration,
    ) -> Result<FlowId, NodeError> {
        let flow = self.alloc_flow(now, ipcp, name, qos)?;
        if let Some(f) = self.flows.get_mut(&flow) {
            f.deadline = Some(self.now + timeout);
        }
        Ok(flow)
    }

    /// Give up the allocations whose deadline has passed.
    pub(crate) fn expire_allocations(&mut self, now: Instant) {
        let expired: Vec<FlowId> = self
            .flows
            .iter()
            .filter(|(_, f)| f.state == State::Allocating && f.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for flow in expired {
            let _ = self.layers[flow.ipcp.index()]
                .ipcp
                .dealloc_flow(now, flow.eid);
            self.flow_ended(flow, FlowEnd::Unreachable);
        }
    }

    /// The earliest deadline of an allocation under way.
    pub(crate) fn allocation_deadline(&self) -> Option<Instant> {
        self.flows
            .values()
            .filter(|f| f.state == State::Allocating)
            .filter_map(|f| f.deadline)
            .min()
    }

    /// The application writes one message on `flow`.
    pub fn write(&mut self, now: Instant, flow: FlowId, data: &[u8]) -> Result<Written, NodeError> {
        let now = self.tick(now);
        let f = open_flow(&mut self.flows, flow)?;
        if !f.held.is_empty() {
            // Keeps the application's order.
            f.held.push(data);
            return Ok(Written::Held);
        }
        let res = match self.layers[flow.ipcp.index()]
            .ipcp
            .flow_try_write(now, flow.eid, data)
        {
            Ok(()) => {
                f.stats.tx_msgs += 1;
                f.stats.tx_bytes += data.len() as u64;
                Ok(Written::Sent)
            }
            Err(IpcpError::WouldBlock) => {
                f.held.push(data);
                f.stats.pauses += 1;
                self.stats.app_pauses += 1;
                self.park(now, flow);
                Ok(Written::Held)
            }
            Err(e) => {
                f.stats.tx_errors += 1;
                Err(NodeError::Core(e))
            }
        };
        self.dirty = true;
        res
    }

    /// The application writes one message on `flow` without waiting for room: the layer
    /// queues it, or drops it (counted in the IPCP) when the flow's queue is full, and its
    /// congestion-controlled rate does not hold it. For sources that never wait (a timed
    /// stream, an open-loop flood in the simulator); applications use [`Node::write`],
    /// which holds what the flow may not send yet.
    pub fn write_or_drop(
        &mut self,
        now: Instant,
        flow: FlowId,
        data: &[u8],
    ) -> Result<(), NodeError> {
        let now = self.tick(now);
        let f = open_flow(&mut self.flows, flow)?;
        self.dirty = true;
        match self.layers[flow.ipcp.index()]
            .ipcp
            .flow_write(now, flow.eid, data)
        {
            Ok(()) => {
                f.stats.tx_msgs += 1;
                f.stats.tx_bytes += data.len() as u64;
                Ok(())
            }
            Err(e) => {
                f.stats.tx_errors += 1;
                Err(NodeError::Core(e))
            }
        }
    }

    /// The next message waiting on `flow`, if any.
    pub fn read(&mut self, flow: FlowId) -> Option<Vec<u8>> {
        self.settle();
        let f = self.flows.get_mut(&flow)?;
        let m = f.backlog.pop()?;
        f.stats.rx_msgs += 1;
        f.stats.rx_bytes += m.len() as u64;
        Some(m)
    }

    /// The messages waiting on `flow`, oldest first, without taking them (a driver that
    /// writes many per system call takes what it wrote with [`Node::consume`]).
    pub fn pending(&mut self, flow: FlowId) -> impl Iterator<Item = &[u8]> + '_ {
        self.settle();
        self.pending_from(flow, 0)
    }

    /// The messages waiting on `flow` from the `skip`-th oldest on, as of the last pump
    /// (the daemon packs them into socket messages without copying the list).
    pub fn pending_from(&self, flow: FlowId, skip: usize) -> impl Iterator<Item = &[u8]> + '_ {
        self.flows
            .get(&flow)
            .into_iter()
            .flat_map(move |f| f.backlog.iter_from(skip))
    }

    /// Take the `n` oldest messages waiting on `flow` as read, handing each buffer to
    /// `recycle`. Returns how many were taken.
    pub fn consume(&mut self, flow: FlowId, n: usize, mut recycle: impl FnMut(Vec<u8>)) -> usize {
        let Some(f) = self.flows.get_mut(&flow) else {
            return 0;
        };
        let mut taken = 0;
        while taken < n
            && let Some(m) = f.backlog.pop()
        {
            f.stats.rx_msgs += 1;
            f.stats.rx_bytes += m.len() as u64;
            recycle(m);
            taken += 1;
        }
        taken
    }

    /// True while messages wait on `flow` (as of the last pump).
    pub fn has_pending(&self, flow: FlowId) -> bool {
        self.flows.get(&flow).is_some_and(|f| f.backlog.len() > 0)
    }

    /// True while `flow` holds writes it may not send yet.
    pub fn is_held(&self, flow: FlowId) -> bool {
        self.flows.get(&flow).is_some_and(|f| !f.held.is_empty())
    }

    /// The application is done with `flow`: it is deallocated (the peer is told) unless it
    /// ended already, and forgotten.
    pub fn dealloc(&mut self, now: Instant, flow: FlowId) -> Result<(), NodeError> {
        let now = self.tick(now);
        let f = self.flows.remove(&flow).ok_or(NodeError::NoSuchFlow)?;
        self.parked.remove(&flow);
        if f.state != State::Ended(FlowEnd::Remote) && !matches!(f.state, State::Ended(_)) {
            let _ = self.layers[flow.ipcp.index()]
                .ipcp
                .dealloc_flow(now, flow.eid);
        }
        self.dirty = true;
        Ok(())
    }

    /// Counters of `flow`.
    pub fn flow_stats(&self, flow: FlowId) -> Option<FlowStats> {
        self.flows.get(&flow).map(|f| FlowStats {
            backlog: f.backlog.len() as u64,
            backlog_bytes: f.backlog.bytes() as u64,
            held: f.held.len() as u64,
            ..f.stats
        })
    }

    /// The application flows, in id order, with the name and QoS they were asked for.
    pub fn flows(&self) -> impl Iterator<Item = (FlowId, &str, &QosSpec)> + '_ {
        self.flows
            .iter()
            .map(|(id, f)| (*id, f.name.as_str(), &f.qos))
    }

    /// An allocation this node asked for completed: true if it was an application's.
    pub(crate) fn flow_allocated(&mut self, flow: FlowId) -> bool {
        let Some(f) = self.flows.get_mut(&flow) else {
            return false;
        };
        if f.state != State::Allocating {
            return false; // given up already
        }
        f.state = State::Open;
        self.stats.flows_allocated += 1;
        self.events.push_back(Event::FlowAllocated { flow });
        true
    }

    /// A peer asks for a flow to `name` in layer `li`: accepted if an application listens.
    pub(crate) fn flow_requested(
        &mut self,
        now: Instant,
        flow: FlowId,
        qos: QosSpec,
        name: Option<String>,
    ) {
        let ipcp = &mut self.layers[flow.ipcp.index()].ipcp;
        let Some(name) = name.filter(|n| self.listeners.contains(n)) else {
            self.stats.flows_refused += 1;
            let _ = ipcp.reject_flow(now, flow.eid);
            return;
        };
        if ipcp.accept_flow(now, flow.eid).is_err() {
            return;
        }
        let backlog = Backlog::new(self.layers[flow.ipcp.index()].opts.backlog);
        self.flows
            .insert(flow, AppFlow::new(State::Open, &name, qos, backlog));
        self.stats.flows_accepted += 1;
        self.events
            .push_back(Event::FlowIncoming { flow, name, qos });
    }

    /// Data arrived on an application's flow.
    pub(crate) fn flow_data(&mut self, flow: FlowId, data: Vec<u8>) {
        let Some(f) = self.flows.get_mut(&flow) else {
            return;
        };
        match f.backlog.push(data) {
            Pushed::First => self.events.push_back(Event::FlowReadable { flow }),
            Pushed::Queued => {}
            Pushed::Deep => self.backlog_deep(flow),
            Pushed::Dropped => {
                f.stats.rx_drops += 1;
                self.stats.backlog_drops += 1;
                self.backlog_deep(flow);
            }
        }
    }

    /// An application's flow ended (or its allocation failed).
    pub(crate) fn flow_ended(&mut self, flow: FlowId, reason: FlowEnd) -> bool {
        let Some(f) = self.flows.get_mut(&flow) else {
            return false;
        };
        f.state = State::Ended(reason);
        f.held = Held::default();
        self.parked.remove(&flow);
        self.events.push_back(Event::FlowEnded { flow, reason });
        true
    }

    /// Note when to look again at `flow`, which holds writes.
    fn park(&mut self, now: Instant, flow: FlowId) {
        let at = match self.layers[flow.ipcp.index()].ipcp.flow_room(now, flow.eid) {
            Some(Credit::Wait(t)) => t,
            _ => now + RECHECK,
        };
        self.parked.insert(flow, at);
    }

    /// Send what `flow` holds, as far as it may; park it again if some stays, tell the
    /// application it may write if none does.
    fn resume(&mut self, now: Instant, flow: FlowId) {
        self.parked.remove(&flow);
        let Some(f) = self.flows.get_mut(&flow) else {
            return;
        };
        let ipcp = &mut self.layers[flow.ipcp.index()].ipcp;
        while let Some(data) = f.held.front() {
            match ipcp.flow_try_write(now, flow.eid, data) {
                Ok(()) => {
                    f.stats.tx_msgs += 1;
                    f.stats.tx_bytes += data.len() as u64;
                }
                Err(IpcpError::WouldBlock) => break,
                Err(_) => f.stats.tx_errors += 1,
            }
            f.held.pop_front();
        }
        if f.held.is_empty() {
            self.events.push_back(Event::FlowWritable { flow });
        } else {
            self.park(now, flow);
        }
    }

    /// Resume the parked flows whose queue has room again, or whose time has come. True if
    /// any was resumed.
    pub(crate) fn wake_parked(&mut self, now: Instant) -> bool {
        if self.parked.is_empty() {
            return false;
        }
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        ready.extend(
            self.parked
                .iter()
                .filter(|(flow, at)| {
                    **at <= now || {
                        let l = &mut self.layers[flow.ipcp.index()];
                        let enough = RESUME_ROOM.min(u64::from(l.opts.queues.packets / 2).max(1));
                        match l.ipcp.flow_room(now, flow.eid) {
                            Some(Credit::Unlimited) | None => true,
                            // A rate that allows less than `enough` still resumes once
                            // the queue has room: the writer goes as far as the rate
                            // lets it, then parks until the rate's instant.
                            Some(Credit::Pdus(n)) => {
                                n >= enough
                                    || l.ipcp
                                        .flow_queue_room(flow.eid)
                                        .is_none_or(|q| q as u64 >= enough)
                            }
                            Some(Credit::Wait(_)) => false,
                        }
                    }
                })
                .map(|(flow, _)| *flow),
        );
        for flow in &ready {
            self.resume(now, *flow);
        }
        let any = !ready.is_empty();
        self.ready = ready;
        any
    }

    /// The earliest time a parked flow must be looked at.
    pub(crate) fn parked_deadline(&self) -> Option<Instant> {
        self.parked.values().min().copied()
    }

    fn backlog_deep(&mut self, flow: FlowId) {
        if let Some(f) = self.flows.get_mut(&flow)
            && !f.congested
        {
            f.congested = true;
            self.congested.push(flow);
        }
    }

    /// Report the flows whose backlog is deep to their IPCPs. True if any.
    pub(crate) fn report_congestion(&mut self, now: Instant) -> bool {
        if self.congested.is_empty() {
            return false;
        }
        for flow in std::mem::take(&mut self.congested) {
            if let Some(f) = self.flows.get_mut(&flow) {
                f.congested = false;
                f.stats.congestion_reports += 1;
                self.stats.backlog_reports += 1;
                self.layers[flow.ipcp.index()]
                    .ipcp
                    .flow_congested(now, flow.eid);
            }
        }
        true
    }
}

impl AppFlow {
    fn new(state: State, name: &str, qos: QosSpec, backlog: Backlog) -> AppFlow {
        AppFlow {
            state,
            name: name.to_string(),
            qos,
            backlog,
            held: Held::default(),
            congested: false,
            deadline: None,
            stats: FlowStats::default(),
        }
    }
}

/// `flow`, if it is open for writing.
fn open_flow(
    flows: &mut BTreeMap<FlowId, AppFlow>,
    flow: FlowId,
) -> Result<&mut AppFlow, NodeError> {
    let f = flows.get_mut(&flow).ok_or(NodeError::NoSuchFlow)?;
    match f.state {
        State::Open => Ok(f),
        State::Allocating => Err(NodeError::Core(IpcpError::NoSuchFlow)),
        State::Ended(_) => Err(NodeError::NoSuchFlow),
    }
}
