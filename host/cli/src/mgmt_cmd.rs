//! Management subcommands: `status`, `fault`, `wait`, talking to `ourod` over its control
//! socket (`ipcp`, `name` and `flows` are in `ipcp_cmd`).

use clap::Args;
use ouro_flow::proto::Request;
use ouro_flow::{Control, FlowError};
use serde_json::Value;
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
pub fn status_doc(socket: &Path) -> Result<Value, FlowError> {
    connect(socket)?.info(&Request::Status)
}

/// `ouro status`.
pub fn status(socket: &Path, args: &StatusArgs) -> ExitCode {
    let doc = match status_doc(socket) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    if args.json {
        println!("{doc}");
        return ExitCode::SUCCESS;
    }
    print_status(&doc);
    ExitCode::SUCCESS
}

pub(crate) fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn print_status(d: &Value) {
    println!(
        "node {}  pid {}  up {} ms",
        s(&d["node"]),
        s(&d["pid"]),
        s(&d["uptime_ms"])
    );
    for sh in d["shims"].as_array().into_iter().flatten() {
        let c = &sh["counters"];
        println!(
            "shim {} (udp {}): rx {} dgrams / {} B, tx {} dgrams / {} B, learned {}, dropped: stranger {} bad {} tx {} socket overflow {} (found crowded {} times)",
            s(&sh["name"]),
            s(&sh["bind"]),
            c["rx_datagrams"],
            c["rx_bytes"],
            c["tx_datagrams"],
            c["tx_bytes"],
            c["peers_learned"],
            c["drop_stranger"],
            c["drop_bad"],
            c["drop_tx"],
            c["rx_overflow"],
            c["rx_crowded"]
        );
        for p in sh["peers"].as_array().into_iter().flatten() {
            println!(
                "  peer port {} {} {}",
                s(&p["port"]),
                s(&p["addr"]),
                s(&p["name"])
            );
        }
        let p = &sh["sched"];
        println!(
            "  pacing: {}, rate {}, {} batches / {} PDUs pulled, waits: rate {} socket {}",
            if p["scheduled"] == true {
                "scheduled ports"
            } else {
                "FIFO"
            },
            if p["rate_pps"].is_null() {
                "unlimited".to_string()
            } else {
                format!("{} PDUs/s", s(&p["rate_pps"]))
            },
            s(&p["batches"]),
            s(&p["pulled"]),
            s(&p["rate_waits"]),
            s(&p["shim_waits"])
        );
        if !sh["faults"].is_null() {
            println!("  faults {}", sh["faults"]);
        }
    }
    for lo in d["locals"].as_array().into_iter().flatten() {
        let c = &lo["counters"];
        println!(
            "local {}: members {}, names {}, delivered {} PDUs / {} B, dropped: port {} full {}",
            s(&lo["name"]),
            lo["members"],
            lo["names"],
            c["delivered"],
            c["delivered_bytes"],
            c["drop_port"],
            c["drop_full"]
        );
    }
    for l in d["layers"].as_array().into_iter().flatten() {
        println!(
            "layer {} (unicast over {}): ipcp {} address {} {}",
            s(&l["name"]),
            s(&l["lower"]),
            s(&l["ipcp"]),
            s(&l["address"]),
            if l["enrolled"].as_bool() == Some(true) {
                "enrolled"
            } else {
                "NOT enrolled"
            }
        );
        println!("  public key {}", s(&l["public_key"]));
        for n in l["neighbors"].as_array().into_iter().flatten() {
            println!(
                "  neighbour {} on port {} ({} {})",
                s(&n["address"]),
                s(&n["port"]),
                s(&n["name"]),
                s(&n["endpoint"])
            );
        }
        for e in l["fib"].as_array().into_iter().flatten() {
            let hops: Vec<String> = e["next_hops"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|h| format!("{} (port {})", s(&h["addr"]), s(&h["port"])))
                .collect();
            println!("  route {} via {}", s(&e["dst"]), hops.join(", "));
        }
        let names: Vec<String> = l["names"].as_array().into_iter().flatten().map(s).collect();
        println!(
            "  names: {}",
            if names.is_empty() {
                "-".into()
            } else {
                names.join(" ")
            }
        );
        for f in l["flows"].as_array().into_iter().flatten() {
            println!(
                "  flow {} {} qos {} tx {} ({} B) rx {} ({} B) dropped: tx {} rx {} pid {}",
                s(&f["flow"]),
                s(&f["name"]),
                s(&f["qos"]),
                s(&f["tx_msgs"]),
                s(&f["tx_bytes"]),
                s(&f["rx_msgs"]),
                s(&f["rx_bytes"]),
                s(&f["tx_errors"]),
                s(&f["rx_drops"]),
                s(&f["pid"])
            );
        }
        for p in l["ports"].as_array().into_iter().flatten() {
            // queued/dropped/ECN-marked per cube queue of a scheduled port.
            let cubes: Vec<String> = p["cubes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{} {}/{}/{}",
                        s(&c["cube"]),
                        s(&c["queued"]),
                        s(&c["dropped"]),
                        s(&c["ecn_marked"])
                    )
                })
                .collect();
            println!(
                "  port {} queues (queued/dropped/marked): mgmt {}/{} {}",
                s(&p["port"]),
                s(&p["mgmt"]["queued"]),
                s(&p["mgmt"]["dropped"]),
                cubes.join(" ")
            );
        }
        for p in l["n1_ports"].as_array().into_iter().flatten() {
            println!(
                "  n-1 port {} to {} (address {}) over {} flow {}: rx {} PDUs / {} B, tx {} PDUs / {} B, dropped tx {}, waits for room {}",
                s(&p["port"]),
                s(&p["peer"]),
                s(&p["remote_address"]),
                s(&p["lower"]),
                s(&p["flow"]),
                s(&p["rx_pdus"]),
                s(&p["rx_bytes"]),
                s(&p["tx_pdus"]),
                s(&p["tx_bytes"]),
                s(&p["tx_drops"]),
                s(&p["waits"])
            );
        }
        let q = &l["queues"];
        println!(
            "  queue sizes: {} PDUs per cube queue (ECN from {}), {} management PDUs per port; flow backlog {} SDUs / {} B",
            s(&q["queue_pdus"]),
            s(&q["ecn_threshold"]),
            s(&q["mgmt_queue_pdus"]),
            s(&q["backlog_sdus"]),
            s(&q["backlog_bytes"])
        );
        println!("  counters {}", l["counters"]);
    }
    println!(
        "flows {} (`ouro flows` lists them)",
        d["flows"].as_array().map_or(0, Vec::len)
    );
    println!("daemon counters {}", d["counters"]);
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
    match connect(socket).and_then(|mut c| c.info(&req)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// True if the status document satisfies the wait condition.
fn satisfied(d: &Value, a: &WaitArgs) -> bool {
    let layers: Vec<&Value> = d["layers"].as_array().into_iter().flatten().collect();
    if a.enrolled && !layers.iter().all(|l| l["enrolled"].as_bool() == Some(true)) {
        return false;
    }
    let count = |key: &str| {
        layers
            .iter()
            .map(|l| l[key].as_array().map_or(0, Vec::len))
            .max()
            .unwrap_or(0)
    };
    a.neighbors.is_none_or(|n| count("neighbors") >= n)
        && a.routes.is_none_or(|n| count("fib") >= n)
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
