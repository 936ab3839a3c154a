//! The policies of the unicast layers: routing, scheduler and auth, each a native default,
//! a built-in Wasm policy or a `.wasm` component file, with typed parameters; loaded at
//! start from `[layer.policy]` and hot-swapped at run time (`ouro policy load`), and their
//! call metrics (`ouro policy stats`).
//!
//! A policy loaded at run time is on probation for its first [`PROBATION`] calls: if one
//! fails, the policy it replaced is put back (a rollback, shown in the stats).
//!
//! Schedulers and auth policies go into the IPCP, which calls them on the event loop. A
//! routing policy goes to the routing worker thread ([`RouteWorker`]), which holds and runs
//! the IPCPs' routing policies; the IPCP is told the name of the policy in force.

use crate::route_worker::RouteWorker;
use ouro_control::PolicyStats;
use ouro_core::Ipcp;
use ouro_core::auth::{AllowAll, AuthPolicy};
use ouro_core::routing::RoutingPolicy;
use ouro_core::sched::{SchedulerPolicy, StrictPriority};
use ouro_core::time::Instant;
use ouro_node::{IpcpId, Node};
use ouro_policy::{
    AuthFallback, EngineConfig, ParamValue, Params, PolicyEngine, PolicyMetrics, RoutingChoice,
    SchedulerFallback, WasmAuth, WasmScheduler, builtin,
};
use std::path::Path;
use std::sync::Arc;

/// Calls a newly loaded policy must survive before the previous one is dropped.
pub const PROBATION: u32 = 3;

/// Which hook a policy serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Route computation.
    Routing,
    /// Per-port transmit scheduling.
    Scheduler,
    /// Enrollment and flow authorisation.
    Auth,
}

impl Kind {
    /// Parse `routing`, `scheduler` or `auth`.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "routing" => Kind::Routing,
            "scheduler" => Kind::Scheduler,
            "auth" => Kind::Auth,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Routing => "routing",
            Kind::Scheduler => "scheduler",
            Kind::Auth => "auth",
        }
    }

    /// The names accepted besides a `.wasm` path.
    fn builtins(self) -> Vec<&'static str> {
        let wasm: Vec<&str> = match self {
            Kind::Routing => builtin::ROUTING.iter().map(|(n, _)| *n).collect(),
            Kind::Scheduler => builtin::SCHEDULERS.iter().map(|(n, _)| *n).collect(),
            Kind::Auth => builtin::AUTH.iter().map(|(n, _)| *n).collect(),
        };
        std::iter::once("native").chain(wasm).collect()
    }

    /// Check that `policy` names something loadable (a built-in or a `.wasm` path).
    pub fn check(self, policy: &str) -> Result<(), String> {
        if self.builtins().contains(&policy) || policy.ends_with(".wasm") {
            Ok(())
        } else {
            Err(format!(
                "unknown {} policy `{policy}` (expected one of {} or a path to a .wasm component)",
                self.as_str(),
                self.builtins().join(", ")
            ))
        }
    }
}

/// One configured policy: its name or path, and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicySpec {
    /// `native`, a built-in name, or a path to a `.wasm` component.
    pub policy: String,
    /// Typed parameters passed to the policy.
    pub params: Params,
}

impl Default for PolicySpec {
    fn default() -> Self {
        PolicySpec {
            policy: "native".into(),
            params: Params::new(),
        }
    }
}

/// The three policies of a layer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerPolicies {
    /// Routing.
    pub routing: PolicySpec,
    /// Scheduler.
    pub scheduler: PolicySpec,
    /// Auth.
    pub auth: PolicySpec,
}

/// A TOML value as a policy parameter (booleans, integers, floats, strings, string arrays).
pub fn param_from_toml(v: &toml::Value) -> Result<ParamValue, String> {
    Ok(match v {
        toml::Value::Boolean(b) => ParamValue::Boolean(*b),
        toml::Value::Integer(i) => ParamValue::Integer(*i),
        toml::Value::Float(f) => ParamValue::Float(*f),
        toml::Value::String(s) => ParamValue::Text(s.clone()),
        toml::Value::Array(a) => ParamValue::TextList(
            a.iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or("a parameter array must hold strings only")?,
        ),
        _ => return Err("parameters are booleans, numbers, strings or string arrays".into()),
    })
}

/// What was loaded, for the stats.
struct Loaded {
    layer: String,
    kind: Kind,
    /// The policy's own name (compared with the one in force to detect a rollback).
    name: String,
    spec: String,
    metrics: Option<Arc<PolicyMetrics>>,
}

/// Where [`Policies::install`] puts a policy: IPCP `ipcp` of `node` (in layer `layer`),
/// whose routing policy runs in `routes`.
pub struct Target<'a> {
    /// The layer's name (for the stats and logs).
    pub layer: &'a str,
    /// The node holding the IPCP.
    pub node: &'a mut Node,
    /// The IPCP.
    pub ipcp: IpcpId,
    /// The routing worker holding the IPCP's routing policy.
    pub routes: &'a mut RouteWorker,
}

/// The daemon's policy engine (made on first use) and what it loaded.
#[derive(Default)]
pub struct Policies {
    engine: Option<PolicyEngine>,
    loaded: Vec<Loaded>,
}

enum Made {
    Routing(Box<dyn RoutingPolicy>),
    Scheduler(Box<dyn SchedulerPolicy>),
    Auth(Box<dyn AuthPolicy>),
}

fn read(spec: &str) -> Result<(String, Vec<u8>), String> {
    let wasm = std::fs::read(spec).map_err(|e| format!("cannot read `{spec}`: {e}"))?;
    let name = Path::new(spec)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(spec)
        .to_string();
    Ok((name, wasm))
}

impl Policies {
    fn engine(&mut self) -> Result<&PolicyEngine, String> {
        if self.engine.is_none() {
            let engine = PolicyEngine::new(EngineConfig::router()).map_err(|e| e.to_string())?;
            self.engine = Some(engine);
        }
        self.engine.as_ref().ok_or_else(|| "no engine".to_string())
    }

    fn make(
        &mut self,
        kind: Kind,
        spec: &PolicySpec,
    ) -> Result<(Made, Option<Arc<PolicyMetrics>>), String> {
        kind.check(&spec.policy)?;
        let p = spec.policy.as_str();
        let params = spec.params.clone();
        if p == "native" {
            return Ok((
                match kind {
                    Kind::Routing => Made::Routing(RoutingChoice::Native.instance()),
                    Kind::Scheduler => Made::Scheduler(Box::new(StrictPriority::default())),
                    Kind::Auth => Made::Auth(Box::new(AllowAll)),
                },
                None,
            ));
        }
        let engine = self.engine()?.clone();
        let err = |e: ouro_policy::PolicyError| e.to_string();
        Ok(match kind {
            Kind::Routing => {
                let choice = RoutingChoice::resolve(&engine, p, params).map_err(err)?;
                let metrics = choice.wasm().map(|w| w.metrics());
                (Made::Routing(choice.instance()), metrics)
            }
            Kind::Scheduler => {
                let (name, wasm) = match builtin::SCHEDULERS.iter().find(|(n, _)| *n == p) {
                    Some((n, w)) => (n.to_string(), w.to_vec()),
                    None => read(p)?,
                };
                let s = WasmScheduler::load(&engine, &name, &wasm, params).map_err(err)?;
                let m = s.metrics();
                (Made::Scheduler(Box::new(s)), Some(m))
            }
            Kind::Auth => {
                let (name, wasm) = match builtin::AUTH.iter().find(|(n, _)| *n == p) {
                    Some((n, w)) => (n.to_string(), w.to_vec()),
                    None => read(p)?,
                };
                let a = WasmAuth::load(&engine, &name, &wasm, params).map_err(err)?;
                let m = a.metrics();
                (Made::Auth(Box::new(a)), Some(m))
            }
        })
    }

    /// Load `spec` as the `kind` policy of the IPCP `at` names. At start (`probation`
    /// false) it simply replaces the native default; at run time the policy in force stays
    /// as the fallback for [`PROBATION`] calls (for a routing policy, in the routing
    /// worker: [`RouteWorker::swap`]). Nothing changes if loading fails.
    pub fn install(
        &mut self,
        at: Target<'_>,
        now: Instant,
        kind: Kind,
        spec: &PolicySpec,
        probation: bool,
    ) -> Result<(), String> {
        let layer = at.layer;
        let id = at.ipcp;
        let no_ipcp = move || format!("no IPCP {id} in the node");
        if at.node.ipcp(at.ipcp).is_none() {
            return Err(no_ipcp());
        }
        let (made, metrics) = self.make(kind, spec)?;
        let probation = if probation { PROBATION } else { 0 };
        let name = match made {
            Made::Routing(p) => {
                let name = p.name().to_string();
                at.routes.swap(at.ipcp, p, probation);
                at.node
                    .routing_policy_changed(now, at.ipcp, &name)
                    .map_err(|e| e.to_string())?;
                name
            }
            Made::Scheduler(p) => {
                let name = p.name().to_string();
                let ipcp = at.node.ipcp_mut(at.ipcp).ok_or_else(no_ipcp)?;
                ipcp.set_scheduler(|old| Box::new(SchedulerFallback::new(p, old, probation)));
                name
            }
            Made::Auth(p) => {
                let name = p.name().to_string();
                let ipcp = at.node.ipcp_mut(at.ipcp).ok_or_else(no_ipcp)?;
                ipcp.set_auth_policy(|old| Box::new(AuthFallback::new(p, old, probation)));
                name
            }
        };
        tracing::info!(layer, kind = kind.as_str(), policy = %spec.policy, "policy loaded");
        self.loaded
            .retain(|l| !(l.layer == layer && l.kind == kind));
        self.loaded.push(Loaded {
            layer: layer.to_string(),
            kind,
            name,
            spec: spec.policy.clone(),
            metrics,
        });
        Ok(())
    }

    /// Forget what was loaded into `layer` (its IPCP is destroyed).
    pub fn forget(&mut self, layer: &str) {
        self.loaded.retain(|l| l.layer != layer);
    }

    /// The policies in force per layer with their metrics (`ouro policy stats`).
    pub fn stats<'a>(&self, layers: impl Iterator<Item = (&'a str, &'a Ipcp)>) -> Vec<PolicyStats> {
        let mut out = Vec::new();
        for (layer, ipcp) in layers {
            let c = ipcp.counters();
            for kind in [Kind::Routing, Kind::Scheduler, Kind::Auth] {
                let in_force = match kind {
                    Kind::Routing => ipcp.routing_policy_name(),
                    Kind::Scheduler => ipcp.scheduler_name(),
                    Kind::Auth => ipcp.auth_policy_name(),
                };
                let loaded = self
                    .loaded
                    .iter()
                    .find(|l| l.layer == layer && l.kind == kind);
                let m = loaded
                    .and_then(|l| l.metrics.as_ref())
                    .map(|m| m.snapshot())
                    .unwrap_or_default();
                let failures = match kind {
                    Kind::Routing => c.routing_failures,
                    Kind::Scheduler => c.scheduler_failures,
                    Kind::Auth => c.auth_failures,
                };
                out.push(PolicyStats {
                    layer: layer.to_string(),
                    kind: kind.as_str().to_string(),
                    policy: loaded.map_or("native", |l| l.spec.as_str()).to_string(),
                    in_force: in_force.to_string(),
                    rolled_back: loaded.is_some_and(|l| l.name != in_force),
                    wasm: loaded.is_some_and(|l| l.metrics.is_some()),
                    calls: m.calls,
                    failures: m.failures,
                    core_failures: failures,
                    p50_ns: u64::try_from(m.p50.as_nanos()).unwrap_or(u64::MAX),
                    p99_ns: u64::try_from(m.p99.as_nanos()).unwrap_or(u64::MAX),
                    fuel: m.fuel_used,
                    last_error: m.last_error,
                    logs_suppressed: m.logs_suppressed,
                    auth_denied: (kind == Kind::Auth).then_some(c.auth_denied),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_per_kind() {
        assert!(Kind::Routing.check("ecmp").is_ok());
        assert!(Kind::Scheduler.check("drr").is_ok());
        assert!(Kind::Auth.check("allowlist").is_ok());
        assert!(Kind::Auth.check("my.wasm").is_ok());
        let e = Kind::Scheduler.check("ecmp").expect_err("not a scheduler");
        assert!(e.contains("strict-priority"), "{e}");
    }

    /// A node with one IPCP in requested mode, its routing policy in a worker.
    fn node_and_worker() -> (Node, IpcpId, RouteWorker) {
        let mut node = Node::new(ouro_node::NodeConfig::default());
        let opts = ouro_node::IpcpOptions {
            route_mode: ouro_node::RouteMode::Requested,
            ..ouro_node::IpcpOptions::default()
        };
        let id = node
            .create_ipcp(Instant::ZERO, "x", None, opts)
            .expect("created");
        let mut routes = RouteWorker::start().expect("worker");
        routes.set(id, node.take_routing_policy(id).expect("handed over"));
        (node, id, routes)
    }

    /// Load `spec` on probation into IPCP `ipcp` of `node`.
    fn load(
        p: &mut Policies,
        node: &mut Node,
        ipcp: IpcpId,
        routes: &mut RouteWorker,
        kind: Kind,
        spec: &PolicySpec,
    ) -> Result<(), String> {
        let at = Target {
            layer: "l",
            node,
            ipcp,
            routes,
        };
        p.install(at, Instant::ZERO, kind, spec, true)
    }

    #[test]
    fn install_and_stats_report_rollback_free_loads() {
        let mut p = Policies::default();
        let (mut node, id, mut routes) = node_and_worker();
        let spec = PolicySpec {
            policy: "allow-all".into(),
            params: Params::new(),
        };
        load(&mut p, &mut node, id, &mut routes, Kind::Auth, &spec).expect("loads");
        let ipcp = node.ipcp(id).expect("live");
        assert_eq!(ipcp.auth_policy_name(), "allow-all");
        let bad = PolicySpec {
            policy: "nope".into(),
            params: Params::new(),
        };
        assert!(load(&mut p, &mut node, id, &mut routes, Kind::Routing, &bad).is_err());
        let ipcp = node.ipcp(id).expect("live");
        let stats = p.stats(std::iter::once(("l", ipcp)));
        let auth = &stats[2];
        assert_eq!(auth.kind, "auth");
        assert_eq!(auth.in_force, "allow-all");
        assert!(!auth.rolled_back);
        assert_eq!(stats[0].policy, "native");
    }

    #[test]
    fn a_routing_policy_goes_to_the_worker_and_the_ipcp_names_it() {
        let mut p = Policies::default();
        let (mut node, id, mut routes) = node_and_worker();
        let spec = PolicySpec {
            policy: "ecmp".into(),
            params: Params::new(),
        };
        load(&mut p, &mut node, id, &mut routes, Kind::Routing, &spec).expect("loads");
        let ipcp = node.ipcp(id).expect("live");
        assert_eq!(ipcp.route_mode(), ouro_node::RouteMode::Requested);
        assert_eq!(ipcp.routing_policy_name(), "ecmp");
        let stats = p.stats(std::iter::once(("l", ipcp)));
        assert_eq!((stats[0].policy.as_str(), stats[0].wasm), ("ecmp", true));
        assert!(!stats[0].rolled_back);
        // An IPCP the node does not have is refused before anything is made.
        assert!(
            load(
                &mut p,
                &mut node,
                IpcpId(7),
                &mut routes,
                Kind::Routing,
                &spec
            )
            .is_err()
        );
    }
}
