//! `ourod`: the Ouro daemon. Reads one TOML file describing this system (or starts on an
//! embedded default with one local shim layer), brings its layers up over real shims, and serves
//! applications and the `ouro` CLI on a Unix control socket.
#![forbid(unsafe_code)]

mod backlog;
mod config;
mod keys;
mod node;
mod policy;
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
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ourod: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = tokio::task::LocalSet::new();
    match local.block_on(&rt, run(cfg, socket)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ourod: error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cfg: Config, socket: PathBuf) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let d = node::Daemon::new(&cfg).map_err(|e| e.to_string())?;
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
    let listener = ouro_flow::ipc::listen(&socket)
        .and_then(ouro_flow::ipc::async_fd)
        .map_err(|e| format!("control socket {}: {e}", socket.display()))?;
    tokio::task::spawn_local(node::timer_task(d.clone()));
    tokio::task::spawn_local(node::control_task(d.clone(), listener));
    // The signals are awaited in a task of their own: this future is polled on every
    // wake-up of any task (the `LocalSet` runs them inside it), and a `Notify` costs less
    // to poll there than two signal streams.
    let stop = std::rc::Rc::new(tokio::sync::Notify::new());
    let stopper = std::rc::Rc::clone(&stop);
    tokio::task::spawn_local(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
        stopper.notify_one();
    });
    tracing::info!(node = %cfg.node, socket = %socket.display(), "ourod ready");
    stop.notified().await;
    d.borrow_mut().shutdown();
    let _ = std::fs::remove_file(&socket);
    Ok(())
}
