//! `ourod`: the Ouro daemon. Reads one TOML file describing this system (or starts on an
//! embedded default with one local shim layer), brings its layers up over real shims, and serves
//! applications and the `ouro` CLI on a Unix control socket.
#![forbid(unsafe_code)]

mod backlog;
mod config;
mod control_error;
mod event_loop;
mod keys;
mod node;
mod policy;
mod route_worker;
mod spare;

use clap::Parser;
use config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

/// The Ouro daemon.
#[derive(Debug, Parser)]
#[command(name = "ourod", version, about = "The Ouro daemon")]
struct Args {
    /// The system's configuration file (TOML). Without it: one local layer.
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Control socket path (default: $OURO_SOCKET, else /run/ourod.sock).
    #[arg(short, long)]
    socket: Option<PathBuf>,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Before any thread starts (threads inherit the mask): SIGTERM and SIGINT are read from
    // a signalfd by the event loop, never delivered to a handler.
    let stop_signals = match event_loop::signals::block() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ourod: error: cannot block SIGTERM and SIGINT: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OURO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cfg = match &args.config {
        Some(path) => Config::load(path),
        None => Config::parse("<embedded default>", config::EMBEDDED_DEFAULT),
    };
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ourod: error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!("ourod: configuration ok");
        return ExitCode::SUCCESS;
    }
    let socket = args.socket.unwrap_or_else(ouro_flow::socket_path);
    match run(cfg, socket, stop_signals) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ourod: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Brings the configuration up, serves the control socket and runs the event loop until
/// SIGTERM or SIGINT; then deallocates every flow and removes the socket.
fn run(
    cfg: Config,
    socket: PathBuf,
    stop_signals: nix::sys::signalfd::SignalFd,
) -> Result<(), String> {
    let mut poll = mio::Poll::new().map_err(|e| format!("cannot create the event loop: {e}"))?;
    let registry = poll
        .registry()
        .try_clone()
        .map_err(|e| format!("cannot create the event loop: {e}"))?;
    let mut d = node::Daemon::new(&cfg, registry).map_err(|e| e.to_string())?;
    if let Some(parent) = socket.parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
    // A socket left by a daemon that died: only replace it if nobody answers on it.
    if socket.exists() {
        if ouro_flow::ipc::connect(&socket).is_ok() {
            return Err(format!(
                "{} is in use by a running daemon",
                socket.display()
            ));
        }
        let _ = std::fs::remove_file(&socket);
    }
    ouro_flow::ipc::listen(&socket)
        .and_then(|l| d.serve(l))
        .map_err(|e| format!("control socket {}: {e}", socket.display()))?;
    tracing::info!(node = %cfg.node, socket = %socket.display(), "ourod ready");
    let signal = event_loop::run(&mut poll, &mut d, &stop_signals);
    let _ = std::fs::remove_file(&socket);
    let signal = signal.map_err(|e| format!("event loop: {e}"))?;
    tracing::info!("{signal}: shutting down");
    d.shutdown();
    Ok(())
}
