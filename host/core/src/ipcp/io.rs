//! PDU plumbing: building and sending PDUs, receiving and dispatching them, relaying.

use super::{Event, Ipcp, IpcpError};
use crate::routing::flow_hash;
use crate::time::Instant;
use crate::wire::{DtHeader, DtPacket, Lsa, MgmtMsg};
use crate::{Address, Eid, PortId, QosCube};

/// How long advertisements and acknowledgements wait to be sent, so that the ones arriving in
/// a burst share LSU messages (flood pacing, as routers do for OSPF).
pub const FLOOD_PACING: std::time::Duration = std::time::Duration::from_millis(10);

/// Largest management payload we put in one PDU when batching (advertisements, summaries):
/// keeps PDUs under a 1,500-byte N-1 MTU with room for lower-layer headers.
pub(super) const MAX_BATCH_BYTES: usize = 1400;

impl Ipcp {
    /// Send a neighbour-scoped management message on `port` (destination address 0, TTL 1).
    pub(super) fn send_on_port(&mut self, port: PortId, msg: &MgmtMsg) {
        let header = DtHeader {
            dst: Address::NONE,
            src: self.address,
            eid: Eid::MGMT,
            cube: QosCube::BestEffort,
            ttl: 1,
            ecn: 0,
        };
        let mut pdu = Vec::with_capacity(crate::wire::DT_HEADER_LEN + msg.buffer_len());
        header.emit(&mut pdu);
        msg.emit(&mut pdu);
        self.push_transmit(port, None, pdu);
    }

    /// Send a management message to the IPCP at `dst` (routed; looped back if it is us).
    pub(super) fn send_mgmt(&mut self, dst: Address, msg: &MgmtMsg) -> Result<(), IpcpError> {
        let mut payload = Vec::with_capacity(msg.buffer_len());
        msg.emit(&mut payload);
        self.send_routed(dst, Eid::MGMT, QosCube::BestEffort, &payload)
    }

    /// Send `payload` to endpoint `eid` at `dst` through the forwarding table.
    pub(super) fn send_routed(
        &mut self,
        dst: Address,
        eid: Eid,
        cube: QosCube,
        payload: &[u8],
    ) -> Result<(), IpcpError> {
        let port = self.route(dst, eid, cube);
        self.send_routed_via(port, dst, eid, cube, payload)
    }

    /// The port a PDU of `cube` for `(dst, eid)` leaves on (`None`: no route, or `dst` is
    /// this IPCP).
    pub(super) fn route(&self, dst: Address, eid: Eid, cube: QosCube) -> Option<PortId> {
        if dst == self.address {
            return None;
        }
        self.fib
            .lookup_cube(dst, cube, flow_hash(self.address, dst, eid))
    }

    /// [`Ipcp::send_routed`] with the route already looked up: `port` is where
    /// the forwarding table sends `(dst, eid)` in `cube` (`None`: no route; ignored for
    /// `dst` = this IPCP, which is looped back).
    pub(super) fn send_routed_via(
        &mut self,
        port: Option<PortId>,
        dst: Address,
        eid: Eid,
        cube: QosCube,
        payload: &[u8],
    ) -> Result<(), IpcpError> {
        let header = DtHeader {
            dst,
            src: self.address,
            eid,
            cube,
            ttl: self.config.default_ttl,
            ecn: 0,
        };
        let pdu = |ipcp: &mut Ipcp| {
            let mut pdu = ipcp.pdu_buffer(crate::wire::DT_HEADER_LEN + payload.len());
            header.emit(&mut pdu);
            pdu.extend_from_slice(payload);
            pdu
        };
        if dst == self.address {
            let pdu = pdu(self);
            self.loopback.push_back(pdu);
            return Ok(());
        }
        match port {
            Some(port) => {
                let pdu = pdu(self);
                let class = (eid != Eid::MGMT).then_some(cube);
                // Our own data is not ECN-marked by our own queue: a full local queue
                // pushes back on the application directly (`flow_try_write`).
                self.push_transmit_local(port, class, pdu);
                Ok(())
            }
            None => {
                self.counters.drop_no_route += 1;
                Err(IpcpError::NoRoute)
            }
        }
    }

    /// Process a PDU from `port` (`None`: looped back from this IPCP itself).
    pub(super) fn receive(&mut self, now: Instant, port: Option<PortId>, pdu: Vec<u8>) {
        if port.is_some() {
            self.counters.rx_pdus += 1;
        }
        let packet = match DtPacket::new_checked(pdu) {
            Ok(p) => p,
            Err(_) => {
                self.counters.drop_malformed += 1;
                return;
            }
        };
        let header = packet.header();
        if let Some(adj) = port.and_then(|p| self.adjacencies.get_mut(&p)) {
            adj.last_rx = now;
        }
        if header.dst.is_none() || header.dst == self.address {
            if header.eid == Eid::MGMT {
                match MgmtMsg::parse(packet.payload()) {
                    Ok(msg) => self.handle_mgmt(now, port, header, msg),
                    Err(_) => self.counters.drop_malformed += 1,
                }
            } else {
                // The payload in place: shift it to the front of the PDU's own buffer rather
                // than allocating a copy (new_checked proved the header is there).
                let mut data = packet.into_inner();
                data.drain(..crate::wire::DT_HEADER_LEN);
                self.deliver_flow_data(now, header, data);
            }
        } else {
            self.relay(port, packet);
        }
    }

    /// Forward a PDU for another IPCP: TTL, route lookup, ECN marking, all in place.
    fn relay(&mut self, port: Option<PortId>, mut packet: DtPacket<Vec<u8>>) {
        let from_adjacency = port.is_some_and(|p| self.adjacencies.get(&p).is_some_and(|a| a.up));
        if !self.is_enrolled() || !from_adjacency {
            self.counters.drop_not_ready += 1;
            return;
        }
        let ttl = packet.ttl().saturating_sub(1);
        if ttl == 0 {
            self.counters.drop_ttl += 1;
            return;
        }
        let hash = flow_hash(packet.src(), packet.dst(), packet.eid());
        let Some(out) = self.fib.lookup_cube(packet.dst(), packet.cube(), hash) else {
            self.counters.drop_no_route += 1;
            return;
        };
        packet.set_ttl(ttl);
        if let Some(&level) = self.port_congestion.get(&out)
            && level > packet.ecn()
        {
            packet.set_ecn(level);
        }
        self.counters.forwarded += 1;
        let class = (packet.eid() != Eid::MGMT).then(|| packet.cube());
        self.push_transmit(out, class, packet.into_inner());
    }

    /// Dispatch one management message.
    fn handle_mgmt(&mut self, now: Instant, port: Option<PortId>, header: DtHeader, msg: MgmtMsg) {
        let scoped = header.dst.is_none();
        match (msg, port) {
            (MgmtMsg::EnrollRequest { ipcp, key }, Some(port)) if scoped => {
                self.on_enroll_request(now, port, ipcp, key)
            }
            (MgmtMsg::EnrollChallenge { key, nonce }, Some(port)) if scoped => {
                self.on_enroll_challenge(port, key, nonce)
            }
            (MgmtMsg::EnrollProof { mac }, Some(port)) if scoped => {
                self.on_enroll_proof(now, port, mac)
            }
            (
                MgmtMsg::EnrollResponse {
                    result,
                    address,
                    config,
                },
                Some(port),
            ) if scoped => self.on_enroll_response(now, port, result, address, config),
            (MgmtMsg::AdjRequest { address, cost, .. }, Some(port)) if scoped => {
                self.on_adj_request(now, port, address, cost)
            }
            (MgmtMsg::AdjAccept { address }, Some(port)) if scoped => {
                self.on_adj_accept(now, port, address)
            }
            (MgmtMsg::Keepalive { eid }, _) if eid == Eid::MGMT => {}
            (MgmtMsg::Lsu { lsas }, Some(port)) if scoped => self.on_lsu(now, port, lsas),
            (MgmtMsg::LsaAck { acks }, Some(port)) if scoped => self.on_lsa_ack(port, &acks),
            (msg, _) if !scoped && self.is_enrolled() && !header.src.is_none() => {
                self.handle_routed_mgmt(now, header.src, msg)
            }
            _ => self.counters.drop_not_ready += 1,
        }
    }

    /// Dispatch a management message addressed to this IPCP by another member.
    fn handle_routed_mgmt(&mut self, now: Instant, src: Address, msg: MgmtMsg) {
        match msg {
            MgmtMsg::Keepalive { eid } => self.on_flow_keepalive(now, src, eid),
            MgmtMsg::DirPut { entries } => self.on_dir_put(now, entries),
            MgmtMsg::DirDel { name, address } => self.dir_store.remove(&name, address),
            MgmtMsg::DirGet { query, name } => self.on_dir_get(now, src, query, name),
            MgmtMsg::DirReply { query, targets, .. } => self.on_dir_reply(now, query, targets),
            req @ MgmtMsg::FlowReq { .. } => self.on_flow_req(now, src, req),
            MgmtMsg::FlowReply {
                src_eid,
                dst_eid,
                result,
            } => self.on_flow_reply(now, src, src_eid, dst_eid, result),
            MgmtMsg::FlowUpdate { eid, ece } => self.on_flow_update(now, src, eid, ece),
            MgmtMsg::FlowDealloc { eid } => self.on_flow_dealloc(src, eid),
            _ => self.counters.drop_not_ready += 1,
        }
    }

    /// Queue `origin`'s advertisement for flooding on `port` (sent in batches by
    /// [`Ipcp::send_floods`]).
    pub(super) fn queue_flood(&mut self, port: PortId, origin: Address) {
        self.flood_queue.entry(port).or_default().insert(origin);
    }

    /// Finish a driver call: process looped-back PDUs and arm the flood pacing timer.
    pub(super) fn flush(&mut self, now: Instant) {
        // Looped-back PDUs can queue more of them; bound the work per call anyway.
        let mut budget = 10_000;
        while let Some(pdu) = self.loopback.pop_front() {
            self.receive(now, None, pdu);
            budget -= 1;
            if budget == 0 {
                self.loopback.clear();
                break;
            }
        }
        let queued = !self.flood_queue.is_empty() || !self.ack_queue.is_empty();
        if queued && self.flood_due.is_none() {
            self.flood_due = Some(now + FLOOD_PACING);
        }
    }

    /// Send the queued advertisements and acknowledgements, batched per port.
    pub(super) fn send_floods(&mut self, now: Instant) {
        self.flood_due = None;
        for (port, acks) in std::mem::take(&mut self.ack_queue) {
            for chunk in acks.chunks(MAX_BATCH_BYTES / 12) {
                self.send_on_port(
                    port,
                    &MgmtMsg::LsaAck {
                        acks: chunk.to_vec(),
                    },
                );
            }
        }
        for (port, origins) in std::mem::take(&mut self.flood_queue) {
            let lsas = origins
                .into_iter()
                .filter_map(|o| self.lsdb.get(o).cloned())
                .collect();
            self.send_lsas(now, port, lsas);
        }
    }

    /// Send advertisements on `port` in as few LSU messages as fit the batch size, and
    /// remember them until the neighbour acknowledges them.
    pub(super) fn send_lsas(&mut self, now: Instant, port: PortId, lsas: Vec<Lsa>) {
        let pending = self.unacked.entry(port).or_default();
        for lsa in &lsas {
            pending.insert(lsa.origin, (lsa.seqno, now));
        }
        let mut batch: Vec<Lsa> = Vec::new();
        let mut bytes = 0;
        for lsa in lsas {
            let size = 14 + 8 * lsa.links.len();
            if !batch.is_empty() && bytes + size > MAX_BATCH_BYTES {
                self.send_on_port(
                    port,
                    &MgmtMsg::Lsu {
                        lsas: std::mem::take(&mut batch),
                    },
                );
                bytes = 0;
            }
            bytes += size;
            batch.push(lsa);
        }
        if !batch.is_empty() {
            self.send_on_port(port, &MgmtMsg::Lsu { lsas: batch });
        }
    }

    /// Record an event for the driver.
    pub(super) fn emit_event(&mut self, event: Event) {
        self.events.push_back(event);
    }
}
