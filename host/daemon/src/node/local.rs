//! Local shim layers in the daemon: IPCPs of this system adjacent over a
//! [`LocalShim`](ouro_shim_local::LocalShim) (each IPCP's end of it is a shim of the
//! daemon like a UDP shim, driven through [`ouro_shim::Shim`]: see `node/link.rs`), and
//! flows between applications of this system through a local layer (the daemon joins the
//! two applications' flow sockets and relays between them, counting each way, so a flow
//! ends on both sides when either application goes).

use super::faults::FaultSetting;
use super::{Daemon, Fd, send_reply};
use crate::control_error::ControlError;
use crate::event_loop::{Ready, Source};
use mio::{Interest, Token};
use ouro_control::Reply;
use ouro_core::Instant;
use ouro_flow::ipc;
use ouro_shim_local::{LocalShim, MemberId};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;

/// A local shim layer.
pub(super) struct LocalLayer {
    /// The layer's (and its IPCP's) name.
    pub(super) name: String,
    /// The hub joining the IPCPs attached to it (their ends are in the daemon's shims).
    pub(super) shim: LocalShim,
    /// Its fault injection, for the ends of the IPCPs attached now and later.
    pub(super) faults: Option<FaultSetting>,
    /// Names registered in it: name → registered by a request or the configuration (true)
    /// or only because an application listens (false).
    pub(super) names: BTreeMap<String, bool>,
}

/// A flow between two applications through a local layer.
pub(super) struct LocalFlow {
    pub(super) layer: String,
    pub(super) name: String,
    pub(super) qos: String,
    pub(super) created: Instant,
    /// The allocating and the accepting application.
    pub(super) pids: [Option<u32>; 2],
    /// Messages and bytes relayed from the allocator to the acceptor, and back.
    pub(super) msgs: [u64; 2],
    pub(super) bytes: [u64; 2],
    /// Messages dropped because the receiver's socket was full, each way.
    pub(super) drops: [u64; 2],
    /// The daemon's ends of the two applications' sockets, their registrations, and
    /// whether messages may wait in them.
    ends: [OwnedFd; 2],
    tokens: [Token; 2],
    readable: [bool; 2],
}

impl Daemon {
    /// The local layer called `name`.
    pub(super) fn local_index(&self, name: &str) -> Option<usize> {
        self.locals.iter().position(|l| l.name == name)
    }

    /// The local layer below unicast IPCP `li`, and its member id there, if it sits on one.
    pub(super) fn local_below(&self, li: usize) -> Option<(usize, MemberId)> {
        let s = &self.shims[self.shim_index(self.layers[li].shim()?)?];
        let m = s.link.local_member()?;
        Some((self.local_index(&s.name)?, m))
    }

    /// Register `name` in the local layers named in `layers` (every one if empty).
    pub(super) fn local_register(&mut self, name: &str, layers: &[String], by_request: bool) {
        for l in &mut self.locals {
            if layers.is_empty() || layers.contains(&l.name) {
                let e = l.names.entry(name.to_string()).or_insert(by_request);
                *e |= by_request;
            }
        }
    }

    /// Withdraw `name` from a local layer (every one if None).
    pub(super) fn local_unregister(&mut self, name: &str, layer: Option<&str>) {
        let listening = self.listeners.contains_key(name);
        for l in &mut self.locals {
            if layer.is_none_or(|x| x == l.name) {
                if listening {
                    l.names.insert(name.to_string(), false);
                } else {
                    l.names.remove(name);
                }
            }
        }
    }

    /// The last application listening on `name` went: registrations made only for it go.
    pub(super) fn local_listener_gone(&mut self, name: &str) {
        for l in &mut self.locals {
            if l.names.get(name) == Some(&false) {
                l.names.remove(name);
            }
        }
    }

    /// The local layer an allocation to `name` goes through, if any: the one asked for, or
    /// else the first where `name` is registered.
    pub(super) fn local_for_alloc(&self, name: &str, layer: Option<&str>) -> Option<usize> {
        match layer {
            Some(l) => self.local_index(l),
            None => self
                .locals
                .iter()
                .position(|l| l.names.contains_key(name))
                .or_else(|| {
                    // No unicast layer could take it: the first local layer answers.
                    let unicast = self
                        .layers
                        .iter()
                        .enumerate()
                        .any(|(li, l)| !l.destroyed && self.ip(li).is_enrolled());
                    (!unicast && !self.locals.is_empty()).then_some(0)
                }),
        }
    }

    /// Allocate a flow to `name` through local layer `lsi`: the listener gets one socket,
    /// the allocator (`conn`) the other, and a relay joins them. `None`: replied already.
    pub(super) fn local_alloc(
        &mut self,
        lsi: usize,
        conn: &Fd,
        name: &str,
        qos: &str,
    ) -> Option<Reply> {
        let layer = self.locals[lsi].name.clone();
        if !self.locals[lsi].names.contains_key(name) {
            return Some(
                ControlError::NameNotFound {
                    name: name.to_string(),
                    layer,
                }
                .into(),
            );
        }
        let Some(listener) = self
            .listeners
            .get(name)
            .and_then(|v| v.first())
            .map(|(_, fd)| Rc::clone(fd))
        else {
            self.stats.flows_refused += 1;
            return Some(ControlError::NoListener(name.to_string()).into());
        };
        let (Ok((a_mine, a_theirs)), Ok((b_mine, b_theirs))) =
            (ipc::seqpacket_pair(), ipc::seqpacket_pair())
        else {
            return Some(ControlError::Internal("cannot make a socket pair".into()).into());
        };
        let id = self.next_local_flow;
        self.next_local_flow = self.next_local_flow.wrapping_add(1).max(1);
        let incoming = Reply::Incoming {
            flow: id,
            layer: layer.clone(),
            name: name.to_string(),
            qos: qos.to_string(),
        };
        if !send_reply(&listener, &incoming, Some(&b_theirs)) {
            return Some(ControlError::ListenerGone(name.to_string()).into());
        }
        let reply = Reply::Flow {
            flow: id,
            layer: layer.clone(),
        };
        if !send_reply(conn, &reply, Some(&a_theirs)) {
            return None; // the allocator is gone: dropping our ends ends the acceptor's too
        }
        // Readable only: the relay never waits to write, and a registration for writability
        // would wake the daemon each time an application reads.
        let mut tokens = [Token(0); 2];
        for (end, fd) in [&a_mine, &b_mine].into_iter().enumerate() {
            match self.io.register(
                fd.as_fd(),
                Source::Local { flow: id, end },
                Interest::READABLE,
            ) {
                Ok(t) => tokens[end] = t,
                Err(_) => {
                    if end == 1 {
                        self.io.deregister(a_mine.as_fd(), tokens[0]);
                    }
                    return Some(
                        ControlError::Internal("cannot register the flow sockets".into()).into(),
                    );
                }
            }
        }
        self.local_flows.insert(
            id,
            LocalFlow {
                layer,
                name: name.to_string(),
                qos: qos.to_string(),
                created: self.now(),
                pids: [
                    super::names::peer_pid(conn),
                    super::names::peer_pid(&listener),
                ],
                msgs: [0; 2],
                bytes: [0; 2],
                drops: [0; 2],
                ends: [a_mine, b_mine],
                tokens,
                readable: [false; 2],
            },
        );
        self.stats.flows_allocated += 1;
        self.stats.flows_accepted += 1;
        None
    }
}

impl Daemon {
    /// One end of local flow `id` is readable: relay its messages to the other end (a
    /// bounded number per round). Socket messages (plain or packed) are relayed as they
    /// are; a pack counts as its messages (a malformed one as one).
    pub(super) fn local_ready(&mut self, token: Token, id: u32, from: usize, ready: Ready) {
        let Some(f) = self.local_flows.get_mut(&id) else {
            return;
        };
        f.readable[from] |= ready.readable;
        if !f.readable[from] {
            return;
        }
        let buf = &mut self.local_buf;
        for _ in 0..super::FLOW_BATCH {
            let n = match ipc::recv(&f.ends[from], buf) {
                Ok(0) => return self.end_local_flow(id),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    f.readable[from] = false;
                    return;
                }
                Err(_) => return self.end_local_flow(id),
            };
            let ok = ipc::send(&f.ends[1 - from], &buf[..n]).is_ok();
            let m = &buf[..n];
            let (count, bytes) = if ouro_flow::pack::is_packed(m) {
                ouro_flow::pack::parse(m).map_or((1, n), |it| {
                    it.fold((0, 0), |(c, b), m| (c + 1, b + m.len()))
                })
            } else {
                (1, n)
            };
            if ok {
                f.msgs[from] += count;
                f.bytes[from] += bytes as u64;
            } else {
                f.drops[from] += count;
            }
        }
        // Let the others run before relaying on.
        self.io.again(token);
    }

    /// End local flow `id`: both applications see the end of their sockets.
    pub(super) fn end_local_flow(&mut self, id: u32) {
        let Some(f) = self.local_flows.remove(&id) else {
            return;
        };
        for (fd, token) in f.ends.iter().zip(f.tokens) {
            self.io.deregister(fd.as_fd(), token);
            ipc::shutdown(fd);
        }
        tracing::debug!(flow = id, name = %f.name, "local flow ended");
    }
}
