//! What a client asks the daemon: [`Request`], tagged by `op` on the wire.

use crate::options::{FaultSpec, QueueOptions, UdpOptions};
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
    /// Create an IPCP (a shim IPCP is its own layer and is ready at once; a unicast IPCP
    /// waits for [`Request::IpcpBootstrap`] or [`Request::IpcpEnroll`]).
    IpcpCreate {
        /// The IPCP's name (for a shim: its layer's name too).
        name: String,
        /// What kind of IPCP.
        kind: IpcpKind,
        /// A unicast IPCP: the shim layer below it (or set by the first `over`).
        #[serde(default)]
        lower: Option<String>,
        /// A UDP shim: its socket and peers.
        #[serde(default)]
        udp: Option<UdpOptions>,
        /// A shim layer (UDP or local): fault injection from the start.
        #[serde(default)]
        fault: Option<FaultSpec>,
        /// A unicast IPCP: its queue sizes (unset ones: the defaults).
        #[serde(default)]
        queues: QueueOptions,
        /// A unicast IPCP: its private key, 64 hex digits or the absolute path of a key file
        /// (created if missing); None: a random key.
        #[serde(default)]
        key: Option<String>,
    },
    /// Make a unicast IPCP the first member of a new layer.
    IpcpBootstrap {
        /// The IPCP.
        name: String,
        /// The layer's name.
        layer: String,
        /// Keepalive interval (ms), if not the default.
        #[serde(default)]
        hello_ms: Option<u64>,
        /// Dead interval (ms), if not the default.
        #[serde(default)]
        dead_ms: Option<u64>,
    },
    /// Enroll a unicast IPCP in a layer through a member reachable over its lower layer.
    IpcpEnroll {
        /// The IPCP.
        name: String,
        /// The layer.
        layer: String,
        /// The member to enroll through: a peer name or `address:port` of a UDP lower layer,
        /// an IPCP name on a local one (default on a local layer: a member already in it).
        #[serde(default)]
        via: Option<String>,
        /// The lower layer, if the IPCP has none yet.
        #[serde(default)]
        over: Option<String>,
    },
    /// Form an adjacency (an N-1 flow) between a unicast IPCP and a peer over its lower layer.
    IpcpConnect {
        /// The IPCP.
        name: String,
        /// The peer: as for [`Request::IpcpEnroll`]'s `via`.
        to: String,
        /// The lower layer, if the IPCP has none yet.
        #[serde(default)]
        over: Option<String>,
        /// The link cost to advertise.
        #[serde(default = "one")]
        cost: u32,
    },
    /// Destroy an IPCP (its flows end; a shim must have no IPCP above it).
    IpcpDestroy {
        /// The IPCP.
        name: String,
    },
    /// Create a name (with no binding or registration yet).
    NameCreate {
        /// The name.
        name: String,
    },
    /// Bind a program (by executable name or path) or a process to a name: only bound
    /// processes may then accept flows to it. Creates the name if needed.
    NameBind {
        /// The name.
        name: String,
        /// A program: the basename or full path of the executable.
        #[serde(default)]
        program: Option<String>,
        /// A running process.
        #[serde(default)]
        pid: Option<u32>,
    },
    /// Remove a binding (both fields empty: every binding of the name).
    NameUnbind {
        /// The name.
        name: String,
        /// The program.
        #[serde(default)]
        program: Option<String>,
        /// The process.
        #[serde(default)]
        pid: Option<u32>,
    },
    /// Destroy a name: its bindings and registrations go.
    NameDestroy {
        /// The name.
        name: String,
    },
    /// The flows of this system.
    ListFlows,
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

fn one() -> u32 {
    1
}

/// The kinds of IPCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpcpKind {
    /// A member of a unicast layer (routing, forwarding, flow allocation).
    Unicast,
    /// A UDP shim: one socket, peers as ports.
    Udp,
    /// A local shim: joins the IPCPs and applications of this system.
    Local,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipcp_create_takes_queue_sizes_and_a_key_and_may_leave_them_out() {
        // The example of docs/FLOW-IPC.md.
        let doc = r#"{"op":"ipcp_create","name":"b.net","kind":"unicast","lower":"udp",
            "queues":{"cube_pdus":64},"key":"/etc/ouro/net.key"}"#;
        let r: Request = serde_json::from_str(doc).expect("parses");
        let Request::IpcpCreate { queues, key, .. } = &r else {
            panic!("{r:?}");
        };
        assert_eq!(queues.cube_pdus, Some(64));
        assert_eq!((queues.mgmt_pdus, queues.backlog_bytes), (None, None));
        assert_eq!(key.as_deref(), Some("/etc/ouro/net.key"));
        let bare = r#"{"op":"ipcp_create","name":"u","kind":"local"}"#;
        let r: Request = serde_json::from_str(bare).expect("parses");
        assert!(
            matches!(&r, Request::IpcpCreate { queues, key: None, fault: None, .. } if queues.is_default()),
            "{r:?}"
        );
    }

    #[test]
    fn any_shim_layer_may_start_with_faults() {
        let doc = r#"{"op":"ipcp_create","name":"lo","kind":"local","fault":{"loss":1.0,
            "duplicate":0.0,"reorder":0.0,"delay_ms":0,"down":false,"seed":7}}"#;
        let r: Request = serde_json::from_str(doc).expect("parses");
        let Request::IpcpCreate {
            kind: IpcpKind::Local,
            fault: Some(f),
            udp: None,
            ..
        } = &r
        else {
            panic!("{r:?}");
        };
        assert_eq!((f.loss, f.seed), (1.0, 7));
    }
}
