//! The peer table of a shim: the peers it can reach, each an N-1 port ([`PortId`]) of the
//! IPCP above, generic over how the medium addresses a peer (a UDP `SocketAddr`, an
//! Ethernet MAC address).
//!
//! - **Configured** peers ([`PeerTable::add`]) never expire and do not count against the
//!   learned cap.
//! - **Learned** peers: an unknown address heard from ([`PeerTable::heard`]) becomes a new
//!   port while fewer than [`PeerLimits::max_learned`] learned peers are known; beyond, it is
//!   a stranger, counted, and its PDU is dropped by the shim.
//! - **Expiry**: [`PeerTable::expire`] is a sweep the driver runs now and then with explicit
//!   time. A learned peer heard since the previous sweep counts as heard at this one; one
//!   silent for [`PeerLimits::learned_ttl`] since the sweep that last saw it heard is
//!   forgotten, freeing its place under the cap.
//! - **Ports are never reused**: port numbers are the table's indices in the order peers
//!   became known. A forgotten peer's port stays unknown for good ([`PeerTable::addr`] says
//!   `None`, so a PDU sent to it is dropped); if the peer speaks again it is learned anew, on
//!   a new port, and the IPCP above sees a new neighbour port.
//! - Adding an address already known returns its port, as it is (a learned peer added as
//!   configured stays learned).
//!
//! Sans-IO and allocation-free per PDU: [`PeerTable::addr`] (on send) is an index,
//! [`PeerTable::heard`] (on receive) one hash lookup.

use ouro_core::{Instant, PortId};
use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

/// The limits of a peer table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerLimits {
    /// How many peers may be learned (configured peers don't count).
    pub max_learned: usize,
    /// A learned peer silent for this long is forgotten (None: never).
    pub learned_ttl: Option<Duration>,
}

impl Default for PeerLimits {
    fn default() -> Self {
        PeerLimits {
            max_learned: 1024,
            learned_ttl: Some(Duration::from_secs(300)),
        }
    }
}

/// What a peer table counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerCounters {
    /// Peers learned from what they sent.
    pub learned: u64,
    /// Learned peers forgotten after falling silent.
    pub expired: u64,
    /// PDUs from unknown addresses while the learned cap was reached.
    pub strangers: u64,
}

/// How a current peer came to be known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Added by the driver (configuration, `connect` to an address): never expires.
    Configured,
    /// Learned from what it sent: expires when silent.
    Learned,
}

/// What [`PeerTable::heard`] made of an address a PDU came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// A known peer, on its port.
    Known(PortId),
    /// A new peer, learned now on a new port: the driver tells the IPCP above the port is
    /// up before handing it the PDU.
    Learned(PortId),
    /// Unknown, and no place to learn it (counted in [`PeerCounters::strangers`]): drop.
    Stranger,
}

/// An address that cannot be given a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// Every port number has been given out (ports are never reused).
    #[error("no port number left (ports are never reused)")]
    PortsExhausted,
    /// The address names no peer this shim can reach.
    #[error("no peer this shim can reach at that address")]
    NoSuchPeer,
}

/// A port's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Configured,
    /// Learned: `heard` since the sweep at `last`.
    Learned {
        heard: bool,
        last: Instant,
    },
    /// Learned, then forgotten after falling silent (the port is never given out again).
    Expired,
}

/// Configured and learned peers of one shim, each on its own port.
#[derive(Clone, Debug)]
pub struct PeerTable<A> {
    limits: PeerLimits,
    by_addr: HashMap<A, PortId>,
    /// Indexed by port number.
    by_port: Vec<(A, State)>,
    /// Learned peers not yet forgotten.
    learned: usize,
    counters: PeerCounters,
}

impl<A: Copy + Eq + Hash> PeerTable<A> {
    /// An empty table.
    pub fn new(limits: PeerLimits) -> PeerTable<A> {
        PeerTable {
            limits,
            by_addr: HashMap::new(),
            by_port: Vec::new(),
            learned: 0,
            counters: PeerCounters::default(),
        }
    }

    /// Its limits.
    pub fn limits(&self) -> PeerLimits {
        self.limits
    }

    /// The port of `addr`, a configured peer (a new port if it was not known).
    pub fn add(&mut self, addr: A) -> Result<PortId, PeerError> {
        if let Some(p) = self.by_addr.get(&addr) {
            return Ok(*p);
        }
        self.new_port(addr, State::Configured)
    }

    fn new_port(&mut self, addr: A, state: State) -> Result<PortId, PeerError> {
        let port =
            PortId(u32::try_from(self.by_port.len()).map_err(|_| PeerError::PortsExhausted)?);
        self.by_port.push((addr, state));
        self.by_addr.insert(addr, port);
        Ok(port)
    }

    /// A PDU came from `addr`: its port, learned now if it is new and the cap allows.
    #[inline]
    pub fn heard(&mut self, addr: A) -> Heard {
        if let Some(p) = self.by_addr.get(&addr) {
            if let Some((_, State::Learned { heard, .. })) = self.by_port.get_mut(p.0 as usize) {
                *heard = true;
            }
            return Heard::Known(*p);
        }
        if self.learned >= self.limits.max_learned {
            self.counters.strangers += 1;
            return Heard::Stranger;
        }
        let state = State::Learned {
            heard: true,
            last: Instant::ZERO,
        };
        match self.new_port(addr, state) {
            Ok(p) => {
                self.learned += 1;
                self.counters.learned += 1;
                Heard::Learned(p)
            }
            Err(_) => {
                self.counters.strangers += 1;
                Heard::Stranger
            }
        }
    }

    /// The peer behind `port` (None for a port never given out or an expired one).
    #[inline]
    pub fn addr(&self, port: PortId) -> Option<A> {
        match self.by_port.get(port.0 as usize) {
            Some((_, State::Expired)) | None => None,
            Some((a, _)) => Some(*a),
        }
    }

    /// How the peer on `port` came to be known (None: no current peer there).
    pub fn origin(&self, port: PortId) -> Option<Origin> {
        match self.by_port.get(port.0 as usize)?.1 {
            State::Configured => Some(Origin::Configured),
            State::Learned { .. } => Some(Origin::Learned),
            State::Expired => None,
        }
    }

    /// The port of a current peer.
    pub fn port_of(&self, addr: &A) -> Option<PortId> {
        self.by_addr.get(addr).copied()
    }

    /// Every current peer, by port: (port, address).
    pub fn peers(&self) -> impl Iterator<Item = (PortId, A)> + '_ {
        self.by_port
            .iter()
            .enumerate()
            .filter(|(_, (_, s))| *s != State::Expired)
            .map(|(i, (a, _))| (PortId(i as u32), *a))
    }

    /// Current peers (configured and learned).
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    /// True if there is no current peer.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// Learned peers not forgotten yet (what [`PeerLimits::max_learned`] caps).
    pub fn learned(&self) -> usize {
        self.learned
    }

    /// Forget learned peers silent for [`PeerLimits::learned_ttl`]; returns their ports (the
    /// driver tells the IPCP above they are down). Each call is one sweep: a peer heard
    /// since the previous sweep counts as heard at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<PortId> {
        let Some(ttl) = self.limits.learned_ttl else {
            return Vec::new();
        };
        let mut gone = Vec::new();
        for (i, (addr, state)) in self.by_port.iter_mut().enumerate() {
            match *state {
                State::Learned { heard: true, .. } => {
                    *state = State::Learned {
                        heard: false,
                        last: now,
                    };
                }
                State::Learned { heard: false, last }
                    if now.saturating_duration_since(last) >= ttl =>
                {
                    *state = State::Expired;
                    self.by_addr.remove(&*addr);
                    gone.push(PortId(i as u32));
                }
                _ => {}
            }
        }
        self.learned -= gone.len().min(self.learned);
        self.counters.expired += gone.len() as u64;
        gone
    }

    /// What it counted so far.
    pub fn counters(&self) -> PeerCounters {
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max_learned: usize, ttl_s: Option<u64>) -> PeerTable<u64> {
        PeerTable::new(PeerLimits {
            max_learned,
            learned_ttl: ttl_s.map(Duration::from_secs),
        })
    }

    #[test]
    fn configured_peers_come_first_in_port_order_and_are_idempotent() {
        let mut t = table(4, None);
        assert_eq!(t.add(10), Ok(PortId(0)));
        assert_eq!(t.add(20), Ok(PortId(1)));
        assert_eq!(t.add(10), Ok(PortId(0)), "the same peer, the same port");
        assert_eq!(t.heard(10), Heard::Known(PortId(0)));
        assert_eq!(t.heard(30), Heard::Learned(PortId(2)));
        assert_eq!(t.heard(30), Heard::Known(PortId(2)));
        assert_eq!(
            t.peers().collect::<Vec<_>>(),
            vec![(PortId(0), 10), (PortId(1), 20), (PortId(2), 30)]
        );
        assert_eq!(t.origin(PortId(0)), Some(Origin::Configured));
        assert_eq!(t.origin(PortId(2)), Some(Origin::Learned));
        assert_eq!((t.addr(PortId(2)), t.addr(PortId(3))), (Some(30), None));
        assert_eq!(t.port_of(&20), Some(PortId(1)));
        assert_eq!((t.len(), t.learned()), (3, 1));
        // A learned peer added later keeps its port, and stays learned.
        assert_eq!(t.add(30), Ok(PortId(2)));
        assert_eq!(t.origin(PortId(2)), Some(Origin::Learned));
    }

    #[test]
    fn strangers_beyond_the_learned_cap_are_counted_configured_ones_are_not_capped() {
        let mut t = table(1, None);
        assert_eq!(t.heard(1), Heard::Learned(PortId(0)));
        assert_eq!(t.heard(2), Heard::Stranger);
        assert_eq!(t.heard(2), Heard::Stranger);
        assert_eq!(
            t.heard(1),
            Heard::Known(PortId(0)),
            "the known one still speaks"
        );
        assert_eq!(
            t.add(2),
            Ok(PortId(1)),
            "configured: beyond the learned cap"
        );
        assert_eq!(t.add(3), Ok(PortId(2)));
        assert_eq!(t.heard(2), Heard::Known(PortId(1)));
        let c = t.counters();
        assert_eq!((c.learned, c.strangers, c.expired), (1, 2, 0));
        // No learning at all.
        let mut none = table(0, None);
        assert_eq!(none.heard(9), Heard::Stranger);
        assert!(none.is_empty());
    }

    #[test]
    fn silent_learned_peers_expire_with_explicit_time_configured_ones_never() {
        let mut t = table(1, Some(10));
        let configured = t.add(100).expect("port");
        let Heard::Learned(port) = t.heard(7) else {
            panic!("learned")
        };
        let t0 = Instant::from_millis(1_000);
        assert!(t.expire(t0).is_empty(), "heard since the last sweep");
        // It speaks again before the deadline: the clock restarts at that sweep.
        assert_eq!(t.heard(7), Heard::Known(port));
        let t1 = t0 + Duration::from_secs(9);
        assert!(t.expire(t1).is_empty());
        assert!(t.expire(t1 + Duration::from_secs(9)).is_empty());
        // Silent for the whole ttl: forgotten and counted; the configured peer stays.
        assert_eq!(t.expire(t1 + Duration::from_secs(10)), vec![port]);
        assert_eq!(t.counters().expired, 1);
        assert_eq!(t.addr(port), None, "an expired port is unknown");
        assert_eq!(t.origin(port), None);
        assert_eq!(t.port_of(&7), None);
        assert_eq!(t.addr(configured), Some(100));
        assert_eq!(t.peers().count(), 1);
        assert_eq!(t.learned(), 0);
        // Much later, the configured peer is still there.
        assert!(t.expire(t1 + Duration::from_secs(1_000)).is_empty());
        assert_eq!(t.addr(configured), Some(100));
    }

    #[test]
    fn an_expired_port_is_never_reused() {
        let mut t = table(1, Some(1));
        let Heard::Learned(first) = t.heard(7) else {
            panic!("learned")
        };
        t.expire(Instant::ZERO);
        assert_eq!(t.expire(Instant::from_millis(1_000)), vec![first]);
        // Its place under the cap is free again: a new stranger is learned on a new port.
        let Heard::Learned(other) = t.heard(8) else {
            panic!("learned")
        };
        assert_ne!(other, first);
        assert_eq!(t.counters().strangers, 0);
        // The forgotten peer speaking again is a stranger now (the cap is taken)...
        assert_eq!(t.heard(7), Heard::Stranger);
        // ...and once there is room, learned anew on yet another port.
        t.expire(Instant::from_millis(2_000));
        t.expire(Instant::from_millis(3_000));
        let Heard::Learned(again) = t.heard(7) else {
            panic!("learned")
        };
        assert!(again != first && again != other);
        assert_eq!(t.addr(first), None);
        // Configured after expiring: a new port too.
        t.expire(Instant::from_millis(4_000));
        t.expire(Instant::from_millis(5_000));
        assert_eq!(t.addr(again), None);
        let configured = t.add(7).expect("port");
        assert!(configured != first && configured != again);
        assert_eq!(t.origin(configured), Some(Origin::Configured));
    }

    #[test]
    fn without_a_ttl_nothing_expires() {
        let mut t = table(2, None);
        t.heard(1);
        for s in 0..5 {
            assert!(t.expire(Instant::from_millis(s * 1_000_000)).is_empty());
        }
        assert_eq!(t.len(), 1);
    }
}
