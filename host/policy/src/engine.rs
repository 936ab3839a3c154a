//! The shared Wasm engine: one wasmtime `Engine` (Cranelift, pooling allocator, no async),
//! its limits, the compiled-component cache and the epoch ticker.
//!
//! Two per-call budgets: [`Deadline`] for routing calls, which a driver can run off its
//! event loop (the daemon's routing worker thread), and the much shorter
//! [`EngineConfig::on_loop`] for scheduler and auth calls, which run on the thread that
//! forwards packets and hold it up for as long as they run.

use crate::PolicyError;
use crate::cache;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

/// How a policy call is stopped when it runs too long, and the budget of a routing call.
/// Scheduler and auth calls get at most [`EngineConfig::on_loop`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Wall-clock limit through epoch interruption: a ticker thread advances the engine's
    /// epoch every `tick`; a call may run for `per_call` (rounded up to whole ticks; the
    /// call is stopped at the `n`-th tick after it starts, so after between `n - 1` and `n`
    /// ticks).
    Epoch {
        /// Epoch tick period.
        tick: Duration,
        /// Time allowed per routing call.
        per_call: Duration,
    },
    /// Deterministic limit (the simulator): each routing call gets this much fuel (about
    /// one unit per Wasm instruction), so the same input always stops at the same point.
    Fuel(u64),
}

/// The budget of a call that runs on the driver's event loop (schedulers, auth policies):
/// with a [`Deadline::Epoch`] the call may run for `time` (then it is stopped within about a
/// tick if its thread is using the CPU; time the thread was preempted is not held against
/// it, up to the routing deadline), with a [`Deadline::Fuel`] it gets `fuel`. Either is a
/// cap: such a call never gets more than a routing call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnLoop {
    /// Time allowed per call under an epoch deadline (rounded up to whole ticks).
    pub time: Duration,
    /// Fuel per call under a fuel deadline.
    pub fuel: u64,
}

impl OnLoop {
    /// 5 ms, or 5 × 10⁶ units of fuel (1/200 of a routing call's budget, as 5 ms is of 1 s).
    /// The shipped schedulers take 1–3 µs per batch (about 0.1 ms for the call that makes
    /// the instance) and at most 2 × 10⁴ units; an auth request 20–100 µs and, for an
    /// `allowlist` of 64 keys and 64 names, 3 × 10⁵ units (`docs/POLICIES.md`, measured with
    /// `cargo run --release -p ouro-benches --example loop_calls`). So the budget leaves them
    /// one to three orders of magnitude, while a call that never returns holds forwarding up
    /// for milliseconds, not a second.
    pub const DEFAULT: OnLoop = OnLoop {
        time: Duration::from_millis(5),
        fuel: 5_000_000,
    };
}

/// What one call gets, in the engine's unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Budget {
    /// Epoch ticks from the start of the call, then a trap.
    Ticks(u64),
    /// A call on the event loop: `ticks` epoch ticks from its start; then it is stopped if
    /// its thread is using the CPU, and given tick after tick of `tick` while the thread was
    /// preempted, at most `cap` more ([`crate::overrun`]).
    LoopTicks {
        /// Ticks before the first check.
        ticks: u64,
        /// The epoch tick.
        tick: Duration,
        /// Most ticks given past the first check.
        cap: u64,
    },
    /// Units of fuel.
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
    /// How calls are stopped, and the limit of a routing call.
    pub deadline: Deadline,
    /// The limit of a scheduler or auth call (these run on the driver's event loop).
    pub on_loop: OnLoop,
    /// Linear memory cap per policy instance, in bytes.
    pub memory_cap: usize,
    /// Most policy instances alive at once (size of the pooling allocator).
    pub max_instances: u32,
    /// Compiled-component cache.
    pub cache: CacheDir,
}

impl EngineConfig {
    /// For a router: 1 s per routing call and 5 ms per scheduler or auth call
    /// ([`OnLoop::DEFAULT`]), checked every 1 ms; 64 MiB per instance, the default cache
    /// directory.
    pub fn router() -> EngineConfig {
        EngineConfig {
            deadline: Deadline::Epoch {
                tick: Duration::from_millis(1),
                per_call: Duration::from_secs(1),
            },
            on_loop: OnLoop::DEFAULT,
            memory_cap: 64 << 20,
            max_instances: 64,
            cache: CacheDir::At(cache::default_cache_dir()),
        }
    }

    /// For the simulator: deterministic fuel (10⁹ units per routing call, 5 × 10⁶ per
    /// scheduler or auth call; guest code runs about 8 units per ns, so about 0.1 s and
    /// 0.6 ms of work) instead of a wall-clock deadline; otherwise as
    /// [`EngineConfig::router`].
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

    /// What one call gets: a routing call the [`Deadline`], a call on the event loop
    /// (`on_loop`) the smaller of that and [`EngineConfig::on_loop`] (under an epoch
    /// deadline not counting the time its thread was preempted, up to the routing
    /// deadline).
    pub(crate) fn budget(&self, on_loop: bool) -> Budget {
        let limit = self.config.on_loop;
        match self.config.deadline {
            Deadline::Epoch { tick, per_call } => {
                let ticks_in = |time: Duration| {
                    let ticks = time.as_nanos().div_ceil(tick.as_nanos().max(1)).max(1);
                    u64::try_from(ticks).unwrap_or(u64::MAX)
                };
                let routing = ticks_in(per_call);
                if !on_loop {
                    return Budget::Ticks(routing);
                }
                let ticks = ticks_in(per_call.min(limit.time));
                Budget::LoopTicks {
                    ticks,
                    tick,
                    cap: routing.saturating_sub(ticks),
                }
            }
            Deadline::Fuel(fuel) => Budget::Fuel(if on_loop { fuel.min(limit.fuel) } else { fuel }),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(deadline: Deadline, on_loop: OnLoop) -> PolicyEngine {
        PolicyEngine::new(EngineConfig {
            deadline,
            on_loop,
            cache: CacheDir::Off,
            ..EngineConfig::router()
        })
        .expect("engine")
    }

    #[test]
    fn routing_calls_get_the_deadline_and_calls_on_the_loop_the_smaller_on_loop_budget() {
        let ms = Duration::from_millis;
        let router = engine(EngineConfig::router().deadline, OnLoop::DEFAULT);
        assert_eq!(router.budget(false), Budget::Ticks(1_000));
        let on_loop = |ticks, tick, cap| Budget::LoopTicks { ticks, tick, cap };
        assert_eq!(router.budget(true), on_loop(5, ms(1), 995));
        let sim = engine(Deadline::Fuel(1_000_000_000), OnLoop::DEFAULT);
        assert_eq!(sim.budget(false), Budget::Fuel(1_000_000_000));
        assert_eq!(sim.budget(true), Budget::Fuel(5_000_000));
        // A cap, never a raise; partial ticks round up; at least one tick.
        let tight = Deadline::Epoch {
            tick: ms(2),
            per_call: ms(3),
        };
        let tight = engine(tight, OnLoop::DEFAULT);
        assert_eq!(tight.budget(true), on_loop(2, ms(2), 0));
        let starved = engine(Deadline::Fuel(10), OnLoop::DEFAULT);
        assert_eq!(starved.budget(true), Budget::Fuel(10));
        let zero = OnLoop {
            time: Duration::ZERO,
            fuel: 0,
        };
        let zero = engine(EngineConfig::router().deadline, zero);
        assert_eq!(zero.budget(true), on_loop(1, ms(1), 999));
    }
}
