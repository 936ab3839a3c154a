//! `ourod`: the Ouro daemon. Reads one TOML file describing this system (or starts on an
//! embedded default with one local shim layer), brings its layers up over real shims, and serves
//! applications and the `ouro` CLI on a Unix control socket.
#![forbid(unsafe_code)]

mod backlog;
mod config;
mod control_error;
mod keys;
mod node;
mod policy;
mod route_worker;
mod rt;
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
    let stop_signals = match signals::block() {
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
    match rt::block_on(run(cfg, socket, stop_signals)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("ourod: error: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ourod: error: event loop: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    cfg: Config,
    socket: PathBuf,
    stop_signals: nix::sys::signalfd::SignalFd,
) -> Result<(), String> {
    let stop_signals = rt::Async::new(stop_signals, rt::Interest::READABLE)
        .map_err(|e| format!("cannot watch signals: {e}"))?;
    let timer = node::Timer::new().map_err(|e| format!("cannot create the timer: {e}"))?;
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
        .and_then(|l| rt::Async::new(l, rt::Interest::READABLE))
        .map_err(|e| format!("control socket {}: {e}", socket.display()))?;
    rt::spawn(node::timer_task(d.clone(), timer));
    rt::spawn(node::control_task(d.clone(), listener));
    tracing::info!(node = %cfg.node, socket = %socket.display(), "ourod ready");
    let signal = signals::next(&stop_signals).await;
    tracing::info!("{signal}: shutting down");
    d.borrow_mut().shutdown();
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

/// SIGTERM and SIGINT, read from a signalfd.
mod signals {
    use crate::rt;
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};

    /// Blocks SIGTERM and SIGINT in this thread (and the threads it starts later), and
    /// returns a descriptor that reads them.
    pub fn block() -> nix::Result<SignalFd> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGINT);
        set.thread_block()?;
        SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
    }

    /// Waits for the next signal; its name ("SIGTERM", "SIGINT").
    pub async fn next(fd: &rt::Async<SignalFd>) -> &'static str {
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return "signalfd error";
            };
            let got = guard.try_io(|f| {
                f.get_ref()
                    .read_signal()
                    .map_err(std::io::Error::from)
                    .and_then(|s| s.ok_or_else(|| std::io::ErrorKind::WouldBlock.into()))
            });
            match got {
                Ok(Ok(info)) => {
                    return match Signal::try_from(info.ssi_signo as i32) {
                        Ok(Signal::SIGINT) => "SIGINT",
                        _ => "SIGTERM",
                    };
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot read the signalfd");
                    return "signalfd error";
                }
                Err(_would_block) => {}
            }
        }
    }
}
