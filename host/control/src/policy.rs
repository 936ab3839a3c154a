//! The policies in force and their call metrics ([`PolicyStats`], what `ouro policy stats`
//! shows).

use serde::{Deserialize, Serialize};

/// One policy slot (routing, scheduler or auth) of a unicast layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyStats {
    /// The layer.
    pub layer: String,
    /// `routing`, `scheduler` or `auth`.
    pub kind: String,
    /// What was loaded: `native`, a built-in name or a `.wasm` path.
    pub policy: String,
    /// The policy in force (differs from `policy` after a rollback).
    pub in_force: String,
    /// The loaded policy failed on probation and the previous one is back.
    pub rolled_back: bool,
    /// The loaded policy is a Wasm component.
    pub wasm: bool,
    /// Calls made to the loaded Wasm policy.
    pub calls: u64,
    /// Those calls that failed.
    pub failures: u64,
    /// Failures the IPCP counted for this slot (failed or invalid output, any policy).
    pub core_failures: u64,
    /// Median call time in nanoseconds.
    pub p50_ns: u64,
    /// 99th percentile call time in nanoseconds.
    pub p99_ns: u64,
    /// Wasm fuel used.
    pub fuel: u64,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Log lines of the policy suppressed by rate limiting.
    pub logs_suppressed: u64,
    /// An auth slot: the requests the IPCP denied (none for the other kinds).
    pub auth_denied: Option<u64>,
}
