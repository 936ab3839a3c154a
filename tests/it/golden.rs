//! Golden-file scenarios (holo style): a simulation of a sample topology must reproduce the
//! stored report byte for byte (all but the wall-clock time) and the simulator's counters.
//! A protocol change that alters timing, message counts or routes shows up here; when the
//! change is intended, regenerate with `UPDATE_GOLDEN=1 cargo test -p ouro-tests golden`.

use ouro_sim::{Graph, SimConfig, Simulator};
use std::path::PathBuf;
use std::time::Duration;

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

/// Run `topology` with seed 1, 10 flows, every FIB dumped; the report as pretty JSON.
fn scenario(topology: &str) -> String {
    let graph = Graph::load(&repo_path(topology), Some("weight")).expect("sample topology loads");
    let all: Vec<usize> = (0..graph.node_count()).collect();
    let mut sim = Simulator::new(
        graph,
        SimConfig {
            seed: 1,
            ..SimConfig::default()
        },
    )
    .expect("non-empty topology");
    assert!(sim.run_until_converged(Duration::from_secs(60)));
    assert_eq!(sim.register_names(Duration::from_secs(1)), 0);
    sim.run_flows(10, 5, 64, Duration::from_secs(60));
    let mut report = serde_json::to_value(sim.report(&all)).expect("report serialises");
    if let Some(obj) = report.as_object_mut() {
        obj.remove("wall_ms");
        let c = sim.counters();
        obj.insert("pdus_sent".into(), c.pdus_sent.into());
        obj.insert("events".into(), c.events.into());
    }
    serde_json::to_string_pretty(&report).expect("serialises") + "\n"
}

fn check(topology: &str, golden: &str) {
    let got = scenario(topology);
    let path = repo_path(golden);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).expect("golden file written");
        return;
    }
    let want =
        std::fs::read_to_string(&path).expect("golden file exists (UPDATE_GOLDEN=1 writes it)");
    assert!(got == want, "{golden} differs; got:\n{got}");
}

#[test]
fn golden_line5() {
    check("examples/topologies/line5.json", "tests/golden/line5.json");
}

#[test]
fn golden_grid4x4() {
    check(
        "examples/topologies/grid4x4.json",
        "tests/golden/grid4x4.json",
    );
}
