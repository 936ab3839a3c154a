//! `ouro policy load` and `ouro policy stats`: hot-swap a running daemon's policies and
//! show their call metrics, over the control socket.

use crate::mgmt_cmd::compact;
use clap::Args;
use ouro_control::Request;
use ouro_flow::Control;
use std::path::Path;
use std::process::ExitCode;

/// Arguments of `ouro policy load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The unicast layer.
    layer: String,
    /// `routing`, `scheduler` or `auth`.
    kind: String,
    /// `native`, a built-in name (routing: spf, ecmp, lfa; scheduler: strict-priority, drr;
    /// auth: allow-all, allowlist) or a path to a `.wasm` component.
    policy: String,
    /// A parameter `name=value` (true/false, integer, float, `[a,b]` list, else text);
    /// repeatable.
    #[arg(long = "param", value_name = "K=V")]
    params: Vec<String>,
}

/// Arguments of `ouro policy stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print the JSON document.
    #[arg(long)]
    json: bool,
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

/// `ouro policy load`.
pub fn load(socket: &Path, a: &LoadArgs) -> ExitCode {
    let params = match crate::routing_arg::split_params(&a.params) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut policy = a.policy.clone();
    if policy.ends_with(".wasm")
        && let Ok(abs) = std::path::absolute(&policy)
    {
        // The daemon reads the file; its working directory may differ from ours.
        policy = abs.display().to_string();
    }
    let req = Request::PolicyLoad {
        layer: a.layer.clone(),
        kind: a.kind.clone(),
        policy,
        params,
    };
    match Control::connect_to(socket).and_then(|mut c| c.ack(&req)) {
        Ok(()) => {
            println!("loaded {} {} policy `{}`", a.layer, a.kind, a.policy);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `ouro policy stats`.
pub fn stats(socket: &Path, a: &StatsArgs) -> ExitCode {
    let rows = match Control::connect_to(socket).and_then(|mut c| c.policy_stats()) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    if a.json {
        println!("{}", compact(&rows));
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<10} {:<10} {:<20} {:>8} {:>8} {:>10} {:>10} {:>12} {:>9}",
        "LAYER", "KIND", "IN FORCE", "CALLS", "FAILED", "P50 µs", "P99 µs", "FUEL", "ROLLBACK"
    );
    for p in rows {
        println!(
            "{:<10} {:<10} {:<20} {:>8} {:>8} {:>10.1} {:>10.1} {:>12} {:>9}",
            p.layer,
            p.kind,
            p.in_force,
            p.calls,
            p.failures.max(p.core_failures),
            p.p50_ns as f64 / 1000.0,
            p.p99_ns as f64 / 1000.0,
            p.fuel,
            if p.rolled_back { "yes" } else { "no" },
        );
        if let Some(e) = &p.last_error {
            println!("    last error: {e}");
        }
    }
    ExitCode::SUCCESS
}
