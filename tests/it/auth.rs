//! Peer keys in the simulator: the Wasm `allowlist` auth policy, given one IPCP's public key
//! as a parameter, admits that IPCP's enrollment and flows and denies another's.

use crate::sched::engine;
use ouro_core::QosSpec;
use ouro_core::auth::RequestKind;
use ouro_core::identity::hex;
use ouro_core::ipcp::FlowEnd;
use ouro_policy::{ParamValue, Params, WasmAuth, builtin};
use ouro_sim::{Graph, SimConfig, Simulator, Stream};
use ouro_tests::TestGraph;
use std::time::Duration;

/// The `allowlist` policy admitting exactly `keys` (no encryption required: the IPCP
/// cannot provide it yet and would deny).
fn allowlist_of(keys: &[[u8; 32]]) -> WasmAuth {
    let mut params = Params::new();
    params.insert(
        "keys".into(),
        ParamValue::TextList(keys.iter().map(|k| hex(k)).collect()),
    );
    params.insert("require-encryption".into(), ParamValue::Boolean(false));
    WasmAuth::load(&engine(), "allowlist", builtin::ALLOWLIST, params).expect("loads")
}

/// Node 0 in the middle, nodes 1 and 2 around it; `held_back` nodes join when told.
fn star(config: SimConfig) -> Simulator {
    let g = TestGraph {
        n: 3,
        edges: vec![(0, 1, 1), (0, 2, 1)],
    };
    let graph = Graph::from_json_str(&g.to_node_link_json(Some("weight")), Some("weight"))
        .expect("generated JSON loads");
    Simulator::new(graph, config).expect("topology")
}

#[test]
fn keys_are_distinct_and_reproducible_from_the_seed() {
    let keys = |seed| {
        let sim = star(SimConfig {
            seed,
            ..SimConfig::default()
        });
        (0..3).map(|i| sim.ipcp(i).public_key()).collect::<Vec<_>>()
    };
    let a = keys(1);
    assert_eq!(a, keys(1));
    assert_ne!(a, keys(2));
    assert!(a[0] != a[1] && a[1] != a[2] && a[0] != a[2]);
}

#[test]
fn allowlisted_key_enrolls_and_another_is_denied() {
    let mut sim = star(SimConfig {
        held_back: [1, 2].into(),
        ..SimConfig::default()
    });
    let listed = sim.ipcp(1).public_key();
    let other = sim.ipcp(2).public_key();
    let auth = allowlist_of(&[listed]);
    let metrics = auth.metrics();
    sim.set_auth_policy(0, |_| Box::new(auth));
    sim.join(1);
    sim.join(2);
    sim.run_for(Duration::from_secs(2));
    assert!(sim.is_enrolled(1));
    assert!(!sim.is_enrolled(2));
    let c = sim.ipcp(0).counters();
    assert!(c.auth_denied >= 1, "{c:?}");
    assert_eq!(c.proof_failures, 0, "genuine keys always prove");
    assert!(sim.ipcp(2).counters().denied_by_peer >= 1);
    let (kind, reason) = sim.ipcp(0).last_denial().expect("denied");
    assert_eq!(*kind, RequestKind::Enrollment);
    assert!(
        reason.contains(&hex(&other)) && reason.contains("not on the allowlist"),
        "{reason}"
    );
    assert_eq!(metrics.snapshot().failures, 0);
}

#[test]
fn allowlisted_key_allocates_flows_and_another_is_denied() {
    let mut sim = star(SimConfig::default());
    assert!(sim.run_until_converged(Duration::from_secs(10)));
    assert_eq!(sim.register_names(Duration::from_millis(500)), 0);
    let listed = sim.ipcp(1).public_key();
    let other = sim.ipcp(2).public_key();
    sim.set_auth_policy(0, |_| Box::new(allowlist_of(&[listed])));
    let stream = |src| Stream {
        src,
        dst: 0,
        qos: QosSpec::BEST_EFFORT,
        size: 100,
        interval: Duration::from_millis(10),
        count: 20,
    };
    let r = sim.run_streams(&[stream(1), stream(2)], Duration::from_secs(2));
    assert_eq!((r[0].sent, r[0].received, r[0].ended), (20, 20, None));
    assert_eq!(r[1].ended, Some(FlowEnd::Denied));
    assert_eq!((r[1].sent, r[1].received), (0, 0));
    let c = sim.ipcp(0).counters();
    assert_eq!((c.auth_denied, c.proof_failures), (1, 0), "{c:?}");
    let (kind, reason) = sim.ipcp(0).last_denial().expect("denied");
    assert_eq!(*kind, RequestKind::Flow);
    assert!(reason.contains(&hex(&other)), "{reason}");
}
