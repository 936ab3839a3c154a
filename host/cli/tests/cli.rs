//! End-to-end tests of the `ouro` binary.

use std::path::PathBuf;
use std::process::{Command, Output};

fn ouro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ouro"))
        .args(args)
        .output()
        .expect("the ouro binary runs")
}

fn repo_file(rel: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    root.to_string_lossy().into_owned()
}

fn temp_file(name: &str, text: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("temp file written");
    path.to_string_lossy().into_owned()
}

/// Exit code 1, exactly one line on stderr starting with `error:`, nothing on stdout, and no
/// sign of a panic.
fn assert_clean_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr}");
    assert!(stderr.starts_with("error: "), "stderr: {stderr}");
    assert!(
        stderr.contains(needle),
        "stderr {stderr:?} lacks {needle:?}"
    );
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

#[test]
fn sim_json_report_on_ring8() {
    let ring = repo_file("examples/topologies/ring8.json");
    let out = ouro(&[
        "sim",
        "--topology",
        &ring,
        "--weight",
        "weight",
        "--dump-fib",
        "0,4",
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    const KEYS: [&str; 8] = [
        "nodes",
        "links",
        "converged",
        "converged_at_ms",
        "wall_ms",
        "flows_ok",
        "flows_failed",
        "fib",
    ];
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = KEYS.to_vec();
    keys.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    // serde_json's map sorts keys (no `preserve_order`): check the order on the raw text.
    let order: Vec<usize> = KEYS
        .iter()
        .map(|k| stdout.find(&format!("\"{k}\":")).expect("key present"))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "key order: {stdout}");
    assert_eq!(v["nodes"], 8);
    assert_eq!(v["links"], 8);
    assert_eq!(v["converged"], true);
    assert_eq!(v["flows_ok"], 0);
    assert_eq!(v["flows_failed"], 0);
    // Ring 0-1-2-3-4-5-6-7-0 with costs 3 on 2-3 and 5-6: from 0, node 4 is reached via 7
    // (0-7-6-5-4 costs 6) rather than via 1 (0-1-2-3-4 costs 6 too): both, an ECMP pair.
    let fib0 = &v["fib"]["0"];
    assert_eq!(fib0.as_object().expect("fib of 0").len(), 7);
    assert_eq!(fib0["1"], serde_json::json!(["1"]));
    assert_eq!(fib0["7"], serde_json::json!(["7"]));
    assert_eq!(fib0["4"], serde_json::json!(["1", "7"]));
    assert_eq!(v["fib"]["4"]["0"], serde_json::json!(["3", "5"]));
}

#[test]
fn sim_missing_file_is_an_error() {
    let out = ouro(&["sim", "--topology", "/nonexistent/ouro-topology.json"]);
    assert_clean_error(&out, "not found");
}

#[test]
fn sim_bad_json_is_an_error() {
    let path = temp_file("bad.json", "{\n  \"nodes\": [,]\n}\n");
    let out = ouro(&["sim", "--topology", &path]);
    assert_clean_error(&out, "line 2");
}

#[test]
fn sim_non_numeric_weight_is_an_error() {
    let text = r#"{"nodes":[{"id":"a"},{"id":"b"}],"links":[{"source":"a","target":"b","weight":"heavy"}]}"#;
    let path = temp_file("weight.json", text);
    let out = ouro(&["sim", "--topology", &path, "--weight", "weight"]);
    assert_clean_error(&out, "not a number");
}

#[test]
fn sim_unknown_dump_id_is_an_error() {
    let ring = repo_file("examples/topologies/ring8.json");
    let out = ouro(&["sim", "--topology", &ring, "--dump-fib", "3,99"]);
    assert_clean_error(&out, "\"99\"");
}

/// `ouro` with the compiled-policy cache under the test's temporary directory.
fn ouro_cached(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ouro"))
        .args(args)
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("the ouro binary runs")
}

#[test]
fn policy_test_passes_for_every_builtin_routing_policy() {
    let topo = repo_file("examples/topologies/grid4x4.json");
    for policy in ["native", "spf", "ecmp", "lfa"] {
        let out = ouro_cached(&["policy", "test", policy, "--topology", &topo]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{policy}: {stdout}");
        assert!(
            stdout.contains("forwarding loops: 0 of 240 pairs"),
            "{stdout}"
        );
        assert!(stdout.ends_with("result: PASS\n"), "{stdout}");
    }
}

#[test]
fn policy_test_fails_when_a_check_fails() {
    // On an even ring `spf` keeps one of two equal-cost next hops: not the exact ECMP sets.
    let topo = repo_file("examples/topologies/ring8.json");
    let out = ouro_cached(&[
        "policy",
        "test",
        "spf",
        "--topology",
        &topo,
        "--optimality",
        "exact",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("result: FAIL"), "{stdout}");
    let out = ouro_cached(&["policy", "test", "spf", "--topology", &topo]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn policy_test_checks_the_cube_tables_a_parameter_asks_for() {
    let topo = repo_file("examples/topologies/grid4x4.json");
    let cubes = "hop-count-cubes=[voice, video]";
    let out = ouro_cached(&[
        "policy",
        "test",
        "lfa",
        "--topology",
        &topo,
        "--param",
        cubes,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for cube in ["voice", "video"] {
        let line =
            format!("cube {cube} (16 nodes with their own table): forwarding loops: 0 of 240");
        assert!(stdout.contains(&line), "{stdout}");
    }
    // Without the parameter no cube has a table of its own, so no cube lines.
    let out = ouro_cached(&["policy", "test", "lfa", "--topology", &topo]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("cube "));
    let out = ouro_cached(&["policy", "test", "lfa", "--topology", &topo, "--param", "x"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr, "error: parameter `x` is not name=value\n");
}

#[test]
fn policy_test_rejects_a_file_that_is_not_a_component() {
    let bogus = temp_file("bogus.wasm", "not wasm");
    let topo = repo_file("examples/topologies/line5.json");
    let out = ouro_cached(&["policy", "test", &bogus, "--topology", &topo]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot load policy \"bogus\""),
        "{stderr}"
    );
    let out = ouro_cached(&["policy", "test", "no-such-policy", "--topology", &topo]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown policy"));
}

#[test]
fn sim_runs_with_a_wasm_routing_policy() {
    let topo = repo_file("examples/topologies/ring8.json");
    let out = ouro_cached(&[
        "sim",
        "--topology",
        &topo,
        "--routing",
        "lfa",
        "--flows",
        "4",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("flows: 4 ok, 0 failed"), "{stdout}");
    assert!(
        stderr.contains("routing policy lfa:") && stderr.contains(" 0 failures"),
        "{stderr}"
    );
}

#[test]
fn management_commands_without_a_daemon_fail_cleanly() {
    let sock = std::env::temp_dir().join(format!("ouro-cli-nodaemon-{}.sock", std::process::id()));
    let sock = sock.to_string_lossy().into_owned();
    for args in [
        &["ipcp", "create", "x", "--type", "local"][..],
        &["ipcp", "list"],
        &["name", "list"],
        &["flows", "--json"],
    ] {
        let mut all = vec!["--socket", sock.as_str()];
        all.extend_from_slice(args);
        let out = ouro(&all);
        assert_clean_error(&out, "error:");
    }
}

#[test]
fn management_arguments_are_checked_before_asking_the_daemon() {
    // Usage errors (clap): exit 2 and the offending argument named.
    for (args, needle) in [
        (&["name", "bind", "svc"][..], "--program"),
        (&["ipcp", "create", "x", "--type", "eth"], "eth"),
        (&["ipcp", "enroll", "x"], "--layer"),
    ] {
        let out = ouro(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // A malformed peer is refused before connecting.
    let out = ouro(&[
        "--socket",
        "/nonexistent/s",
        "ipcp",
        "create",
        "u",
        "--type",
        "udp",
        "--bind",
        "127.0.0.1:1",
        "--peer",
        "nameless",
    ]);
    assert_clean_error(&out, "NAME=ADDRESS:PORT");
}
