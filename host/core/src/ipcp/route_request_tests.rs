//! Unit tests of route computations the driver runs ([`RouteMode::Requested`]).

use super::tests::Net;
use super::*;
use crate::routing::{NativeSpf, NextHops, RoutingError, Topology};
use std::time::Duration;

/// One route request taken from the events.
struct Request {
    id: u64,
    own: Address,
    topology: Topology,
}

/// The route requests node `n` emitted since last asked; every other event is put back.
fn requests(net: &mut Net, n: usize) -> Vec<Request> {
    net.drain();
    let mut out = Vec::new();
    let mut rest = Vec::new();
    for e in net.take_events(n) {
        match e {
            Event::RouteRequest { id, own, topology } => out.push(Request { id, own, topology }),
            other => rest.push(other),
        }
    }
    net.put_back(n, rest);
    out
}

/// Node 0 of a new network of `n` asks for its routes: its policy, taken from it.
fn requested(n: usize) -> (Net, Box<dyn RoutingPolicy>) {
    let mut net = Net::new(n);
    let policy = net.nodes[0].request_routes().expect("inline until now");
    assert!(net.nodes[0].request_routes().is_none(), "handed over once");
    assert_eq!(net.nodes[0].route_mode(), RouteMode::Requested);
    assert_eq!(net.nodes[0].routing_policy_name(), "native");
    (net, policy)
}

/// Answer `req` at node 0 with `policy`'s computation.
fn answer(net: &mut Net, policy: &mut dyn RoutingPolicy, req: &Request) {
    let table = policy.compute(req.own, &req.topology);
    let now = net.now;
    net.nodes[0].install_routes(now, req.id, table);
}

/// Answer node 0's requests until it asks no more; returns how many it asked.
fn settle(net: &mut Net, policy: &mut dyn RoutingPolicy) -> usize {
    let mut asked = 0;
    loop {
        net.run_for(Duration::from_secs(1));
        let reqs = requests(net, 0);
        assert!(reqs.len() <= 1, "at most one request outstanding");
        let Some(req) = reqs.first() else {
            return asked;
        };
        asked += 1;
        answer(net, policy, req);
    }
}

/// How many times node `n` said its routes changed since last asked.
fn routes_changed(net: &mut Net, n: usize) -> usize {
    net.drain();
    net.take_events(n)
        .iter()
        .filter(|e| **e == Event::RoutesChanged)
        .count()
}

#[test]
fn a_due_computation_is_a_request_and_the_table_in_force_stays_until_the_answer() {
    let (mut net, mut policy) = requested(2);
    net.join(1, 0);
    net.run_for(Duration::from_secs(2));
    let reqs = requests(&mut net, 0);
    assert_eq!(reqs.len(), 1, "one request, however many changes");
    let req = &reqs[0];
    assert_eq!(req.own, net.nodes[0].address());
    assert_eq!(req.topology.len(), 2);
    assert_eq!(net.nodes[0].counters().route_computations, 1);
    assert!(net.nodes[0].fib().is_empty(), "nothing computed here");
    assert!(net.nodes[0].routes_pending(), "an answer is awaited");
    assert_eq!(routes_changed(&mut net, 0), 0);
    // The inline neighbour computed its own.
    assert!(net.nodes[1].fib().get(net.nodes[0].address()).is_some());

    answer(&mut net, policy.as_mut(), req);
    let to_1 = net.nodes[0].fib().get(net.nodes[1].address()).cloned();
    assert_eq!(
        to_1.expect("route to 1").next_hops,
        vec![(net.nodes[1].address(), Net::port(0, 1))]
    );
    assert_eq!(routes_changed(&mut net, 0), 1);
    settle(&mut net, policy.as_mut());
    assert!(!net.nodes[0].routes_pending());
    assert_eq!(net.nodes[0].counters().routing_failures, 0);
    assert_eq!(net.nodes[0].counters().stale_routes, 0);
}

#[test]
fn changes_while_a_request_is_outstanding_make_one_follow_up_after_the_answer() {
    let (mut net, mut policy) = requested(4);
    net.join(1, 0);
    net.join(2, 1);
    settle(&mut net, policy.as_mut());
    let computed = net.nodes[0].counters().route_computations;

    // Node 2 loses its link to node 1: node 0 asks.
    let now = net.now;
    net.nodes[2].port_down(now, Net::port(2, 1));
    net.nodes[1].port_down(now, Net::port(1, 2));
    net.run_for(Duration::from_millis(200));
    let first = requests(&mut net, 0);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].topology.link_count(), 2, "0 - 1 only");
    // Node 3 joins beyond node 2 and node 2 comes back: several advertisements reach
    // node 0 while it waits.
    net.link(1, 2);
    net.join(3, 2);
    net.run_for(Duration::from_secs(3));
    assert!(requests(&mut net, 0).is_empty(), "no pile of requests");
    assert_eq!(net.nodes[0].counters().route_computations, computed + 1);

    answer(&mut net, policy.as_mut(), &first[0]);
    assert!(net.nodes[0].routes_pending(), "a follow-up is due");
    assert!(
        requests(&mut net, 0).is_empty(),
        "not at once: after the delay"
    );
    let spf_delay = net.nodes[0].config().spf_delay;
    net.run_for(spf_delay);
    let follow = requests(&mut net, 0);
    assert_eq!(follow.len(), 1);
    assert!(follow[0].id > first[0].id);
    assert_eq!(
        follow[0].topology.len(),
        4,
        "the follow-up sees every change"
    );
    answer(&mut net, policy.as_mut(), &follow[0]);
    assert!(net.nodes[0].fib().get(net.nodes[3].address()).is_some());
    assert_eq!(settle(&mut net, policy.as_mut()), 0);
    assert!(!net.nodes[0].routes_pending());
}

#[test]
fn stale_answers_are_ignored_and_counted() {
    let (mut net, mut policy) = requested(3);
    net.join(1, 0);
    settle(&mut net, policy.as_mut());
    let fib = net.nodes[0].fib();

    net.join(2, 1);
    net.run_for(Duration::from_secs(1));
    let req = requests(&mut net, 0).pop().expect("a request");
    routes_changed(&mut net, 0);
    let now = net.now;
    for id in [req.id - 1, req.id + 1] {
        let late = policy.compute(req.own, &req.topology);
        net.nodes[0].install_routes(now, id, late);
    }
    assert_eq!(net.nodes[0].counters().stale_routes, 2);
    assert_eq!(net.nodes[0].fib(), fib, "the table in force stays");
    assert_eq!(routes_changed(&mut net, 0), 0);

    answer(&mut net, policy.as_mut(), &req);
    assert!(net.nodes[0].fib().get(net.nodes[2].address()).is_some());
    answer(&mut net, policy.as_mut(), &req);
    assert_eq!(net.nodes[0].counters().stale_routes, 3, "answered twice");
}

#[test]
fn a_failed_or_invalid_answer_keeps_the_last_table() {
    let (mut net, mut policy) = requested(3);
    net.join(1, 0);
    settle(&mut net, policy.as_mut());
    let fib = net.nodes[0].fib();
    assert!(!fib.is_empty());

    net.join(2, 1);
    net.run_for(Duration::from_secs(1));
    let req = requests(&mut net, 0).pop().expect("a request");
    routes_changed(&mut net, 0);
    let now = net.now;
    let failed = Err(RoutingError::Failed("trap".into()));
    net.nodes[0].install_routes(now, req.id, failed);
    assert_eq!(net.nodes[0].counters().routing_failures, 1);
    assert_eq!(net.nodes[0].fib(), fib);
    assert_eq!(routes_changed(&mut net, 0), 0);

    // A later request gets a next hop that is no neighbour: rejected whole.
    let now = net.now;
    net.nodes[0].routing_policy_changed(now, "native");
    net.run_for(Duration::from_secs(1));
    let req = requests(&mut net, 0).pop().expect("a request");
    let mut bad = policy.compute(req.own, &req.topology).expect("native");
    bad.routes.insert(
        Address(7),
        NextHops {
            ecmp: vec![Address(7)],
            lfa: None,
        },
    );
    let before = net.nodes[0].fib();
    let now = net.now;
    net.nodes[0].install_routes(now, req.id, Ok(bad));
    assert_eq!(net.nodes[0].counters().routing_failures, 2);
    assert_eq!(net.nodes[0].fib(), before);
    let now = net.now;
    net.nodes[0].routing_policy_changed(now, "native");
    settle(&mut net, policy.as_mut());
    assert!(net.nodes[0].fib().get(net.nodes[2].address()).is_some());
}

#[test]
fn a_policy_change_makes_the_outstanding_answer_stale() {
    let (mut net, mut policy) = requested(2);
    net.join(1, 0);
    net.run_for(Duration::from_secs(1));
    let old = requests(&mut net, 0).pop().expect("a request");

    // The driver now runs another policy: its answer is the one that counts.
    let now = net.now;
    net.nodes[0].routing_policy_changed(now, "other");
    assert_eq!(net.nodes[0].routing_policy_name(), "other");
    net.run_for(Duration::from_secs(1));
    let new = requests(&mut net, 0)
        .pop()
        .expect("a request by the new policy");
    answer(&mut net, policy.as_mut(), &old);
    assert_eq!(net.nodes[0].counters().stale_routes, 1);
    assert!(net.nodes[0].fib().is_empty());
    answer(&mut net, policy.as_mut(), &new);
    assert!(!net.nodes[0].fib().is_empty());

    // Given a policy again, the IPCP computes inline; a late answer is stale.
    let now = net.now;
    net.nodes[0].routing_policy_changed(now, "native");
    net.run_for(Duration::from_secs(1));
    let pending = requests(&mut net, 0).pop().expect("a request");
    let now = net.now;
    net.nodes[0].set_routing_policy(now, |_| Box::new(NativeSpf::new()));
    assert_eq!(net.nodes[0].route_mode(), RouteMode::Inline);
    answer(&mut net, policy.as_mut(), &pending);
    assert_eq!(net.nodes[0].counters().stale_routes, 2);
    net.run_for(Duration::from_secs(1));
    assert!(requests(&mut net, 0).is_empty());
    assert!(net.nodes[0].fib().get(net.nodes[1].address()).is_some());
    assert_eq!(net.nodes[0].routing_policy_name(), "native");
}

#[test]
fn an_answer_overtaken_by_a_lost_neighbour_is_stale_not_a_failure() {
    let (mut net, mut policy) = requested(2);
    net.join(1, 0);
    settle(&mut net, policy.as_mut());
    let now = net.now;
    net.nodes[0].routing_policy_changed(now, "native");
    net.run_for(Duration::from_secs(1));
    let req = requests(&mut net, 0).pop().expect("a request");

    // The only neighbour goes while the driver computes: its answer names it as next hop.
    let now = net.now;
    net.nodes[0].port_down(now, Net::port(0, 1));
    answer(&mut net, policy.as_mut(), &req);
    let c = net.nodes[0].counters();
    assert_eq!((c.stale_routes, c.routing_failures), (1, 0));
    assert!(
        net.nodes[0].fib().is_empty(),
        "repaired locally, nothing installed"
    );
    let spf_delay = net.nodes[0].config().spf_delay;
    net.run_for(spf_delay);
    let follow = requests(&mut net, 0).pop().expect("a follow-up request");
    assert_eq!(follow.topology.link_count(), 0, "without the lost link");
}
