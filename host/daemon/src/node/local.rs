//! Local shim layers in the daemon: IPCPs of this system adjacent over a
//! [`LocalShim`](ouro_shim_local::LocalShim), and flows between applications of this system
//! through a local layer (the daemon joins the two applications' flow sockets and relays
//! between them, counting each way, so a flow ends on both sides when either application
//! goes).

use super::{Daemon, Fd, send_reply};
use crate::control_error::ControlError;
use crate::rt::{Async, Interest};
use ouro_control::Reply;
use ouro_core::Instant;
use ouro_flow::ipc;
use ouro_shim_local::LocalShim;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A local shim layer.
pub(super) struct LocalLayer {
    /// The layer's (and its IPCP's) name.
    pub(super) name: String,
    /// The hub joining the IPCPs attached to it.
    pub(super) shim: LocalShim,
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
    pub(super) task: Option<crate::rt::JoinHandle>,
}

impl Daemon {
    /// The local layer called `name`.
    pub(super) fn local_index(&self, name: &str) -> Option<usize> {
        self.locals.iter().position(|l| l.name == name)
    }

    /// Hand the PDUs in flight in every local shim to their receiving IPCPs. True if any.
    pub(super) fn local_deliver(&mut self, now: Instant) -> bool {
        let mut busy = false;
        for lsi in 0..self.locals.len() {
            while let Some(d) = self.locals[lsi].shim.poll() {
                busy = true;
                if let Some((_, _, id)) = self
                    .layers
                    .iter()
                    .filter(|l| !l.destroyed)
                    .find_map(|l| l.local().filter(|(x, m, _)| *x == lsi && *m == d.to))
                {
                    self.node.shim_receive(now, id, d.port, d.data);
                }
            }
        }
        busy
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
        let (Ok(a), Ok(b)) = (
            Async::new(a_mine, Interest::READABLE),
            Async::new(b_mine, Interest::READABLE),
        ) else {
            return Some(ControlError::Internal("cannot register the flow sockets".into()).into());
        };
        let task = self
            .me
            .upgrade()
            .map(|me| crate::rt::spawn(relay(me, id, Rc::new(a), Rc::new(b))));
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
                task,
            },
        );
        self.stats.flows_allocated += 1;
        self.stats.flows_accepted += 1;
        None
    }
}

/// Relays messages between the two applications of local flow `id` until either closes.
async fn relay(d: Rc<RefCell<Daemon>>, id: u32, a: Fd, b: Fd) {
    // Socket messages (plain or packed) are relayed as they are; a pack counts as its
    // messages (a malformed one as one).
    let mut buf = vec![0u8; ouro_flow::pack::MAX_SOCKET_MESSAGE];
    let ends = [a, b];
    let mut turn = true;
    'run: loop {
        // Alternating which end is looked at first, so neither can starve the other.
        let (first, second) = if turn { (0, 1) } else { (1, 0) };
        turn = !turn;
        let dir = tokio::select! {
            biased;
            r = ends[first].readable() => match r { Ok(g) => (first, g), Err(_) => break },
            r = ends[second].readable() => match r { Ok(g) => (second, g), Err(_) => break },
        };
        let (from, mut guard) = dir;
        let to = &ends[1 - from];
        let mut drained = false;
        for _ in 0..super::FLOW_BATCH {
            match guard.try_io(|f| ipc::recv(f.get_ref(), &mut buf)) {
                Ok(Ok(0)) | Ok(Err(_)) => break 'run,
                Ok(Ok(n)) => {
                    let ok = ipc::send(to.get_ref(), &buf[..n]).is_ok();
                    if let Some(f) = d.borrow_mut().local_flows.get_mut(&id) {
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
                }
                Err(_would_block) => {
                    drained = true;
                    break;
                }
            }
        }
        if !drained {
            // Let the other tasks run before relaying on.
            crate::rt::yield_now().await;
        }
    }
    for e in &ends {
        ipc::shutdown(e.get_ref());
    }
    if let Some(f) = d.borrow_mut().local_flows.remove(&id) {
        tracing::debug!(flow = id, name = %f.name, "local flow ended");
    }
}
