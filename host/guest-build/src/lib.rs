//! Builds Ouro's Wasm policy guests from a build script.
//!
//! The guests (`policies/`, a workspace of its own) are components for `wasm32-wasip2`, built
//! with a nested `cargo build` and copied to the calling crate's `OUT_DIR` for
//! `include_bytes!`. `ouro-policy` embeds the default policies this way, and the test crate
//! the misbehaving ones its fail-safe tests load.
//!
//! Before the first guest build the compiler in use must have the `wasm32-wasip2` standard
//! library: where it is missing it is installed with `rustup target add` ([`target`]), so a
//! fresh machine needs no step beyond `cargo build`.
//!
//! ```no_run
//! // build.rs
//! let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
//! ouro_guest_build::main(&root, &[("routing", &["spf", "ecmp"])]);
//! ```
#![forbid(unsafe_code)]

mod error;
mod guests;
pub mod target;

pub use error::Error;
pub use guests::Guests;

/// The build script's whole job: build every `(world, packages)` group of the guest workspace
/// under `root` and copy the components to `OUT_DIR` (`<package with _ for ->.wasm`).
///
/// A failure is reported to cargo as a build error (`cargo::error`) with its reason.
pub fn main(root: &std::path::Path, groups: &[(&str, &[&str])]) {
    let built = Guests::from_env(root).and_then(|g| {
        groups
            .iter()
            .try_for_each(|(world, packages)| g.build(world, packages))
    });
    if let Err(e) = built {
        println!("cargo::error=building the Wasm policies failed: {e}");
    }
}
