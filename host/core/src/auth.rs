//! Authentication / authorisation: the [`AuthPolicy`] an IPCP consults before it accepts an
//! enrollment (at the member, on the enrollee's request) or a flow (at the destination,
//! before the application is asked).
//!
//! Failure is closed: a policy error denies the request (counted as an auth failure and
//! as a denial). A newly loaded policy on probation is rolled back to the previous one
//! instead (see `ouro_policy::AuthFallback`).

/// What is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// Joining the layer.
    Enrollment,
    /// A flow to a name.
    Flow,
}

/// An enrollment or flow request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRequest {
    /// Enrollment or flow.
    pub kind: RequestKind,
    /// The layer the request arrived in.
    pub layer: String,
    /// The peer's static X25519 public key, verified: the peer proved it holds the private
    /// key before the policy is asked (see [`crate::identity`]). The IPCP always passes
    /// `Some`; `None` is for callers without identities.
    pub peer_key: Option<[u8; 32]>,
    /// For a flow, the hash of the requested name; for an enrollment, the hash of the
    /// enrollee's IPCP name (as sent in its `EnrollRequest`).
    pub name_hash: Vec<u8>,
    /// Requested QoS cube (flows; 0 for enrollment).
    pub cube: u8,
}

/// The verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request is allowed.
    pub allow: bool,
    /// Why (logged, and counted on deny).
    pub reason: String,
    /// Whether the flow must be encrypted end to end.
    pub require_encryption: bool,
}

impl Decision {
    /// Allow, without encryption.
    pub fn allow(reason: impl Into<String>) -> Self {
        Decision {
            allow: true,
            reason: reason.into(),
            require_encryption: false,
        }
    }

    /// Deny.
    pub fn deny(reason: impl Into<String>) -> Self {
        Decision {
            allow: false,
            reason: reason.into(),
            require_encryption: true,
        }
    }
}

/// Why an auth policy produced no decision.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("auth policy failed: {0}")]
pub struct AuthError(pub String);

/// An authorisation policy: called once per enrollment or flow request (never per packet).
pub trait AuthPolicy: Send {
    /// Short name, for logs and status.
    fn name(&self) -> &str;
    /// Decide on `request`. An error denies it.
    fn authorize(&mut self, request: &AuthRequest) -> Result<Decision, AuthError>;
}

/// The native default: allow everything, no encryption required.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllowAll;

impl AuthPolicy for AllowAll {
    fn name(&self) -> &str {
        "native-allow-all"
    }

    fn authorize(&mut self, _: &AuthRequest) -> Result<Decision, AuthError> {
        Ok(Decision::allow("allow-all"))
    }
}
