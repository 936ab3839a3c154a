//! The short budget of the calls a driver makes on its event loop (`EngineConfig::on_loop`):
//! a scheduler or auth policy that never returns is stopped after milliseconds (epoch
//! deadline) or 5 × 10⁶ units of fuel, fails like any failing call (the scheduler's instance
//! is replaced, the auth request denied), and the engine serves the next call; a routing
//! call on the same engine keeps its long deadline; and the shipped schedulers and auth
//! policies use a small share of the budget.

use crate::test_policies;
use ouro_core::Address;
use ouro_core::routing::Topology;
use ouro_policy::{
    AuthRequest, CacheDir, Deadline, EngineConfig, OnLoop, ParamValue, Params, PolicyEngine,
    PolicyError, RequestKind, WasmAuth, WasmRoutingPolicy, WasmScheduler, builtin,
};
use ouro_tests::{TestGraph, backlogged_port};
use std::time::{Duration, Instant};

/// An engine with `deadline` and the default on-loop budget, without a disk cache.
fn engine(deadline: Deadline) -> PolicyEngine {
    PolicyEngine::new(EngineConfig {
        deadline,
        cache: CacheDir::Off,
        ..EngineConfig::router()
    })
    .expect("engine")
}

/// A flow request whose key and name are the last of the allowlist's lists below.
fn request() -> AuthRequest {
    AuthRequest {
        kind: RequestKind::Flow,
        layer: "net".into(),
        peer_key: Some([0x3f; 32]),
        name_hash: vec![0x3f; 16],
        cube: 1,
    }
}

fn spin_scheduler(engine: &PolicyEngine) -> WasmScheduler {
    WasmScheduler::load(
        engine,
        "spin-scheduler",
        test_policies::SPIN_SCHEDULER,
        Params::new(),
    )
    .expect("loads")
}

fn spin_auth(engine: &PolicyEngine) -> WasmAuth {
    WasmAuth::load(engine, "spin-auth", test_policies::SPIN_AUTH, Params::new()).expect("loads")
}

/// How long `f` took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Stopped after the 5 ms on-loop deadline: at least four 1 ms ticks, and far less than a
/// routing call's deadline (the bound leaves room for a loaded machine).
fn assert_on_loop_deadline(took: Duration) {
    assert!(
        took >= Duration::from_millis(3) && took < Duration::from_millis(250),
        "a call on the loop ran {took:?}"
    );
}

#[test]
fn a_looping_scheduler_or_auth_call_is_stopped_in_milliseconds_and_a_routing_call_is_not() {
    let engine = engine(Deadline::Epoch {
        tick: Duration::from_millis(1),
        per_call: Duration::from_millis(300),
    });
    assert_eq!(engine.config().on_loop.time, Duration::from_millis(5));
    let queues = backlogged_port();
    let mut spin = spin_scheduler(&engine);
    for _ in 0..3 {
        let (out, took) = timed(|| spin.schedule(64, &queues));
        let err = out.expect_err("stopped");
        assert!(matches!(err, PolicyError::Timeout(_)), "{err}");
        assert_on_loop_deadline(took);
    }
    assert_eq!(spin.last_good(), None);
    // The engine carries on: a good scheduler on it plans the next batch.
    let mut drr = WasmScheduler::load(&engine, "drr", builtin::DRR, Params::new()).expect("loads");
    let plan = drr.schedule(64, &queues).expect("plans");
    assert_eq!(plan.takes.iter().map(|t| t.1).sum::<u32>(), 64);

    let auth = spin_auth(&engine);
    let (out, took) = timed(|| auth.try_authorize(&request()));
    let err = out.expect_err("stopped");
    assert!(matches!(err, PolicyError::Timeout(_)), "{err}");
    assert_on_loop_deadline(took);
    // Fail-closed: the request is denied, with the reason.
    let (d, took) = timed(|| auth.authorize(&request()));
    assert!(
        !d.allow && d.reason.contains("ran past its deadline"),
        "{d:?}"
    );
    assert_on_loop_deadline(took);
    let m = auth.metrics().snapshot();
    assert_eq!((m.calls, m.failures), (2, 2));
    assert!(m.p99 < Duration::from_millis(250), "{m:?}");

    // A routing call on the same engine gets its 300 ms.
    let topo = Topology::from_links(TestGraph::ring(4).directed_links());
    let mut route = WasmRoutingPolicy::load(&engine, "spin", test_policies::SPIN, Params::new())
        .expect("loads");
    let (out, took) = timed(|| route.call(Address(1), &topo));
    assert!(matches!(out, Err(PolicyError::Timeout(_))), "{out:?}");
    assert!(
        took >= Duration::from_millis(250),
        "routing stopped after {took:?}"
    );
}

#[test]
fn on_fuel_a_looping_scheduler_or_auth_call_gets_the_on_loop_fuel_only() {
    let engine = engine(EngineConfig::deterministic().deadline);
    let fuel = OnLoop::DEFAULT.fuel;
    assert!(fuel < 1_000_000_000 / 100);
    let mut spin = spin_scheduler(&engine);
    for calls in 1..=2 {
        let err = spin.schedule(64, &backlogged_port()).expect_err("stopped");
        assert!(matches!(err, PolicyError::OutOfFuel(_)), "{err}");
        let m = spin.metrics().snapshot();
        assert_eq!((m.calls, m.failures), (calls, calls));
        assert_eq!(
            m.fuel_used,
            calls * fuel,
            "all of the on-loop fuel, no more"
        );
    }
    let auth = spin_auth(&engine);
    let d = auth.authorize(&request());
    assert!(!d.allow && d.reason.contains("ran out of fuel"), "{d:?}");
    assert_eq!(auth.metrics().snapshot().fuel_used, fuel);
}

#[test]
fn the_on_loop_budget_is_a_cap_a_smaller_deadline_stays_in_force() {
    // A deadline of 1,000 units: a call on the loop gets those, not the on-loop 5 × 10⁶.
    let engine = engine(Deadline::Fuel(1_000));
    let mut spin = spin_scheduler(&engine);
    let err = spin.schedule(1, &backlogged_port()).expect_err("stopped");
    assert!(matches!(err, PolicyError::OutOfFuel(_)), "{err}");
    assert!(spin.metrics().snapshot().fuel_used <= 1_000);
    // A custom on-loop budget below the deadline applies to the loop's calls only.
    let engine = PolicyEngine::new(EngineConfig {
        on_loop: OnLoop {
            time: Duration::from_millis(5),
            fuel: 200_000,
        },
        cache: CacheDir::Off,
        ..EngineConfig::deterministic()
    })
    .expect("engine");
    let mut spin = spin_scheduler(&engine);
    assert!(spin.schedule(1, &backlogged_port()).is_err());
    assert_eq!(spin.metrics().snapshot().fuel_used, 200_000);
}

/// Fuel per call of the shipped schedulers (kept instance, a full port, the daemon's batch
/// of 64) and auth policies (fresh instance per request): a small share of the on-loop
/// budget. `allowlist` reads its lists on every request, so its cost grows with them
/// (about 1,900 units per key or name listed): with 64 keys and 64 names it takes about 6 %.
#[test]
fn the_shipped_schedulers_and_auth_policies_use_a_small_share_of_the_on_loop_fuel() {
    let engine = engine(EngineConfig::deterministic().deadline);
    let fuel = OnLoop::DEFAULT.fuel;
    let queues = backlogged_port();
    let drr_params = Params::from([
        ("weight-2".to_string(), ParamValue::Integer(3)),
        ("ecn-age-ns".to_string(), ParamValue::Integer(1)),
    ]);
    for (name, wasm, params) in [
        ("strict-priority", builtin::STRICT_PRIORITY, Params::new()),
        ("drr", builtin::DRR, drr_params),
    ] {
        let mut s = WasmScheduler::load(&engine, name, wasm, params).expect("loads");
        for _ in 0..100 {
            s.schedule(64, &queues).expect("plans");
        }
        let m = s.metrics().snapshot();
        assert!(m.fuel_used / m.calls < fuel / 100, "{name}: {m:?}");
    }
    let keys: Vec<String> = (0..64u8).map(|k| format!("{k:02x}").repeat(32)).collect();
    let names: Vec<String> = (0..64u8).map(|k| format!("{k:02x}").repeat(16)).collect();
    let list_params = Params::from([
        ("keys".to_string(), ParamValue::TextList(keys)),
        ("names".to_string(), ParamValue::TextList(names)),
    ]);
    for (name, wasm, params, share) in [
        ("allow-all", builtin::ALLOW_ALL, Params::new(), 100),
        ("allowlist", builtin::ALLOWLIST, list_params, 10),
    ] {
        let a = WasmAuth::load(&engine, name, wasm, params).expect("loads");
        for _ in 0..10 {
            assert!(
                a.try_authorize(&request()).expect("decides").allow,
                "{name}"
            );
        }
        let m = a.metrics().snapshot();
        assert!(m.fuel_used / m.calls < fuel / share, "{name}: {m:?}");
    }
}
