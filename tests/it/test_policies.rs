//! Components that misbehave on purpose, for tests of the engine's fail-safes
//! (built from `policies/test/*` by this crate's build script).

/// Loops forever.
pub const SPIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/test_spin.wasm"));
/// Allocates memory without bound.
pub const HOG: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/test_hog.wasm"));
/// Panics (traps) on every call.
pub const TRAP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/test_trap.wasm"));
/// Returns a forwarding loop.
pub const LOOP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/test_loop.wasm"));
/// A scheduler that loops forever.
pub const SPIN_SCHEDULER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/test_spin_scheduler.wasm"));
/// An auth policy that loops forever.
pub const SPIN_AUTH: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/test_spin_auth.wasm"));
