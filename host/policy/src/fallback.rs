//! Rollback: a newly loaded routing policy is on probation for its first calls; if one of
//! them fails, the previous policy is restored and computes the table instead.

use ouro_core::Address;
use ouro_core::routing::{RoutingError, RoutingPolicy, RoutingTable, Topology};

/// A routing policy with a fallback: wraps the new policy and the one it replaces.
pub struct Fallback {
    current: Box<dyn RoutingPolicy>,
    previous: Option<Box<dyn RoutingPolicy>>,
    probation: u32,
    rollbacks: u64,
    last_failure: Option<RoutingError>,
}

impl std::fmt::Debug for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fallback")
            .field("current", &self.current.name())
            .field(
                "previous",
                &self.previous.as_ref().map(|p| p.name().to_string()),
            )
            .field("probation", &self.probation)
            .finish()
    }
}

impl Fallback {
    /// Put `new` in force; `previous` takes over again if any of `new`'s first
    /// `probation` calls fails. After `probation` successful calls `previous` is dropped.
    pub fn new(
        new: Box<dyn RoutingPolicy>,
        previous: Box<dyn RoutingPolicy>,
        probation: u32,
    ) -> Fallback {
        Fallback {
            current: new,
            previous: (probation > 0).then_some(previous),
            probation,
            rollbacks: 0,
            last_failure: None,
        }
    }

    /// True while the new policy is on probation (a failure would roll it back).
    pub fn on_probation(&self) -> bool {
        self.previous.is_some()
    }

    /// How many times the policy was rolled back (0 or 1).
    pub fn rollbacks(&self) -> u64 {
        self.rollbacks
    }

    /// The failure that caused the rollback, if any.
    pub fn rollback_cause(&self) -> Option<&RoutingError> {
        self.last_failure.as_ref()
    }
}

impl RoutingPolicy for Fallback {
    fn name(&self) -> &str {
        self.current.name()
    }

    fn compute(&mut self, own: Address, topology: &Topology) -> Result<RoutingTable, RoutingError> {
        match self.current.compute(own, topology) {
            Ok(table) => {
                if self.previous.is_some() {
                    self.probation = self.probation.saturating_sub(1);
                    if self.probation == 0 {
                        self.previous = None;
                    }
                }
                Ok(table)
            }
            Err(e) => match self.previous.take() {
                Some(previous) => {
                    self.current = previous;
                    self.rollbacks += 1;
                    self.last_failure = Some(e);
                    self.current.compute(own, topology)
                }
                None => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ouro_core::routing::NativeSpf;

    /// Fails on call number `fail_at` (0-based) and later.
    struct FailFrom(u32, u32);
    impl RoutingPolicy for FailFrom {
        fn name(&self) -> &str {
            "fail-from"
        }
        fn compute(&mut self, _: Address, _: &Topology) -> Result<RoutingTable, RoutingError> {
            self.1 += 1;
            if self.1 > self.0 {
                Err(RoutingError::Failed("boom".into()))
            } else {
                Ok(RoutingTable::default())
            }
        }
    }

    fn topo() -> Topology {
        Topology::from_links([(Address(1), Address(2), 1), (Address(2), Address(1), 1)])
    }

    #[test]
    fn failing_new_policy_rolls_back_and_previous_answers() {
        let mut f = Fallback::new(Box::new(FailFrom(0, 0)), Box::new(NativeSpf::new()), 3);
        let table = f
            .compute(Address(1), &topo())
            .expect("previous policy answers");
        assert_eq!(table.routes.len(), 1);
        assert_eq!(
            (f.name(), f.rollbacks(), f.on_probation()),
            ("native", 1, false)
        );
    }

    #[test]
    fn failure_after_probation_is_not_rolled_back() {
        let mut f = Fallback::new(Box::new(FailFrom(2, 0)), Box::new(NativeSpf::new()), 2);
        assert!(f.compute(Address(1), &topo()).is_ok());
        assert!(f.compute(Address(1), &topo()).is_ok());
        assert!(!f.on_probation());
        assert!(f.compute(Address(1), &topo()).is_err());
        assert_eq!((f.name(), f.rollbacks()), ("fail-from", 0));
    }
}
