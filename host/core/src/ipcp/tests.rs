//! Unit tests of the IPCP state machine over a tiny lossless in-memory network.

use super::*;
use crate::QosCube;
use crate::routing::NativeSpf;
use crate::wire::{DtHeader, MgmtMsg};
use std::time::Duration;

/// Nodes joined by point-to-point links; a PDU sent on a port arrives at the other end
/// after `LINK_DELAY`.
pub(super) struct Net {
    pub(super) nodes: Vec<Ipcp>,
    /// (node, port) → (peer node, peer port), for links that are up.
    wires: BTreeMap<(usize, PortId), (usize, PortId)>,
    in_flight: Vec<(Instant, usize, PortId, Vec<u8>)>,
    events: Vec<(usize, Event)>,
    pub(super) now: Instant,
}

const LINK_DELAY: Duration = Duration::from_millis(1);

impl Net {
    pub(super) fn new(n: usize) -> Net {
        let mut nodes = vec![Ipcp::bootstrap(
            "n0",
            LayerConfig::named("test"),
            Box::new(NativeSpf::default()),
            Instant::ZERO,
            1,
        )];
        for i in 1..n {
            nodes.push(Ipcp::new(
                &format!("n{i}"),
                Box::new(NativeSpf::default()),
                Instant::ZERO,
                1 + i as u64,
            ));
        }
        Net {
            nodes,
            wires: BTreeMap::new(),
            in_flight: Vec::new(),
            events: Vec::new(),
            now: Instant::ZERO,
        }
    }

    pub(super) fn wire(&mut self, a: usize, b: usize) {
        let pa = PortId(100 + b as u32);
        let pb = PortId(100 + a as u32);
        self.wires.insert((a, pa), (b, pb));
        self.wires.insert((b, pb), (a, pa));
    }

    pub(super) fn port(_from: usize, to: usize) -> PortId {
        PortId(100 + to as u32)
    }

    /// Move transmissions onto the wires and collect events.
    pub(super) fn drain(&mut self) {
        for i in 0..self.nodes.len() {
            while let Some(t) = self.nodes[i].poll_transmit() {
                if let Some(&(peer, peer_port)) = self.wires.get(&(i, t.port)) {
                    self.in_flight
                        .push((self.now + LINK_DELAY, peer, peer_port, t.data));
                }
            }
            while let Some(e) = self.nodes[i].poll_event() {
                self.events.push((i, e));
            }
        }
    }

    /// Run until `until`, delivering PDUs and firing timers in time order.
    pub(super) fn run_until(&mut self, until: Instant) {
        loop {
            self.drain();
            let next_pdu = self.in_flight.iter().map(|p| p.0).min();
            let next_timer = self.nodes.iter().filter_map(|n| n.poll_timeout()).min();
            let Some(next) = [next_pdu, next_timer].into_iter().flatten().min() else {
                break;
            };
            if next > until {
                break;
            }
            self.now = next.max(self.now);
            if next_pdu == Some(next) {
                let idx = self
                    .in_flight
                    .iter()
                    .position(|p| p.0 == next)
                    .expect("present");
                let (_, node, port, data) = self.in_flight.remove(idx);
                self.nodes[node].handle_pdu(self.now, port, data);
            } else {
                for n in &mut self.nodes {
                    if n.poll_timeout().is_some_and(|t| t <= next) {
                        n.handle_timeout(next);
                    }
                }
            }
        }
        self.now = until.max(self.now);
    }

    pub(super) fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Enroll node `b` through `a` and connect them, then run a while.
    pub(super) fn join(&mut self, b: usize, a: usize) {
        self.wire(a, b);
        let now = self.now;
        self.nodes[b].enroll_via(now, Net::port(b, a));
        self.run_for(Duration::from_millis(10));
        assert!(
            self.nodes[b].is_enrolled(),
            "node {b} did not enroll via {a}"
        );
        let now = self.now;
        self.nodes[b].connect(now, Net::port(b, a), 1);
        self.run_for(Duration::from_millis(10));
    }

    /// Connect two enrolled nodes.
    pub(super) fn link(&mut self, a: usize, b: usize) {
        self.wire(a, b);
        let now = self.now;
        self.nodes[a].connect(now, Net::port(a, b), 1);
    }

    /// Give back events taken from `node` (after those of other nodes).
    pub(super) fn put_back(&mut self, node: usize, events: Vec<Event>) {
        self.events.extend(events.into_iter().map(|e| (node, e)));
    }

    pub(super) fn take_events(&mut self, node: usize) -> Vec<Event> {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.events)
            .into_iter()
            .partition(|(n, _)| *n == node);
        self.events = rest;
        mine.into_iter().map(|(_, e)| e).collect()
    }
}

/// Node 2 registers `name`, node 0 allocates a flow to it, node 2 accepts: the flow handle
/// at node 0, after checking exactly one request reached node 2 and the allocation completed.
pub(super) fn open_flow(net: &mut Net, name: &str) -> Eid {
    let now = net.now;
    net.nodes[2].register(now, name).expect("enrolled");
    net.run_for(Duration::from_millis(50));
    let flow = net.nodes[0]
        .alloc_flow(net.now, name, QosSpec::BEST_EFFORT)
        .expect("enrolled");
    net.run_for(Duration::from_millis(50));
    let requests: Vec<Eid> = net
        .take_events(2)
        .into_iter()
        .filter_map(|e| match e {
            Event::FlowRequest { flow, .. } => Some(flow),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 1, "one request reaches the responder");
    let now = net.now;
    net.nodes[2]
        .accept_flow(now, requests[0])
        .expect("pending flow");
    net.run_for(Duration::from_millis(50));
    assert!(net.take_events(0).contains(&Event::FlowAllocated { flow }));
    // Each end knows the other: its IPCP's address and endpoint id.
    assert_eq!(
        net.nodes[0].flow_peer(flow),
        Some((net.nodes[2].address(), requests[0]))
    );
    assert_eq!(
        net.nodes[2].flow_peer(requests[0]),
        Some((net.nodes[0].address(), flow))
    );
    assert_eq!(net.nodes[0].flow_peer(Eid(u32::MAX)), None);
    flow
}

/// Build a line 0 - 1 - ... - (n-1) and let it converge.
pub(super) fn line(n: usize) -> Net {
    let mut net = Net::new(n);
    for i in 1..n {
        net.join(i, i - 1);
    }
    net.run_for(Duration::from_secs(2));
    net
}

#[test]
fn enrollment_assigns_distinct_addresses_and_shares_config() {
    let net = line(3);
    let addrs: Vec<Address> = net.nodes.iter().map(|n| n.address()).collect();
    assert!(addrs.iter().all(|a| !a.is_none()));
    assert!(addrs[0] != addrs[1] && addrs[1] != addrs[2] && addrs[0] != addrs[2]);
    assert!(net.nodes.iter().all(|n| n.config().layer_name == "test"));
}

#[test]
fn line_converges_with_routes_through_the_middle() {
    let net = line(3);
    let (a, b, c) = (&net.nodes[0], &net.nodes[1], &net.nodes[2]);
    for n in &net.nodes {
        assert_eq!(n.lsdb_len(), 3);
        assert!(!n.routes_pending());
        assert_eq!(n.lsdb_digest(), a.lsdb_digest());
    }
    let to_c = a.fib().get(c.address()).cloned().expect("route to c");
    assert_eq!(to_c.next_hops, vec![(b.address(), Net::port(0, 1))]);
    assert_eq!(b.fib().len(), 2);
}

#[test]
fn flow_allocation_data_and_deallocation_across_a_relay() {
    let mut net = line(3);
    let flow = open_flow(&mut net, "echo");

    for i in 0..5u8 {
        let now = net.now;
        net.nodes[0]
            .flow_write(now, flow, &[i; 100])
            .expect("allocated");
    }
    net.run_for(Duration::from_millis(50));
    let got: Vec<Vec<u8>> = net
        .take_events(2)
        .into_iter()
        .filter_map(|e| match e {
            Event::FlowData { data, .. } => Some(data),
            _ => None,
        })
        .collect();
    assert_eq!(got, (0..5u8).map(|i| vec![i; 100]).collect::<Vec<_>>());
    assert!(net.nodes[1].counters().forwarded >= 5);

    let now = net.now;
    net.nodes[0].dealloc_flow(now, flow).expect("allocated");
    net.run_for(Duration::from_millis(50));
    assert!(net.take_events(2).iter().any(|e| matches!(
        e,
        Event::FlowEnded {
            reason: FlowEnd::Remote,
            ..
        }
    )));
    assert_eq!(net.nodes[0].flow_count(), 0);
    assert_eq!(net.nodes[2].flow_count(), 0);
}

#[test]
fn unknown_name_fails_the_allocation() {
    let mut net = line(3);
    let flow = net.nodes[0]
        .alloc_flow(net.now, "nobody", QosSpec::BEST_EFFORT)
        .expect("enrolled");
    net.run_for(Duration::from_secs(5));
    assert!(net.take_events(0).contains(&Event::FlowEnded {
        flow,
        reason: FlowEnd::NameUnknown
    }));
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
    let mut net = line(3);
    let now = net.now;
    let b_port_from_a = Net::port(1, 0);
    for junk in [
        vec![],
        vec![0u8; 14],
        vec![0xAB; 40],
        vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9],
    ] {
        net.nodes[1].handle_pdu(now, b_port_from_a, junk);
    }
    let c = net.nodes[1].counters();
    assert!(c.drop_malformed >= 3, "{c:?}");
    // A PDU for node 2 with TTL 1 dies at the relay.
    let header = DtHeader {
        dst: net.nodes[2].address(),
        src: net.nodes[0].address(),
        eid: Eid(77),
        cube: QosCube::BestEffort,
        ttl: 1,
        ecn: 0,
    };
    let mut pdu = Vec::new();
    header.emit(&mut pdu);
    net.nodes[1].handle_pdu(now, b_port_from_a, pdu);
    assert_eq!(net.nodes[1].counters().drop_ttl, 1);
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
    let before = net.nodes[1].counters().drop_malformed;
    net.nodes[1].handle_pdu(now, b_port_from_a, pdu);
    assert_eq!(net.nodes[1].counters().drop_malformed, before + 1);
}

#[test]
fn relayed_pdus_get_ecn_marked_on_congested_ports() {
    let mut net = line(3);
    let flow = open_flow(&mut net, "sink");
    net.nodes[1].set_port_congestion(Net::port(1, 2), 3);
    let now = net.now;
    net.nodes[0]
        .flow_write(now, flow, b"hot")
        .expect("allocated");
    net.run_for(Duration::from_secs(2));
    // The receiver echoes the congestion back to the sender.
    assert_eq!(net.nodes[0].flow_congestion(flow), Some(3));
}

#[test]
fn ring_reroutes_when_a_link_goes_down() {
    let mut net = Net::new(4);
    net.join(1, 0);
    net.join(2, 1);
    net.join(3, 2);
    net.link(3, 0);
    net.run_for(Duration::from_secs(2));
    let a0 = net.nodes[0].address();
    let a1 = net.nodes[1].address();
    let a3 = net.nodes[3].address();
    assert_eq!(
        net.nodes[0].fib().get(a1).map(|e| e.next_hops.len()),
        Some(1)
    );
    // Node 2 is two hops away either way: an ECMP pair.
    let a2 = net.nodes[2].address();
    assert_eq!(
        net.nodes[0].fib().get(a2).map(|e| e.next_hops.len()),
        Some(2)
    );
    // Cut 0 - 1.
    net.wires.remove(&(0, Net::port(0, 1)));
    net.wires.remove(&(1, Net::port(1, 0)));
    let now = net.now;
    net.nodes[0].port_down(now, Net::port(0, 1));
    net.nodes[1].port_down(now, Net::port(1, 0));
    net.run_for(Duration::from_secs(2));
    let via = net.nodes[0]
        .fib()
        .get(a1)
        .expect("still reachable")
        .next_hops
        .clone();
    assert_eq!(via, vec![(a3, Net::port(0, 3))]);
    assert!(net.take_events(0).contains(&Event::AdjacencyDown {
        port: Net::port(0, 1),
        neighbor: a1
    }));
    assert!(net.nodes[1].fib().get(a0).is_some());
}

#[test]
fn silent_neighbour_is_declared_dead() {
    let mut net = line(2);
    // The wire breaks without either end being told.
    net.wires.clear();
    net.run_for(Duration::from_secs(10));
    assert!(net.nodes[0].neighbors().is_empty());
    assert!(net.nodes[0].fib().is_empty());
}

#[test]
fn restarted_member_resumes_its_sequence_numbers() {
    let mut net = line(2);
    let old_seq = net.nodes[1]
        .lsdb()
        .get(net.nodes[0].address())
        .map(|l| l.seqno)
        .expect("lsa");
    // Node 0 restarts with the same address but a fresh state: simulate by flushing its
    // counter through a stale advertisement sent back by the neighbour.
    let stale = crate::wire::Lsa {
        origin: net.nodes[0].address(),
        seqno: old_seq + 10,
        lifetime_s: 60,
        links: vec![],
    };
    let mut pdu = Vec::new();
    DtHeader {
        dst: Address::NONE,
        src: net.nodes[1].address(),
        eid: Eid::MGMT,
        cube: QosCube::BestEffort,
        ttl: 1,
        ecn: 0,
    }
    .emit(&mut pdu);
    MgmtMsg::Lsu { lsas: vec![stale] }.emit(&mut pdu);
    let now = net.now;
    net.nodes[0].handle_pdu(now, Net::port(0, 1), pdu);
    net.run_for(Duration::from_secs(1));
    let seq = net.nodes[1]
        .lsdb()
        .get(net.nodes[0].address())
        .map(|l| l.seqno)
        .expect("lsa");
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
        /// Whatever a neighbour sends, the IPCP neither panics nor installs a route through a
        /// port that is not an up adjacency.
        #[test]
        fn hostile_pdus_never_panic_or_corrupt_forwarding(pdus in proptest::collection::vec(arb_pdu(), 1..24)) {
            let mut net = line(3);
            for (from_left, pdu) in pdus {
                let port = if from_left { Net::port(1, 0) } else { Net::port(1, 2) };
                let now = net.now;
                net.nodes[1].handle_pdu(now, port, pdu);
                net.run_for(Duration::from_millis(20));
            }
            net.run_for(Duration::from_secs(3));
            let b = &net.nodes[1];
            let up: Vec<PortId> = b.neighbors().into_iter().map(|(p, _)| p).collect();
            for (_, entry) in b.fib().iter() {
                for (_, port) in &entry.next_hops {
                    prop_assert!(up.contains(port), "route via {port} which is not up");
                }
            }
        }
    }
}
