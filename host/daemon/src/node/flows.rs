//! Listing flows: every flow of this system with its layer, endpoint ids (local and remote,
//! and the remote IPCP's address), remote name (and its hash in the layer), QoS, age,
//! messages and bytes each way, back-pressure and congestion-control state, and the
//! owning process.

use super::Daemon;
use ouro_core::identity::hex;
use serde_json::json;

impl Daemon {
    /// The flows of this system (what `ouro flows` prints and `ouro status --json` holds).
    pub(super) fn flows_json(&self) -> serde_json::Value {
        let now = self.now();
        let mut rows: Vec<(String, u32, serde_json::Value)> = self
            .flows
            .iter()
            .map(|((li, eid), s)| {
                let l = &self.layers[*li];
                let hash = l.ipcp.hash_name(&s.name);
                let peer = l.ipcp.flow_peer(*eid);
                let cc = l.ipcp.flow_cc(*eid).map(|c| {
                    json!({
                        "rate_pps": c.rate_pps, "measured_pps": c.measured_pps,
                        "signals": c.stats.signals, "decreases": c.stats.decreases,
                        "releases": c.stats.releases, "waits": c.stats.waits,
                        "echoes_sent": c.echoes_sent,
                    })
                });
                (
                    l.name.clone(),
                    eid.0,
                    json!({
                        "layer": l.name,
                        "ipcp": l.ipcp_name,
                        "flow": eid.0,
                        "remote_eid": peer.map(|p| p.1.0),
                        "remote_address": peer.map(|p| p.0.0),
                        "name": s.name,
                        "name_hash": hex(hash.as_bytes()),
                        "qos": s.qos,
                        "age_ms": now.saturating_duration_since(s.created).as_millis() as u64,
                        "tx_msgs": s.tx_msgs, "tx_bytes": s.tx_bytes,
                        "rx_msgs": s.rx_msgs, "rx_bytes": s.rx_bytes,
                        "rx_drops": s.rx_drops, "tx_errors": s.tx_errors,
                        "held": s.held.len(), "pauses": s.pauses,
                        "congestion_reports": s.congestion_reports, "cc": cc,
                        "pid": s.pid,
                    }),
                )
            })
            .collect();
        for (id, f) in &self.local_flows {
            rows.push((
                f.layer.clone(),
                *id,
                json!({
                    "layer": f.layer,
                    "ipcp": f.layer,
                    "flow": id,
                    "name": f.name,
                    "name_hash": null,
                    "qos": f.qos,
                    "age_ms": now.saturating_duration_since(f.created).as_millis() as u64,
                    "tx_msgs": f.msgs[0], "tx_bytes": f.bytes[0],
                    "rx_msgs": f.msgs[1], "rx_bytes": f.bytes[1],
                    "rx_drops": f.drops[1], "tx_errors": f.drops[0],
                    "pid": f.pids[0],
                    "peer_pid": f.pids[1],
                }),
            ));
        }
        rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let mut v: Vec<_> = rows.into_iter().map(|(_, _, v)| v).collect();
        v.extend(self.n1_json());
        json!(v)
    }
}
