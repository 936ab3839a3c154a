//! Tests of local back-pressure, congestion echoes and the sender's reaction.

use super::tests::{Net, line, open_flow};
use super::*;
use crate::congestion::Credit;
use crate::sched::QueueLimits;
use std::time::Duration;

/// The responder's endpoint of `flow` (opened by node 0 to node 2).
fn far_end(net: &Net, flow: Eid) -> Eid {
    net.nodes[0].flow_peer(flow).expect("allocated").1
}

#[test]
fn a_full_queue_refuses_instead_of_dropping() {
    let mut net = line(3);
    let flow = open_flow(&mut net, "sink");
    let port = Net::port(0, 1);
    let limits = QueueLimits {
        packets: 4,
        mgmt_packets: 16,
        ecn_threshold: None,
    };
    net.nodes[0].schedule_port(port, limits);
    let now = net.now;
    let a = &mut net.nodes[0];
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
}

#[test]
fn marked_pdus_are_echoed_once_per_interval_and_cut_the_senders_rate() {
    let mut net = line(3);
    let flow = open_flow(&mut net, "sink");
    let far = far_end(&net, flow);
    net.nodes[1].set_port_congestion(Net::port(1, 2), 1);
    // An unlimited flood: 100 PDUs per 100 µs for 3 ms (1 M pkt/s).
    for step in 0..30 {
        let now = net.now;
        for _ in 0..100 {
            net.nodes[0]
                .flow_try_write(now, flow, b"hot")
                .expect("unlimited");
        }
        assert_eq!(
            net.nodes[0].flow_room(now, flow),
            Some(Credit::Unlimited),
            "step {step}"
        );
        net.run_for(Duration::from_micros(100));
    }
    // The first marked PDUs reach node 2 after 2 ms (two 1 ms links); its echo is back
    // at 4 ms; run a little longer.
    net.run_for(Duration::from_millis(2));
    let rx = net.nodes[2].flow_cc(far).expect("flow");
    // 3,000 marked PDUs arrived over 3 ms: one echo per 500 µs, not one per PDU.
    assert!(
        (5..=7).contains(&rx.echoes_sent),
        "echoes {}",
        rx.echoes_sent
    );
    let tx = net.nodes[0].flow_cc(flow).expect("flow");
    assert!(tx.stats.signals >= 1);
    assert_eq!(tx.stats.decreases, 1, "one cut per hold-off");
    // Cut to 0.875 × the rate measured when the echo arrived (at 4 ms: the flood of
    // 1 M pkt/s stopped at 3 ms, so the last 2 ms window saw 500,000 pkt/s).
    assert_eq!(tx.rate_pps, Some(437_500));
    assert_eq!(net.nodes[0].flow_congestion(flow), Some(1));
    // The limit now says wait once the bucket is spent.
    let now = net.now;
    let mut sent = 0;
    while net.nodes[0].flow_try_write(now, flow, b"x").is_ok() {
        sent += 1;
        assert!(sent < 100_000, "no limit");
    }
    match net.nodes[0].flow_room(now, flow) {
        Some(Credit::Wait(t)) => assert!(t > now && t <= now + Duration::from_millis(4)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_receivers_backlog_report_is_echoed_rate_limited() {
    let mut net = line(3);
    let flow = open_flow(&mut net, "sink");
    let far = far_end(&net, flow);
    let now = net.now;
    net.nodes[0].flow_try_write(now, flow, b"a").expect("sent");
    net.run_for(Duration::from_millis(3));
    let now = net.now;
    net.nodes[2].flow_congested(now, far);
    net.nodes[2].flow_congested(now, far);
    net.nodes[2].flow_congested(now + Duration::from_micros(100), far);
    net.run_for(Duration::from_millis(3));
    assert_eq!(net.nodes[2].flow_cc(far).map(|c| c.echoes_sent), Some(1));
    assert_eq!(
        net.nodes[0].flow_cc(flow).map(|c| c.stats.decreases),
        Some(1)
    );
    // What the rate limit held back goes out with the hello tick.
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.nodes[2].flow_cc(far).map(|c| c.echoes_sent), Some(2));
    // Reporting on an unknown flow is harmless.
    let now = net.now;
    net.nodes[2].flow_congested(now, Eid(u32::MAX));
}

#[test]
fn written_pdus_are_built_in_recycled_buffers_within_bounds() {
    let mut net = line(3);
    let flow = open_flow(&mut net, "sink");
    net.drain();
    let now = net.now;
    let a = &mut net.nodes[0];
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
    let (header, payload) = crate::wire::DtHeader::parse(&second).expect("a DT PDU");
    assert_eq!(payload, b"2nd", "nothing of the first PDU is left");
    assert_eq!(header.eid, far_end(&net, flow));
    // Bounds: too big a buffer is handed back, and so is any past the limit.
    let a = &mut net.nodes[0];
    let big = Vec::with_capacity(RECYCLED_CAPACITY + 1);
    assert!(a.recycle(big).is_some());
    for _ in 0..RECYCLED_BUFFERS {
        assert_eq!(a.recycle(Vec::with_capacity(64)), None);
    }
    assert!(a.recycle(Vec::with_capacity(64)).is_some());
}
