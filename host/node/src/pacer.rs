//! Pacing a shim's scheduled ports: the driver pulls scheduler batches from the node
//! ([`crate::Node::dequeue`]) only while the shim can take more — its send queue below
//! [`HIGH_WATER`] and, on a rate-limited link, while the link's token bucket has credit —
//! serving the ports round-robin. When the bucket is empty, [`Pacer::deadline`] says when
//! it has refilled.

use ouro_core::{Instant, PortId};
use std::time::Duration;

/// PDUs asked of the scheduler per call (at most).
pub const BATCH: u32 = 64;
/// PDUs the shim's send queue may hold before the daemon stops pulling.
pub const HIGH_WATER: usize = 2 * BATCH as usize;
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
pub struct Pacer {
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
pub enum Room {
    /// This many PDUs may be pulled now.
    Pdus(u32),
    /// The link's rate: no credit.
    Rate,
    /// The shim's send queue is at the mark.
    Shim,
}

impl Pacer {
    /// A pacer for a shim: `enabled` false keeps the old FIFO path (nothing scheduled).
    pub fn new(enabled: bool, rate_pps: Option<u64>, now: Instant) -> Pacer {
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

    /// The link's rate in PDUs per second, if it has one.
    pub fn rate_pps(&self) -> Option<u64> {
        self.rate_pps
    }

    /// True if the shim's ports are scheduled.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Track `port`; true if it is new (the caller schedules it in the core).
    pub fn add_port(&mut self, port: PortId) -> bool {
        if !self.enabled || self.ports.contains(&port) {
            return false;
        }
        self.ports.push(port);
        true
    }

    /// The scheduled ports.
    pub fn ports(&self) -> &[PortId] {
        &self.ports
    }

    /// Forget the ports (the IPCP above is gone).
    pub fn clear_ports(&mut self) {
        self.ports.clear();
        self.next = 0;
    }

    /// How many PDUs may be pulled at `now` while the shim holds `shim_queued`.
    pub fn room(&mut self, now: Instant, shim_queued: usize) -> Room {
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
    pub fn consumed(&mut self, pdus: u32) {
        self.batches += 1;
        self.pulled += u64::from(pdus);
        if let Some(b) = &mut self.bucket {
            b.take(pdus);
        }
    }

    /// The next port, round-robin, for which `waiting` holds.
    pub fn next_port(&mut self, waiting: impl Fn(PortId) -> bool) -> Option<PortId> {
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
    pub fn deadline(&self, waiting: bool) -> Option<Instant> {
        let b = self.bucket.as_ref()?;
        (waiting && b.tokens() < WAKE_CREDIT.min(u64::from(BATCH))).then(|| b.ready_at())
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
        assert_eq!(p.rate_pps(), Some(10));
    }
}
