//! Delivery of incoming SDUs to an application: a bounded per-flow queue written to the
//! flow's socket many messages per system call (`sendmmsg`).
//!
//! When the application reads slower than the layer delivers, its socket fills. Rather than
//! dropping at once, the daemon keeps up to [`MAX_MSGS`] messages / [`MAX_BYTES`] bytes per
//! flow and writes them when the socket drains (the flow's task waits for it to become
//! writable). Only beyond that are SDUs dropped, and counted.

use ouro_flow::ipc;
use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Most messages queued per flow for its application.
pub const MAX_MSGS: usize = 4096;
/// Most bytes queued per flow for its application.
pub const MAX_BYTES: usize = 4 << 20;

/// The queue of one flow.
#[derive(Debug, Default)]
pub struct Backlog {
    msgs: VecDeque<Vec<u8>>,
    bytes: usize,
}

/// What [`Backlog::flush`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Messages written to the socket.
    pub sent: u64,
    /// Bytes of the messages written.
    pub sent_bytes: u64,
    /// Messages dropped because the application's end is gone.
    pub dropped: u64,
}

impl Backlog {
    /// Queue `data`; false (and nothing queued) when the queue is full.
    pub fn push(&mut self, data: Vec<u8>) -> bool {
        if self.msgs.len() >= MAX_MSGS || self.bytes + data.len() > MAX_BYTES {
            return false;
        }
        self.bytes += data.len();
        self.msgs.push_back(data);
        true
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    /// Write as much of the queue as the socket takes, without blocking. What stays queued
    /// waits for the socket to become writable (the readiness is cleared when it is full).
    pub fn flush(&mut self, fd: &AsyncFd<OwnedFd>) -> Flushed {
        let mut out = Flushed::default();
        while !self.msgs.is_empty() {
            let batch: Vec<&[u8]> = self
                .msgs
                .iter()
                .take(ipc::MAX_BATCH)
                .map(Vec::as_slice)
                .collect();
            match fd.try_io(Interest::WRITABLE, |f| ipc::send_batch(f, &batch)) {
                Ok(n) => {
                    for d in self.msgs.drain(..n) {
                        self.bytes -= d.len();
                        out.sent_bytes += d.len() as u64;
                    }
                    out.sent += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    // The application's end is closed: its reader ends the flow.
                    out.dropped += self.msgs.len() as u64;
                    self.msgs.clear();
                    self.bytes = 0;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn queues_while_full_and_delivers_in_order_when_drained() {
        let (mine, theirs) = ipc::seqpacket_pair().expect("pair");
        let fd = ipc::async_fd(mine).expect("register");
        let mut q = Backlog::default();
        // Fill the socket and then some; the reactor has seen the socket writable first.
        fd.writable().await.expect("writable").retain_ready();
        let total = 2000u32;
        for i in 0..total {
            let mut m = vec![0u8; 1000];
            m[..4].copy_from_slice(&i.to_be_bytes());
            assert!(q.push(m));
        }
        let first = q.flush(&fd);
        assert!(
            first.sent < u64::from(total),
            "the socket should fill: {first:?}"
        );
        assert!(!q.is_empty());
        // Drain the application side and flush again until everything arrived, in order.
        let mut buf = vec![0u8; 2048];
        let mut next = 0u32;
        while next < total {
            while let Ok(n) = ipc::recv(&theirs, &mut buf) {
                assert_eq!(n, 1000);
                assert_eq!(u32::from_be_bytes(buf[..4].try_into().expect("4")), next);
                next += 1;
            }
            if !q.is_empty() {
                fd.writable().await.expect("writable").retain_ready();
                q.flush(&fd);
            }
        }
        assert!(q.is_empty());
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let mut q = Backlog::default();
        assert!(q.push(vec![0; MAX_BYTES]));
        assert!(!q.push(vec![0; 1]));
        let mut q = Backlog::default();
        for _ in 0..MAX_MSGS {
            assert!(q.push(vec![1]));
        }
        assert!(!q.push(vec![1]));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_closed_application_end_drops_and_counts() {
        let (mine, theirs) = ipc::seqpacket_pair().expect("pair");
        drop(theirs);
        let fd = ipc::async_fd(mine).expect("register");
        fd.writable().await.expect("writable").retain_ready();
        let mut q = Backlog::default();
        q.push(vec![1, 2, 3]);
        q.push(vec![4]);
        assert_eq!(
            q.flush(&fd),
            Flushed {
                sent: 0,
                sent_bytes: 0,
                dropped: 2
            }
        );
        assert!(q.is_empty());
    }
}
