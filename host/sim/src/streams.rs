//! Timed test streams: a flow with a QoS spec that writes one message every interval, and
//! the one-way delay of every message that arrives (for scheduling scenarios).
//!
//! A stream message starts with [`MAGIC`], the stream index, its sequence number and the
//! simulated send time in nanoseconds (big-endian u32, u32, u32, u64), padded to its size.

use crate::sim::{Action, Simulator};
use ouro_core::ipcp::FlowEnd;
use ouro_core::{Eid, QosSpec};
use std::time::Duration;

/// First four bytes of every stream message.
pub const MAGIC: u32 = 0x5354_524D;
/// Smallest stream message.
const HEADER: usize = 20;

/// One stream to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Stream {
    /// Source node index.
    pub src: usize,
    /// Destination node index (it must have registered its application name).
    pub dst: usize,
    /// QoS asked for (selects the cube).
    pub qos: QosSpec,
    /// Message size in bytes (at least 20).
    pub size: usize,
    /// Time between messages.
    pub interval: Duration,
    /// Messages to write.
    pub count: u32,
}

/// What became of a stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamResult {
    /// Messages written.
    pub sent: u32,
    /// Messages that arrived.
    pub received: u32,
    /// One-way delay of each message that arrived, in arrival order.
    pub delays: Vec<Duration>,
    /// Arrival time of each message that arrived (parallel to `delays`).
    pub arrivals: Vec<ouro_core::time::Instant>,
    /// How the flow ended, if it did (a denied allocation, for one).
    pub ended: Option<FlowEnd>,
}

impl StreamResult {
    /// Messages that arrived in `[from, to)`.
    pub fn received_between(
        &self,
        from: ouro_core::time::Instant,
        to: ouro_core::time::Instant,
    ) -> usize {
        self.arrivals
            .iter()
            .filter(|&&t| t >= from && t < to)
            .count()
    }

    /// The `p`-th percentile delay (0 if nothing arrived).
    pub fn delay_percentile(&self, p: usize) -> Duration {
        let mut d = self.delays.clone();
        d.sort_unstable();
        if d.is_empty() {
            return Duration::ZERO;
        }
        d[((d.len() - 1) * p.min(100)).div_ceil(100)]
    }
}

#[derive(Debug)]
struct Running {
    spec: Stream,
    eid: Option<Eid>,
    result: StreamResult,
}

/// The streams of a simulation.
#[derive(Debug, Default)]
pub(crate) struct StreamTracker {
    running: Vec<Running>,
}

impl Simulator {
    /// Open every stream (a flow from `src` to `dst`'s application name with the stream's
    /// QoS); each starts writing once allocated. Runs for `span` and returns the results in
    /// stream order.
    pub fn run_streams(&mut self, streams: &[Stream], span: Duration) -> Vec<StreamResult> {
        let first = self.streams.running.len();
        let now = self.now;
        for spec in streams {
            let name = self.app_name(spec.dst);
            let eid = self.nodes[spec.src]
                .ipcp
                .alloc_flow(now, &name, spec.qos)
                .ok();
            if eid.is_none() {
                self.counters.call_errors += 1;
            }
            self.streams.running.push(Running {
                spec: spec.clone(),
                eid,
                result: StreamResult::default(),
            });
            self.mark(spec.src);
        }
        self.flush();
        self.run_for(span);
        self.streams.running[first..]
            .iter()
            .map(|r| r.result.clone())
            .collect()
    }

    /// `FlowAllocated` at `n`: if it is a stream's flow, start its ticks. True if it was.
    pub(crate) fn stream_allocated(&mut self, n: usize, flow: Eid) -> bool {
        let Some(idx) = self
            .streams
            .running
            .iter()
            .position(|r| r.spec.src == n && r.eid == Some(flow))
        else {
            return false;
        };
        self.queue
            .push(self.now, Action::StreamTick { stream: idx });
        true
    }

    /// `FlowEnded` at `n`: record it if it ends a stream's flow.
    pub(crate) fn stream_ended(&mut self, n: usize, flow: Eid, reason: FlowEnd) {
        if let Some(r) = self
            .streams
            .running
            .iter_mut()
            .find(|r| r.spec.src == n && r.eid == Some(flow))
        {
            r.result.ended = Some(reason);
        }
    }

    /// Write stream `idx`'s next message and schedule the one after.
    pub(crate) fn stream_tick(&mut self, idx: usize) {
        let Some(r) = self.streams.running.get_mut(idx) else {
            return;
        };
        let (Some(eid), true) = (r.eid, r.result.sent < r.spec.count) else {
            return;
        };
        if r.result.ended.is_some() {
            return;
        }
        let mut msg = vec![0u8; r.spec.size.max(HEADER)];
        msg[..4].copy_from_slice(&MAGIC.to_be_bytes());
        msg[4..8].copy_from_slice(&(idx as u32).to_be_bytes());
        msg[8..12].copy_from_slice(&r.result.sent.to_be_bytes());
        msg[12..20].copy_from_slice(&self.now.as_nanos().to_be_bytes());
        r.result.sent += 1;
        let (src, interval) = (r.spec.src, r.spec.interval);
        if r.result.sent < r.spec.count {
            self.queue
                .push(self.now + interval, Action::StreamTick { stream: idx });
        }
        let now = self.now;
        if self.nodes[src].ipcp.flow_write(now, eid, &msg).is_err() {
            self.counters.call_errors += 1;
        }
        self.mark(src);
    }

    /// Flow data: if it is a stream message, record its delay. True if it was one.
    pub(crate) fn stream_data(&mut self, data: &[u8]) -> bool {
        if data.len() < HEADER || data[..4] != MAGIC.to_be_bytes() {
            return false;
        }
        let word = |r: std::ops::Range<usize>| {
            data[r]
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        };
        let idx = word(4..8) as usize;
        let sent = ouro_core::time::Instant::from_nanos(word(12..20));
        if let Some(r) = self.streams.running.get_mut(idx) {
            r.result.received += 1;
            r.result.delays.push(self.now - sent);
            r.result.arrivals.push(self.now);
        }
        true
    }
}
