//! What every policy call shares: the store (limits, deadline), error classification,
//! fuel accounting.

use crate::PolicyError;
use crate::engine::{Deadline, PolicyEngine};
use crate::host::{Clock, HostState};
use crate::metrics::PolicyMetrics;
use crate::params::Params;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{InstancePre, Linker};
use wasmtime::{Store, StoreLimitsBuilder, Trap};

/// A loaded policy's identity and settings, shared by its calls.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) name: String,
    pub(crate) engine: PolicyEngine,
    pub(crate) params: Arc<Params>,
    pub(crate) metrics: Arc<PolicyMetrics>,
    pub(crate) clock: Clock,
}

impl Caller {
    pub(crate) fn new(engine: &PolicyEngine, name: &str, params: Params) -> Caller {
        let clock = match engine.config.deadline {
            Deadline::Fuel(_) => Clock::Frozen,
            Deadline::Epoch { .. } => Clock::Wall(Instant::now()),
        };
        Caller {
            name: name.to_string(),
            engine: engine.clone(),
            params: Arc::new(params),
            metrics: Arc::new(PolicyMetrics::named(name)),
            clock,
        }
    }

    /// A load error for this policy.
    /// Compile (or fetch from the cache) the component `wasm`, link the world's host interface
    /// with `add_host` and every other import (such as the WASI interfaces a Rust guest
    /// declares without using them) to functions that trap, and build the world's typed
    /// pre-instance with `typed`.
    pub(crate) fn link<P>(
        &self,
        engine: &PolicyEngine,
        wasm: &[u8],
        add_host: impl FnOnce(&mut Linker<HostState>) -> wasmtime::Result<()>,
        typed: impl FnOnce(InstancePre<HostState>) -> wasmtime::Result<P>,
    ) -> Result<P, PolicyError> {
        let component = engine.component(&self.name, wasm)?;
        let mut linker = Linker::<HostState>::new(&engine.engine);
        add_host(&mut linker).map_err(|e| self.load_error(e))?;
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| self.load_error(e))?;
        linker
            .instantiate_pre(&component)
            .and_then(typed)
            .map_err(|e| self.load_error(e))
    }

    pub(crate) fn load_error(&self, e: wasmtime::Error) -> PolicyError {
        PolicyError::Load {
            name: self.name.clone(),
            reason: format!("{e:#}"),
        }
    }

    /// A fresh store with the memory cap; the call budget is set by [`Caller::arm`].
    pub(crate) fn store(&self) -> Result<Store<HostState>, PolicyError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.engine.config.memory_cap)
            .trap_on_grow_failure(true)
            .build();
        let state = HostState::new(
            limits,
            self.params.clone(),
            self.metrics.clone(),
            self.clock,
        );
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|s| &mut s.limits);
        self.arm(&mut store)?;
        Ok(store)
    }

    /// Give `store` a full budget for one call: fuel, or an epoch deadline from now.
    pub(crate) fn arm(&self, store: &mut Store<HostState>) -> Result<(), PolicyError> {
        store.data_mut().reset_log_budget();
        match self.engine.config.deadline {
            Deadline::Fuel(fuel) => store.set_fuel(fuel).map_err(|e| self.classify(e)),
            Deadline::Epoch { .. } => {
                store.set_epoch_deadline(self.engine.deadline_ticks().unwrap_or(1));
                store.epoch_deadline_trap();
                Ok(())
            }
        }
    }

    /// Fuel burnt since the last [`Caller::arm`] (0 without fuel metering).
    pub(crate) fn fuel_used(&self, store: &Store<HostState>) -> u64 {
        match self.engine.config.deadline {
            Deadline::Fuel(limit) => limit.saturating_sub(store.get_fuel().unwrap_or(0)),
            Deadline::Epoch { .. } => 0,
        }
    }

    /// Turn a wasmtime error into a typed one.
    pub(crate) fn classify(&self, e: wasmtime::Error) -> PolicyError {
        let name = self.name.clone();
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => PolicyError::Timeout(name),
            Some(Trap::OutOfFuel) => PolicyError::OutOfFuel(name),
            _ => PolicyError::Trap {
                name,
                reason: format!("{e:#}"),
            },
        }
    }
}
