//! Unit tests of the proofs of possession in enrollment and flow allocation: the verified
//! key reaches the auth policy; forged keys, tampered and replayed messages are denied and
//! counted, never passed to the policy.

use super::enroll::enroll_transcript;
use super::flow_alloc::flow_transcript;
use super::tests::{Net, line};
use super::*;
use crate::QosCube;
use crate::auth::{AuthError, AuthPolicy, AuthRequest, Decision, RequestKind};
use crate::identity::ProofUse;
use crate::routing::NativeSpf;
use crate::wire::{DT_HEADER_LEN, DtHeader, EnrollResult, MgmtMsg};
use std::sync::Mutex;
use std::time::Duration;

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

/// A management PDU: neighbour-scoped if `dst` is 0, else routed from `src`.
fn mgmt_pdu(src: Address, dst: Address, msg: &MgmtMsg) -> Vec<u8> {
    let mut pdu = Vec::new();
    DtHeader {
        dst,
        src,
        eid: Eid::MGMT,
        cube: QosCube::BestEffort,
        ttl: 8,
        ecn: 0,
    }
    .emit(&mut pdu);
    msg.emit(&mut pdu);
    pdu
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

#[test]
fn verified_keys_reach_the_auth_policy() {
    let mut net = Net::new(2);
    let seen = recorder(&mut net.nodes[0]);
    net.join(1, 0);
    let enrollee = net.nodes[1].public_key();
    assert_ne!(enrollee, net.nodes[0].public_key());
    assert_eq!(
        seen_keys(&seen),
        vec![(RequestKind::Enrollment, Some(enrollee))]
    );

    let mut net = line(3);
    let seen = recorder(&mut net.nodes[2]);
    super::tests::open_flow(&mut net, "sink");
    let requester = net.nodes[0].public_key();
    assert_eq!(seen_keys(&seen), vec![(RequestKind::Flow, Some(requester))]);
    for n in &net.nodes {
        let c = n.counters();
        assert_eq!((c.proof_failures, c.drop_not_ready), (0, 0), "{c:?}");
    }
}

/// A member and the messages an enrollee claiming `claimed` sends it, up to the challenge.
fn challenged(claimed: [u8; 32]) -> (Ipcp, NameHash, [u8; 32], [u8; 16]) {
    let mut member = Ipcp::bootstrap(
        "m",
        LayerConfig::named("t"),
        Box::new(NativeSpf::default()),
        Instant::ZERO,
        5,
    );
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

/// A flow request from node 0 to node 2 of a converged line, proved by `prover` for the
/// key `claimed`.
fn flow_req(net: &Net, claimed: [u8; 32], prover: &Identity, nonce: u8) -> (MgmtMsg, Vec<u8>) {
    let (src, dst) = (net.nodes[0].address(), net.nodes[2].address());
    let unsigned = MgmtMsg::FlowReq {
        src_eid: Eid(0x77),
        name: net.nodes[2].hash_name("sink"),
        qos: QosSpec::BEST_EFFORT,
        key: claimed,
        nonce: [nonce; 16],
        mac: [0; 32],
    };
    let t = flow_transcript(src, dst, &unsigned);
    let proof = prover
        .prove(&net.nodes[2].public_key(), ProofUse::Flow, &t)
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
    let pdu = mgmt_pdu(src, dst, &msg);
    (msg, pdu)
}

/// Deliver `pdu` to node 2 (from node 1's side) and return the flow requests announced.
fn deliver(net: &mut Net, pdu: Vec<u8>) -> usize {
    let now = net.now;
    net.nodes[2].handle_pdu(now, Net::port(2, 1), pdu);
    net.run_for(Duration::from_millis(20));
    net.take_events(2)
        .iter()
        .filter(|e| matches!(e, Event::FlowRequest { .. }))
        .count()
}

#[test]
fn flow_requests_forged_tampered_or_replayed_are_denied() {
    let mut net = line(3);
    let now = net.now;
    net.nodes[2].register(now, "sink").expect("enrolled");
    net.run_for(Duration::from_millis(50));
    let seen = recorder(&mut net.nodes[2]);
    let genuine = net.nodes[0].identity.clone();
    let mallory = Identity::from_seed(9, "mallory");

    // Forged: node 0's key claimed, proof made with another private key.
    let (_, pdu) = flow_req(&net, genuine.public(), &mallory, 1);
    assert_eq!(deliver(&mut net, pdu), 0);
    assert_eq!(net.nodes[2].counters().proof_failures, 1);
    assert!(seen_keys(&seen).is_empty());

    // Tampered: a genuine request with its QoS changed in transit.
    let (_, mut pdu) = flow_req(&net, genuine.public(), &genuine, 2);
    let qos_at = DT_HEADER_LEN + 1 + 4 + 1 + usize::from(net.nodes[2].config().hash_len);
    pdu[qos_at] ^= 1;
    assert_eq!(deliver(&mut net, pdu), 0);
    assert_eq!(net.nodes[2].counters().proof_failures, 2);

    // Genuine: announced, with the proven key given to the policy.
    let (_, pdu) = flow_req(&net, genuine.public(), &genuine, 3);
    assert_eq!(deliver(&mut net, pdu.clone()), 1);
    assert_eq!(
        seen_keys(&seen),
        vec![(RequestKind::Flow, Some(genuine.public()))]
    );
    // Refused by the application; the same request replayed is denied as a replay.
    let pending: Vec<Eid> = net.nodes[2].flows.eids();
    let now = net.now;
    net.nodes[2]
        .reject_flow(now, pending[0])
        .expect("pending flow");
    assert_eq!(deliver(&mut net, pdu), 0);
    assert_eq!(net.nodes[2].counters().proof_failures, 3);
    let denial = net.nodes[2].last_denial().expect("recorded");
    assert!(denial.1.contains("replayed"), "{}", denial.1);
    assert_eq!(seen_keys(&seen).len(), 1);
    assert_eq!(net.nodes[2].flow_count(), 0);
}
