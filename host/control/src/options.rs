//! The settings a request carries for a new IPCP: a UDP shim's socket, a shim layer's
//! faults, a unicast IPCP's queue sizes.

use serde::{Deserialize, Serialize};

/// The settings of a UDP shim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UdpOptions {
    /// `address:port` to bind (IPv4 or `[IPv6]`).
    pub bind: String,
    /// Configured peers: (name, `address:port`).
    #[serde(default)]
    pub peers: Vec<(String, String)>,
    /// How many peers may be learned from incoming datagrams.
    #[serde(default)]
    pub max_learned: Option<usize>,
    /// Forget a learned peer silent this long (ms; 0: never).
    #[serde(default)]
    pub learned_ttl_ms: Option<u64>,
    /// Link rate: PDUs per second the daemon hands to the socket (None: as fast as the
    /// socket takes them). Above it, PDUs wait in the IPCP's per-cube queues.
    #[serde(default)]
    pub rate_pps: Option<u64>,
    /// Schedule the ports (per-cube queues, scheduler policy; the default), or `false`:
    /// send PDUs as they are made through the shim's FIFO (the old path, for comparison).
    #[serde(default)]
    pub schedule: Option<bool>,
}

/// A fault-injection setting of a shim layer (UDP or local).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Loss probability.
    pub loss: f64,
    /// Duplication probability.
    pub duplicate: f64,
    /// Reordering probability.
    pub reorder: f64,
    /// Added delay in milliseconds.
    pub delay_ms: u64,
    /// Link down.
    pub down: bool,
    /// Random seed (0: derived from the node).
    pub seed: u64,
}

impl FaultSpec {
    /// Probabilities must lie between 0 and 1.
    pub fn check(&self) -> Result<(), String> {
        for (what, v) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("fault {what} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// The queue sizes of a unicast IPCP; `None` keeps the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueOptions {
    /// PDUs each per-cube queue of a scheduled port holds (default 1024; ECN marking starts
    /// at three quarters of it).
    #[serde(default)]
    pub cube_pdus: Option<u32>,
    /// PDUs the management queue of a scheduled port holds (default 1,024).
    #[serde(default)]
    pub mgmt_pdus: Option<u32>,
    /// SDUs kept per flow for its application while its socket is full (default 4,096).
    #[serde(default)]
    pub backlog_sdus: Option<u32>,
    /// Bytes kept per flow for its application while its socket is full (default 4 MiB).
    #[serde(default)]
    pub backlog_bytes: Option<u64>,
}

impl QueueOptions {
    /// The accepted range of each size: (name, value, least, most).
    fn ranges(&self) -> [(&'static str, Option<u64>, u64, u64); 4] {
        [
            ("queue_pdus", self.cube_pdus.map(u64::from), 1, 65_536),
            ("mgmt_queue_pdus", self.mgmt_pdus.map(u64::from), 16, 65_536),
            ("backlog_sdus", self.backlog_sdus.map(u64::from), 1, 1 << 20),
            ("backlog_bytes", self.backlog_bytes, 1 << 16, 1 << 30),
        ]
    }

    /// Every size set lies in its range (a backlog holds at least one 64 KiB message).
    pub fn check(&self) -> Result<(), String> {
        for (what, v, least, most) in self.ranges() {
            if let Some(v) = v
                && !(least..=most).contains(&v)
            {
                return Err(format!(
                    "{what} must be between {least} and {most} (got {v})"
                ));
            }
        }
        Ok(())
    }

    /// True if no size is set.
    pub fn is_default(&self) -> bool {
        *self == QueueOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_sizes_are_checked_against_their_ranges() {
        let q = |f: fn(&mut QueueOptions)| {
            let mut o = QueueOptions::default();
            f(&mut o);
            o.check()
        };
        assert_eq!(q(|_| {}), Ok(()));
        assert_eq!(q(|o| o.cube_pdus = Some(65_536)), Ok(()));
        assert!(q(|o| o.cube_pdus = Some(65_537)).is_err_and(|e| e.contains("queue_pdus")));
        assert!(q(|o| o.mgmt_pdus = Some(15)).is_err_and(|e| e.contains("mgmt_queue_pdus")));
        assert!(q(|o| o.backlog_sdus = Some(0)).is_err_and(|e| e.contains("backlog_sdus")));
        assert_eq!(q(|o| o.backlog_bytes = Some(1 << 16)), Ok(()));
        assert!(q(|o| o.backlog_bytes = Some((1 << 30) + 1)).is_err());
    }
}
