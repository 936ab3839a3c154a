//! Per-flow congestion control at the sender: an AIMD send rate, enforced as a token bucket.
//!
//! A flow starts **unlimited**: with no congestion it is never slowed down. The first
//! congestion signal from the receiver (a `FlowUpdate` echoing an ECN mark that a relay's
//! queue or the receiver's backlog set) fixes the rate at `beta` × the rate the flow was
//! measured sending at, and every further signal (at most one per [`AimdConfig::holdoff`],
//! the time the previous decrease needs to show at the receiver) multiplies it by `beta`
//! again. Between signals the rate grows by [`AimdConfig::increase_pps_per_ms`] per
//! millisecond (additive increase). Once the allowed rate is more than twice what the
//! application actually sends, over a measurement window in which the flow never had to
//! wait for credit, and no signal came for a while, the limit is lifted again (the flow is application-limited, the limit
//! no longer does anything). A flow that waits — however slowly its driver comes back to
//! it — keeps its limit.
//!
//! The driver asks [`Aimd::credit`] before handing the flow a PDU and reports what it sent
//! with [`Aimd::sent`]; when the credit is exhausted it stops reading the application's
//! socket until the instant [`Credit::Wait`] names. Everything takes an explicit `now`.

use crate::time::Instant;
use std::time::Duration;

/// Tuning of [`Aimd`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AimdConfig {
    /// Multiplicative decrease, as a fraction `beta_num / 1024` of the rate.
    pub beta_num: u32,
    /// Additive increase: packets per second added per millisecond without congestion.
    pub increase_pps_per_ms: u64,
    /// Faster growth at high rates: per millisecond the rate grows by at least
    /// `rate >> increase_shift` (0: additive only). At a million packets per second a fixed
    /// step would take a second to win back one cut.
    pub increase_shift: u32,
    /// The rate never goes below this (packets per second).
    pub min_pps: u64,
    /// At most one decrease per this interval (signals within it are counted, not acted on).
    pub holdoff: Duration,
    /// The token bucket holds this much time of the current rate (at least
    /// [`AimdConfig::min_burst`] PDUs), so a driver whose timers fire every millisecond or
    /// so still sends at the rate.
    pub burst: Duration,
    /// Smallest bucket, in PDUs.
    pub min_burst: u64,
    /// Length of one send-rate measurement window.
    pub window: Duration,
    /// The limit is lifted only after this long without a congestion signal.
    pub release_quiet: Duration,
}

impl Default for AimdConfig {
    /// beta 0.875, +200 pkt/s or 1/256 of the rate per ms (whichever is more), at least
    /// 100 pkt/s, one decrease per 2 ms, a 1 ms bucket of at least 64 PDUs, 2 ms
    /// measurement windows, released after 50 ms without a signal.
    fn default() -> Self {
        AimdConfig {
            beta_num: 896,
            increase_pps_per_ms: 200,
            increase_shift: 8,
            min_pps: 100,
            holdoff: Duration::from_millis(2),
            burst: Duration::from_millis(1),
            min_burst: 64,
            window: Duration::from_millis(2),
            release_quiet: Duration::from_millis(50),
        }
    }
}

/// What a flow may send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credit {
    /// No limit in force.
    Unlimited,
    /// This many PDUs (at least one).
    Pdus(u64),
    /// Nothing until this instant (the bucket will hold a useful amount then).
    Wait(Instant),
}

/// Counters of one flow's congestion control.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AimdStats {
    /// Congestion signals received.
    pub signals: u64,
    /// Rate decreases made (signals within the hold-off are not acted on).
    pub decreases: u64,
    /// Times the limit was lifted because the application sent well below it.
    pub releases: u64,
    /// Times [`Aimd::credit`] answered [`Credit::Wait`].
    pub waits: u64,
}

/// The AIMD state of one flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aimd {
    cfg: AimdConfig,
    /// Allowed packets per second; `None`: unlimited.
    rate: Option<u64>,
    /// Bucket credit in nanoseconds of sending time at `rate`.
    credit_ns: u64,
    /// Time the bucket and the additive increase were last brought up to.
    at: Instant,
    last_decrease: Option<Instant>,
    last_signal: Option<Instant>,
    /// Current measurement window: start and PDUs sent in it.
    window_start: Instant,
    window_sent: u64,
    /// The flow had to wait for credit in the current window / in the last complete one
    /// (then it is rate-limited, not application-limited, whatever it measured).
    window_waited: bool,
    last_window_waited: bool,
    /// The send rate measured over the last complete window (packets per second).
    measured_pps: u64,
    /// Counters.
    pub stats: AimdStats,
}

impl Aimd {
    /// Unlimited state at `now`.
    pub fn new(cfg: AimdConfig, now: Instant) -> Aimd {
        Aimd {
            cfg,
            rate: None,
            credit_ns: 0,
            at: now,
            last_decrease: None,
            last_signal: None,
            window_start: now,
            window_sent: 0,
            window_waited: false,
            last_window_waited: false,
            measured_pps: 0,
            stats: AimdStats::default(),
        }
    }

    /// The allowed rate in packets per second (`None`: unlimited).
    pub fn rate(&self) -> Option<u64> {
        self.rate
    }

    /// The send rate measured over the last complete window.
    pub fn measured_pps(&self) -> u64 {
        self.measured_pps
    }

    fn ns_per_pdu(rate: u64) -> u64 {
        (1_000_000_000 / rate.max(1)).max(1)
    }

    fn burst_ns(&self, rate: u64) -> u64 {
        let by_time = u64::try_from(self.cfg.burst.as_nanos()).unwrap_or(u64::MAX);
        by_time.max(Self::ns_per_pdu(rate).saturating_mul(self.cfg.min_burst))
    }

    /// Close measurement windows that ended by `now`.
    fn measure(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed < self.cfg.window {
            return;
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.measured_pps =
            u64::try_from(u128::from(self.window_sent) * 1_000_000_000 / u128::from(ns))
                .unwrap_or(u64::MAX);
        self.window_start = now;
        self.window_sent = 0;
        self.last_window_waited = std::mem::take(&mut self.window_waited);
    }

    /// Bring the bucket and the additive increase up to `now`.
    fn advance(&mut self, now: Instant) {
        self.measure(now);
        if now <= self.at {
            // Same instant as the last call (a driver reads the clock once per batch):
            // nothing grew, and no divisions per PDU.
            return;
        }
        let dt = now.saturating_duration_since(self.at);
        self.at = now;
        let Some(rate) = self.rate else {
            return;
        };
        let dt_ns = u64::try_from(dt.as_nanos()).unwrap_or(u64::MAX);
        let step = match self.cfg.increase_shift {
            // Grow only a limit the flow uses (it sent at least 3/4 of it over the last
            // window, or waited for credit): a limit far above what the flow manages to
            // send — held back by its queue, the path or its application — would otherwise
            // keep growing, and the next signals would cut from a rate nobody sends at
            // (congestion-window validation, as in RFC 7661).
            _ if !self.limit_used(rate) => 0,
            0 => self.cfg.increase_pps_per_ms,
            s => self.cfg.increase_pps_per_ms.max(rate >> s),
        };
        let grown = rate.saturating_add(
            u64::try_from(u128::from(step) * u128::from(dt_ns) / 1_000_000).unwrap_or(u64::MAX),
        );
        // The credit is kept in time units of the old rate; convert it so the bucket's
        // PDUs stay the same (a PDU takes less time at the higher rate), then add the
        // elapsed time.
        let pdus_ns = u128::from(self.credit_ns) * u128::from(rate) / u128::from(grown.max(1));
        let credit = u64::try_from(pdus_ns).unwrap_or(u64::MAX);
        self.credit_ns = credit.saturating_add(dt_ns).min(self.burst_ns(grown));
        self.rate = Some(grown);
        if self.measured_pps > 0
            && grown > self.measured_pps.saturating_mul(2)
            && self.idle_window()
        {
            self.rate = None;
            self.stats.releases += 1;
        }
    }

    /// True if the flow uses its limit `rate`: it waited for credit in this window or
    /// the last, or sent at least 3/4 of `rate` over the last complete one.
    fn limit_used(&self, rate: u64) -> bool {
        self.window_waited
            || self.last_window_waited
            || self.measured_pps.saturating_mul(4) >= rate.saturating_mul(3)
    }

    /// True if the last complete window started after the last decrease (its measured
    /// rate is not the one from before it), the flow never waited for credit in it, and no
    /// congestion signal came for [`AimdConfig::release_quiet`].
    fn idle_window(&self) -> bool {
        let quiet = self.last_signal.is_none_or(|t| {
            self.window_start.saturating_duration_since(t) >= self.cfg.release_quiet
        });
        quiet
            && !self.last_window_waited
            && !self.window_waited
            && self
                .last_decrease
                .is_none_or(|t| self.window_start.saturating_duration_since(t) >= self.cfg.window)
    }

    /// What may be sent at `now`.
    pub fn credit(&mut self, now: Instant) -> Credit {
        self.advance(now);
        let Some(rate) = self.rate else {
            return Credit::Unlimited;
        };
        let per = Self::ns_per_pdu(rate);
        let n = self.credit_ns / per;
        if n > 0 {
            return Credit::Pdus(n);
        }
        self.stats.waits += 1;
        self.window_waited = true;
        // Wake when a quarter of the bucket is back (not once per PDU).
        let want = (self.burst_ns(rate) / 4).max(per);
        Credit::Wait(self.at + Duration::from_nanos(want.saturating_sub(self.credit_ns)))
    }

    /// `pdus` were sent at `now`.
    pub fn sent(&mut self, now: Instant, pdus: u64) {
        self.measure(now);
        self.window_sent = self.window_sent.saturating_add(pdus);
        if let Some(rate) = self.rate {
            let cost = Self::ns_per_pdu(rate).saturating_mul(pdus);
            self.credit_ns = self.credit_ns.saturating_sub(cost);
        }
    }

    /// The receiver signalled congestion at `now`.
    pub fn congestion(&mut self, now: Instant) {
        self.stats.signals += 1;
        if self
            .last_decrease
            .is_some_and(|t| now.saturating_duration_since(t) < self.cfg.holdoff)
        {
            self.last_signal = Some(now);
            return;
        }
        self.advance(now); // may lift a limit nothing needed for a while (then cut anew)
        self.last_signal = Some(now);
        let base = match self.rate {
            Some(r) => r,
            // First signal: start from what the flow was sending (this window if the
            // last complete one is not known yet).
            None => {
                let cur = now.saturating_duration_since(self.window_start);
                let cur_ns = u64::try_from(cur.as_nanos()).unwrap_or(u64::MAX).max(1);
                let partial = u64::try_from(
                    u128::from(self.window_sent) * 1_000_000_000 / u128::from(cur_ns),
                )
                .unwrap_or(u64::MAX);
                self.measured_pps.max(partial)
            }
        };
        let cut = u64::try_from(u128::from(base) * u128::from(self.cfg.beta_num) / 1024)
            .unwrap_or(u64::MAX)
            .max(self.cfg.min_pps);
        if self.rate.is_none() {
            self.credit_ns = 0; // the burst before the signal used the bucket
        }
        self.rate = Some(cut);
        self.credit_ns = self.credit_ns.min(self.burst_ns(cut));
        self.last_decrease = Some(now);
        self.stats.decreases += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default tuning with a cut to 0.75 (the arithmetic below assumes it).
    fn base() -> AimdConfig {
        AimdConfig {
            beta_num: 768,
            ..AimdConfig::default()
        }
    }

    /// [`base`] with additive increase only, 2,000 pkt/s per ms (exact
    /// arithmetic in the tests).
    fn additive() -> AimdConfig {
        AimdConfig {
            increase_shift: 0,
            increase_pps_per_ms: 2_000,
            ..base()
        }
    }

    fn us(n: u64) -> Instant {
        Instant::from_nanos(n * 1_000)
    }

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    /// Send as fast as the credit allows, in steps of `step_us`, from `from` to `to`
    /// (microseconds); returns the PDUs sent.
    fn flood(a: &mut Aimd, from: u64, to: u64, step_us: u64) -> u64 {
        let mut sent = 0;
        let mut t = from;
        while t < to {
            let n = match a.credit(us(t)) {
                Credit::Unlimited => 100,
                Credit::Pdus(n) => n.min(1_000),
                Credit::Wait(_) => 0,
            };
            a.sent(us(t), n);
            sent += n;
            t += step_us;
        }
        sent
    }

    #[test]
    fn no_congestion_never_limits() {
        let mut a = Aimd::new(base(), ms(0));
        for t in 0..10_000 {
            assert_eq!(a.credit(us(t * 10)), Credit::Unlimited);
            a.sent(us(t * 10), 1_000);
        }
        assert_eq!(a.rate(), None);
        assert_eq!(a.stats, AimdStats::default());
    }

    #[test]
    fn the_first_signal_cuts_the_measured_rate() {
        let mut a = Aimd::new(base(), ms(0));
        // 100 PDUs every 100 µs: 1,000,000 pkt/s.
        flood(&mut a, 0, 5_000, 100);
        assert_eq!(a.measured_pps(), 1_000_000);
        a.congestion(us(5_000));
        assert_eq!(a.rate(), Some(750_000));
        assert_eq!(a.stats.decreases, 1);
        // Right after the cut the bucket is empty: wait.
        match a.credit(us(5_000)) {
            Credit::Wait(t) => assert!(t > us(5_000) && t <= us(6_100), "{t:?}"),
            c => panic!("{c:?}"),
        }
        assert_eq!(a.stats.waits, 1);
    }

    #[test]
    fn an_idle_sender_is_released_at_its_next_signal() {
        let mut a = Aimd::new(base(), ms(0));
        flood(&mut a, 0, 5_000, 100);
        a.congestion(ms(5));
        // Nothing sent for 55 ms, no signal for 50: measured 1,000 PDUs over 56 ms
        // (17,857 pkt/s), far below the limit: lifted, then cut from what the flow really
        // sends.
        a.congestion(ms(60));
        assert_eq!(a.stats.releases, 1);
        assert_eq!(a.rate(), Some(13_392));
    }

    #[test]
    fn signals_within_the_holdoff_count_once() {
        let mut a = Aimd::new(additive(), ms(0));
        flood(&mut a, 0, 5_000, 100);
        a.congestion(ms(5));
        flood(&mut a, 5_000, 5_500, 50);
        a.congestion(us(5_500));
        flood(&mut a, 5_500, 6_500, 50);
        a.congestion(us(6_500));
        assert_eq!(a.stats.signals, 3);
        assert_eq!(a.stats.decreases, 1);
        flood(&mut a, 6_500, 7_000, 50);
        a.congestion(ms(7));
        assert_eq!(a.stats.decreases, 2);
        // 750,000 + 2 ms × 2,000 = 754,000, × 0.75.
        assert_eq!(a.rate(), Some(565_500));
    }

    #[test]
    fn the_rate_grows_additively_and_the_bucket_enforces_it() {
        let mut a = Aimd::new(additive(), ms(0));
        flood(&mut a, 0, 5_000, 100);
        a.congestion(ms(5)); // 750,000 pkt/s
        // Flood for 100 ms: the rate grows by 2,000 pkt/s per ms, to 950,000.
        let sent = flood(&mut a, 5_000, 105_000, 50);
        assert_eq!(a.rate(), Some(950_000 - 100)); // the last step is at 104,950 µs
        // What was sent is the integral of the rate (± one bucket).
        let expect = (750_000 + 950_000) / 2 / 10;
        let slack = 4_000; // a 4 ms bucket at ≤ 1 M pkt/s
        assert!(
            sent.abs_diff(expect) < slack,
            "sent {sent}, expected ~{expect}"
        );
        assert_eq!(a.stats.releases, 0, "a flooding sender keeps its limit");
    }

    #[test]
    fn a_limit_the_flow_does_not_use_does_not_grow() {
        let mut a = Aimd::new(base(), ms(0));
        flood(&mut a, 0, 5_000, 100);
        a.congestion(ms(5)); // 750,000 pkt/s
        // Held back elsewhere (its queue, the path): 30 PDUs per 100 µs, 300,000 pkt/s,
        // for 20 ms — within the quiet time, so the limit is not lifted either.
        for t in (5_000..25_000).step_by(100) {
            if let Credit::Pdus(n) = a.credit(us(t)) {
                a.sent(us(t), n.min(30));
            }
        }
        // Grown only while the bucket refilled after the cut (the flow waited in the first
        // two windows): growing all along would have made 750,000 × (1 + 20/256) ≈ 808,600.
        let rate = a.rate().expect("limited");
        assert!(rate < 770_000, "{rate}");
        a.credit(us(30_000));
        assert_eq!(a.rate(), Some(rate), "not grown while unused");
        assert_eq!(a.stats.releases, 0);
        // Using it again: it grows again.
        flood(&mut a, 30_000, 40_000, 50);
        assert!(a.rate().is_some_and(|r| r > rate), "{:?}", a.rate());
    }

    #[test]
    fn high_rates_grow_in_proportion() {
        let mut a = Aimd::new(base(), ms(0));
        flood(&mut a, 0, 5_000, 100);
        a.congestion(ms(5)); // 750,000 pkt/s
        flood(&mut a, 5_000, 15_000, 50);
        // At least 1/256 of the rate per ms: 10 ms make ≥ 750,000 × (1 + 10/256).
        let rate = a.rate().expect("limited");
        assert!(rate >= 779_296, "{rate}");
        // An additive step alone would have reached 770,000.
        let mut b = Aimd::new(additive(), ms(0));
        flood(&mut b, 0, 5_000, 100);
        b.congestion(ms(5));
        flood(&mut b, 5_000, 15_000, 50);
        assert_eq!(b.rate(), Some(770_000 - 100));
    }

    #[test]
    fn the_rate_never_falls_below_the_minimum() {
        let cfg = AimdConfig {
            holdoff: Duration::ZERO,
            ..base()
        };
        let mut a = Aimd::new(cfg, ms(0));
        flood(&mut a, 0, 5_000, 100);
        for _ in 0..50 {
            a.congestion(ms(5));
        }
        assert_eq!(a.rate(), Some(100));
    }

    #[test]
    fn an_application_limited_flow_is_released() {
        let mut a = Aimd::new(base(), ms(0));
        flood(&mut a, 0, 5_000, 100);
        a.congestion(ms(5));
        // The application now sends 10 PDUs per ms (10,000 pkt/s): far below the limit.
        let mut t = 6_000;
        loop {
            assert!(t < 100_000, "never released");
            match a.credit(us(t)) {
                Credit::Unlimited => break,
                Credit::Pdus(n) => assert!(n >= 10),
                c => panic!("{c:?}"),
            }
            a.sent(us(t), 10);
            t += 1_000;
        }
        assert_eq!(a.rate(), None);
        assert_eq!(a.stats.releases, 1);
        // Released once the quiet time after the signal (50 ms) is over.
        assert!((55_000..=60_000).contains(&t), "released at {t} µs");
    }

    #[test]
    fn a_flow_that_waits_for_credit_keeps_its_limit_however_slow_its_driver() {
        let mut a = Aimd::new(base(), ms(0));
        flood(&mut a, 0, 5_000, 100);
        a.congestion(ms(5));
        assert!(matches!(a.credit(ms(5)), Credit::Wait(_)));
        // The driver comes back only every 10 ms, sends its credit, and finds the bucket
        // empty each time: it measures far below the limit, but it waited.
        for i in 1..100 {
            let t = 5_000 + i * 10_000;
            let n = match a.credit(us(t)) {
                Credit::Pdus(n) => n,
                c => panic!("{c:?} at {t}"),
            };
            a.sent(us(t), n);
            assert!(matches!(a.credit(us(t)), Credit::Wait(_)));
        }
        assert_eq!(a.stats.releases, 0);
        assert!(a.rate().is_some());
    }

    #[test]
    fn a_long_pause_refills_one_bucket_only() {
        let mut a = Aimd::new(base(), ms(0));
        flood(&mut a, 0, 5_000, 100);
        a.congestion(ms(5));
        a.sent(ms(5), 0);
        // Keep sending a little so the flow is not released, then idle 1 ms: at most one
        // bucket (4 ms of the rate) is available.
        match a.credit(ms(6)) {
            Credit::Pdus(n) => assert!(n <= 4 * 752, "{n}"),
            c => panic!("{c:?}"),
        }
    }
}
