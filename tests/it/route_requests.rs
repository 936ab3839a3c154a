//! Route computations a driver runs for an IPCP in requested mode, seen from the IPCP: the
//! test plays the driver of system 0's IPCP ([`ouro_sim::NodeSim::leave_route_requests`])
//! and answers when it likes — late, twice, wrongly, with another policy — while the
//! other systems compute their routes inline.

use crate::line::Line;
use ouro_core::Address;
use ouro_core::routing::Fib;
use ouro_core::routing::{
    NativeSpf, NextHops, RoutingError, RoutingPolicy, RoutingTable, Topology,
};
use ouro_node::{Event, IpcpOptions, RouteMode};
use std::sync::Arc;

/// One route request of system 0's IPCP.
struct Request {
    id: u64,
    own: Address,
    topology: Topology,
}

/// A line whose system 0 asks the test for its routes.
struct Driven {
    line: Line,
    /// The policy system 0's IPCP was made with, run by the test.
    policy: Box<dyn RoutingPolicy>,
    /// How many of system 0's events the test has looked at, for requests and for route
    /// changes.
    seen_requests: usize,
    seen_changes: usize,
}

impl Driven {
    /// `n` systems, system 0 in requested mode with its policy taken by the test.
    fn new(n: usize) -> Driven {
        let mut line = Line::new(n, |i| IpcpOptions {
            route_mode: if i == 0 {
                RouteMode::Requested
            } else {
                RouteMode::Inline
            },
            ..IpcpOptions::default()
        });
        line.sim.leave_route_requests();
        let id = line.ids[0];
        let policy = line
            .sim
            .with_node(0, |node, _| node.take_routing_policy(id))
            .expect("requested mode hands the policy over");
        assert!(
            line.sim
                .with_node(0, |node, _| node.take_routing_policy(id))
                .is_none(),
            "handed over once"
        );
        assert_eq!(line.ipcp(0).route_mode(), RouteMode::Requested);
        assert_eq!(line.ipcp(0).routing_policy_name(), "native");
        Driven {
            line,
            policy,
            seen_requests: 0,
            seen_changes: 0,
        }
    }

    /// Three systems: 1 joins and system 0's routes are answered, then 2 joins and system
    /// 0 asks again. The driven line, the table in force and the request (route changes
    /// seen so far are taken).
    fn asked_after_a_join() -> (Driven, Arc<Fib>, Request) {
        let mut d = Driven::new(3);
        d.line.join(1, 0);
        d.settle();
        let fib = d.line.ipcp(0).fib();
        d.line.join(2, 1);
        d.line.run_ms(1_000);
        let req = d.requests().pop().expect("a request");
        d.routes_changed();
        (d, fib, req)
    }

    /// System 0's route requests since last asked.
    fn requests(&mut self) -> Vec<Request> {
        let events = self.line.sim.events(0);
        let new = &events[self.seen_requests.min(events.len())..];
        self.seen_requests = events.len();
        new.iter()
            .filter_map(|(_, e)| match e {
                Event::RouteRequest {
                    id, own, topology, ..
                } => Some(Request {
                    id: *id,
                    own: *own,
                    topology: topology.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// How many times system 0 said its routes changed since last asked.
    fn routes_changed(&mut self) -> usize {
        let events = self.line.sim.events(0);
        let new = &events[self.seen_changes.min(events.len())..];
        self.seen_changes = events.len();
        new.iter()
            .filter(|(_, e)| matches!(e, Event::RoutesChanged { .. }))
            .count()
    }

    /// Install `result` at system 0 as the answer to request `id`.
    fn install(&mut self, id: u64, result: Result<RoutingTable, RoutingError>) {
        let ipcp = self.line.ids[0];
        self.line
            .sim
            .with_node(0, |node, now| node.install_routes(now, ipcp, id, result))
            .expect("a live IPCP");
    }

    /// Answer `req` with the policy's computation.
    fn answer(&mut self, req: &Request) {
        let table = self.policy.compute(req.own, &req.topology);
        self.install(req.id, table);
    }

    /// Answer system 0's requests until it asks no more; how many it asked.
    fn settle(&mut self) -> usize {
        let mut asked = 0;
        loop {
            self.line.run_ms(1_000);
            let reqs = self.requests();
            assert!(reqs.len() <= 1, "at most one request outstanding");
            let Some(req) = reqs.first() else {
                return asked;
            };
            asked += 1;
            self.answer(req);
        }
    }

    /// The driver runs a policy named `name` for system 0 from now on.
    fn policy_changed(&mut self, name: &str) {
        let ipcp = self.line.ids[0];
        self.line
            .sim
            .with_node(0, |node, now| node.routing_policy_changed(now, ipcp, name))
            .expect("a live IPCP");
    }

    /// True if system 0 has a route to system `to`.
    fn has_route_to(&self, to: usize) -> bool {
        let dst = self.line.ipcp(to).address();
        self.line.ipcp(0).fib().get(dst).is_some()
    }
}

#[test]
fn a_due_computation_is_a_request_and_the_table_in_force_stays_until_the_answer() {
    let mut d = Driven::new(2);
    d.line.join(1, 0);
    d.line.run_ms(2_000);
    let reqs = d.requests();
    assert_eq!(reqs.len(), 1, "one request, however many changes");
    let req = &reqs[0];
    assert_eq!(req.own, d.line.ipcp(0).address());
    assert_eq!(req.topology.len(), 2);
    let ipcp = d.line.ipcp(0);
    assert_eq!(ipcp.counters().route_computations, 1);
    assert!(ipcp.fib().is_empty(), "nothing computed here");
    assert!(ipcp.routes_pending(), "an answer is awaited");
    assert_eq!(d.routes_changed(), 0);
    // The inline neighbour computed its own.
    let a0 = d.line.ipcp(0).address();
    assert!(d.line.ipcp(1).fib().get(a0).is_some());

    d.answer(req);
    let a1 = d.line.ipcp(1).address();
    let to_1 = d.line.ipcp(0).fib().get(a1).cloned();
    assert_eq!(
        to_1.expect("route to 1").next_hops,
        vec![(a1, d.line.port(0, 1))]
    );
    assert_eq!(d.routes_changed(), 1);
    d.settle();
    let ipcp = d.line.ipcp(0);
    assert!(!ipcp.routes_pending());
    assert_eq!(ipcp.counters().routing_failures, 0);
    assert_eq!(ipcp.counters().stale_routes, 0);
}

#[test]
fn changes_while_a_request_is_outstanding_make_one_follow_up_after_the_answer() {
    let mut d = Driven::new(4);
    d.line.join(1, 0);
    d.line.join(2, 1);
    d.settle();
    let computed = d.line.ipcp(0).counters().route_computations;

    // System 2 loses its link to system 1: system 0 asks.
    d.line.cut(2, 1);
    d.line.run_ms(200);
    let first = d.requests();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].topology.link_count(), 2, "0 - 1 only");
    // System 3 joins beyond system 2 and system 2 comes back: several advertisements
    // reach system 0 while it waits.
    d.line.mend(1, 2);
    d.line.join(3, 2);
    d.line.run_ms(3_000);
    assert!(d.requests().is_empty(), "no pile of requests");
    assert_eq!(d.line.ipcp(0).counters().route_computations, computed + 1);

    d.answer(&first[0]);
    assert!(d.line.ipcp(0).routes_pending(), "a follow-up is due");
    assert!(d.requests().is_empty(), "not at once: after the delay");
    let spf_delay = d.line.ipcp(0).config().spf_delay;
    d.line.sim.run_for(spf_delay);
    let follow = d.requests();
    assert_eq!(follow.len(), 1);
    assert!(follow[0].id > first[0].id);
    assert_eq!(
        follow[0].topology.len(),
        4,
        "the follow-up sees every change"
    );
    d.answer(&follow[0]);
    assert!(d.has_route_to(3));
    assert_eq!(d.settle(), 0);
    assert!(!d.line.ipcp(0).routes_pending());
}

#[test]
fn stale_answers_are_ignored_and_counted() {
    let (mut d, fib, req) = Driven::asked_after_a_join();
    for id in [req.id - 1, req.id + 1] {
        let late = d.policy.compute(req.own, &req.topology);
        d.install(id, late);
    }
    assert_eq!(d.line.ipcp(0).counters().stale_routes, 2);
    assert_eq!(d.line.ipcp(0).fib(), fib, "the table in force stays");
    assert_eq!(d.routes_changed(), 0);

    d.answer(&req);
    assert!(d.has_route_to(2));
    d.answer(&req);
    assert_eq!(d.line.ipcp(0).counters().stale_routes, 3, "answered twice");
}

#[test]
fn a_failed_or_invalid_answer_keeps_the_last_table() {
    let (mut d, fib, req) = Driven::asked_after_a_join();
    assert!(!fib.is_empty());
    d.install(req.id, Err(RoutingError::Failed("trap".into())));
    assert_eq!(d.line.ipcp(0).counters().routing_failures, 1);
    assert_eq!(d.line.ipcp(0).fib(), fib);
    assert_eq!(d.routes_changed(), 0);

    // A later request gets a next hop that is no neighbour: rejected whole.
    d.policy_changed("native");
    d.line.run_ms(1_000);
    let req = d.requests().pop().expect("a request");
    let mut bad = d.policy.compute(req.own, &req.topology).expect("native");
    bad.routes.insert(
        Address(7),
        NextHops {
            ecmp: vec![Address(7)],
            lfa: None,
        },
    );
    let before = d.line.ipcp(0).fib();
    d.install(req.id, Ok(bad));
    assert_eq!(d.line.ipcp(0).counters().routing_failures, 2);
    assert_eq!(d.line.ipcp(0).fib(), before);
    d.policy_changed("native");
    d.settle();
    assert!(d.has_route_to(2));
}

#[test]
fn a_policy_change_makes_the_outstanding_answer_stale() {
    let mut d = Driven::new(2);
    d.line.join(1, 0);
    d.line.run_ms(1_000);
    let old = d.requests().pop().expect("a request");

    // The driver now runs another policy: its answer is the one that counts.
    d.policy_changed("other");
    assert_eq!(d.line.ipcp(0).routing_policy_name(), "other");
    d.line.run_ms(1_000);
    let new = d.requests().pop().expect("a request by the new policy");
    d.answer(&old);
    assert_eq!(d.line.ipcp(0).counters().stale_routes, 1);
    assert!(d.line.ipcp(0).fib().is_empty());
    d.answer(&new);
    assert!(!d.line.ipcp(0).fib().is_empty());

    // Given a policy again, the IPCP computes inline; a late answer is stale.
    d.policy_changed("native");
    d.line.run_ms(1_000);
    let pending = d.requests().pop().expect("a request");
    d.line.with_ipcp(0, |p, now| {
        p.set_routing_policy(now, |_| Box::new(NativeSpf::new()))
    });
    assert_eq!(d.line.ipcp(0).route_mode(), RouteMode::Inline);
    d.answer(&pending);
    assert_eq!(d.line.ipcp(0).counters().stale_routes, 2);
    d.line.run_ms(1_000);
    assert!(d.requests().is_empty());
    assert!(d.has_route_to(1));
    assert_eq!(d.line.ipcp(0).routing_policy_name(), "native");
}

#[test]
fn an_answer_overtaken_by_a_lost_neighbour_is_stale_not_a_failure() {
    let mut d = Driven::new(2);
    d.line.join(1, 0);
    d.settle();
    d.policy_changed("native");
    d.line.run_ms(1_000);
    let req = d.requests().pop().expect("a request");

    // The only neighbour goes while the driver computes: its answer names it as next hop.
    d.line.cut(0, 1);
    d.answer(&req);
    let c = d.line.ipcp(0).counters();
    assert_eq!((c.stale_routes, c.routing_failures), (1, 0));
    assert!(
        d.line.ipcp(0).fib().is_empty(),
        "repaired locally, nothing installed"
    );
    let spf_delay = d.line.ipcp(0).config().spf_delay;
    d.line.sim.run_for(spf_delay);
    let follow = d.requests().pop().expect("a follow-up request");
    assert_eq!(follow.topology.link_count(), 0, "without the lost link");
}
