//! `ouro sim`: run the deterministic simulator over a topology file.

use clap::Args;
use ouro_sim::{Graph, SimConfig, SimError, SimReport, Simulator, TopologyError};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `ouro sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Topology in networkx node-link JSON.
    #[arg(long, value_name = "FILE")]
    topology: PathBuf,
    /// Link attribute holding the link cost (default: every link costs 1).
    #[arg(long, value_name = "ATTR")]
    weight: Option<String>,
    /// Seed of every random choice; the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of test flows between random node pairs after convergence.
    #[arg(long, default_value_t = 0, value_name = "K")]
    flows: usize,
    /// Messages written on each test flow.
    #[arg(long, default_value_t = 10, value_name = "N")]
    msgs: u32,
    /// Size in bytes of each test message (at least 8).
    #[arg(long, default_value_t = 100, value_name = "BYTES")]
    size: usize,
    /// Simulated seconds allowed for convergence (and again for the flows).
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    time_limit: u64,
    /// Print the forwarding tables of these nodes (ids, comma-separated).
    #[arg(long, value_name = "ID[,ID...]", value_delimiter = ',')]
    dump_fib: Vec<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Routing policy of every node: `native` (the reference), a built-in Wasm policy
    /// (`spf`, `ecmp`, `lfa`) or a path to a routing component (.wasm).
    #[arg(long, default_value = "native", value_name = "POLICY")]
    routing: String,
}

/// What can go wrong before the simulation runs.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error("--dump-fib: no node with id {0:?} in the topology")]
    UnknownNode(String),
    #[error(transparent)]
    Policy(#[from] ouro_policy::PolicyError),
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
}

/// Run `ouro sim`: exit code 0 on a completed run (converged or not), 1 on an error.
pub fn run(args: &SimArgs) -> ExitCode {
    match simulate(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn simulate(args: &SimArgs) -> Result<(), CliError> {
    let graph = Graph::load(&args.topology, args.weight.as_deref())?;
    let dump = args
        .dump_fib
        .iter()
        .filter(|id| !id.is_empty())
        .map(|id| {
            graph
                .index_of(id)
                .ok_or_else(|| CliError::UnknownNode(id.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let components = graph.components().len();
    if components > 1 {
        eprintln!(
            "warning: topology has {components} components; only the component of node {:?} forms the layer",
            graph.nodes().first().map(String::as_str).unwrap_or("")
        );
    }
    let config = SimConfig {
        seed: args.seed,
        ..SimConfig::default()
    };
    let choice = crate::routing_arg::resolve(&args.routing, ouro_policy::Params::new())?;
    let mut sim = Simulator::with_policies(graph, config, crate::routing_arg::factory(&choice))?;
    let limit = Duration::from_secs(args.time_limit);
    if !sim.run_until_converged(limit) {
        eprintln!(
            "warning: the layer did not converge within {} simulated seconds",
            args.time_limit
        );
    }
    if args.flows > 0 {
        sim.register_names(Duration::from_secs(1));
        sim.run_flows(args.flows, args.msgs, args.size, limit);
    }
    let report = sim.report(&dump);
    if !args.json {
        let c = sim.counters();
        eprintln!(
            "simulator: {} events, {} PDUs sent, {} delivered, {} lost",
            c.events, c.pdus_sent, c.pdus_delivered, c.pdus_lost
        );
        if let Some(p) = choice.wasm() {
            let m = p.metrics().snapshot();
            eprintln!(
                "routing policy {}: {} calls, {} failures, fuel {}, latency p50 {:?} p99 {:?}",
                args.routing, m.calls, m.failures, m.fuel_used, m.p50, m.p99
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", human(&report));
    }
    Ok(())
}

/// The report as a short human-readable summary.
fn human(r: &SimReport) -> String {
    let mut out = format!("nodes: {}, links: {}\n", r.nodes, r.links);
    if r.converged {
        out += &format!(
            "converged at {} ms simulated ({} ms wall)\n",
            r.converged_at_ms, r.wall_ms
        );
    } else {
        out += &format!(
            "NOT converged (last route change at {} ms simulated, {} ms wall)\n",
            r.converged_at_ms, r.wall_ms
        );
    }
    if r.flows_ok + r.flows_failed > 0 {
        out += &format!("flows: {} ok, {} failed\n", r.flows_ok, r.flows_failed);
    }
    for (node, table) in &r.fib {
        for (dst, hops) in table {
            out += &format!("{node} -> {dst} via {}\n", hops.join(","));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn human_summary_lists_fib_lines() {
        let fib = BTreeMap::from([(
            "a".to_string(),
            BTreeMap::from([("b".to_string(), vec!["c".to_string(), "d".to_string()])]),
        )]);
        let r = SimReport {
            nodes: 4,
            links: 4,
            converged: true,
            converged_at_ms: 12,
            wall_ms: 1,
            flows_ok: 1,
            flows_failed: 0,
            fib,
        };
        let text = human(&r);
        assert!(text.contains("nodes: 4, links: 4"));
        assert!(text.contains("converged at 12 ms simulated (1 ms wall)"));
        assert!(text.contains("flows: 1 ok, 0 failed"));
        assert!(text.contains("a -> b via c,d\n"));
    }
}
