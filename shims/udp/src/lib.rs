//! The UDP shim of Ouro: one UDP socket per layer (IPv4 or IPv6), each peer endpoint an N-1
//! port ([`PortId`]) of the IPCP above. It implements [`ouro_shim::Shim`], the interface a
//! driver runs every shim through.
//!
//! - Peers live in an [`ouro_shim::PeerTable`] of socket addresses: configured ones
//!   ([`Shim::add_peer`]) and ones learned from the first datagram they send (up to
//!   [`ShimOptions::max_learned`]; later strangers are counted and dropped). A learned peer
//!   that falls silent for [`ShimOptions::learned_ttl`] is forgotten by [`Shim::expire`]
//!   (explicit time; counted), freeing its place in the table.
//! - One datagram carries one PDU, unchanged. Anything the socket delivers is handed up; the
//!   core parses it with checked views and counts what it cannot parse, so garbage never
//!   crashes anything. Oversized or truncated datagrams are dropped here and counted.
//! - I/O is batched with `quinn-udp`: `recvmmsg` with GRO on receive, and on send runs of
//!   equal-size PDUs to the same peer go out as one GSO `sendmsg` (one syscall, many
//!   datagrams); the rest go one `sendmsg` each.
//! - Faults are injected in front of [`Shim::send`] by the driver, with
//!   [`ouro_shim::fault`] (re-exported here as [`fault`]).
//!
//! - [`UdpShim::bind`] registers the socket with tokio's reactor, for readability only: a
//!   socket registered for writability wakes the reactor after every send (its send space
//!   grows again at once on loopback), which costs a reactor turn per PDU. While PDUs wait
//!   for room, [`UdpShim::writable`] watches a duplicate descriptor.
//!   [`UdpShim::bind_unregistered`] leaves the socket to a driver with its own event loop,
//!   which watches [`Shim::fd`] and asks [`Shim::drained`] after a receive.
//!
//! Apart from [`register`] (one call handing an owned socket to the reactor), all unsafe
//! code lives in `quinn-udp`.
#![deny(unsafe_code)]

/// The fault injector, now shared by every shim (it lives in `ouro-shim`).
pub use ouro_shim::fault;

use ouro_core::{Instant, PortId};
use ouro_shim::{
    Heard, Payload, PeerError, PeerLimits, PeerTable, Received, RxPressure, SendError, Shim,
    ShimCounters,
};
use quinn_udp::{BATCH_SIZE, RecvMeta, Transmit, UdpSocketState};
use std::collections::VecDeque;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The UDP port the shim uses when none is configured (as in Ouroboros).
pub const DEFAULT_PORT: u16 = 3435;

/// Buffers of sent PDUs kept for [`Shim::reclaim`] (beyond, they are freed).
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
    /// with [`Shim::reclaim`]; a driver that never does should leave this off.
    pub keep_sent: bool,
    /// Most datagrams one [`Shim::recv_batch`] reads (1 to [`RECV_BATCH_MAX`]; others
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

/// What the UDP shim counts beyond [`ShimCounters`] (which [`Shim::counters`] gives).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpCounters {
    /// Receive system calls that returned at least one datagram.
    pub rx_batches: u64,
    /// Send system calls.
    pub tx_syscalls: u64,
    /// Datagrams the kernel dropped at the socket before the shim could read them (its
    /// receive buffer was full), as learned by [`Shim::rx_pressure`] (see also
    /// [`UdpShim::rx_overflow_now`]). With GRO, one dropped super-datagram may count once.
    pub rx_overflow: u64,
    /// Times [`Shim::rx_pressure`] found the receive buffer half full or more.
    pub rx_crowded: u64,
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
    peers: PeerTable<SocketAddr>,
    rx_bufs: Vec<Vec<u8>>,
    rx_meta: Vec<RecvMeta>,
    tx_queue: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Buffers of sent PDUs, until [`Shim::reclaim`] takes them.
    sent: Vec<Vec<u8>>,
    gso_buf: Vec<u8>,
    /// The kernel's drop count of the socket at the last [`Shim::rx_pressure`].
    kernel_drops: u32,
    counters: ShimCounters,
    udp: UdpCounters,
}

impl std::fmt::Debug for UdpShim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpShim")
            .field("local", &self.socket.get_ref().local_addr().ok())
            .field("peers", &self.peers.len())
            .finish()
    }
}

impl UdpShim {
    /// Bind a shim to `addr` (port 0 picks a free port). Must run inside a tokio runtime.
    pub fn bind(addr: SocketAddr, opts: ShimOptions) -> Result<UdpShim, ShimError> {
        Self::bind_with(addr, opts, true)
    }

    /// Bind a shim to `addr` without registering its socket with tokio, for a driver with
    /// its own event loop: it waits for [`Shim::fd`] to become readable, calls
    /// [`Shim::recv_batch`] until [`Shim::drained`], and waits for room on the descriptor
    /// while [`Shim::has_queued`]. [`UdpShim::readable`] and [`UdpShim::writable`] fail on
    /// such a shim.
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
            peers: PeerTable::new(PeerLimits {
                max_learned: opts.max_learned,
                learned_ttl: opts.learned_ttl,
            }),
            rx_bufs: (0..opts.recv_datagrams.clamp(1, RECV_BATCH_MAX))
                .map(|_| vec![0; buf_len])
                .collect(),
            rx_meta: vec![RecvMeta::default(); BATCH_SIZE],
            tx_queue: VecDeque::new(),
            sent: Vec::new(),
            gso_buf: Vec::with_capacity(1 << 16),
            kernel_drops: 0,
            counters: ShimCounters::default(),
            udp: UdpCounters::default(),
        })
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.get_ref().local_addr()
    }

    /// What it counts beyond the counters every shim has.
    pub fn udp_counters(&self) -> UdpCounters {
        self.udp
    }

    /// Wait until the socket has datagrams to read (a tokio-registered shim only).
    pub async fn readable(&self) -> io::Result<()> {
        self.socket.reactor()?.readable().await.map(|_| ())
    }

    /// Wait until the socket can take more datagrams (only useful while
    /// [`Shim::has_queued`]; a tokio-registered shim only). The socket is registered for
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

    /// [`UdpCounters::rx_overflow`] as of now: with the drops the kernel counted since the
    /// last [`Shim::rx_pressure`] (a driver asks that only when it falls behind), for
    /// reports. One system call.
    pub fn rx_overflow_now(&self) -> u64 {
        let unseen = socket_meminfo(self.as_fd())
            .map_or(0, |info| info.drops.wrapping_sub(self.kernel_drops));
        self.udp.rx_overflow + u64::from(unseen)
    }
}

impl Shim for UdpShim {
    type Addr = SocketAddr;

    fn max_pdu(&self) -> usize {
        MAX_PDU
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }

    /// The port of peer `addr` (an IPv4-mapped IPv6 address is its IPv4 one).
    fn add_peer(&mut self, addr: SocketAddr) -> Result<PortId, PeerError> {
        self.peers.add(normalize(addr))
    }

    fn peer_addr(&self, port: PortId) -> Option<SocketAddr> {
        self.peers.addr(port)
    }

    fn port_of(&self, addr: SocketAddr) -> Option<PortId> {
        self.peers.port_of(&normalize(addr))
    }

    fn peers(&self) -> Vec<(PortId, SocketAddr)> {
        self.peers.peers().collect()
    }

    /// A forgotten peer that speaks again is learned anew, on a new port.
    fn expire(&mut self, now: Instant) -> Vec<PortId> {
        let gone = self.peers.expire(now);
        for p in &gone {
            tracing::debug!(port = %p, "udp shim: learned peer expired");
        }
        gone
    }

    /// How full the socket's receive buffer is, and the datagrams the kernel dropped at it
    /// since the last call because it was full (counted in [`UdpCounters::rx_overflow`] and
    /// [`UdpCounters::rx_crowded`]): the driver does not read as fast as datagrams come, a
    /// sign of congestion at this node, like a filling queue. One system call (`SO_MEMINFO`);
    /// nothing to report where the kernel does not tell.
    fn rx_pressure(&mut self) -> RxPressure {
        let Some(info) = socket_meminfo(self.as_fd()) else {
            return RxPressure::default();
        };
        let dropped = info.drops.wrapping_sub(self.kernel_drops);
        self.kernel_drops = info.drops;
        self.udp.rx_overflow += u64::from(dropped);
        let crowded = info.rmem_alloc >= info.rcvbuf / 2;
        self.udp.rx_crowded += u64::from(crowded);
        RxPressure { dropped, crowded }
    }

    /// True if the last receive found the socket empty: it read fewer datagrams than a
    /// batch holds, or none.
    fn drained(&self) -> bool {
        self.drained
    }

    /// One `recvmmsg` (with GRO: each datagram may be a run of PDUs, handed one by one).
    fn recv_batch(&mut self, mut f: impl FnMut(Received<'_>)) -> io::Result<usize> {
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
        self.udp.rx_batches += 1;
        let mut handed = 0;
        for i in 0..n {
            let meta = self.rx_meta[i];
            let addr = normalize(meta.addr);
            let (port, new_peer) = match self.peers.heard(addr) {
                Heard::Known(p) => (p, false),
                Heard::Learned(p) => {
                    tracing::debug!(%addr, "udp shim: learned peer");
                    (p, true)
                }
                Heard::Stranger => continue,
            };
            let buf = &self.rx_bufs[i][..meta.len.min(self.rx_bufs[i].len())];
            let stride = meta.stride.max(1);
            let mut first = new_peer;
            for seg in buf.chunks(stride) {
                if seg.is_empty() || seg.len() > MAX_PDU {
                    self.counters.drop_rx += 1;
                    continue;
                }
                self.counters.rx_pdus += 1;
                self.counters.rx_bytes += seg.len() as u64;
                handed += 1;
                f(Received {
                    port,
                    new_peer: first,
                    data: Payload::Borrowed(seg),
                });
                first = false;
            }
        }
        Ok(handed)
    }

    /// At most [`MAX_SENT_KEPT`] since the last call, and only with
    /// [`ShimOptions::keep_sent`].
    fn reclaim(&mut self, f: impl FnMut(Vec<u8>)) {
        self.sent.drain(..).for_each(f);
    }

    #[inline]
    fn send(&mut self, port: PortId, data: Vec<u8>) -> Result<(), SendError> {
        let refused = match self.peers.addr(port) {
            None => SendError::UnknownPort(port),
            Some(_) if data.is_empty() => SendError::Empty,
            Some(_) if data.len() > MAX_PDU => SendError::TooBig {
                len: data.len(),
                max: MAX_PDU,
            },
            Some(_) if self.tx_queue.len() >= self.opts.max_queued => SendError::QueueFull,
            Some(addr) => {
                self.tx_queue.push_back((addr, data));
                return Ok(());
            }
        };
        self.counters.drop_tx += 1;
        Err(refused)
    }

    /// A driver that paces its ports adds more only while this stays below a small mark, so
    /// congestion builds in its own queues, not here.
    fn queued(&self) -> usize {
        self.tx_queue.len()
    }

    fn has_queued(&self) -> bool {
        !self.tx_queue.is_empty()
    }

    /// Send as much of the queue as the socket takes, batching runs of equal-size PDUs to
    /// the same peer into one GSO send.
    fn flush(&mut self) {
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
                    self.udp.tx_syscalls += 1;
                    for _ in 0..run {
                        if let Some((_, d)) = self.tx_queue.pop_front() {
                            self.counters.tx_pdus += 1;
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

    fn counters(&self) -> ShimCounters {
        ShimCounters {
            peers: self.peers.counters(),
            ..self.counters
        }
    }
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
        let pb = a.add_peer(b.local_addr().expect("addr")).expect("port");
        assert_eq!(pb, PortId(0));
        a.send(pb, b"hello".to_vec()).expect("queued");
        flush_all(&mut a).await;
        let got = recv_some(&mut b, 1).await;
        assert_eq!(got, vec![(PortId(0), true, b"hello".to_vec())]);
        // b answers on the learned port.
        b.send(PortId(0), b"back".to_vec()).expect("queued");
        flush_all(&mut b).await;
        let got = recv_some(&mut a, 1).await;
        assert_eq!(got, vec![(pb, false, b"back".to_vec())]);
        assert_eq!(b.counters().peers.learned, 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn batches_of_equal_size_go_out_with_few_syscalls_and_arrive_intact() {
        let (mut a, mut b) = pair("127.0.0.1:0", "127.0.0.1:0").await;
        let pb = a.add_peer(b.local_addr().expect("addr")).expect("port");
        for i in 0..40u8 {
            a.send(pb, vec![i; 1000]).expect("queued");
        }
        a.send(pb, vec![99; 10]).expect("queued");
        assert_eq!(a.queued(), 41);
        flush_all(&mut a).await;
        assert!(!a.has_queued());
        assert_eq!(a.queued(), 0);
        assert_eq!(a.counters().tx_pdus, 41);
        if a.state.max_gso_segments() > 1 {
            assert!(a.udp_counters().tx_syscalls < 10, "{:?}", a.udp_counters());
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
        assert_eq!(b.udp_counters().rx_overflow, u64::from(dropped));
        assert_eq!(b.rx_pressure().dropped, 0, "counted once");
        let mut got = 0;
        while b.recv_batch(|_| got += 1).expect("recv") > 0 {}
        assert_eq!(
            got + dropped,
            200,
            "each datagram read or counted as dropped"
        );
        assert!(!b.rx_pressure().congested(), "read empty, no new drops");
        assert_eq!(b.udp_counters().rx_crowded, 2);
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
        let pb = a.add_peer(b.local_addr().expect("addr")).expect("port");
        a.send(pb, vec![1, 2, 3]).expect("queued");
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
        assert_eq!(b.counters().peers.strangers, 1);
        // Sending on an unknown port is refused and counted, not a panic.
        assert_eq!(
            b.send(PortId(77), vec![1]),
            Err(SendError::UnknownPort(PortId(77)))
        );
        assert_eq!(b.counters().drop_tx, 1);
        // So are an empty PDU and one larger than a datagram carries.
        assert_eq!(b.send(got[0].0, Vec::new()), Err(SendError::Empty));
        assert!(matches!(
            b.send(got[0].0, vec![0; MAX_PDU + 1]),
            Err(SendError::TooBig { .. })
        ));
        assert_eq!(b.counters().drop_tx, 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn silent_learned_peers_expire_with_explicit_time() {
        let opts = ShimOptions {
            max_learned: 1,
            learned_ttl: Some(Duration::from_secs(10)),
            ..ShimOptions::default()
        };
        let mut b = UdpShim::bind("127.0.0.1:0".parse().expect("addr"), opts).expect("bind");
        let configured = b
            .add_peer("127.0.0.1:9".parse().expect("addr"))
            .expect("port");
        let dst = b.local_addr().expect("addr");
        let talker = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let other = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        talker.send_to(b"hi", dst).expect("send");
        let port = recv_some(&mut b, 1).await[0].0;
        let t0 = Instant::from_millis(1_000);
        assert!(b.expire(t0).is_empty(), "heard since the last sweep");
        // It speaks again before the deadline: the clock restarts at that sweep.
        talker.send_to(b"again", dst).expect("send");
        recv_some(&mut b, 1).await;
        let t1 = t0 + Duration::from_secs(9);
        assert!(b.expire(t1).is_empty());
        assert!(b.expire(t1 + Duration::from_secs(9)).is_empty());
        // Silent for the whole ttl: forgotten and counted; the configured peer stays.
        assert_eq!(b.expire(t1 + Duration::from_secs(10)), vec![port]);
        assert_eq!(b.counters().peers.expired, 1);
        assert_eq!(b.peer_addr(port), None);
        assert!(b.peer_addr(configured).is_some());
        assert_eq!(b.peers().len(), 1);
        assert_eq!(b.send(port, vec![1]), Err(SendError::UnknownPort(port)));
        assert_eq!(b.counters().drop_tx, 1, "an expired port is unknown");
        // Its place in the table is free again: a new stranger is learned on a new port.
        other.send_to(b"new", dst).expect("send");
        let got = recv_some(&mut b, 1).await;
        assert!(got[0].1, "learned");
        assert_ne!(got[0].0, port);
        assert_eq!(b.counters().peers.strangers, 0);
    }
}
