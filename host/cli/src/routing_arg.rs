//! The `--routing POLICY` argument shared by `ouro sim` and `ouro policy test`.

use ouro_policy::{PolicyError, RoutingChoice};
use ouro_sim::{Optimality, PolicyFactory};

/// Resolve a policy spec (`native`, `spf`, `ecmp`, `lfa` or a `.wasm` path) on a
/// deterministic (fuel-metered) engine, so simulations stay reproducible.
pub fn resolve(spec: &str) -> Result<RoutingChoice, PolicyError> {
    RoutingChoice::resolve_deterministic(spec)
}

/// A simulator policy factory: every node gets its own instance of `choice`.
pub fn factory(choice: &RoutingChoice) -> PolicyFactory {
    let choice = choice.clone();
    Box::new(move |_| choice.instance())
}

/// The optimality check that fits `spec` by default: ECMP policies must match the native
/// reference's equal-cost sets exactly; others must pick from them.
pub fn default_optimality(spec: &str) -> Optimality {
    match spec {
        "native" | "ecmp" | "lfa" => Optimality::Exact,
        _ => Optimality::Subset,
    }
}
