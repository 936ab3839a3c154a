//! Every kind of shim the daemon drives, as one type: [`Link`], an enum of the kinds, which
//! implements [`ouro_shim::Shim`] by matching. The per-PDU calls (`send`, `recv_batch`)
//! are a branch on the kind, not a virtual call, and inline into the daemon's loops.
//!
//! Everything else in the daemon that is not about one kind (transmission through the fault
//! injector, pacing, receiving, reclaiming buffers, expiry, watching the descriptor) goes
//! through the trait. A new kind of shim (Ethernet) is one more variant here and in
//! [`LinkAddr`], one line in [`each!`], and its configuration (`node/mgmt.rs`,
//! `config.rs`, the status document).

use ouro_core::{Instant, PortId};
use ouro_shim::{PeerError, Received, RxPressure, SendError, Shim, ShimCounters};
use ouro_shim_local::{LocalEnd, MemberId};
use ouro_shim_udp::UdpShim;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

/// The shim below one IPCP: what the node knows as one [`ouro_node::ShimId`].
// The UDP shim is much larger than a local end, but a daemon holds a handful of these, in
// place: boxing it would add a pointer to chase on every PDU sent and every batch read.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Link {
    /// A UDP socket (a layer of its own).
    Udp(UdpShim),
    /// A member's end of a local shim layer.
    Local(LocalEnd),
}

/// A peer's address on any [`Link`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum LinkAddr {
    /// A UDP endpoint.
    Udp(SocketAddr),
    /// A member of a local shim.
    Local(MemberId),
}

impl fmt::Display for LinkAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkAddr::Udp(a) => a.fmt(f),
            LinkAddr::Local(m) => m.fmt(f),
        }
    }
}

/// `$body` with `$s` bound to the shim inside `$link`, whatever its kind.
macro_rules! each {
    ($link:expr, $s:ident => $body:expr) => {
        match $link {
            Link::Udp($s) => $body,
            Link::Local($s) => $body,
        }
    };
}

impl Link {
    /// The UDP shim, if it is one.
    pub(super) fn udp(&self) -> Option<&UdpShim> {
        match self {
            Link::Udp(u) => Some(u),
            Link::Local(_) => None,
        }
    }

    /// The local shim member it is the end of, if it is one (None once detached).
    pub(super) fn local_member(&self) -> Option<MemberId> {
        match self {
            Link::Local(e) => e.member(),
            Link::Udp(_) => None,
        }
    }
}

impl Shim for Link {
    type Addr = LinkAddr;

    fn max_pdu(&self) -> usize {
        each!(self, s => s.max_pdu())
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        each!(self, s => s.fd())
    }

    fn add_peer(&mut self, addr: LinkAddr) -> Result<PortId, PeerError> {
        match (self, addr) {
            (Link::Udp(s), LinkAddr::Udp(a)) => s.add_peer(a),
            (Link::Local(s), LinkAddr::Local(m)) => s.add_peer(m),
            _ => Err(PeerError::NoSuchPeer),
        }
    }

    fn peer_addr(&self, port: PortId) -> Option<LinkAddr> {
        match self {
            Link::Udp(s) => s.peer_addr(port).map(LinkAddr::Udp),
            Link::Local(s) => s.peer_addr(port).map(LinkAddr::Local),
        }
    }

    fn port_of(&self, addr: LinkAddr) -> Option<PortId> {
        match (self, addr) {
            (Link::Udp(s), LinkAddr::Udp(a)) => s.port_of(a),
            (Link::Local(s), LinkAddr::Local(m)) => s.port_of(m),
            _ => None,
        }
    }

    fn peers(&self) -> Vec<(PortId, LinkAddr)> {
        match self {
            Link::Udp(s) => s
                .peers()
                .into_iter()
                .map(|(p, a)| (p, LinkAddr::Udp(a)))
                .collect(),
            Link::Local(s) => s
                .peers()
                .into_iter()
                .map(|(p, m)| (p, LinkAddr::Local(m)))
                .collect(),
        }
    }

    fn expire(&mut self, now: Instant) -> Vec<PortId> {
        each!(self, s => s.expire(now))
    }

    #[inline]
    fn send(&mut self, port: PortId, pdu: Vec<u8>) -> Result<(), SendError> {
        each!(self, s => s.send(port, pdu))
    }

    #[inline]
    fn queued(&self) -> usize {
        each!(self, s => s.queued())
    }

    #[inline]
    fn has_queued(&self) -> bool {
        each!(self, s => s.has_queued())
    }

    fn flush(&mut self) {
        each!(self, s => s.flush())
    }

    #[inline]
    fn reclaim(&mut self, f: impl FnMut(Vec<u8>)) {
        each!(self, s => s.reclaim(f))
    }

    #[inline]
    fn recv_batch(&mut self, f: impl FnMut(Received<'_>)) -> io::Result<usize> {
        each!(self, s => s.recv_batch(f))
    }

    #[inline]
    fn drained(&self) -> bool {
        each!(self, s => s.drained())
    }

    fn rx_pressure(&mut self) -> RxPressure {
        each!(self, s => s.rx_pressure())
    }

    fn counters(&self) -> ShimCounters {
        each!(self, s => s.counters())
    }
}
