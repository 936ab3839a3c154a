//! The nested `cargo build` of the guest workspace.

use crate::Error;
use crate::target::{self, show};
use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the guests are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// The guest workspace of one repository, where its build goes and where the components are
/// copied.
///
/// The guests get their own target directory next to the host's (`<target>/wasm-guests`, or
/// `OURO_GUEST_TARGET_DIR`), so host builds in any profile share one guest build. One
/// `cargo build` per world ([`Guests::build`]), because the SDK generates one world's
/// bindings per feature and features unify across the packages of one invocation.
#[derive(Debug)]
pub struct Guests {
    cargo: OsString,
    manifest: PathBuf,
    target_dir: PathBuf,
    out_dir: PathBuf,
}

impl Guests {
    /// The guests of the repository at `root` (`root/policies`), for the build script
    /// running now: tells cargo what to watch, and makes sure the compiler has the
    /// `wasm32-wasip2` standard library ([`target::ensure`]).
    pub fn from_env(root: &Path) -> Result<Guests, Error> {
        let out_dir =
            PathBuf::from(env::var_os("OUT_DIR").ok_or(Error::NotInBuildScript("OUT_DIR"))?);
        for watched in ["wit", "sdk/policy/src", "sdk/policy/Cargo.toml", "policies"] {
            println!("cargo::rerun-if-changed={}", root.join(watched).display());
        }
        println!("cargo::rerun-if-env-changed=OURO_GUEST_TARGET_DIR");
        let target_dir = match env::var_os("OURO_GUEST_TARGET_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => host_target_dir(&out_dir).join("wasm-guests"),
        };
        if target::ensure(TARGET, &target_dir.join(".target-add.lock"))? {
            println!(
                "cargo::warning=installed the Rust standard library for {TARGET} \
                 (`rustup target add {TARGET}`) to build the Wasm policies"
            );
        }
        Ok(Guests {
            cargo: env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            manifest: root.join("policies/Cargo.toml"),
            target_dir,
            out_dir,
        })
    }

    /// Build `packages` (all of `world`) in release and copy each component to `OUT_DIR` as
    /// `<package, with _ for ->.wasm`.
    pub fn build(&self, world: &str, packages: &[&str]) -> Result<(), Error> {
        let mut cmd = Command::new(&self.cargo);
        cmd.arg("build")
            .arg("--release")
            .arg("--locked")
            .args(["--target", TARGET])
            .arg("--manifest-path")
            .arg(&self.manifest)
            .arg("--target-dir")
            .arg(&self.target_dir);
        for p in packages {
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
        let line = show(&cmd);
        let status = cmd.status().map_err(|source| Error::Spawn {
            cmd: line.clone(),
            source,
        })?;
        if !status.success() {
            return Err(Error::GuestBuild {
                world: world.into(),
                cmd: line,
                status,
            });
        }
        for p in packages {
            let file = format!("{}.wasm", p.replace('-', "_"));
            let from = self.target_dir.join(TARGET).join("release").join(&file);
            std::fs::copy(&from, self.out_dir.join(&file)).map_err(|source| Error::Io {
                what: "cannot copy",
                path: from,
                source,
            })?;
        }
        Ok(())
    }
}

/// The host's target directory: `OUT_DIR` is `<target>/[<triple>/]<profile>/build/<pkg>/out`.
fn host_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("guests"))
}
