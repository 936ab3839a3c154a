//! The IPCP list ([`IpcpInfo`], what `ouro ipcp list` shows).

use serde::{Deserialize, Serialize};

/// One IPCP of this system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IpcpInfo {
    /// The IPCP's name.
    pub name: String,
    /// Its layer (a unicast IPCP: none until bootstrapped or enrolled).
    pub layer: Option<String>,
    /// What kind of IPCP, with what only that kind has (tagged by `type` on the wire).
    #[serde(flatten)]
    pub kind: IpcpDetail,
}

/// What each kind of IPCP reports in the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IpcpDetail {
    /// A UDP shim.
    Udp {
        /// The bound `address:port` (empty if unknown).
        bind: String,
        /// How many peers it has.
        peers: usize,
        /// Whether its ports are scheduled (else FIFO).
        scheduled: bool,
        /// The link's rate in PDUs per second, if limited.
        rate_pps: Option<u64>,
    },
    /// A local shim.
    Local {
        /// The IPCPs joined through it.
        members: Vec<String>,
    },
    /// A unicast IPCP.
    Unicast {
        /// Whether it is a member of its layer.
        enrolled: bool,
        /// Its address in the layer.
        address: u32,
        /// The layer below, if set.
        lower: Option<String>,
        /// How many neighbours it has.
        neighbors: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_kind_is_the_type_field() {
        let rows = json!([
            {"name": "udp", "layer": "udp", "type": "udp", "bind": "127.0.0.1:1",
             "peers": 2, "scheduled": true, "rate_pps": null},
            {"name": "lo", "layer": "lo", "type": "local", "members": ["a"]},
            {"name": "a.net", "layer": null, "type": "unicast", "enrolled": false,
             "address": 0, "lower": null, "neighbors": 0},
        ]);
        let list: Vec<IpcpInfo> = serde_json::from_value(rows.clone()).expect("reads");
        assert!(matches!(list[0].kind, IpcpDetail::Udp { peers: 2, .. }));
        assert!(matches!(
            list[2].kind,
            IpcpDetail::Unicast {
                enrolled: false,
                ..
            }
        ));
        assert_eq!(serde_json::to_value(&list).expect("writes"), rows);
    }
}
