//! The Ouro application flow library: ask the local `ourod` for flows to names, accept flows
//! to your names, and exchange messages on them.
//!
//! ```no_run
//! use ouro_flow::{alloc, Listener, Qos};
//! use std::time::Duration;
//! # fn main() -> Result<(), ouro_flow::FlowError> {
//! // Server side.
//! let mut listener = Listener::bind("echo")?;
//! // Client side (another process).
//! let flow = alloc("echo", Qos::BestEffort, Duration::from_secs(5))?;
//! flow.write(b"hello")?;
//! let server_end = listener.accept(Some(Duration::from_secs(5)))?;
//! let mut buf = [0u8; 2048];
//! let n = server_end.read(&mut buf)?;
//! assert_eq!(&buf[..n], b"hello");
//! # Ok(()) }
//! ```
//!
//! Flows have message semantics: one `write` is one message, one `read` returns one whole
//! message. Each flow is a SOCK_SEQPACKET socket shared with the daemon (see
//! `docs/FLOW-IPC.md`), so a [`Flow`] works with `poll`/`epoll` like any descriptor, and
//! [`wait`] waits on many at once. The daemon's control socket is `$OURO_SOCKET`, else
//! [`DEFAULT_SOCKET`]. With the `tokio` feature (on by default), [`aio`] offers the same API
//! as `async` functions.

#[cfg(feature = "tokio")]
pub mod aio;
pub mod batch;
pub mod ipc;
pub mod pack;
mod rx;

pub use batch::RecvBatch;
/// The control protocol (the `ouro-control` crate): requests, replies, error kinds and the
/// daemon's status documents.
pub use ouro_control as proto;
use proto::{ErrorKind, FlowInfo, IpcpInfo, NameInfo, PolicyStats, Reply, Request, Status};
use serde::de::DeserializeOwned;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Where the daemon's control socket is when `OURO_SOCKET` is not set.
pub const DEFAULT_SOCKET: &str = "/run/ourod.sock";

/// Largest message a flow carries through the library.
pub const MAX_MESSAGE: usize = 65_536;

/// The control socket path clients use: `$OURO_SOCKET`, else [`DEFAULT_SOCKET`].
pub fn socket_path() -> PathBuf {
    std::env::var_os("OURO_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// Errors of the flow library.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The daemon could not be reached.
    #[error("cannot reach ourod at {path}: {source}")]
    Connect {
        /// The control socket path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The daemon refused or failed the request.
    #[error("{kind:?}: {message}")]
    Daemon {
        /// What kind of failure.
        kind: ErrorKind,
        /// Detail.
        message: String,
    },
    /// The flow was deallocated (by the peer, the daemon, or a timeout on its peer).
    #[error("flow closed")]
    Closed,
    /// Nothing happened within the timeout (or, in non-blocking mode, nothing is ready).
    #[error("timed out")]
    Timeout,
    /// The daemon sent something this library does not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Another I/O error.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

/// QoS presets (as in Ouroboros).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qos {
    /// No guarantees at all.
    Raw,
    /// Best effort.
    BestEffort,
    /// Video: high bandwidth, some loss tolerated.
    Video,
    /// Voice: low delay.
    Voice,
    /// Data: reliable, in order.
    Data,
}

impl Qos {
    /// The preset's name on the wire and in the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Qos::Raw => "raw",
            Qos::BestEffort => "best-effort",
            Qos::Video => "video",
            Qos::Voice => "voice",
            Qos::Data => "data",
        }
    }

    /// Parse a preset name.
    pub fn parse(s: &str) -> Option<Qos> {
        Some(match s {
            "raw" => Qos::Raw,
            "best-effort" | "be" => Qos::BestEffort,
            "video" => Qos::Video,
            "voice" => Qos::Voice,
            "data" => Qos::Data,
            _ => return None,
        })
    }
}

/// A connection to the daemon's control socket (blocking).
#[derive(Debug)]
pub struct Control {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Control {
    /// Connect to the daemon at [`socket_path`].
    pub fn connect() -> Result<Control, FlowError> {
        Control::connect_to(&socket_path())
    }

    /// Connect to the daemon at `path`.
    pub fn connect_to(path: &Path) -> Result<Control, FlowError> {
        let fd = ipc::connect(path).map_err(|source| FlowError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Control {
            fd,
            buf: vec![0; proto::MAX_CONTROL],
        })
    }

    /// Send a request and wait (up to `timeout`) for its reply.
    pub fn call(
        &mut self,
        req: &Request,
        timeout: Option<Duration>,
    ) -> Result<(Reply, Option<OwnedFd>), FlowError> {
        self.call_as(req, timeout)
    }

    /// [`Control::call`], reading a [`Reply::Info`]'s document as `I`.
    fn call_as<I: DeserializeOwned>(
        &mut self,
        req: &Request,
        timeout: Option<Duration>,
    ) -> Result<(Reply<I>, Option<OwnedFd>), FlowError> {
        ipc::send_msg(&self.fd, &req.encode(), None::<&OwnedFd>)?;
        self.receive_as(timeout)
    }

    /// Wait (up to `timeout`) for the next message from the daemon.
    pub fn receive(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<(Reply, Option<OwnedFd>), FlowError> {
        self.receive_as(timeout)
    }

    /// [`Control::receive`], reading a [`Reply::Info`]'s document as `I`.
    fn receive_as<I: DeserializeOwned>(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<(Reply<I>, Option<OwnedFd>), FlowError> {
        if !wait_readable(self.fd.as_fd(), timeout)? {
            return Err(FlowError::Timeout);
        }
        let (n, fd) = ipc::recv_msg(&self.fd, &mut self.buf)?;
        if n == 0 {
            return Err(FlowError::Protocol("daemon closed the connection".into()));
        }
        let reply = proto::codec::decode::<Reply<I>>(&self.buf[..n])
            .map_err(|e| FlowError::Protocol(e.to_string()))?;
        if let Reply::Error { kind, message } = reply {
            return Err(FlowError::Daemon { kind, message });
        }
        Ok((reply, fd))
    }

    /// Send a request that answers with a document and return it, read as `T` (the type
    /// the request asks for: see [`Control::status`] and the other listings).
    pub fn ask<T: DeserializeOwned>(&mut self, req: &Request) -> Result<T, FlowError> {
        match self.call_as::<T>(req, Some(CONTROL_TIMEOUT))?.0 {
            Reply::Info { info } => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Send a request that answers with a plain acknowledgement (management operations,
    /// registration, fault injection, policy loads).
    pub fn ack(&mut self, req: &Request) -> Result<(), FlowError> {
        match self
            .call_as::<serde::de::IgnoredAny>(req, Some(CONTROL_TIMEOUT))?
            .0
        {
            Reply::Ok => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// The daemon's whole state ([`Request::Status`]).
    pub fn status(&mut self) -> Result<Status, FlowError> {
        self.ask(&Request::Status)
    }

    /// The flows of the system ([`Request::ListFlows`]).
    pub fn flows(&mut self) -> Result<Vec<FlowInfo>, FlowError> {
        self.ask(&Request::ListFlows)
    }

    /// The names of the system ([`Request::ListNames`]).
    pub fn names(&mut self) -> Result<Vec<NameInfo>, FlowError> {
        self.ask(&Request::ListNames)
    }

    /// The IPCPs of the system ([`Request::ListIpcps`]).
    pub fn ipcps(&mut self) -> Result<Vec<IpcpInfo>, FlowError> {
        self.ask(&Request::ListIpcps)
    }

    /// The policies in force and their metrics ([`Request::PolicyStats`]).
    pub fn policy_stats(&mut self) -> Result<Vec<PolicyStats>, FlowError> {
        self.ask(&Request::PolicyStats)
    }
}

/// How long [`Control::ask`] and [`Control::ack`] wait for the daemon.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// The error for a reply of the wrong kind.
fn unexpected<I>(reply: &Reply<I>) -> FlowError {
    let what = match reply {
        Reply::Ok => "ok",
        Reply::Flow { .. } => "flow",
        Reply::Incoming { .. } => "incoming",
        Reply::Info { .. } => "info",
        Reply::Error { .. } => "error",
    };
    FlowError::Protocol(format!("unexpected `{what}` reply"))
}

/// Wait until `fd` is readable (or hung up); false on timeout.
fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    Ok(!wait_many(&[fd], timeout)?.is_empty())
}

/// Indices of the descriptors that are readable (or hung up) within `timeout`.
fn wait_many(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<usize>> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut pfds: Vec<PollFd<'_>> = fds
            .iter()
            .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
            .collect();
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let pt = match left {
            None => PollTimeout::NONE,
            Some(d) => {
                // Round up so a short timeout does not turn into a busy loop.
                let ms = d.as_micros().div_ceil(1000).min(i32::MAX as u128);
                PollTimeout::try_from(ms as u64).unwrap_or(PollTimeout::MAX)
            }
        };
        match nix::poll::poll(&mut pfds, pt) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(io::Error::from_raw_os_error(e as i32)),
        }
        let ready: Vec<usize> = pfds
            .iter()
            .enumerate()
            .filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty()))
            .map(|(i, _)| i)
            .collect();
        if !ready.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(ready);
        }
    }
}

/// An allocated flow (blocking API). Dropping it deallocates the flow.
#[derive(Debug)]
pub struct Flow {
    fd: OwnedFd,
    id: u32,
    layer: String,
    read_timeout: Option<Duration>,
    nonblocking: bool,
    /// The unread rest of the last packed socket message.
    rx: Mutex<rx::Rx>,
    /// Whether the last read with a timeout found no message at once and waited for one.
    timed_read_waited: AtomicBool,
}

impl Flow {
    fn new(fd: OwnedFd, id: u32, layer: String) -> Result<Flow, FlowError> {
        // The daemon hands the socket over non-blocking. A blocking read with no timeout is
        // one blocking receive, so the socket blocks; every receive or send that must not
        // wait says so itself (MSG_DONTWAIT).
        ipc::set_nonblocking(&fd, false)?;
        Ok(Flow {
            fd,
            id,
            layer,
            read_timeout: None,
            nonblocking: false,
            rx: Mutex::default(),
            timed_read_waited: AtomicBool::new(false),
        })
    }

    fn rx(&self) -> MutexGuard<'_, rx::Rx> {
        self.rx.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Messages already received from the daemon (the rest of a packed socket message) that
    /// the next reads return without waiting. The flow's descriptor does not show them as
    /// readable: code that polls it itself (rather than with [`wait`]) reads until this is 0.
    pub fn buffered(&self) -> usize {
        self.rx().pending()
    }

    /// The flow id (its endpoint id in the layer).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The layer the flow runs in.
    pub fn layer(&self) -> &str {
        &self.layer
    }

    /// Make [`Flow::read`] give up with [`FlowError::Timeout`] after `timeout` (None: wait
    /// forever).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// In non-blocking mode, [`Flow::read`] returns [`FlowError::Timeout`] at once when no
    /// message waits, and [`Flow::write`] fails the same way when the flow's buffer is full.
    pub fn set_nonblocking(&mut self, on: bool) {
        self.nonblocking = on;
    }

    /// Read one message into `buf` (a longer message is an error, never silently cut).
    ///
    /// With no read timeout, a blocking read waits in the receive system call itself: one
    /// call per message. With one, it waits in `poll` (a receive timeout would only be as
    /// precise as the kernel's tick) and receives when the socket is readable; whether it
    /// tries the receive first depends on whether the last timed read found a message
    /// waiting (a reader keeping up with a stream does; a ping waiting for its reply does
    /// not), so either kind makes two system calls per message at most.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, FlowError> {
        let mut rx = self.rx();
        let fd = self.fd.as_fd();
        let outcome = |got: rx::Got| match got {
            rx::Got::Closed => Err(FlowError::Closed),
            rx::Got::Message(n) => Ok(n),
        };
        let would_block = |e: &io::Error| e.kind() == io::ErrorKind::WouldBlock;
        if self.nonblocking {
            return match rx.read(fd, buf, false) {
                Ok(got) => outcome(got),
                Err(e) if would_block(&e) => Err(FlowError::Timeout),
                Err(e) => Err(batch::flow_error(e)),
            };
        }
        let Some(timeout) = self.read_timeout else {
            loop {
                match rx.read(fd, buf, true) {
                    Ok(got) => return outcome(got),
                    // A signal ended the receive: receive again.
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(batch::flow_error(e)),
                }
            }
        };
        let deadline = Instant::now() + timeout;
        let mut poll_first = self.timed_read_waited.load(Ordering::Relaxed) && rx.pending() == 0;
        let mut waited = false;
        loop {
            if poll_first {
                waited = true;
                let left = deadline.saturating_duration_since(Instant::now());
                if !wait_readable(fd, Some(left))? {
                    self.timed_read_waited.store(true, Ordering::Relaxed);
                    return Err(FlowError::Timeout);
                }
            }
            match rx.read(fd, buf, false) {
                Ok(got) => {
                    self.timed_read_waited.store(waited, Ordering::Relaxed);
                    return outcome(got);
                }
                // Nothing yet (or another reader took what made the socket readable).
                Err(e) if would_block(&e) => poll_first = true,
                Err(e) => return Err(batch::flow_error(e)),
            }
        }
    }

    /// Write one message (the same as a [`Flow::write_batch`] of one).
    pub fn write(&self, msg: &[u8]) -> Result<(), FlowError> {
        self.write_batch(&[msg]).map(|_| ())
    }

    /// Deallocate the flow (the same as dropping it).
    pub fn dealloc(self) {
        ipc::shutdown(&self.fd);
    }
}

impl AsFd for Flow {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn wait_writable(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let mut p = [PollFd::new(fd, PollFlags::POLLOUT)];
    match nix::poll::poll(&mut p, PollTimeout::from(100u8)) {
        Ok(_) | Err(nix::Error::EINTR) => Ok(()),
        Err(e) => Err(io::Error::from_raw_os_error(e as i32)),
    }
}

/// Wait until at least one of `flows` has a message (or was closed), up to `timeout`.
/// Returns the indices of the ready flows (empty on timeout).
pub fn wait(flows: &[&Flow], timeout: Option<Duration>) -> Result<Vec<usize>, FlowError> {
    let buffered: Vec<usize> = (0..flows.len())
        .filter(|&i| flows[i].buffered() > 0)
        .collect();
    if !buffered.is_empty() {
        return Ok(buffered);
    }
    let fds: Vec<BorrowedFd<'_>> = flows.iter().map(|f| f.fd.as_fd()).collect();
    Ok(wait_many(&fds, timeout)?)
}

/// Allocate a flow to `name` through the daemon at [`socket_path`].
pub fn alloc(name: &str, qos: Qos, timeout: Duration) -> Result<Flow, FlowError> {
    alloc_at(&socket_path(), name, qos, None, timeout)
}

/// Allocate a flow to `name` through the daemon at `path`, optionally in a given layer.
pub fn alloc_at(
    path: &Path,
    name: &str,
    qos: Qos,
    layer: Option<&str>,
    timeout: Duration,
) -> Result<Flow, FlowError> {
    let mut ctl = Control::connect_to(path)?;
    let req = Request::Alloc {
        name: name.to_string(),
        qos: qos.name().to_string(),
        layer: layer.map(str::to_string),
        timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
    };
    // The daemon enforces the timeout; allow it a little slack to answer.
    match ctl.call(&req, Some(timeout + Duration::from_secs(1)))? {
        (Reply::Flow { flow, layer }, Some(fd)) => Flow::new(fd, flow, layer),
        (other, _) => Err(FlowError::Protocol(format!(
            "unexpected reply to alloc: {other:?}"
        ))),
    }
}

/// An incoming flow, as [`Listener::accept`] returns it.
#[derive(Debug)]
pub struct Incoming {
    /// The flow.
    pub flow: Flow,
    /// The name it was addressed to.
    pub name: String,
    /// The QoS cube the requester asked for.
    pub qos: String,
}

/// Serves a name: registered by the daemon for as long as the listener lives.
#[derive(Debug)]
pub struct Listener {
    ctl: Control,
    name: String,
}

impl Listener {
    /// Serve `name` in every unicast layer of the daemon at [`socket_path`].
    pub fn bind(name: &str) -> Result<Listener, FlowError> {
        Listener::bind_at(&socket_path(), name, &[])
    }

    /// Serve `name` in `layers` (empty: all unicast layers) of the daemon at `path`.
    pub fn bind_at(path: &Path, name: &str, layers: &[String]) -> Result<Listener, FlowError> {
        let mut ctl = Control::connect_to(path)?;
        let req = Request::Listen {
            name: name.to_string(),
            layers: layers.to_vec(),
        };
        ctl.call(&req, Some(Duration::from_secs(10)))?;
        Ok(Listener {
            ctl,
            name: name.to_string(),
        })
    }

    /// The name served.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Wait (up to `timeout`; None: forever) for the next flow to the name.
    pub fn accept(&mut self, timeout: Option<Duration>) -> Result<Flow, FlowError> {
        self.accept_incoming(timeout).map(|i| i.flow)
    }

    /// Like [`Listener::accept`], with the requested name and QoS.
    pub fn accept_incoming(&mut self, timeout: Option<Duration>) -> Result<Incoming, FlowError> {
        match self.ctl.receive(timeout)? {
            (
                Reply::Incoming {
                    flow,
                    layer,
                    name,
                    qos,
                },
                Some(fd),
            ) => Ok(Incoming {
                flow: Flow::new(fd, flow, layer)?,
                name,
                qos,
            }),
            (other, _) => Err(FlowError::Protocol(format!(
                "unexpected message on a listener: {other:?}"
            ))),
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ctl.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_names_round_trip() {
        for q in [Qos::Raw, Qos::BestEffort, Qos::Video, Qos::Voice, Qos::Data] {
            assert_eq!(Qos::parse(q.name()), Some(q));
        }
        assert_eq!(Qos::parse("gold"), None);
    }

    #[test]
    fn flow_over_a_socket_pair_keeps_messages_and_sees_close() {
        let (a, b) = ipc::seqpacket_pair().expect("pair");
        let mut fa = Flow::new(a, 1, "l".into()).expect("flow");
        let fb = Flow::new(b, 2, "l".into()).expect("flow");
        fb.write(b"one").expect("write");
        fb.write(b"two!").expect("write");
        let mut buf = [0u8; 16];
        assert_eq!(
            wait(&[&fa], Some(Duration::from_secs(1))).expect("wait"),
            vec![0]
        );
        assert_eq!(fa.read(&mut buf).expect("read"), 3);
        assert_eq!(fa.read(&mut buf).expect("read"), 4);
        assert_eq!(&buf[..4], b"two!");
        fa.set_nonblocking(true);
        assert!(matches!(fa.read(&mut buf), Err(FlowError::Timeout)));
        fa.set_nonblocking(false);
        fa.set_read_timeout(Some(Duration::from_millis(20)));
        assert!(matches!(fa.read(&mut buf), Err(FlowError::Timeout)));
        fb.write(&[7u8; 40]).expect("write");
        fb.write(b"ok").expect("write");
        let err = fa.read(&mut buf).expect_err("too long for the buffer");
        assert!(
            matches!(&err, FlowError::Io(e) if e.kind() == io::ErrorKind::InvalidData),
            "{err}"
        );
        assert_eq!(fa.read(&mut buf).expect("the next message is intact"), 2);
        fb.dealloc();
        assert!(matches!(fa.read(&mut buf), Err(FlowError::Closed)));
    }

    #[test]
    fn a_blocking_read_waits_for_a_message_sent_later_and_keeps_its_timeout() {
        let (a, b) = ipc::seqpacket_pair().expect("pair");
        let mut reader = Flow::new(a, 1, "l".into()).expect("flow");
        let writer = Flow::new(b, 2, "l".into()).expect("flow");
        let (go, went) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            for _ in went.iter() {
                writer.write(b"late").expect("write");
            }
            writer
        });
        let mut buf = [0u8; 8];
        for timeout in [None, Some(Duration::from_secs(30))] {
            reader.set_read_timeout(timeout);
            go.send(()).expect("go");
            // Blocks in the receive until the writer, which may run after it, has written.
            assert_eq!(reader.read(&mut buf).expect("read"), 4);
            assert_eq!(&buf[..4], b"late");
        }
        drop(go);
        let writer = t.join().expect("writer");
        // A short timeout and a zero one end the read with nothing waiting.
        reader.set_read_timeout(Some(Duration::from_millis(5)));
        assert!(matches!(reader.read(&mut buf), Err(FlowError::Timeout)));
        reader.set_read_timeout(Some(Duration::ZERO));
        assert!(matches!(reader.read(&mut buf), Err(FlowError::Timeout)));
        writer.dealloc();
        reader.set_read_timeout(None);
        assert!(matches!(reader.read(&mut buf), Err(FlowError::Closed)));
    }

    #[test]
    fn descriptors_pass_over_a_control_pair() {
        let (c1, c2) = ipc::seqpacket_pair().expect("pair");
        let (x, y) = ipc::seqpacket_pair().expect("pair");
        ipc::send_msg(&c1, b"{}", Some(&x)).expect("send");
        drop(x);
        let mut buf = [0u8; 8];
        let (n, fd) = ipc::recv_msg(&c2, &mut buf).expect("recv");
        assert_eq!(n, 2);
        let got = fd.expect("an fd");
        ipc::send(&got, b"via").expect("send");
        let mut b2 = [0u8; 8];
        assert_eq!(ipc::recv(&y, &mut b2).expect("recv"), 3);
    }

    #[test]
    fn no_daemon_is_a_connect_error() {
        let err = alloc_at(
            Path::new("/nonexistent/ourod.sock"),
            "x",
            Qos::Raw,
            None,
            Duration::from_millis(10),
        )
        .expect_err("no daemon");
        assert!(matches!(err, FlowError::Connect { .. }), "{err}");
    }
}
