//! The queues of one scheduled N-1 port: a management queue and one bounded queue per QoS
//! cube, and the native code that carries out a [`Plan`] on them.

use super::{DEFAULT_ORDER, Plan, QueueState, Verdict};
use crate::QosCube;
use crate::time::Instant;
use crate::wire::DtPacket;
use std::collections::VecDeque;

/// Bounds of a port's queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// Packets each cube queue holds; a packet arriving at a full queue is dropped (counted).
    pub packets: u32,
    /// Packets the management queue holds (served before every cube queue).
    pub mgmt_packets: u32,
    /// ECN-mark packets enqueued while their cube queue holds at least this many (`None`:
    /// never mark on enqueue).
    pub ecn_threshold: Option<u32>,
}

impl Default for QueueLimits {
    /// 1,024 packets per cube, 1,024 management packets, marking from 768 queued packets
    /// (a daemon enqueues a whole receive batch before it pulls, and paced senders send
    /// bursts of a few hundred PDUs: a lower mark flags bursts, not congestion; a standing
    /// queue is marked by its sojourn time, [`ECN_SOJOURN`]).
    fn default() -> Self {
        QueueLimits {
            packets: 1024,
            mgmt_packets: 1024,
            ecn_threshold: Some(768),
        }
    }
}

/// A packet that waited this long in a cube queue is ECN-marked when it leaves (see
/// [`PortQueues::mark_sojourn`]): the queue is standing, not a passing burst.
pub const ECN_SOJOURN: std::time::Duration = std::time::Duration::from_millis(5);

/// What became of an enqueued packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued as it was.
    Queued,
    /// Queued with its ECN field raised (the queue is above the marking threshold).
    Marked,
    /// Dropped: the queue is full.
    Dropped,
}

#[derive(Debug, Default)]
struct CubeQueue {
    packets: VecDeque<(Instant, Vec<u8>)>,
    bytes: u64,
    /// Full-queue drops since the last batch.
    drops: u32,
    /// Packets dropped on this queue so far (full queue or a plan's drop verdict).
    dropped: u64,
    /// Packets ECN-marked on this queue so far (on enqueue or by a plan).
    marked: u64,
}

impl CubeQueue {
    fn pop(&mut self) -> Option<Vec<u8>> {
        let (_, data) = self.packets.pop_front()?;
        self.bytes -= data.len() as u64;
        Some(data)
    }
}

/// Totals of one batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Packets handed out.
    pub sent: u32,
    /// Packets dropped by a plan's [`Verdict::Drop`].
    pub dropped: u32,
    /// Packets ECN-marked by a plan's [`Verdict::MarkEcn`].
    pub marked: u32,
}

/// The state and running totals of one cube queue (for status displays).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CubeStats {
    /// Packets waiting.
    pub packets: usize,
    /// Bytes waiting.
    pub bytes: u64,
    /// Packets dropped so far (full queue or a plan's drop verdict).
    pub dropped: u64,
    /// Packets ECN-marked so far.
    pub marked: u64,
}

/// A management queue and one queue per cube for one port.
#[derive(Debug)]
pub struct PortQueues {
    limits: QueueLimits,
    mgmt: VecDeque<Vec<u8>>,
    /// Management packets dropped so far (full management queue).
    mgmt_dropped: u64,
    cubes: [CubeQueue; QosCube::COUNT],
}

/// Raise a PDU's ECN field to at least 1; true if it was 0.
fn mark(pdu: &mut [u8]) -> bool {
    DtPacket::new_checked(pdu).is_ok_and(|mut p| p.mark_congested())
}

impl PortQueues {
    /// Empty queues bounded by `limits`.
    pub fn new(limits: QueueLimits) -> Self {
        PortQueues {
            limits,
            mgmt: VecDeque::new(),
            mgmt_dropped: 0,
            cubes: Default::default(),
        }
    }

    /// Packets waiting in all queues.
    pub fn len(&self) -> usize {
        self.mgmt.len() + self.cubes.iter().map(|c| c.packets.len()).sum::<usize>()
    }

    /// True if no packet waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Packets waiting in `cube`'s queue.
    pub fn cube_len(&self, cube: QosCube) -> usize {
        self.cubes[cube as usize].packets.len()
    }

    /// Packets `cube`'s queue still takes before it drops.
    pub fn cube_room(&self, cube: QosCube) -> usize {
        (self.limits.packets as usize).saturating_sub(self.cube_len(cube))
    }

    /// The state and totals of `cube`'s queue.
    pub fn cube_stats(&self, cube: QosCube) -> CubeStats {
        let q = &self.cubes[cube as usize];
        CubeStats {
            packets: q.packets.len(),
            bytes: q.bytes,
            dropped: q.dropped,
            marked: q.marked,
        }
    }

    /// Packets waiting in the management queue.
    pub fn mgmt_len(&self) -> usize {
        self.mgmt.len()
    }

    /// Management packets dropped so far (full management queue).
    pub fn mgmt_dropped(&self) -> u64 {
        self.mgmt_dropped
    }

    /// Queue `pdu` (received or made at `now`): on the management queue if `cube` is
    /// `None`, else on the cube's queue.
    pub fn enqueue(&mut self, now: Instant, cube: Option<QosCube>, pdu: Vec<u8>) -> Enqueued {
        self.enqueue_marking(now, cube, pdu, true)
    }

    /// [`PortQueues::enqueue`], ECN-marking over the threshold only if `may_mark` (the router's
    /// own PDUs are not marked by its own queue: a full queue pushes back on their
    /// application instead).
    pub fn enqueue_marking(
        &mut self,
        now: Instant,
        cube: Option<QosCube>,
        pdu: Vec<u8>,
        may_mark: bool,
    ) -> Enqueued {
        let Some(cube) = cube else {
            if self.mgmt.len() >= self.limits.mgmt_packets as usize {
                self.mgmt_dropped += 1;
                return Enqueued::Dropped;
            }
            self.mgmt.push_back(pdu);
            return Enqueued::Queued;
        };
        let q = &mut self.cubes[cube as usize];
        let len = q.packets.len();
        if len >= self.limits.packets as usize {
            q.drops = q.drops.saturating_add(1);
            q.dropped += 1;
            return Enqueued::Dropped;
        }
        let mut pdu = pdu;
        let outcome = match self.limits.ecn_threshold {
            Some(t) if may_mark && len >= t as usize => {
                mark(&mut pdu);
                q.marked += 1;
                Enqueued::Marked
            }
            _ => Enqueued::Queued,
        };
        q.bytes += pdu.len() as u64;
        q.packets.push_back((now, pdu));
        outcome
    }

    /// The state of the non-empty cube queues at `now` (into `out`, cleared first); resets
    /// the per-batch drop counts.
    pub fn states(&mut self, now: Instant, out: &mut Vec<QueueState>) {
        out.clear();
        for (i, q) in self.cubes.iter_mut().enumerate() {
            let drops = std::mem::take(&mut q.drops);
            let Some((at, _)) = q.packets.front() else {
                continue;
            };
            out.push(QueueState {
                id: i as u32,
                cube: i as u8,
                packets: u32::try_from(q.packets.len()).unwrap_or(u32::MAX),
                bytes: q.bytes,
                head_age: now.saturating_duration_since(*at),
                drops,
            });
        }
    }

    /// ECN-mark the packets at the head of each cube queue that were queued at least
    /// `target` before `now`, or all of the head if the queue dropped since the last batch
    /// (only if the queues mark at all: `ecn_threshold` is set), up to `budget` per queue
    /// (the ones about to leave); returns how many were newly marked.
    pub fn mark_sojourn(&mut self, now: Instant, target: std::time::Duration, budget: u32) -> u32 {
        if self.limits.ecn_threshold.is_none() {
            return 0;
        }
        let mut n = 0;
        for q in &mut self.cubes {
            // Drops since the last batch: the queue overflowed, mark what it kept.
            let overflowed = q.drops > 0;
            for (at, pdu) in q.packets.iter_mut().take(budget as usize) {
                if !overflowed && now.saturating_duration_since(*at) < target {
                    break;
                }
                if mark(pdu) {
                    q.marked += 1;
                    n += 1;
                }
            }
        }
        n
    }

    /// Hand out up to `budget` management packets (they go before any cube).
    pub fn take_mgmt(&mut self, budget: u32, mut emit: impl FnMut(Vec<u8>)) -> u32 {
        let mut sent = 0;
        while sent < budget {
            let Some(pdu) = self.mgmt.pop_front() else {
                break;
            };
            emit(pdu);
            sent += 1;
        }
        sent
    }

    /// Carry out `plan` for one batch of at most `budget` packets: its actions, then its
    /// takes in order (both clamped to what the queues hold, so a stale plan is safe), then
    /// the budget left in [`DEFAULT_ORDER`] while packets wait.
    pub fn apply(
        &mut self,
        plan: &Plan,
        budget: u32,
        mut emit: impl FnMut(Vec<u8>),
    ) -> BatchOutcome {
        let mut out = BatchOutcome::default();
        for &(queue, packets, verdict) in &plan.actions {
            let Some(q) = self.cubes.get_mut(queue as usize) else {
                continue;
            };
            match verdict {
                Verdict::Drop => {
                    for _ in 0..packets {
                        if q.pop().is_none() {
                            break;
                        }
                        q.dropped += 1;
                        out.dropped += 1;
                    }
                }
                Verdict::MarkEcn => {
                    for (_, pdu) in q.packets.iter_mut().take(packets as usize) {
                        mark(pdu);
                        q.marked += 1;
                        out.marked += 1;
                    }
                }
            }
        }
        let mut left = budget;
        for &(queue, packets) in &plan.takes {
            let Some(q) = self.cubes.get_mut(queue as usize) else {
                continue;
            };
            for _ in 0..packets.min(left) {
                let Some(pdu) = q.pop() else { break };
                emit(pdu);
                left -= 1;
            }
        }
        for cube in DEFAULT_ORDER {
            let q = &mut self.cubes[cube as usize];
            while left > 0 {
                let Some(pdu) = q.pop() else { break };
                emit(pdu);
                left -= 1;
            }
        }
        out.sent = budget - left;
        out
    }

    /// Empty every queue; returns how many packets were discarded.
    pub fn clear(&mut self) -> usize {
        let n = self.len();
        self.mgmt.clear();
        for q in &mut self.cubes {
            q.packets.clear();
            q.bytes = 0;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::DtHeader;
    use crate::{Address, Eid};

    fn pdu(cube: QosCube, tag: u8) -> Vec<u8> {
        let mut v = Vec::new();
        DtHeader {
            dst: Address(2),
            src: Address(1),
            eid: Eid(7),
            cube,
            ttl: 8,
            ecn: 0,
        }
        .emit(&mut v);
        v.push(tag);
        v
    }

    fn tag(p: &[u8]) -> u8 {
        p[p.len() - 1]
    }

    #[test]
    fn packets_that_waited_are_marked_as_they_leave() {
        let mut q = PortQueues::new(QueueLimits::default());
        let be = Some(QosCube::BestEffort);
        let t0 = Instant::from_millis(1);
        let t1 = t0 + ECN_SOJOURN;
        for i in 0..3 {
            q.enqueue(t0, be, pdu(QosCube::BestEffort, i));
        }
        q.enqueue(t1, be, pdu(QosCube::BestEffort, 9));
        assert_eq!(q.mark_sojourn(t0, ECN_SOJOURN, 64), 0, "young");
        // At t1 the first three waited long enough; the budget bounds the work.
        assert_eq!(q.mark_sojourn(t1, ECN_SOJOURN, 2), 2);
        assert_eq!(q.mark_sojourn(t1, ECN_SOJOURN, 64), 1, "marked once each");
        assert_eq!(q.cube_stats(QosCube::BestEffort).marked, 3);
        let mut ecn = Vec::new();
        q.apply(&Plan::default(), 64, |p| {
            ecn.push(DtPacket::new_checked(p).expect("pdu").ecn())
        });
        assert_eq!(ecn, [1, 1, 1, 0]);
        // Queues that never mark do not mark by age either.
        let mut q = PortQueues::new(QueueLimits {
            ecn_threshold: None,
            ..QueueLimits::default()
        });
        q.enqueue(t0, be, pdu(QosCube::BestEffort, 1));
        assert_eq!(q.mark_sojourn(t1, ECN_SOJOURN, 64), 0);
    }

    #[test]
    fn own_pdus_are_not_marked_but_still_bounded() {
        let mut q = PortQueues::new(QueueLimits {
            packets: 2,
            mgmt_packets: 1,
            ecn_threshold: Some(1),
        });
        let t = Instant::from_millis(1);
        let be = Some(QosCube::BestEffort);
        let own =
            |q: &mut PortQueues, i| q.enqueue_marking(t, be, pdu(QosCube::BestEffort, i), false);
        assert_eq!(own(&mut q, 1), Enqueued::Queued);
        assert_eq!(
            own(&mut q, 2),
            Enqueued::Queued,
            "over the threshold, not marked"
        );
        assert_eq!(q.cube_room(QosCube::BestEffort), 0);
        assert_eq!(own(&mut q, 3), Enqueued::Dropped);
        assert_eq!(q.cube_stats(QosCube::BestEffort).marked, 0);
    }

    #[test]
    fn bounded_queues_count_drops_and_mark_over_threshold() {
        let mut q = PortQueues::new(QueueLimits {
            packets: 3,
            mgmt_packets: 1,
            ecn_threshold: Some(2),
        });
        let t = Instant::from_millis(1);
        let be = Some(QosCube::BestEffort);
        assert_eq!(
            q.enqueue(t, be, pdu(QosCube::BestEffort, 1)),
            Enqueued::Queued
        );
        assert_eq!(
            q.enqueue(t, be, pdu(QosCube::BestEffort, 2)),
            Enqueued::Queued
        );
        assert_eq!(
            q.enqueue(t, be, pdu(QosCube::BestEffort, 3)),
            Enqueued::Marked
        );
        assert_eq!(
            q.enqueue(t, be, pdu(QosCube::BestEffort, 4)),
            Enqueued::Dropped
        );
        assert_eq!(
            q.enqueue(t, None, pdu(QosCube::BestEffort, 9)),
            Enqueued::Queued
        );
        assert_eq!(
            q.enqueue(t, None, pdu(QosCube::BestEffort, 9)),
            Enqueued::Dropped
        );
        let mut states = Vec::new();
        q.states(Instant::from_millis(4), &mut states);
        assert_eq!(states.len(), 1);
        assert_eq!(
            (states[0].id, states[0].packets, states[0].drops),
            (1, 3, 1)
        );
        assert_eq!(states[0].head_age, std::time::Duration::from_millis(3));
        q.states(Instant::from_millis(4), &mut states);
        assert_eq!(states[0].drops, 0, "drops are per batch");
        let be_stats = q.cube_stats(QosCube::BestEffort);
        assert_eq!(
            (be_stats.packets, be_stats.dropped, be_stats.marked),
            (3, 1, 1)
        );
        assert_eq!(q.cube_stats(QosCube::Voice), CubeStats::default());
        assert_eq!((q.mgmt_len(), q.mgmt_dropped()), (1, 1));
        let mut got = Vec::new();
        assert_eq!(q.take_mgmt(5, |p| got.push(p)), 1);
        let out = q.apply(&Plan::default(), 5, |p| got.push(p));
        assert_eq!(out.sent, 3, "work-conserving fill");
        let ecn: Vec<u8> = got
            .iter()
            .map(|p| DtPacket::new_checked(p.as_slice()).expect("valid").ecn())
            .collect();
        assert_eq!(ecn, [0, 0, 0, 1]);
        assert!(q.is_empty());
    }

    #[test]
    fn plan_takes_in_order_and_applies_verdicts_first() {
        let mut q = PortQueues::new(QueueLimits::default());
        let t = Instant::ZERO;
        for i in 0..4 {
            q.enqueue(t, Some(QosCube::BestEffort), pdu(QosCube::BestEffort, i));
            q.enqueue(t, Some(QosCube::Voice), pdu(QosCube::Voice, 10 + i));
        }
        let plan = Plan {
            takes: vec![(1, 2), (3, 9)],
            actions: vec![(1, 1, Verdict::Drop), (3, 1, Verdict::MarkEcn)],
        };
        let mut got = Vec::new();
        let out = q.apply(&plan, 4, |p| got.push(p));
        assert_eq!((out.sent, out.dropped, out.marked), (4, 1, 1));
        assert_eq!(
            q.cube_stats(QosCube::BestEffort).dropped,
            1,
            "totals keep plan drops"
        );
        assert_eq!(q.cube_stats(QosCube::Voice).marked, 1);
        let tags: Vec<u8> = got.iter().map(|p| tag(p)).collect();
        assert_eq!(
            tags,
            [1, 2, 10, 11],
            "stale counts are clamped to the budget"
        );
        assert_eq!(q.cube_len(QosCube::Voice), 2);
        assert_eq!(q.cube_len(QosCube::BestEffort), 1);
        assert_eq!(q.clear(), 3);
    }
}
