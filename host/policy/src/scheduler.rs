//! [`WasmScheduler`]: a packet scheduler component, called once per batch on one port.
//!
//! Unlike routing, the instance is kept between batches (a call costs well under a
//! microsecond instead of ~25 µs, and weighted schedulers keep their credit); it is replaced
//! after a trap or timeout, which loses the guest's state. The plan is validated; on any
//! failure the caller keeps applying its last good plan ([`WasmScheduler::last_good`]).

use crate::PolicyError;
use crate::bindings::scheduler::ouro::policy::scheduler_types::{
    Plan as WitPlan, QueueState as WitQueue, Verdict as WitVerdict,
};
use crate::bindings::scheduler::{Scheduler, SchedulerPre};
use crate::call::{Caller, Hook};
use crate::engine::PolicyEngine;
use crate::host::HostState;
use crate::metrics::PolicyMetrics;
use crate::params::Params;
pub use ouro_core::sched::{Plan, QueueState, Verdict};
use ouro_core::sched::{SchedError, SchedulerPolicy};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::Store;
use wasmtime::component::HasSelf;

/// A scheduler running as a Wasm component.
pub struct WasmScheduler {
    caller: Caller,
    pre: SchedulerPre<HostState>,
    live: Option<(Store<HostState>, Scheduler)>,
    last_good: Option<Plan>,
}

impl std::fmt::Debug for WasmScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmScheduler")
            .field("name", &self.caller.name)
            .finish()
    }
}

impl WasmScheduler {
    /// Compile (or fetch from the cache) and link the component `wasm` as scheduler `name`.
    pub fn load(
        engine: &PolicyEngine,
        name: &str,
        wasm: &[u8],
        params: Params,
    ) -> Result<Self, PolicyError> {
        let caller = Caller::new(engine, Hook::Scheduler, name, params);
        let pre = caller.link(
            engine,
            wasm,
            |linker| Scheduler::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s),
            SchedulerPre::new,
        )?;
        Ok(WasmScheduler {
            caller,
            pre,
            live: None,
            last_good: None,
        })
    }

    /// The call metrics.
    pub fn metrics(&self) -> Arc<PolicyMetrics> {
        self.caller.metrics.clone()
    }

    /// The last plan that passed validation, to keep applying after a failure.
    pub fn last_good(&self) -> Option<&Plan> {
        self.last_good.as_ref()
    }

    /// Plan one batch of at most `budget` packets over `queues`. A trap, timeout or invalid
    /// plan is an error (counted); the instance is then replaced on the next call.
    pub fn schedule(&mut self, budget: u32, queues: &[QueueState]) -> Result<Plan, PolicyError> {
        let start = Instant::now();
        let (result, fuel) = self.schedule_unrecorded(budget, queues);
        let error = result.as_ref().err().map(ToString::to_string);
        self.caller.metrics.record(start.elapsed(), fuel, error);
        match result {
            Ok(plan) => {
                self.last_good = Some(plan.clone());
                Ok(plan)
            }
            Err(e) => {
                // A trapped instance cannot be reused; a fresh one is made next time.
                self.live = None;
                Err(e)
            }
        }
    }

    fn schedule_unrecorded(
        &mut self,
        budget: u32,
        queues: &[QueueState],
    ) -> (Result<Plan, PolicyError>, u64) {
        let wit: Vec<WitQueue> = queues
            .iter()
            .map(|q| WitQueue {
                id: q.id,
                cube: q.cube,
                packets: q.packets,
                bytes: q.bytes,
                head_age_ns: u64::try_from(q.head_age.as_nanos()).unwrap_or(u64::MAX),
                drops: q.drops,
            })
            .collect();
        let live = match self.live.take() {
            Some(live) => live,
            None => {
                let made = self.caller.store().and_then(|mut store| {
                    let inst = self
                        .pre
                        .instantiate(&mut store)
                        .map_err(|e| self.caller.classify(e))?;
                    Ok((store, inst))
                });
                match made {
                    Ok(live) => live,
                    Err(e) => return (Err(e), 0),
                }
            }
        };
        let (mut store, inst) = live;
        if let Err(e) = self.caller.arm(&mut store) {
            return (Err(e), 0);
        }
        let out = inst
            .call_schedule(&mut store, budget, &wit)
            .map_err(|e| self.caller.classify(e));
        let fuel = self.caller.fuel_used(&store);
        self.live = Some((store, inst));
        let result = out.and_then(|plan| {
            validate(budget, queues, &plan).map_err(|reason| PolicyError::InvalidOutput {
                name: self.caller.name.clone(),
                reason,
            })
        });
        (result, fuel)
    }
}

/// Convert the guest's plan and check it against the queues (the core's rules).
fn validate(budget: u32, queues: &[QueueState], plan: &WitPlan) -> Result<Plan, String> {
    let plan = Plan {
        takes: plan.takes.iter().map(|t| (t.queue, t.packets)).collect(),
        actions: plan
            .actions
            .iter()
            .map(|a| {
                let v = match a.verdict {
                    WitVerdict::Drop => Verdict::Drop,
                    WitVerdict::MarkEcn => Verdict::MarkEcn,
                };
                (a.queue, a.packets, v)
            })
            .collect(),
    };
    ouro_core::sched::validate(budget, queues, &plan)?;
    Ok(plan)
}

impl SchedulerPolicy for WasmScheduler {
    fn name(&self) -> &str {
        &self.caller.name
    }

    /// One guest call per batch; a failure (counted in the metrics) is an error, and the
    /// IPCP applies its last good plan.
    fn schedule(&mut self, budget: u32, queues: &[QueueState]) -> Result<Plan, SchedError> {
        WasmScheduler::schedule(self, budget, queues).map_err(|e| SchedError::Failed(e.to_string()))
    }
}
