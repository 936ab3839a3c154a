//! `ouro ipcp ...`, `ouro name ...` and `ouro flows`: managing a running `ourod` in the manner
//! of Ouroboros' `irm` and of iproute2. Every request goes over the control socket; the daemon
//! applies the same operations its configuration file lists.

use crate::ipcp_create::CreateArgs;
use crate::mgmt_cmd::{compact, connect, fail, opt};
use clap::{Args, Subcommand};
use ouro_control::{FlowInfo, FlowKind, IpcpDetail, IpcpInfo, NameInfo, Request};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::process::ExitCode;

/// `ouro ipcp ...`
#[derive(Debug, Subcommand)]
pub enum IpcpCmd {
    /// List this system's IPCPs.
    List,
    /// Create an IPCP.
    Create(CreateArgs),
    /// Make a unicast IPCP the first member of a new layer.
    Bootstrap {
        /// The IPCP.
        name: String,
        /// The layer's name.
        #[arg(long)]
        layer: String,
        /// Keepalive interval (ms).
        #[arg(long)]
        hello_ms: Option<u64>,
        /// Dead interval (ms).
        #[arg(long)]
        dead_ms: Option<u64>,
    },
    /// Enroll a unicast IPCP in a layer through a member reachable over its lower layer.
    Enroll {
        /// The IPCP.
        name: String,
        /// The layer.
        #[arg(long)]
        layer: String,
        /// The member: a peer name or address:port (udp), an IPCP name (local).
        #[arg(long)]
        via: Option<String>,
        /// The lower layer, if the IPCP has none yet.
        #[arg(long)]
        over: Option<String>,
    },
    /// Form an adjacency (an N-1 flow) with a peer over the lower layer.
    Connect {
        /// The IPCP.
        name: String,
        /// The peer: a peer name or address:port (udp), an IPCP name (local).
        #[arg(long)]
        to: String,
        /// The lower layer, if the IPCP has none yet.
        #[arg(long)]
        over: Option<String>,
        /// The link cost.
        #[arg(long, default_value_t = 1)]
        cost: u32,
    },
    /// Destroy an IPCP.
    Destroy {
        /// The IPCP.
        name: String,
    },
}

/// `ouro name ...`
#[derive(Debug, Subcommand)]
pub enum NameCmd {
    /// List the names of this system: layers, bindings, listeners.
    List,
    /// Create a name.
    Create {
        /// The name.
        name: String,
    },
    /// Bind a program or a running process to a name: only it may accept flows to the name.
    Bind {
        /// The name.
        name: String,
        /// The program (executable basename or full path).
        #[arg(long, required_unless_present = "pid")]
        program: Option<String>,
        /// The process id.
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Remove a binding (all of the name's bindings without --program/--pid).
    Unbind {
        /// The name.
        name: String,
        /// The program.
        #[arg(long)]
        program: Option<String>,
        /// The process id.
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Register a name in a layer (default: every layer).
    Register {
        /// The name.
        name: String,
        /// The layer.
        #[arg(long)]
        layer: Option<String>,
    },
    /// Withdraw a registration.
    Unregister {
        /// The name.
        name: String,
        /// The layer.
        #[arg(long)]
        layer: Option<String>,
    },
    /// Destroy a name (bindings and registrations).
    Destroy {
        /// The name.
        name: String,
    },
}

/// Arguments of `ouro flows`.
#[derive(Debug, Args)]
pub struct FlowsArgs {
    /// Print the flows as a JSON array.
    #[arg(long)]
    json: bool,
}

fn call(socket: &Path, req: &Request) -> Result<(), String> {
    connect(socket)
        .and_then(|mut c| c.ack(req))
        .map_err(|e| e.to_string())
}

/// Ask for a document of type `T`.
fn ask<T: DeserializeOwned>(socket: &Path, req: &Request) -> Result<T, String> {
    connect(socket)
        .and_then(|mut c| c.ask(req))
        .map_err(|e| e.to_string())
}

/// `ouro ipcp ...`.
pub fn ipcp(socket: &Path, cmd: &IpcpCmd) -> ExitCode {
    let req = match cmd {
        IpcpCmd::List => return ipcp_list(socket),
        IpcpCmd::Create(a) => match a.request() {
            Ok(r) => r,
            Err(e) => return fail(e),
        },
        IpcpCmd::Bootstrap {
            name,
            layer,
            hello_ms,
            dead_ms,
        } => Request::IpcpBootstrap {
            name: name.clone(),
            layer: layer.clone(),
            hello_ms: *hello_ms,
            dead_ms: *dead_ms,
        },
        IpcpCmd::Enroll {
            name,
            layer,
            via,
            over,
        } => Request::IpcpEnroll {
            name: name.clone(),
            layer: layer.clone(),
            via: via.clone(),
            over: over.clone(),
        },
        IpcpCmd::Connect {
            name,
            to,
            over,
            cost,
        } => Request::IpcpConnect {
            name: name.clone(),
            to: to.clone(),
            over: over.clone(),
            cost: *cost,
        },
        IpcpCmd::Destroy { name } => Request::IpcpDestroy { name: name.clone() },
    };
    match call(socket, &req) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn ipcp_list(socket: &Path) -> ExitCode {
    let rows: Vec<IpcpInfo> = match ask(socket, &Request::ListIpcps) {
        Ok(rows) => rows,
        Err(e) => return fail(e),
    };
    println!("{:<16} {:<8} {:<12} DETAIL", "IPCP", "TYPE", "LAYER");
    for r in rows {
        let (kind, detail) = match &r.kind {
            IpcpDetail::Udp {
                bind,
                peers,
                scheduled,
                rate_pps,
            } => (
                "udp",
                format!(
                    "bind {bind} peers {peers} {}{}",
                    if *scheduled { "scheduled" } else { "fifo" },
                    rate_pps.map_or_else(String::new, |r| format!(" rate {r} PDUs/s"))
                ),
            ),
            IpcpDetail::Local { members } => (
                "local",
                format!(
                    "members {}",
                    if members.is_empty() {
                        "-".into()
                    } else {
                        members.join(",")
                    }
                ),
            ),
            IpcpDetail::Unicast {
                enrolled,
                address,
                lower,
                neighbors,
            } => (
                "unicast",
                format!(
                    "address {address} over {} {} neighbours {neighbors}",
                    opt(lower.as_ref()),
                    if *enrolled {
                        "enrolled"
                    } else {
                        "not-enrolled"
                    },
                ),
            ),
        };
        println!(
            "{:<16} {:<8} {:<12} {detail}",
            r.name,
            kind,
            opt(r.layer.as_ref())
        );
    }
    ExitCode::SUCCESS
}

/// `ouro name ...`.
pub fn name(socket: &Path, cmd: &NameCmd) -> ExitCode {
    let req = match cmd {
        NameCmd::List => return name_list(socket),
        NameCmd::Create { name } => Request::NameCreate { name: name.clone() },
        NameCmd::Bind { name, program, pid } => Request::NameBind {
            name: name.clone(),
            program: program.clone(),
            pid: *pid,
        },
        NameCmd::Unbind { name, program, pid } => Request::NameUnbind {
            name: name.clone(),
            program: program.clone(),
            pid: *pid,
        },
        NameCmd::Register { name, layer } => Request::Register {
            name: name.clone(),
            layer: layer.clone(),
        },
        NameCmd::Unregister { name, layer } => Request::Unregister {
            name: name.clone(),
            layer: layer.clone(),
        },
        NameCmd::Destroy { name } => Request::NameDestroy { name: name.clone() },
    };
    match call(socket, &req) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// Items joined by commas, or `-`.
fn list<T: ToString>(items: &[T]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.iter().map(T::to_string).collect::<Vec<_>>().join(",")
    }
}

fn name_list(socket: &Path) -> ExitCode {
    let rows: Vec<NameInfo> = match ask(socket, &Request::ListNames) {
        Ok(rows) => rows,
        Err(e) => return fail(e),
    };
    // Tab-separated, one name a line, for scripts: NAME LAYERS `listeners N` and, when
    // bound, `programs ...` / `pids ...`.
    for r in rows {
        let mut line = format!("{}\t{}\tlisteners {}", r.name, list(&r.layers), r.listeners);
        for (key, empty, items) in [
            (
                "listener-pids",
                r.listener_pids.is_empty(),
                list(&r.listener_pids),
            ),
            ("programs", r.programs.is_empty(), list(&r.programs)),
            ("pids", r.pids.is_empty(), list(&r.pids)),
        ] {
            if !empty {
                line.push_str(&format!("\t{key} {items}"));
            }
        }
        println!("{line}");
    }
    ExitCode::SUCCESS
}

/// `ouro flows [--json]`.
pub fn flows(socket: &Path, a: &FlowsArgs) -> ExitCode {
    let rows: Vec<FlowInfo> = match ask(socket, &Request::ListFlows) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    if a.json {
        println!("{}", compact(&rows));
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<10} {:>6} {:<12} {:<12} {:>8} {:>18} {:>18} {:>11} {:>7}",
        "LAYER",
        "FLOW",
        "NAME",
        "QOS",
        "AGE_MS",
        "TX MSGS/BYTES",
        "RX MSGS/BYTES",
        "DROPS TX/RX",
        "PID"
    );
    for f in rows {
        // An N-1 flow carries a port of an IPCP above: shown in the PID column.
        let (age_ms, rx_drops, owner) = match &f.kind {
            FlowKind::N1 { n1_for, port } => (None, None, format!("{n1_for}:{port}")),
            FlowKind::App {
                age_ms,
                backpressure,
                pid,
                ..
            } => (Some(*age_ms), Some(backpressure.rx_drops), opt(*pid)),
            FlowKind::Local {
                age_ms,
                rx_drops,
                pid,
                ..
            } => (Some(*age_ms), Some(*rx_drops), opt(*pid)),
        };
        let t = &f.traffic;
        println!(
            "{:<10} {:>6} {:<12} {:<12} {:>8} {:>18} {:>18} {:>11} {:>7}",
            f.layer,
            f.flow,
            opt(f.name.as_ref()),
            f.qos,
            opt(age_ms),
            format!("{}/{}", t.tx_msgs, t.tx_bytes),
            format!("{}/{}", t.rx_msgs, t.rx_bytes),
            format!("{}/{}", t.tx_errors, opt(rx_drops)),
            owner
        );
    }
    ExitCode::SUCCESS
}
