//! Unit tests of one IPCP in isolation: its neighbours are PDUs made by hand. Scenarios
//! with real neighbours run over simulated nodes in the integration tests (`tests/it`:
//! `ipcp.rs`, `flow_control.rs`, `route_requests.rs`, `sim.rs`, `auth.rs`).

use super::*;
use crate::QosCube;
use crate::routing::NativeSpf;
use crate::wire::{DtHeader, MgmtMsg};
use std::time::Duration;

/// The first member of a layer of its own, bootstrapped at time zero from `seed`.
pub(super) fn member(seed: u64) -> Ipcp {
    Ipcp::bootstrap(
        "m",
        LayerConfig::named("t"),
        Box::new(NativeSpf::default()),
        Instant::ZERO,
        seed,
    )
}

/// A management PDU: neighbour-scoped if `dst` is 0, else routed from `src`.
pub(super) fn mgmt_pdu(src: Address, dst: Address, msg: &MgmtMsg) -> Vec<u8> {
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

/// A neighbour at `address` asks `ipcp` for an adjacency on `port`, which comes up.
pub(super) fn fake_neighbour(ipcp: &mut Ipcp, now: Instant, port: PortId, address: Address) {
    let request = MgmtMsg::AdjRequest {
        address,
        ipcp: NameHash::of(&format!("neighbour-{}", port.0), 32),
        cost: 1,
    };
    ipcp.handle_pdu(now, port, mgmt_pdu(address, Address::NONE, &request));
    assert!(
        ipcp.neighbors()
            .iter()
            .any(|(p, a)| *p == port && *a == address),
        "the adjacency on {port} is up"
    );
}

/// Run `ipcp`'s timers from `now` for `span` (what it sends goes nowhere); the new time.
pub(super) fn run_for(ipcp: &mut Ipcp, now: Instant, span: Duration) -> Instant {
    let until = now + span;
    while let Some(t) = ipcp.poll_timeout().filter(|&t| t <= until) {
        ipcp.handle_timeout(t.max(now));
        while ipcp.poll_transmit().is_some() {}
    }
    while ipcp.poll_transmit().is_some() {}
    until
}

#[test]
fn calls_before_enrollment_are_refused() {
    let mut n = Ipcp::new("lonely", Box::new(NativeSpf::default()), Instant::ZERO, 3);
    assert_eq!(n.register(Instant::ZERO, "x"), Err(IpcpError::NotEnrolled));
    assert_eq!(
        n.alloc_flow(Instant::ZERO, "x", QosSpec::RAW),
        Err(IpcpError::NotEnrolled)
    );
    assert_eq!(
        n.flow_write(Instant::ZERO, Eid(5), b"x"),
        Err(IpcpError::NoSuchFlow)
    );
    n.handle_pdu(Instant::ZERO, PortId(1), vec![0xff; 3]);
    assert_eq!(n.counters().drop_malformed, 1);
}

#[test]
fn enrollment_times_out_without_a_member() {
    let mut n = Ipcp::new("lonely", Box::new(NativeSpf::default()), Instant::ZERO, 3);
    n.enroll_via(Instant::ZERO, PortId(9));
    assert!(n.poll_transmit().is_some());
    let deadline = n.poll_timeout().expect("enrollment deadline");
    n.handle_timeout(deadline);
    assert_eq!(
        n.poll_event(),
        Some(Event::EnrollFailed { port: PortId(9) })
    );
    assert!(!n.is_enrolled());
}

#[test]
fn garbage_and_expired_ttl_are_counted_not_fatal() {
    let mut m = member(1);
    let now = Instant::ZERO;
    let port = PortId(1);
    let neighbour = Address(0x0A0A);
    fake_neighbour(&mut m, now, port, neighbour);
    for junk in [
        vec![],
        vec![0u8; 14],
        vec![0xAB; 40],
        vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9],
    ] {
        m.handle_pdu(now, port, junk);
    }
    let c = m.counters();
    assert!(c.drop_malformed >= 3, "{c:?}");
    // A PDU for another IPCP with TTL 1 dies here.
    let header = DtHeader {
        dst: Address(0x0B0B),
        src: neighbour,
        eid: Eid(77),
        cube: QosCube::BestEffort,
        ttl: 1,
        ecn: 0,
    };
    let mut pdu = Vec::new();
    header.emit(&mut pdu);
    m.handle_pdu(now, port, pdu);
    assert_eq!(m.counters().drop_ttl, 1);
    // A management message of an unknown type is malformed.
    let mut pdu = Vec::new();
    DtHeader {
        dst: Address::NONE,
        eid: Eid::MGMT,
        ttl: 1,
        ..header
    }
    .emit(&mut pdu);
    pdu.push(0xEE);
    let before = m.counters().drop_malformed;
    m.handle_pdu(now, port, pdu);
    assert_eq!(m.counters().drop_malformed, before + 1);
}

#[test]
fn restarted_member_resumes_its_sequence_numbers() {
    let mut m = member(2);
    let port = PortId(1);
    let neighbour = Address(0x0A0A);
    fake_neighbour(&mut m, Instant::ZERO, port, neighbour);
    let now = run_for(&mut m, Instant::ZERO, Duration::from_secs(1));
    let own = m.address();
    let old_seq = m.lsdb().get(own).map(|l| l.seqno).expect("own lsa");
    // A member restarted with the same address but a fresh state: its neighbour sends
    // back the advertisement from before, numbered above the new one.
    let stale = crate::wire::Lsa {
        origin: own,
        seqno: old_seq + 10,
        lifetime_s: 60,
        links: vec![],
    };
    let update = MgmtMsg::Lsu { lsas: vec![stale] };
    m.handle_pdu(now, port, mgmt_pdu(neighbour, Address::NONE, &update));
    run_for(&mut m, now, Duration::from_secs(1));
    let seq = m.lsdb().get(own).map(|l| l.seqno).expect("own lsa");
    assert!(
        seq > old_seq + 10,
        "re-originated above the stale copy: {seq}"
    );
}

mod hostile_input {
    use super::*;
    use crate::wire::{arb_header, arb_msg};
    use proptest::prelude::*;

    /// One hostile PDU: a valid management message under a random header, or random bytes.
    fn arb_pdu() -> impl Strategy<Value = (bool, Vec<u8>)> {
        let structured = (arb_header(), arb_msg(), any::<bool>(), any::<bool>()).prop_map(
            |(mut header, msg, scoped, mgmt)| {
                if scoped {
                    header.dst = Address::NONE;
                }
                if mgmt {
                    header.eid = Eid::MGMT;
                }
                let mut pdu = header.to_bytes().to_vec();
                msg.emit(&mut pdu);
                pdu
            },
        );
        (
            any::<bool>(),
            prop_oneof![structured, proptest::collection::vec(any::<u8>(), 0..64)],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever its neighbours send, the IPCP neither panics nor installs a route through
        /// a port that is not an up adjacency.
        #[test]
        fn hostile_pdus_never_panic_or_corrupt_forwarding(pdus in proptest::collection::vec(arb_pdu(), 1..24)) {
            let mut m = member(3);
            let mut now = Instant::ZERO;
            fake_neighbour(&mut m, now, PortId(1), Address(0x0A0A));
            fake_neighbour(&mut m, now, PortId(2), Address(0x0B0B));
            for (left, pdu) in pdus {
                let port = if left { PortId(1) } else { PortId(2) };
                m.handle_pdu(now, port, pdu);
                now = run_for(&mut m, now, Duration::from_millis(20));
            }
            run_for(&mut m, now, Duration::from_secs(3));
            let up: Vec<PortId> = m.neighbors().into_iter().map(|(p, _)| p).collect();
            for (_, entry) in m.fib().iter() {
                for (_, port) in &entry.next_hops {
                    prop_assert!(up.contains(port), "route via {port} which is not up");
                }
            }
        }
    }
}
