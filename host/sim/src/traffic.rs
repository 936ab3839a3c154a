//! Application traffic: registering node names and running test flows between random pairs.

use crate::fabric::Driver;
use crate::flows::{FlowFailure, FlowRecord};
use crate::sim::{IPCP, Simulator};
use ouro_core::{Eid, QosSpec};
use ouro_node::FlowId;
use std::time::Duration;

/// A change made to a running simulation (see [`Simulator::run_flow_pairs_with`]).
pub type SimAction<'a> = Box<dyn FnOnce(&mut Simulator) + 'a>;

/// Outcome of a batch of test flows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowSummary {
    /// Flows whose every message arrived intact in time.
    pub ok: u64,
    /// Flows that failed or timed out.
    pub failed: u64,
}

impl Simulator {
    /// The application name node `index` registers: `node-<id>`.
    pub fn app_name(&self, index: usize) -> String {
        format!("node-{}", self.fabric.graph.nodes()[index])
    }

    /// Every enrolled node of the bootstrap component registers its application name and
    /// its application listens on it, then the simulation runs for `settle`. Returns how
    /// many registrations failed.
    pub fn register_names(&mut self, settle: Duration) -> u64 {
        let mut failed = 0;
        for n in self.component() {
            if !self.enrolled[n] {
                continue;
            }
            let name = self.app_name(n);
            let (node, now) = self.node_mut(n);
            node.listen(&name);
            let r = node.register(now, IPCP, &name);
            if self.count_error(r).is_none() {
                failed += 1;
            }
        }
        self.flush();
        self.run_for(settle);
        failed
    }

    /// Open `k` best-effort flows between random (src, dst) pairs of the bootstrap component
    /// (src ≠ dst, drawn from the seeded generator) and run them as
    /// [`Simulator::run_flow_pairs`] does. With fewer than two members, nothing runs.
    pub fn run_flows(&mut self, k: usize, msgs: u32, size: usize, limit: Duration) -> FlowSummary {
        let members = self.component();
        let len = members.len() as u64;
        let mut pairs = Vec::with_capacity(k);
        while len >= 2 && pairs.len() < k {
            let src = members[self.flow_rng.below(len) as usize];
            let dst = members[self.flow_rng.below(len) as usize];
            if src != dst {
                pairs.push((src, dst));
            }
        }
        self.run_flow_pairs(&pairs, msgs, size, limit)
    }

    /// Open one best-effort flow per (src, dst) pair of node indices, to the name
    /// `node-<dst id>`; each source writes `msgs` messages of `size` bytes (at least 8) once
    /// its flow is allocated. A flow succeeds when all its messages arrived intact within
    /// `limit` of simulated time; both ends then deallocate it. Returns the batch's totals.
    pub fn run_flow_pairs(
        &mut self,
        pairs: &[(usize, usize)],
        msgs: u32,
        size: usize,
        limit: Duration,
    ) -> FlowSummary {
        self.run_flow_pairs_with(pairs, msgs, size, limit, None)
    }

    /// As [`Simulator::run_flow_pairs`], and if `during` is `Some((after, action))`, run
    /// `action` once `after` of simulated time has passed since the flows were opened (while
    /// they are still running, if they last that long): a hook to change the network under
    /// traffic, such as swapping routing policies.
    pub fn run_flow_pairs_with(
        &mut self,
        pairs: &[(usize, usize)],
        msgs: u32,
        size: usize,
        limit: Duration,
        during: Option<(Duration, SimAction<'_>)>,
    ) -> FlowSummary {
        let Some((after, action)) = during else {
            return self.run_flow_pairs_every(pairs, msgs, size, limit, limit, &mut |_| {});
        };
        let mut once = Some(action);
        self.run_flow_pairs_every(pairs, msgs, size, limit, after, &mut |sim| {
            if let Some(action) = once.take() {
                action(sim);
            }
        })
    }

    /// As [`Simulator::run_flow_pairs`], running `action` every `period` of simulated time
    /// (first after one period) while the flows run: for changes repeated under traffic,
    /// such as swapping routing policies again and again. The action sees the simulator
    /// between events, as often as the check interval allows.
    pub fn run_flow_pairs_every(
        &mut self,
        pairs: &[(usize, usize)],
        msgs: u32,
        size: usize,
        limit: Duration,
        period: Duration,
        action: &mut dyn FnMut(&mut Simulator),
    ) -> FlowSummary {
        let wall = std::time::Instant::now();
        let first = self.flows.records.len();
        self.flows.configure(msgs, size);
        let start = self.now();
        for &(src, dst) in pairs {
            let idx = self.flows.add(src, dst, start.as_millis());
            let name = self.app_name(dst);
            let (node, now) = self.node_mut(src);
            match node.alloc_flow(now, IPCP, &name, QosSpec::BEST_EFFORT) {
                Ok(flow) => self.flows.set_src_eid(idx, flow.eid),
                Err(e) => self.flows.fail(idx, FlowFailure::Alloc(e), now.as_millis()),
            }
        }
        self.flush();
        let deadline = self.now() + limit;
        let mut next = self.now() + period;
        while self.flows.pending_from(first) > 0 && self.now() < deadline {
            if self.now() >= next {
                action(self);
                next = self.now() + period;
            }
            let step = (self.now() + self.config.check_interval).min(deadline);
            self.run_until(step);
        }
        self.flows.time_out_from(first, self.now().as_millis());
        self.wall += wall.elapsed();
        let (ok, failed) = self.flows.summary_from(first);
        FlowSummary { ok, failed }
    }

    /// Every test flow so far, in creation order.
    pub fn flow_results(&self) -> &[FlowRecord] {
        &self.flows.records
    }

    /// Totals over every test flow so far.
    pub fn flow_summary(&self) -> FlowSummary {
        let (ok, failed) = self.flows.summary_from(0);
        FlowSummary { ok, failed }
    }

    /// `FlowAllocated` at `n`: if it is one of ours, write its messages.
    pub(crate) fn start_sending(&mut self, n: usize, flow: Eid) {
        let Some(idx) = self.flows.pending_source(n, flow) else {
            return;
        };
        let flow = FlowId {
            ipcp: IPCP,
            eid: flow,
        };
        for m in self.flows.messages(idx) {
            let (node, now) = self.node_mut(n);
            // A write the flow may not send yet is held by the node and goes later.
            if let Err(e) = node.write(now, flow, &m) {
                self.flows.fail(idx, FlowFailure::Write(e), now.as_millis());
                break;
            }
        }
    }

    /// Flow `idx` delivered everything: both ends deallocate it.
    pub(crate) fn finish_flow(&mut self, idx: usize) {
        let rec = &self.flows.records[idx];
        let ends = [(rec.src, rec.src_eid), (rec.dst, rec.dst_eid)];
        for (n, eid) in ends {
            if let Some(eid) = eid {
                let (node, now) = self.node_mut(n);
                let r = node.dealloc(now, FlowId { ipcp: IPCP, eid });
                self.count_error(r);
            }
        }
    }
}
