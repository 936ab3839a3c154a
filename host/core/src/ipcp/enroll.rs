//! Enrollment: joining a layer through an existing member.
//!
//! The enrollee sends an `EnrollRequest` on an N-1 flow to any member; the member answers
//! with a fresh address (random, not in its link-state database nor recently handed out)
//! and the layer configuration — if its auth policy allows the enrollee (else the answer is
//! `Denied`, counted at both ends). No answer within [`ENROLL_TIMEOUT`] fails the attempt.

use super::{Enrollment, Event, Ipcp};
use crate::auth::RequestKind;
use crate::time::Instant;
use crate::wire::{EnrollResult, MgmtMsg};
use crate::{Address, LayerConfig, NameHash, PortId, QosCube};
use std::time::Duration;

/// How long an enrollee waits for the response.
pub const ENROLL_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an address handed out is reserved before it must show up in the database.
const ASSIGNED_HOLD: Duration = Duration::from_secs(60);

impl Ipcp {
    /// Send an enrollment request on `port`.
    pub(super) fn start_enrollment(&mut self, now: Instant, port: PortId) {
        if self.is_enrolled() {
            return;
        }
        self.enrollment = Enrollment::Pending {
            port,
            deadline: now + ENROLL_TIMEOUT,
        };
        self.send_on_port(port, &MgmtMsg::EnrollRequest { ipcp: self.name });
    }

    /// A member-to-be asks to enroll through us.
    pub(super) fn on_enroll_request(&mut self, now: Instant, port: PortId, enrollee: NameHash) {
        let reply = if !self.is_enrolled() {
            MgmtMsg::EnrollResponse {
                result: EnrollResult::NotEnrolled,
                address: Address::NONE,
                config: LayerConfig::default(),
            }
        } else if !self.authorize(RequestKind::Enrollment, &enrollee, QosCube::BestEffort) {
            MgmtMsg::EnrollResponse {
                result: EnrollResult::Denied,
                address: Address::NONE,
                config: LayerConfig::default(),
            }
        } else {
            let address = self.random_free_address();
            self.assigned.insert(address, now + ASSIGNED_HOLD);
            MgmtMsg::EnrollResponse {
                result: EnrollResult::Ok,
                address,
                config: self.config.clone(),
            }
        };
        self.send_on_port(port, &reply);
    }

    /// The member answered our enrollment request.
    pub(super) fn on_enroll_response(
        &mut self,
        now: Instant,
        port: PortId,
        result: EnrollResult,
        address: Address,
        config: LayerConfig,
    ) {
        let Enrollment::Pending { port: expected, .. } = self.enrollment else {
            self.counters.drop_not_ready += 1;
            return;
        };
        if port != expected {
            self.counters.drop_not_ready += 1;
            return;
        }
        if result != EnrollResult::Ok || address.is_none() {
            if result == EnrollResult::Denied {
                self.counters.denied_by_peer += 1;
            }
            self.enrollment = Enrollment::Idle;
            self.emit_event(Event::EnrollFailed { port });
            return;
        }
        self.config = config;
        self.become_member(now, address);
        self.emit_event(Event::Enrolled { address });
    }

    /// Give up on an enrollment attempt whose deadline passed.
    pub(super) fn check_enrollment_timeout(&mut self, now: Instant) {
        if let Enrollment::Pending { port, deadline } = self.enrollment
            && now >= deadline
        {
            self.enrollment = Enrollment::Idle;
            self.emit_event(Event::EnrollFailed { port });
        }
    }

    /// Forget reservations of addresses handed out long ago.
    pub(super) fn expire_assigned(&mut self, now: Instant) {
        self.assigned.retain(|_, until| *until > now);
    }
}
