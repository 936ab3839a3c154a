//! The fault injector, for any shim: loss, duplication, reordering, delay and link down,
//! applied to PDUs on their way out.
//!
//! Sans-IO like the core: the driver passes every outgoing PDU of a shim through
//! [`Faults::egress`] with the current time, hands what comes out to the shim's
//! [`Shim::send`](crate::Shim::send), and calls [`Faults::release`] when
//! [`Faults::poll_timeout`] is due (delayed PDUs). Random choices come from a seeded
//! generator, so a test with a fixed seed sees the same faults every run. A shim with no
//! injector pays nothing for it: the driver keeps an `Option<Faults>` beside the shim.

use ouro_core::PortId;
use ouro_core::rng::SplitMix64;
use ouro_core::time::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// A delayed PDU: (due, tie-break sequence, port, data).
type Delayed = Reverse<(Instant, u64, PortId, Vec<u8>)>;

/// What to inflict on a link.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// Probability (0..=1) that a PDU is dropped.
    pub loss: f64,
    /// Probability (0..=1) that a PDU is sent twice.
    pub duplicate: f64,
    /// Probability (0..=1) that a PDU is held back and sent after the next one.
    pub reorder: f64,
    /// Fixed delay added to every PDU.
    pub delay: Duration,
    /// The link is down: everything is dropped.
    pub down: bool,
}

/// A fault configuration that cannot be applied.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum FaultError {
    /// A probability outside 0..=1 (or not a number).
    #[error("fault {what} must be a probability between 0 and 1, not {value}")]
    Probability {
        /// Which one: `loss`, `duplicate` or `reorder`.
        what: &'static str,
        /// The value given.
        value: f64,
    },
}

impl FaultConfig {
    /// Checks that every probability lies in 0..=1 (an injector given one that does not
    /// still never panics: below 0 is never, above 1 always, not a number never).
    pub fn check(&self) -> Result<(), FaultError> {
        for (what, value) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultError::Probability { what, value });
            }
        }
        Ok(())
    }

    /// True if this configuration changes nothing.
    pub fn is_clean(&self) -> bool {
        self.loss <= 0.0
            && self.duplicate <= 0.0
            && self.reorder <= 0.0
            && self.delay.is_zero()
            && !self.down
    }
}

/// What the injector did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounters {
    /// PDUs dropped at random.
    pub lost: u64,
    /// PDUs dropped because the link was down.
    pub down_drops: u64,
    /// Extra copies sent.
    pub duplicated: u64,
    /// PDUs sent after a later one.
    pub reordered: u64,
    /// PDUs delayed.
    pub delayed: u64,
}

impl std::ops::AddAssign for FaultCounters {
    /// Adds up what several injectors did (the shims of one layer, say).
    fn add_assign(&mut self, o: FaultCounters) {
        self.lost += o.lost;
        self.down_drops += o.down_drops;
        self.duplicated += o.duplicated;
        self.reordered += o.reordered;
        self.delayed += o.delayed;
    }
}

/// The injector: one per shim (or per link).
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    rng: SplitMix64,
    held: Option<(PortId, Vec<u8>)>,
    delayed: BinaryHeap<Delayed>,
    seq: u64,
    counters: FaultCounters,
}

impl Faults {
    /// An injector with `config`, its random choices seeded by `seed`.
    pub fn new(config: FaultConfig, seed: u64) -> Faults {
        Faults {
            config,
            rng: SplitMix64::new(seed),
            held: None,
            delayed: BinaryHeap::new(),
            seq: 0,
            counters: FaultCounters::default(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> FaultConfig {
        self.config
    }

    /// Change the configuration (PDUs already delayed keep their time).
    pub fn set_config(&mut self, config: FaultConfig) {
        self.config = config;
    }

    /// What happened so far.
    pub fn counters(&self) -> FaultCounters {
        self.counters
    }

    /// Pass one outgoing PDU through; PDUs to send now are pushed onto `out`.
    pub fn egress(
        &mut self,
        now: Instant,
        port: PortId,
        data: Vec<u8>,
        out: &mut Vec<(PortId, Vec<u8>)>,
    ) {
        if self.config.down {
            self.counters.down_drops += 1;
            return;
        }
        if self.config.loss > 0.0 && self.rng.next_f64() < self.config.loss {
            self.counters.lost += 1;
            return;
        }
        let copy = (self.config.duplicate > 0.0 && self.rng.next_f64() < self.config.duplicate)
            .then(|| data.clone());
        if self.config.reorder > 0.0
            && self.held.is_none()
            && self.rng.next_f64() < self.config.reorder
        {
            self.counters.reordered += 1;
            self.held = Some((port, data));
        } else {
            self.emit(now, port, data, out);
            if let Some((p, d)) = self.held.take() {
                self.emit(now, p, d, out);
            }
        }
        if let Some(copy) = copy {
            self.counters.duplicated += 1;
            self.emit(now, port, copy, out);
        }
    }

    fn emit(
        &mut self,
        now: Instant,
        port: PortId,
        data: Vec<u8>,
        out: &mut Vec<(PortId, Vec<u8>)>,
    ) {
        if self.config.delay.is_zero() {
            out.push((port, data));
        } else {
            self.counters.delayed += 1;
            self.seq += 1;
            self.delayed
                .push(Reverse((now + self.config.delay, self.seq, port, data)));
        }
    }

    /// When [`Faults::release`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.delayed.peek().map(|Reverse((t, ..))| *t)
    }

    /// Push the delayed PDUs due at `now` onto `out`.
    pub fn release(&mut self, now: Instant, out: &mut Vec<(PortId, Vec<u8>)>) {
        while let Some(Reverse((t, ..))) = self.delayed.peek() {
            if *t > now {
                break;
            }
            if let Some(Reverse((_, _, port, data))) = self.delayed.pop() {
                out.push((port, data));
            }
        }
    }

    /// Flush a PDU held back for reordering (call when the link goes idle, or never: the
    /// next PDU releases it).
    pub fn flush_held(&mut self, now: Instant, out: &mut Vec<(PortId, Vec<u8>)>) {
        if let Some((p, d)) = self.held.take() {
            self.emit(now, p, d, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: FaultConfig, n: u8) -> (Vec<u8>, FaultCounters) {
        let mut f = Faults::new(config, 7);
        let mut out = Vec::new();
        for i in 0..n {
            f.egress(Instant::ZERO, PortId(1), vec![i], &mut out);
        }
        f.flush_held(Instant::ZERO, &mut out);
        f.release(Instant::from_millis(1_000), &mut out);
        (out.into_iter().map(|(_, d)| d[0]).collect(), f.counters())
    }

    #[test]
    fn probabilities_outside_zero_to_one_are_refused_and_harmless() {
        let bad = FaultConfig {
            duplicate: 1.5,
            ..FaultConfig::default()
        };
        assert_eq!(
            bad.check(),
            Err(FaultError::Probability {
                what: "duplicate",
                value: 1.5
            })
        );
        let nan = FaultConfig {
            loss: f64::NAN,
            ..FaultConfig::default()
        };
        assert!(nan.check().is_err());
        assert!(FaultConfig::default().check().is_ok());
        // Given anyway: no panic, every PDU still accounted for.
        let (got, c) = run(nan, 10);
        assert_eq!(got.len() as u64 + c.lost, 10);
        let (got, c) = run(bad, 10);
        assert_eq!((got.len(), c.duplicated), (20, 10));
    }

    #[test]
    fn clean_config_passes_everything_in_order() {
        assert!(FaultConfig::default().is_clean());
        let (got, c) = run(FaultConfig::default(), 50);
        assert_eq!(got, (0..50).collect::<Vec<_>>());
        assert_eq!(c, FaultCounters::default());
    }

    #[test]
    fn loss_drops_about_the_configured_share() {
        let cfg = FaultConfig {
            loss: 0.3,
            ..FaultConfig::default()
        };
        let (got, c) = run(cfg, 200);
        assert_eq!(got.len() as u64 + c.lost, 200);
        assert!((30..90).contains(&c.lost), "lost {}", c.lost);
    }

    #[test]
    fn down_drops_all_and_duplicates_double() {
        let (got, c) = run(
            FaultConfig {
                down: true,
                ..FaultConfig::default()
            },
            10,
        );
        assert!(got.is_empty());
        assert_eq!(c.down_drops, 10);
        let (got, c) = run(
            FaultConfig {
                duplicate: 1.0,
                ..FaultConfig::default()
            },
            10,
        );
        assert_eq!(got.len(), 20);
        assert_eq!(c.duplicated, 10);
    }

    #[test]
    fn reorder_swaps_neighbours_but_loses_nothing() {
        let (got, c) = run(
            FaultConfig {
                reorder: 0.5,
                ..FaultConfig::default()
            },
            100,
        );
        assert!(c.reordered > 0);
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(got, sorted);
    }

    #[test]
    fn delay_holds_until_due() {
        let cfg = FaultConfig {
            delay: Duration::from_millis(10),
            ..FaultConfig::default()
        };
        let mut f = Faults::new(cfg, 1);
        let mut out = Vec::new();
        f.egress(Instant::ZERO, PortId(3), vec![9], &mut out);
        assert!(out.is_empty());
        assert_eq!(f.poll_timeout(), Some(Instant::from_millis(10)));
        f.release(Instant::from_millis(9), &mut out);
        assert!(out.is_empty());
        f.release(Instant::from_millis(10), &mut out);
        assert_eq!(out, vec![(PortId(3), vec![9])]);
        assert_eq!(f.poll_timeout(), None);
    }
}
