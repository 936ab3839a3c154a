//! The native schedulers: strict priority (the default) and weighted deficit round robin.
//! They behave exactly like the `strict-priority` and `drr` Wasm policies in `policies/`.

use super::{DEFAULT_ORDER, Plan, QueueState, SchedError, SchedulerPolicy, Verdict};
use crate::QosCube;
use std::collections::BTreeMap;
use std::time::Duration;

/// Serve queues in a fixed cube order, each as far as the budget allows, before any packet
/// of a later cube.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrictPriority {
    order: [QosCube; QosCube::COUNT],
}

impl Default for StrictPriority {
    /// Delay-sensitive cubes first: voice, video, data, best effort, raw.
    fn default() -> Self {
        StrictPriority {
            order: DEFAULT_ORDER,
        }
    }
}

impl StrictPriority {
    /// Serve in `order` (cubes missing from it are never planned; the host's
    /// work-conserving fill still sends them when budget is left).
    pub fn new(order: [QosCube; QosCube::COUNT]) -> Self {
        StrictPriority { order }
    }

    /// Cube 0 first, then 1, ... (or the highest cube first if `reverse`): the order of the
    /// `strict-priority` Wasm policy and its `reverse` parameter.
    pub fn by_cube(reverse: bool) -> Self {
        let mut order = [
            QosCube::Raw,
            QosCube::BestEffort,
            QosCube::Video,
            QosCube::Voice,
            QosCube::Data,
        ];
        if reverse {
            order.reverse();
        }
        StrictPriority { order }
    }
}

impl SchedulerPolicy for StrictPriority {
    fn name(&self) -> &str {
        "native-strict-priority"
    }

    fn schedule(&mut self, budget: u32, queues: &[QueueState]) -> Result<Plan, SchedError> {
        let mut left = budget;
        let mut plan = Plan::default();
        for cube in self.order {
            if left == 0 {
                break;
            }
            if let Some(q) = queues.iter().find(|q| q.cube == cube as u8) {
                let n = q.packets.min(left);
                if n > 0 {
                    plan.takes.push((q.id, n));
                    left -= n;
                }
            }
        }
        Ok(plan)
    }
}

/// Weighted deficit round robin in packets: each round every backlogged queue earns its
/// cube's weight in packets of credit and sends up to its credit; credit carries over to
/// the next batch while the queue stays backlogged. Optionally ECN-marks the packets taken
/// from a queue whose head waited longer than a threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drr {
    weights: [u64; QosCube::COUNT],
    ecn_age: Option<Duration>,
    deficit: BTreeMap<u32, u64>,
    /// Whose turn it is, and whether that queue already got its quantum this turn.
    turn: Option<(u32, bool)>,
}

impl Drr {
    /// DRR with `weights` per cube (indexed by the cube's wire value; 0 counts as 1).
    pub fn new(weights: [u64; QosCube::COUNT]) -> Self {
        Drr {
            weights: weights.map(|w| w.max(1)),
            ecn_age: None,
            deficit: BTreeMap::new(),
            turn: None,
        }
    }

    /// Also mark the packets taken from a queue whose head waited longer than `age`.
    pub fn with_ecn_age(mut self, age: Duration) -> Self {
        self.ecn_age = Some(age);
        self
    }

    fn weight(&self, cube: u8) -> u64 {
        self.weights.get(usize::from(cube)).copied().unwrap_or(1)
    }
}

impl SchedulerPolicy for Drr {
    fn name(&self) -> &str {
        "native-drr"
    }

    fn schedule(&mut self, budget: u32, queues: &[QueueState]) -> Result<Plan, SchedError> {
        let mut queues: Vec<QueueState> =
            queues.iter().copied().filter(|q| q.packets > 0).collect();
        queues.sort_by_key(|q| q.id);
        self.deficit
            .retain(|id, _| queues.iter().any(|q| q.id == *id));
        if queues.is_empty() {
            self.turn = None;
            return Ok(Plan::default());
        }
        let weights: Vec<u64> = queues.iter().map(|q| self.weight(q.cube)).collect();
        let mut left: Vec<u32> = queues.iter().map(|q| q.packets).collect();
        let mut taken = vec![0u32; queues.len()];
        let mut budget = budget;
        let (mut pos, mut resuming) = match self.turn {
            Some((id, started)) => match queues.iter().position(|q| q.id >= id) {
                Some(p) => (p, started && queues[p].id == id),
                None => (0, false),
            },
            None => (0, false),
        };
        while budget > 0 && left.iter().any(|&l| l > 0) {
            let id = queues[pos].id;
            let credit = self.deficit.entry(id).or_insert(0);
            if !resuming {
                *credit += weights[pos];
            }
            resuming = false;
            let n = u32::try_from((*credit).min(u64::from(left[pos])).min(u64::from(budget)))
                .unwrap_or(0);
            *credit -= u64::from(n);
            left[pos] -= n;
            taken[pos] += n;
            budget -= n;
            if left[pos] == 0 {
                *credit = 0;
            }
            if budget == 0 && *credit > 0 && left[pos] > 0 {
                self.turn = Some((id, true));
                break;
            }
            pos = (pos + 1) % queues.len();
            self.turn = Some((queues[pos].id, false));
        }
        let mut plan = Plan::default();
        for (i, q) in queues.iter().enumerate() {
            if taken[i] == 0 {
                continue;
            }
            plan.takes.push((q.id, taken[i]));
            if self.ecn_age.is_some_and(|age| q.head_age > age) {
                plan.actions.push((q.id, taken[i], Verdict::MarkEcn));
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(cube: QosCube, packets: u32) -> QueueState {
        QueueState {
            id: cube as u32,
            cube: cube as u8,
            packets,
            bytes: u64::from(packets) * 1000,
            head_age: Duration::from_millis(5),
            drops: 0,
        }
    }

    #[test]
    fn strict_priority_serves_voice_before_bulk() {
        let mut s = StrictPriority::default();
        let plan = s
            .schedule(4, &[q(QosCube::BestEffort, 10), q(QosCube::Voice, 3)])
            .expect("native never fails");
        assert_eq!(plan.takes, vec![(3, 3), (1, 1)]);
        let plan = StrictPriority::by_cube(false)
            .schedule(4, &[q(QosCube::BestEffort, 10), q(QosCube::Voice, 3)])
            .expect("native never fails");
        assert_eq!(plan.takes, vec![(1, 4)]);
    }

    #[test]
    fn drr_shares_by_weight_across_batches() {
        let mut weights = [1; QosCube::COUNT];
        weights[QosCube::Video as usize] = 3;
        let mut d = Drr::new(weights);
        let mut sent = BTreeMap::<u32, u32>::new();
        for _ in 0..100 {
            let queues = [q(QosCube::BestEffort, 50), q(QosCube::Video, 50)];
            let plan = d.schedule(3, &queues).expect("native never fails");
            assert!(super::super::validate(3, &queues, &plan).is_ok());
            for (id, n) in plan.takes {
                *sent.entry(id).or_default() += n;
            }
        }
        assert_eq!(sent[&(QosCube::BestEffort as u32)], 75);
        assert_eq!(sent[&(QosCube::Video as u32)], 225);
    }

    #[test]
    fn drr_marks_old_heads() {
        let mut d = Drr::new([1; QosCube::COUNT]).with_ecn_age(Duration::from_millis(1));
        let plan = d
            .schedule(2, &[q(QosCube::BestEffort, 5)])
            .expect("native never fails");
        assert_eq!(plan.actions, vec![(1, 2, Verdict::MarkEcn)]);
    }
}
