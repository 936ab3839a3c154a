//! Per-cube queues on the simulated ports, and the scheduler and auth policies of a node.

use crate::fabric::Driver;
use crate::sim::{IPCP, Simulator};
use ouro_core::auth::AuthPolicy;
use ouro_core::sched::{QueueLimits, SchedulerPolicy};

impl Simulator {
    /// Schedule every port of every node: PDUs wait in the IPCP's per-cube queues (bounded
    /// by `limits`) and leave in batches of up to `batch` packets whenever the link's
    /// transmitter is free, as the node's scheduler plans (see
    /// [`ouro_node::Node::schedule_ports`]). Without this, PDUs go to the link as soon as
    /// they are made and wait in its unbounded FIFO.
    pub fn schedule_ports(&mut self, limits: QueueLimits, batch: u32) {
        self.fabric.batch = batch.max(1);
        for n in 0..self.enrolled.len() {
            let r = self.fabric.node_mut(n).schedule_ports(IPCP, limits);
            self.count_error(r);
        }
        self.flush();
    }

    /// Replace node `node`'s scheduler: `make` receives the one in force.
    pub fn set_scheduler(
        &mut self,
        node: usize,
        make: impl FnOnce(Box<dyn SchedulerPolicy>) -> Box<dyn SchedulerPolicy>,
    ) {
        if let Some(ipcp) = self.fabric.node_mut(node).ipcp_mut(IPCP) {
            ipcp.set_scheduler(make);
        }
        self.flush();
    }

    /// Replace node `node`'s auth policy: `make` receives the one in force.
    pub fn set_auth_policy(
        &mut self,
        node: usize,
        make: impl FnOnce(Box<dyn AuthPolicy>) -> Box<dyn AuthPolicy>,
    ) {
        if let Some(ipcp) = self.fabric.node_mut(node).ipcp_mut(IPCP) {
            ipcp.set_auth_policy(make);
        }
        self.flush();
    }
}
