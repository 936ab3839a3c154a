//! Per-cube queueing cost on a scheduled port, against the unscheduled path it replaces.
//!
//! Each iteration moves 64 PDUs of 100 bytes (half best effort, a quarter each video and
//! voice) through one port:
//! - `fifo`: a `VecDeque` push and pop per PDU (what an unscheduled port does);
//! - `queues_native`: enqueue into the per-cube queues, then batches of 16 planned by the
//!   native strict-priority scheduler and carried out by the queues (4 plans);
//! - `queues_native_drr`: the same with the native DRR;
//! - `queues_wasm_drr`: the same with the Wasm `drr` component (4 guest calls).
#![forbid(unsafe_code)]
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ouro_core::sched::{Drr, PortQueues, QueueLimits, SchedulerPolicy, StrictPriority, validate};
use ouro_core::time::Instant;
use ouro_core::wire::DtHeader;
use ouro_core::{Address, Eid, QosCube};
use ouro_policy::{CacheDir, EngineConfig, Params, PolicyEngine, WasmScheduler, builtin};
use std::collections::VecDeque;
use std::hint::black_box;

const PDUS: usize = 64;
const BATCH: u32 = 16;

fn pdus() -> Vec<(QosCube, Vec<u8>)> {
    (0..PDUS)
        .map(|i| {
            let cube = match i % 4 {
                0 => QosCube::Voice,
                1 => QosCube::Video,
                _ => QosCube::BestEffort,
            };
            let mut v = Vec::with_capacity(115);
            DtHeader {
                dst: Address(2),
                src: Address(1),
                eid: Eid(7),
                cube,
                ttl: 8,
                ecn: 0,
            }
            .emit(&mut v);
            v.resize(115, 0xab);
            (cube, v)
        })
        .collect()
}

fn run_queues(
    q: &mut PortQueues,
    sched: &mut dyn SchedulerPolicy,
    input: &[(QosCube, Vec<u8>)],
    states: &mut Vec<ouro_core::sched::QueueState>,
) -> usize {
    let now = Instant::from_millis(1);
    for (cube, pdu) in input {
        q.enqueue(now, Some(*cube), pdu.clone());
    }
    let mut sent = 0;
    while !q.is_empty() {
        q.states(now, states);
        let plan = sched.schedule(BATCH, states).unwrap_or_default();
        let plan = if validate(BATCH, states, &plan).is_ok() {
            plan
        } else {
            Default::default()
        };
        q.apply(&plan, BATCH, |p| {
            sent += black_box(p).len();
        });
    }
    sent
}

fn bench(c: &mut Criterion) {
    let input = pdus();
    let mut group = c.benchmark_group("sched_64_pdus");
    group.bench_function("fifo", |b| {
        let mut q: VecDeque<Vec<u8>> = VecDeque::new();
        b.iter(|| {
            for (_, pdu) in &input {
                q.push_back(pdu.clone());
            }
            let mut sent = 0;
            while let Some(p) = q.pop_front() {
                sent += black_box(p).len();
            }
            sent
        })
    });
    let limits = QueueLimits::default();
    let mut states = Vec::new();
    group.bench_function("queues_native", |b| {
        let mut q = PortQueues::new(limits);
        let mut s = StrictPriority::default();
        b.iter(|| run_queues(&mut q, &mut s, &input, &mut states))
    });
    group.bench_function("queues_native_drr", |b| {
        let mut q = PortQueues::new(limits);
        let mut s = Drr::new([1, 1, 3, 1, 1]);
        b.iter(|| run_queues(&mut q, &mut s, &input, &mut states))
    });
    let engine = PolicyEngine::new(EngineConfig {
        cache: CacheDir::Off,
        ..EngineConfig::router()
    })
    .expect("engine");
    group.bench_function("queues_wasm_drr", |b| {
        let mut q = PortQueues::new(limits);
        let mut s =
            WasmScheduler::load(&engine, "drr", builtin::DRR, Params::new()).expect("loads");
        b.iter(|| run_queues(&mut q, &mut s, &input, &mut states))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
