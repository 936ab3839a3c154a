//! The tokio form of the flow library: the same operations as `async` functions.

use crate::batch::{Filled, flow_error, next_unit};
use crate::proto::{Info, Reply, Request};
use crate::rx::{Got, Rx};
use crate::{FlowError, Qos, RecvBatch, ipc};
use std::os::fd::AsFd;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::unix::AsyncFd;

/// A flow driven by tokio. Dropping it deallocates the flow.
#[derive(Debug)]
pub struct AsyncFlow {
    fd: AsyncFd<OwnedFd>,
    id: u32,
    layer: String,
    /// The unread rest of the last packed socket message (locked only between awaits).
    rx: Mutex<Rx>,
}

impl AsyncFlow {
    /// Wrap a blocking [`crate::Flow`] (must be called inside a tokio runtime).
    pub fn from_flow(flow: crate::Flow) -> Result<AsyncFlow, FlowError> {
        let crate::Flow {
            fd, id, layer, rx, ..
        } = flow;
        // A blocking Flow's descriptor is in blocking mode; the reactor needs it non-blocking.
        ipc::set_nonblocking(&fd, true)?;
        Ok(AsyncFlow {
            fd: ipc::async_fd(fd)?,
            id,
            layer,
            rx,
        })
    }

    fn rx(&self) -> MutexGuard<'_, Rx> {
        self.rx.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Messages received but not read yet (see [`crate::Flow::buffered`]).
    pub fn buffered(&self) -> usize {
        self.rx().pending()
    }

    /// The flow id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The layer.
    pub fn layer(&self) -> &str {
        &self.layer
    }

    /// Read one message.
    pub async fn read(&self, buf: &mut [u8]) -> Result<usize, FlowError> {
        loop {
            let r = if self.buffered() > 0 {
                self.rx().read(self.fd.get_ref().as_fd(), buf, false)
            } else {
                let mut guard = self.fd.readable().await?;
                match guard.try_io(|fd| self.rx().read(fd.get_ref().as_fd(), buf, false)) {
                    Ok(r) => r,
                    Err(_would_block) => continue,
                }
            };
            return match r {
                Ok(Got::Closed) => Err(FlowError::Closed),
                Ok(Got::Message(n)) => Ok(n),
                Err(e) => Err(flow_error(e)),
            };
        }
    }

    /// Write one message (the same as a [`AsyncFlow::write_batch`] of one).
    pub async fn write(&self, msg: &[u8]) -> Result<(), FlowError> {
        self.write_batch(&[msg]).await.map(|_| ())
    }

    /// Read at least one message with one system call (see [`crate::Flow::read_batch`]).
    /// Returns how many messages `batch` holds.
    pub async fn read_batch(&self, batch: &mut RecvBatch) -> Result<usize, FlowError> {
        loop {
            let r = if self.buffered() > 0 {
                batch.fill(self.fd.get_ref().as_fd(), &mut self.rx())
            } else {
                let mut guard = self.fd.readable().await?;
                match guard.try_io(|fd| batch.fill(fd.get_ref().as_fd(), &mut self.rx())) {
                    Ok(r) => r,
                    Err(_would_block) => continue,
                }
            };
            return match r {
                Ok(Filled::Closed) => Err(FlowError::Closed),
                Ok(Filled::Messages(n)) => Ok(n),
                Err(e) => Err(flow_error(e)),
            };
        }
    }

    /// Write all of `msgs` (each one message), in order, packed as
    /// [`crate::Flow::write_batch`] does.
    pub async fn write_batch(&self, msgs: &[&[u8]]) -> Result<usize, FlowError> {
        let mut done = 0;
        let mut buf = Vec::new();
        while done < msgs.len() {
            let (data, n) = next_unit(&msgs[done..], &mut buf);
            loop {
                let mut guard = self.fd.writable().await?;
                match guard.try_io(|fd| ipc::send(fd.get_ref(), data)) {
                    Ok(Ok(_)) => break,
                    Ok(Err(e)) => return Err(flow_error(e)),
                    Err(_would_block) => continue,
                }
            }
            done += n;
        }
        Ok(done)
    }
}

/// Allocate a flow to `name` (the control exchange runs on a blocking thread).
pub async fn alloc(
    path: &Path,
    name: &str,
    qos: Qos,
    timeout: Duration,
) -> Result<AsyncFlow, FlowError> {
    let path = path.to_path_buf();
    let name = name.to_string();
    let flow =
        tokio::task::spawn_blocking(move || crate::alloc_at(&path, &name, qos, None, timeout))
            .await
            .map_err(|e| FlowError::Protocol(e.to_string()))??;
    AsyncFlow::from_flow(flow)
}

/// A listener driven by tokio.
#[derive(Debug)]
pub struct AsyncListener {
    fd: AsyncFd<OwnedFd>,
    buf: Vec<u8>,
}

impl AsyncListener {
    /// Serve `name` in every unicast layer of the daemon at `path`.
    pub async fn bind(path: &Path, name: &str) -> Result<AsyncListener, FlowError> {
        let path = path.to_path_buf();
        let name = name.to_string();
        let l = tokio::task::spawn_blocking(move || crate::Listener::bind_at(&path, &name, &[]))
            .await
            .map_err(|e| FlowError::Protocol(e.to_string()))??;
        let fd = l.ctl.fd;
        ipc::set_nonblocking(&fd, true)?;
        Ok(AsyncListener {
            fd: ipc::async_fd(fd)?,
            buf: vec![0; crate::proto::MAX_CONTROL],
        })
    }

    /// The next flow to the name.
    pub async fn accept(&mut self) -> Result<AsyncFlow, FlowError> {
        let (reply, fd) = loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| ipc::recv_msg(fd.get_ref(), &mut self.buf)) {
                Ok(Ok((0, _))) => {
                    return Err(FlowError::Protocol("daemon closed the connection".into()));
                }
                Ok(Ok((n, fd))) => {
                    let reply = Reply::<Info>::decode(&self.buf[..n])
                        .map_err(|e| FlowError::Protocol(e.to_string()))?;
                    break (reply, fd);
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_would_block) => continue,
            }
        };
        match (reply, fd) {
            (Reply::Incoming { flow, layer, .. }, Some(fd)) => {
                AsyncFlow::from_flow(crate::Flow::new(fd, flow, layer)?)
            }
            (other, _) => Err(FlowError::Protocol(format!(
                "unexpected message on a listener: {other:?}"
            ))),
        }
    }
}

/// Send a control request without waiting (used by tools that multiplex).
pub fn encode(req: &Request) -> Vec<u8> {
    req.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn async_flow_reads_and_writes_messages() {
        let (a, b) = ipc::seqpacket_pair().expect("pair");
        let fa = AsyncFlow::from_flow(crate::Flow::new(a, 1, "l".into()).expect("f")).expect("a");
        let fb = AsyncFlow::from_flow(crate::Flow::new(b, 2, "l".into()).expect("f")).expect("a");
        fa.write(b"ping").await.expect("write");
        let mut buf = [0u8; 8];
        assert_eq!(fb.read(&mut buf).await.expect("read"), 4);
        drop(fa);
        assert!(matches!(fb.read(&mut buf).await, Err(FlowError::Closed)));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn async_batches_move_many_messages_and_see_close() {
        let (a, b) = ipc::seqpacket_pair().expect("pair");
        let fa = AsyncFlow::from_flow(crate::Flow::new(a, 1, "l".into()).expect("f")).expect("a");
        let fb = AsyncFlow::from_flow(crate::Flow::new(b, 2, "l".into()).expect("f")).expect("a");
        let msgs: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let writer = async {
            assert_eq!(fa.write_batch(&refs).await.expect("write"), 300);
            drop(fa);
        };
        let reader = async {
            let mut batch = RecvBatch::new(64, 16);
            let mut got = Vec::new();
            loop {
                match fb.read_batch(&mut batch).await {
                    Ok(_) => got.extend(batch.iter().map(<[u8]>::to_vec)),
                    Err(FlowError::Closed) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            got
        };
        let ((), got) = tokio::join!(writer, reader);
        assert_eq!(got, msgs);
    }
}
