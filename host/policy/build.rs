//! Builds the default policies (`policies/`, a separate workspace) for `wasm32-wasip2` and
//! copies the components to `OUT_DIR` so the crate can embed them (`include_bytes!`): the
//! router runs with no policy files on disk. `ouro-guest-build` does the work, installing the
//! `wasm32-wasip2` target first where the compiler lacks it.

/// (world, guest packages) built together.
const GUESTS: &[(&str, &[&str])] = &[
    ("routing", &["spf", "ecmp", "lfa"]),
    ("scheduler", &["strict-priority", "drr"]),
    ("auth", &["allow-all", "allowlist"]),
];

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    ouro_guest_build::main(&root, GUESTS);
}
