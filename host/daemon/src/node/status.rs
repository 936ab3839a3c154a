//! The daemon's whole state as the typed [`Status`] document (what `ouro status` shows):
//! its UDP and local shims, each unicast layer with its neighbours, routes, flows, queues,
//! N-1 ports and counters, the flows and the daemon's own counters.

use super::link::LinkAddr;
use super::{Daemon, Layer, ShimSlot, pacer};
use ouro_control::{
    Hop, IpcpCounters, IpcpKind, LayerFlow, LayerStatus, LocalCounters, LocalShimStatus, Neighbor,
    Route, Status, UdpCounters, UdpPeer, UdpShimStatus,
};
use ouro_core::identity::hex;
use ouro_core::ipcp::Counters;
use ouro_shim::Shim;

impl Daemon {
    /// The whole state (what `ouro status --json` prints).
    pub fn status(&self) -> Status {
        Status {
            node: self.node_name.clone(),
            pid: std::process::id(),
            uptime_ms: self.now().as_millis(),
            shims: self
                .shims
                .iter()
                .filter_map(|s| self.udp_status(s))
                .collect(),
            locals: self
                .locals
                .iter()
                .map(|l| {
                    let c = l.shim.counters();
                    LocalShimStatus {
                        name: l.name.clone(),
                        kind: IpcpKind::Local,
                        members: l.shim.members().into_iter().map(|(_, n)| n).collect(),
                        names: l.names.keys().cloned().collect(),
                        counters: LocalCounters {
                            delivered: c.delivered,
                            delivered_bytes: c.delivered_bytes,
                            drop_port: c.drop_port,
                            drop_full: c.drop_full,
                        },
                        faults: self.fault_status(&l.name),
                    }
                })
                .collect(),
            layers: self
                .layers
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.destroyed)
                .map(|(li, l)| self.layer_status(li, l))
                .collect(),
            flows: self.flow_list(),
            pending_allocs: self.pending.len(),
            counters: self.counters(),
        }
    }

    /// Unicast layer `li`.
    fn layer_status(&self, li: usize, l: &Layer) -> LayerStatus {
        let ip = self.ip(li);
        let hop = |(a, p): (ouro_core::Address, ouro_core::PortId)| Hop {
            addr: a.0,
            port: p.0,
        };
        let mut fib: Vec<Route> = ip
            .fib()
            .iter()
            .map(|(dst, e)| Route {
                dst: dst.0,
                next_hops: e.next_hops.iter().copied().map(hop).collect(),
                backup: e.backup.map(hop),
            })
            .collect();
        fib.sort_by_key(|r| r.dst);
        let shim = l
            .shim()
            .and_then(|id| self.shim_index(id))
            .map(|si| &self.shims[si]);
        let neighbors = ip
            .neighbors()
            .into_iter()
            .map(|(p, a)| Neighbor {
                port: p.0,
                address: a.0,
                // A peer's address on the medium (a local shim's members have none).
                endpoint: shim
                    .and_then(|s| s.link.peer_addr(p))
                    .and_then(|x| match x {
                        LinkAddr::Udp(a) => Some(a.to_string()),
                        LinkAddr::Local(_) => None,
                    }),
                name: shim.and_then(|s| s.peer_names.get(&p).cloned()),
            })
            .collect();
        let mut names: Vec<String> = self
            .node
            .registered(ouro_node::IpcpId::of_index(li))
            .map(String::from)
            .collect();
        names.sort();
        let mut flows: Vec<LayerFlow> = self
            .flows
            .iter()
            .filter(|((fl, _), _)| *fl == li)
            .map(|((_, eid), s)| {
                let f = self
                    .node
                    .flow_stats(Self::fid((li, *eid)))
                    .unwrap_or_default();
                LayerFlow {
                    flow: eid.0,
                    name: s.name.clone(),
                    qos: s.qos.clone(),
                    traffic: s.traffic(&f),
                    pid: s.pid,
                    backpressure: s.backpressure(&f),
                }
            })
            .collect();
        flows.sort_by_key(|f| f.flow);
        LayerStatus {
            name: l.name.clone(),
            kind: IpcpKind::Unicast,
            ipcp: l.ipcp_name.clone(),
            lower: self.lower_name(li),
            enrolled: ip.is_enrolled(),
            address: ip.address().0,
            public_key: hex(&ip.public_key()),
            neighbors,
            lsdb: ip.lsdb_len(),
            fib,
            names,
            flows,
            core_flows: ip.flow_count(),
            ports: pacer::port_queues(ip),
            n1_ports: self.n1_ports(li),
            queues: l.queues.sizes(),
            counters: ipcp_counters(&ip.counters()),
        }
    }
}

impl Daemon {
    /// A UDP shim layer (None for a local layer's end: the layer is reported whole).
    fn udp_status(&self, s: &ShimSlot) -> Option<UdpShimStatus> {
        let udp = s.link.udp()?;
        let c = s.link.counters();
        let u = udp.udp_counters();
        Some(UdpShimStatus {
            name: s.name.clone(),
            kind: IpcpKind::Udp,
            bind: udp.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            peers: s
                .link
                .peers()
                .into_iter()
                .map(|(p, a)| UdpPeer {
                    port: p.0,
                    addr: a.to_string(),
                    name: s.peer_names.get(&p).cloned(),
                })
                .collect(),
            faults: self.fault_status(&s.name),
            sched: super::pacer::pacing(&s.pacer),
            counters: UdpCounters {
                rx_datagrams: c.rx_pdus,
                rx_bytes: c.rx_bytes,
                tx_datagrams: c.tx_pdus,
                tx_bytes: c.tx_bytes,
                rx_batches: u.rx_batches,
                tx_syscalls: u.tx_syscalls,
                peers_learned: c.peers.learned,
                peers_expired: c.peers.expired,
                drop_stranger: c.peers.strangers,
                drop_bad: c.drop_rx,
                drop_tx: c.drop_tx,
                rx_overflow: udp.rx_overflow_now(),
                rx_crowded: u.rx_crowded,
            },
        })
    }
}

/// The counters of a unicast IPCP, as reported.
fn ipcp_counters(c: &Counters) -> IpcpCounters {
    IpcpCounters {
        rx_pdus: c.rx_pdus,
        tx_pdus: c.tx_pdus,
        forwarded: c.forwarded,
        delivered: c.delivered,
        drop_malformed: c.drop_malformed,
        drop_ttl: c.drop_ttl,
        drop_no_route: c.drop_no_route,
        drop_unknown_eid: c.drop_unknown_eid,
        drop_not_ready: c.drop_not_ready,
        route_computations: c.route_computations,
        routing_failures: c.routing_failures,
        stale_routes: c.stale_routes,
        lsas_originated: c.lsas_originated,
        drop_queue_full: c.drop_queue_full,
        sched_dropped: c.sched_dropped,
        ecn_marked: c.ecn_marked,
        scheduler_failures: c.scheduler_failures,
        auth_denied: c.auth_denied,
        auth_failures: c.auth_failures,
        denied_by_peer: c.denied_by_peer,
        proof_failures: c.proof_failures,
        flow_refused: c.flow_refused,
        echoes_sent: c.echoes_sent,
        cc_signals: c.cc_signals,
        cc_decreases: c.cc_decreases,
    }
}
