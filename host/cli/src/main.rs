//! `ouro`: the Ouro command-line tool.
#![forbid(unsafe_code)]

mod ipcp_cmd;
mod ipcp_create;
mod mgmt_cmd;
mod policy_cmd;
mod policy_ctl;
mod routing_arg;
mod sim_cmd;
mod tools;

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
    /// The daemon's control socket (default: $OURO_SOCKET, else /run/ourod.sock).
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<std::path::PathBuf>,
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
    /// Work with policies (`ouro policy test`, `load`, `stats`).
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Show the daemon's layers, neighbours, forwarding tables, flows and counters.
    Status(mgmt_cmd::StatusArgs),
    /// Names: create, bind, register, unregister, list, destroy (`ouro names` too).
    #[command(subcommand, alias = "names")]
    Name(ipcp_cmd::NameCmd),
    /// IPCPs: create, bootstrap, enroll, connect, list, destroy.
    #[command(subcommand)]
    Ipcp(ipcp_cmd::IpcpCmd),
    /// List the flows of this system.
    Flows(ipcp_cmd::FlowsArgs),
    /// Set the fault injection (loss, duplication, reordering, delay, down) of a shim layer.
    Fault(mgmt_cmd::FaultArgs),
    /// Wait until the daemon answers and a condition holds (for scripts).
    Wait(mgmt_cmd::WaitArgs),
    /// Measure round-trip times to a name served by `ouro echo`.
    Ping(tools::PingArgs),
    /// Serve a name, answering every message.
    Echo(tools::EchoArgs),
    /// Measure throughput and loss to a name served by `ouro perf --server`.
    Perf(tools::PerfArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = || mgmt_cmd::socket_path(cli.socket.as_ref());
    match cli.command {
        Command::Sim(args) => sim_cmd::run(&args),
        Command::Policy(cmd) => policy_cmd::run(&cmd, socket),
        Command::Status(a) => mgmt_cmd::status(&socket(), &a),
        Command::Name(c) => ipcp_cmd::name(&socket(), &c),
        Command::Ipcp(c) => ipcp_cmd::ipcp(&socket(), &c),
        Command::Flows(a) => ipcp_cmd::flows(&socket(), &a),
        Command::Fault(a) => mgmt_cmd::fault(&socket(), &a),
        Command::Wait(a) => mgmt_cmd::wait(&socket(), &a),
        Command::Ping(a) => tools::ping(&socket(), &a),
        Command::Echo(a) => tools::echo(&socket(), &a),
        Command::Perf(a) => tools::perf(&socket(), &a),
    }
}
