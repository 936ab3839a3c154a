//! [`WasmRoutingPolicy`]: a routing component behind the core's `RoutingPolicy` trait.
//!
//! The instance (and its `Store`) is kept between calls: making one from the pre-linked
//! `InstancePre` costs about 25 µs, a call on a kept one about 1 µs plus the work. It is
//! thrown away, and a fresh one made on the next call, after any trap, timeout or failed
//! call, and once its linear memory has grown past a quarter of the memory cap (so one
//! large topology does not pin a large memory for ever). A policy must therefore not rely
//! on guest state either way. Every call gets a full budget (epoch deadline or fuel) and
//! the memory cap; its output is validated ([`crate::validate`]) before the IPCP sees it.
//! Clones share the kept instance (one per loaded policy, not one per simulated node: the
//! pooling allocator's slots stay free); a call that finds it in use makes its own.

use crate::PolicyError;
use crate::bindings::routing::ouro::policy::routing_types::{
    RoutingOutput as WitOutput, RoutingTable as WitTable, Topology as WitTopology,
};
use crate::bindings::routing::{Routing, RoutingPre};
use crate::call::{Caller, Hook};
use crate::engine::PolicyEngine;
use crate::host::HostState;
use crate::metrics::PolicyMetrics;
use crate::params::Params;
use crate::validate::{FlatRoutes, LoopCheck, Validator};
use ouro_core::Address;
use ouro_core::qos::QosCube;
use ouro_core::routing::{RoutingError, RoutingPolicy, RoutingTable, Topology};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::Store;
use wasmtime::component::HasSelf;

/// An instance kept between calls, with its store.
struct Live {
    store: Store<HostState>,
    routing: Routing,
}

/// A routing policy running as a Wasm component.
///
/// Cloning is cheap and shares the compiled component, the metrics and the kept instance
/// (the simulator clones one per node).
#[derive(Clone)]
pub struct WasmRoutingPolicy {
    caller: Caller,
    pre: RoutingPre<HostState>,
    loops: LoopCheck,
    validator: Validator,
    live: Arc<Mutex<Option<Live>>>,
}

impl std::fmt::Debug for WasmRoutingPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmRoutingPolicy")
            .field("name", &self.caller.name)
            .finish()
    }
}

impl WasmRoutingPolicy {
    /// Compile (or fetch from the cache) and link the component `wasm` as policy `name`.
    /// Imports other than `ouro:policy/host` (such as the WASI interfaces a Rust guest
    /// declares without using them) are linked to functions that trap.
    pub fn load(
        engine: &PolicyEngine,
        name: &str,
        wasm: &[u8],
        params: Params,
    ) -> Result<Self, PolicyError> {
        let caller = Caller::new(engine, Hook::Routing, name, params);
        let pre = caller.link(
            engine,
            wasm,
            |linker| Routing::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s),
            RoutingPre::new,
        )?;
        Ok(WasmRoutingPolicy {
            caller,
            pre,
            loops: LoopCheck::default(),
            validator: Validator::default(),
            live: Arc::default(),
        })
    }

    /// Use `check` for output validation (default: [`LoopCheck::Downstream`]).
    pub fn with_loop_check(mut self, check: LoopCheck) -> Self {
        self.loops = check;
        self
    }

    /// The call metrics (shared by all clones).
    pub fn metrics(&self) -> Arc<PolicyMetrics> {
        self.caller.metrics.clone()
    }

    /// Run the guest and validate its output; records the call in the metrics.
    pub fn call(&mut self, own: Address, topology: &Topology) -> Result<RoutingTable, PolicyError> {
        let start = Instant::now();
        let (result, fuel) = self.call_unrecorded(own, topology);
        let error = result.as_ref().err().map(ToString::to_string);
        self.caller.metrics.record(start.elapsed(), fuel, error);
        result
    }

    /// Run the guest without validating or recording: the number of routes it returned
    /// (benchmarks).
    pub fn call_raw(&mut self, own: Address, topology: &Topology) -> Result<usize, PolicyError> {
        let (out, _) = self.invoke(own, &to_wit(topology));
        Ok(out?.table.destinations.len())
    }

    /// Run the guest on the kept instance (or a fresh one): its raw output and the fuel
    /// used. The instance is kept for the next call only if the call succeeded and its
    /// memory is within [`KEEP_MEMORY_FRACTION`] of the cap.
    fn invoke(&self, own: Address, topo: &WitTopology) -> (Result<WitOutput, PolicyError>, u64) {
        let kept = self.live.lock().ok().and_then(|mut l| l.take());
        let mut live = match kept {
            Some(live) => live,
            None => match self.instantiate() {
                Ok(live) => live,
                Err(e) => return (Err(e), 0),
            },
        };
        if let Err(e) = self.caller.arm(&mut live.store) {
            return (Err(e), 0);
        }
        let out = live
            .routing
            .call_compute(&mut live.store, own.0, topo)
            .map_err(|e| self.caller.classify(e));
        let fuel = self.caller.fuel_used(&live.store);
        let healthy = matches!(out, Ok(Ok(_)));
        let small = live.store.data().limits.memory()
            <= self.caller.engine.config.memory_cap / KEEP_MEMORY_FRACTION;
        if healthy
            && small
            && let Ok(mut slot) = self.live.lock()
            && slot.is_none()
        {
            *slot = Some(live);
        }
        let result = out.and_then(|r| {
            r.map_err(|reason| PolicyError::Guest {
                name: self.caller.name.clone(),
                reason,
            })
        });
        (result, fuel)
    }

    /// A fresh instance from the `InstancePre`, in a fresh store.
    fn instantiate(&self) -> Result<Live, PolicyError> {
        let mut store = self.caller.store()?;
        let routing = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.caller.classify(e))?;
        Ok(Live { store, routing })
    }

    /// True if an instance is kept for the next call.
    pub fn keeps_instance(&self) -> bool {
        self.live.lock().map(|l| l.is_some()).unwrap_or(false)
    }

    /// Forget the kept instance: the next call runs in a fresh one (benchmarks, tests).
    pub fn drop_instance(&self) {
        if let Ok(mut slot) = self.live.lock() {
            *slot = None;
        }
    }

    fn call_unrecorded(
        &mut self,
        own: Address,
        topology: &Topology,
    ) -> (Result<RoutingTable, PolicyError>, u64) {
        let (out, fuel) = self.invoke(own, &to_wit(topology));
        let result = out.and_then(|out| {
            self.validate(own, topology, &out)
                .map_err(|reason| PolicyError::InvalidOutput {
                    name: self.caller.name.clone(),
                    reason,
                })
        });
        (result, fuel)
    }

    /// Check the default table and every cube table (each against the link costs it was
    /// computed over) and convert them.
    fn validate(
        &mut self,
        own: Address,
        topology: &Topology,
        out: &WitOutput,
    ) -> Result<RoutingTable, String> {
        let mut table = self
            .validator
            .check(own, topology, flat(&out.table), self.loops)?;
        for c in &out.cubes {
            let cube = QosCube::from_u8(c.cube).ok_or(format!("unknown QoS cube {}", c.cube))?;
            let costs = topology.with_costs(&c.costs).ok_or(format!(
                "cube {cube}: {} link costs for {} links, or a cost of 0",
                c.costs.len(),
                topology.link_count()
            ))?;
            let routes = self
                .validator
                .check(own, &costs, flat(&c.table), self.loops)
                .map_err(|e| format!("cube {cube}: {e}"))?;
            if table.cubes.insert(cube, routes.routes).is_some() {
                return Err(format!("cube {cube} listed twice"));
            }
        }
        Ok(table)
    }
}

/// A guest table as the validator reads it.
fn flat(t: &WitTable) -> FlatRoutes<'_> {
    FlatRoutes {
        destinations: &t.destinations,
        hop_offsets: &t.hop_offsets,
        next_hops: &t.next_hops,
        alternates: &t.alternates,
    }
}

/// A kept instance is retired once its linear memory exceeds `memory_cap / this`.
const KEEP_MEMORY_FRACTION: usize = 4;

/// The topology in the WIT's layout.
fn to_wit(t: &Topology) -> WitTopology {
    let n = t.len();
    let mut offsets = Vec::with_capacity(n + 1);
    let mut targets = Vec::with_capacity(t.link_count());
    let mut costs = Vec::with_capacity(t.link_count());
    offsets.push(0);
    for i in 0..n {
        for (to, cost) in t.neighbors(i) {
            targets.push(to as u32);
            costs.push(cost);
        }
        offsets.push(targets.len() as u32);
    }
    WitTopology {
        addresses: t.addresses().iter().map(|a| a.0).collect(),
        offsets,
        targets,
        costs,
    }
}

impl RoutingPolicy for WasmRoutingPolicy {
    fn name(&self) -> &str {
        &self.caller.name
    }

    fn compute(&mut self, own: Address, topology: &Topology) -> Result<RoutingTable, RoutingError> {
        self.call(own, topology).map_err(RoutingError::from)
    }
}
