//! Unix SOCK_SEQPACKET plumbing shared by the daemon and the library: the control socket,
//! per-flow socket pairs and file-descriptor passing (SCM_RIGHTS).
//!
//! This is the only module of the crate with `unsafe` code: two calls to
//! `OwnedFd::from_raw_fd`, for descriptors the kernel has just installed in this process
//! (returned by `accept4`, or received in an SCM_RIGHTS message) and that nothing else owns,
//! and the registration of an owned descriptor with tokio's reactor.

use nix::sys::socket::{
    AddressFamily, Backlog, ControlMessage, ControlMessageOwned, MsgFlags, Shutdown, SockFlag,
    SockType, UnixAddr,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// A connected pair of SOCK_SEQPACKET sockets (non-blocking, close-on-exec).
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::sys::socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )
    .map_err(errno)
}

/// Bind a listening SOCK_SEQPACKET socket at `path` (non-blocking). The socket is bound to a
/// temporary name and renamed into place once listening, so `path` appearing means a daemon
/// accepts connections on it.
pub fn listen(path: &Path) -> io::Result<OwnedFd> {
    let fd = nix::sys::socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(errno)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let addr = UnixAddr::new(&tmp).map_err(errno)?;
    nix::sys::socket::bind(fd.as_raw_fd(), &addr).map_err(errno)?;
    nix::sys::socket::listen(&fd, Backlog::new(128).map_err(errno)?).map_err(errno)?;
    std::fs::rename(&tmp, path)?;
    Ok(fd)
}

/// Accept one connection (non-blocking; `WouldBlock` when none waits).
#[allow(unsafe_code)]
pub fn accept(listener: &OwnedFd) -> io::Result<OwnedFd> {
    let raw: RawFd = nix::sys::socket::accept4(
        listener.as_raw_fd(),
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )
    .map_err(errno)?;
    // SAFETY: accept4 just returned this descriptor; this process owns it and nothing else
    // refers to it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Connect to the control socket at `path` (blocking mode).
pub fn connect(path: &Path) -> io::Result<OwnedFd> {
    let fd = nix::sys::socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(errno)?;
    let addr = UnixAddr::new(path).map_err(errno)?;
    nix::sys::socket::connect(fd.as_raw_fd(), &addr).map_err(errno)?;
    Ok(fd)
}

/// Send one message, with a descriptor attached if `fd` is given. `MSG_NOSIGNAL`: a closed
/// peer is an `EPIPE` error, never a signal.
pub fn send_msg(sock: &impl AsFd, data: &[u8], fd: Option<&impl AsFd>) -> io::Result<()> {
    let raw = sock.as_fd().as_raw_fd();
    match fd {
        None => {
            nix::sys::socket::send(raw, data, MsgFlags::MSG_NOSIGNAL).map_err(errno)?;
        }
        Some(fd) => {
            let fds = [fd.as_fd().as_raw_fd()];
            let cmsg = [ControlMessage::ScmRights(&fds)];
            nix::sys::socket::sendmsg::<()>(
                raw,
                &[IoSlice::new(data)],
                &cmsg,
                MsgFlags::MSG_NOSIGNAL,
                None,
            )
            .map_err(errno)?;
        }
    }
    Ok(())
}

/// Receive one message into `buf`, and the descriptor attached to it if any. Returns the
/// message length (0: the peer closed) and the descriptor.
#[allow(unsafe_code)]
pub fn recv_msg(sock: &impl AsFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut cmsg_space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        sock.as_fd().as_raw_fd(),
        &mut iov,
        Some(&mut cmsg_space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(errno)?;
    let len = msg.bytes;
    let mut got: Option<OwnedFd> = None;
    for c in msg.cmsgs().map_err(errno)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for raw in fds {
                // SAFETY: the kernel installed these descriptors in this process when the
                // message was received; each is owned by exactly one OwnedFd made here
                // (extra ones are dropped, i.e. closed, at once).
                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                if got.is_none() {
                    got = Some(owned);
                }
            }
        }
    }
    if msg.flags.contains(MsgFlags::MSG_TRUNC) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "message larger than the buffer",
        ));
    }
    Ok((len, got))
}

/// Receive one message without descriptors and without blocking, whatever the descriptor's
/// mode (0: the peer closed; `WouldBlock`: nothing waits). A message longer than `buf` is
/// consumed and reported as an `InvalidData` error, never silently cut.
pub fn recv(sock: &impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    recv_with(sock, buf, MsgFlags::MSG_DONTWAIT)
}

/// [`recv`] that waits on a blocking descriptor: one system call where a non-blocking
/// receive, a `poll` and a second receive would take three.
pub fn recv_wait(sock: &impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    recv_with(sock, buf, MsgFlags::empty())
}

fn recv_with(sock: &impl AsFd, buf: &mut [u8], flags: MsgFlags) -> io::Result<usize> {
    // MSG_TRUNC: on SEQPACKET sockets recv returns the message's real length.
    let n = nix::sys::socket::recv(sock.as_fd().as_raw_fd(), buf, flags | MsgFlags::MSG_TRUNC)
        .map_err(errno)?;
    if n > buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "message of {n} bytes larger than the {}-byte buffer",
                buf.len()
            ),
        ));
    }
    Ok(n)
}

/// Send one message without descriptors and without blocking, whatever the descriptor's
/// mode (`WouldBlock` when the socket is full).
pub fn send(sock: &impl AsFd, data: &[u8]) -> io::Result<usize> {
    nix::sys::socket::send(
        sock.as_fd().as_raw_fd(),
        data,
        MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
    )
    .map_err(errno)
}

/// Most messages [`send_batch`] and [`recv_batch`] move in one system call.
pub const MAX_BATCH: usize = 64;

/// Send up to [`MAX_BATCH`] messages with one `sendmmsg(2)`, each one message (SOCK_SEQPACKET
/// keeps their boundaries). Returns how many the kernel took, in order: fewer than asked when
/// the socket filled up. `WouldBlock` if it took none.
pub fn send_batch(sock: &impl AsFd, msgs: &[&[u8]]) -> io::Result<usize> {
    use nix::sys::socket::{MultiHeaders, sendmmsg};
    let n = msgs.len().min(MAX_BATCH);
    if n == 0 {
        return Ok(0);
    }
    let iovs: Vec<[IoSlice<'_>; 1]> = msgs[..n].iter().map(|m| [IoSlice::new(m)]).collect();
    let addrs: Vec<Option<()>> = vec![None; n];
    let mut headers = MultiHeaders::<()>::preallocate(n, None);
    let sent = sendmmsg(
        sock.as_fd().as_raw_fd(),
        &mut headers,
        &iovs,
        &addrs,
        [],
        MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
    )
    .map_err(errno)?
    .count();
    Ok(sent)
}

/// What [`recv_batch`] found in one slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Slot {
    /// Nothing received in this slot.
    #[default]
    Empty,
    /// A message of this length (bytes).
    Message(usize),
    /// A message longer than the slot: consumed and cut, so not usable.
    Oversized,
    /// End of file: the peer closed (nothing after this slot is valid).
    Closed,
}

/// Receive up to `bufs.len()` (at most [`MAX_BATCH`]) messages with one `recvmmsg(2)`, one
/// per buffer, without blocking. `slots[i]` says what landed in `bufs[i]`; returns how many
/// slots were filled (`WouldBlock` if none waited). A [`Slot::Closed`] entry ends the batch.
pub fn recv_batch(sock: &impl AsFd, bufs: &mut [Vec<u8>], slots: &mut [Slot]) -> io::Result<usize> {
    let n = bufs.len().min(slots.len()).min(MAX_BATCH);
    recv_batch_into(&mut RecvHeaders::with_capacity(n), sock, bufs, slots)
}

/// The message headers `recvmmsg(2)` fills, allocated once for all the calls of one reader
/// ([`recv_batch_into`]): [`recv_batch`] allocates and clears them on each call, which
/// cost a daemon relaying single messages a tenth of its CPU. They hold raw pointers
/// (set on each call), so they stay on one thread.
pub struct RecvHeaders(nix::sys::socket::MultiHeaders<()>, usize);

impl RecvHeaders {
    /// Headers for up to `n` (at most [`MAX_BATCH`]) messages per call.
    pub fn with_capacity(n: usize) -> RecvHeaders {
        let n = n.clamp(1, MAX_BATCH);
        RecvHeaders(nix::sys::socket::MultiHeaders::preallocate(n, None), n)
    }
}

impl std::fmt::Debug for RecvHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvHeaders")
            .field("capacity", &self.1)
            .finish()
    }
}

/// [`recv_batch`] with headers kept by the caller: up to `headers`' capacity messages.
pub fn recv_batch_into(
    headers: &mut RecvHeaders,
    sock: &impl AsFd,
    bufs: &mut [Vec<u8>],
    slots: &mut [Slot],
) -> io::Result<usize> {
    use nix::sys::socket::recvmmsg;
    let n = bufs.len().min(slots.len()).min(headers.1);
    if n == 0 {
        return Ok(0);
    }
    // On the stack: no allocation per call.
    let mut it = bufs[..n].iter_mut();
    let mut iovs: [[IoSliceMut<'_>; 1]; MAX_BATCH] = std::array::from_fn(|_| {
        [IoSliceMut::new(
            it.next().map_or(&mut [][..], |b| b.as_mut_slice()),
        )]
    });
    let results = recvmmsg(
        sock.as_fd().as_raw_fd(),
        &mut headers.0,
        iovs[..n].iter_mut(),
        MsgFlags::MSG_DONTWAIT,
        None,
    )
    .map_err(errno)?;
    let mut filled = 0;
    for (slot, r) in slots.iter_mut().zip(results) {
        filled += 1;
        *slot = if r.flags.contains(MsgFlags::MSG_TRUNC) {
            Slot::Oversized
        } else if r.bytes == 0 {
            Slot::Closed
        } else {
            Slot::Message(r.bytes)
        };
        if *slot == Slot::Closed {
            break;
        }
    }
    Ok(filled)
}

/// Shut both directions of a socket down: the peer reads end-of-file, and so does anyone
/// waiting on this end.
pub fn shutdown(sock: &impl AsFd) {
    let _ = nix::sys::socket::shutdown(sock.as_fd().as_raw_fd(), Shutdown::Both);
}

/// Switch a descriptor between blocking and non-blocking mode.
pub fn set_nonblocking(fd: &impl AsFd, on: bool) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFL).map_err(errno)?;
    let mut flags = OFlag::from_bits_truncate(flags);
    flags.set(OFlag::O_NONBLOCK, on);
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags)).map_err(errno)?;
    Ok(())
}

/// Register a descriptor with the tokio reactor (inside a runtime), for reading and writing.
#[cfg(feature = "tokio")]
pub fn async_fd(fd: OwnedFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    use tokio::io::Interest;
    async_fd_with(fd, Interest::READABLE | Interest::WRITABLE)
}

/// Register a descriptor with the tokio reactor (inside a runtime) for `interest` only.
///
/// A socket registered for writability wakes the reactor each time its send space grows
/// (for a flow socket: each time the peer reads a message), whether or not anyone waits
/// to write. A writer that sends without waiting and waits only when the socket is full
/// registers for [`Interest::READABLE`](tokio::io::Interest::READABLE) here, and for
/// writability on a duplicate descriptor (`try_clone`) while it waits.
#[cfg(feature = "tokio")]
#[allow(unsafe_code)]
pub fn async_fd_with(
    fd: OwnedFd,
    interest: tokio::io::Interest,
) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd takes ownership of the OwnedFd, so the descriptor stays open and
    // refers to the same file description for the AsyncFd's whole life, and
    // `OwnedFd::as_raw_fd` always returns that descriptor.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, interest) }
        .map_err(|e| io::Error::other(e.to_string()))
}
