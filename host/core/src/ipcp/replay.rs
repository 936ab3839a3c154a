//! Replay protection for flow requests: the nonces of verified requests, remembered for
//! [`REPLAY_WINDOW`] (at most [`REPLAY_CAPACITY`] of them; the oldest go first when full).

use crate::identity::NONCE_LEN;
use crate::time::Instant;
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

/// How long the nonce of a verified flow request is remembered. A copy of the request
/// replayed later than this would verify again; see docs/PROTOCOL.md ("Keys and proofs")
/// for why that gains an attacker nothing.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(120);
/// Most nonces remembered at once.
pub const REPLAY_CAPACITY: usize = 16_384;

/// Recently seen nonces, in arrival order.
#[derive(Debug, Default)]
pub(super) struct ReplayGuard {
    order: VecDeque<(Instant, [u8; NONCE_LEN])>,
    seen: BTreeSet<[u8; NONCE_LEN]>,
}

impl ReplayGuard {
    /// Record `nonce` at `now`; false if it was seen within the window (a replay).
    pub(super) fn check_and_record(&mut self, now: Instant, nonce: [u8; NONCE_LEN]) -> bool {
        self.expire(now);
        if !self.seen.insert(nonce) {
            return false;
        }
        self.order.push_back((now + REPLAY_WINDOW, nonce));
        while self.order.len() > REPLAY_CAPACITY {
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    /// Forget nonces older than the window.
    fn expire(&mut self, now: Instant) {
        while let Some((until, nonce)) = self.order.front().copied() {
            if until > now {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&nonce);
        }
    }

    /// Nonces remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_are_caught_within_the_window_only() {
        let mut g = ReplayGuard::default();
        let t0 = Instant::ZERO;
        assert!(g.check_and_record(t0, [1; 16]));
        assert!(!g.check_and_record(t0 + Duration::from_secs(1), [1; 16]));
        assert!(g.check_and_record(t0, [2; 16]));
        let later = t0 + REPLAY_WINDOW;
        assert!(g.check_and_record(later, [1; 16]));
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn capacity_is_bounded() {
        let mut g = ReplayGuard::default();
        for i in 0..REPLAY_CAPACITY as u32 + 10 {
            let mut n = [0; 16];
            n[..4].copy_from_slice(&i.to_be_bytes());
            assert!(g.check_and_record(Instant::ZERO, n));
        }
        assert_eq!(g.len(), REPLAY_CAPACITY);
        assert_eq!(g.seen.len(), REPLAY_CAPACITY);
    }
}
