//! Management subcommands: `status`, `fault`, `wait`, talking to `ourod` over its control
//! socket (`ipcp`, `name` and `flows` are in `ipcp_cmd`).

use clap::Args;
use ouro_control::{LayerStatus, Request, Status};
use ouro_flow::{Control, FlowError};
use serde::Serialize;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Arguments of `ouro status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the daemon's whole state as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Arguments of `ouro fault`: change the fault injection of a shim layer.
#[derive(Debug, Args)]
pub struct FaultArgs {
    /// The shim layer.
    layer: String,
    /// Loss probability (0..1).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Duplication probability (0..1).
    #[arg(long, default_value_t = 0.0)]
    duplicate: f64,
    /// Reordering probability (0..1).
    #[arg(long, default_value_t = 0.0)]
    reorder: f64,
    /// Added delay (ms).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Take the link down (drop everything).
    #[arg(long)]
    down: bool,
}

/// Arguments of `ouro wait`: poll the daemon until a condition holds.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Give up (exit 1) after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Wait until every unicast layer is enrolled.
    #[arg(long)]
    enrolled: bool,
    /// Wait until some unicast layer has at least this many neighbours.
    #[arg(long, value_name = "N")]
    neighbors: Option<usize>,
    /// Wait until some unicast layer has routes to at least this many destinations.
    #[arg(long, value_name = "N")]
    routes: Option<usize>,
}

pub(crate) fn connect(socket: &Path) -> Result<Control, FlowError> {
    Control::connect_to(socket)
}

pub(crate) fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

/// Fetch the daemon's status document.
pub fn status_doc(socket: &Path) -> Result<Status, FlowError> {
    connect(socket)?.status()
}

/// `ouro status`.
pub fn status(socket: &Path, args: &StatusArgs) -> ExitCode {
    let doc = match status_doc(socket) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    if args.json {
        println!("{}", compact(&doc));
        return ExitCode::SUCCESS;
    }
    print_status(&doc);
    ExitCode::SUCCESS
}

/// `value` as one line of JSON, keys sorted (as the daemon's documents always printed).
pub(crate) fn compact<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// An optional value, or `-`.
pub(crate) fn opt<T: Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn print_status(d: &Status) {
    println!("node {}  pid {}  up {} ms", d.node, d.pid, d.uptime_ms);
    for sh in &d.shims {
        let c = &sh.counters;
        println!(
            "shim {} (udp {}): rx {} dgrams / {} B, tx {} dgrams / {} B, learned {}, dropped: stranger {} bad {} tx {} socket overflow {} (found crowded {} times)",
            sh.name,
            sh.bind,
            c.rx_datagrams,
            c.rx_bytes,
            c.tx_datagrams,
            c.tx_bytes,
            c.peers_learned,
            c.drop_stranger,
            c.drop_bad,
            c.drop_tx,
            c.rx_overflow,
            c.rx_crowded
        );
        for p in &sh.peers {
            println!("  peer port {} {} {}", p.port, p.addr, opt(p.name.as_ref()));
        }
        let p = &sh.sched;
        println!(
            "  pacing: {}, rate {}, {} batches / {} PDUs pulled, waits: rate {} socket {}",
            if p.scheduled {
                "scheduled ports"
            } else {
                "FIFO"
            },
            p.rate_pps
                .map_or_else(|| "unlimited".to_string(), |r| format!("{r} PDUs/s")),
            p.batches,
            p.pulled,
            p.rate_waits,
            p.shim_waits
        );
        if let Some(f) = &sh.faults {
            println!("  faults {}", compact(f));
        }
    }
    for lo in &d.locals {
        let c = &lo.counters;
        println!(
            "local {}: members {}, names {}, delivered {} PDUs / {} B, dropped: port {} full {}",
            lo.name,
            compact(&lo.members),
            compact(&lo.names),
            c.delivered,
            c.delivered_bytes,
            c.drop_port,
            c.drop_full
        );
        if let Some(f) = &lo.faults {
            println!("  faults {}", compact(f));
        }
    }
    for l in &d.layers {
        print_layer(l);
    }
    println!("flows {} (`ouro flows` lists them)", d.flows.len());
    println!("daemon counters {}", compact(&d.counters));
}

fn print_layer(l: &LayerStatus) {
    println!(
        "layer {} (unicast over {}): ipcp {} address {} {}",
        l.name,
        opt(l.lower.as_ref()),
        l.ipcp,
        l.address,
        if l.enrolled {
            "enrolled"
        } else {
            "NOT enrolled"
        }
    );
    println!("  public key {}", l.public_key);
    for n in &l.neighbors {
        println!(
            "  neighbour {} on port {} ({} {})",
            n.address,
            n.port,
            opt(n.name.as_ref()),
            opt(n.endpoint.as_ref())
        );
    }
    for e in &l.fib {
        let hops: Vec<String> = e
            .next_hops
            .iter()
            .map(|h| format!("{} (port {})", h.addr, h.port))
            .collect();
        println!("  route {} via {}", e.dst, hops.join(", "));
    }
    println!(
        "  names: {}",
        if l.names.is_empty() {
            "-".into()
        } else {
            l.names.join(" ")
        }
    );
    for f in &l.flows {
        let t = &f.traffic;
        println!(
            "  flow {} {} qos {} tx {} ({} B) rx {} ({} B) dropped: tx {} rx {} pid {}",
            f.flow,
            f.name,
            f.qos,
            t.tx_msgs,
            t.tx_bytes,
            t.rx_msgs,
            t.rx_bytes,
            t.tx_errors,
            f.backpressure.rx_drops,
            opt(f.pid)
        );
    }
    for p in &l.ports {
        // queued/dropped/ECN-marked per cube queue of a scheduled port.
        let cubes: Vec<String> = p
            .cubes
            .iter()
            .map(|c| format!("{} {}/{}/{}", c.cube, c.queued, c.dropped, c.ecn_marked))
            .collect();
        println!(
            "  port {} queues (queued/dropped/marked): mgmt {}/{} {}",
            p.port,
            p.mgmt.queued,
            p.mgmt.dropped,
            cubes.join(" ")
        );
    }
    for p in &l.n1_ports {
        println!(
            "  n-1 port {} to {} (address {}) over {} flow {}: rx {} PDUs / {} B, tx {} PDUs / {} B, dropped tx {}, waits for room {}",
            p.port,
            opt(p.peer.as_ref()),
            opt(p.remote_address),
            p.lower,
            p.flow,
            p.rx_pdus,
            p.rx_bytes,
            p.tx_pdus,
            p.tx_bytes,
            p.tx_drops,
            p.waits
        );
    }
    let q = &l.queues;
    println!(
        "  queue sizes: {} PDUs per cube queue (ECN from {}), {} management PDUs per port; flow backlog {} SDUs / {} B",
        q.queue_pdus,
        opt(q.ecn_threshold),
        q.mgmt_queue_pdus,
        q.backlog_sdus,
        q.backlog_bytes
    );
    println!("  counters {}", compact(&l.counters));
}

/// `ouro fault`.
pub fn fault(socket: &Path, a: &FaultArgs) -> ExitCode {
    let req = Request::Fault {
        layer: a.layer.clone(),
        loss: a.loss,
        duplicate: a.duplicate,
        reorder: a.reorder,
        delay_ms: a.delay_ms,
        down: a.down,
    };
    match connect(socket).and_then(|mut c| c.ack(&req)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// True if the status document satisfies the wait condition.
fn satisfied(d: &Status, a: &WaitArgs) -> bool {
    if a.enrolled && !d.layers.iter().all(|l| l.enrolled) {
        return false;
    }
    let most = |count: fn(&LayerStatus) -> usize| d.layers.iter().map(count).max().unwrap_or(0);
    a.neighbors.is_none_or(|n| most(|l| l.neighbors.len()) >= n)
        && a.routes.is_none_or(|n| most(|l| l.fib.len()) >= n)
}

/// `ouro wait`: exit 0 once the condition holds (the daemon answering is the minimum), 1 on
/// timeout.
pub fn wait(socket: &Path, a: &WaitArgs) -> ExitCode {
    let deadline = Instant::now() + Duration::from_secs_f64(a.timeout.clamp(0.0, 86_400.0));
    loop {
        let last = match status_doc(socket) {
            Ok(d) if satisfied(&d, a) => return ExitCode::SUCCESS,
            Ok(_) => "condition not met".to_string(),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return fail(format!("timed out after {} s: {last}", a.timeout));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The control socket: `--socket`, else `$OURO_SOCKET`, else the default.
pub fn socket_path(arg: Option<&PathBuf>) -> PathBuf {
    arg.cloned().unwrap_or_else(ouro_flow::socket_path)
}
