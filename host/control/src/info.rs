//! The documents a [`Reply::Info`](crate::Reply::Info) carries, one per kind of request
//! that asks for one.

use crate::{FlowInfo, IpcpInfo, NameInfo, PolicyStats, Status};
use serde::{Deserialize, Serialize};

/// A document the daemon answers with. On the wire it is the document itself (no tag): a
/// client decodes it as the type its request asks for ([`Reply::decode`](crate::Reply)
/// with `I` = [`Status`], `Vec<FlowInfo>`, ...). Decoded as `Info`, the variant is
/// guessed from the fields, and an empty list reads as [`Info::Flows`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Info {
    /// The answer to [`Request::Status`](crate::Request::Status).
    Status(Box<Status>),
    /// The answer to [`Request::ListFlows`](crate::Request::ListFlows).
    Flows(Vec<FlowInfo>),
    /// The answer to [`Request::ListNames`](crate::Request::ListNames).
    Names(Vec<NameInfo>),
    /// The answer to [`Request::ListIpcps`](crate::Request::ListIpcps).
    Ipcps(Vec<IpcpInfo>),
    /// The answer to [`Request::PolicyStats`](crate::Request::PolicyStats).
    Policies(Vec<PolicyStats>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_reads_as_the_kind_its_rows_are() {
        let names = json!([{"name": "echo", "layers": ["net"], "programs": [], "pids": [],
            "listeners": 1, "listener_pids": [42]}]);
        let info: Info = serde_json::from_value(names.clone()).expect("reads");
        assert!(matches!(&info, Info::Names(v) if v[0].listener_pids == [42]));
        assert_eq!(serde_json::to_value(&info).expect("writes"), names);
        let policies = json!([{"layer": "net", "kind": "auth", "policy": "native",
            "in_force": "allow-all", "rolled_back": false, "wasm": false, "calls": 0,
            "failures": 0, "core_failures": 0, "p50_ns": 0, "p99_ns": 0, "fuel": 0,
            "last_error": null, "logs_suppressed": 0, "auth_denied": 3}]);
        let info: Info = serde_json::from_value(policies).expect("reads");
        assert!(matches!(&info, Info::Policies(v) if v[0].auth_denied == Some(3)));
        let empty: Info = serde_json::from_value(json!([])).expect("reads");
        assert_eq!(empty, Info::Flows(Vec::new()));
    }
}
