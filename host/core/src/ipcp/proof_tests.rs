//! Unit tests of the proofs of possession in enrollment and flow allocation: forged keys,
//! tampered and replayed messages are denied and counted, never passed to the auth policy;
//! a genuine one reaches it with the proven key. (That real peers' keys reach the policy
//! is seen in the integration tests, `tests/it/auth.rs`.)

use super::enroll::enroll_transcript;
use super::flow_alloc::flow_transcript;
use super::tests::{member, mgmt_pdu};
use super::*;
use crate::auth::{AuthError, AuthPolicy, AuthRequest, Decision, RequestKind};
use crate::identity::ProofUse;
use crate::wire::{DT_HEADER_LEN, DtHeader, EnrollResult, MgmtMsg};
use std::sync::Mutex;

/// Allows everything and records the requests it saw.
struct Record(Arc<Mutex<Vec<AuthRequest>>>);

impl AuthPolicy for Record {
    fn name(&self) -> &str {
        "record"
    }
    fn authorize(&mut self, request: &AuthRequest) -> Result<Decision, AuthError> {
        self.0.lock().expect("not poisoned").push(request.clone());
        Ok(Decision::allow("recorded"))
    }
}

fn recorder(node: &mut Ipcp) -> Arc<Mutex<Vec<AuthRequest>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    node.set_auth_policy(|_| Box::new(Record(s)));
    seen
}

fn seen_keys(seen: &Arc<Mutex<Vec<AuthRequest>>>) -> Vec<(RequestKind, Option<[u8; 32]>)> {
    seen.lock()
        .expect("not poisoned")
        .iter()
        .map(|r| (r.kind, r.peer_key))
        .collect()
}

/// The management messages `node` queued, parsed.
fn sent(node: &mut Ipcp) -> Vec<MgmtMsg> {
    std::iter::from_fn(|| node.poll_transmit())
        .filter_map(|t| {
            let (_, payload) = DtHeader::parse(&t.data).ok()?;
            MgmtMsg::parse(payload).ok()
        })
        .collect()
}

/// A member and the messages an enrollee claiming `claimed` sends it, up to the challenge.
fn challenged(claimed: [u8; 32]) -> (Ipcp, NameHash, [u8; 32], [u8; 16]) {
    let mut member = member(5);
    let name = NameHash::of("enrollee", 32);
    let port = PortId(1);
    let request = MgmtMsg::EnrollRequest {
        ipcp: name,
        key: claimed,
    };
    member.handle_pdu(
        Instant::ZERO,
        port,
        mgmt_pdu(Address::NONE, Address::NONE, &request),
    );
    let msgs = sent(&mut member);
    let Some(MgmtMsg::EnrollChallenge { key, nonce }) = msgs.last().cloned() else {
        panic!("expected a challenge, got {msgs:?}");
    };
    assert_eq!(key, member.public_key());
    (member, name, key, nonce)
}

fn answer(member: &mut Ipcp, at: Instant, mac: [u8; 32]) -> Vec<MgmtMsg> {
    let proof = MgmtMsg::EnrollProof { mac };
    member.handle_pdu(
        at,
        PortId(1),
        mgmt_pdu(Address::NONE, Address::NONE, &proof),
    );
    sent(member)
}

fn is_response(msgs: &[MgmtMsg], want: EnrollResult) -> bool {
    matches!(msgs, [MgmtMsg::EnrollResponse { result, .. }] if *result == want)
}

#[test]
fn enrollment_proofs_forged_late_replayed_or_unasked_are_refused() {
    let victim = Identity::from_seed(9, "victim");
    let mallory = Identity::from_seed(9, "mallory");

    // Genuine: the holder of the key answers.
    let (mut member, name, mkey, nonce) = challenged(victim.public());
    let seen = recorder(&mut member);
    let t = enroll_transcript(name, victim.public(), mkey, nonce);
    let good = victim
        .prove(&mkey, ProofUse::Enrollment, &t)
        .expect("contributory");
    assert!(is_response(
        &answer(&mut member, Instant::ZERO, good),
        EnrollResult::Ok
    ));
    assert_eq!(seen_keys(&seen).len(), 1);

    // Forged: mallory claims the victim's key but proves with her own.
    let (mut member, name, mkey, nonce) = challenged(victim.public());
    let seen = recorder(&mut member);
    let t = enroll_transcript(name, victim.public(), mkey, nonce);
    let forged = mallory
        .prove(&mkey, ProofUse::Enrollment, &t)
        .expect("contributory");
    assert!(is_response(
        &answer(&mut member, Instant::ZERO, forged),
        EnrollResult::Denied
    ));
    assert_eq!(member.counters().proof_failures, 1);
    assert!(seen_keys(&seen).is_empty(), "the policy never sees it");
    let denial = member.last_denial().expect("recorded");
    assert_eq!(denial.0, RequestKind::Enrollment);
    assert!(denial.1.contains("does not verify"), "{}", denial.1);

    // A proof with no challenge outstanding (the one above was consumed): dropped.
    assert!(answer(&mut member, Instant::ZERO, good).is_empty());
    assert_eq!(member.counters().drop_not_ready, 1);

    // Replayed: a proof recorded for an earlier nonce does not answer a new challenge.
    let (mut member, name, mkey, first) = challenged(victim.public());
    let t = enroll_transcript(name, victim.public(), mkey, first);
    let old = victim
        .prove(&mkey, ProofUse::Enrollment, &t)
        .expect("contributory");
    let request = MgmtMsg::EnrollRequest {
        ipcp: name,
        key: victim.public(),
    };
    member.handle_pdu(
        Instant::ZERO,
        PortId(1),
        mgmt_pdu(Address::NONE, Address::NONE, &request),
    );
    let again = sent(&mut member);
    assert!(
        matches!(again.as_slice(), [MgmtMsg::EnrollChallenge { nonce, .. }] if *nonce != first)
    );
    assert!(is_response(
        &answer(&mut member, Instant::ZERO, old),
        EnrollResult::Denied
    ));
    assert_eq!(member.counters().proof_failures, 1);

    // Late: a valid proof after the challenge expired.
    let (mut member, name, mkey, nonce) = challenged(victim.public());
    let t = enroll_transcript(name, victim.public(), mkey, nonce);
    let mac = victim
        .prove(&mkey, ProofUse::Enrollment, &t)
        .expect("contributory");
    let late = Instant::ZERO + super::enroll::ENROLL_TIMEOUT;
    assert!(is_response(
        &answer(&mut member, late, mac),
        EnrollResult::Denied
    ));
    assert_eq!(member.counters().proof_failures, 1);

    // A low-order key claimed: denied without a panic.
    let (mut member, ..) = challenged([0; 32]);
    assert!(is_response(
        &answer(&mut member, Instant::ZERO, [0; 32]),
        EnrollResult::Denied
    ));
    assert_eq!(member.counters().proof_failures, 1);
}

/// The address flow requests come from.
const REQUESTER: Address = Address(0x0A0A);

/// A flow request from [`REQUESTER`] to `responder`, proved by `prover` for the key
/// `claimed`.
fn flow_req(responder: &Ipcp, claimed: [u8; 32], prover: &Identity, nonce: u8) -> Vec<u8> {
    let dst = responder.address();
    let unsigned = MgmtMsg::FlowReq {
        src_eid: Eid(0x77),
        name: responder.hash_name("sink"),
        qos: QosSpec::BEST_EFFORT,
        key: claimed,
        nonce: [nonce; 16],
        mac: [0; 32],
    };
    let t = flow_transcript(REQUESTER, dst, &unsigned);
    let proof = prover
        .prove(&responder.public_key(), ProofUse::Flow, &t)
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
        unreachable!("built above")
    };
    let msg = MgmtMsg::FlowReq {
        src_eid,
        name,
        qos,
        key,
        nonce,
        mac: proof,
    };
    mgmt_pdu(REQUESTER, dst, &msg)
}

/// Deliver `pdu` to `responder` and return the flow requests it announced.
fn deliver(responder: &mut Ipcp, pdu: Vec<u8>) -> usize {
    responder.handle_pdu(Instant::ZERO, PortId(1), pdu);
    while responder.poll_transmit().is_some() {}
    std::iter::from_fn(|| responder.poll_event())
        .filter(|e| matches!(e, Event::FlowRequest { .. }))
        .count()
}

#[test]
fn flow_requests_forged_tampered_or_replayed_are_denied() {
    let mut responder = member(6);
    responder.register(Instant::ZERO, "sink").expect("enrolled");
    let seen = recorder(&mut responder);
    let genuine = Identity::from_seed(9, "genuine");
    let mallory = Identity::from_seed(9, "mallory");

    // Forged: the genuine key claimed, proof made with another private key.
    let pdu = flow_req(&responder, genuine.public(), &mallory, 1);
    assert_eq!(deliver(&mut responder, pdu), 0);
    assert_eq!(responder.counters().proof_failures, 1);
    assert!(seen_keys(&seen).is_empty());

    // Tampered: a genuine request with its QoS changed in transit.
    let mut pdu = flow_req(&responder, genuine.public(), &genuine, 2);
    let qos_at = DT_HEADER_LEN + 1 + 4 + 1 + usize::from(responder.config().hash_len);
    pdu[qos_at] ^= 1;
    assert_eq!(deliver(&mut responder, pdu), 0);
    assert_eq!(responder.counters().proof_failures, 2);

    // Genuine: announced, with the proven key given to the policy.
    let pdu = flow_req(&responder, genuine.public(), &genuine, 3);
    assert_eq!(deliver(&mut responder, pdu.clone()), 1);
    assert_eq!(
        seen_keys(&seen),
        vec![(RequestKind::Flow, Some(genuine.public()))]
    );
    // Refused by the application; the same request replayed is denied as a replay.
    let pending: Vec<Eid> = responder.flows.eids();
    responder
        .reject_flow(Instant::ZERO, pending[0])
        .expect("pending flow");
    assert_eq!(deliver(&mut responder, pdu), 0);
    assert_eq!(responder.counters().proof_failures, 3);
    let denial = responder.last_denial().expect("recorded");
    assert!(denial.1.contains("replayed"), "{}", denial.1);
    assert_eq!(seen_keys(&seen).len(), 1);
    assert_eq!(responder.flow_count(), 0);
}
