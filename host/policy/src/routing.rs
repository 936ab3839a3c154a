//! [`WasmRoutingPolicy`]: a routing component behind the core's `RoutingPolicy` trait.
//!
//! Each call runs in a fresh instance made from the pre-linked `InstancePre` (about 25 µs
//! with the pooling allocator), so no guest state survives between calls, a trap never
//! poisons the next call, and memory is returned at once. The call gets the engine's
//! deadline (epoch ticks or fuel) and the memory cap; its output is validated
//! ([`crate::validate`]) before the IPCP sees it.

use crate::PolicyError;
use crate::bindings::routing::ouro::policy::routing_types::{
    RoutingTable as WitTable, Topology as WitTopology,
};
use crate::bindings::routing::{Routing, RoutingPre};
use crate::call::Caller;
use crate::engine::PolicyEngine;
use crate::host::HostState;
use crate::metrics::PolicyMetrics;
use crate::params::Params;
use crate::validate::{FlatRoutes, LoopCheck, Validator};
use ouro_core::Address;
use ouro_core::routing::{RoutingError, RoutingPolicy, RoutingTable, Topology};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::Store;
use wasmtime::component::HasSelf;

/// A routing policy running as a Wasm component.
///
/// Cloning is cheap and shares the compiled component and the metrics (the simulator
/// clones one per node).
#[derive(Clone)]
pub struct WasmRoutingPolicy {
    caller: Caller,
    pre: RoutingPre<HostState>,
    loops: LoopCheck,
    validator: Validator,
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
        let caller = Caller::new(engine, name, params);
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
        let mut store = self.caller.store()?;
        let table = self.invoke(&mut store, own, &to_wit(topology))?;
        Ok(table.destinations.len())
    }

    fn invoke(
        &self,
        store: &mut Store<HostState>,
        own: Address,
        topo: &WitTopology,
    ) -> Result<WitTable, PolicyError> {
        let routing = self
            .pre
            .instantiate(&mut *store)
            .map_err(|e| self.caller.classify(e))?;
        routing
            .call_compute(&mut *store, own.0, topo)
            .map_err(|e| self.caller.classify(e))?
            .map_err(|reason| PolicyError::Guest {
                name: self.caller.name.clone(),
                reason,
            })
    }

    fn call_unrecorded(
        &mut self,
        own: Address,
        topology: &Topology,
    ) -> (Result<RoutingTable, PolicyError>, u64) {
        let mut store = match self.caller.store() {
            Ok(s) => s,
            Err(e) => return (Err(e), 0),
        };
        let out = self.invoke(&mut store, own, &to_wit(topology));
        let fuel = self.caller.fuel_used(&store);
        let result = out.and_then(|t| {
            let flat = FlatRoutes {
                destinations: &t.destinations,
                hop_offsets: &t.hop_offsets,
                next_hops: &t.next_hops,
                alternates: &t.alternates,
            };
            self.validator
                .check(own, topology, flat, self.loops)
                .map_err(|reason| PolicyError::InvalidOutput {
                    name: self.caller.name.clone(),
                    reason,
                })
        });
        (result, fuel)
    }
}

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
