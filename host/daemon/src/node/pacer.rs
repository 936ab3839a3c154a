//! Scheduled UDP ports: the daemon pulls batches from the IPCP's per-cube queues only while
//! the shim can take more, so congestion builds where the scheduler policy orders it.
//!
//! Every port of a unicast IPCP over a UDP shim is scheduled ([`Ipcp::schedule_port`]):
//! its PDUs wait in the core's management and per-cube queues. [`Daemon::pull`] asks the
//! core for batches of up to [`BATCH`] PDUs ([`Ipcp::dequeue`], one scheduler call per batch)
//! while the shim's send queue holds fewer than [`HIGH_WATER`] PDUs and, on a rate-limited
//! link (`rate_pps`), while the link's token bucket has credit. When the socket is full the
//! shim's task waits for it to drain and pulls again; when the bucket is empty the timer
//! wakes the daemon when it has refilled. The shim still sends runs of equal-size PDUs with
//! GSO; PDUs move from the core's queue to the shim's without a copy.
//!
//! Local-shim ports are not paced: a local shim hands PDUs straight to the IPCP above it in
//! the same process (nothing below it fills up). The ports of an IPCP over a unicast layer
//! (N-1 flows) are scheduled and pulled as far as their flows take PDUs
//! (`Daemon::n1_pull`, in `stack.rs`).
//!
//! [`Ipcp::schedule_port`]: ouro_core::Ipcp::schedule_port
//! [`Ipcp::dequeue`]: ouro_core::Ipcp::dequeue

use super::{Daemon, Shim};
use ouro_control::{CubeQueue, MgmtQueue, Pacing, PortQueues};
use ouro_core::ipcp::Transmit;
use ouro_core::sched::DEFAULT_ORDER;
use ouro_core::{Instant, Ipcp, PortId};
use std::time::Duration;

/// PDUs asked of the scheduler per call (at most).
pub(super) const BATCH: u32 = 64;
/// PDUs the shim's send queue may hold before the daemon stops pulling.
pub(super) const HIGH_WATER: usize = 2 * BATCH as usize;
/// On a rate-limited link, wait for credit for this many PDUs before pulling again (so the
/// timer does not fire once per PDU).
const WAKE_CREDIT: u64 = 8;

/// A token bucket in nanoseconds of link time: one PDU costs `1 s / rate`.
#[derive(Debug)]
struct Bucket {
    ns_per_pdu: u64,
    burst_ns: u64,
    credit_ns: u64,
    at: Instant,
}

impl Bucket {
    fn new(rate_pps: u64, now: Instant) -> Bucket {
        let ns_per_pdu = (1_000_000_000 / rate_pps.max(1)).max(1);
        let burst_ns = ns_per_pdu * u64::from(BATCH);
        Bucket {
            ns_per_pdu,
            burst_ns,
            credit_ns: burst_ns,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at);
        let dt = u64::try_from(dt.as_nanos()).unwrap_or(u64::MAX);
        self.credit_ns = self.credit_ns.saturating_add(dt).min(self.burst_ns);
        self.at = self.at.max(now);
    }

    fn tokens(&self) -> u64 {
        self.credit_ns / self.ns_per_pdu
    }

    fn take(&mut self, pdus: u32) {
        let cost = self.ns_per_pdu.saturating_mul(u64::from(pdus));
        self.credit_ns = self.credit_ns.saturating_sub(cost);
    }

    /// When the bucket will hold credit for [`WAKE_CREDIT`] PDUs (or a full burst).
    fn ready_at(&self) -> Instant {
        let want = (self.ns_per_pdu * WAKE_CREDIT).min(self.burst_ns);
        self.at + Duration::from_nanos(want.saturating_sub(self.credit_ns))
    }
}

/// The pacing state of one UDP shim's ports.
#[derive(Debug)]
pub(super) struct Pacer {
    enabled: bool,
    rate_pps: Option<u64>,
    bucket: Option<Bucket>,
    /// The scheduled ports, served round-robin from `next`.
    ports: Vec<PortId>,
    next: usize,
    /// Scheduler batches pulled.
    pub batches: u64,
    /// PDUs pulled.
    pub pulled: u64,
    /// Times the link's rate stopped a pull while PDUs waited.
    pub rate_waits: u64,
    /// Times the shim's full send queue stopped a pull while PDUs waited.
    pub shim_waits: u64,
}

/// What stopped a pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Room {
    /// This many PDUs may be pulled now.
    Pdus(u32),
    /// The link's rate: no credit.
    Rate,
    /// The shim's send queue is at the mark.
    Shim,
}

impl Pacer {
    /// A pacer for a shim: `enabled` false keeps the old FIFO path (nothing scheduled).
    pub(super) fn new(enabled: bool, rate_pps: Option<u64>, now: Instant) -> Pacer {
        let rate_pps = rate_pps.filter(|r| *r > 0);
        Pacer {
            enabled,
            rate_pps,
            bucket: rate_pps.map(|r| Bucket::new(r, now)),
            ports: Vec::new(),
            next: 0,
            batches: 0,
            pulled: 0,
            rate_waits: 0,
            shim_waits: 0,
        }
    }

    /// True if the shim's ports are scheduled.
    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Track `port`; true if it is new (the caller schedules it in the core).
    pub(super) fn add_port(&mut self, port: PortId) -> bool {
        if !self.enabled || self.ports.contains(&port) {
            return false;
        }
        self.ports.push(port);
        true
    }

    /// The scheduled ports.
    pub(super) fn ports(&self) -> &[PortId] {
        &self.ports
    }

    /// The pacing state for `ouro status`.
    pub(super) fn state(&self) -> Pacing {
        Pacing {
            scheduled: self.enabled,
            rate_pps: self.rate_pps,
            ports: self.ports.iter().map(|p| p.0).collect(),
            batches: self.batches,
            pulled: self.pulled,
            rate_waits: self.rate_waits,
            shim_waits: self.shim_waits,
        }
    }

    /// Forget the ports (the IPCP above is gone).
    pub(super) fn clear_ports(&mut self) {
        self.ports.clear();
        self.next = 0;
    }

    /// How many PDUs may be pulled at `now` while the shim holds `shim_queued`.
    pub(super) fn room(&mut self, now: Instant, shim_queued: usize) -> Room {
        let shim = HIGH_WATER.saturating_sub(shim_queued);
        if shim == 0 {
            return Room::Shim;
        }
        let mut n = shim.min(BATCH as usize) as u64;
        if let Some(b) = &mut self.bucket {
            b.refill(now);
            n = n.min(b.tokens());
            if n == 0 {
                return Room::Rate;
            }
        }
        Room::Pdus(n as u32)
    }

    /// Count a pull of `pdus` (one scheduler batch).
    pub(super) fn consumed(&mut self, pdus: u32) {
        self.batches += 1;
        self.pulled += u64::from(pdus);
        if let Some(b) = &mut self.bucket {
            b.take(pdus);
        }
    }

    /// The next port, round-robin, for which `waiting` holds.
    pub(super) fn next_port(&mut self, waiting: impl Fn(PortId) -> bool) -> Option<PortId> {
        let n = self.ports.len();
        for i in 0..n {
            let at = (self.next + i) % n;
            let p = self.ports[at];
            if waiting(p) {
                self.next = (at + 1) % n;
                return Some(p);
            }
        }
        None
    }

    /// When to pull again if PDUs wait but the link's rate stopped the last pull.
    pub(super) fn deadline(&self, waiting: bool) -> Option<Instant> {
        let b = self.bucket.as_ref()?;
        (waiting && b.tokens() < WAKE_CREDIT.min(u64::from(BATCH))).then(|| b.ready_at())
    }
}

/// The per-port per-cube queues of `ipcp` for `ouro status`: depth, drops and ECN
/// marks of every cube queue (delay-sensitive cubes first) and of the management queue.
pub(super) fn port_queues(ipcp: &Ipcp) -> Vec<PortQueues> {
    ipcp.scheduled_ports()
        .map(|(port, q)| PortQueues {
            port: port.0,
            mgmt: MgmtQueue {
                queued: q.mgmt_len(),
                dropped: q.mgmt_dropped(),
            },
            cubes: DEFAULT_ORDER
                .iter()
                .map(|c| {
                    let st = q.cube_stats(*c);
                    CubeQueue {
                        cube: format!("{c:?}").to_lowercase(),
                        queued: st.packets,
                        bytes: st.bytes,
                        dropped: st.dropped,
                        ecn_marked: st.marked,
                    }
                })
                .collect(),
        })
        .collect()
}

impl Daemon {
    /// The unicast IPCP over UDP shim `si`.
    pub(super) fn carrier_of(&self, si: usize) -> Option<usize> {
        self.layers
            .iter()
            .position(|l| !l.destroyed && l.lower == Some(si))
    }

    /// Schedule every port shim `si` knows in the IPCP above it (again after the IPCP was
    /// remade, as by `bootstrap`; scheduling a port twice changes nothing).
    pub(super) fn schedule_shim_ports(&mut self, si: usize) {
        let Some(li) = self.carrier_of(si) else {
            return;
        };
        let Shim { udp, pacer, .. } = &mut self.shims[si];
        for (port, _) in udp.peers() {
            pacer.add_port(port);
        }
        let limits = self.layers[li].queues.ports;
        for port in pacer.ports() {
            self.layers[li].ipcp.schedule_port(*port, limits);
        }
    }

    /// Pull batches from the core's queues into shim `si` while it can take more.
    pub(super) fn pull(&mut self, si: usize, now: Instant) {
        if !self.shims[si].pacer.enabled() {
            return;
        }
        let Some(li) = self.carrier_of(si) else {
            return;
        };
        let mut batch: Vec<Transmit> = std::mem::take(&mut self.batch);
        loop {
            let ipcp = &self.layers[li].ipcp;
            let Shim { udp, pacer, .. } = &mut self.shims[si];
            let Some(port) = pacer.next_port(|p| ipcp.queued(p) > 0) else {
                break;
            };
            let budget = match pacer.room(now, udp.queued()) {
                Room::Pdus(n) => n,
                Room::Rate => {
                    pacer.rate_waits += 1;
                    break;
                }
                Room::Shim => {
                    // Hand the socket what it takes; pull again if that made room.
                    udp.flush();
                    if udp.queued() < HIGH_WATER {
                        continue;
                    }
                    pacer.shim_waits += 1;
                    break;
                }
            };
            let n = self.layers[li].ipcp.dequeue(now, port, budget, &mut batch);
            self.shims[si].pacer.consumed(n);
            for t in batch.drain(..) {
                self.transmit(li, t.port, t.data);
            }
            if n == 0 {
                break;
            }
        }
        self.batch = batch;
    }

    /// Before exiting: hand every shim all that waits in its ports' queues, whatever the
    /// link's rate (in the scheduler's order, management first), and send it, so the last
    /// messages (flow deallocations) leave even when the link had no credit left.
    pub(super) fn drain_ports(&mut self, now: Instant) {
        let mut batch: Vec<Transmit> = std::mem::take(&mut self.batch);
        for si in 0..self.shims.len() {
            let Some(li) = self.carrier_of(si) else {
                continue;
            };
            let ports = self.shims[si].pacer.ports().to_vec();
            for port in ports {
                while self.layers[li].ipcp.dequeue(now, port, BATCH, &mut batch) > 0 {
                    for t in batch.drain(..) {
                        self.transmit(li, t.port, t.data);
                    }
                }
            }
            self.shims[si].udp.flush();
        }
        self.batch = batch;
    }

    /// The earliest time a rate-limited shim can take PDUs that wait in its queues.
    pub(super) fn pacer_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for (si, s) in self.shims.iter().enumerate() {
            let Some(li) = self.carrier_of(si) else {
                continue;
            };
            let ipcp = &self.layers[li].ipcp;
            let waiting = s.pacer.ports().iter().any(|p| ipcp.queued(*p) > 0);
            if let Some(t) = s.pacer.deadline(waiting) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn the_shim_mark_bounds_each_pull() {
        let mut p = Pacer::new(true, None, ms(0));
        assert_eq!(p.room(ms(0), 0), Room::Pdus(BATCH));
        assert_eq!(p.room(ms(0), HIGH_WATER - 10), Room::Pdus(10));
        assert_eq!(p.room(ms(0), HIGH_WATER), Room::Shim);
        assert_eq!(p.room(ms(0), HIGH_WATER + 5), Room::Shim);
        assert_eq!(p.deadline(true), None, "no rate, no timer");
    }

    #[test]
    fn the_rate_refills_with_time_and_sets_a_wake_up() {
        // 1,000 PDUs/s: one per millisecond, a burst of one batch.
        let mut p = Pacer::new(true, Some(1_000), ms(0));
        assert_eq!(p.room(ms(0), 0), Room::Pdus(BATCH));
        p.consumed(BATCH);
        assert_eq!(p.room(ms(0), 0), Room::Rate);
        assert_eq!(p.deadline(false), None, "nothing waits: no wake-up");
        assert_eq!(p.deadline(true), Some(ms(WAKE_CREDIT)));
        assert_eq!(p.room(ms(5), 0), Room::Pdus(5));
        p.consumed(5);
        assert_eq!(p.room(ms(5), 0), Room::Rate);
        // A long idle time refills one burst only.
        assert_eq!(p.room(ms(10_000), 0), Room::Pdus(BATCH));
        assert_eq!((p.batches, p.pulled), (2, u64::from(BATCH) + 5));
    }

    #[test]
    fn ports_are_served_round_robin_and_tracked_once() {
        let mut p = Pacer::new(true, None, ms(0));
        assert!(p.add_port(PortId(0)));
        assert!(p.add_port(PortId(1)));
        assert!(p.add_port(PortId(2)));
        assert!(!p.add_port(PortId(1)));
        let all = |_: PortId| true;
        let got: Vec<_> = (0..4).filter_map(|_| p.next_port(all)).collect();
        assert_eq!(got, [PortId(0), PortId(1), PortId(2), PortId(0)]);
        assert_eq!(p.next_port(|x| x == PortId(2)), Some(PortId(2)));
        assert_eq!(p.next_port(|_| false), None);
    }

    #[test]
    fn a_disabled_pacer_schedules_nothing() {
        let mut p = Pacer::new(false, Some(10), ms(0));
        assert!(!p.add_port(PortId(0)));
        assert!(p.ports().is_empty());
        assert!(!p.enabled());
        assert_eq!(p.state().rate_pps, Some(10));
        assert!(!p.state().scheduled);
    }
}
