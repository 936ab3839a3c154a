//! Transmit scheduling: per-cube queues on the ports a driver paces, and the scheduler
//! policy that plans each batch (see [`crate::sched`]).
//!
//! Ports are unscheduled by default: their PDUs go straight to [`Ipcp::poll_transmit`], in
//! order, as soon as they are made (a driver whose ports never push back). A driver that
//! knows when a port can send calls [`Ipcp::schedule_port`]; that port's PDUs then wait in
//! its queues until the driver asks for a batch with [`Ipcp::dequeue`].

use super::{Ipcp, Transmit};
use crate::PortId;
use crate::QosCube;
use crate::sched::{
    ECN_SOJOURN, Enqueued, Plan, PortQueues, QueueLimits, SchedError, SchedulerPolicy,
    StrictPriority, validate,
};
use crate::time::Instant;

impl Ipcp {
    /// Queue a PDU on `port`: for the management queue if `cube` is `None`.
    pub(super) fn push_transmit(&mut self, port: PortId, cube: Option<QosCube>, data: Vec<u8>) {
        self.push_transmit_marking(port, cube, data, true);
    }

    /// Queue a PDU this IPCP made on `port`: as [`Ipcp::push_transmit`], but never
    /// ECN-marked on enqueue.
    pub(super) fn push_transmit_local(
        &mut self,
        port: PortId,
        cube: Option<QosCube>,
        data: Vec<u8>,
    ) {
        self.push_transmit_marking(port, cube, data, false);
    }

    fn push_transmit_marking(
        &mut self,
        port: PortId,
        cube: Option<QosCube>,
        data: Vec<u8>,
        mark: bool,
    ) {
        if let Some(q) = self.port_queues.get_mut(&port) {
            match q.enqueue_marking(self.clock, cube, data, mark) {
                Enqueued::Queued => {}
                Enqueued::Marked => self.counters.ecn_marked += 1,
                Enqueued::Dropped => self.counters.drop_queue_full += 1,
            }
            return;
        }
        self.counters.tx_pdus += 1;
        self.transmits.push_back(Transmit { port, data });
    }

    /// Advance the clock queued PDUs are stamped with.
    pub(super) fn tick_clock(&mut self, now: Instant) {
        self.clock = self.clock.max(now);
    }

    /// Give `port` a management queue and one queue per cube bounded by `limits`: its PDUs
    /// wait there until [`Ipcp::dequeue`] (calling it again changes nothing).
    pub fn schedule_port(&mut self, port: PortId, limits: QueueLimits) {
        self.port_queues
            .entry(port)
            .or_insert_with(|| PortQueues::new(limits));
    }

    /// PDUs waiting in `port`'s queues (0 for an unscheduled port).
    pub fn queued(&self, port: PortId) -> usize {
        self.port_queues.get(&port).map_or(0, PortQueues::len)
    }

    /// Every scheduled port and its queues, in port order.
    pub fn scheduled_ports(&self) -> impl Iterator<Item = (PortId, &PortQueues)> + '_ {
        self.port_queues.iter().map(|(p, q)| (*p, q))
    }

    /// The queues of a scheduled port.
    pub fn port_queues(&self, port: PortId) -> Option<&PortQueues> {
        self.port_queues.get(&port)
    }

    /// Take one batch of at most `budget` PDUs for `port` into `out`: management PDUs
    /// first, then the cube queues as the scheduler plans (one policy call per batch, only
    /// if a cube queue holds packets). Returns how many PDUs were added.
    pub fn dequeue(
        &mut self,
        now: Instant,
        port: PortId,
        budget: u32,
        out: &mut Vec<Transmit>,
    ) -> u32 {
        self.tick_clock(now);
        let Some(q) = self.port_queues.get_mut(&port) else {
            return 0;
        };
        let mut sent = q.take_mgmt(budget, |data| out.push(Transmit { port, data }));
        let left = budget - sent;
        if left > 0 {
            let marked = q.mark_sojourn(now, ECN_SOJOURN, left);
            self.counters.ecn_marked += u64::from(marked);
            q.states(now, &mut self.sched_scratch);
            if !self.sched_scratch.is_empty() {
                let queues = &self.sched_scratch;
                let planned = self.scheduler.schedule(left, queues).and_then(|plan| {
                    validate(left, queues, &plan)
                        .map(|()| plan)
                        .map_err(SchedError::Invalid)
                });
                match planned {
                    Ok(plan) => self.last_plan = Some(plan),
                    Err(e) => {
                        self.counters.scheduler_failures += 1;
                        self.last_scheduler_error = Some(e);
                    }
                }
                let empty = Plan::default();
                let plan = self.last_plan.as_ref().unwrap_or(&empty);
                let batch = q.apply(plan, left, |data| out.push(Transmit { port, data }));
                self.counters.sched_dropped += u64::from(batch.dropped);
                self.counters.ecn_marked += u64::from(batch.marked);
                sent += batch.sent;
            }
        }
        self.counters.tx_pdus += u64::from(sent);
        sent
    }

    /// Replace the scheduler: `make` receives the one in force and returns the new one (it
    /// may keep the old one as a fallback). The last good plan stays as the fail-safe.
    pub fn set_scheduler(
        &mut self,
        make: impl FnOnce(Box<dyn SchedulerPolicy>) -> Box<dyn SchedulerPolicy>,
    ) {
        let old = std::mem::replace(&mut self.scheduler, Box::new(StrictPriority::default()));
        self.scheduler = make(old);
    }

    /// The name of the scheduler in force.
    pub fn scheduler_name(&self) -> &str {
        self.scheduler.name()
    }

    /// The most recent scheduler failure (the last good plan was applied instead).
    pub fn last_scheduler_error(&self) -> Option<&SchedError> {
        self.last_scheduler_error.as_ref()
    }
}
