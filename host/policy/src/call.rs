//! What every policy call shares: the store (limits, deadline), error classification,
//! fuel accounting.

use crate::PolicyError;
use crate::engine::{Budget, Deadline, PolicyEngine};
use crate::host::{Clock, HostState};
use crate::metrics::PolicyMetrics;
use crate::overrun::thread_cpu_time;
use crate::params::Params;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{InstancePre, Linker};
use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap};

/// Which hook a policy serves: it decides the policy's per-call budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hook {
    /// Route computation: a driver can run it off its event loop (the daemon's routing
    /// worker), so it gets the engine's [`Deadline`].
    Routing,
    /// Per-batch scheduling, on the event loop: [`crate::EngineConfig::on_loop`].
    Scheduler,
    /// Enrollment and flow authorisation, on the event loop:
    /// [`crate::EngineConfig::on_loop`].
    Auth,
}

impl Hook {
    /// True if the driver calls this hook on the thread that forwards packets.
    fn on_loop(self) -> bool {
        match self {
            Hook::Routing => false,
            Hook::Scheduler | Hook::Auth => true,
        }
    }
}

/// A loaded policy's identity and settings, shared by its calls.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) name: String,
    pub(crate) engine: PolicyEngine,
    pub(crate) params: Arc<Params>,
    pub(crate) metrics: Arc<PolicyMetrics>,
    pub(crate) clock: Clock,
    /// What each call gets ([`Caller::arm`]).
    budget: Budget,
}

impl Caller {
    /// The caller of policy `name`, serving `hook`, on `engine`.
    pub(crate) fn new(engine: &PolicyEngine, hook: Hook, name: &str, params: Params) -> Caller {
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
            budget: engine.budget(hook.on_loop()),
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
        let limits = Limits {
            inner: StoreLimitsBuilder::new()
                .memory_size(self.engine.config.memory_cap)
                .trap_on_grow_failure(true)
                .build(),
            memory: 0,
        };
        let state = HostState::new(
            limits,
            self.params.clone(),
            self.metrics.clone(),
            self.clock,
        );
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|s| &mut s.limits);
        match self.budget {
            Budget::Ticks(_) => store.epoch_deadline_trap(),
            Budget::LoopTicks { tick, cap, .. } => store.epoch_deadline_callback(move |mut cx| {
                Ok(cx.data_mut().overrun.decide(thread_cpu_time(), tick, cap))
            }),
            Budget::Fuel(_) => {}
        }
        self.arm(&mut store)?;
        Ok(store)
    }

    /// Give `store` a full budget for one call: fuel, or an epoch deadline from now. A
    /// routing call gets the engine's [`Deadline`]; a scheduler or auth call, which runs on
    /// the driver's event loop, at most [`crate::EngineConfig::on_loop`], past which it is
    /// stopped as soon as it is seen using the CPU ([`crate::overrun`]; what happens at the
    /// deadline is set once per store, in [`Caller::store`]).
    pub(crate) fn arm(&self, store: &mut Store<HostState>) -> Result<(), PolicyError> {
        let data = store.data_mut();
        data.reset_log_budget();
        data.overrun.reset();
        match self.budget {
            Budget::Fuel(fuel) => store.set_fuel(fuel).map_err(|e| self.classify(e)),
            Budget::Ticks(ticks) | Budget::LoopTicks { ticks, .. } => {
                store.set_epoch_deadline(ticks);
                Ok(())
            }
        }
    }

    /// Fuel burnt since the last [`Caller::arm`] (0 without fuel metering).
    pub(crate) fn fuel_used(&self, store: &Store<HostState>) -> u64 {
        match self.budget {
            Budget::Fuel(limit) => limit.saturating_sub(store.get_fuel().unwrap_or(0)),
            Budget::Ticks(_) | Budget::LoopTicks { .. } => 0,
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

/// The store's resource limiter: the memory cap (wasmtime's [`StoreLimits`]) plus the size
/// of the largest linear memory granted so far, so a kept instance can be retired once it
/// has grown past a threshold.
pub struct Limits {
    inner: StoreLimits,
    memory: usize,
}

impl Limits {
    /// Bytes of the largest linear memory of this store (after its last successful growth).
    pub(crate) fn memory(&self) -> usize {
        self.memory
    }
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.inner.memory_growing(current, desired, maximum)?;
        if ok {
            self.memory = self.memory.max(desired);
        }
        Ok(ok)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
