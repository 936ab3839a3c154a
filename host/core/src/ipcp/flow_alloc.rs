//! The flow allocator: resolving a name, requesting a flow from the IPCP that holds it,
//! accepting, data transfer on allocated flows, keepalives, peer timeouts, deallocation.
//!
//! A requester looks the name up at its directory replicas one after the other, then sends
//! `FlowReq` (repeated up to [`FLOW_REQ_ATTEMPTS`] times, each with a fresh nonce) to one of
//! the addresses found. The request carries the requester's public key and a proof of
//! possession made for the responder's key, which the directory returned with the address
//! (so no extra round trip). The responder checks the proof and the nonce (refusing one
//! seen within [`super::REPLAY_WINDOW`]), asks its auth policy with the proven key, then
//! announces the request to its application, which accepts or rejects; the `FlowReply`
//! carries the responder's endpoint id. Data PDUs carry the receiver's endpoint
//! id; keepalives keep idle flows alive and silence longer than the QoS timeout ends them.

use super::{Event, FlowEnd, Ipcp, IpcpError};
use crate::auth::RequestKind;
use crate::flow::{Flow, FlowState};
use crate::identity::{KEY_LEN, ProofUse};
use crate::time::Instant;
use crate::wire::{DirTarget, DtHeader, FlowResult, MgmtMsg};
use crate::{Address, Eid, NameHash, QosSpec};
use std::time::Duration;

/// How long to wait for a directory replica's answer before asking the next one.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(1);
/// How long to wait for a flow reply before repeating the request.
pub const FLOW_REQ_TIMEOUT: Duration = Duration::from_secs(1);
/// How many flow requests are sent before giving up.
pub const FLOW_REQ_ATTEMPTS: u8 = 3;

impl Ipcp {
    /// Create a requester flow for `name` and start resolving it.
    pub(super) fn start_flow(&mut self, now: Instant, name: NameHash, qos: QosSpec) -> Eid {
        let eid = self.flows.fresh_eid(&mut self.rng);
        self.flows.insert(Flow::new(
            eid,
            FlowState::Resolving {
                query: 0,
                tried: 0,
                sent_at: now,
            },
            name,
            qos,
            now,
        ));
        self.lookup(now, eid, 0);
        eid
    }

    /// Ask replica number `tried` (and the following ones, while unreachable) for the name.
    fn lookup(&mut self, now: Instant, eid: Eid, mut tried: usize) {
        let Some(name) = self.flows.get(eid).map(|f| f.name) else {
            return;
        };
        if self.local_names.contains_key(&name) {
            let me = DirTarget {
                address: self.address,
                key: self.identity.public(),
            };
            self.send_flow_req(now, eid, me);
            return;
        }
        let reps = self.replicas_of(&name);
        while let Some(replica) = reps.get(tried).copied() {
            let query = self.next_query;
            self.next_query = self.next_query.wrapping_add(1).max(1);
            if let Some(flow) = self.flows.get_mut(eid) {
                flow.state = FlowState::Resolving {
                    query,
                    tried,
                    sent_at: now,
                };
            }
            if self
                .send_mgmt(replica, &MgmtMsg::DirGet { query, name })
                .is_ok()
            {
                return;
            }
            tried += 1;
        }
        self.fail_flow(eid, FlowEnd::NameUnknown);
    }

    /// A replica answered a lookup.
    pub(super) fn on_dir_reply(&mut self, now: Instant, query: u32, targets: Vec<DirTarget>) {
        let Some(eid) = self.flows.find_by_query(query) else {
            return;
        };
        let tried = match self.flows.get(eid).map(|f| &f.state) {
            Some(FlowState::Resolving { tried, .. }) => *tried,
            _ => return,
        };
        if targets.is_empty() {
            self.lookup(now, eid, tried + 1);
        } else {
            let pick = self.rng.below(targets.len() as u64) as usize;
            let peer = targets.get(pick).copied().unwrap_or(targets[0]);
            self.send_flow_req(now, eid, peer);
        }
    }

    fn send_flow_req(&mut self, now: Instant, eid: Eid, peer: DirTarget) {
        let nonce = self.identity.nonce();
        let Some(flow) = self.flows.get_mut(eid) else {
            return;
        };
        let attempts = match flow.state {
            FlowState::Requested {
                attempts, peer: p, ..
            } if p == peer.address => attempts + 1,
            _ => 1,
        };
        flow.state = FlowState::Requested {
            peer: peer.address,
            peer_key: peer.key,
            attempts,
            sent_at: now,
        };
        let mut msg = MgmtMsg::FlowReq {
            src_eid: eid,
            name: flow.name,
            qos: flow.qos,
            key: self.identity.public(),
            nonce,
            mac: [0; KEY_LEN],
        };
        let transcript = flow_transcript(self.address, peer.address, &msg);
        match self.identity.prove(&peer.key, ProofUse::Flow, &transcript) {
            Ok(proof) => {
                if let MgmtMsg::FlowReq { mac, .. } = &mut msg {
                    *mac = proof;
                }
            }
            Err(e) => {
                // The directory gave a key no proof can be made for: nobody holds it.
                self.proof_failed(RequestKind::Flow, format!("responder's key: {e}"));
                self.fail_flow(eid, FlowEnd::Refused);
                return;
            }
        }
        // Unreachable for now: the request is repeated on the next tick.
        let _ = self.send_mgmt(peer.address, &msg);
    }

    /// A peer asks for a flow to one of our names: check its proof of possession and the
    /// nonce, then the auth policy, then ask the application.
    pub(super) fn on_flow_req(&mut self, now: Instant, src: Address, req: MgmtMsg) {
        let MgmtMsg::FlowReq {
            src_eid,
            name,
            qos,
            key,
            nonce,
            mac,
        } = req
        else {
            return;
        };
        let unsigned = MgmtMsg::FlowReq {
            src_eid,
            name,
            qos,
            key,
            nonce,
            mac: [0; KEY_LEN],
        };
        let transcript = flow_transcript(src, self.address, &unsigned);
        if let Err(e) = self
            .identity
            .verify(&key, ProofUse::Flow, &transcript, &mac)
        {
            self.proof_failed(RequestKind::Flow, format!("flow request from {src}: {e}"));
            self.deny_flow_req(src, src_eid);
            return;
        }
        if let Some(existing) = self.flows.find_by_peer(src, src_eid) {
            // A repeated request: answer again if we already accepted.
            if let Some(FlowState::Allocated { .. }) = self.flows.get(existing).map(|f| &f.state) {
                let reply = MgmtMsg::FlowReply {
                    src_eid,
                    dst_eid: existing,
                    result: FlowResult::Ok,
                };
                let _ = self.send_mgmt(src, &reply);
            }
            return;
        }
        if !self.replay.check_and_record(now, nonce) {
            self.proof_failed(
                RequestKind::Flow,
                format!("flow request from {src}: replayed nonce"),
            );
            self.deny_flow_req(src, src_eid);
            return;
        }
        if src_eid == Eid::MGMT || !self.local_names.contains_key(&name) {
            let reply = MgmtMsg::FlowReply {
                src_eid,
                dst_eid: Eid::MGMT,
                result: FlowResult::NoSuchName,
            };
            let _ = self.send_mgmt(src, &reply);
            return;
        }
        if !self.authorize(RequestKind::Flow, &name, qos.cube(), key) {
            self.deny_flow_req(src, src_eid);
            return;
        }
        let eid = self.flows.fresh_eid(&mut self.rng);
        self.flows.insert(Flow::new(
            eid,
            FlowState::PendingAccept {
                peer: src,
                peer_eid: src_eid,
            },
            name,
            qos,
            now,
        ));
        self.emit_event(Event::FlowRequest {
            flow: eid,
            name,
            qos,
        });
    }

    /// Answer a flow request with `Denied`.
    fn deny_flow_req(&mut self, src: Address, src_eid: Eid) {
        let reply = MgmtMsg::FlowReply {
            src_eid,
            dst_eid: Eid::MGMT,
            result: FlowResult::Denied,
        };
        let _ = self.send_mgmt(src, &reply);
    }

    /// The application accepted or rejected an incoming flow.
    pub(super) fn answer_flow(
        &mut self,
        now: Instant,
        eid: Eid,
        accept: bool,
    ) -> Result<(), IpcpError> {
        let Some(flow) = self.flows.get_mut(eid) else {
            return Err(IpcpError::NoSuchFlow);
        };
        let FlowState::PendingAccept { peer, peer_eid } = flow.state else {
            return Err(IpcpError::NoSuchFlow);
        };
        let reply = if accept {
            flow.state = FlowState::Allocated { peer, peer_eid };
            flow.last_tx = now;
            MgmtMsg::FlowReply {
                src_eid: peer_eid,
                dst_eid: eid,
                result: FlowResult::Ok,
            }
        } else {
            self.flows.remove(eid);
            MgmtMsg::FlowReply {
                src_eid: peer_eid,
                dst_eid: Eid::MGMT,
                result: FlowResult::Denied,
            }
        };
        let _ = self.send_mgmt(peer, &reply);
        Ok(())
    }

    /// The responder answered our request.
    pub(super) fn on_flow_reply(
        &mut self,
        now: Instant,
        src: Address,
        src_eid: Eid,
        dst_eid: Eid,
        result: FlowResult,
    ) {
        let Some(flow) = self.flows.get_mut(src_eid) else {
            return;
        };
        match flow.state {
            FlowState::Requested { peer, .. } if peer == src => {}
            _ => return, // late or duplicate reply
        }
        if result == FlowResult::Ok && dst_eid != Eid::MGMT {
            flow.state = FlowState::Allocated {
                peer: src,
                peer_eid: dst_eid,
            };
            flow.last_rx = now;
            self.emit_event(Event::FlowAllocated { flow: src_eid });
        } else if result == FlowResult::Denied {
            self.counters.denied_by_peer += 1;
            self.fail_flow(src_eid, FlowEnd::Denied);
        } else {
            self.fail_flow(src_eid, FlowEnd::Refused);
        }
    }

    /// Send application data on an allocated flow.
    pub(super) fn write_flow(
        &mut self,
        now: Instant,
        eid: Eid,
        data: &[u8],
    ) -> Result<(), IpcpError> {
        let Some(flow) = self.flows.get_mut(eid) else {
            return Err(IpcpError::NoSuchFlow);
        };
        let Some((peer, peer_eid)) = flow.peer() else {
            return Err(IpcpError::NoSuchFlow);
        };
        flow.last_tx = now;
        let cube = flow.qos.cube();
        self.send_routed(peer, peer_eid, cube, data)
    }

    /// Data for one of our endpoints.
    pub(super) fn deliver_flow_data(&mut self, now: Instant, header: DtHeader, data: Vec<u8>) {
        let Some(flow) = self.flows.get_mut(header.eid) else {
            self.counters.drop_unknown_eid += 1;
            return;
        };
        if flow.peer().map(|(p, _)| p) != Some(header.src) {
            self.counters.drop_unknown_eid += 1;
            return;
        }
        flow.last_rx = now;
        if header.ecn > 0 {
            flow.ecn_seen = flow.ecn_seen.max(header.ecn);
            self.echo_congestion(now, header.eid);
        }
        self.counters.delivered += 1;
        self.emit_event(Event::FlowData {
            flow: header.eid,
            data,
        });
    }

    /// The application deallocates a flow: tell the peer and forget it.
    pub(super) fn end_flow_locally(&mut self, _now: Instant, eid: Eid) -> Result<(), IpcpError> {
        let Some(flow) = self.flows.remove(eid) else {
            return Err(IpcpError::NoSuchFlow);
        };
        let msg = match flow.state {
            FlowState::Allocated { peer, peer_eid } => {
                Some((peer, MgmtMsg::FlowDealloc { eid: peer_eid }))
            }
            FlowState::PendingAccept { peer, peer_eid } => Some((
                peer,
                MgmtMsg::FlowReply {
                    src_eid: peer_eid,
                    dst_eid: Eid::MGMT,
                    result: FlowResult::Denied,
                },
            )),
            FlowState::Resolving { .. } | FlowState::Requested { .. } => None,
        };
        if let Some((peer, msg)) = msg {
            let _ = self.send_mgmt(peer, &msg);
        }
        Ok(())
    }

    /// The flow whose peer is `src`, if `eid` names one.
    fn flow_from_peer(&mut self, src: Address, eid: Eid) -> Option<&mut Flow> {
        self.flows
            .get_mut(eid)
            .filter(|f| f.peer().map(|(p, _)| p) == Some(src))
    }

    /// The peer deallocated.
    pub(super) fn on_flow_dealloc(&mut self, src: Address, eid: Eid) {
        if self.flow_from_peer(src, eid).is_some() {
            self.flows.remove(eid);
            self.emit_event(Event::FlowEnded {
                flow: eid,
                reason: FlowEnd::Remote,
            });
        }
    }

    /// A keepalive from the peer.
    pub(super) fn on_flow_keepalive(&mut self, now: Instant, src: Address, eid: Eid) {
        if let Some(flow) = self.flow_from_peer(src, eid) {
            flow.last_rx = now;
        }
    }

    /// Congestion feedback from the peer.
    pub(super) fn on_flow_update(&mut self, now: Instant, src: Address, eid: Eid, ece: u16) {
        let Some(flow) = self.flow_from_peer(src, eid) else {
            return;
        };
        flow.last_rx = now;
        flow.peer_ece = ece;
        if ece > 0 {
            let before = flow.cc.stats.decreases;
            flow.cc.congestion(now);
            let cut = flow.cc.stats.decreases - before;
            self.counters.cc_signals += 1;
            self.counters.cc_decreases += cut;
        }
    }

    /// Remove a flow and tell the application why.
    fn fail_flow(&mut self, eid: Eid, reason: FlowEnd) {
        if self.flows.remove(eid).is_some() {
            self.emit_event(Event::FlowEnded { flow: eid, reason });
        }
    }

    /// Retries, timeouts, keepalives and congestion echoes left over from
    /// [`Ipcp::echo_congestion`]'s rate limit, once per hello interval.
    pub(super) fn flow_tick(&mut self, now: Instant) {
        for eid in self.flows.eids() {
            let Some(flow) = self.flows.get_mut(eid) else {
                continue;
            };
            match flow.state {
                FlowState::Resolving { tried, sent_at, .. } => {
                    if now.saturating_duration_since(sent_at) >= QUERY_TIMEOUT {
                        self.lookup(now, eid, tried + 1);
                    }
                }
                FlowState::Requested {
                    peer,
                    peer_key,
                    attempts,
                    sent_at,
                } => {
                    if now.saturating_duration_since(sent_at) < FLOW_REQ_TIMEOUT {
                        continue;
                    }
                    if attempts >= FLOW_REQ_ATTEMPTS {
                        self.fail_flow(eid, FlowEnd::Unreachable);
                    } else {
                        let target = DirTarget {
                            address: peer,
                            key: peer_key,
                        };
                        self.send_flow_req(now, eid, target);
                    }
                }
                FlowState::PendingAccept { .. } => {}
                FlowState::Allocated { peer, peer_eid } => {
                    let timeout = Duration::from_millis(u64::from(flow.qos.timeout_ms));
                    if now.saturating_duration_since(flow.last_rx) > timeout {
                        self.fail_flow(eid, FlowEnd::PeerTimeout);
                        continue;
                    }
                    let mut msgs = Vec::new();
                    if now.saturating_duration_since(flow.last_tx) >= self.config.flow_keepalive {
                        flow.last_tx = now;
                        msgs.push(MgmtMsg::Keepalive { eid: peer_eid });
                    }
                    if flow.ecn_seen > 0 {
                        msgs.push(MgmtMsg::FlowUpdate {
                            eid: peer_eid,
                            ece: u16::from(flow.ecn_seen),
                        });
                        flow.ecn_seen = 0;
                        flow.echoes_sent += 1;
                        self.counters.echoes_sent += 1;
                        flow.next_echo = now + super::flow_control::ECHO_INTERVAL;
                    }
                    for msg in msgs {
                        let _ = self.send_mgmt(peer, &msg);
                    }
                }
            }
        }
    }

    /// The latest congestion echo the peer of `flow` sent (0: none).
    pub fn flow_congestion(&self, flow: Eid) -> Option<u16> {
        self.flows.get(flow).map(|f| f.peer_ece)
    }

    /// The other end of an allocated `flow`: its IPCP's address and its endpoint id.
    pub fn flow_peer(&self, flow: Eid) -> Option<(Address, Eid)> {
        match self.flows.get(flow)?.state {
            FlowState::Allocated { peer, peer_eid } => Some((peer, peer_eid)),
            _ => None,
        }
    }
}

/// What a flow request's proof covers: source and destination addresses (4 bytes each,
/// big-endian), then the whole `FlowReq` as encoded with its `mac` field zeroed.
pub(super) fn flow_transcript(src: Address, dst: Address, unsigned: &MgmtMsg) -> Vec<u8> {
    let mut t = Vec::with_capacity(8 + unsigned.buffer_len());
    t.extend_from_slice(&src.0.to_be_bytes());
    t.extend_from_slice(&dst.0.to_be_bytes());
    unsigned.emit(&mut t);
    t
}
