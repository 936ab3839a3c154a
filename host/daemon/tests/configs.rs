//! `ourod --check` accepts the shipped example configurations.

use std::process::Command;

#[test]
fn example_configs_pass_the_check() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/line3-udp");
    for n in ["a", "b", "c"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ourod"))
            .arg("--check")
            .arg("--config")
            .arg(format!("{root}/{n}.toml"))
            .output()
            .expect("run ourod");
        assert!(
            out.status.success(),
            "{n}.toml: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ourod"))
        .arg("--check")
        .output()
        .expect("run ourod");
    assert!(out.status.success(), "the embedded default must pass");
}
