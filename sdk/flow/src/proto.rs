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

/// The settings of a UDP shim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UdpOptions {
    /// `address:port` to bind (IPv4 or `[IPv6]`).
    pub bind: String,
    /// Configured peers: (name, `address:port`).
    #[serde(default)]
    pub peers: Vec<(String, String)>,
    /// How many peers may be learned from incoming datagrams.
    #[serde(default)]
    pub max_learned: Option<usize>,
    /// Forget a learned peer silent this long (ms; 0: never).
    #[serde(default)]
    pub learned_ttl_ms: Option<u64>,
    /// Fault injection: (loss, duplicate, reorder, delay_ms, down, seed).
    #[serde(default)]
    pub fault: Option<FaultSpec>,
    /// Link rate: PDUs per second the daemon hands to the socket (None: as fast as the
    /// socket takes them). Above it, PDUs wait in the IPCP's per-cube queues.
    #[serde(default)]
    pub rate_pps: Option<u64>,
    /// Schedule the ports (per-cube queues, scheduler policy; the default), or `false`:
    /// send PDUs as they are made through the shim's FIFO (the old path, for comparison).
    #[serde(default)]
    pub schedule: Option<bool>,
}

/// A fault-injection setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Loss probability.
    pub loss: f64,
    /// Duplication probability.
    pub duplicate: f64,
    /// Reordering probability.
    pub reorder: f64,
    /// Added delay in milliseconds.
    pub delay_ms: u64,
    /// Link down.
    pub down: bool,
    /// Random seed (0: derived from the node).
    pub seed: u64,
}

impl FaultSpec {
    /// Probabilities must lie between 0 and 1.
    pub fn check(&self) -> Result<(), String> {
        for (what, v) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("fault {what} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// The queue sizes of a unicast IPCP; `None` keeps the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueOptions {
    /// PDUs each per-cube queue of a scheduled port holds (default 1024; ECN marking starts
    /// at three quarters of it).
    #[serde(default)]
    pub cube_pdus: Option<u32>,
    /// PDUs the management queue of a scheduled port holds (default 1,024).
    #[serde(default)]
    pub mgmt_pdus: Option<u32>,
    /// SDUs kept per flow for its application while its socket is full (default 4,096).
    #[serde(default)]
    pub backlog_sdus: Option<u32>,
    /// Bytes kept per flow for its application while its socket is full (default 4 MiB).
    #[serde(default)]
    pub backlog_bytes: Option<u64>,
}

impl QueueOptions {
    /// The accepted range of each size: (name, value, least, most).
    fn ranges(&self) -> [(&'static str, Option<u64>, u64, u64); 4] {
        [
            ("queue_pdus", self.cube_pdus.map(u64::from), 1, 65_536),
            ("mgmt_queue_pdus", self.mgmt_pdus.map(u64::from), 16, 65_536),
            ("backlog_sdus", self.backlog_sdus.map(u64::from), 1, 1 << 20),
            ("backlog_bytes", self.backlog_bytes, 1 << 16, 1 << 30),
        ]
    }

    /// Every size set lies in its range (a backlog holds at least one 64 KiB message).
    pub fn check(&self) -> Result<(), String> {
        for (what, v, least, most) in self.ranges() {
            if let Some(v) = v
                && !(least..=most).contains(&v)
            {
                return Err(format!(
                    "{what} must be between {least} and {most} (got {v})"
                ));
            }
        }
        Ok(())
    }

    /// True if no size is set.
    pub fn is_default(&self) -> bool {
        *self == QueueOptions::default()
    }
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
            matches!(&r, Request::IpcpCreate { queues, key: None, .. } if queues.is_default()),
            "{r:?}"
        );
    }

    #[test]
    fn queue_sizes_are_checked_against_their_ranges() {
        let q = |f: fn(&mut QueueOptions)| {
            let mut o = QueueOptions::default();
            f(&mut o);
            o.check()
        };
        assert_eq!(q(|_| {}), Ok(()));
        assert_eq!(q(|o| o.cube_pdus = Some(65_536)), Ok(()));
        assert!(q(|o| o.cube_pdus = Some(65_537)).is_err_and(|e| e.contains("queue_pdus")));
        assert!(q(|o| o.mgmt_pdus = Some(15)).is_err_and(|e| e.contains("mgmt_queue_pdus")));
        assert!(q(|o| o.backlog_sdus = Some(0)).is_err_and(|e| e.contains("backlog_sdus")));
        assert_eq!(q(|o| o.backlog_bytes = Some(1 << 16)), Ok(()));
        assert!(q(|o| o.backlog_bytes = Some((1 << 30) + 1)).is_err());
    }
}
