//! Timed test streams: a flow with a QoS spec that writes one message every interval, and
//! the one-way delay of every message that arrives (for scheduling scenarios). A timed
//! stream never waits ([`ouro_node::Node::write_or_drop`]: what its queue cannot take is
//! dropped). Floods ([`Simulator::run_floods`]) write a burst every interval instead,
//! either regardless (a flood with no flow control: what the layer cannot carry is dropped
//! somewhere) or as an application whose writes block while the layer pushes back
//! ([`ouro_node::Node::write`] holds what a full local queue or the flow's congestion-
//! controlled rate does not take, and the writer waits until the node lets it go).
//!
//! A stream message starts with [`MAGIC`], the stream index, its sequence number and the
//! simulated send time in nanoseconds (big-endian u32, u32, u32, u64), padded to its size.

use crate::fabric::Driver;
use crate::sim::{IPCP, Simulator};
use ouro_core::ipcp::FlowEnd;
use ouro_core::{Eid, QosSpec};
use ouro_node::{FlowId, Written};
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
    /// Flood with back-pressure: intervals in which the application blocked — a write was
    /// held, or earlier ones still were — and wrote no more (what it did not write is not
    /// sent, not lost).
    pub refused: u64,
    /// The sender's congestion-control state of the flow at the end of the run.
    pub cc: Option<ouro_core::ipcp::FlowCc>,
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

/// How a stream writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// One message per interval.
    Timed,
    /// Up to `burst` messages per interval; with `back_pressure`, only while the layer
    /// accepts them.
    Flood { burst: u32, back_pressure: bool },
}

#[derive(Debug)]
struct Running {
    spec: Stream,
    mode: Mode,
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
        self.start_streams(streams, Mode::Timed, span)
    }

    /// Like [`Simulator::run_streams`], but each stream writes up to `burst` messages every
    /// interval (until `count` in all). With `back_pressure` it writes with
    /// [`ouro_node::Node::write`] and stops for the interval at the first write the node
    /// holds, or at once while earlier ones are held (counted in
    /// [`StreamResult::refused`]); without, with [`ouro_node::Node::write_or_drop`]
    /// regardless.
    pub fn run_floods(
        &mut self,
        streams: &[Stream],
        burst: u32,
        back_pressure: bool,
        span: Duration,
    ) -> Vec<StreamResult> {
        let mode = Mode::Flood {
            burst: burst.max(1),
            back_pressure,
        };
        self.start_streams(streams, mode, span)
    }

    fn start_streams(
        &mut self,
        streams: &[Stream],
        mode: Mode,
        span: Duration,
    ) -> Vec<StreamResult> {
        let first = self.streams.running.len();
        for spec in streams {
            let name = self.app_name(spec.dst);
            let (node, now) = self.node_mut(spec.src);
            let r = node.alloc_flow(now, IPCP, &name, spec.qos);
            let eid = self.count_error(r).map(|f| f.eid);
            self.streams.running.push(Running {
                spec: spec.clone(),
                mode,
                eid,
                result: StreamResult::default(),
            });
        }
        self.flush();
        self.run_for(span);
        let mut results = Vec::with_capacity(streams.len());
        for idx in first..self.streams.running.len() {
            let r = &self.streams.running[idx];
            let cc = r.eid.and_then(|e| self.ipcp(r.spec.src).flow_cc(e));
            let r = &mut self.streams.running[idx];
            r.result.cc = cc;
            results.push(r.result.clone());
        }
        results
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
        let now = self.now();
        self.fabric.schedule(now, idx);
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
        if let Mode::Flood {
            burst,
            back_pressure,
        } = r.mode
        {
            self.flood_tick(idx, eid, burst, back_pressure);
            return;
        }
        let now = self.fabric.now;
        let msg = stream_message(idx, r.result.sent, now, r.spec.size);
        r.result.sent += 1;
        let (src, interval) = (r.spec.src, r.spec.interval);
        if r.result.sent < r.spec.count {
            self.fabric.schedule(now + interval, idx);
        }
        let flow = FlowId { ipcp: IPCP, eid };
        let (node, now) = self.node_mut(src);
        let w = node.write_or_drop(now, flow, &msg);
        self.count_error(w);
    }

    /// One interval of a flood: up to `burst` messages.
    fn flood_tick(&mut self, idx: usize, eid: Eid, burst: u32, back_pressure: bool) {
        let now = self.fabric.now;
        let Some(r) = self.streams.running.get_mut(idx) else {
            return;
        };
        let (src, interval, size, count) = (r.spec.src, r.spec.interval, r.spec.size, r.spec.count);
        let flow = FlowId { ipcp: IPCP, eid };
        let node = self.fabric.node_mut(src);
        let mut errors = 0;
        if back_pressure && node.is_held(flow) {
            r.result.refused += 1; // still blocked on earlier writes
        } else {
            for _ in 0..burst {
                if r.result.sent >= count {
                    break;
                }
                let msg = stream_message(idx, r.result.sent, now, size);
                r.result.sent += 1; // taken: sent, held to be sent, or lost
                let res = if back_pressure {
                    node.write(now, flow, &msg)
                } else {
                    node.write_or_drop(now, flow, &msg).map(|()| Written::Sent)
                };
                match res {
                    Ok(Written::Sent) => {}
                    Ok(Written::Held) => {
                        r.result.refused += 1;
                        break;
                    }
                    Err(_) => errors += 1, // written, lost (no route...)
                }
            }
        }
        if r.result.sent < count {
            self.fabric.schedule(now + interval, idx);
        }
        self.call_errors += errors;
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
            let now = self.fabric.now;
            r.result.delays.push(now - sent);
            r.result.arrivals.push(now);
        }
        true
    }
}

/// Stream `idx`'s message number `seq`, sent at `now`, `size` bytes (at least the header).
fn stream_message(idx: usize, seq: u32, now: ouro_core::time::Instant, size: usize) -> Vec<u8> {
    let mut msg = vec![0u8; size.max(HEADER)];
    msg[..4].copy_from_slice(&MAGIC.to_be_bytes());
    msg[4..8].copy_from_slice(&(idx as u32).to_be_bytes());
    msg[8..12].copy_from_slice(&seq.to_be_bytes());
    msg[12..20].copy_from_slice(&now.as_nanos().to_be_bytes());
    msg
}
