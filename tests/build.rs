//! Builds the policy components that misbehave on purpose (`policies/test/*`) for the
//! engine's fail-safe tests (`it/test_policies.rs` embeds them). They live here, in the test
//! crate, so no binary a user builds carries them.

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    ouro_guest_build::main(
        &root,
        &[
            (
                "routing",
                &["test-spin", "test-hog", "test-trap", "test-loop"],
            ),
            ("scheduler", &["test-spin-scheduler"]),
            ("auth", &["test-spin-auth"]),
        ],
    );
}
