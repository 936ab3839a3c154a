//! The daemon's event loop: one [`mio::Poll`] (edge-triggered `epoll`) and a table of what
//! each registered descriptor is. No tasks and no futures: each event goes straight to the
//! [`Daemon`] method for that kind of descriptor, which does the I/O that is ready without
//! blocking, feeds the sans-IO node and drains it.
//!
//! Edge-triggered readiness lasts until a read or write would block. A handler that stops
//! before that — to give the other descriptors their turn — asks to run [`Io::again`]; the
//! loop then looks at the kernel without sleeping (`epoll_wait` with a zero timeout) and
//! runs the handlers asked for again after the new events. The one timer is a `timerfd`
//! (microsecond precision; `epoll_wait`'s own timeout counts milliseconds), re-armed after
//! each round for the earliest deadline of the node, the shims and the daemon.

use crate::node::Daemon;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use ouro_core::Eid;
use ouro_node::ShimId;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

/// Events taken from the kernel per `epoll_wait`.
const EVENTS: usize = 256;

/// What a registered descriptor is, so that its events reach the right handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// SIGTERM and SIGINT (a signalfd).
    Signals,
    /// The control socket's listener.
    Control,
    /// The daemon's one timer.
    Timer,
    /// The routing worker's answers are ready (an eventfd).
    Routes,
    /// A shim's descriptor (a UDP socket; in-process shims have none).
    Shim(ShimId),
    /// A control connection, by its id.
    Conn(u64),
    /// An application flow's socket: the daemon's flow key and the slot's generation.
    Flow {
        /// Layer index and endpoint id.
        key: (usize, Eid),
        /// Told apart from an earlier flow with the same key.
        generation: u64,
    },
    /// One end (0: the allocator's, 1: the acceptor's) of a flow through a local layer.
    Local {
        /// The local flow's id.
        flow: u32,
        /// Which application's socket.
        end: usize,
    },
}

/// Readiness reported for a descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Data, an end of stream or an error to read.
    pub readable: bool,
    /// Room to write, or an error.
    pub writable: bool,
}

/// The descriptors registered with the loop, what each is, and the handlers asked to run
/// again before the next sleep.
pub struct Io {
    registry: Registry,
    sources: Vec<Option<Source>>,
    free: Vec<usize>,
    again: Vec<Token>,
}

impl Io {
    /// A table for descriptors registered with `registry`'s poll.
    pub fn new(registry: Registry) -> Io {
        Io {
            registry,
            sources: Vec::new(),
            free: Vec::new(),
            again: Vec::new(),
        }
    }

    /// Registers `fd` (edge-triggered) for `interest`, as `source`.
    pub fn register(
        &mut self,
        fd: impl AsFd,
        source: Source,
        interest: Interest,
    ) -> io::Result<Token> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.sources.push(None);
                self.sources.len() - 1
            }
        };
        let token = Token(index);
        let raw = fd.as_fd().as_raw_fd();
        match self.registry.register(&mut SourceFd(&raw), token, interest) {
            Ok(()) => {
                self.sources[index] = Some(source);
                Ok(token)
            }
            Err(e) => {
                self.free.push(index);
                Err(e)
            }
        }
    }

    /// Changes what `fd`, registered as `token`, is watched for. An event comes at once
    /// for a direction already ready (`epoll`'s `EPOLL_CTL_MOD` re-arms the edge).
    pub fn reregister(&self, fd: impl AsFd, token: Token, interest: Interest) -> io::Result<()> {
        let raw = fd.as_fd().as_raw_fd();
        self.registry
            .reregister(&mut SourceFd(&raw), token, interest)
    }

    /// Watches `fd`, registered (readable) as `token`, for room too, or no longer: a
    /// descriptor is watched for room only while something waits for it (one with room
    /// would wake the loop at each write).
    pub fn watch_room(&self, fd: impl AsFd, token: Token, room: bool) -> io::Result<()> {
        let interest = if room {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        self.reregister(fd, token, interest)
    }

    /// Stops watching `fd` (before it closes) and frees its token. An event for it already
    /// taken from the kernel may still reach the token's next owner: every handler takes a
    /// readiness that turns out wrong as a read or write that would block.
    pub fn deregister(&mut self, fd: impl AsFd, token: Token) {
        let raw = fd.as_fd().as_raw_fd();
        let _ = self.registry.deregister(&mut SourceFd(&raw));
        if let Some(s) = self.sources.get_mut(token.0)
            && s.take().is_some()
        {
            self.free.push(token.0);
        }
    }

    /// What `token` is (`None` once deregistered).
    pub fn source(&self, token: Token) -> Option<Source> {
        self.sources.get(token.0).copied().flatten()
    }

    /// Runs `token`'s handler again in the next round, without waiting for an event (it
    /// stopped before its descriptor would block, or it has other work).
    pub fn again(&mut self, token: Token) {
        self.again.push(token);
    }
}

/// SIGTERM and SIGINT in a signalfd.
pub mod signals {
    use super::*;

    /// Blocks SIGTERM and SIGINT in this thread (and the threads it starts later), and
    /// returns a descriptor that reads them.
    pub fn block() -> nix::Result<SignalFd> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGINT);
        set.thread_block()?;
        SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
    }

    /// The name of the signal waiting in `fd`, if one is.
    pub(super) fn take(fd: &SignalFd) -> Option<&'static str> {
        match fd.read_signal() {
            Ok(Some(info)) => Some(match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGINT) => "SIGINT",
                _ => "SIGTERM",
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the signalfd");
                Some("signalfd error")
            }
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT arrives on `stop` (registered here); returns the
/// signal's name. Fails only if `epoll_wait` fails (other than by a signal).
pub fn run(poll: &mut Poll, d: &mut Daemon, stop: &SignalFd) -> io::Result<&'static str> {
    d.io_mut()
        .register(stop, Source::Signals, Interest::READABLE)?;
    let mut events = Events::with_capacity(EVENTS);
    let mut round = Vec::new();
    // The configuration's work (enrollments under way) may already wait on the timer.
    d.end_of_round();
    loop {
        let timeout = if d.io_mut().again.is_empty() {
            None
        } else {
            Some(Duration::ZERO)
        };
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        std::mem::swap(&mut d.io_mut().again, &mut round);
        for ev in events.iter() {
            let token = ev.token();
            let Some(source) = d.io_mut().source(token) else {
                continue;
            };
            let ready = Ready {
                readable: ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                writable: ev.is_writable() || ev.is_write_closed() || ev.is_error(),
            };
            if source == Source::Signals {
                if let Some(name) = signals::take(stop) {
                    return Ok(name);
                }
                continue;
            }
            d.on_ready(token, source, ready);
        }
        round.sort_unstable();
        round.dedup();
        for token in round.drain(..) {
            if let Some(source) = d.io_mut().source(token) {
                // No new readiness: the handler goes on from the readiness it kept.
                d.on_ready(token, source, Ready::default());
            }
        }
        d.end_of_round();
    }
}
