//! What the shipped schedulers and auth policies cost per call: the calls a driver makes on
//! its event loop, which `EngineConfig::on_loop` cuts off (5 ms or 5 × 10⁶ units of fuel by
//! default). For each policy: wall-clock time per call on a router's engine (epoch
//! deadline, as `ourod` runs them) and fuel per call on the simulator's (deterministic).
//!
//! - Schedulers (`strict-priority`, `drr` with weights and ECN marking): the instance is kept
//!   between batches. `warm`: one port's queues, one per QoS cube (5, the most a port has),
//!   all backlogged, and a budget of 64 (the daemon's batch) or 4 (the simulator tests').
//!   `cold`: the first call after loading, which makes the instance (as after a failure).
//! - Auth (`allow-all`; `allowlist` with 64 keys and 64 names, and with 1,000 of each: it
//!   reads its lists on every request, so its cost grows with them): a fresh instance per
//!   request, as the engine runs them.
//!
//! The calls run back to back. The wall-clock deadline also counts the time the thread was
//! not running: on a busy machine a call is now and then preempted for milliseconds, and
//! the column `over 4 ms / stopped` counts the calls that took over 4 ms and those the
//! deadline stopped.
//!
//! Run: `cargo run --release -p ouro-benches --example loop_calls [CALLS]` (default 10,000
//! warm calls, a tenth as many cold ones and auth requests).
#![forbid(unsafe_code)]

use ouro_policy::{
    AuthRequest, CacheDir, EngineConfig, ParamValue, Params, PolicyEngine, RequestKind, WasmAuth,
    WasmScheduler, builtin,
};
use std::time::{Duration, Instant};

fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let engine = |config: EngineConfig| {
        PolicyEngine::new(EngineConfig {
            cache: CacheDir::Off,
            ..config
        })
        .expect("engine")
    };
    let (wall, fuel) = (
        engine(EngineConfig::router()),
        engine(EngineConfig::deterministic()),
    );
    let on_loop = wall.config().on_loop;
    println!(
        "on-loop budget: {:?} or {} units of fuel; {calls} warm calls, {} cold calls and requests",
        on_loop.time,
        on_loop.fuel,
        calls / 10
    );
    println!("| policy | call | min | p50 | p99 | max | over 4 ms / stopped, of | fuel per call |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let queues = ouro_tests::backlogged_port();
    for (name, wasm) in [
        ("strict-priority", builtin::STRICT_PRIORITY),
        ("drr", builtin::DRR),
    ] {
        let load = |engine: &PolicyEngine| {
            WasmScheduler::load(engine, name, wasm, scheduler_params(name)).expect("loads")
        };
        for budget in [64u32, 4] {
            let (mut w, mut f) = (load(&wall), load(&fuel));
            // Warm-up (the instance is made); on the router's engine a call may fail.
            let _ = w.schedule(budget, &queues);
            f.schedule(budget, &queues).expect("plans");
            let times = sample(calls, || w.schedule(budget, &queues).is_ok());
            let m = f.metrics().snapshot();
            row(name, &format!("warm, budget {budget}"), &times, m.fuel_used);
        }
        let times = sample(calls / 10, || load(&wall).schedule(64, &queues).is_ok());
        let mut f = load(&fuel);
        f.schedule(64, &queues).expect("plans");
        // The instance's making is charged to the store, not to the call: the cold call's
        // fuel is the warm one's.
        row(
            name,
            "cold, budget 64",
            &times,
            f.metrics().snapshot().fuel_used,
        );
    }
    // The last key and name of the lists: the whole list is searched.
    let request = |listed: u16| AuthRequest {
        kind: RequestKind::Flow,
        layer: "net".into(),
        peer_key: Some(entry::<32>(listed.saturating_sub(1))),
        name_hash: entry::<16>(listed.saturating_sub(1)).to_vec(),
        cube: 1,
    };
    for (name, wasm, listed) in [
        ("allow-all", builtin::ALLOW_ALL, 0),
        ("allowlist", builtin::ALLOWLIST, 64),
        ("allowlist", builtin::ALLOWLIST, 1000),
    ] {
        let params = auth_params(listed);
        let (w, f) = (
            WasmAuth::load(&wall, name, wasm, params.clone()).expect("loads"),
            WasmAuth::load(&fuel, name, wasm, params).expect("loads"),
        );
        let request = request(listed);
        assert!(f.try_authorize(&request).expect("decides").allow);
        let times = sample(calls / 10, || w.try_authorize(&request).is_ok());
        let m = f.metrics().snapshot();
        let call = match listed {
            0 => "request (fresh instance)".to_string(),
            n => format!("request, {n} keys and {n} names"),
        };
        row(name, &call, &times, m.fuel_used);
    }
}

/// Key or name number `i` of the allowlists: `N` bytes, the big-endian `i` repeated.
fn entry<const N: usize>(i: u16) -> [u8; N] {
    let mut out = [0; N];
    for (k, b) in out.iter_mut().enumerate() {
        *b = i.to_be_bytes()[k % 2];
    }
    out
}

fn scheduler_params(name: &str) -> Params {
    match name {
        "drr" => Params::from([
            ("weight-2".to_string(), ParamValue::Integer(3)),
            ("ecn-age-ns".to_string(), ParamValue::Integer(1)),
        ]),
        _ => Params::new(),
    }
}

/// `allowlist`'s parameters: `listed` keys and names (none: no parameters).
fn auth_params(listed: u16) -> Params {
    if listed == 0 {
        return Params::new();
    }
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let keys = (0..listed).map(|i| hex(&entry::<32>(i))).collect();
    let names = (0..listed).map(|i| hex(&entry::<16>(i))).collect();
    Params::from([
        ("keys".to_string(), ParamValue::TextList(keys)),
        ("names".to_string(), ParamValue::TextList(names)),
    ])
}

/// `n` timed calls.
struct Sample {
    /// How long each took, sorted.
    times: Vec<Duration>,
    /// How many failed: on the router's engine, stopped by the deadline.
    failed: usize,
}

/// Time `n` runs of `f`, which says whether the call succeeded.
fn sample(n: usize, mut f: impl FnMut() -> bool) -> Sample {
    let mut failed = 0;
    let mut times: Vec<Duration> = (0..n.max(1))
        .map(|_| {
            let t = Instant::now();
            failed += usize::from(!f());
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    Sample { times, failed }
}

/// A table row: the spread of the times, how many calls took over 4 ms (with 1 ms ticks, the
/// earliest a 5 ms deadline can stop a call) and how many it stopped, and the fuel of one
/// call.
fn row(policy: &str, call: &str, s: &Sample, fuel: u64) {
    let t = &s.times;
    let at = |p: usize| t[((t.len() - 1) * p).div_ceil(100)];
    let over = t.iter().filter(|d| **d > Duration::from_millis(4)).count();
    println!(
        "| {policy} | {call} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | {over} / {} of {} | {fuel} |",
        us(t[0]),
        us(at(50)),
        us(at(99)),
        us(t[t.len() - 1]),
        s.failed,
        t.len(),
    );
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
