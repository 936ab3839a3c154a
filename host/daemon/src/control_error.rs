//! What a control operation can fail with ([`ControlError`]), and the one place that maps
//! each failure to the [`ErrorKind`] clients see ([`ControlError::kind`]). Management
//! operations from the configuration fail with the same errors (their messages become
//! start-up errors).

use ouro_control::{DecodeError, ErrorKind, Reply};

/// Why a control request (or a flow allocation it started) failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The request could not be decoded.
    #[error("bad request: {0}")]
    Malformed(#[from] DecodeError),
    /// An argument is invalid (empty, out of range, not an address, not for this kind of
    /// IPCP...); the message says which and why.
    #[error("{0}")]
    BadArgument(String),
    /// The operation does not fit the current state (an IPCP already in a layer, already
    /// over another layer, still carrying an IPCP above...); the message says what is in
    /// the way.
    #[error("{0}")]
    Busy(String),
    /// No IPCP by that name.
    #[error("no IPCP `{0}`")]
    UnknownIpcp(String),
    /// The IPCP exists but is a shim where a unicast IPCP is needed.
    #[error("`{name}` is a {kind} IPCP, not a unicast one")]
    NotUnicast {
        /// The IPCP.
        name: String,
        /// Its kind (`udp`, `local`).
        kind: &'static str,
    },
    /// An IPCP or a name by that name already exists.
    #[error("{what} `{name}` already exists")]
    Exists {
        /// `IPCP` or `name`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// No layer (of the kind the operation needs: `unicast `, `shim `, or any) by that name.
    #[error("no {kind}layer `{name}`")]
    UnknownLayer {
        /// `unicast `, `shim ` or empty.
        kind: &'static str,
        /// The layer.
        name: String,
    },
    /// No name by that name.
    #[error("no name `{0}`")]
    UnknownName(String),
    /// No such QoS preset.
    #[error("unknown QoS preset `{0}`")]
    UnknownQos(String),
    /// A policy could not be loaded or installed.
    #[error("{0}")]
    Policy(String),
    /// The application may not do this (a name bound to other programs or processes).
    #[error("{0}")]
    NotPermitted(String),
    /// No unicast layer this system is enrolled in can carry the flow.
    #[error("no enrolled unicast layer")]
    NoEnrolledLayer,
    /// The layer would not start the allocation.
    #[error("{0}")]
    AllocFailed(String),
    /// The lower layer would not start an N-1 flow for an IPCP above.
    #[error("N-1 flow to `{peer}`: {why}")]
    N1Flow {
        /// The peer IPCP's name.
        peer: String,
        /// Why not.
        why: String,
    },
    /// The layer's IPCP was destroyed while the allocation waited.
    #[error("the layer's IPCP was destroyed")]
    LayerGone,
    /// The destination name is not registered in the layer.
    #[error("name `{name}` not found in layer `{layer}`")]
    NameNotFound {
        /// The name.
        name: String,
        /// The layer.
        layer: String,
    },
    /// No application listens on the name.
    #[error("no application accepts flows to `{0}`")]
    NoListener(String),
    /// The listening application could not be handed the flow.
    #[error("the application serving `{0}` cannot be told")]
    ListenerGone(String),
    /// The destination refused the flow.
    #[error("`{0}` refused the flow")]
    PeerRefused(String),
    /// The responder's auth policy denied the flow.
    #[error("flow to `{0}` denied by the responder's policy")]
    Denied(String),
    /// The flow ended before it was allocated.
    #[error("`{name}` unreachable ({why})")]
    Unreachable {
        /// The destination name.
        name: String,
        /// How the flow ended.
        why: String,
    },
    /// No answer before the request's deadline.
    #[error("no answer from `{0}` in time")]
    Timeout(String),
    /// The daemon is shutting down.
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// The daemon failed to set something up (sockets).
    #[error("{0}")]
    Internal(String),
}

impl ControlError {
    /// The kind of failure clients see.
    pub fn kind(&self) -> ErrorKind {
        use ControlError as E;
        match self {
            E::Malformed(_)
            | E::BadArgument(_)
            | E::Busy(_)
            | E::UnknownIpcp(_)
            | E::NotUnicast { .. }
            | E::Exists { .. }
            | E::UnknownLayer { .. }
            | E::UnknownName(_)
            | E::UnknownQos(_)
            | E::Policy(_)
            | E::N1Flow { .. } => ErrorKind::BadRequest,
            E::NoEnrolledLayer | E::AllocFailed(_) | E::LayerGone => ErrorKind::NoLayer,
            E::NameNotFound { .. } => ErrorKind::NameUnknown,
            E::NotPermitted(_)
            | E::NoListener(_)
            | E::ListenerGone(_)
            | E::PeerRefused(_)
            | E::Denied(_) => ErrorKind::Refused,
            E::Unreachable { .. } | E::Timeout(_) | E::ShuttingDown => ErrorKind::Unreachable,
            E::Internal(_) => ErrorKind::Internal,
        }
    }

    /// An error about a layer of any kind.
    pub fn no_layer(name: &str) -> ControlError {
        ControlError::UnknownLayer {
            kind: "",
            name: name.to_string(),
        }
    }
}

impl<I> From<ControlError> for Reply<I> {
    fn from(e: ControlError) -> Reply<I> {
        Reply::Error {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_kinds_are_the_ones_clients_know() {
        let r: Reply = ControlError::UnknownIpcp("b.net".into()).into();
        assert_eq!(
            r,
            Reply::Error {
                kind: ErrorKind::BadRequest,
                message: "no IPCP `b.net`".into()
            }
        );
        let e = ControlError::UnknownLayer {
            kind: "unicast ",
            name: "net".into(),
        };
        assert_eq!(e.to_string(), "no unicast layer `net`");
        assert_eq!(ControlError::no_layer("x").to_string(), "no layer `x`");
        let e = ControlError::NameNotFound {
            name: "echo".into(),
            layer: "net".into(),
        };
        assert_eq!(e.kind(), ErrorKind::NameUnknown);
        assert_eq!(e.to_string(), "name `echo` not found in layer `net`");
        assert_eq!(ControlError::NoEnrolledLayer.kind(), ErrorKind::NoLayer);
        assert_eq!(
            ControlError::NotPermitted(String::new()).kind(),
            ErrorKind::Refused
        );
        assert_eq!(
            ControlError::Timeout("x".into()).to_string(),
            "no answer from `x` in time"
        );
    }
}
