//! An IPCP's local back-pressure, congestion echoes and the sender's reaction, looked at
//! closely on a flow across a small line of simulated systems ([`crate::line::Line`]):
//! the writes here go to the sender's IPCP itself, as the node's writer does.

use crate::line::Line;
use ouro_core::Eid;
use ouro_core::congestion::Credit;
use ouro_core::ipcp::{IpcpError, RECYCLED_BUFFERS, RECYCLED_CAPACITY};
use ouro_core::sched::QueueLimits;
use ouro_core::wire::DtHeader;
use ouro_node::QosSpec;
use std::time::Duration;

/// A line of three with a best-effort flow from system 0 to system 2: the line, the
/// sender's endpoint and the receiver's.
fn flow() -> (Line, Eid, Eid) {
    let mut line = Line::joined(3);
    let (fa, fb) = line.open_flow(2, "sink", QosSpec::BEST_EFFORT);
    (line, fa.eid, fb.eid)
}

#[test]
fn a_full_queue_refuses_instead_of_dropping() {
    let (mut line, flow, _) = flow();
    let port = line.port(0, 1);
    let limits = QueueLimits {
        packets: 4,
        mgmt_packets: 16,
        ecn_threshold: None,
    };
    line.with_ipcp(0, |a, now| {
        a.schedule_port(port, limits);
        assert_eq!(a.flow_room(now, flow), Some(Credit::Pdus(4)));
        for _ in 0..4 {
            a.flow_try_write(now, flow, b"x").expect("room");
        }
        assert_eq!(a.flow_room(now, flow), Some(Credit::Pdus(0)));
        assert_eq!(
            a.flow_try_write(now, flow, b"x"),
            Err(IpcpError::WouldBlock)
        );
        assert_eq!(a.counters().drop_queue_full, 0, "refused, not dropped");
        assert_eq!(a.queued(port), 4);
        // The driver dequeues: room again.
        let mut out = Vec::new();
        assert_eq!(a.dequeue(now, port, 2, &mut out), 2);
        assert_eq!(a.flow_room(now, flow), Some(Credit::Pdus(2)));
        a.flow_try_write(now, flow, b"x").expect("room");
        // The plain write still queues or drops (N-1 flows use it), counted.
        a.flow_write(now, flow, b"x").expect("queued");
        a.flow_write(now, flow, b"x").expect("dropped, counted");
        assert_eq!(a.counters().drop_queue_full, 1);
        assert_eq!(a.flow_room(now, Eid(u32::MAX)), None);
    });
}

#[test]
fn marked_pdus_are_echoed_once_per_interval_and_cut_the_senders_rate() {
    let (mut line, flow, far) = flow();
    let port = line.port(1, 2);
    line.with_ipcp(1, |relay, _| relay.set_port_congestion(port, 1));
    // An unlimited flood: 100 PDUs per 100 µs for 3 ms (1 M pkt/s); the receiver reads.
    let reader = ouro_node::FlowId {
        ipcp: line.ids[2],
        eid: far,
    };
    for step in 0..30 {
        line.with_ipcp(0, |a, now| {
            for _ in 0..100 {
                a.flow_try_write(now, flow, b"hot").expect("unlimited");
            }
            assert_eq!(
                a.flow_room(now, flow),
                Some(Credit::Unlimited),
                "step {step}"
            );
        });
        line.sim.run_for(Duration::from_micros(100));
        line.read_all(2, reader);
    }
    // The first marked PDUs reach system 2 after 2 ms (two 1 ms links); its echo is back
    // at 4 ms; run a little longer.
    line.run_ms(2);
    let rx = line.ipcp(2).flow_cc(far).expect("flow");
    // 3,000 marked PDUs arrived over 3 ms: one echo per 500 µs, not one per PDU.
    assert!(
        (5..=7).contains(&rx.echoes_sent),
        "echoes {}",
        rx.echoes_sent
    );
    let tx = line.ipcp(0).flow_cc(flow).expect("flow");
    assert!(tx.stats.signals >= 1);
    assert_eq!(tx.stats.decreases, 1, "one cut per hold-off");
    // Cut to 0.875 × the rate measured when the echo arrived (at 4 ms: the flood of
    // 1 M pkt/s stopped at 3 ms, so the last 2 ms window saw 500,000 pkt/s).
    assert_eq!(tx.rate_pps, Some(437_500));
    assert_eq!(line.ipcp(0).flow_congestion(flow), Some(1));
    // The limit now says wait once the bucket is spent.
    line.with_ipcp(0, |a, now| {
        let mut sent = 0;
        while a.flow_try_write(now, flow, b"x").is_ok() {
            sent += 1;
            assert!(sent < 100_000, "no limit");
        }
        match a.flow_room(now, flow) {
            Some(Credit::Wait(t)) => assert!(t > now && t <= now + Duration::from_millis(4)),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn the_receivers_backlog_report_is_echoed_rate_limited() {
    let (mut line, flow, far) = flow();
    line.with_ipcp(0, |a, now| a.flow_try_write(now, flow, b"a"))
        .expect("sent");
    line.run_ms(3);
    line.with_ipcp(2, |b, now| {
        b.flow_congested(now, far);
        b.flow_congested(now, far);
        b.flow_congested(now + Duration::from_micros(100), far);
    });
    line.run_ms(3);
    assert_eq!(line.ipcp(2).flow_cc(far).map(|c| c.echoes_sent), Some(1));
    assert_eq!(
        line.ipcp(0).flow_cc(flow).map(|c| c.stats.decreases),
        Some(1)
    );
    // What the rate limit held back goes out with the hello tick.
    line.run_ms(2_000);
    assert_eq!(line.ipcp(2).flow_cc(far).map(|c| c.echoes_sent), Some(2));
    // Reporting on an unknown flow is harmless.
    line.with_ipcp(2, |b, now| b.flow_congested(now, Eid(u32::MAX)));
}

#[test]
fn written_pdus_are_built_in_recycled_buffers_within_bounds() {
    let (mut line, flow, far) = flow();
    line.with_ipcp(0, |a, now| {
        // Without recycled buffers a write still works (a fresh allocation).
        a.flow_try_write(now, flow, b"first").expect("sent");
        let first = a.poll_transmit().expect("a PDU").data;
        assert!(first.ends_with(b"first"));
        // Given back, the buffer carries the next write, cleared first.
        let ptr = first.as_ptr();
        assert_eq!(a.recycle(first), None, "kept");
        a.flow_try_write(now, flow, b"2nd").expect("sent");
        let second = a.poll_transmit().expect("a PDU").data;
        assert_eq!(second.as_ptr(), ptr, "the same allocation");
        let (header, payload) = DtHeader::parse(&second).expect("a DT PDU");
        assert_eq!(payload, b"2nd", "nothing of the first PDU is left");
        assert_eq!(header.eid, far);
        // Bounds: too big a buffer is handed back, and so is any past the limit.
        let big = Vec::with_capacity(RECYCLED_CAPACITY + 1);
        assert!(a.recycle(big).is_some());
        for _ in 0..RECYCLED_BUFFERS {
            assert_eq!(a.recycle(Vec::with_capacity(64)), None);
        }
        assert!(a.recycle(Vec::with_capacity(64)).is_some());
    });
}
