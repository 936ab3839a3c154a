//! The Ouro policy engine: runs policies written as WebAssembly components against the
//! `ouro:policy` WIT worlds (`wit/`), on wasmtime.
//!
//! - [`PolicyEngine`]: one wasmtime engine (Cranelift, pooling allocator, no async), a
//!   memory cap per instance, a deadline per call (epoch ticks in a router, fuel in the
//!   simulator; a routing call gets [`Deadline`], a scheduler or auth call, which runs on
//!   the driver's event loop, at most the much shorter [`OnLoop`]) and compiled components
//!   cached on disk by content hash and engine version.
//! - [`WasmRoutingPolicy`]: a routing component behind the core's
//!   [`ouro_core::routing::RoutingPolicy`] trait; output validated ([`validate`]); a trap,
//!   timeout or invalid output is an error, so the IPCP keeps its last good table.
//! - [`Fallback`], [`SchedulerFallback`], [`AuthFallback`]: rollback to the previous policy
//!   when a new one fails its first calls.
//! - [`WasmScheduler`] (per batch, instance kept, plan validated) behind the core's
//!   [`ouro_core::sched::SchedulerPolicy`], and [`WasmAuth`] (per request, fail-closed)
//!   behind [`ouro_core::auth::AuthPolicy`].
//! - [`builtin`]: the default policies, embedded (no files needed), and [`RoutingChoice`].
//!
//! Policies are never called per packet: routing runs once per topology change.
#![deny(unsafe_code)]

mod auth;
pub mod bindings;
pub mod builtin;
mod cache;
mod call;
mod engine;
mod error;
mod fallback;
mod host;
mod metrics;
mod overrun;
mod params;
mod rollback;
mod routing;
mod scheduler;
pub mod validate;

pub use auth::{AuthRequest, Decision, RequestKind, WasmAuth};
pub use builtin::RoutingChoice;
pub use cache::default_cache_dir;
pub use engine::{CacheDir, Deadline, EngineConfig, OnLoop, PolicyEngine};
pub use error::PolicyError;
pub use fallback::Fallback;
pub use host::{Clock, HostState};
pub use metrics::{MetricsSnapshot, PolicyMetrics};
pub use params::{ParamValue, Params};
pub use rollback::{AuthFallback, SchedulerFallback};
pub use routing::WasmRoutingPolicy;
pub use scheduler::{Plan, QueueState, Verdict, WasmScheduler};
pub use validate::LoopCheck;
