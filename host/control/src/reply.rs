//! What the daemon answers: [`Reply`], tagged by `reply` on the wire, and the
//! [`ErrorKind`]s of its failures.

use crate::info::Info;
use serde::{Deserialize, Serialize};

/// A reply (or an unsolicited announcement on a listening connection).
///
/// `I` is the document an [`Reply::Info`] carries: the daemon sends an [`Info`]; a client
/// that knows what it asked for decodes `Reply<T>` with the document's own type (for
/// example `Reply<Status>` for [`Request::Status`](crate::Request::Status)), which reads
/// the same bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply<I = Info> {
    /// Done.
    Ok,
    /// A flow was allocated; its socket is attached.
    Flow {
        /// The flow id (the endpoint id in its layer).
        flow: u32,
        /// The layer it runs in.
        layer: String,
    },
    /// A flow to a listened name arrived and was accepted; its socket is attached.
    Incoming {
        /// The flow id.
        flow: u32,
        /// The layer.
        layer: String,
        /// The name it was addressed to.
        name: String,
        /// The QoS cube asked for.
        qos: String,
    },
    /// A document: the status, or a list of flows, names, IPCPs or policies.
    Info {
        /// The document.
        info: I,
    },
    /// The request failed.
    Error {
        /// What kind of failure.
        kind: ErrorKind,
        /// Human-readable detail.
        message: String,
    },
}

/// Failure kinds the daemon reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request was malformed or named something unknown.
    BadRequest,
    /// No layer can serve it (none enrolled).
    NoLayer,
    /// The name is not in the directory.
    NameUnknown,
    /// The peer refused (or nobody listens on the name).
    Refused,
    /// No answer in time, or no route.
    Unreachable,
    /// The daemon failed internally.
    Internal,
}
