//! Unit tests of the scheduler and auth hooks.

use super::tests::{Net, line};
use super::*;
use crate::QosCube;
use crate::auth::{AuthError, AuthPolicy, AuthRequest, Decision, RequestKind};
use crate::sched::{Plan, QueueLimits, QueueState, SchedError, SchedulerPolicy};
use crate::wire::DtPacket;
use std::time::Duration;

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
fn denied_enrollment_is_answered_and_counted_at_both_ends() {
    let mut net = Net::new(2);
    net.nodes[0].set_auth_policy(|_| Box::new(Deny(Some(RequestKind::Enrollment))));
    net.wire(0, 1);
    let now = net.now;
    net.nodes[1].enroll_via(now, Net::port(1, 0));
    net.run_for(Duration::from_millis(10));
    assert!(!net.nodes[1].is_enrolled());
    assert!(net.take_events(1).contains(&Event::EnrollFailed {
        port: Net::port(1, 0)
    }));
    assert_eq!(net.nodes[0].counters().auth_denied, 1);
    assert_eq!(net.nodes[1].counters().denied_by_peer, 1);
    assert_eq!(
        net.nodes[0].last_denial(),
        Some(&(RequestKind::Enrollment, "not you".to_string()))
    );
}

#[test]
fn denied_and_failed_flow_requests_end_the_flow_as_denied() {
    let mut net = line(3);
    let now = net.now;
    net.nodes[2].register(now, "secret").expect("enrolled");
    net.run_for(Duration::from_millis(50));
    for (policy, failures) in [(Deny(Some(RequestKind::Flow)), 0), (Deny(None), 1)] {
        net.nodes[2].set_auth_policy(|_| Box::new(policy));
        let flow = net.nodes[0]
            .alloc_flow(net.now, "secret", QosSpec::BEST_EFFORT)
            .expect("enrolled");
        net.run_for(Duration::from_millis(100));
        assert!(net.take_events(0).contains(&Event::FlowEnded {
            flow,
            reason: FlowEnd::Denied
        }));
        assert!(
            !net.take_events(2)
                .iter()
                .any(|e| matches!(e, Event::FlowRequest { .. })),
            "the application is never asked"
        );
        assert_eq!(net.nodes[2].counters().auth_failures, failures);
    }
    assert_eq!(net.nodes[2].counters().auth_denied, 2);
    assert_eq!(net.nodes[0].counters().denied_by_peer, 2);
    assert_eq!(net.nodes[2].flow_count(), 0);
}

/// Plans well once, then returns a plan naming a queue that does not exist.
struct GoodThenBad(u32);

impl SchedulerPolicy for GoodThenBad {
    fn name(&self) -> &str {
        "good-then-bad"
    }
    fn schedule(&mut self, _: u32, _: &[QueueState]) -> Result<Plan, SchedError> {
        self.0 += 1;
        let queue = if self.0 == 1 {
            QosCube::BestEffort as u32
        } else {
            42
        };
        Ok(Plan {
            takes: vec![(queue, 1)],
            actions: vec![],
        })
    }
}

fn cubes(out: &[Transmit]) -> Vec<(bool, QosCube)> {
    out.iter()
        .map(|t| {
            let p = DtPacket::new_checked(t.data.as_slice()).expect("valid PDU");
            (p.eid() == Eid::MGMT, p.cube())
        })
        .collect()
}

#[test]
fn scheduled_port_serves_management_then_plans_and_survives_bad_plans() {
    let mut net = line(2);
    let port = Net::port(0, 1);
    let peer = net.nodes[1].address();
    let n = &mut net.nodes[0];
    n.schedule_port(port, QueueLimits::default());
    for i in 0..4u8 {
        n.send_routed(peer, Eid(77), QosCube::BestEffort, &[i])
            .expect("route");
    }
    n.send_routed(peer, Eid(78), QosCube::Voice, &[9])
        .expect("route");
    n.send_on_port(port, &crate::wire::MgmtMsg::Keepalive { eid: Eid::MGMT });
    assert!(n.poll_transmit().is_none(), "held in the port's queues");
    assert_eq!(n.queued(port), 6);

    // Default strict priority: management, voice, then best effort.
    let mut out = Vec::new();
    assert_eq!(n.dequeue(net.now, port, 3, &mut out), 3);
    assert_eq!(
        cubes(&out),
        [
            (true, QosCube::BestEffort),
            (false, QosCube::Voice),
            (false, QosCube::BestEffort)
        ]
    );

    // A good plan, then an invalid one: the last good plan is applied, counted.
    n.set_scheduler(|_| Box::new(GoodThenBad(0)));
    out.clear();
    assert_eq!(n.dequeue(net.now, port, 1, &mut out), 1);
    assert_eq!(n.counters().scheduler_failures, 0);
    out.clear();
    assert_eq!(n.dequeue(net.now, port, 5, &mut out), 2, "work-conserving");
    assert_eq!(n.counters().scheduler_failures, 1);
    assert!(matches!(
        n.last_scheduler_error(),
        Some(SchedError::Invalid(_))
    ));
    assert_eq!(n.queued(port), 0);
}

#[test]
fn full_queues_drop_and_port_down_discards() {
    let mut net = line(2);
    let port = Net::port(0, 1);
    let peer = net.nodes[1].address();
    let n = &mut net.nodes[0];
    n.schedule_port(
        port,
        QueueLimits {
            packets: 2,
            mgmt_packets: 8,
            ecn_threshold: None,
        },
    );
    for i in 0..5u8 {
        let _ = n.send_routed(peer, Eid(77), QosCube::Video, &[i]);
    }
    assert_eq!(n.counters().drop_queue_full, 3);
    n.port_down(net.now, port);
    assert_eq!(n.counters().drop_port_down, 2);
    assert_eq!(n.queued(port), 0);
}
