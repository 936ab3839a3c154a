//! Fault injection on any shim layer (`fault = {...}` in the configuration, `ouro fault`):
//! an [`ouro_shim::Faults`] in front of the sends of every shim of the layer — the UDP shim,
//! or each member's end of a local layer (each end its own injector, with the layer's
//! setting, seeded apart). [`Daemon::transmit_on`] passes every PDU through it and the
//! timer releases the delayed ones, whatever the kind of shim.

use super::{Daemon, seed_from};
use crate::control_error::ControlError;
use ouro_control::FaultStatus;
use ouro_shim::{FaultConfig, FaultCounters, Faults};

/// The fault setting of a shim layer, kept for the ends that attach later.
#[derive(Clone, Copy, Debug)]
pub(super) struct FaultSetting {
    /// What to inflict.
    pub(super) config: FaultConfig,
    /// The seed of its random choices (an end's is this plus its member id).
    pub(super) seed: u64,
}

impl FaultSetting {
    /// An injector for a shim of the layer (`salt`: 0 for a UDP shim, a local end's member
    /// id).
    pub(super) fn injector(&self, salt: u64) -> Faults {
        Faults::new(self.config, self.seed.wrapping_add(salt))
    }
}

impl Daemon {
    /// Set the fault injection of shim layer `layer` (a UDP or a local layer): every shim of
    /// it gets an injector with `config` (one that has one keeps its random state and its
    /// delayed PDUs), and a local layer keeps the setting for the members that attach later.
    /// `seed`: of a new injector's random choices (None: from the node's name, or the one
    /// the layer had).
    pub(super) fn set_faults(
        &mut self,
        layer: &str,
        config: FaultConfig,
        seed: Option<u64>,
    ) -> Result<(), ControlError> {
        config
            .check()
            .map_err(|e| ControlError::BadArgument(e.to_string()))?;
        let local = self.local_index(layer);
        let seed = seed
            .or_else(|| local.and_then(|l| self.locals[l].faults.map(|f| f.seed)))
            .unwrap_or_else(|| seed_from(&self.node_name));
        let setting = FaultSetting { config, seed };
        let mut found = false;
        if let Some(l) = local {
            self.locals[l].faults = Some(setting);
            found = true;
        }
        for s in self.shims.iter_mut().filter(|s| s.name == layer) {
            found = true;
            match &mut s.faults {
                Some(f) => f.set_config(config),
                None => {
                    let salt = s.link.local_member().map_or(0, |m| u64::from(m.0));
                    s.faults = Some(setting.injector(salt));
                }
            }
        }
        if found {
            Ok(())
        } else {
            Err(ControlError::UnknownLayer {
                kind: "shim ",
                name: layer.to_string(),
            })
        }
    }

    /// The fault injection of shim layer `layer` as reported: its setting and what its
    /// shims' injectors did, added up (None: faults were never set on it).
    pub(super) fn fault_status(&self, layer: &str) -> Option<FaultStatus> {
        let mut config = self
            .local_index(layer)
            .and_then(|l| self.locals[l].faults.map(|f| f.config));
        let mut n = FaultCounters::default();
        for f in self
            .shims
            .iter()
            .filter(|s| s.name == layer)
            .filter_map(|s| s.faults.as_ref())
        {
            config.get_or_insert(f.config());
            n += f.counters();
        }
        let fc = config?;
        Some(FaultStatus {
            loss: fc.loss,
            duplicate: fc.duplicate,
            reorder: fc.reorder,
            delay_ms: u64::try_from(fc.delay.as_millis()).unwrap_or(u64::MAX),
            down: fc.down,
            lost: n.lost,
            down_drops: n.down_drops,
            duplicated: n.duplicated,
            reordered: n.reordered,
            delayed: n.delayed,
        })
    }
}
