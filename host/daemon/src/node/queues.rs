//! The queue sizes of a unicast IPCP (`queue_pdus`, `mgmt_queue_pdus`, `backlog_sdus`,
//! `backlog_bytes` in the configuration; the same options of `ouro ipcp create`): the
//! per-cube and management queues of each of its scheduled ports, and the backlog each of
//! its flows may keep for an application whose socket is full.

use ouro_control::{QueueOptions, QueueSizes};
use ouro_core::sched::QueueLimits;

/// The sizes in force for one unicast IPCP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Queues {
    /// Limits of each scheduled port's queues.
    pub(super) ports: QueueLimits,
    /// Limits of each flow's backlog.
    pub(super) backlog: ouro_node::BacklogLimits,
}

impl Queues {
    /// The defaults, with what `opts` sets (checked).
    pub(super) fn new(opts: &QueueOptions) -> Result<Queues, String> {
        opts.check()?;
        let mut q = Queues::default();
        if let Some(n) = opts.cube_pdus {
            q.ports.packets = n;
            // ECN marking from three quarters of the queue, as the default 768 of 1,024.
            q.ports.ecn_threshold = Some((n - n / 4).max(1));
        }
        if let Some(n) = opts.mgmt_pdus {
            q.ports.mgmt_packets = n;
        }
        if let Some(n) = opts.backlog_sdus {
            q.backlog.msgs = n as usize;
        }
        if let Some(n) = opts.backlog_bytes {
            q.backlog.bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        Ok(q)
    }

    /// The sizes for `ouro status`.
    pub(super) fn sizes(&self) -> QueueSizes {
        QueueSizes {
            queue_pdus: self.ports.packets,
            mgmt_queue_pdus: self.ports.mgmt_packets,
            ecn_threshold: self.ports.ecn_threshold,
            backlog_sdus: self.backlog.msgs,
            backlog_bytes: self.backlog.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_core_defaults_and_options_replace_them() {
        let d = Queues::new(&QueueOptions::default()).expect("defaults");
        assert_eq!(d.ports, QueueLimits::default());
        assert_eq!((d.backlog.msgs, d.backlog.bytes), (4096, 4 << 20));
        let q = Queues::new(&QueueOptions {
            cube_pdus: Some(32),
            mgmt_pdus: Some(64),
            backlog_sdus: Some(10),
            backlog_bytes: Some(1 << 16),
        })
        .expect("valid");
        assert_eq!(
            q.ports,
            QueueLimits {
                packets: 32,
                mgmt_packets: 64,
                ecn_threshold: Some(24),
            }
        );
        assert_eq!((q.backlog.msgs, q.backlog.bytes), (10, 1 << 16));
        assert_eq!(q.sizes().queue_pdus, 32);
        assert_eq!(q.sizes().backlog_bytes, 65536);
        let bad = QueueOptions {
            mgmt_pdus: Some(1),
            ..QueueOptions::default()
        };
        assert!(Queues::new(&bad).is_err_and(|e| e.contains("mgmt_queue_pdus")));
    }
}
