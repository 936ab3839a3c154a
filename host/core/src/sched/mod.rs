//! Packet scheduling on N-1 ports: one bounded queue per QoS cube (plus a management queue
//! served first), and the [`SchedulerPolicy`] that plans each transmit batch.
//!
//! The policy is consulted once per batch (a driver's [`crate::Ipcp::dequeue`] call) with
//! the state of the port's non-empty cube queues and the number of packets the port can
//! send; it returns a [`Plan`]: drop / ECN-mark decisions for queue heads and an ordered list
//! of how many packets to take from which queue. The native queues carry the plan out for
//! the packets of that batch — a policy is never called per packet.
//!
//! Fail-safe: a plan that fails [`validate`] or a policy error counts as a scheduler failure
//! and the last good plan is applied instead (clamped to what the queues hold), or, before
//! any good plan, the native [`StrictPriority`] default. Budget a plan leaves unused while
//! packets wait is given out in the default priority order (the port is work-conserving), so
//! no policy output can stall a port.

mod native;
mod queues;

pub use native::{Drr, StrictPriority};
pub use queues::{BatchOutcome, CubeStats, ECN_SOJOURN, Enqueued, PortQueues, QueueLimits};

use crate::QosCube;
use std::time::Duration;

/// One cube queue's state at the start of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueState {
    /// Queue id, unique on the port (the cube's wire value).
    pub id: u32,
    /// QoS cube.
    pub cube: u8,
    /// Packets waiting.
    pub packets: u32,
    /// Bytes waiting.
    pub bytes: u64,
    /// How long the head packet has waited.
    pub head_age: Duration,
    /// Packets dropped on this queue (full queue) since the previous batch.
    pub drops: u32,
}

/// What to do with the head packets of a queue before dequeuing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Drop them (counted).
    Drop,
    /// Set their ECN field (to at least 1).
    MarkEcn,
}

/// A dequeue plan for one batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// `(queue, packets)` to dequeue, in order.
    pub takes: Vec<(u32, u32)>,
    /// `(queue, packets, verdict)` for the head packets of a queue, applied before the takes.
    pub actions: Vec<(u32, u32, Verdict)>,
}

/// Why a scheduler produced no plan.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchedError {
    /// The policy failed (trap, timeout, error); the message says why.
    #[error("scheduler failed: {0}")]
    Failed(String),
    /// The policy returned a plan that does not fit the queues.
    #[error("invalid plan: {0}")]
    Invalid(String),
}

/// A packet scheduler: plans one batch on one port from the state of its cube queues.
pub trait SchedulerPolicy: Send {
    /// Short name, for logs and status.
    fn name(&self) -> &str;
    /// Plan one batch of at most `budget` packets over `queues` (the non-empty cube queues
    /// of one port, in queue id order). The plan is checked with [`validate`] by the caller.
    fn schedule(&mut self, budget: u32, queues: &[QueueState]) -> Result<Plan, SchedError>;
}

/// Check a plan against the queues it was made for: known queues only, no more packets
/// taken from a queue than it holds, no more in total than `budget`, no action on more
/// packets than a queue holds.
pub fn validate(budget: u32, queues: &[QueueState], plan: &Plan) -> Result<(), String> {
    // Called once per batch (once per PDU when PDUs come one at a time): no allocation. A
    // port has a handful of cube queues, so a queue is found by a scan, and the packets
    // taken so far are summed per queue position (the last queue of an id, should two
    // share one, as a map built from the list would keep).
    let at = |queue: u32| queues.iter().rposition(|q| q.id == queue);
    let mut small = [0u64; 16];
    let mut large = Vec::new();
    let taken: &mut [u64] = if queues.len() <= small.len() {
        &mut small[..queues.len()]
    } else {
        large.resize(queues.len(), 0);
        &mut large
    };
    let mut total = 0u64;
    for &(queue, packets) in &plan.takes {
        let Some(i) = at(queue) else {
            return Err(format!("unknown queue {queue}"));
        };
        let sum = &mut taken[i];
        *sum += u64::from(packets);
        if *sum > u64::from(queues[i].packets) {
            return Err(format!(
                "takes {sum} packets from queue {queue} holding {}",
                queues[i].packets
            ));
        }
        total += u64::from(packets);
    }
    if total > u64::from(budget) {
        return Err(format!("plans {total} packets for a budget of {budget}"));
    }
    for &(queue, packets, _) in &plan.actions {
        let Some(i) = at(queue) else {
            return Err(format!("unknown queue {queue}"));
        };
        let have = queues[i].packets;
        if packets > have {
            return Err(format!(
                "acts on {packets} packets of queue {queue} holding {have}"
            ));
        }
    }
    Ok(())
}

/// The cube order the native default serves in: delay-sensitive first.
pub const DEFAULT_ORDER: [QosCube; QosCube::COUNT] = [
    QosCube::Voice,
    QosCube::Video,
    QosCube::Data,
    QosCube::BestEffort,
    QosCube::Raw,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn q(id: u32, packets: u32) -> QueueState {
        QueueState {
            id,
            cube: id as u8,
            packets,
            bytes: u64::from(packets) * 100,
            head_age: Duration::ZERO,
            drops: 0,
        }
    }

    #[test]
    fn validate_accepts_fitting_plans_and_rejects_the_rest() {
        let queues = [q(1, 5), q(3, 2)];
        let ok = Plan {
            takes: vec![(3, 2), (1, 3)],
            actions: vec![(1, 1, Verdict::MarkEcn)],
        };
        assert_eq!(validate(5, &queues, &ok), Ok(()));
        let bad = [
            Plan {
                takes: vec![(2, 1)],
                actions: vec![],
            },
            Plan {
                takes: vec![(3, 1), (3, 2)],
                actions: vec![],
            },
            Plan {
                takes: vec![(1, 5), (3, 1)],
                actions: vec![],
            },
            Plan {
                takes: vec![],
                actions: vec![(1, 6, Verdict::Drop)],
            },
            Plan {
                takes: vec![],
                actions: vec![(4, 1, Verdict::Drop)],
            },
        ];
        for plan in bad {
            assert!(validate(5, &queues, &plan).is_err(), "{plan:?}");
        }
    }

    #[test]
    fn validate_sums_takes_per_queue_beyond_the_small_table() {
        // More queues than the on-stack table holds: the same checks.
        let queues: Vec<QueueState> = (0..20).map(|i| q(i, 2)).collect();
        let fits = Plan {
            takes: vec![(19, 1), (0, 2), (19, 1)],
            actions: vec![(18, 2, Verdict::Drop)],
        };
        assert_eq!(validate(10, &queues, &fits), Ok(()));
        let over = Plan {
            takes: vec![(19, 1), (17, 1), (19, 2)],
            actions: vec![],
        };
        assert_eq!(
            validate(10, &queues, &over),
            Err("takes 3 packets from queue 19 holding 2".to_string())
        );
        let budget = Plan {
            takes: vec![(1, 2), (2, 2)],
            actions: vec![],
        };
        assert!(validate(3, &queues, &budget).is_err());
    }
}
