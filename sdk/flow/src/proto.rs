//! The control protocol between applications (and the `ouro` CLI) and the daemon.
//!
//! Control messages are JSON, one per SOCK_SEQPACKET message: they are rare (allocation,
//! registration, status), so readability wins. Data never crosses the control socket: each
//! flow gets its own SOCK_SEQPACKET socket pair, one end passed to the application with
//! SCM_RIGHTS in the reply that announces the flow (see `docs/FLOW-IPC.md`).

use serde::{Deserialize, Serialize};

/// A request from a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Allocate a flow to `name`. Answered by [`Reply::Flow`] (with the flow's socket) or
    /// [`Reply::Error`].
    Alloc {
        /// Destination name.
        name: String,
        /// QoS preset: raw, best-effort, video, voice or data.
        qos: String,
        /// Layer to use (default: the first enrolled unicast layer).
        layer: Option<String>,
        /// Give up after this many milliseconds.
        timeout_ms: u64,
    },
    /// Serve `name`: the daemon registers it and this connection receives a
    /// [`Reply::Incoming`] (with the flow's socket) for every flow to it. Answered by
    /// [`Reply::Ok`] first.
    Listen {
        /// The name.
        name: String,
        /// Layers to register in (default: every unicast layer).
        layers: Vec<String>,
    },
    /// Register `name` in a layer (flows to it are refused while no application listens).
    Register {
        /// The name.
        name: String,
        /// The layer (default: every unicast layer).
        layer: Option<String>,
    },
    /// Withdraw a registration.
    Unregister {
        /// The name.
        name: String,
        /// The layer (default: every unicast layer).
        layer: Option<String>,
    },
    /// The names registered here.
    ListNames,
    /// The IPCPs of this system.
    ListIpcps,
    /// Everything: layers, neighbours, forwarding tables, flows, counters.
    Status,
    /// Change the fault injection of a shim layer.
    Fault {
        /// The shim layer.
        layer: String,
        /// Loss probability.
        loss: f64,
        /// Duplication probability.
        duplicate: f64,
        /// Reordering probability.
        reorder: f64,
        /// Added delay in milliseconds.
        delay_ms: u64,
        /// Link down.
        down: bool,
    },
    /// Load a policy into a unicast layer at run time (hot swap, on probation: rolled back
    /// if its first calls fail). Answered by [`Reply::Ok`] or [`Reply::Error`].
    PolicyLoad {
        /// The unicast layer.
        layer: String,
        /// `routing`, `scheduler` or `auth`.
        kind: String,
        /// `native`, a built-in policy name, or a path to a `.wasm` component (read by
        /// the daemon).
        policy: String,
        /// Parameters as `(name, value)` text; the daemon types the values.
        params: Vec<(String, String)>,
    },
    /// The policies in force and their call metrics. Answered by [`Reply::Info`].
    PolicyStats,
}

/// A reply (or an unsolicited announcement on a listening connection).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
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
    /// A JSON document (status, name and IPCP lists).
    Info {
        /// The document.
        info: serde_json::Value,
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

impl Request {
    /// Encode for the wire.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Reply {
    /// Encode for the wire.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}
