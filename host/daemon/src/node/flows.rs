//! Listing flows: every flow of this system with its layer, endpoint ids (local and remote,
//! and the remote IPCP's address), remote name (and its hash in the layer), QoS, age,
//! messages and bytes each way, back-pressure and congestion-control state, and the
//! owning process.

use super::Daemon;
use ouro_control::{CcState, FlowInfo, FlowKind, Traffic};
use ouro_core::identity::hex;

impl Daemon {
    /// The flows of this system (what `ouro flows` prints and `ouro status --json` holds).
    pub(super) fn flow_list(&self) -> Vec<FlowInfo> {
        let now = self.now();
        let mut rows: Vec<FlowInfo> = self
            .flows
            .iter()
            .map(|((li, eid), s)| {
                let l = &self.layers[*li];
                let ip = self.ip(*li);
                let f = self
                    .node
                    .flow_stats(Self::fid((*li, *eid)))
                    .unwrap_or_default();
                let hash = ip.hash_name(&s.name);
                let peer = ip.flow_peer(*eid);
                let cc = ip.flow_cc(*eid).map(|c| CcState {
                    rate_pps: c.rate_pps,
                    measured_pps: c.measured_pps,
                    signals: c.stats.signals,
                    decreases: c.stats.decreases,
                    releases: c.stats.releases,
                    waits: c.stats.waits,
                    echoes_sent: c.echoes_sent,
                });
                FlowInfo {
                    layer: l.name.clone(),
                    ipcp: l.ipcp_name.clone(),
                    flow: eid.0,
                    name: Some(s.name.clone()),
                    qos: s.qos.clone(),
                    traffic: s.traffic(&f),
                    kind: FlowKind::App {
                        remote_eid: peer.map(|p| p.1.0),
                        remote_address: peer.map(|p| p.0.0),
                        name_hash: hex(hash.as_bytes()),
                        age_ms: now.saturating_duration_since(s.created).as_millis() as u64,
                        backpressure: s.backpressure(&f),
                        cc,
                        pid: s.pid,
                    },
                }
            })
            .collect();
        for (id, f) in &self.local_flows {
            rows.push(FlowInfo {
                layer: f.layer.clone(),
                ipcp: f.layer.clone(),
                flow: *id,
                name: Some(f.name.clone()),
                qos: f.qos.clone(),
                traffic: Traffic {
                    tx_msgs: f.msgs[0],
                    tx_bytes: f.bytes[0],
                    rx_msgs: f.msgs[1],
                    rx_bytes: f.bytes[1],
                    tx_errors: f.drops[0],
                },
                kind: FlowKind::Local {
                    name_hash: None,
                    age_ms: now.saturating_duration_since(f.created).as_millis() as u64,
                    rx_drops: f.drops[1],
                    pid: f.pids[0],
                    peer_pid: f.pids[1],
                },
            });
        }
        rows.sort_by(|a, b| (&a.layer, a.flow).cmp(&(&b.layer, b.flow)));
        rows.extend(self.n1_flows());
        rows
    }
}
