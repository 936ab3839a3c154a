//! The tools: `ouro ping`, `ouro echo`, `ouro perf`, over flows from the flow library.

use clap::Args;
use ouro_flow::{Flow, FlowError, Listener, Qos, RecvBatch};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Arguments of `ouro ping`.
#[derive(Debug, Args)]
pub struct PingArgs {
    /// The name to ping (served by `ouro echo NAME`).
    name: String,
    /// Stop after this many replies were asked for (default: until interrupted).
    #[arg(short = 'c', long)]
    count: Option<u64>,
    /// Message size in bytes (at least 17: type, sequence number, timestamp).
    #[arg(short = 's', long, default_value_t = 64)]
    size: usize,
    /// Seconds between messages.
    #[arg(short = 'i', long, default_value_t = 1.0)]
    interval: f64,
    /// QoS preset.
    #[arg(long, default_value = "best-effort")]
    qos: String,
    /// Seconds to wait for the flow and for the last reply.
    #[arg(short = 'W', long, default_value_t = 5.0)]
    timeout: f64,
    /// Print only the summary.
    #[arg(short = 'q', long)]
    quiet: bool,
}

/// Arguments of `ouro echo`.
#[derive(Debug, Args)]
pub struct EchoArgs {
    /// The name to serve.
    name: String,
}

/// Arguments of `ouro perf`.
#[derive(Debug, Args)]
pub struct PerfArgs {
    /// The name to send to (client), or to serve (with --server).
    name: String,
    /// Serve NAME: count what arrives and report it to each client.
    #[arg(long)]
    server: bool,
    /// Message size in bytes (at least 16).
    #[arg(long, default_value_t = 1000)]
    size: usize,
    /// Seconds to send for.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Send rate in bits per second (default: as fast as possible).
    #[arg(long)]
    rate: Option<f64>,
    /// QoS preset.
    #[arg(long, default_value = "best-effort")]
    qos: String,
    /// Print the client's result as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_qos(s: &str) -> Result<Qos, String> {
    Qos::parse(s)
        .ok_or_else(|| format!("unknown QoS preset `{s}` (raw, best-effort, video, voice, data)"))
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

fn secs(x: f64, what: &str) -> Result<Duration, String> {
    if x.is_finite() && (0.0..=86_400.0).contains(&x) {
        Ok(Duration::from_secs_f64(x))
    } else {
        Err(format!("{what} must be between 0 and 86400 seconds"))
    }
}

const PING: u8 = 0x50;
const PONG: u8 = 0x51;

/// `ouro ping`.
pub fn ping(socket: &Path, a: &PingArgs) -> ExitCode {
    match run_ping(socket, a) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => fail(e),
    }
}

fn run_ping(socket: &Path, a: &PingArgs) -> Result<bool, String> {
    let qos = parse_qos(&a.qos)?;
    let interval = secs(a.interval, "interval")?;
    let timeout = secs(a.timeout, "timeout")?;
    if a.size < 17 || a.size > ouro_flow::MAX_MESSAGE {
        return Err(format!(
            "size must be between 17 and {}",
            ouro_flow::MAX_MESSAGE
        ));
    }
    // Ctrl-C stops sending and prints the summary, as ping does.
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, std::sync::Arc::clone(&interrupted))
            .map_err(|e| format!("cannot handle signals: {e}"))?;
    }
    let mut flow =
        ouro_flow::alloc_at(socket, &a.name, qos, None, timeout).map_err(|e| e.to_string())?;
    println!(
        "PING {} ({} layer {}), {} bytes",
        a.name,
        flow.id(),
        flow.layer(),
        a.size
    );
    let origin = Instant::now();
    let mut msg = vec![0u8; a.size];
    let mut buf = vec![0u8; ouro_flow::MAX_MESSAGE];
    let mut sent = 0u64;
    let mut rtts: Vec<f64> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut next_send = Instant::now();
    let mut closed = false;
    let mut final_deadline: Option<Instant> = None;
    loop {
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        let done_sending = a.count.is_some_and(|c| sent >= c);
        let now = Instant::now();
        if !done_sending && now >= next_send {
            msg[0] = PING;
            msg[1..9].copy_from_slice(&sent.to_be_bytes());
            let t = u64::try_from(now.duration_since(origin).as_nanos()).unwrap_or(u64::MAX);
            msg[9..17].copy_from_slice(&t.to_be_bytes());
            if let Err(e) = flow.write(&msg) {
                if matches!(e, FlowError::Closed) {
                    closed = true;
                    break;
                }
                return Err(e.to_string());
            }
            sent += 1;
            next_send += interval;
            continue;
        }
        let wait_until = if done_sending {
            if rtts.len() as u64 >= sent {
                break;
            }
            // After the last message: wait `timeout` (or twice the worst round trip).
            let worst = rtts.iter().copied().fold(0.0f64, f64::max);
            let grace = timeout.max(Duration::from_secs_f64(worst * 2.0 / 1000.0));
            *final_deadline.get_or_insert(now + grace)
        } else {
            next_send
        };
        if done_sending && now >= wait_until {
            break;
        }
        // Wake at least every 100 ms to notice Ctrl-C.
        flow.set_read_timeout(Some(
            wait_until
                .saturating_duration_since(now)
                .clamp(Duration::from_micros(100), Duration::from_millis(100)),
        ));
        match flow.read(&mut buf) {
            Ok(n) if n >= 17 && buf[0] == PONG => {
                let seq = u64::from_be_bytes(buf[1..9].try_into().unwrap_or_default());
                let t0 = u64::from_be_bytes(buf[9..17].try_into().unwrap_or_default());
                let now_ns = u64::try_from(Instant::now().duration_since(origin).as_nanos())
                    .unwrap_or(u64::MAX);
                let rtt_ms = now_ns.saturating_sub(t0) as f64 / 1e6;
                if seq < sent && seen.insert(seq) {
                    rtts.push(rtt_ms);
                    if !a.quiet {
                        println!("{n} bytes from {}: seq={seq} time={rtt_ms:.3} ms", a.name);
                    }
                }
            }
            Ok(_) => {}
            Err(FlowError::Timeout) => {}
            Err(FlowError::Closed) => {
                closed = true;
                break;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let received = rtts.len() as u64;
    let loss = if sent == 0 {
        0.0
    } else {
        100.0 * (sent - received) as f64 / sent as f64
    };
    println!();
    println!("--- {} ping statistics ---", a.name);
    println!("{sent} packets transmitted, {received} received, {loss:.0}% packet loss");
    if !rtts.is_empty() {
        let n = rtts.len() as f64;
        let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
        let max = rtts.iter().copied().fold(0.0f64, f64::max);
        let avg = rtts.iter().sum::<f64>() / n;
        let mdev = (rtts.iter().map(|r| (r - avg) * (r - avg)).sum::<f64>() / n).sqrt();
        println!("rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms");
    }
    if closed {
        eprintln!("flow closed by the peer");
    }
    Ok(received > 0)
}

/// `ouro echo`: serve NAME, answering every message (pings get their type flipped).
pub fn echo(socket: &Path, a: &EchoArgs) -> ExitCode {
    let mut listener = match Listener::bind_at(socket, &a.name, &[]) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    eprintln!("echo: serving {}", a.name);
    loop {
        match listener.accept(None) {
            Ok(flow) => {
                std::thread::spawn(move || echo_flow(flow));
            }
            Err(FlowError::Timeout) => {}
            Err(e) => return fail(e),
        }
    }
}

fn echo_flow(flow: Flow) {
    let mut buf = vec![0u8; ouro_flow::MAX_MESSAGE];
    loop {
        match flow.read(&mut buf) {
            Ok(n) => {
                if n > 0 && buf[0] == PING {
                    buf[0] = PONG;
                }
                if flow.write(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

const DATA: u8 = 0xD0;
/// Socket messages per system call for the `ouro perf` server's reads (each plain or a
/// pack of many messages).
const PERF_BATCH: usize = ouro_flow::ipc::MAX_BATCH;

/// Messages per `write_batch` for an unthrottled `ouro perf` client: as many `size`-byte
/// messages as fill one packed socket message.
fn perf_batch(size: usize) -> usize {
    use ouro_flow::pack::{BUDGET, HEADER, PER_MESSAGE};
    ((BUDGET - HEADER) / (PER_MESSAGE + size)).max(1)
}
const END: u8 = 0xE0;
const REPORT: u8 = 0xF0;

/// `ouro perf`.
pub fn perf(socket: &Path, a: &PerfArgs) -> ExitCode {
    let r = if a.server {
        perf_server(socket, a)
    } else {
        perf_client(socket, a)
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn perf_client(socket: &Path, a: &PerfArgs) -> Result<(), String> {
    let qos = parse_qos(&a.qos)?;
    let duration = secs(a.duration, "duration")?;
    if a.size < 16 || a.size > ouro_flow::MAX_MESSAGE {
        return Err(format!(
            "size must be between 16 and {}",
            ouro_flow::MAX_MESSAGE
        ));
    }
    let mut flow = ouro_flow::alloc_at(socket, &a.name, qos, None, Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    // Unthrottled, messages go out one full pack per system call (`Flow::write_batch`).
    let batch = perf_batch(a.size);
    let mut msgs = vec![vec![0u8; a.size]; batch];
    for m in &mut msgs {
        m[0] = DATA;
    }
    let gap = a
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(a.size as f64 * 8.0 / r));
    let start = Instant::now();
    let mut next = start;
    let mut sent = 0u64;
    while start.elapsed() < duration {
        let n = if let Some(g) = gap {
            let now = Instant::now();
            if now < next {
                std::thread::sleep(next - now);
            }
            next += g;
            1
        } else {
            batch
        };
        for (i, m) in msgs[..n].iter_mut().enumerate() {
            m[1..9].copy_from_slice(&(sent + i as u64).to_be_bytes());
        }
        let refs: Vec<&[u8]> = msgs[..n].iter().map(Vec::as_slice).collect();
        match flow.write_batch(&refs) {
            Ok(k) => sent += k as u64,
            Err(e) => return Err(e.to_string()),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Tell the server we are done, until it reports (the END message may be lost). Once a
    // second, for up to 15 s: under back-pressure what the client wrote last may still wait
    // in the sending daemon (held, or queued before a slow link), and END behind it.
    let mut end = [0u8; 17];
    end[0] = END;
    end[1..9].copy_from_slice(&sent.to_be_bytes());
    let mut buf = vec![0u8; 256];
    flow.set_read_timeout(Some(Duration::from_millis(200)));
    let mut report = None;
    for attempt in 0..75 {
        if attempt % 5 == 0 {
            flow.write(&end).map_err(|e| e.to_string())?;
        }
        match flow.read(&mut buf) {
            Ok(n) if n >= 25 && buf[0] == REPORT => {
                let rx = u64::from_be_bytes(buf[1..9].try_into().unwrap_or_default());
                let rx_bytes = u64::from_be_bytes(buf[9..17].try_into().unwrap_or_default());
                let rx_us = u64::from_be_bytes(buf[17..25].try_into().unwrap_or_default());
                report = Some((rx, rx_bytes, rx_us));
                break;
            }
            Ok(_) | Err(FlowError::Timeout) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let pps = sent as f64 / elapsed;
    let mbps = pps * a.size as f64 * 8.0 / 1e6;
    println!("sender: {sent} packets in {elapsed:.2} s: {pps:.0} packets/s, {mbps:.2} Mb/s");
    let Some((rx, rx_bytes, rx_us)) = report else {
        return Err("no report from the server".into());
    };
    let rx_secs = (rx_us as f64 / 1e6).max(1e-6);
    let loss = if sent == 0 {
        0.0
    } else {
        100.0 * sent.saturating_sub(rx) as f64 / sent as f64
    };
    let rpps = rx as f64 / rx_secs;
    let rmbps = rx_bytes as f64 * 8.0 / rx_secs / 1e6;
    println!(
        "receiver: {rx} packets in {rx_secs:.2} s: {rpps:.0} packets/s, {rmbps:.2} Mb/s, {loss:.2}% loss"
    );
    if a.json {
        println!(
            "{}",
            serde_json::json!({"sent": sent, "tx_pps": pps, "tx_mbps": mbps, "received": rx,
                "rx_pps": rpps, "rx_mbps": rmbps, "loss_pct": loss, "size": a.size})
        );
    }
    Ok(())
}

fn perf_server(socket: &Path, a: &PerfArgs) -> Result<(), String> {
    let mut listener = Listener::bind_at(socket, &a.name, &[]).map_err(|e| e.to_string())?;
    eprintln!("perf: serving {}", a.name);
    loop {
        match listener.accept(None) {
            Ok(flow) => {
                std::thread::spawn(move || perf_serve_flow(flow));
            }
            Err(FlowError::Timeout) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn perf_serve_flow(flow: Flow) {
    let mut batch = RecvBatch::new(PERF_BATCH, ouro_flow::MAX_MESSAGE);
    let mut rx = 0u64;
    let mut bytes = 0u64;
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    loop {
        if flow.read_batch(&mut batch).is_err() {
            return;
        }
        let now = Instant::now();
        for buf in batch.iter() {
            let n = buf.len();
            if buf[0] == DATA {
                rx += 1;
                bytes += n as u64;
                last = now;
                first.get_or_insert(now);
            } else if n >= 9 && buf[0] == END {
                let sent = u64::from_be_bytes(buf[1..9].try_into().unwrap_or_default());
                let us = first.map_or(0, |f| {
                    u64::try_from(last.duration_since(f).as_micros()).unwrap_or(u64::MAX)
                });
                let mut r = [0u8; 25];
                r[0] = REPORT;
                r[1..9].copy_from_slice(&rx.to_be_bytes());
                r[9..17].copy_from_slice(&bytes.to_be_bytes());
                r[17..25].copy_from_slice(&us.to_be_bytes());
                let _ = flow.write(&r);
                if first.is_some() {
                    let s = (us as f64 / 1e6).max(1e-6);
                    let loss = if sent == 0 {
                        0.0
                    } else {
                        100.0 * sent.saturating_sub(rx) as f64 / sent as f64
                    };
                    println!(
                        "flow {}: {rx} packets in {s:.2} s: {:.0} packets/s, {:.2} Mb/s, {loss:.2}% loss",
                        flow.id(),
                        rx as f64 / s,
                        bytes as f64 * 8.0 / s / 1e6
                    );
                    first = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ouro_flow::pack::{self, Next};

    #[test]
    fn a_perf_batch_is_one_full_pack() {
        for (size, n) in [(64, 963), (1000, 65), (1400, 46), (40_000, 1)] {
            assert_eq!(perf_batch(size), n, "{size}");
            let msgs = vec![vec![DATA; size]; n + 1];
            let mut out = Vec::new();
            let next = pack::pack_next(msgs.iter().map(Vec::as_slice), &mut out);
            let expected = if n == 1 { Next::Plain } else { Next::Packed(n) };
            assert_eq!(next, expected, "{size}");
        }
    }
}
