//! Unit tests of the scheduler hook and the port queues of one IPCP: PDUs are put on a
//! scheduled port directly, as if routed there. (Auth denials of enrollment and flows, with
//! real peers, are in the integration tests: `tests/it/auth.rs`, `sched.rs`, `ipcp.rs`.)

use super::tests::member;
use super::*;
use crate::QosCube;
use crate::sched::{Plan, QueueLimits, QueueState, SchedError, SchedulerPolicy};
use crate::wire::DtPacket;

/// Where the PDUs go: some other member, through `PORT`.
const PEER: Address = Address(0x0A0A);
const PORT: PortId = PortId(1);

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
    let (port, now) = (PORT, Instant::ZERO);
    let n = &mut member(1);
    n.schedule_port(port, QueueLimits::default());
    for i in 0..4u8 {
        n.send_routed_via(Some(port), PEER, Eid(77), QosCube::BestEffort, &[i])
            .expect("queued");
    }
    n.send_routed_via(Some(port), PEER, Eid(78), QosCube::Voice, &[9])
        .expect("queued");
    n.send_on_port(port, &crate::wire::MgmtMsg::Keepalive { eid: Eid::MGMT });
    assert!(n.poll_transmit().is_none(), "held in the port's queues");
    assert_eq!(n.queued(port), 6);

    // Default strict priority: management, voice, then best effort.
    let mut out = Vec::new();
    assert_eq!(n.dequeue(now, port, 3, &mut out), 3);
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
    assert_eq!(n.dequeue(now, port, 1, &mut out), 1);
    assert_eq!(n.counters().scheduler_failures, 0);
    out.clear();
    assert_eq!(n.dequeue(now, port, 5, &mut out), 2, "work-conserving");
    assert_eq!(n.counters().scheduler_failures, 1);
    assert!(matches!(
        n.last_scheduler_error(),
        Some(SchedError::Invalid(_))
    ));
    assert_eq!(n.queued(port), 0);
}

#[test]
fn full_queues_drop_and_port_down_discards() {
    let port = PORT;
    let n = &mut member(2);
    n.schedule_port(
        port,
        QueueLimits {
            packets: 2,
            mgmt_packets: 8,
            ecn_threshold: None,
        },
    );
    for i in 0..5u8 {
        let _ = n.send_routed_via(Some(port), PEER, Eid(77), QosCube::Video, &[i]);
    }
    assert_eq!(n.counters().drop_queue_full, 3);
    n.port_down(Instant::ZERO, port);
    assert_eq!(n.counters().drop_port_down, 2);
    assert_eq!(n.queued(port), 0);
}
