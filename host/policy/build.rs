//! Builds the default and test policies (`policies/`, a separate workspace) for
//! `wasm32-wasip2` with a nested `cargo build`, and copies the components to `OUT_DIR` so the
//! crate can embed them (`include_bytes!`): the router runs with no policy files on disk.
//!
//! The guests get their own target directory next to the host's (`<target>/wasm-guests`,
//! or `OURO_GUEST_TARGET_DIR`), so host builds in any profile share one guest build. One
//! `cargo build` per world, because the SDK generates one world's bindings per feature and
//! features unify across the packages of one invocation.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (world, guest packages) built together.
const GUESTS: &[(&str, &[&str])] = &[
    (
        "routing",
        &[
            "spf",
            "ecmp",
            "lfa",
            "test-spin",
            "test-hog",
            "test-trap",
            "test-loop",
        ],
    ),
    ("scheduler", &["strict-priority", "drr"]),
    ("auth", &["allow-all", "allowlist"]),
];

fn main() {
    if let Err(e) = run() {
        // A failed guest build is a build failure: the crate cannot embed its policies.
        panic!("building the Wasm policies failed: {e}");
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let root = manifest_dir.join("../..");
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    for watched in ["wit", "sdk/policy/src", "sdk/policy/Cargo.toml", "policies"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=OURO_GUEST_TARGET_DIR");

    let target_dir = match env::var_os("OURO_GUEST_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => host_target_dir(&out_dir).join("wasm-guests"),
    };
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = root.join("policies/Cargo.toml");
    for (world, packages) in GUESTS {
        let mut cmd = Command::new(&cargo);
        cmd.arg("build")
            .arg("--release")
            .arg("--locked")
            .args(["--target", "wasm32-wasip2"])
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target_dir);
        for p in *packages {
            cmd.args(["-p", p]);
        }
        // The outer build's flags, wrappers (clippy) and target settings are for the host.
        for var in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "CARGO_BUILD_TARGET",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_RUSTFLAGS",
        ] {
            cmd.env_remove(var);
        }
        let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!(
                "cargo build of the {world} policies failed ({status})"
            ));
        }
        for p in *packages {
            let file = format!("{}.wasm", p.replace('-', "_"));
            let from = target_dir.join("wasm32-wasip2/release").join(&file);
            std::fs::copy(&from, out_dir.join(&file))
                .map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
        }
    }
    Ok(())
}

/// The host's target directory: `OUT_DIR` is `<target>/[<triple>/]<profile>/build/<pkg>/out`.
fn host_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("guests"))
}
