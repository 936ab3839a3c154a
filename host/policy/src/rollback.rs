//! Rollback for schedulers and auth policies, as [`crate::Fallback`] does for routing: a
//! newly loaded policy is on probation for its first calls; if one of them fails, the
//! previous policy is restored and answers that call instead. After probation a failure
//! is returned to the IPCP, which applies its own fail-safe: the last good plan for a
//! scheduler, a denial for an auth policy.

use ouro_core::auth::{AuthError, AuthPolicy, AuthRequest, Decision};
use ouro_core::sched::{Plan, QueueState, SchedError, SchedulerPolicy};

/// The probation bookkeeping shared by the wrappers.
struct Probation<P: ?Sized> {
    current: Box<P>,
    previous: Option<Box<P>>,
    left: u32,
    rollbacks: u64,
    cause: Option<String>,
}

impl<P: ?Sized> Probation<P> {
    fn new(new: Box<P>, previous: Box<P>, probation: u32) -> Self {
        Probation {
            current: new,
            previous: (probation > 0).then_some(previous),
            left: probation,
            rollbacks: 0,
            cause: None,
        }
    }

    /// Run `call` on the current policy; on failure during probation, roll back to the
    /// previous policy and run `call` on it.
    fn call<T, E: ToString>(
        &mut self,
        mut call: impl FnMut(&mut P) -> Result<T, E>,
    ) -> Result<T, E> {
        match call(&mut self.current) {
            Ok(v) => {
                if self.previous.is_some() {
                    self.left = self.left.saturating_sub(1);
                    if self.left == 0 {
                        self.previous = None;
                    }
                }
                Ok(v)
            }
            Err(e) => match self.previous.take() {
                Some(previous) => {
                    self.current = previous;
                    self.rollbacks += 1;
                    let cause = e.to_string();
                    tracing::warn!(%cause, "new policy failed on probation; rolled back");
                    self.cause = Some(cause);
                    call(&mut self.current)
                }
                None => Err(e),
            },
        }
    }
}

macro_rules! probation_accessors {
    () => {
        /// True while the new policy is on probation (a failure would roll it back).
        pub fn on_probation(&self) -> bool {
            self.0.previous.is_some()
        }

        /// How many times the policy was rolled back (0 or 1).
        pub fn rollbacks(&self) -> u64 {
            self.0.rollbacks
        }

        /// The failure that caused the rollback, if any.
        pub fn rollback_cause(&self) -> Option<&str> {
            self.0.cause.as_deref()
        }
    };
}

/// A scheduler with a fallback to the one it replaced.
pub struct SchedulerFallback(Probation<dyn SchedulerPolicy>);

impl std::fmt::Debug for SchedulerFallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerFallback")
            .field("current", &self.0.current.name())
            .field("probation", &self.0.left)
            .finish()
    }
}

impl SchedulerFallback {
    /// Put `new` in force; `previous` takes over again if any of `new`'s first
    /// `probation` batches fails.
    pub fn new(
        new: Box<dyn SchedulerPolicy>,
        previous: Box<dyn SchedulerPolicy>,
        probation: u32,
    ) -> Self {
        SchedulerFallback(Probation::new(new, previous, probation))
    }

    probation_accessors!();
}

impl SchedulerPolicy for SchedulerFallback {
    fn name(&self) -> &str {
        self.0.current.name()
    }

    fn schedule(&mut self, budget: u32, queues: &[QueueState]) -> Result<Plan, SchedError> {
        // A plan the core would reject counts as a failure here too.
        self.0.call(|p| {
            let plan = p.schedule(budget, queues)?;
            ouro_core::sched::validate(budget, queues, &plan).map_err(SchedError::Invalid)?;
            Ok(plan)
        })
    }
}

/// An auth policy with a fallback to the one it replaced.
pub struct AuthFallback(Probation<dyn AuthPolicy>);

impl std::fmt::Debug for AuthFallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthFallback")
            .field("current", &self.0.current.name())
            .field("probation", &self.0.left)
            .finish()
    }
}

impl AuthFallback {
    /// Put `new` in force; `previous` takes over again if any of `new`'s first
    /// `probation` requests fails (a denial is not a failure).
    pub fn new(new: Box<dyn AuthPolicy>, previous: Box<dyn AuthPolicy>, probation: u32) -> Self {
        AuthFallback(Probation::new(new, previous, probation))
    }

    probation_accessors!();
}

impl AuthPolicy for AuthFallback {
    fn name(&self) -> &str {
        self.0.current.name()
    }

    fn authorize(&mut self, request: &AuthRequest) -> Result<Decision, AuthError> {
        self.0.call(|p| p.authorize(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ouro_core::auth::{AllowAll, RequestKind};
    use ouro_core::sched::StrictPriority;

    struct Broken;
    impl SchedulerPolicy for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn schedule(&mut self, _: u32, _: &[QueueState]) -> Result<Plan, SchedError> {
            Ok(Plan {
                takes: vec![(99, 1)],
                actions: vec![],
            })
        }
    }
    impl AuthPolicy for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn authorize(&mut self, _: &AuthRequest) -> Result<Decision, AuthError> {
            Err(AuthError("trap".into()))
        }
    }

    fn queues() -> [QueueState; 1] {
        [QueueState {
            id: 1,
            cube: 1,
            packets: 3,
            bytes: 300,
            head_age: std::time::Duration::ZERO,
            drops: 0,
        }]
    }

    #[test]
    fn invalid_plan_on_probation_rolls_back_to_the_previous_scheduler() {
        let mut f =
            SchedulerFallback::new(Box::new(Broken), Box::new(StrictPriority::default()), 3);
        let plan = f.schedule(2, &queues()).expect("previous answers");
        assert_eq!(plan.takes, vec![(1, 2)]);
        assert_eq!((f.name(), f.rollbacks()), ("native-strict-priority", 1));
        assert!(
            f.rollback_cause()
                .is_some_and(|c| c.contains("unknown queue"))
        );
    }

    #[test]
    fn failure_after_probation_is_returned() {
        let mut f =
            SchedulerFallback::new(Box::new(Broken), Box::new(StrictPriority::default()), 0);
        assert!(f.schedule(2, &queues()).is_err());
        assert_eq!(f.rollbacks(), 0);
    }

    #[test]
    fn failing_auth_on_probation_rolls_back() {
        let request = AuthRequest {
            kind: RequestKind::Flow,
            layer: "l".into(),
            peer_key: None,
            name_hash: vec![1],
            cube: 1,
        };
        let mut f = AuthFallback::new(Box::new(Broken), Box::new(AllowAll), 2);
        assert!(f.authorize(&request).expect("previous answers").allow);
        assert_eq!(
            (f.name(), f.rollbacks(), f.on_probation()),
            ("native-allow-all", 1, false)
        );
        let mut g = AuthFallback::new(Box::new(Broken), Box::new(AllowAll), 0);
        assert!(
            g.authorize(&request).is_err(),
            "after probation the IPCP denies"
        );
    }
}
