//! Timers: one deadline per pending action, and a housekeeping tick every hello interval.

use super::{Enrollment, Ipcp};
use crate::time::Instant;

impl Ipcp {
    /// The earliest pending deadline.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let enroll = match self.enrollment {
            Enrollment::Pending { deadline, .. } => Some(deadline),
            _ => None,
        };
        [
            enroll,
            self.lsa_due,
            self.spf_due,
            self.flood_due,
            self.next_tick,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Run everything due at `now`, until nothing is (one action can schedule another for
    /// the same instant: a dead neighbour found by the tick re-originates our advertisement).
    pub(super) fn run_timers(&mut self, now: Instant) {
        for _ in 0..4 {
            self.run_due_timers(now);
            if self.next_deadline().is_none_or(|t| t > now) {
                break;
            }
        }
    }

    fn run_due_timers(&mut self, now: Instant) {
        self.check_enrollment_timeout(now);
        if !self.is_enrolled() {
            return;
        }
        if self.lsa_due.is_some_and(|t| t <= now) {
            self.originate_lsa(now);
        }
        if self.spf_due.is_some_and(|t| t <= now) {
            self.run_spf(now);
        }
        if self.flood_due.is_some_and(|t| t <= now) {
            self.send_floods(now);
        }
        if self.next_tick.is_some_and(|t| t <= now) {
            self.next_tick = Some(now + self.config.hello_interval);
            self.adjacency_tick(now);
            self.link_state_tick(now);
            self.directory_tick(now);
            self.flow_tick(now);
            self.expire_assigned(now);
        }
    }
}
