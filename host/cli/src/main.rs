//! `ouro`: the Ouro command-line tool.
#![forbid(unsafe_code)]

mod policy_cmd;
mod routing_arg;
mod sim_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The Ouro command-line tool.
#[derive(Debug, Parser)]
#[command(
    name = "ouro",
    version,
    about = "Ouro: a recursive (Ouroboros) packet network"
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate a layer over a topology (networkx node-link JSON) and report convergence,
    /// forwarding tables and flow delivery.
    Sim(sim_cmd::SimArgs),
    /// Work with policies (`ouro policy test`).
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Sim(args) => sim_cmd::run(&args),
        Command::Policy(cmd) => policy_cmd::run(&cmd),
    }
}
