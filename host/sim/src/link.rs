//! A simulated point-to-point link: two FIFO directions with propagation delay, optional
//! bandwidth (packets serialise one after another), random loss, and an up/down state.

use ouro_core::rng::SplitMix64;
use ouro_core::time::Instant;
use std::time::Duration;

/// The physical properties of a link (the same in both directions).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkParams {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Bandwidth in bits per second; `None` means infinitely fast serialisation.
    pub bandwidth_bps: Option<u64>,
    /// Probability in `[0, 1]` that a packet is lost.
    pub loss: f64,
}

impl Default for LinkParams {
    /// 1 ms delay, unlimited bandwidth, no loss.
    fn default() -> Self {
        LinkParams {
            delay: Duration::from_millis(1),
            bandwidth_bps: None,
            loss: 0.0,
        }
    }
}

/// Direction of travel on a link: from its `a` end to `b`, or back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    /// From the lower-index end to the higher.
    AToB,
    /// From the higher-index end to the lower.
    BToA,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::AToB => 0,
            Direction::BToA => 1,
        }
    }
}

/// What became of a packet handed to a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It arrives at the far end at this time (unless the link goes down before).
    Arrives(Instant),
    /// Lost at random.
    Lost,
    /// The link is down.
    Down,
}

/// The state of one simulated link.
#[derive(Clone, Debug)]
pub struct Link {
    params: LinkParams,
    up: bool,
    epoch: u64,
    /// Per direction: when the transmitter is free again.
    busy_until: [Instant; 2],
    /// Per direction: arrival time of the last packet sent (keeps FIFO order when the delay
    /// is lowered while packets are in flight).
    last_arrival: [Instant; 2],
}

impl Link {
    /// A link that is up, with `params`.
    pub fn new(params: LinkParams) -> Link {
        Link {
            params,
            up: true,
            epoch: 0,
            busy_until: [Instant::ZERO; 2],
            last_arrival: [Instant::ZERO; 2],
        }
    }

    /// The link's properties.
    pub fn params(&self) -> LinkParams {
        self.params
    }

    /// Change the link's properties (packets already sent keep their arrival time).
    pub fn set_params(&mut self, params: LinkParams) {
        self.params = params;
    }

    /// True if the link is up.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Bring the link up or down. Going down loses every packet in flight: their arrivals
    /// carry the old [`Link::epoch`] and are no longer [`Link::delivers`].
    pub fn set_up(&mut self, up: bool) {
        if self.up && !up {
            self.epoch += 1;
            self.busy_until = [Instant::ZERO; 2];
            self.last_arrival = [Instant::ZERO; 2];
        }
        self.up = up;
    }

    /// When the transmitter in direction `dir` is free again (a time in the past if idle).
    pub fn free_at(&self, dir: Direction) -> Instant {
        self.busy_until[dir.index()]
    }

    /// Incremented each time the link goes down.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// True if a packet sent during `epoch` may still be delivered now.
    pub fn delivers(&self, epoch: u64) -> bool {
        self.up && self.epoch == epoch
    }

    /// Send a packet of `len` bytes at `now` in direction `dir`; loss is drawn from `rng`.
    pub fn send(&mut self, now: Instant, dir: Direction, len: usize, rng: &mut SplitMix64) -> Fate {
        if !self.up {
            return Fate::Down;
        }
        let d = dir.index();
        let start = now.max(self.busy_until[d]);
        let serialise = match self.params.bandwidth_bps {
            Some(bps) if bps > 0 => {
                let bits = u128::from(len as u64) * 8;
                let nanos = bits * 1_000_000_000 / u128::from(bps);
                Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
            }
            _ => Duration::ZERO,
        };
        let done = start + serialise;
        self.busy_until[d] = done;
        // Draw only on lossy links: a lossless run does not consume the RNG at all.
        if self.params.loss > 0.0 && rng.next_f64() < self.params.loss {
            return Fate::Lost;
        }
        let arrival = (done + self.params.delay).max(self.last_arrival[d]);
        self.last_arrival[d] = arrival;
        Fate::Arrives(arrival)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn propagation_delay_only() {
        let mut l = Link::new(LinkParams::default());
        let mut rng = SplitMix64::new(1);
        assert_eq!(
            l.send(ms(10), Direction::AToB, 1500, &mut rng),
            Fate::Arrives(ms(11))
        );
        assert_eq!(
            l.send(ms(10), Direction::AToB, 1500, &mut rng),
            Fate::Arrives(ms(11))
        );
    }

    #[test]
    fn bandwidth_queues_packets_per_direction() {
        // 8 Mbit/s: 1000 bytes take 1 ms to serialise.
        let params = LinkParams {
            delay: Duration::from_millis(5),
            bandwidth_bps: Some(8_000_000),
            loss: 0.0,
        };
        let mut l = Link::new(params);
        let mut rng = SplitMix64::new(1);
        assert_eq!(
            l.send(ms(0), Direction::AToB, 1000, &mut rng),
            Fate::Arrives(ms(6))
        );
        assert_eq!(
            l.send(ms(0), Direction::AToB, 1000, &mut rng),
            Fate::Arrives(ms(7))
        );
        assert_eq!(
            l.send(ms(0), Direction::BToA, 1000, &mut rng),
            Fate::Arrives(ms(6)),
            "independent"
        );
        assert_eq!(
            l.send(ms(10), Direction::AToB, 1000, &mut rng),
            Fate::Arrives(ms(16)),
            "idle again"
        );
    }

    #[test]
    fn lowering_delay_keeps_fifo() {
        let mut l = Link::new(LinkParams {
            delay: Duration::from_millis(10),
            ..LinkParams::default()
        });
        let mut rng = SplitMix64::new(1);
        assert_eq!(
            l.send(ms(0), Direction::AToB, 10, &mut rng),
            Fate::Arrives(ms(10))
        );
        l.set_params(LinkParams {
            delay: Duration::from_millis(1),
            ..LinkParams::default()
        });
        assert_eq!(
            l.send(ms(1), Direction::AToB, 10, &mut rng),
            Fate::Arrives(ms(10))
        );
        assert_eq!(
            l.send(ms(20), Direction::AToB, 10, &mut rng),
            Fate::Arrives(ms(21))
        );
    }

    #[test]
    fn loss_is_seeded_and_roughly_right() {
        let params = LinkParams {
            loss: 0.25,
            ..LinkParams::default()
        };
        let run = |seed| {
            let mut l = Link::new(params);
            let mut rng = SplitMix64::new(seed);
            (0..4000)
                .map(|_| l.send(ms(0), Direction::AToB, 1, &mut rng) == Fate::Lost)
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        let lost = a.iter().filter(|&&x| x).count();
        assert!((800..1200).contains(&lost), "{lost}");
    }

    #[test]
    fn lossless_link_does_not_use_rng() {
        let mut l = Link::new(LinkParams::default());
        let mut rng = SplitMix64::new(3);
        l.send(ms(0), Direction::AToB, 1, &mut rng);
        assert_eq!(rng.next_u64(), SplitMix64::new(3).next_u64());
    }

    #[test]
    fn down_drops_and_invalidates_in_flight() {
        let mut l = Link::new(LinkParams::default());
        let mut rng = SplitMix64::new(1);
        let epoch = l.epoch();
        assert!(matches!(
            l.send(ms(0), Direction::AToB, 1, &mut rng),
            Fate::Arrives(_)
        ));
        l.set_up(false);
        assert!(!l.delivers(epoch));
        assert_eq!(l.send(ms(0), Direction::AToB, 1, &mut rng), Fate::Down);
        l.set_up(true);
        assert!(
            !l.delivers(epoch),
            "packets from before the outage stay lost"
        );
        assert!(l.delivers(l.epoch()));
    }
}
