//! The `--routing POLICY` argument shared by `ouro sim` and `ouro policy test`.

use ouro_policy::{EngineConfig, PolicyEngine};
use ouro_policy::{ParamValue, Params, PolicyError, RoutingChoice};
use ouro_sim::{Optimality, PolicyFactory};

/// Resolve a policy spec (`native`, `spf`, `ecmp`, `lfa` or a `.wasm` path) with its
/// parameters on a deterministic (fuel-metered) engine, so simulations stay reproducible.
pub fn resolve(spec: &str, params: Params) -> Result<RoutingChoice, PolicyError> {
    let engine = PolicyEngine::new(EngineConfig::deterministic())?;
    RoutingChoice::resolve(&engine, spec, params)
}

/// Split repeated `--param name=value` arguments into (name, value text) pairs.
pub fn split_params(list: &[String]) -> Result<Vec<(String, String)>, String> {
    list.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("parameter `{p}` is not name=value")),
        })
        .collect()
}

/// Typed parameters from `--param name=value` arguments (see [`ParamValue::from_cli`]).
pub fn typed_params(list: &[String]) -> Result<Params, String> {
    Ok(split_params(list)?
        .into_iter()
        .map(|(k, v)| {
            let value = ParamValue::from_cli(&v);
            (k, value)
        })
        .collect())
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
