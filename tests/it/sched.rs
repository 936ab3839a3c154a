//! Scheduling and auth scenarios in the simulator: per-cube queues on a bottleneck link
//! under congestion (strict priority keeps voice fast, DRR shares by weight), with the
//! native schedulers and their Wasm twins; auth denial of enrollment and of flows.

use ouro_core::QosSpec;
use ouro_core::auth::RequestKind;
use ouro_core::ipcp::FlowEnd;
use ouro_core::sched::{Drr, QueueLimits, SchedulerPolicy, StrictPriority};
use ouro_policy::{
    CacheDir, Deadline, EngineConfig, OnLoop, ParamValue, Params, PolicyEngine, WasmAuth,
    WasmScheduler, builtin,
};
use ouro_sim::{Graph, LinkParams, SimConfig, Simulator, Stream, StreamResult};
use ouro_tests::TestGraph;
use std::time::Duration;

/// A policy engine for the simulator tests.
pub(crate) fn engine() -> PolicyEngine {
    PolicyEngine::new(EngineConfig {
        deadline: Deadline::Fuel(1_000_000_000),
        on_loop: OnLoop::DEFAULT,
        memory_cap: 64 << 20,
        max_instances: 8,
        cache: CacheDir::Off,
    })
    .expect("engine")
}

/// Two nodes over one 8 Mbit/s link (1,000 bytes take 1 ms), 1 ms delay, converged and
/// registered, every port scheduled (64 packets per cube, batches of 4), node 0 running
/// `scheduler`.
fn bottleneck(scheduler: Box<dyn SchedulerPolicy>) -> Simulator {
    let g = TestGraph::line(2);
    let graph = Graph::from_json_str(&g.to_node_link_json(Some("weight")), Some("weight"))
        .expect("generated JSON loads");
    let config = SimConfig {
        link: LinkParams {
            delay: Duration::from_millis(1),
            bandwidth_bps: Some(8_000_000),
            loss: 0.0,
        },
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(graph, config).expect("topology");
    sim.schedule_ports(
        QueueLimits {
            packets: 64,
            mgmt_packets: 1024,
            ecn_threshold: Some(32),
        },
        4,
    );
    sim.set_scheduler(0, |_| scheduler);
    assert!(sim.run_until_converged(Duration::from_secs(10)));
    assert_eq!(sim.register_names(Duration::from_millis(500)), 0);
    sim
}

/// A stream from node 0 to node 1 of `size`-byte messages every `interval` for 2 s.
fn stream(qos: QosSpec, size: usize, interval: Duration) -> Stream {
    Stream {
        src: 0,
        dst: 1,
        qos,
        size,
        interval,
        count: u32::try_from(Duration::from_secs(2).as_nanos() / interval.as_nanos())
            .expect("fits"),
    }
}

/// Voice (100 B every 5 ms) and bulk best effort (1,000 B every 0.5 ms: twice the link).
fn voice_and_bulk(scheduler: Box<dyn SchedulerPolicy>) -> (Simulator, StreamResult, StreamResult) {
    let mut sim = bottleneck(scheduler);
    let r = sim.run_streams(
        &[
            stream(QosSpec::VOICE, 100, Duration::from_millis(5)),
            stream(QosSpec::BEST_EFFORT, 1000, Duration::from_micros(500)),
        ],
        Duration::from_secs(3),
    );
    let (voice, bulk) = (r[0].clone(), r[1].clone());
    (sim, voice, bulk)
}

fn assert_voice_protected(sim: &Simulator, voice: &StreamResult, bulk: &StreamResult) {
    assert_eq!(voice.sent, 400);
    assert_eq!(voice.received, voice.sent, "no voice packet lost");
    // One-way: at most a batch of bulk ahead (4 ms) + its own serialisation + 1 ms delay.
    let p99 = voice.delay_percentile(99);
    assert!(p99 <= Duration::from_millis(7), "voice p99 {p99:?}");
    // Bulk saturates the link and queues: its delay is the full queue's, and it loses.
    let bulk_p50 = bulk.delay_percentile(50);
    assert!(
        bulk_p50 >= Duration::from_millis(40),
        "bulk p50 {bulk_p50:?}"
    );
    assert!(bulk.received < bulk.sent);
    let c = sim.ipcp(0).counters();
    assert!(c.drop_queue_full > 0 && c.ecn_marked > 0, "{c:?}");
    assert_eq!(c.scheduler_failures, 0);
    // Management traffic was never starved: the adjacency stayed up throughout.
    assert_eq!(sim.ipcp(0).neighbors().len(), 1);
    assert_eq!(sim.ipcp(1).neighbors().len(), 1);
}

#[test]
fn strict_priority_keeps_voice_delay_low_while_bulk_saturates() {
    let (sim, voice, bulk) = voice_and_bulk(Box::new(StrictPriority::default()));
    assert_voice_protected(&sim, &voice, &bulk);

    // The contrast: the same load with best effort served first starves voice.
    let (_, voice, _) = voice_and_bulk(Box::new(StrictPriority::by_cube(false)));
    let p50 = voice.delay_percentile(50);
    assert!(
        voice.received < voice.sent / 2 || p50 >= Duration::from_millis(40),
        "voice {} of {}, p50 {p50:?}",
        voice.received,
        voice.sent
    );
}

#[test]
fn wasm_strict_priority_keeps_voice_delay_low_while_bulk_saturates() {
    let params = Params::from([("reverse".to_string(), ParamValue::Boolean(true))]);
    let s = WasmScheduler::load(
        &engine(),
        "strict-priority",
        builtin::STRICT_PRIORITY,
        params,
    )
    .expect("loads");
    let metrics = s.metrics();
    let (sim, voice, bulk) = voice_and_bulk(Box::new(s));
    assert_voice_protected(&sim, &voice, &bulk);
    assert_eq!(sim.ipcp(0).scheduler_name(), "strict-priority");
    let m = metrics.snapshot();
    // Called once per batch, never per packet.
    assert!(m.calls > 100 && m.calls < u64::from(bulk.received), "{m:?}");
    assert_eq!(m.failures, 0);
}

/// Video and best effort both offering twice the link; weights 3 (video) : 1. Returns
/// what each delivered in the saturated second from 0.5 s to 1.5 s after the start.
fn shared(scheduler: Box<dyn SchedulerPolicy>) -> (usize, usize) {
    let mut sim = bottleneck(scheduler);
    let start = sim.now();
    let (from, to) = (
        start + Duration::from_millis(500),
        start + Duration::from_millis(1500),
    );
    let r = sim.run_streams(
        &[
            stream(QosSpec::VIDEO, 1000, Duration::from_micros(500)),
            stream(QosSpec::BEST_EFFORT, 1000, Duration::from_micros(500)),
        ],
        Duration::from_secs(3),
    );
    assert_eq!(sim.ipcp(0).counters().scheduler_failures, 0);
    (
        r[0].received_between(from, to),
        r[1].received_between(from, to),
    )
}

fn assert_three_to_one((video, be): (usize, usize)) {
    // A second of an 8 Mbit/s link carries ~985 messages of 1,015 bytes.
    assert!(video + be > 950, "{video} + {be}");
    let ratio = video as f64 / be as f64;
    assert!(
        (2.9..=3.1).contains(&ratio),
        "video {video}, best effort {be}"
    );
}

#[test]
fn drr_shares_a_saturated_link_by_weight() {
    let mut weights = [1; 5];
    weights[ouro_core::QosCube::Video as usize] = 3;
    assert_three_to_one(shared(Box::new(Drr::new(weights))));

    let params = Params::from([("weight-2".to_string(), ParamValue::Integer(3))]);
    let wasm = WasmScheduler::load(&engine(), "drr", builtin::DRR, params).expect("loads");
    assert_three_to_one(shared(Box::new(wasm)));
}

/// A DRR scheduler on an engine with almost no fuel: every call fails (as a guest that
/// loops forever would).
fn starved_drr() -> WasmScheduler {
    let engine = PolicyEngine::new(EngineConfig {
        deadline: Deadline::Fuel(10),
        on_loop: OnLoop::DEFAULT,
        memory_cap: 64 << 20,
        max_instances: 8,
        cache: CacheDir::Off,
    })
    .expect("engine");
    WasmScheduler::load(&engine, "starved-drr", builtin::DRR, Params::new()).expect("loads")
}

#[test]
fn a_failing_scheduler_keeps_the_port_sending() {
    let wasm = starved_drr();
    let metrics = wasm.metrics();
    let (sim, voice, bulk) = voice_and_bulk(Box::new(wasm));
    let c = sim.ipcp(0).counters();
    assert!(c.scheduler_failures > 100, "{c:?}");
    assert_eq!(metrics.snapshot().failures, c.scheduler_failures);
    // The port kept sending at line rate (native default order: voice first).
    assert_eq!(voice.received, voice.sent);
    assert!(bulk.received > 1500, "{}", bulk.received);
}

#[test]
fn a_new_scheduler_failing_on_probation_is_rolled_back() {
    let wasm = starved_drr();
    let metrics = wasm.metrics();
    let mut sim = bottleneck(Box::new(StrictPriority::default()));
    sim.set_scheduler(0, |old| {
        Box::new(ouro_policy::SchedulerFallback::new(Box::new(wasm), old, 8))
    });
    let r = sim.run_streams(
        &[
            stream(QosSpec::VOICE, 100, Duration::from_millis(5)),
            stream(QosSpec::BEST_EFFORT, 1000, Duration::from_micros(500)),
        ],
        Duration::from_secs(3),
    );
    assert_eq!(sim.ipcp(0).scheduler_name(), "native-strict-priority");
    assert_eq!(metrics.snapshot().calls, 1, "called once, then rolled back");
    assert_eq!(sim.ipcp(0).counters().scheduler_failures, 0);
    assert_eq!(r[0].received, r[0].sent);
}

/// Voice from node 0 to node 1: 20 messages of 100 B, 5 ms apart.
fn twenty_voice_messages() -> Stream {
    Stream {
        count: 20,
        ..stream(QosSpec::VOICE, 100, Duration::from_millis(5))
    }
}

/// A scheduler that never returns, on the simulator's engine: every call is stopped at the
/// on-loop fuel (5 × 10⁶ units, not the 10⁹ of a routing call), fails, and the port sends
/// in the default order; nothing is lost.
#[test]
fn a_looping_scheduler_is_stopped_at_the_on_loop_fuel_and_the_port_keeps_sending() {
    let spin = WasmScheduler::load(
        &engine(),
        "spin-scheduler",
        crate::test_policies::SPIN_SCHEDULER,
        Params::new(),
    )
    .expect("loads");
    let metrics = spin.metrics();
    let mut sim = bottleneck(Box::new(spin));
    let r = sim.run_streams(&[twenty_voice_messages()], Duration::from_secs(1));
    assert_eq!((r[0].sent, r[0].received), (20, 20));
    let m = metrics.snapshot();
    let c = sim.ipcp(0).counters();
    assert!(m.calls >= 1 && m.failures == m.calls, "{m:?}");
    assert_eq!(c.scheduler_failures, m.failures);
    assert_eq!(m.fuel_used, m.calls * OnLoop::DEFAULT.fuel);
    let e = sim
        .ipcp(0)
        .last_scheduler_error()
        .expect("kept")
        .to_string();
    assert!(e.contains("ran out of fuel"), "{e}");
}

/// An auth policy that never returns is stopped at the on-loop fuel and denies (fail-closed);
/// the simulation goes on.
#[test]
fn a_looping_auth_policy_is_stopped_at_the_on_loop_fuel_and_denies() {
    let mut sim = bottleneck(Box::new(StrictPriority::default()));
    let spin = WasmAuth::load(
        &engine(),
        "spin-auth",
        crate::test_policies::SPIN_AUTH,
        Params::new(),
    )
    .expect("loads");
    let metrics = spin.metrics();
    sim.set_auth_policy(1, |_| Box::new(spin));
    let r = sim.run_streams(&[twenty_voice_messages()], Duration::from_millis(500));
    assert_eq!(r[0].ended, Some(FlowEnd::Denied));
    let c = sim.ipcp(1).counters();
    assert_eq!((c.auth_failures, c.auth_denied), (1, 1));
    let (_, reason) = sim.ipcp(1).last_denial().expect("denied");
    assert!(reason.contains("ran out of fuel"), "{reason}");
    let m = metrics.snapshot();
    assert_eq!((m.calls, m.fuel_used), (1, OnLoop::DEFAULT.fuel));
}

fn allowlist() -> WasmAuth {
    WasmAuth::load(&engine(), "allowlist", builtin::ALLOWLIST, Params::new()).expect("loads")
}

#[test]
fn wasm_allowlist_denies_flows_end_to_end() {
    let mut sim = bottleneck(Box::new(StrictPriority::default()));
    let auth = allowlist();
    let metrics = auth.metrics();
    sim.set_auth_policy(1, |_| Box::new(auth));
    let r = sim.run_streams(
        &[stream(QosSpec::VOICE, 100, Duration::from_millis(5))],
        Duration::from_millis(500),
    );
    assert_eq!(r[0].ended, Some(FlowEnd::Denied));
    assert_eq!((r[0].sent, r[0].received), (0, 0));
    assert_eq!(sim.ipcp(1).counters().auth_denied, 1);
    assert_eq!(sim.ipcp(0).counters().denied_by_peer, 1);
    let (kind, reason) = sim.ipcp(1).last_denial().expect("denied");
    assert_eq!(*kind, RequestKind::Flow);
    // The key reaches the policy (proved), but none is listed.
    assert!(reason.contains("not on the allowlist"), "{reason}");
    assert_eq!(metrics.snapshot().calls, 1);
}

#[test]
fn wasm_allowlist_denies_enrollment() {
    let g = TestGraph::line(2);
    let graph = Graph::from_json_str(&g.to_node_link_json(Some("weight")), Some("weight"))
        .expect("generated JSON loads");
    let config = SimConfig {
        held_back: [1].into(),
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(graph, config).expect("topology");
    sim.set_auth_policy(0, |_| Box::new(allowlist()));
    sim.join(1);
    sim.run_for(Duration::from_secs(1));
    assert!(!sim.is_enrolled(1));
    assert!(sim.ipcp(0).counters().auth_denied >= 1);
    assert!(sim.ipcp(1).counters().denied_by_peer >= 1);
    // Swap in allow-all: the next retry enrolls.
    let all =
        WasmAuth::load(&engine(), "allow-all", builtin::ALLOW_ALL, Params::new()).expect("loads");
    sim.set_auth_policy(0, |_| Box::new(all));
    sim.run_for(Duration::from_secs(1));
    assert!(sim.is_enrolled(1));
}
