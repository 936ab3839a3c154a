//! The flow list ([`FlowInfo`], what `ouro flows --json` prints): applications' flows in
//! unicast layers, flows through local layers, and the N-1 flows that carry the ports of
//! IPCPs above.

use serde::{Deserialize, Serialize};

/// One flow of this system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowInfo {
    /// The layer it runs in.
    pub layer: String,
    /// This system's IPCP in that layer (a local layer's own name).
    pub ipcp: String,
    /// The flow id (the endpoint id in its layer).
    pub flow: u32,
    /// The name it was allocated to or accepted on (an N-1 flow: the peer IPCP's name, if
    /// known).
    pub name: Option<String>,
    /// Its QoS preset.
    pub qos: String,
    /// Messages and bytes each way.
    #[serde(flatten)]
    pub traffic: Traffic,
    /// What kind of flow, with what only that kind has.
    #[serde(flatten)]
    pub kind: FlowKind,
}

/// Messages and bytes each way, and the messages that could not be sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Messages sent (from the application into the layer).
    pub tx_msgs: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Messages received (from the layer to the application).
    pub rx_msgs: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Messages that could not be sent.
    pub tx_errors: u64,
}

/// Back-pressure between an application and its flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backpressure {
    /// Messages dropped towards the application (its backlog was full).
    pub rx_drops: u64,
    /// Messages from the application held, waiting for room or rate.
    pub held: usize,
    /// Times the flow was paused (its socket not read).
    pub pauses: u64,
    /// Times its deep backlog towards the application was reported as congestion.
    pub congestion_reports: u64,
}

/// The kinds of flow, each with its own fields (on the wire they sit beside the common
/// ones, untagged: an N-1 flow has `n1_for`, an application's flow `held`, a local one
/// `peer_pid`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FlowKind {
    /// An N-1 flow: a port of an IPCP above.
    N1 {
        /// The IPCP above whose port it is.
        n1_for: String,
        /// The port.
        port: u32,
    },
    /// An application's flow in a unicast layer.
    App {
        /// The remote end's endpoint id, once known.
        remote_eid: Option<u32>,
        /// The remote IPCP's address, once known.
        remote_address: Option<u32>,
        /// The hash of the name in the layer, hex.
        name_hash: String,
        /// Milliseconds since the flow was allocated.
        age_ms: u64,
        /// Back-pressure towards and from the application.
        #[serde(flatten)]
        backpressure: Backpressure,
        /// The sender's congestion control (none once the core forgot the flow).
        cc: Option<CcState>,
        /// The application's process id, if known.
        pid: Option<u32>,
    },
    /// A flow through a local layer, between two applications of this system.
    Local {
        /// Always none: a local layer carries names, not hashes.
        name_hash: Option<String>,
        /// Milliseconds since the flow was allocated.
        age_ms: u64,
        /// Messages dropped towards the accepting application.
        rx_drops: u64,
        /// The allocating application's process id, if known.
        pid: Option<u32>,
        /// The accepting application's process id, if known.
        peer_pid: Option<u32>,
    },
}

/// A flow sender's congestion control.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CcState {
    /// The send rate in PDUs per second (none: not limited).
    pub rate_pps: Option<u64>,
    /// The measured send rate.
    pub measured_pps: u64,
    /// Congestion signals received.
    pub signals: u64,
    /// Rate decreases.
    pub decreases: u64,
    /// Times the limit was lifted.
    pub releases: u64,
    /// Times a write waited for send credit.
    pub waits: u64,
    /// Congestion echoes sent for this flow.
    pub echoes_sent: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn each_kind_of_row_reads_back_as_itself() {
        let rows = json!([
            {"layer": "net", "ipcp": "a.net", "flow": 3, "name": "echo", "name_hash": "ab",
             "qos": "raw", "age_ms": 5, "tx_msgs": 1, "tx_bytes": 2, "rx_msgs": 3,
             "rx_bytes": 4, "rx_drops": 0, "tx_errors": 0, "held": 0, "pauses": 0,
             "congestion_reports": 0, "cc": null, "pid": 42, "remote_eid": null,
             "remote_address": 7},
            {"layer": "lo", "ipcp": "lo", "flow": 1, "name": "x", "name_hash": null,
             "qos": "raw", "age_ms": 5, "tx_msgs": 0, "tx_bytes": 0, "rx_msgs": 0,
             "rx_bytes": 0, "rx_drops": 0, "tx_errors": 0, "pid": null, "peer_pid": 9},
            {"layer": "low", "ipcp": "a.low", "flow": 2, "name": null, "qos": "raw",
             "n1_for": "a.up", "port": 4, "tx_msgs": 0, "tx_bytes": 0, "tx_errors": 0,
             "rx_msgs": 0, "rx_bytes": 0},
        ]);
        let flows: Vec<FlowInfo> = serde_json::from_value(rows.clone()).expect("reads");
        assert!(matches!(flows[0].kind, FlowKind::App { pid: Some(42), .. }));
        assert!(matches!(
            flows[1].kind,
            FlowKind::Local {
                peer_pid: Some(9),
                ..
            }
        ));
        assert!(matches!(&flows[2].kind, FlowKind::N1 { n1_for, port: 4 } if n1_for == "a.up"));
        // Written back: the same documents, field for field (nulls included).
        let back: Value = serde_json::to_value(&flows).expect("writes");
        assert_eq!(back, rows);
    }
}
