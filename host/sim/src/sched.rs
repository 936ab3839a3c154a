//! Per-cube queues on the simulated ports, and the scheduler and auth policies of a node.

use crate::node::port_of;
use crate::sim::Simulator;
use ouro_core::auth::AuthPolicy;
use ouro_core::sched::{QueueLimits, SchedulerPolicy};

impl Simulator {
    /// Schedule every port of every node: PDUs wait in the IPCP's per-cube queues (bounded
    /// by `limits`) and leave in batches of up to `batch` packets whenever the link's
    /// transmitter is free, as the node's scheduler plans. Without this, PDUs go to the link
    /// as soon as they are made and wait in its unbounded FIFO.
    pub fn schedule_ports(&mut self, limits: QueueLimits, batch: u32) {
        self.batch = Some(batch.max(1));
        for n in 0..self.nodes.len() {
            for (edge, _) in self.adj[n].clone() {
                self.nodes[n].ipcp.schedule_port(port_of(edge), limits);
            }
        }
    }

    /// Replace node `node`'s scheduler: `make` receives the one in force.
    pub fn set_scheduler(
        &mut self,
        node: usize,
        make: impl FnOnce(Box<dyn SchedulerPolicy>) -> Box<dyn SchedulerPolicy>,
    ) {
        self.nodes[node].ipcp.set_scheduler(make);
    }

    /// Replace node `node`'s auth policy: `make` receives the one in force.
    pub fn set_auth_policy(
        &mut self,
        node: usize,
        make: impl FnOnce(Box<dyn AuthPolicy>) -> Box<dyn AuthPolicy>,
    ) {
        self.nodes[node].ipcp.set_auth_policy(make);
    }
}
