//! What the daemon does when one of its descriptors is ready: one handler per kind of
//! descriptor, called by the event loop ([`crate::event_loop`]).
//!
//! Each handler keeps the readiness it was told about until a read would block, so that a
//! handler that stops early — after a bounded amount of work, letting the others run — or
//! that may not read now (a flow whose writes the node holds) goes on from where it was when
//! the loop runs it again.

use super::{CONTROL_BATCH, Conn, Daemon, send_reply};
use crate::control_error::ControlError;
use crate::event_loop::{Ready, Source};
use mio::{Interest, Token};
use ouro_control::Request;
use ouro_core::Eid;
use ouro_flow::ipc;
use ouro_node::ShimId;
use ouro_shim::Shim;
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::Duration;

/// A deadline still the earliest after the timer fired for it and its work ran is looked
/// at again only after this long, so that a deadline nothing consumes cannot make the
/// timer spin.
const STALE_RETRY: Duration = Duration::from_millis(1);

impl Daemon {
    /// Descriptor `token`, which is `source`, is `ready` (nothing new when the loop runs a
    /// handler again that asked for it).
    pub fn on_ready(&mut self, token: Token, source: Source, ready: Ready) {
        match source {
            // The event loop's own.
            Source::Signals => {}
            Source::Control => self.accept(token),
            Source::Timer => self.timer_fired(),
            Source::Routes => self.routes_ready(),
            Source::Shim(id) => self.shim_ready(token, id, ready),
            Source::Conn(id) => self.conn_ready(token, id, ready),
            Source::Flow { key, generation } => self.flow_ready(token, key, generation, ready),
            Source::Local { flow, end } => self.local_ready(token, flow, end, ready),
        }
    }

    /// After each round of events: arm the timer for the earliest deadline.
    pub fn end_of_round(&mut self) {
        let Some(t) = self.next_deadline() else {
            return;
        };
        if self.armed.is_some_and(|a| a <= t) {
            // It fires first; the deadlines are looked at again then.
            return;
        }
        let mut after = t.saturating_duration_since(self.now());
        if self.fired_for == Some(t) {
            after = after.max(STALE_RETRY);
        }
        match self.timer.arm(after) {
            Ok(()) => self.armed = Some(t),
            // Not seen in practice (EINVAL for a bad time, which `arm` never builds): the
            // deadline is looked at again after the next event.
            Err(e) => tracing::warn!(error = %e, "cannot arm the timerfd"),
        }
    }

    /// The timer fired: run what is due.
    fn timer_fired(&mut self) {
        match self.timer.consume() {
            Ok(true) => {
                self.fired_for = self.armed.take();
                self.on_timer();
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "timerfd failed"),
        }
    }

    /// The routing worker has answers: install them.
    fn routes_ready(&mut self) {
        match self.routes.wake_fd().read() {
            // Read (the count is back to 0) before the answers are taken: an answer sent
            // after this read writes the eventfd again, a newer event.
            Ok(_) => self.take_routes(),
            Err(nix::errno::Errno::EAGAIN) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the routing worker's eventfd"),
        }
    }

    /// A shim's descriptor: room first (flush, and pull what waits in the node's queues),
    /// then receive.
    fn shim_ready(&mut self, token: Token, id: ShimId, ready: Ready) {
        let Some(si) = self.shim_index(id) else {
            return;
        };
        self.shims[si].readable |= ready.readable;
        if ready.writable && self.shims[si].watching_room {
            self.shims[si].link.flush();
            self.pump();
        }
        if self.shims[si].readable {
            if self.shim_rx(si) {
                self.shims[si].readable = false;
            } else {
                self.io.again(token);
            }
        }
    }

    /// Watch shim `si`'s descriptor for room while PDUs wait in its send queue, not
    /// otherwise (a socket with room would wake the loop at each datagram sent). An
    /// in-process shim has nothing to watch.
    pub(super) fn watch_shim_room(&mut self, si: usize) {
        let s = &mut self.shims[si];
        let waits = s.link.has_queued();
        if waits == s.watching_room {
            return;
        }
        let (Some(token), Some(fd)) = (s.token, s.link.fd()) else {
            return;
        };
        match self.io.watch_room(fd, token, waits) {
            Ok(()) => s.watching_room = waits,
            Err(e) => tracing::warn!(shim = %s.name, error = %e, "cannot watch the socket"),
        }
    }

    /// An application's flow socket: room for the backlog first (so a flood of the
    /// application's messages cannot keep it waiting), then the application's messages —
    /// unless the node holds the flow's writes.
    fn flow_ready(&mut self, token: Token, key: (usize, Eid), generation: u64, ready: Ready) {
        let Some(slot) = self
            .flows
            .get_mut(&key)
            .filter(|s| s.generation == generation)
        else {
            return;
        };
        slot.readable |= ready.readable;
        if ready.writable && slot.watching_room {
            self.deliver(key);
            self.pump();
        }
        let readable = self.flows.get(&key).is_some_and(|s| s.readable);
        if !readable || self.node.is_held(Self::fid(key)) {
            return;
        }
        let read = self.app_read(key);
        match read {
            super::AppRead::Drained => {
                if let Some(s) = self.flows.get_mut(&key) {
                    s.readable = false;
                }
            }
            // Read again when the node says the flow is writable.
            super::AppRead::Held => {}
            super::AppRead::More => self.io.again(token),
            super::AppRead::Closed => self.app_closed(key, generation),
        }
        self.pump();
    }

    /// Accept control connections (a bounded number per round).
    fn accept(&mut self, token: Token) {
        let Some(listener) = &self.listener else {
            return;
        };
        for _ in 0..CONTROL_BATCH {
            match ipc::accept(listener) {
                Ok(fd) => {
                    self.next_conn += 1;
                    let id = self.next_conn;
                    // Readable only: replies are sent straight to the socket.
                    match self
                        .io
                        .register(fd.as_fd(), Source::Conn(id), Interest::READABLE)
                    {
                        Ok(token) => {
                            self.conns.insert(
                                id,
                                Conn {
                                    fd: Rc::new(fd),
                                    token,
                                    readable: false,
                                },
                            );
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot register a control connection")
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    // Out of descriptors, most likely: the connection waits in the backlog
                    // until the next one arrives (no retry in a loop).
                    tracing::warn!(error = %e, "accept failed");
                    return;
                }
            }
        }
        self.io.again(token);
    }

    /// A control connection: read and answer its requests (a bounded number per round).
    fn conn_ready(&mut self, token: Token, id: u64, ready: Ready) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.readable |= ready.readable;
        if !c.readable {
            return;
        }
        let fd = Rc::clone(&c.fd);
        let mut buf = std::mem::take(&mut self.control_buf);
        let mut more = true;
        for _ in 0..CONTROL_BATCH {
            let n = match ipc::recv(&*fd, &mut buf) {
                Ok(0) => {
                    more = false;
                    self.conn_closed(id);
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    more = false;
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.readable = false;
                    }
                    break;
                }
                Err(_) => {
                    more = false;
                    self.conn_closed(id);
                    break;
                }
            };
            let reply = match Request::decode(&buf[..n]) {
                Ok(req) => self.request(id, &fd, req),
                Err(e) => {
                    self.stats.bad_requests += 1;
                    Some(ControlError::from(e).into())
                }
            };
            if let Some(r) = reply {
                send_reply(&fd, &r, None);
            }
        }
        self.control_buf = buf;
        if more {
            // A client that keeps sending must not keep the others waiting.
            self.io.again(token);
        }
    }
}
