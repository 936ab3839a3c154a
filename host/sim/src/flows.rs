//! Test traffic: flows between node pairs carrying recognisable messages, and their results.
//!
//! Message `seq` of flow `n` starts with `n` and `seq` (big-endian u32 each) and is padded with
//! a pattern derived from both, so the receiver can check every byte.

use ouro_core::Eid;
use ouro_core::ipcp::FlowEnd;
use ouro_node::NodeError;
use std::collections::BTreeMap;

/// Smallest message: the flow number and the sequence number.
pub const MIN_MESSAGE: usize = 8;

/// Why a test flow failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowFailure {
    /// The node refused the allocation ([`ouro_node::Node::alloc_flow`]).
    Alloc(NodeError),
    /// The flow ended before all messages arrived.
    Ended(FlowEnd),
    /// The node refused a write ([`ouro_node::Node::write`]).
    Write(NodeError),
    /// A message arrived damaged, duplicated or at the wrong node.
    Corrupt,
    /// Not finished within the time limit.
    Timeout,
}

/// Where a test flow stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowOutcome {
    /// Still running.
    Pending,
    /// Every message arrived intact.
    Ok,
    /// It failed.
    Failed(FlowFailure),
}

/// One test flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// Source node index.
    pub src: usize,
    /// Destination node index.
    pub dst: usize,
    /// The source's endpoint id, once allocated.
    pub src_eid: Option<Eid>,
    /// The destination's endpoint id, once data arrived.
    pub dst_eid: Option<Eid>,
    /// Messages written.
    pub sent: u32,
    /// Distinct messages received intact.
    pub received: u32,
    /// Simulated start time (ms).
    pub started_ms: u64,
    /// Simulated time (ms) when it succeeded or failed.
    pub finished_ms: Option<u64>,
    /// The result.
    pub outcome: FlowOutcome,
    seen: Vec<bool>,
}

/// The message `seq` of flow `flow`, `size` bytes long (at least [`MIN_MESSAGE`]).
pub fn message(flow: u32, seq: u32, size: usize) -> Vec<u8> {
    let mut m = vec![0u8; size.max(MIN_MESSAGE)];
    m[..4].copy_from_slice(&flow.to_be_bytes());
    m[4..8].copy_from_slice(&seq.to_be_bytes());
    for (j, b) in m.iter_mut().enumerate().skip(MIN_MESSAGE) {
        *b = pad(flow, seq, j);
    }
    m
}

fn pad(flow: u32, seq: u32, j: usize) -> u8 {
    (flow.wrapping_mul(31) ^ seq.wrapping_mul(131) ^ (j as u32).wrapping_mul(7)) as u8
}

/// The (flow, seq) of an intact message of `size` bytes, or `None`.
pub fn check_message(data: &[u8], size: usize) -> Option<(u32, u32)> {
    if data.len() != size.max(MIN_MESSAGE) {
        return None;
    }
    let flow = u32::from_be_bytes(data.get(..4)?.try_into().ok()?);
    let seq = u32::from_be_bytes(data.get(4..8)?.try_into().ok()?);
    let intact = data
        .iter()
        .enumerate()
        .skip(MIN_MESSAGE)
        .all(|(j, &b)| b == pad(flow, seq, j));
    intact.then_some((flow, seq))
}

/// All test flows of a simulation.
#[derive(Debug, Default)]
pub(crate) struct FlowTracker {
    pub records: Vec<FlowRecord>,
    by_src: BTreeMap<(usize, Eid), usize>,
    by_dst: BTreeMap<(usize, Eid), usize>,
    msgs: u32,
    size: usize,
}

impl FlowTracker {
    /// Set the traffic of the next flows.
    pub fn configure(&mut self, msgs: u32, size: usize) {
        self.msgs = msgs;
        self.size = size;
    }

    /// Start tracking a flow; returns its number.
    pub fn add(&mut self, src: usize, dst: usize, now_ms: u64) -> usize {
        self.records.push(FlowRecord {
            src,
            dst,
            src_eid: None,
            dst_eid: None,
            sent: 0,
            received: 0,
            started_ms: now_ms,
            finished_ms: None,
            outcome: FlowOutcome::Pending,
            seen: vec![false; self.msgs as usize],
        });
        self.records.len() - 1
    }

    pub fn set_src_eid(&mut self, idx: usize, eid: Eid) {
        self.records[idx].src_eid = Some(eid);
        self.by_src.insert((self.records[idx].src, eid), idx);
    }

    /// The flow whose source is `(node, eid)`, while it is pending.
    pub fn pending_source(&self, node: usize, eid: Eid) -> Option<usize> {
        let idx = *self.by_src.get(&(node, eid))?;
        (self.records[idx].outcome == FlowOutcome::Pending).then_some(idx)
    }

    /// Messages to write for flow `idx`, and count them as sent.
    pub fn messages(&mut self, idx: usize) -> Vec<Vec<u8>> {
        let rec = &mut self.records[idx];
        rec.sent = self.msgs;
        (0..self.msgs)
            .map(|seq| message(idx as u32, seq, self.size))
            .collect()
    }

    pub fn fail(&mut self, idx: usize, why: FlowFailure, now_ms: u64) {
        let rec = &mut self.records[idx];
        if rec.outcome == FlowOutcome::Pending {
            rec.outcome = FlowOutcome::Failed(why);
            rec.finished_ms = Some(now_ms);
        }
    }

    /// Data arrived at `(node, eid)`. Returns the flow if this message completed it.
    pub fn on_data(&mut self, node: usize, eid: Eid, data: &[u8], now_ms: u64) -> Option<usize> {
        let idx = match self.by_dst.get(&(node, eid)) {
            Some(&idx) => idx,
            None => {
                let (flow, _) = check_message(data, self.size)?;
                let idx = flow as usize;
                let rec = self.records.get_mut(idx)?;
                if rec.dst != node || rec.dst_eid.is_some() {
                    return None;
                }
                rec.dst_eid = Some(eid);
                self.by_dst.insert((node, eid), idx);
                idx
            }
        };
        match check_message(data, self.size) {
            Some((flow, seq)) if flow as usize == idx && !self.is_seen(idx, seq) => {
                let rec = &mut self.records[idx];
                rec.seen[seq as usize] = true;
                rec.received += 1;
                if rec.received == self.msgs && rec.outcome == FlowOutcome::Pending {
                    rec.outcome = FlowOutcome::Ok;
                    rec.finished_ms = Some(now_ms);
                    return Some(idx);
                }
                None
            }
            _ => {
                self.fail(idx, FlowFailure::Corrupt, now_ms);
                None
            }
        }
    }

    fn is_seen(&self, idx: usize, seq: u32) -> bool {
        self.records[idx]
            .seen
            .get(seq as usize)
            .copied()
            .unwrap_or(true)
    }

    /// A flow ended at `(node, eid)`: a failure unless it already succeeded.
    pub fn on_ended(&mut self, node: usize, eid: Eid, reason: FlowEnd, now_ms: u64) {
        let idx = self
            .by_src
            .remove(&(node, eid))
            .or_else(|| self.by_dst.remove(&(node, eid)));
        if let Some(idx) = idx {
            self.fail(idx, FlowFailure::Ended(reason), now_ms);
        }
    }

    /// Number of flows still running among those from `first` on.
    pub fn pending_from(&self, first: usize) -> usize {
        self.records[first..]
            .iter()
            .filter(|r| r.outcome == FlowOutcome::Pending)
            .count()
    }

    /// Fail every pending flow from `first` on with a timeout.
    pub fn time_out_from(&mut self, first: usize, now_ms: u64) {
        for idx in first..self.records.len() {
            self.fail(idx, FlowFailure::Timeout, now_ms);
        }
    }

    /// (ok, failed) counts among flows from `first` on.
    pub fn summary_from(&self, first: usize) -> (u64, u64) {
        let ok = self.records[first..]
            .iter()
            .filter(|r| r.outcome == FlowOutcome::Ok)
            .count();
        let failed = self.records[first..]
            .iter()
            .filter(|r| matches!(r.outcome, FlowOutcome::Failed(_)))
            .count();
        (ok as u64, failed as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_detect_damage() {
        let m = message(7, 3, 100);
        assert_eq!(m.len(), 100);
        assert_eq!(check_message(&m, 100), Some((7, 3)));
        let mut bad = m.clone();
        bad[50] ^= 1;
        assert_eq!(check_message(&bad, 100), None);
        assert_eq!(check_message(&m[..99], 100), None);
        assert_eq!(message(1, 1, 2).len(), MIN_MESSAGE);
    }

    #[test]
    fn tracker_completes_fails_and_ignores_late_ends() {
        let mut t = FlowTracker::default();
        t.configure(2, 16);
        let a = t.add(0, 1, 0);
        let b = t.add(2, 3, 0);
        t.set_src_eid(a, Eid(5));
        t.set_src_eid(b, Eid(6));
        assert_eq!(t.pending_source(0, Eid(5)), Some(a));
        let msgs = t.messages(a);
        assert_eq!(t.on_data(1, Eid(9), &msgs[0], 1), None);
        assert_eq!(t.on_data(1, Eid(9), &msgs[0], 1), None, "duplicate");
        assert_eq!(
            t.records[a].outcome,
            FlowOutcome::Failed(FlowFailure::Corrupt)
        );

        let mut t = FlowTracker::default();
        t.configure(2, 16);
        let a = t.add(0, 1, 0);
        t.set_src_eid(a, Eid(5));
        let msgs = t.messages(a);
        assert_eq!(
            t.on_data(2, Eid(9), &msgs[0], 1),
            None,
            "wrong node: ignored"
        );
        assert_eq!(t.on_data(1, Eid(9), &msgs[1], 1), None);
        assert_eq!(t.on_data(1, Eid(9), &msgs[0], 2), Some(a));
        t.on_ended(0, Eid(5), FlowEnd::Remote, 3);
        assert_eq!(t.records[a].outcome, FlowOutcome::Ok);
        assert_eq!(t.records[a].finished_ms, Some(2));

        let b = t.add(2, 3, 4);
        t.set_src_eid(b, Eid(1));
        t.on_ended(2, Eid(1), FlowEnd::Unreachable, 5);
        let c = t.add(2, 3, 4);
        assert_eq!(t.pending_from(b), 1);
        t.time_out_from(b, 9);
        assert_eq!(
            t.records[c].outcome,
            FlowOutcome::Failed(FlowFailure::Timeout)
        );
        assert_eq!(t.summary_from(0), (1, 2));
    }
}
