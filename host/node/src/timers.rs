//! Time: the node's single deadline, and what runs when it comes.

use crate::Node;
use ouro_core::Instant;

impl Node {
    /// When [`Node::handle_timeout`] must run next (`None`: nothing is scheduled).
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.settle();
        let mut next: Option<Instant> = None;
        let mut take = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for l in self.layers.iter().filter(|l| l.is_live()) {
            take(l.ipcp.poll_timeout());
            take(l.enroll_retry_at);
        }
        take(self.n1_deadline());
        take(self.parked_deadline());
        take(self.allocation_deadline());
        next
    }

    /// Run whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.tick(now);
        for li in 0..self.layers.len() {
            if !self.layers[li].is_live() {
                continue;
            }
            if self.layers[li]
                .ipcp
                .poll_timeout()
                .is_some_and(|t| t <= now)
            {
                self.layers[li].ipcp.handle_timeout(now);
            }
            if self.layers[li].enroll_retry_at.is_some_and(|t| t <= now) {
                self.layers[li].enroll_retry_at = None;
                self.start_enrollment(now, li);
            }
        }
        self.n1_retry(now);
        self.expire_allocations(now);
        self.dirty = true;
    }
}
