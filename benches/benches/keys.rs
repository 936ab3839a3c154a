//! Cost of the proofs of possession at a flow's destination, against the parsing the
//! destination does for every flow request anyway.
//!
//! - `parse_flow_req` (baseline): parse one `FlowReq` (with key, nonce and MAC fields);
//! - `verify_flow_req`: rebuild the transcript and verify its MAC (one X25519, one BLAKE3
//!   `derive_key`, one keyed hash) — the extra work per flow request at the destination;
//! - `prove_flow_req`: the requester's side (the same primitives).
#![forbid(unsafe_code)]
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ouro_core::identity::{Identity, ProofUse};
use ouro_core::wire::MgmtMsg;
use ouro_core::{Address, Eid, NameHash, QosSpec};
use std::hint::black_box;

fn transcript(src: Address, dst: Address, unsigned: &MgmtMsg) -> Vec<u8> {
    let mut t = Vec::with_capacity(8 + unsigned.buffer_len());
    t.extend_from_slice(&src.0.to_be_bytes());
    t.extend_from_slice(&dst.0.to_be_bytes());
    unsigned.emit(&mut t);
    t
}

fn bench(c: &mut Criterion) {
    let requester = Identity::from_seed(1, "requester");
    let responder = Identity::from_seed(1, "responder");
    let (src, dst) = (Address(1), Address(2));
    let unsigned = MgmtMsg::FlowReq {
        src_eid: Eid(7),
        name: NameHash::of("pong", 16),
        qos: QosSpec::VOICE,
        key: requester.public(),
        nonce: [5; 16],
        mac: [0; 32],
    };
    let t = transcript(src, dst, &unsigned);
    let mac = requester
        .prove(&responder.public(), ProofUse::Flow, &t)
        .expect("contributory");
    let MgmtMsg::FlowReq {
        src_eid,
        name,
        qos,
        key,
        nonce,
        ..
    } = unsigned
    else {
        unreachable!()
    };
    let signed = MgmtMsg::FlowReq {
        src_eid,
        name,
        qos,
        key,
        nonce,
        mac,
    }
    .to_vec();

    let mut g = c.benchmark_group("flow_req_proof");
    g.bench_function("parse_flow_req", |b| {
        b.iter(|| black_box(MgmtMsg::parse(black_box(&signed))))
    });
    g.bench_function("verify_flow_req", |b| {
        b.iter(|| {
            let Ok(MgmtMsg::FlowReq {
                src_eid,
                name,
                qos,
                key,
                nonce,
                mac,
            }) = MgmtMsg::parse(black_box(&signed))
            else {
                panic!("parses")
            };
            let unsigned = MgmtMsg::FlowReq {
                src_eid,
                name,
                qos,
                key,
                nonce,
                mac: [0; 32],
            };
            let t = transcript(src, dst, &unsigned);
            black_box(responder.verify(&key, ProofUse::Flow, &t, &mac))
        })
    });
    g.bench_function("prove_flow_req", |b| {
        b.iter(|| black_box(requester.prove(&responder.public(), ProofUse::Flow, black_box(&t))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
