//! End-to-end network benchmark with same-run baselines (not a timed test).
//!
//! Needs the release binaries: `cargo build --release -p ouro-daemon -p ouro-cli`, then
//! `cargo bench -p ouro-benches --bench net`. Prints a Markdown table.
//!
//! 1. Throughput through one relay, A → B → C on 127.0.0.1, for 64, 1,000 and 1,400-byte
//!    payloads: `ouro perf` (application → ourod A → UDP → ourod B → UDP → ourod C →
//!    application) against two plain Rust UDP pipelines using the same batching (the
//!    `ouro-shim-udp` socket: recvmmsg/GRO in, GSO out): sender → relay → receiver (the
//!    original baseline), and sender → relay → relay → relay → receiver (the same number of
//!    processes and hops as ouro's path, one relay standing for each daemon).
//! 2. Round-trip time through one relay: `ouro ping` against plain UDP ping-pongs over one
//!    relay (client → relay → echo and back) and over three (client → A → B → C → echo and
//!    back), blocking `recv_from`/`send_to` loops in threads of this process, the same with
//!    the relays and the echo in processes of their own (five processes, as ouro's path),
//!    and over three relays that are each the daemon's event loop without the daemon (a
//!    tokio task on the shim's socket).
//! 3. Flow allocation latency (A allocates a flow to a name on C, through B).
//! 4. Scheduled ports against the old FIFO path: the same `ouro perf` runs on a second
//!    A → B → C whose UDP layers say `schedule = false` (PDUs go straight to the shim's send
//!    queue instead of through the per-cube queues and the scheduler's batches).
//!
//! `OURO_BENCH=rtt` runs part 2 only, `OURO_BENCH=throughput` part 1 only (unset or `all`:
//! everything); `OURO_BENCH_PINGS` sets the number of pings (default 1,000).

use ouro_shim::Shim;
use ouro_shim_udp::{ShimOptions, UdpShim};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SECS: f64 = 3.0;

fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let p = exe.parent().and_then(Path::parent).expect("dir").join(name);
    assert!(
        p.exists(),
        "build it first: cargo build --release -p ouro-daemon -p ouro-cli ({})",
        p.display()
    );
    p
}

struct Net {
    dir: PathBuf,
    daemons: Vec<Child>,
    servers: Vec<Child>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in self.servers.iter_mut().chain(self.daemons.iter_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Net {
    fn sock(&self, n: &str) -> PathBuf {
        self.dir.join(format!("{n}.sock"))
    }

    fn ouro(&self, node: &str, args: &[&str]) -> String {
        let out = Command::new(bin("ouro"))
            .arg("--socket")
            .arg(self.sock(node))
            .args(args)
            .output()
            .expect("ouro");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The UDP port daemon `node` bound (its configuration says port 0), from its status:
    /// asks until the daemon answers with a bound port (bounded).
    fn udp_port(&self, node: &str) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status: serde_json::Value =
                serde_json::from_str(&self.ouro(node, &["status", "--json"])).unwrap_or_default();
            let port = status["shims"][0]["bind"]
                .as_str()
                .and_then(|b| b.parse::<SocketAddr>().ok())
                .map(|a| a.port())
                .filter(|&p| p != 0);
            if let Some(port) = port {
                return port;
            }
            assert!(
                Instant::now() < deadline,
                "node {node} reported no UDP port"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start daemon `name` with configuration `config`.
    fn spawn_daemon(&mut self, name: &str, config: &str) {
        let f = self.dir.join(format!("{name}.toml"));
        std::fs::write(&f, config).expect("write");
        self.daemons.push(
            Command::new(bin("ourod"))
                .arg("-c")
                .arg(&f)
                .arg("-s")
                .arg(self.sock(name))
                .env("OURO_LOG", "warn")
                .stderr(Stdio::null())
                .spawn()
                .expect("ourod"),
        );
    }

    fn start() -> Net {
        Net::start_with("main", "")
    }

    /// Three daemons whose UDP layers get the extra lines `udp_extra`. Each binds port 0
    /// and is started once the ports of the peers it names are known, from their status:
    /// A bootstraps, B enrolls through A, C through B; A learns B and B learns C from their
    /// first datagram.
    fn start_with(tag: &str, udp_extra: &str) -> Net {
        let dir = std::env::temp_dir().join(format!("ouro-bench-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let node = |name: &str, peers: &[(&str, u16)], how: &str| {
            let p: Vec<String> = peers
                .iter()
                .map(|(n, x)| format!("{{ name = \"{n}\", addr = \"127.0.0.1:{x}\" }}"))
                .collect();
            let c: Vec<String> = peers
                .iter()
                .map(|(n, _)| format!("{{ peer = \"{n}\" }}"))
                .collect();
            format!(
                "node = \"{name}\"\n[[layer]]\nname = \"udp\"\ntype = \"udp\"\nbind = \"127.0.0.1:0\"\npeers = [ {} ]\n{udp_extra}\n[[layer]]\nname = \"net\"\ntype = \"unicast\"\nlower = \"udp\"\n{how}\nconnect = [ {} ]\n",
                p.join(", "),
                c.join(", ")
            )
        };
        let mut net = Net {
            dir: dir.clone(),
            daemons: Vec::new(),
            servers: Vec::new(),
        };
        let a = node("a", &[], "bootstrap = true");
        net.spawn_daemon("a", &a);
        let b = node("b", &[("a", net.udp_port("a"))], "enroll = \"a\"");
        net.spawn_daemon("b", &b);
        let c = node("c", &[("b", net.udp_port("b"))], "enroll = \"b\"");
        net.spawn_daemon("c", &c);
        for n in ["a", "b", "c"] {
            let ok = Command::new(bin("ouro"))
                .arg("--socket")
                .arg(net.sock(n))
                .args(["wait", "--enrolled", "--routes", "2", "--timeout", "20"])
                .status()
                .expect("wait");
            assert!(ok.success(), "node {n} did not converge");
        }
        for args in [vec!["echo", "pong"], vec!["perf", "--server", "sink"]] {
            net.servers.push(
                Command::new(bin("ouro"))
                    .arg("--socket")
                    .arg(net.sock("c"))
                    .args(&args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("server"),
            );
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while net
            .ouro("c", &["names", "list"])
            .matches("listeners 1")
            .count()
            < 2
        {
            assert!(Instant::now() < deadline, "servers did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        net
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Plain relay baseline: sender → `relays` relays → receiver, each a thread with the
/// shim's batching (recvmmsg/GRO in, GSO out), all UDP on loopback. One relay is the
/// original baseline; three relays have the same shape as ouro's path (a relay standing for
/// each of ourod A, B and C). Returns the receiver's packets/s and the share of the sent
/// datagrams that never arrived (%): nothing slows this sender down, so whatever a relay or
/// the receiver could not take in time was dropped by the kernel at its socket.
fn baseline_relay(size: usize, relays: usize) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    // Receiver.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let (stop_r, recv_r) = (stop.clone(), received.clone());
    threads.push(std::thread::spawn(move || {
        rt().block_on(async move {
            let mut s = UdpShim::bind("127.0.0.1:0".parse().expect("a"), ShimOptions::default())
                .expect("bind");
            addr_tx.send(s.local_addr().expect("addr")).expect("send");
            while !stop_r.load(Ordering::Relaxed) {
                if tokio::time::timeout(Duration::from_millis(50), s.readable())
                    .await
                    .is_ok()
                {
                    let n = s.recv_batch(|_| {}).unwrap_or(0);
                    recv_r.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        })
    }));
    let mut next_addr = addr_rx.recv().expect("addr");
    // Relays, from the last to the first.
    for _ in 0..relays {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let stop_b = stop.clone();
        threads.push(std::thread::spawn(move || {
            rt().block_on(async move {
                let mut s =
                    UdpShim::bind("127.0.0.1:0".parse().expect("a"), ShimOptions::default())
                        .expect("bind");
                let to_next = s.add_peer(next_addr).expect("peer");
                addr_tx.send(s.local_addr().expect("addr")).expect("send");
                let mut batch: Vec<Vec<u8>> = Vec::new();
                while !stop_b.load(Ordering::Relaxed) {
                    if tokio::time::timeout(Duration::from_millis(50), s.readable())
                        .await
                        .is_ok()
                    {
                        let _ = s.recv_batch(|r| batch.push(r.data.to_vec()));
                        for d in batch.drain(..) {
                            let _ = s.send(to_next, d);
                        }
                        s.flush();
                    }
                }
            })
        }));
        next_addr = addr_rx.recv().expect("addr");
    }
    let first_addr = next_addr;
    // Sender: as fast as the socket takes.
    let sent = rt().block_on(async move {
        let mut s =
            UdpShim::bind("127.0.0.1:0".parse().expect("a"), ShimOptions::default()).expect("bind");
        let to_b = s.add_peer(first_addr).expect("peer");
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < SECS {
            for _ in 0..32 {
                let _ = s.send(to_b, vec![0xAB; size]);
            }
            s.flush();
            while s.has_queued() {
                let _ = s.writable().await;
                s.flush();
            }
        }
        s.counters().tx_pdus
    });
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let got = received.load(Ordering::Relaxed);
    let loss = 100.0 * sent.saturating_sub(got) as f64 / sent.max(1) as f64;
    (got as f64 / SECS, loss)
}

/// The echo of the ping-pongs: a thread answering every datagram until `stop`.
fn echo_thread(echo: UdpSocket, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut b = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = echo.recv_from(&mut b) {
                let _ = echo.send_to(&b[..n], from);
            }
        }
    })
}

/// Plain UDP ping-pong through `relays` relays (client → relays → echo and back), each a
/// thread with a blocking socket: average and minimum RTT in ms.
fn baseline_ping(count: usize, relays: usize) -> (f64, f64) {
    let sock = || {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("t");
        s
    };
    let client = sock();
    let echo = sock();
    let relay_socks: Vec<UdpSocket> = (0..relays).map(|_| sock()).collect();
    // The chain of addresses: client, relays..., echo.
    let mut chain = vec![client.local_addr().expect("a")];
    chain.extend(relay_socks.iter().map(|s| s.local_addr().expect("a")));
    chain.push(echo.local_addr().expect("a"));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    threads.push(echo_thread(echo, Arc::clone(&stop)));
    for (i, relay) in relay_socks.into_iter().enumerate() {
        let (prev, next) = (chain[i], chain[i + 2]);
        let s2 = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut b = [0u8; 2048];
            while !s2.load(Ordering::Relaxed) {
                if let Ok((n, from)) = relay.recv_from(&mut b) {
                    let to = if from == prev { next } else { prev };
                    let _ = relay.send_to(&b[..n], to);
                }
            }
        }));
    }
    ping_through(&client, chain[1], count, stop, threads)
}

/// Send `count` pings from `client` to `first` (1 ms apart) and wait for each echo; then set
/// `stop` and join `threads`. Average and minimum RTT in ms.
fn ping_through(
    client: &UdpSocket,
    first: SocketAddr,
    count: usize,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
) -> (f64, f64) {
    let mut rtts = Vec::new();
    let mut b = [0u8; 2048];
    client
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("t");
    for i in 0..count {
        let msg = [i as u8; 64];
        let t = Instant::now();
        client.send_to(&msg, first).expect("send");
        if client.recv_from(&mut b).is_ok() {
            rtts.push(t.elapsed().as_secs_f64() * 1e3);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let avg = rtts.iter().sum::<f64>() / rtts.len().max(1) as f64;
    let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
    (avg, min)
}

/// The ping-pong of [`baseline_ping`] with each relay and the echo in a process of its own
/// (this executable again, see [`hop_process`]), as ouro's path has five processes: the
/// same shape, and the same cost of switching between address spaces. Each hop binds port
/// 0 and reports its address; once all are known each relay is told its neighbours. Average
/// and minimum RTT in ms.
fn baseline_ping_processes(count: usize, relays: usize) -> (f64, f64) {
    use std::io::{BufRead, Write};
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut chain = vec![client.local_addr().expect("a")];
    let mut children = Vec::new();
    for i in 0..=relays {
        let role = if i == relays { "echo" } else { "relay" };
        let mut child = Command::new(std::env::current_exe().expect("exe"))
            .env("OURO_BENCH_HOP", role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("hop");
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .expect("ready");
        let addr = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("hop said {line:?}"));
        chain.push(addr);
        children.push(child);
    }
    for (i, child) in children.iter_mut().enumerate().take(relays) {
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{} {}", chain[i], chain[i + 2]).expect("tell the relay");
    }
    let r = ping_through(
        &client,
        chain[1],
        count,
        Arc::new(AtomicBool::new(false)),
        Vec::new(),
    );
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    r
}

/// One hop of [`baseline_ping_processes`], in its own process, bound to a port of the
/// kernel's choosing on 127.0.0.1: prints `ready ADDRESS` once bound. `echo` sends each
/// datagram back; `relay` first reads `PREV NEXT` (two addresses) from its standard input,
/// then forwards each datagram to the other side, in a blocking loop. Runs until killed.
fn hop_process(role: &str) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    println!("ready {}", sock.local_addr().expect("addr"));
    let peers: Vec<SocketAddr> = if role == "relay" {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).expect("neighbours");
        line.split_whitespace()
            .map(|w| w.parse().expect("address"))
            .collect()
    } else {
        Vec::new()
    };
    let mut b = [0u8; 2048];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut b) else {
            continue;
        };
        let to = match peers[..] {
            [prev, next] if from == prev => next,
            [prev, _] => prev,
            _ => from,
        };
        let _ = sock.send_to(&b[..n], to);
    }
}

/// The ping-pong of [`baseline_ping`] through `relays` relays, each the daemon's event loop
/// without the daemon: a task on a tokio current-thread runtime's `LocalSet`, awaiting the
/// `ouro-shim-udp` socket's readiness, receiving a batch and sending it on (`recv_batch`,
/// `send`, `flush`). The blocking client and echo are the same. Average and minimum RTT in
/// ms.
fn baseline_ping_event_loop(count: usize, relays: usize) -> (f64, f64) {
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let echo = UdpSocket::bind("127.0.0.1:0").expect("bind");
    echo.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("t");
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    // Each relay binds port 0 in its thread and sends its address; once all are known it
    // is sent its neighbours.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<(usize, SocketAddr)>();
    let mut neighbours = Vec::new();
    for i in 0..relays {
        let addr_tx = addr_tx.clone();
        let (peers_tx, peers_rx) = std::sync::mpsc::channel::<(SocketAddr, SocketAddr)>();
        neighbours.push(peers_tx);
        threads.push(std::thread::spawn(move || {
            let rt = rt();
            let mut s = {
                let _in_runtime = rt.enter();
                UdpShim::bind("127.0.0.1:0".parse().expect("a"), ShimOptions::default())
                    .expect("bind")
            };
            addr_tx
                .send((i, s.local_addr().expect("addr")))
                .expect("address");
            let Ok((prev, next)) = peers_rx.recv() else {
                return;
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                let relay = tokio::task::spawn_local(async move {
                    let (to_prev, to_next) = (
                        s.add_peer(prev).expect("peer"),
                        s.add_peer(next).expect("peer"),
                    );
                    let mut out = Vec::new();
                    loop {
                        if s.readable().await.is_err() {
                            return;
                        }
                        let mut quit = false;
                        let _ = s.recv_batch(|r| {
                            // A one-byte datagram from the client stops the relay.
                            quit |= r.data.len() == 1;
                            let to = if r.port == to_prev { to_next } else { to_prev };
                            out.push((to, r.data.to_vec()));
                        });
                        if quit {
                            return;
                        }
                        for (to, d) in out.drain(..) {
                            let _ = s.send(to, d);
                        }
                        s.flush();
                    }
                });
                let _ = relay.await;
            });
        }));
    }
    let mut addrs = vec![SocketAddr::from(([0, 0, 0, 0], 0)); relays];
    for _ in 0..relays {
        let (i, addr) = addr_rx.recv().expect("relay bound");
        addrs[i] = addr;
    }
    let mut chain = vec![client.local_addr().expect("a")];
    chain.extend(addrs);
    chain.push(echo.local_addr().expect("a"));
    for (i, peers) in neighbours.iter().enumerate() {
        peers.send((chain[i], chain[i + 2])).expect("neighbours");
    }
    threads.push(echo_thread(echo, Arc::clone(&stop)));
    let r = ping_through(&client, chain[1], count, Arc::clone(&stop), Vec::new());
    stop.store(true, Ordering::Relaxed);
    for relay in &chain[1..=relays] {
        let _ = client.send_to(&[0xFF], relay);
    }
    for t in threads {
        let _ = t.join();
    }
    r
}

fn ouro_perf(net: &Net, size: usize) -> (f64, f64, f64) {
    let s = size.to_string();
    let d = SECS.to_string();
    let out = net.ouro(
        "a",
        &["perf", "sink", "--size", &s, "--duration", &d, "--json"],
    );
    let j: serde_json::Value = out
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    (
        j["rx_pps"].as_f64().unwrap_or(0.0),
        j["tx_pps"].as_f64().unwrap_or(0.0),
        j["loss_pct"].as_f64().unwrap_or(100.0),
    )
}

fn ouro_ping(net: &Net, count: usize) -> (f64, f64) {
    let c = count.to_string();
    let out = net.ouro("a", &["ping", "pong", "-c", &c, "-i", "0.001", "-q"]);
    let line = out.lines().find(|l| l.starts_with("rtt")).unwrap_or("");
    let nums: Vec<f64> = line
        .split(['=', '/', ' '])
        .filter_map(|x| x.parse().ok())
        .collect();
    (
        nums.get(1).copied().unwrap_or(f64::NAN),
        nums.first().copied().unwrap_or(f64::NAN),
    )
}

/// Ping over the local layer of a fourth daemon (no config): four application ↔ daemon
/// crossings per round trip and no UDP, i.e. the cost of the flow IPC itself.
fn local_ping(net: &Net, count: usize) -> (f64, f64) {
    let sock = net.dir.join("local.sock");
    let mut d = Command::new(bin("ourod"))
        .arg("-s")
        .arg(&sock)
        .env("OURO_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .expect("ourod");
    let ouro = |args: &[&str]| {
        let mut c = Command::new(bin("ouro"));
        c.arg("--socket").arg(&sock).args(args);
        c
    };
    let ok = ouro(&["wait", "--enrolled", "--timeout", "20"])
        .status()
        .expect("wait");
    assert!(ok.success());
    let mut echo = ouro(&["echo", "loc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("echo");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !String::from_utf8_lossy(&ouro(&["names", "list"]).output().expect("names").stdout)
        .contains("listeners 1")
    {
        assert!(Instant::now() < deadline, "echo did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let c = count.to_string();
    let out = ouro(&["ping", "loc", "-c", &c, "-i", "0.001", "-q"])
        .output()
        .expect("ping");
    let _ = echo.kill();
    let _ = echo.wait();
    let _ = d.kill();
    let _ = d.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("rtt")).unwrap_or("");
    let nums: Vec<f64> = line
        .split(['=', '/', ' '])
        .filter_map(|x| x.parse().ok())
        .collect();
    (
        nums.get(1).copied().unwrap_or(f64::NAN),
        nums.first().copied().unwrap_or(f64::NAN),
    )
}

fn alloc_latency(net: &Net, n: usize) -> (f64, f64, f64) {
    let sock = net.sock("a");
    let mut v = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let f = ouro_flow::alloc_at(
            &sock,
            "pong",
            ouro_flow::Qos::BestEffort,
            None,
            Duration::from_secs(5),
        )
        .expect("alloc");
        v.push(t.elapsed().as_secs_f64() * 1e6);
        f.dealloc();
    }
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (mean, v[v.len() / 2], v[v.len() * 99 / 100])
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and friends
    }
    if let Ok(spec) = std::env::var("OURO_BENCH_HOP") {
        hop_process(&spec);
        return;
    }
    let part = std::env::var("OURO_BENCH").unwrap_or_else(|_| "all".into());
    let (throughput, rtt, all) = match part.as_str() {
        "all" => (true, true, true),
        "rtt" => (false, true, false),
        "throughput" => (true, false, false),
        other => panic!("OURO_BENCH={other}: expected all, rtt or throughput"),
    };
    let pings: usize = std::env::var("OURO_BENCH_PINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let net = Net::start();
    let load = || {
        let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        l.trim().to_string()
    };
    println!("load average at start: {}", load());
    println!();
    if throughput {
        throughput_table(&net);
    }
    if all {
        fifo_table(&net);
    }
    if rtt {
        rtt_table(&net, pings);
    }
    if all {
        let (mean, p50, p99) = alloc_latency(&net, 300);
        println!();
        println!(
            "flow allocation A → C through B (300 allocations): mean {mean:.0} µs, p50 {p50:.0} µs, p99 {p99:.0} µs"
        );
    }
    println!();
    println!("load average at end: {}", load());
}

/// Part 1: `ouro perf` through one relay against the two relay baselines.
fn throughput_table(net: &Net) {
    println!(
        "| payload | ouro perf, received | baseline 1 relay | ratio | baseline 3 relays | ratio | ouro Mb/s | 1-relay Mb/s | 3-relay Mb/s | ouro loss | 1-relay loss | 3-relay loss |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for size in [64usize, 1000, 1400] {
        let (pps, _tx, loss) = ouro_perf(net, size);
        let (base1, loss1) = baseline_relay(size, 1);
        let (base3, loss3) = baseline_relay(size, 3);
        let mbps = |p: f64| p * size as f64 * 8.0 / 1e6;
        println!(
            "| {size} B | {pps:.0} pkt/s | {base1:.0} pkt/s | {:.2}× | {base3:.0} pkt/s | {:.2}× | {:.0} | {:.0} | {:.0} | {loss:.1}% | {loss1:.1}% | {loss3:.1}% |",
            pps / base1,
            pps / base3,
            mbps(pps),
            mbps(base1),
            mbps(base3)
        );
    }
}

/// Part 4: scheduled ports (the default) against the FIFO path, in the same run: three
/// alternating runs each, medians.
fn fifo_table(net: &Net) {
    let fifo = Net::start_with("fifo", "schedule = false");
    println!();
    println!(
        "| payload | scheduled ports, received (median of 3) | FIFO path, received (median of 3) | ratio |"
    );
    println!("|---:|---:|---:|---:|");
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for size in [64usize, 1000, 1400] {
        let (mut sched, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            sched.push(ouro_perf(net, size).0);
            plain.push(ouro_perf(&fifo, size).0);
        }
        let (s, p) = (median(sched), median(plain));
        println!("| {size} B | {s:.0} pkt/s | {p:.0} pkt/s | {:.2}× |", s / p);
    }
}

/// Part 2: round trips through one relay against the plain UDP ping-pongs.
fn rtt_table(net: &Net, pings: usize) {
    let (oavg, omin) = ouro_ping(net, pings);
    let baselines = [
        ("plain UDP ping-pong, 1 relay", baseline_ping(pings, 1)),
        ("plain UDP ping-pong, 3 relays", baseline_ping(pings, 3)),
        (
            "plain UDP ping-pong, 3 relays, relays and echo in processes of their own",
            baseline_ping_processes(pings, 3),
        ),
        (
            "UDP ping-pong, 3 relays, each a tokio task on the shim's socket",
            baseline_ping_event_loop(pings, 3),
        ),
    ];
    println!();
    println!("| round trip through one relay (64 B) | avg | min |");
    println!("|---|---:|---:|");
    println!(
        "| `ouro ping` | {:.1} µs | {:.1} µs |",
        oavg * 1e3,
        omin * 1e3
    );
    for (what, (avg, min)) in baselines {
        println!("| {what} | {:.1} µs | {:.1} µs |", avg * 1e3, min * 1e3);
        println!("| ratio | {:.2}× | {:.2}× |", oavg / avg, omin / min);
    }
    let (lavg, lmin) = local_ping(net, pings);
    println!(
        "| `ouro ping` on one daemon's local layer (the app ↔ daemon path alone) | {:.1} µs | {:.1} µs |",
        lavg * 1e3,
        lmin * 1e3
    );
}
