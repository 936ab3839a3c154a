//! `ouro policy test`, and the daemon's `load` / `stats` ([`policy_ctl`]): run a routing policy on a topology in the simulator and check the
//! forwarding tables it produces.

use crate::{policy_ctl, routing_arg};
use clap::{Args, Subcommand, ValueEnum};
use ouro_policy::PolicyError;
use ouro_sim::{Graph, Optimality, RouteCheck, SimConfig, SimError, Simulator, TopologyError};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `ouro policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run a routing policy on every node of a topology in the simulator and check
    /// reachability, loop-freedom and (for shortest-path policies) optimality against the
    /// native reference. Exits non-zero on any failure.
    Test(TestArgs),
    /// Load a policy into a layer of the running daemon (hot swap; rolled back if its
    /// first calls fail).
    Load(policy_ctl::LoadArgs),
    /// Show the daemon's policies: calls, failures, latency p50/p99, fuel, rollbacks.
    Stats(policy_ctl::StatsArgs),
}

/// How strictly next hops are compared with the native reference.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OptimalityArg {
    /// Equal to the reference's equal-cost sets.
    Exact,
    /// Non-empty subsets of them.
    Subset,
    /// No comparison.
    Off,
}

/// Arguments of `ouro policy test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The policy: `native`, `spf`, `ecmp`, `lfa`, or a path to a routing component (.wasm).
    policy: String,
    /// Topology in networkx node-link JSON.
    #[arg(long, value_name = "FILE")]
    topology: PathBuf,
    /// Link attribute holding the link cost (default: every link costs 1).
    #[arg(long, value_name = "ATTR")]
    weight: Option<String>,
    /// Optimality check (default: exact for native/ecmp/lfa, subset otherwise).
    #[arg(long, value_enum)]
    optimality: Option<OptimalityArg>,
    /// A policy parameter `name=value` (true/false, integer, float, `[a,b]` list, else
    /// text); repeatable. For example `--param hop-count-cubes=[voice]` gives the voice cube
    /// its own table, which is then checked too.
    #[arg(long = "param", value_name = "K=V")]
    params: Vec<String>,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated seconds allowed for convergence.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    time_limit: u64,
}

#[derive(Debug, thiserror::Error)]
enum TestError {
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("{0}")]
    Param(String),
}

/// Run `ouro policy ...` (`socket`: the daemon's control socket, for load and stats).
pub fn run(cmd: &PolicyCommand, socket: impl FnOnce() -> PathBuf) -> ExitCode {
    match cmd {
        PolicyCommand::Load(a) => policy_ctl::load(&socket(), a),
        PolicyCommand::Stats(a) => policy_ctl::stats(&socket(), a),
        PolicyCommand::Test(args) => match test(args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// Returns whether every check passed (the report is printed either way).
fn test(args: &TestArgs) -> Result<bool, TestError> {
    let graph = Graph::load(&args.topology, args.weight.as_deref())?;
    let params = routing_arg::typed_params(&args.params).map_err(TestError::Param)?;
    let choice = routing_arg::resolve(&args.policy, params)?;
    let optimality = match args.optimality {
        Some(OptimalityArg::Exact) => Optimality::Exact,
        Some(OptimalityArg::Subset) => Optimality::Subset,
        Some(OptimalityArg::Off) => Optimality::Off,
        None => routing_arg::default_optimality(&args.policy),
    };
    let config = SimConfig {
        seed: args.seed,
        ..SimConfig::default()
    };
    let mut sim = Simulator::with_policies(graph, config, routing_arg::factory(&choice))?;
    let converged = sim.run_until_converged(Duration::from_secs(args.time_limit));
    let check = sim.check_routes(optimality);
    let failures: u64 = (0..sim.graph().node_count())
        .map(|i| sim.ipcp(i).counters().routing_failures)
        .sum();
    println!("policy: {}", args.policy);
    println!(
        "topology: {} nodes, {} links; {} nodes in the layer",
        sim.graph().node_count(),
        sim.graph().edge_count(),
        check.nodes
    );
    println!(
        "converged: {} ({} ms simulated, {} ms wall)",
        if converged { "yes" } else { "NO" },
        sim.now().as_millis(),
        sim.wall_time().as_millis()
    );
    print_check(&check, optimality);
    println!("route computations failed: {failures}");
    if let Some(p) = choice.wasm() {
        let m = p.metrics().snapshot();
        println!(
            "policy calls: {}, failures: {}, fuel: {}, latency p50 {:?} p99 {:?}",
            m.calls, m.failures, m.fuel_used, m.p50, m.p99
        );
        if let Some(e) = &m.last_error {
            println!("last policy error: {e}");
        }
    }
    let passed = converged && check.passed() && failures == 0;
    println!("result: {}", if passed { "PASS" } else { "FAIL" });
    Ok(passed)
}

fn print_check(c: &RouteCheck, optimality: Optimality) {
    problems(
        "",
        "unreachable",
        c.unreachable,
        c.pairs,
        &c.unreachable_examples,
    );
    problems("", "forwarding loops", c.loops, c.pairs, &c.loop_examples);
    if optimality == Optimality::Off {
        println!("optimality: not checked");
    } else {
        let what = format!("suboptimal ({optimality:?})");
        problems("", &what, c.suboptimal, c.pairs, &c.suboptimal_examples);
    }
    for cube in &c.cubes {
        let prefix = format!(
            "cube {} ({} nodes with their own table): ",
            cube.cube, cube.own_tables
        );
        let (n, pairs) = (cube.unreachable, cube.pairs);
        problems(&prefix, "unreachable", n, pairs, &cube.unreachable_examples);
        problems(
            &prefix,
            "forwarding loops",
            cube.loops,
            pairs,
            &cube.loop_examples,
        );
    }
}

/// One report line: `n` problem pairs of `pairs`, with examples.
fn problems(prefix: &str, what: &str, n: usize, pairs: usize, ex: &[(String, String)]) {
    let more = if n > 0 {
        let list: Vec<String> = ex.iter().map(|(s, d)| format!("{s}->{d}")).collect();
        format!(" (e.g. {})", list.join(", "))
    } else {
        String::new()
    };
    println!("{prefix}{what}: {n} of {pairs} pairs{more}");
}
