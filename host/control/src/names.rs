//! The name list ([`NameInfo`], what `ouro name list` shows).

use serde::{Deserialize, Serialize};

/// One name known here: created, bound, registered or listened on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameInfo {
    /// The name.
    pub name: String,
    /// The layers it is registered in.
    pub layers: Vec<String>,
    /// The programs bound to it.
    pub programs: Vec<String>,
    /// The processes bound to it.
    pub pids: Vec<u32>,
    /// How many applications listen on it.
    pub listeners: usize,
    /// The listening applications' process ids (those known).
    pub listener_pids: Vec<u32>,
}
