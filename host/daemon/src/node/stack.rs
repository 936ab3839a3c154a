//! Recursion as `ouro status` and `ouro flows` show it: the N-1 flows the node keeps for
//! the IPCPs over unicast layers (`ouro_node` runs them: allocation, retries, and pulling
//! the upper IPCPs' queues into the flows as far as they have room).

use super::Daemon;
use ouro_control::{FlowInfo, FlowKind, N1Port, Traffic};
use ouro_node::IpcpId;

impl Daemon {
    /// The ports of upper IPCP `li` (N-1 flows) with their counters, as the UDP ports'
    /// are shown: each way PDUs and bytes, and PDUs the lower layer refused.
    pub(super) fn n1_ports(&self, li: usize) -> Vec<N1Port> {
        self.node
            .n1_ports(IpcpId::of_index(li))
            .into_iter()
            .map(|p| {
                let lo = p.lower.index();
                N1Port {
                    port: p.port.0,
                    peer: p.peer,
                    remote_address: self.ip(lo).flow_peer(p.flow).map(|r| r.0.0),
                    lower: self.layers[lo].ipcp_name.clone(),
                    flow: p.flow.0,
                    rx_pdus: p.rx_pdus,
                    rx_bytes: p.rx_bytes,
                    tx_pdus: p.tx_pdus,
                    tx_bytes: p.tx_bytes,
                    tx_drops: p.tx_drops,
                    waits: p.waits,
                }
            })
            .collect()
    }

    /// The N-1 flows, for `ouro flows`.
    pub(super) fn n1_flows(&self) -> Vec<FlowInfo> {
        let mut v: Vec<FlowInfo> = Vec::new();
        for (up, l) in self.layers.iter().enumerate().filter(|(_, l)| !l.destroyed) {
            for p in self.node.n1_ports(IpcpId::of_index(up)) {
                let lo = p.lower.index();
                v.push(FlowInfo {
                    layer: self.layers[lo].name.clone(),
                    ipcp: self.layers[lo].ipcp_name.clone(),
                    flow: p.flow.0,
                    name: p.peer,
                    qos: "raw".into(),
                    traffic: Traffic {
                        tx_msgs: p.tx_pdus,
                        tx_bytes: p.tx_bytes,
                        rx_msgs: p.rx_pdus,
                        rx_bytes: p.rx_bytes,
                        tx_errors: p.tx_drops,
                    },
                    kind: FlowKind::N1 {
                        n1_for: l.ipcp_name.clone(),
                        port: p.port.0,
                    },
                });
            }
        }
        v.sort_by(|a, b| (&a.layer, a.flow).cmp(&(&b.layer, b.flow)));
        v
    }
}
