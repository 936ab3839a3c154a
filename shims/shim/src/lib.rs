//! The shim interface of Ouro, written once for every shim (UDP, local, and Ethernet next).
//!
//! A shim is the medium below a layer's lowest IPCP: it carries PDUs to peers, each peer an
//! N-1 port ([`PortId`]) of the IPCP above it. A driver (`ourod`, a test) runs every shim
//! through the [`Shim`] trait: it queues what the IPCP sends ([`Shim::send`]), hands the
//! queue to the medium ([`Shim::flush`]), takes received PDUs in batches
//! ([`Shim::recv_batch`]) and gets the buffers of sent PDUs back ([`Shim::reclaim`]).
//! Beside the trait, two pieces every shim shares:
//!
//! - [`peers::PeerTable`]: configured and learned peers ↔ ports, the learned cap, expiry of
//!   silent learned peers, counters; generic over the medium's address (a UDP
//!   `SocketAddr`, an Ethernet MAC address).
//! - [`fault::Faults`]: the sans-IO fault injector (loss, duplication, reordering, delay,
//!   link down) a driver puts in front of any shim's [`Shim::send`].
//!
//! The trait has generic methods (callbacks taken as `impl FnMut`), so it is meant for
//! static dispatch: a driver holding several kinds of shim wraps them in an enum that
//! implements [`Shim`] by matching, and the per-PDU calls compile to a branch, not a virtual
//! call. Nothing here blocks, reads a clock or panics on bad input.
#![forbid(unsafe_code)]

pub mod fault;
pub mod peers;

pub use fault::{FaultConfig, FaultCounters, FaultError, Faults};
pub use peers::{Heard, Origin, PeerCounters, PeerError, PeerLimits, PeerTable};

use ouro_core::{Instant, PortId};
use std::fmt;
use std::hash::Hash;
use std::io;
use std::os::fd::BorrowedFd;

/// A PDU the shim received, as handed to the callback of [`Shim::recv_batch`].
#[derive(Debug)]
pub struct Received<'a> {
    /// The port it came in on (the sending peer's).
    pub port: PortId,
    /// True if this PDU made the shim learn its peer: the driver tells the IPCP above the
    /// port is up (and schedules it) before handing it the PDU.
    pub new_peer: bool,
    /// The PDU.
    pub data: Payload<'a>,
}

/// The bytes of a received PDU: borrowed from the shim's receive buffer (a socket's), or an
/// owned buffer the driver may keep without a copy (an in-process shim hands over the
/// sender's buffer). Either way it reads as a byte slice.
#[derive(Debug, PartialEq, Eq)]
pub enum Payload<'a> {
    /// In the shim's receive buffer, valid for the callback only.
    Borrowed(&'a [u8]),
    /// The driver's to keep.
    Owned(Vec<u8>),
}

impl Payload<'_> {
    /// The PDU as an owned buffer: an owned one as it is, a borrowed one copied into a
    /// buffer `copy` makes (a recycled one, say).
    #[inline]
    pub fn into_vec(self, copy: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
        match self {
            Payload::Borrowed(b) => copy(b),
            Payload::Owned(v) => v,
        }
    }
}

impl std::ops::Deref for Payload<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Payload::Borrowed(b) => b,
            Payload::Owned(v) => v,
        }
    }
}

/// Why [`Shim::send`] did not queue a PDU. The PDU is dropped and counted in
/// [`ShimCounters::drop_tx`]; a driver may ignore the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No current peer on the port (never given out, expired, or detached).
    #[error("no peer on port {0}")]
    UnknownPort(PortId),
    /// An empty PDU.
    #[error("empty PDU")]
    Empty,
    /// Larger than [`Shim::max_pdu`].
    #[error("a PDU of {len} bytes is more than the shim carries ({max})")]
    TooBig {
        /// Its size.
        len: usize,
        /// The shim's [`Shim::max_pdu`].
        max: usize,
    },
    /// The send queue is full.
    #[error("the send queue is full")]
    QueueFull,
}

/// How hard a shim's receive side is pressed (see [`Shim::rx_pressure`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxPressure {
    /// PDUs the medium dropped since the last look before the shim could read them.
    pub dropped: u32,
    /// The receive buffer is half full or more: the driver reads slower than PDUs come.
    pub crowded: bool,
}

impl RxPressure {
    /// PDUs were lost or soon will be: the node is a bottleneck.
    pub fn congested(&self) -> bool {
        self.dropped > 0 || self.crowded
    }
}

/// What every shim counts (a shim may count more of its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShimCounters {
    /// PDUs received and handed up.
    pub rx_pdus: u64,
    /// Bytes received and handed up.
    pub rx_bytes: u64,
    /// PDUs handed to the medium.
    pub tx_pdus: u64,
    /// Bytes handed to the medium.
    pub tx_bytes: u64,
    /// PDUs received and dropped here: empty or truncated (strangers are in `peers`).
    pub drop_rx: u64,
    /// PDUs dropped on send: refused by [`Shim::send`] or failed in the medium.
    pub drop_tx: u64,
    /// The peer table's counters (learned, expired, strangers).
    pub peers: PeerCounters,
}

/// The interface a driver runs every shim through.
///
/// Sending: [`Shim::send`] queues (never blocks), [`Shim::flush`] hands the queue to the
/// medium as far as it takes it; while [`Shim::has_queued`], a driver watches
/// [`Shim::fd`] for room and flushes again. A driver that paces its ports keeps
/// [`Shim::queued`] below a small mark so congestion builds in its own queues.
///
/// Receiving: a shim with a descriptor ([`Shim::fd`] is `Some`) is read when it is
/// readable, [`Shim::recv_batch`] after [`Shim::recv_batch`] until [`Shim::drained`]. An
/// in-process shim (no descriptor: the local shim) receives what its peers in the same
/// process sent; the driver reads it after each round of sends until a batch is empty.
///
/// Ports: every peer is a port of the IPCP above, from [`Shim::add_peer`] (configured) or
/// learned on receive ([`Received::new_peer`]); learned ones that fall silent go with
/// [`Shim::expire`].
pub trait Shim {
    /// How the medium addresses a peer: a UDP `SocketAddr`, an Ethernet MAC address, a
    /// member of a local shim.
    type Addr: Copy + Eq + Hash + fmt::Debug + fmt::Display;

    /// The largest PDU the shim carries whole (a larger one is refused by
    /// [`Shim::send`], never truncated).
    fn max_pdu(&self) -> usize;

    /// The descriptor to watch for readability (and, while [`Shim::has_queued`], for
    /// room); `None` for an in-process shim.
    fn fd(&self) -> Option<BorrowedFd<'_>>;

    /// The port of a configured peer (a new port unless the peer is known).
    fn add_peer(&mut self, addr: Self::Addr) -> Result<PortId, PeerError>;

    /// The peer on `port` (None: no current peer there).
    fn peer_addr(&self, port: PortId) -> Option<Self::Addr>;

    /// The port of a current peer.
    fn port_of(&self, addr: Self::Addr) -> Option<PortId>;

    /// Every current peer: (port, address), by port.
    fn peers(&self) -> Vec<(PortId, Self::Addr)>;

    /// Forget learned peers silent too long (one sweep at `now`; see
    /// [`PeerTable::expire`]); returns their ports, which the driver takes down in the IPCP
    /// above. A shim that learns no peers returns none.
    fn expire(&mut self, now: Instant) -> Vec<PortId> {
        let _ = now;
        Vec::new()
    }

    /// Queue a PDU for the peer on `port`. A PDU it cannot queue is dropped, counted, and
    /// the reason returned.
    fn send(&mut self, port: PortId, pdu: Vec<u8>) -> Result<(), SendError>;

    /// PDUs queued and not yet handed to the medium.
    fn queued(&self) -> usize;

    /// True while PDUs wait in the send queue (the medium was full).
    fn has_queued(&self) -> bool {
        self.queued() > 0
    }

    /// Hand as much of the queue to the medium as it takes now. Never blocks.
    fn flush(&mut self);

    /// Hand the buffers of PDUs sent since the last call to `f`, for reuse (a shim that
    /// keeps none hands none).
    fn reclaim(&mut self, f: impl FnMut(Vec<u8>));

    /// Read one batch of received PDUs without blocking and hand each to `f`. Returns how
    /// many were handed (0: nothing was waiting, or only what the shim dropped).
    fn recv_batch(&mut self, f: impl FnMut(Received<'_>)) -> io::Result<usize>;

    /// True if the last [`Shim::recv_batch`] found nothing more waiting: until the
    /// descriptor is readable again (or, in process, until a peer sends), another would
    /// only return nothing.
    fn drained(&self) -> bool;

    /// How hard the receive side is pressed, looked at now (may cost a system call: a
    /// driver asks when it falls behind). Nothing to report by default.
    fn rx_pressure(&mut self) -> RxPressure {
        RxPressure::default()
    }

    /// What it counted so far.
    fn counters(&self) -> ShimCounters;
}
