//! The UDP shim of Ouro: one UDP socket per layer (IPv4 or IPv6), each peer endpoint an N-1
//! port ([`PortId`]) of the IPCP above.
//!
//! - Peers come from the configuration ([`UdpShim::add_peer`]) or are learned from the first
//!   datagram they send (up to [`ShimOptions::max_learned`]; later strangers are counted and
//!   dropped). A learned peer that falls silent for [`ShimOptions::learned_ttl`] is forgotten
//!   by [`UdpShim::expire_learned`] (explicit time; counted), freeing its place in the table.
//! - One datagram carries one PDU, unchanged. Anything the socket delivers is handed up; the
//!   core parses it with checked views and counts what it cannot parse, so garbage never
//!   crashes anything. Oversized or truncated datagrams are dropped here and counted.
//! - I/O is batched with `quinn-udp`: `recvmmsg` with GRO on receive, and on send runs of
//!   equal-size PDUs to the same peer go out as one GSO `sendmsg` (one syscall, many
//!   datagrams); the rest go one `sendmsg` each.
//! - [`fault`] (from `ouro-shim`, re-exported) is a fault-injecting wrapper (loss,
//!   duplication, reordering, delay, link down) the driver can put in front of
//!   [`UdpShim::send`].
//!
//! - [`UdpShim::bind`] registers the socket with tokio's reactor, for readability only: a
//!   socket registered for writability wakes the reactor after every send (its send space
//!   grows again at once on loopback), which costs a reactor turn per PDU. While PDUs wait
//!   for room, [`UdpShim::writable`] watches a duplicate descriptor.
//!   [`UdpShim::bind_unregistered`] leaves the socket to a driver with its own event loop,
//!   which watches [`UdpShim::as_fd`] and asks [`UdpShim::drained`] after a receive.
//!
//! Apart from [`register`] (one call handing an owned socket to the reactor), all unsafe
//! code lives in `quinn-udp`.
#![deny(unsafe_code)]

/// The fault injector, now shared by every shim (it lives in `ouro-shim`).
pub use ouro_shim::fault;

use ouro_core::{Instant, PortId};
use quinn_udp::{BATCH_SIZE, RecvMeta, Transmit, UdpSocketState};
use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The UDP port the shim uses when none is configured (as in Ouroboros).
pub const DEFAULT_PORT: u16 = 3435;

/// Buffers of sent PDUs kept for [`UdpShim::reclaim`] (beyond, they are freed).
pub const MAX_SENT_KEPT: usize = 4096;

/// Largest PDU the shim carries (a UDP payload over IPv4 or IPv6 without jumbograms).
pub const MAX_PDU: usize = 65_507;

/// Errors setting a shim up.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// The socket could not be bound.
    #[error("cannot bind UDP socket to {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// Another socket-level failure.
    #[error("UDP socket setup: {0}")]
    Io(#[from] io::Error),
}

/// Tunables of a shim.
#[derive(Clone, Copy, Debug)]
pub struct ShimOptions {
    /// How many peers may be learned from incoming datagrams (configured peers don't count).
    pub max_learned: usize,
    /// Socket send and receive buffer size to ask for (bytes).
    pub socket_buffer: usize,
    /// PDUs queued for sending when the socket is full, beyond which new ones are dropped.
    pub max_queued: usize,
    /// A learned peer silent for this long is forgotten (None: never).
    pub learned_ttl: Option<std::time::Duration>,
    /// Keep the buffers of sent PDUs (up to [`MAX_SENT_KEPT`]) for the driver to take
    /// with [`UdpShim::reclaim`]; a driver that never does should leave this off.
    pub keep_sent: bool,
    /// Most datagrams one [`UdpShim::recv_batch`] reads (1 to [`RECV_BATCH_MAX`]; others
    /// are clamped). With GRO each may be a run of up to 64 PDUs, so this bounds the PDUs a
    /// driver must place before it can send any: a relay whose queues hold 1,024 PDUs
    /// dropped parts of single 32-datagram batches.
    pub recv_datagrams: usize,
}

/// Most datagrams a receive call can ask for (`quinn-udp`'s batch).
pub const RECV_BATCH_MAX: usize = BATCH_SIZE;

impl Default for ShimOptions {
    fn default() -> Self {
        ShimOptions {
            max_learned: 1024,
            socket_buffer: 4 << 20,
            max_queued: 4096,
            keep_sent: false,
            learned_ttl: Some(std::time::Duration::from_secs(300)),
            recv_datagrams: RECV_BATCH_MAX,
        }
    }
}

/// Counters of one shim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShimCounters {
    /// Datagrams received and handed up.
    pub rx_datagrams: u64,
    /// Bytes received and handed up.
    pub rx_bytes: u64,
    /// Datagrams sent.
    pub tx_datagrams: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Receive system calls that returned at least one datagram.
    pub rx_batches: u64,
    /// Send system calls.
    pub tx_syscalls: u64,
    /// Peers learned from incoming datagrams.
    pub peers_learned: u64,
    /// Datagrams dropped: from an unknown peer while the learned-peer table was full.
    pub drop_stranger: u64,
    /// Learned peers forgotten after falling silent.
    pub peers_expired: u64,
    /// Datagrams dropped: empty or truncated.
    pub drop_bad: u64,
    /// PDUs dropped on send: unknown port, too big, queue full or a socket error.
    pub drop_tx: u64,
    /// Datagrams the kernel dropped at the socket before the shim could read them (its
    /// receive buffer was full), as learned by [`UdpShim::rx_pressure`] (see also
    /// [`UdpShim::rx_overflow_now`]). With GRO, one dropped super-datagram may count once.
    pub rx_overflow: u64,
    /// Times [`UdpShim::rx_pressure`] found the receive buffer half full or more.
    pub rx_crowded: u64,
}

/// How hard the socket's receive side is pressed (see [`UdpShim::rx_pressure`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxPressure {
    /// Datagrams the kernel dropped since the last look: the receive buffer was full.
    pub dropped: u32,
    /// The receive buffer is half full or more: the driver reads slower than datagrams come.
    pub crowded: bool,
}

impl RxPressure {
    /// Datagrams were lost or soon will be: the node is a bottleneck.
    pub fn congested(&self) -> bool {
        self.dropped > 0 || self.crowded
    }
}

/// One received datagram, as handed to the caller of [`UdpShim::recv_batch`].
#[derive(Debug)]
pub struct Received<'a> {
    /// The peer's port.
    pub port: PortId,
    /// True if this datagram made the shim learn the peer.
    pub new_peer: bool,
    /// The PDU.
    pub data: &'a [u8],
}

/// The shim's socket: registered with tokio's reactor, or left to the driver's own loop.
enum Socket {
    Reactor(AsyncFd<std::net::UdpSocket>),
    Plain(std::net::UdpSocket),
}

impl Socket {
    fn get_ref(&self) -> &std::net::UdpSocket {
        match self {
            Socket::Reactor(s) => s.get_ref(),
            Socket::Plain(s) => s,
        }
    }

    fn reactor(&self) -> io::Result<&AsyncFd<std::net::UdpSocket>> {
        match self {
            Socket::Reactor(s) => Ok(s),
            Socket::Plain(_) => Err(io::Error::other(
                "the shim's socket is not registered with tokio (bind_unregistered)",
            )),
        }
    }
}

/// A UDP shim: one socket, the peer table, receive buffers and the send queue.
pub struct UdpShim {
    socket: Socket,
    /// The last receive found the socket empty (it read less than a full batch).
    drained: bool,
    state: UdpSocketState,
    opts: ShimOptions,
    by_addr: HashMap<SocketAddr, PortId>,
    by_port: Vec<SocketAddr>,
    /// Per port: how the peer came to be known and whether it spoke since the last sweep.
    origin: Vec<Origin>,
    learned: usize,
    rx_bufs: Vec<Vec<u8>>,
    rx_meta: Vec<RecvMeta>,
    tx_queue: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Buffers of sent PDUs, until [`UdpShim::reclaim`] takes them.
    sent: Vec<Vec<u8>>,
    gso_buf: Vec<u8>,
    /// The kernel's drop count of the socket at the last [`UdpShim::rx_pressure`].
    kernel_drops: u32,
    counters: ShimCounters,
}

impl std::fmt::Debug for UdpShim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpShim")
            .field("local", &self.socket.get_ref().local_addr().ok())
            .field("peers", &self.by_port.len())
            .finish()
    }
}

impl UdpShim {
    /// Bind a shim to `addr` (port 0 picks a free port). Must run inside a tokio runtime.
    pub fn bind(addr: SocketAddr, opts: ShimOptions) -> Result<UdpShim, ShimError> {
        Self::bind_with(addr, opts, true)
    }

    /// Bind a shim to `addr` without registering its socket with tokio, for a driver with
    /// its own event loop: it waits for [`UdpShim::as_fd`] to become readable, calls
    /// [`UdpShim::recv_batch`] until [`UdpShim::drained`], and waits for room on a
    /// duplicate of the descriptor while [`UdpShim::has_queued`]. [`UdpShim::readable`]
    /// and [`UdpShim::writable`] fail on such a shim.
    pub fn bind_unregistered(addr: SocketAddr, opts: ShimOptions) -> Result<UdpShim, ShimError> {
        Self::bind_with(addr, opts, false)
    }

    fn bind_with(addr: SocketAddr, opts: ShimOptions, tokio: bool) -> Result<UdpShim, ShimError> {
        let std_sock =
            std::net::UdpSocket::bind(addr).map_err(|source| ShimError::Bind { addr, source })?;
        std_sock.set_nonblocking(true)?;
        let state = UdpSocketState::new((&std_sock).into())?;
        // Best effort: the kernel may cap these.
        let _ = state.set_send_buffer_size((&std_sock).into(), opts.socket_buffer);
        let _ = state.set_recv_buffer_size((&std_sock).into(), opts.socket_buffer);
        quiet_ancillary(&std_sock);
        let socket = if tokio {
            Socket::Reactor(register(std_sock, Interest::READABLE)?)
        } else {
            Socket::Plain(std_sock)
        };
        let gro = state.gro_segments().max(1);
        // Each receive buffer holds one GRO super-datagram (or one plain datagram).
        let buf_len = (MAX_PDU + 1).max(gro * 1500).min(1 << 16);
        Ok(UdpShim {
            socket,
            drained: true,
            state,
            opts,
            by_addr: HashMap::new(),
            by_port: Vec::new(),
            origin: Vec::new(),
            learned: 0,
            rx_bufs: (0..opts.recv_datagrams.clamp(1, RECV_BATCH_MAX))
                .map(|_| vec![0; buf_len])
                .collect(),
            rx_meta: vec![RecvMeta::default(); BATCH_SIZE],
            tx_queue: VecDeque::new(),
            sent: Vec::new(),
            gso_buf: Vec::with_capacity(1 << 16),
            kernel_drops: 0,
            counters: ShimCounters::default(),
        })
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.get_ref().local_addr()
    }

    /// The port of peer `addr`, creating it if new (configured peers).
    pub fn add_peer(&mut self, addr: SocketAddr) -> PortId {
        let addr = normalize(addr);
        if let Some(p) = self.by_addr.get(&addr) {
            return *p;
        }
        self.new_port(addr, Origin::Configured)
    }

    fn new_port(&mut self, addr: SocketAddr, origin: Origin) -> PortId {
        let port = PortId(u32::try_from(self.by_port.len()).unwrap_or(u32::MAX));
        self.by_port.push(addr);
        self.origin.push(origin);
        self.by_addr.insert(addr, port);
        port
    }

    /// Forget learned peers that sent nothing for [`ShimOptions::learned_ttl`]; returns their
    /// ports (the driver tells the IPCP above they are down). Call it now and then (each
    /// call is one sweep: a peer heard since the previous sweep counts as heard at `now`).
    /// A forgotten peer that speaks again is learned anew, on a new port.
    pub fn expire_learned(&mut self, now: Instant) -> Vec<PortId> {
        let Some(ttl) = self.opts.learned_ttl else {
            return Vec::new();
        };
        let mut gone = Vec::new();
        for (i, o) in self.origin.iter_mut().enumerate() {
            match *o {
                Origin::Learned { heard: true, .. } => {
                    *o = Origin::Learned {
                        heard: false,
                        last: now,
                    };
                }
                Origin::Learned { heard: false, last }
                    if now.saturating_duration_since(last) >= ttl =>
                {
                    *o = Origin::Expired;
                    gone.push(PortId(i as u32));
                }
                _ => {}
            }
        }
        for p in &gone {
            if let Some(a) = self.by_port.get(p.0 as usize) {
                self.by_addr.remove(a);
                tracing::debug!(addr = %a, "udp shim: learned peer expired");
            }
        }
        self.learned -= gone.len().min(self.learned);
        self.counters.peers_expired += gone.len() as u64;
        gone
    }

    /// The peer endpoint behind `port` (None once an expired learned peer was forgotten).
    pub fn peer_addr(&self, port: PortId) -> Option<SocketAddr> {
        match self.origin.get(port.0 as usize) {
            Some(Origin::Expired) | None => None,
            Some(_) => self.by_port.get(port.0 as usize).copied(),
        }
    }

    /// The port of a known peer.
    pub fn port_of(&self, addr: SocketAddr) -> Option<PortId> {
        self.by_addr.get(&normalize(addr)).copied()
    }

    /// All current peers: (port, address).
    pub fn peers(&self) -> impl Iterator<Item = (PortId, SocketAddr)> + '_ {
        self.by_port
            .iter()
            .zip(&self.origin)
            .enumerate()
            .filter(|(_, (_, o))| **o != Origin::Expired)
            .map(|(i, (a, _))| (PortId(i as u32), *a))
    }

    /// Counters so far.
    pub fn counters(&self) -> ShimCounters {
        self.counters
    }

    /// Wait until the socket has datagrams to read (a tokio-registered shim only).
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.reactor()?.readable().await.map(|_| ())
    }

    /// Wait until the socket can take more datagrams (only useful while
    /// [`UdpShim::has_queued`]; a tokio-registered shim only). The socket is registered for
    /// readability only, so this registers a duplicate descriptor for writability for the
    /// time of the wait (two `epoll_ctl` calls; a wait happens only when the socket was
    /// full).
    pub async fn writable(&self) -> io::Result<()> {
        let socket = self.socket.reactor()?;
        let dup = register(socket.get_ref().try_clone()?, Interest::WRITABLE)?;
        dup.writable().await.map(|_| ())
    }

    /// The socket, for a driver watching it itself (see [`UdpShim::bind_unregistered`]).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.get_ref().as_fd()
    }

    /// How full the socket's receive buffer is, and the datagrams the kernel dropped at it
    /// since the last call because it was full (counted in [`ShimCounters::rx_overflow`]
    /// and [`ShimCounters::rx_crowded`]): the driver does not read as fast as datagrams
    /// come, a sign of congestion at this node, like a filling queue. One system call;
    /// nothing to report where the kernel does not tell.
    pub fn rx_pressure(&mut self) -> RxPressure {
        let Some(info) = socket_meminfo(self.as_fd()) else {
            return RxPressure::default();
        };
        let dropped = info.drops.wrapping_sub(self.kernel_drops);
        self.kernel_drops = info.drops;
        self.counters.rx_overflow += u64::from(dropped);
        let crowded = info.rmem_alloc >= info.rcvbuf / 2;
        self.counters.rx_crowded += u64::from(crowded);
        RxPressure { dropped, crowded }
    }

    /// [`ShimCounters::rx_overflow`] as of now: with the drops the kernel counted since the
    /// last [`UdpShim::rx_pressure`] (a driver asks that only when it falls behind), for
    /// reports. One system call.
    pub fn rx_overflow_now(&self) -> u64 {
        let unseen = socket_meminfo(self.as_fd())
            .map_or(0, |info| info.drops.wrapping_sub(self.kernel_drops));
        self.counters.rx_overflow + u64::from(unseen)
    }

    /// True if the last [`UdpShim::recv_batch`] found the socket empty: it read fewer
    /// datagrams than a batch holds, or none. Until the socket is readable again, another
    /// receive would only return nothing.
    pub fn drained(&self) -> bool {
        self.drained
    }

    /// Read one batch of datagrams without blocking and hand each to `f`. Returns how many
    /// were handed up (0 when nothing was waiting).
    pub fn recv_batch(&mut self, mut f: impl FnMut(Received<'_>)) -> io::Result<usize> {
        let Self {
            socket,
            state,
            rx_bufs,
            rx_meta,
            ..
        } = self;
        // On the stack: no allocation per receive call.
        let want = rx_bufs.len();
        let mut bufs = rx_bufs.iter_mut();
        let mut slices: [IoSliceMut<'_>; BATCH_SIZE] = std::array::from_fn(|_| {
            IoSliceMut::new(bufs.next().map_or(&mut [][..], |b| b.as_mut_slice()))
        });
        let got = match socket {
            Socket::Reactor(s) => s.try_io(Interest::READABLE, |s| {
                state.recv(s.into(), &mut slices[..want], rx_meta)
            }),
            Socket::Plain(s) => state.recv((&*s).into(), &mut slices[..want], rx_meta),
        };
        self.drained = true;
        let n = match got {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            // ICMP errors from earlier sends surface here on some systems: not fatal.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                self.drained = false;
                return Ok(0);
            }
            Err(e) => return Err(e),
        };
        self.drained = n < self.rx_bufs.len();
        if let (true, Socket::Reactor(s)) = (self.drained, &self.socket) {
            // Fewer than asked for: the socket was empty. Clear the readiness now instead of
            // spending the next receive call to learn it (a datagram that arrived since is a
            // newer readiness event, which this leaves set).
            let _ = s.try_io(Interest::READABLE, |_| {
                Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
            });
        }
        self.counters.rx_batches += 1;
        let mut handed = 0;
        for i in 0..n {
            let meta = self.rx_meta[i];
            let addr = normalize(meta.addr);
            let (port, new_peer) = match self.by_addr.get(&addr) {
                Some(p) => {
                    if let Some(Origin::Learned { heard, .. }) = self.origin.get_mut(p.0 as usize) {
                        *heard = true;
                    }
                    (*p, false)
                }
                None if self.learned < self.opts.max_learned => {
                    self.learned += 1;
                    self.counters.peers_learned += 1;
                    tracing::debug!(%addr, "udp shim: learned peer");
                    let origin = Origin::Learned {
                        heard: true,
                        last: Instant::ZERO,
                    };
                    (self.new_port(addr, origin), true)
                }
                None => {
                    self.counters.drop_stranger += 1;
                    continue;
                }
            };
            let buf = &self.rx_bufs[i][..meta.len.min(self.rx_bufs[i].len())];
            let stride = meta.stride.max(1);
            let mut first = new_peer;
            for seg in buf.chunks(stride) {
                if seg.is_empty() || seg.len() > MAX_PDU {
                    self.counters.drop_bad += 1;
                    continue;
                }
                self.counters.rx_datagrams += 1;
                self.counters.rx_bytes += seg.len() as u64;
                handed += 1;
                f(Received {
                    port,
                    new_peer: first,
                    data: seg,
                });
                first = false;
            }
        }
        Ok(handed)
    }

    /// Hand the buffers of sent PDUs to `f` (for reuse by the driver; see
    /// [`UdpShim::flush`]), at most [`MAX_SENT_KEPT`] since the last call.
    pub fn reclaim(&mut self, f: impl FnMut(Vec<u8>)) {
        self.sent.drain(..).for_each(f);
    }

    /// Queue a PDU for `port`; [`UdpShim::flush`] sends the queue.
    pub fn send(&mut self, port: PortId, data: Vec<u8>) {
        let Some(addr) = self.peer_addr(port) else {
            self.counters.drop_tx += 1;
            return;
        };
        if data.is_empty() || data.len() > MAX_PDU || self.tx_queue.len() >= self.opts.max_queued {
            self.counters.drop_tx += 1;
            return;
        }
        self.tx_queue.push_back((addr, data));
    }

    /// PDUs waiting in the send queue: a driver that paces its ports adds more only while
    /// this stays below a small mark, so congestion builds in its own queues, not here.
    pub fn queued(&self) -> usize {
        self.tx_queue.len()
    }

    /// True while PDUs wait in the send queue (the socket was full).
    pub fn has_queued(&self) -> bool {
        !self.tx_queue.is_empty()
    }

    /// Send as much of the queue as the socket takes, batching runs of equal-size PDUs to
    /// the same peer into one GSO send. Never blocks.
    pub fn flush(&mut self) {
        let max_seg = self.state.max_gso_segments().max(1);
        while let Some((addr, first)) = self.tx_queue.front() {
            let addr = *addr;
            let size = first.len();
            // How many queued PDUs can share one GSO send with the first.
            let mut run = 1;
            if max_seg > 1 {
                let mut total = size;
                for (a, d) in self.tx_queue.iter().skip(1) {
                    if run >= max_seg || *a != addr || d.len() > size || total + d.len() > 65_000 {
                        break;
                    }
                    run += 1;
                    total += d.len();
                    if d.len() < size {
                        break; // a shorter PDU may only end a GSO run
                    }
                }
            }
            let result = if run == 1 {
                let t = Transmit {
                    destination: addr,
                    ecn: None,
                    contents: first,
                    segment_size: None,
                    src_ip: None,
                };
                self.state.try_send(self.socket.get_ref().into(), &t)
            } else {
                self.gso_buf.clear();
                for (_, d) in self.tx_queue.iter().take(run) {
                    self.gso_buf.extend_from_slice(d);
                }
                let t = Transmit {
                    destination: addr,
                    ecn: None,
                    contents: &self.gso_buf,
                    segment_size: Some(size),
                    src_ip: None,
                };
                self.state.try_send(self.socket.get_ref().into(), &t)
            };
            match result {
                Ok(()) => {
                    self.counters.tx_syscalls += 1;
                    for _ in 0..run {
                        if let Some((_, d)) = self.tx_queue.pop_front() {
                            self.counters.tx_datagrams += 1;
                            self.counters.tx_bytes += d.len() as u64;
                            if self.opts.keep_sent && self.sent.len() < MAX_SENT_KEPT {
                                self.sent.push(d);
                            }
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // Unreachable peer, EMSGSIZE...: drop this run, keep going.
                    tracing::debug!(%addr, error = %e, "udp shim: send failed");
                    for _ in 0..run {
                        self.tx_queue.pop_front();
                        self.counters.drop_tx += 1;
                    }
                }
            }
        }
    }
}

/// How a port's peer came to be known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// From the configuration: never expires.
    Configured,
    /// From an incoming datagram: `heard` since the sweep at `last`.
    Learned { heard: bool, last: Instant },
    /// Learned, then forgotten after falling silent.
    Expired,
}

/// Turns off the control messages `quinn-udp` asks the kernel for on every received
/// datagram — the IP TOS / traffic class (QUIC's ECN) and the destination address — which
/// the shim never reads (Ouro's ECN travels in the DT header): each is one more control
/// message written and parsed per receive. GRO's segment size stays on. Best effort: an
/// option of the other IP version fails and is ignored.
fn quiet_ancillary(socket: &std::net::UdpSocket) {
    use nix::sys::socket::setsockopt;
    use nix::sys::socket::sockopt::{
        IpRecvTos, Ipv4PacketInfo, Ipv6RecvPacketInfo, Ipv6RecvTClass,
    };
    let _ = setsockopt(socket, IpRecvTos, &false);
    let _ = setsockopt(socket, Ipv4PacketInfo, &false);
    let _ = setsockopt(socket, Ipv6RecvTClass, &false);
    let _ = setsockopt(socket, Ipv6RecvPacketInfo, &false);
}

/// Hand an owned socket to the reactor, registered for `interest` only.
#[allow(unsafe_code)]
fn register(
    socket: std::net::UdpSocket,
    interest: Interest,
) -> io::Result<AsyncFd<std::net::UdpSocket>> {
    // SAFETY: the AsyncFd takes ownership of the socket, so its descriptor stays open and
    // refers to the same file description for the AsyncFd's whole life, and
    // `UdpSocket::as_raw_fd` always returns that descriptor.
    unsafe { AsyncFd::register_with_interest(socket, interest) }
        .map_err(|e| io::Error::other(e.to_string()))
}

/// What `SO_MEMINFO` tells of a socket.
struct MemInfo {
    /// Bytes queued for reading (`SK_MEMINFO_RMEM_ALLOC`, the kernel's accounting).
    rmem_alloc: u32,
    /// The receive buffer's size (`SK_MEMINFO_RCVBUF`).
    rcvbuf: u32,
    /// Datagrams dropped at the socket so far (`SK_MEMINFO_DROPS`).
    drops: u32,
}

/// The kernel's memory accounting of `fd` (`SO_MEMINFO`).
#[allow(unsafe_code)]
fn socket_meminfo(fd: BorrowedFd<'_>) -> Option<MemInfo> {
    use nix::libc;
    /// `SO_MEMINFO` from `asm-generic/socket.h` (Linux 3.10 on; x86 and arm use it too).
    const SO_MEMINFO: libc::c_int = 55;
    const VARS: usize = libc::SK_MEMINFO_DROPS as usize + 1;
    let mut info = [0u32; VARS];
    let mut len = libc::socklen_t::try_from(std::mem::size_of_val(&info)).ok()?;
    // SAFETY: `info` is a live, writable buffer of `len` bytes for the whole call; the
    // kernel writes at most `len` bytes into it and stores the length it wrote in `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    let filled = usize::try_from(len).ok()? / std::mem::size_of::<u32>();
    (rc == 0 && filled >= VARS).then(|| MemInfo {
        rmem_alloc: info[libc::SK_MEMINFO_RMEM_ALLOC as usize],
        rcvbuf: info[libc::SK_MEMINFO_RCVBUF as usize],
        drops: info[libc::SK_MEMINFO_DROPS as usize],
    })
}

/// IPv4-mapped IPv6 addresses (from dual-stack sockets) become plain IPv4, so a peer has one
/// key whichever way its datagrams arrive.
fn normalize(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn recv_some(shim: &mut UdpShim, want: usize) -> Vec<(PortId, bool, Vec<u8>)> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while got.len() < want {
            tokio::time::timeout_at(deadline, shim.readable())
                .await
                .expect("timed out waiting for datagrams")
                .expect("readable");
            shim.recv_batch(|r| got.push((r.port, r.new_peer, r.data.to_vec())))
                .expect("recv");
        }
        got
    }

    async fn flush_all(shim: &mut UdpShim) {
        shim.flush();
        while shim.has_queued() {
            tokio::time::timeout(Duration::from_secs(5), shim.writable())
                .await
                .expect("timed out waiting to send")
                .expect("writable");
            shim.flush();
        }
    }

    async fn pair(a: &str, b: &str) -> (UdpShim, UdpShim) {
        let x = UdpShim::bind(a.parse().expect("addr"), ShimOptions::default()).expect("bind");
        let y = UdpShim::bind(b.parse().expect("addr"), ShimOptions::default()).expect("bind");
        (x, y)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn configured_and_learned_peers_ipv4() {
        let (mut a, mut b) = pair("127.0.0.1:0", "127.0.0.1:0").await;
        let pb = a.add_peer(b.local_addr().expect("addr"));
        assert_eq!(pb, PortId(0));
        a.send(pb, b"hello".to_vec());
        flush_all(&mut a).await;
        let got = recv_some(&mut b, 1).await;
        assert_eq!(got, vec![(PortId(0), true, b"hello".to_vec())]);
        // b answers on the learned port.
        b.send(PortId(0), b"back".to_vec());
        flush_all(&mut b).await;
        let got = recv_some(&mut a, 1).await;
        assert_eq!(got, vec![(pb, false, b"back".to_vec())]);
        assert_eq!(b.counters().peers_learned, 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn batches_of_equal_size_go_out_with_few_syscalls_and_arrive_intact() {
        let (mut a, mut b) = pair("127.0.0.1:0", "127.0.0.1:0").await;
        let pb = a.add_peer(b.local_addr().expect("addr"));
        for i in 0..40u8 {
            a.send(pb, vec![i; 1000]);
        }
        a.send(pb, vec![99; 10]);
        assert_eq!(a.queued(), 41);
        flush_all(&mut a).await;
        assert!(!a.has_queued());
        assert_eq!(a.queued(), 0);
        assert_eq!(a.counters().tx_datagrams, 41);
        if a.state.max_gso_segments() > 1 {
            assert!(a.counters().tx_syscalls < 10, "{:?}", a.counters());
        }
        let got = recv_some(&mut b, 41).await;
        for (i, (_, _, d)) in got.iter().take(40).enumerate() {
            assert_eq!(d, &vec![i as u8; 1000]);
        }
        assert_eq!(got[40].2, vec![99; 10]);
    }

    #[test]
    fn datagrams_the_kernel_drops_at_a_full_socket_are_counted() {
        let small = ShimOptions {
            socket_buffer: 4096,
            ..ShimOptions::default()
        };
        let mut b =
            UdpShim::bind_unregistered("127.0.0.1:0".parse().expect("addr"), small).expect("bind");
        assert_eq!(
            b.rx_pressure(),
            RxPressure::default(),
            "empty, nothing lost"
        );
        // Far more than a buffer of a few kB holds, none read: loopback delivers (or drops)
        // each datagram before send_to returns.
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        for _ in 0..200 {
            sender
                .send_to(&[7; 1000], b.local_addr().expect("addr"))
                .expect("send");
        }
        let unseen = b.rx_overflow_now();
        let p = b.rx_pressure();
        let dropped = p.dropped;
        assert_eq!(
            unseen,
            u64::from(dropped),
            "reported before the driver looked"
        );
        assert_eq!(b.rx_overflow_now(), unseen, "and not twice after");
        assert!(dropped > 0, "a full receive buffer drops");
        assert!(p.crowded && p.congested());
        assert_eq!(b.counters().rx_overflow, u64::from(dropped));
        assert_eq!(b.rx_pressure().dropped, 0, "counted once");
        let mut got = 0;
        while b.recv_batch(|_| got += 1).expect("recv") > 0 {}
        assert_eq!(
            got + dropped,
            200,
            "each datagram read or counted as dropped"
        );
        assert!(!b.rx_pressure().congested(), "read empty, no new drops");
        assert_eq!(b.counters().rx_crowded, 2);
    }

    #[test]
    fn a_receive_reads_at_most_the_datagrams_asked_for() {
        let opts = ShimOptions {
            recv_datagrams: 2,
            ..ShimOptions::default()
        };
        let mut b =
            UdpShim::bind_unregistered("127.0.0.1:0".parse().expect("addr"), opts).expect("bind");
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        for i in 0..5u8 {
            sender
                .send_to(&[i; 100], b.local_addr().expect("addr"))
                .expect("send");
        }
        let mut got = Vec::new();
        let mut calls = Vec::new();
        loop {
            let n = b.recv_batch(|r| got.push(r.data[0])).expect("recv");
            calls.push((n, b.drained()));
            if n == 0 {
                break;
            }
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert_eq!(calls, vec![(2, false), (2, false), (1, true), (0, true)]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn ipv6_loopback() {
        let Ok(mut a) = UdpShim::bind("[::1]:0".parse().expect("addr"), ShimOptions::default())
        else {
            return; // no IPv6 on this machine
        };
        let mut b =
            UdpShim::bind("[::1]:0".parse().expect("addr"), ShimOptions::default()).expect("bind");
        let pb = a.add_peer(b.local_addr().expect("addr"));
        a.send(pb, vec![1, 2, 3]);
        flush_all(&mut a).await;
        let got = recv_some(&mut b, 1).await;
        assert_eq!(got[0].2, vec![1, 2, 3]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn strangers_beyond_the_learned_limit_are_dropped() {
        let opts = ShimOptions {
            max_learned: 1,
            ..ShimOptions::default()
        };
        let mut b = UdpShim::bind("127.0.0.1:0".parse().expect("addr"), opts).expect("bind");
        let dst = b.local_addr().expect("addr");
        let s1 = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let s2 = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        s1.send_to(b"one", dst).expect("send");
        let got = recv_some(&mut b, 1).await;
        assert_eq!(got.len(), 1);
        s2.send_to(b"two", dst).expect("send");
        s1.send_to(b"three", dst).expect("send");
        let got = recv_some(&mut b, 1).await;
        assert_eq!(got[0].2, b"three".to_vec());
        assert_eq!(b.counters().drop_stranger, 1);
        // Sending on an unknown port is counted, not a panic.
        b.send(PortId(77), vec![1]);
        assert_eq!(b.counters().drop_tx, 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn silent_learned_peers_expire_with_explicit_time() {
        let opts = ShimOptions {
            max_learned: 1,
            learned_ttl: Some(Duration::from_secs(10)),
            ..ShimOptions::default()
        };
        let mut b = UdpShim::bind("127.0.0.1:0".parse().expect("addr"), opts).expect("bind");
        let configured = b.add_peer("127.0.0.1:9".parse().expect("addr"));
        let dst = b.local_addr().expect("addr");
        let talker = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let other = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        talker.send_to(b"hi", dst).expect("send");
        let port = recv_some(&mut b, 1).await[0].0;
        let t0 = Instant::from_millis(1_000);
        assert!(
            b.expire_learned(t0).is_empty(),
            "heard since the last sweep"
        );
        // It speaks again before the deadline: the clock restarts at that sweep.
        talker.send_to(b"again", dst).expect("send");
        recv_some(&mut b, 1).await;
        let t1 = t0 + Duration::from_secs(9);
        assert!(b.expire_learned(t1).is_empty());
        assert!(b.expire_learned(t1 + Duration::from_secs(9)).is_empty());
        // Silent for the whole ttl: forgotten and counted; the configured peer stays.
        assert_eq!(b.expire_learned(t1 + Duration::from_secs(10)), vec![port]);
        assert_eq!(b.counters().peers_expired, 1);
        assert_eq!(b.peer_addr(port), None);
        assert!(b.peer_addr(configured).is_some());
        assert_eq!(b.peers().count(), 1);
        b.send(port, vec![1]);
        assert_eq!(b.counters().drop_tx, 1, "an expired port is unknown");
        // Its place in the table is free again: a new stranger is learned on a new port.
        other.send_to(b"new", dst).expect("send");
        let got = recv_some(&mut b, 1).await;
        assert!(got[0].1, "learned");
        assert_ne!(got[0].0, port);
        assert_eq!(b.counters().drop_stranger, 0);
    }
}
