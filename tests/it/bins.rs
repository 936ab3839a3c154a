//! The `ourod` and `ouro` binaries the multi-process tests run.
//!
//! They are built once per test run, before the first test that needs them, with
//! `cargo build -p ouro-daemon -p ouro-cli` (the command a user builds them with) in this
//! test's target directory and profile. So `cargo test -p ouro-tests` works on its own, a
//! test never runs a stale binary, and the binaries carry the features a user's build gives
//! them rather than those a workspace test build unifies in. When they are up to date the
//! build is a no-op.

use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The path of binary `name` (`ourod` or `ouro`), built on first use; panics with cargo's
/// output if the build fails.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<BTreeMap<String, PathBuf>, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(bins) => bins
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("cargo built no `{name}`: {bins:?}")),
        Err(e) => panic!("{e}"),
    }
}

/// Build the binaries; their paths by name.
fn build() -> Result<BTreeMap<String, PathBuf>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let (target_dir, triple, profile) = layout(&exe)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from(env!("CARGO")));
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--message-format=json"])
        .args(["-p", "ouro-daemon", "-p", "ouro-cli", "--profile", &profile])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    if let Some(t) = &triple {
        cmd.args(["--target", t]);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}):\n{}\n{stdout}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let name = m["target"]["name"].as_str()?.to_string();
            Some((name, PathBuf::from(m["executable"].as_str()?)))
        })
        .collect())
}

/// This test binary's target directory, target triple (if one was given) and cargo profile:
/// it is `<target dir>/[<triple>/]<profile dir>/deps/<test>`.
fn layout(exe: &Path) -> Result<(PathBuf, Option<String>, String), String> {
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not in a target directory", exe.display()))?;
    let target_dir = profile_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .ok_or_else(|| format!("no target directory above {}", exe.display()))?;
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let triple = profile_dir
        .parent()
        .filter(|p| *p != target_dir)
        .and_then(name);
    let profile = match name(profile_dir).as_deref() {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    Ok((target_dir.to_path_buf(), triple, profile))
}
