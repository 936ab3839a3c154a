//! Consulting the auth policy on enrollment and flow requests.

use super::Ipcp;
use crate::auth::{AllowAll, AuthPolicy, AuthRequest, Decision, RequestKind};
use crate::identity::KEY_LEN;
use crate::{NameHash, QosCube};

impl Ipcp {
    /// Ask the auth policy about a request from a peer whose proof of possession of
    /// `peer_key` verified; counts denials and failures. A policy error denies; so does a
    /// decision that requires encryption, which this IPCP cannot provide yet.
    pub(super) fn authorize(
        &mut self,
        kind: RequestKind,
        name: &NameHash,
        cube: QosCube,
        peer_key: [u8; KEY_LEN],
    ) -> bool {
        let request = AuthRequest {
            kind,
            layer: self.config.layer_name.clone(),
            peer_key: Some(peer_key),
            name_hash: name.as_bytes().to_vec(),
            cube: match kind {
                RequestKind::Enrollment => 0,
                RequestKind::Flow => cube as u8,
            },
        };
        let decision = match self.auth.authorize(&request) {
            Ok(d) if d.allow && d.require_encryption => Decision::deny(format!(
                "{}; but the policy requires encryption, which this IPCP cannot provide",
                d.reason
            )),
            Ok(d) => d,
            Err(e) => {
                self.counters.auth_failures += 1;
                Decision::deny(e.to_string())
            }
        };
        if !decision.allow {
            self.counters.auth_denied += 1;
            self.last_denial = Some((kind, decision.reason));
        }
        decision.allow
    }

    /// A peer's proof of possession failed: a denial, counted, with `reason` kept as the
    /// last denial.
    pub(super) fn proof_failed(&mut self, kind: RequestKind, reason: String) {
        self.counters.proof_failures += 1;
        self.last_denial = Some((kind, reason));
    }

    /// Replace the auth policy: `make` receives the one in force and returns the new one
    /// (it may keep the old one as a fallback).
    pub fn set_auth_policy(
        &mut self,
        make: impl FnOnce(Box<dyn AuthPolicy>) -> Box<dyn AuthPolicy>,
    ) {
        let old = std::mem::replace(&mut self.auth, Box::new(AllowAll));
        self.auth = make(old);
    }

    /// The name of the auth policy in force.
    pub fn auth_policy_name(&self) -> &str {
        self.auth.name()
    }

    /// The most recent denial here: what was asked and why it was refused.
    pub fn last_denial(&self) -> Option<&(RequestKind, String)> {
        self.last_denial.as_ref()
    }
}
