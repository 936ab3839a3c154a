//! Enrollment: joining a layer through an existing member.
//!
//! The enrollee sends an `EnrollRequest` (its name and public key) on an N-1 flow to any
//! member; the member answers with an `EnrollChallenge` (its own public key and a fresh
//! nonce); the enrollee proves it holds its private key with an `EnrollProof` (a MAC over
//! request and challenge, see [`crate::identity`]). If the proof verifies and the auth
//! policy allows the enrollee with that key, the member answers with a fresh address
//! (random, not in its link-state database nor recently handed out) and the layer
//! configuration; else the answer is `Denied`, counted at both ends. No answer within
//! [`ENROLL_TIMEOUT`] fails the attempt; a proof later than that is refused.

use super::{Challenge, Enrollment, Event, Ipcp};
use crate::auth::RequestKind;
use crate::identity::{KEY_LEN, NONCE_LEN, ProofUse};
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
        let request = MgmtMsg::EnrollRequest {
            ipcp: self.name,
            key: self.identity.public(),
        };
        self.send_on_port(port, &request);
    }

    /// A member-to-be asks to enroll through us: challenge it to prove its key.
    pub(super) fn on_enroll_request(
        &mut self,
        now: Instant,
        port: PortId,
        enrollee: NameHash,
        key: [u8; KEY_LEN],
    ) {
        if !self.is_enrolled() {
            self.send_on_port(port, &refusal(EnrollResult::NotEnrolled));
            return;
        }
        let nonce = self.identity.nonce();
        self.challenges.insert(
            port,
            Challenge {
                request: (enrollee, key),
                nonce,
                deadline: now + ENROLL_TIMEOUT,
            },
        );
        let challenge = MgmtMsg::EnrollChallenge {
            key: self.identity.public(),
            nonce,
        };
        self.send_on_port(port, &challenge);
    }

    /// The member challenged our enrollment request: answer with the proof.
    pub(super) fn on_enroll_challenge(
        &mut self,
        port: PortId,
        member_key: [u8; KEY_LEN],
        nonce: [u8; NONCE_LEN],
    ) {
        if self.enrollment_port() != Some(port) {
            self.counters.drop_not_ready += 1;
            return;
        }
        let transcript = enroll_transcript(self.name, self.identity.public(), member_key, nonce);
        match self
            .identity
            .prove(&member_key, ProofUse::Enrollment, &transcript)
        {
            Ok(mac) => self.send_on_port(port, &MgmtMsg::EnrollProof { mac }),
            Err(e) => {
                self.proof_failed(RequestKind::Enrollment, format!("member's key: {e}"));
                self.enrollment = Enrollment::Idle;
                self.emit_event(Event::EnrollFailed { port });
            }
        }
    }

    /// The enrollee answered our challenge: check the proof, then ask the auth policy.
    pub(super) fn on_enroll_proof(&mut self, now: Instant, port: PortId, mac: [u8; KEY_LEN]) {
        let Some(challenge) = self.challenges.remove(&port) else {
            self.counters.drop_not_ready += 1;
            return;
        };
        let (enrollee, key) = challenge.request;
        if now >= challenge.deadline {
            self.proof_failed(
                RequestKind::Enrollment,
                "enrollment proof of possession arrived after the challenge expired".into(),
            );
            self.send_on_port(port, &refusal(EnrollResult::Denied));
            return;
        }
        let transcript = enroll_transcript(enrollee, key, self.identity.public(), challenge.nonce);
        if let Err(e) = self
            .identity
            .verify(&key, ProofUse::Enrollment, &transcript, &mac)
        {
            self.proof_failed(RequestKind::Enrollment, format!("enrollment refused: {e}"));
            self.send_on_port(port, &refusal(EnrollResult::Denied));
            return;
        }
        let reply = if !self.is_enrolled() {
            refusal(EnrollResult::NotEnrolled)
        } else if !self.authorize(RequestKind::Enrollment, &enrollee, QosCube::BestEffort, key) {
            refusal(EnrollResult::Denied)
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

    /// The port of the enrollment attempt in progress, if any.
    fn enrollment_port(&self) -> Option<PortId> {
        match self.enrollment {
            Enrollment::Pending { port, .. } => Some(port),
            _ => None,
        }
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
        self.challenges.retain(|_, c| c.deadline > now);
    }
}

/// A negative enrollment response.
fn refusal(result: EnrollResult) -> MgmtMsg {
    MgmtMsg::EnrollResponse {
        result,
        address: Address::NONE,
        config: LayerConfig::default(),
    }
}

/// What the enrollment proof covers: the request and the challenge, as encoded on the wire.
pub(super) fn enroll_transcript(
    enrollee: NameHash,
    enrollee_key: [u8; KEY_LEN],
    member_key: [u8; KEY_LEN],
    nonce: [u8; NONCE_LEN],
) -> Vec<u8> {
    let mut t = MgmtMsg::EnrollRequest {
        ipcp: enrollee,
        key: enrollee_key,
    }
    .to_vec();
    MgmtMsg::EnrollChallenge {
        key: member_key,
        nonce,
    }
    .emit(&mut t);
    t
}
