//! The embedded policies, and choosing a routing policy by name or file.

use crate::{EngineConfig, Params, PolicyEngine, PolicyError, WasmRoutingPolicy};
use ouro_core::routing::{NativeSpf, RoutingPolicy};
use std::path::Path;

/// Routing `spf`: one shortest-path next hop per destination.
pub const SPF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/spf.wasm"));
/// Routing `ecmp`: all equal-cost shortest-path next hops.
pub const ECMP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ecmp.wasm"));
/// Routing `lfa`: ECMP plus RFC 5286 loop-free alternates.
pub const LFA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lfa.wasm"));

/// Scheduler `strict-priority`: cube 0 first, then cube 1, ...
pub const STRICT_PRIORITY: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/strict_priority.wasm"));
/// Scheduler `drr`: weighted deficit round robin (parameters `weight-<cube>`).
pub const DRR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/drr.wasm"));
/// Auth `allow-all`.
pub const ALLOW_ALL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/allow_all.wasm"));
/// Auth `allowlist` (parameters `keys`, `names`).
pub const ALLOWLIST: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/allowlist.wasm"));

/// The built-in schedulers by name.
pub const SCHEDULERS: &[(&str, &[u8])] = &[("strict-priority", STRICT_PRIORITY), ("drr", DRR)];
/// The built-in auth policies by name.
pub const AUTH: &[(&str, &[u8])] = &[("allow-all", ALLOW_ALL), ("allowlist", ALLOWLIST)];

/// The built-in Wasm routing policies by name.
pub const ROUTING: &[(&str, &[u8])] = &[("spf", SPF), ("ecmp", ECMP), ("lfa", LFA)];

/// A routing policy chosen by name, able to make one instance per node.
#[derive(Clone, Debug)]
pub enum RoutingChoice {
    /// The native reference (`NativeSpf`).
    Native,
    /// A Wasm component (built-in or from a file).
    Wasm(Box<WasmRoutingPolicy>),
}

impl RoutingChoice {
    /// Resolve `spec`: `native`, a built-in name (`spf`, `ecmp`, `lfa`), or a path to a
    /// `.wasm` component.
    pub fn resolve(
        engine: &PolicyEngine,
        spec: &str,
        params: Params,
    ) -> Result<RoutingChoice, PolicyError> {
        if spec == "native" {
            return Ok(RoutingChoice::Native);
        }
        if let Some((name, wasm)) = ROUTING.iter().find(|(n, _)| *n == spec) {
            return WasmRoutingPolicy::load(engine, name, wasm, params)
                .map(|p| RoutingChoice::Wasm(Box::new(p)));
        }
        let path = Path::new(spec);
        if path.extension().is_some_and(|e| e == "wasm") || path.exists() {
            let wasm = std::fs::read(path).map_err(|source| PolicyError::Read {
                path: spec.to_string(),
                source,
            })?;
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or(spec);
            return WasmRoutingPolicy::load(engine, name, &wasm, params)
                .map(|p| RoutingChoice::Wasm(Box::new(p)));
        }
        Err(PolicyError::Unknown(spec.to_string()))
    }

    /// Resolve `spec` on a fresh deterministic engine (the simulator's).
    pub fn resolve_deterministic(spec: &str) -> Result<RoutingChoice, PolicyError> {
        let engine = PolicyEngine::new(EngineConfig::deterministic())?;
        RoutingChoice::resolve(&engine, spec, Params::new())
    }

    /// A policy instance (clones share the compiled component and the metrics).
    pub fn instance(&self) -> Box<dyn RoutingPolicy> {
        match self {
            RoutingChoice::Native => Box::new(NativeSpf::new()),
            RoutingChoice::Wasm(p) => Box::new(p.as_ref().clone()),
        }
    }

    /// The Wasm policy, if this is one.
    pub fn wasm(&self) -> Option<&WasmRoutingPolicy> {
        match self {
            RoutingChoice::Wasm(p) => Some(p),
            RoutingChoice::Native => None,
        }
    }
}
