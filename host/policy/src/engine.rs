//! The shared Wasm engine: one wasmtime `Engine` (Cranelift, pooling allocator, no async),
//! its limits, the compiled-component cache and the epoch ticker.

use crate::PolicyError;
use crate::cache;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

/// How a policy call is stopped when it runs too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Wall-clock limit through epoch interruption: a ticker thread advances the engine's
    /// epoch every `tick`; a call may run for `per_call` (rounded up to whole ticks).
    Epoch {
        /// Epoch tick period.
        tick: Duration,
        /// Time allowed per call.
        per_call: Duration,
    },
    /// Deterministic limit (the simulator): each call gets this much fuel (about one unit
    /// per Wasm instruction), so the same input always stops at the same point.
    Fuel(u64),
}

/// Where compiled components are cached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheDir {
    /// No disk cache (components are still compiled once per engine).
    Off,
    /// This directory.
    At(PathBuf),
}

/// Engine settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Per-call time limit.
    pub deadline: Deadline,
    /// Linear memory cap per policy instance, in bytes.
    pub memory_cap: usize,
    /// Most policy instances alive at once (size of the pooling allocator).
    pub max_instances: u32,
    /// Compiled-component cache.
    pub cache: CacheDir,
}

impl EngineConfig {
    /// For a router: 1 s per call checked every 1 ms, 64 MiB per instance, the default
    /// cache directory.
    pub fn router() -> EngineConfig {
        EngineConfig {
            deadline: Deadline::Epoch {
                tick: Duration::from_millis(1),
                per_call: Duration::from_secs(1),
            },
            memory_cap: 64 << 20,
            max_instances: 64,
            cache: CacheDir::At(cache::default_cache_dir()),
        }
    }

    /// For the simulator: deterministic fuel (10⁹ units, seconds of work) instead of a
    /// wall-clock deadline; otherwise as [`EngineConfig::router`].
    pub fn deterministic() -> EngineConfig {
        EngineConfig {
            deadline: Deadline::Fuel(1_000_000_000),
            ..EngineConfig::router()
        }
    }
}

/// The policy engine: cheap to clone, shared by every policy it loads.
#[derive(Clone)]
pub struct PolicyEngine {
    pub(crate) engine: Engine,
    pub(crate) config: Arc<EngineConfig>,
    /// Components already compiled by this engine, by BLAKE3 of their bytes.
    loaded: Arc<Mutex<HashMap<[u8; 32], Component>>>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("config", &self.config)
            .finish()
    }
}

impl PolicyEngine {
    /// Build an engine; starts the epoch ticker thread if the deadline is epoch-based (it
    /// stops by itself once the engine is dropped).
    pub fn new(config: EngineConfig) -> Result<PolicyEngine, PolicyError> {
        let mut c = Config::new();
        c.wasm_component_model(true);
        c.concurrency_support(false);
        c.cranelift_opt_level(OptLevel::Speed);
        let mut pool = PoolingAllocationConfig::default();
        let n = config.max_instances.max(1);
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(8))
            .max_memory_size(config.memory_cap);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match config.deadline {
            Deadline::Epoch { .. } => {
                c.epoch_interruption(true);
            }
            Deadline::Fuel(_) => {
                c.consume_fuel(true);
            }
        }
        let engine = Engine::new(&c).map_err(|e| PolicyError::Engine(e.to_string()))?;
        if let Deadline::Epoch { tick, .. } = config.deadline {
            spawn_ticker(&engine, tick)?;
        }
        Ok(PolicyEngine {
            engine,
            config: Arc::new(config),
            loaded: Arc::default(),
        })
    }

    /// The settings this engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Compile `wasm` (or fetch it from the in-memory or disk cache).
    pub fn component(&self, name: &str, wasm: &[u8]) -> Result<Component, PolicyError> {
        let key = *blake3::hash(wasm).as_bytes();
        if let Some(c) = self.loaded.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(c);
        }
        let component = match &self.config.cache {
            CacheDir::Off => Component::new(&self.engine, wasm),
            CacheDir::At(dir) => cache::load(&self.engine, dir, wasm),
        }
        .map_err(|e| PolicyError::Load {
            name: name.to_string(),
            reason: format!("{e:#}"),
        })?;
        if let Ok(mut m) = self.loaded.lock() {
            m.insert(key, component.clone());
        }
        Ok(component)
    }

    /// Epoch ticks allowed per call (epoch deadlines only).
    pub(crate) fn deadline_ticks(&self) -> Option<u64> {
        match self.config.deadline {
            Deadline::Epoch { tick, per_call } => {
                let tick = tick.as_nanos().max(1);
                Some(per_call.as_nanos().div_ceil(tick).max(1) as u64)
            }
            Deadline::Fuel(_) => None,
        }
    }
}

/// Advance `engine`'s epoch every `tick` until the engine is gone.
fn spawn_ticker(engine: &Engine, tick: Duration) -> Result<(), PolicyError> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("ouro-policy-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(tick);
            }
        })
        .map(|_| ())
        .map_err(|e| PolicyError::Engine(format!("cannot start the epoch ticker: {e}")))
}
