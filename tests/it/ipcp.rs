//! One IPCP's flow allocator in a small working network of simulated systems
//! ([`crate::line::Line`]): a flow across a relay, a name nobody registered, congestion
//! marked by a relay and echoed, flow requests the responder's auth policy denies.

use crate::line::Line;
use ouro_core::Eid;
use ouro_core::auth::{AuthError, AuthPolicy, AuthRequest, Decision, RequestKind};
use ouro_core::ipcp::FlowEnd;
use ouro_node::{Event, FlowId, QosSpec};

/// System 0 asks for a flow to `name` (best effort).
fn alloc(line: &mut Line, name: &str) -> FlowId {
    let from = line.ids[0];
    line.sim
        .with_node(0, |node, now| {
            node.alloc_flow(now, from, name, QosSpec::BEST_EFFORT)
        })
        .expect("enrolled")
}

#[test]
fn a_flow_crosses_a_relay_and_its_deallocation_reaches_the_far_end() {
    let mut line = Line::joined(3);
    let (fa, fb) = line.open_flow(2, "echo", QosSpec::BEST_EFFORT);
    let incoming = line
        .sim
        .events(2)
        .iter()
        .filter(|(_, e)| matches!(e, Event::FlowIncoming { .. }))
        .count();
    assert_eq!(incoming, 1, "one request reaches the responder");
    // Each end knows the other: its IPCP's address and endpoint id.
    let (a0, a2) = (line.ipcp(0).address(), line.ipcp(2).address());
    assert_eq!(line.ipcp(0).flow_peer(fa.eid), Some((a2, fb.eid)));
    assert_eq!(line.ipcp(2).flow_peer(fb.eid), Some((a0, fa.eid)));
    assert_eq!(line.ipcp(0).flow_peer(Eid(u32::MAX)), None);

    for i in 0..5u8 {
        line.sim
            .with_node(0, |node, now| node.write(now, fa, &[i; 100]))
            .expect("allocated");
    }
    line.run_ms(50);
    let want: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 100]).collect();
    assert_eq!(line.read_all(2, fb), want);
    assert!(line.ipcp(1).counters().forwarded >= 5);

    line.sim
        .with_node(0, |node, now| node.dealloc(now, fa))
        .expect("open");
    line.run_ms(50);
    assert!(line.saw_end(2, fb, FlowEnd::Remote));
    assert_eq!(line.ipcp(0).flow_count(), 0);
    assert_eq!(line.ipcp(2).flow_count(), 0);
}

#[test]
fn a_flow_to_a_name_nobody_registered_ends_as_unknown() {
    let mut line = Line::joined(3);
    let fa = alloc(&mut line, "nobody");
    line.run_ms(5_000);
    assert!(line.saw_end(0, fa, FlowEnd::NameUnknown));
}

#[test]
fn relayed_pdus_get_ecn_marked_on_congested_ports_and_the_receiver_echoes_it() {
    let mut line = Line::joined(3);
    let (fa, _) = line.open_flow(2, "sink", QosSpec::BEST_EFFORT);
    let port = line.port(1, 2);
    line.with_ipcp(1, |relay, _| relay.set_port_congestion(port, 3));
    line.sim
        .with_node(0, |node, now| node.write(now, fa, b"hot"))
        .expect("open");
    line.run_ms(2_000);
    assert_eq!(line.ipcp(0).flow_congestion(fa.eid), Some(3));
}

/// Denies requests of one kind, or fails on every call.
struct Deny(Option<RequestKind>);

impl AuthPolicy for Deny {
    fn name(&self) -> &str {
        "deny"
    }
    fn authorize(&mut self, request: &AuthRequest) -> Result<Decision, AuthError> {
        match self.0 {
            None => Err(AuthError("boom".into())),
            Some(kind) if kind == request.kind => Ok(Decision::deny("not you")),
            Some(_) => Ok(Decision::allow("fine")),
        }
    }
}

#[test]
fn denied_and_failed_flow_requests_end_the_flow_as_denied() {
    let mut line = Line::joined(3);
    let served = line.ids[2];
    line.sim
        .with_node(2, |node, now| {
            node.listen("secret");
            node.register(now, served, "secret")
        })
        .expect("enrolled");
    line.run_ms(50);
    for (policy, failures) in [(Deny(Some(RequestKind::Flow)), 0), (Deny(None), 1)] {
        line.with_ipcp(2, |p, _| p.set_auth_policy(|_| Box::new(policy)));
        let fa = alloc(&mut line, "secret");
        line.run_ms(100);
        assert!(line.saw_end(0, fa, FlowEnd::Denied));
        assert_eq!(line.ipcp(2).counters().auth_failures, failures);
    }
    // The application is never asked.
    assert_eq!(line.sim.node(2).stats().flows_accepted, 0);
    assert!(
        !line
            .sim
            .events(2)
            .iter()
            .any(|(_, e)| matches!(e, Event::FlowIncoming { .. }))
    );
    assert_eq!(line.ipcp(2).counters().auth_denied, 2);
    assert_eq!(line.ipcp(0).counters().denied_by_peer, 2);
    assert_eq!(line.ipcp(2).flow_count(), 0);
}
