//! The host interface every policy imports: log, monotonic clock, parameters.

use crate::bindings::routing::ouro::policy::host::{Host, Level, ParamValue as WitParam};
use crate::call::Limits;
use crate::metrics::PolicyMetrics;
use crate::overrun::Overrun;
use crate::params::{ParamValue, Params};
use std::sync::Arc;
use std::time::Instant;

/// Longest log line kept, in bytes.
const MAX_LOG_LINE: usize = 1024;
/// Log lines a policy may write per call; further lines are dropped.
const LOG_LINES_PER_CALL: u32 = 64;

/// What `now-ns` returns.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    /// Nanoseconds since this instant (a router).
    Wall(Instant),
    /// Always 0: the simulator has no wall clock to offer, and runs must be deterministic.
    Frozen,
}

/// The data of one policy store.
pub struct HostState {
    /// Memory and instance limits.
    pub(crate) limits: Limits,
    /// The policy's parameters.
    pub(crate) params: Arc<Params>,
    /// Where log lines go.
    pub(crate) metrics: Arc<PolicyMetrics>,
    /// The clock.
    pub(crate) clock: Clock,
    /// Log lines left for this call.
    pub(crate) log_budget: u32,
    /// A call on the event loop past its deadline.
    pub(crate) overrun: Overrun,
}

impl HostState {
    /// Fresh state for one call.
    pub(crate) fn new(
        limits: Limits,
        params: Arc<Params>,
        metrics: Arc<PolicyMetrics>,
        clock: Clock,
    ) -> Self {
        HostState {
            limits,
            params,
            metrics,
            clock,
            log_budget: LOG_LINES_PER_CALL,
            overrun: Overrun::default(),
        }
    }
}

fn to_wit(v: &ParamValue) -> WitParam {
    match v {
        ParamValue::Boolean(b) => WitParam::Boolean(*b),
        ParamValue::Integer(i) => WitParam::Integer(*i),
        ParamValue::Float(f) => WitParam::Float(*f),
        ParamValue::Text(s) => WitParam::Text(s.clone()),
        ParamValue::TextList(l) => WitParam::TextList(l.clone()),
        ParamValue::Bytes(b) => WitParam::Bytes(b.clone()),
    }
}

impl HostState {
    /// A fresh log allowance for the next call.
    pub(crate) fn reset_log_budget(&mut self) {
        self.log_budget = LOG_LINES_PER_CALL;
    }
}

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        if self.log_budget == 0 {
            return;
        }
        self.log_budget -= 1;
        let mut end = message.len().min(MAX_LOG_LINE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.metrics.guest_log(level, &message[..end]);
    }

    fn now_ns(&mut self) -> u64 {
        match self.clock {
            Clock::Wall(origin) => u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX),
            Clock::Frozen => 0,
        }
    }

    fn param(&mut self, name: String) -> Option<WitParam> {
        self.params.get(&name).map(to_wit)
    }

    fn params(&mut self) -> Vec<(String, WitParam)> {
        self.params
            .iter()
            .map(|(k, v)| (k.clone(), to_wit(v)))
            .collect()
    }
}

/// The routing types interface has no functions; the trait is a marker.
impl crate::bindings::routing::ouro::policy::routing_types::Host for HostState {}

/// The scheduler types interface has no functions; the trait is a marker.
impl crate::bindings::scheduler::ouro::policy::scheduler_types::Host for HostState {}

/// The auth types interface has no functions; the trait is a marker.
impl crate::bindings::auth::ouro::policy::auth_types::Host for HostState {}
