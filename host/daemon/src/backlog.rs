//! Delivery of incoming SDUs to an application: a bounded per-flow queue written to the
//! flow's socket packed, many messages per socket message (`ouro_flow::pack`), so the
//! kernel handles one buffer for many SDUs.
//!
//! When the application reads slower than the layer delivers, its socket fills. Rather than
//! dropping at once, the daemon keeps up to [`MAX_MSGS`] messages / [`MAX_BYTES`] bytes per
//! flow and writes them when the socket drains (the flow's task waits for it to become
//! writable). Only beyond that are SDUs dropped, and counted.

use crate::spare::Spare;
use ouro_flow::ipc;
use ouro_flow::pack::{self, Next};
use std::collections::VecDeque;
use std::io;
use std::os::fd::OwnedFd;

/// Most messages queued per flow for its application.
pub const MAX_MSGS: usize = 4096;
/// Most bytes queued per flow for its application.
pub const MAX_BYTES: usize = 4 << 20;

/// How much one flow's queue holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most messages.
    pub msgs: usize,
    /// Most bytes.
    pub bytes: usize,
}

impl Default for Limits {
    /// [`MAX_MSGS`] messages, [`MAX_BYTES`] bytes.
    fn default() -> Self {
        Limits {
            msgs: MAX_MSGS,
            bytes: MAX_BYTES,
        }
    }
}

/// The queue of one flow.
#[derive(Debug, Default)]
pub struct Backlog {
    msgs: VecDeque<Vec<u8>>,
    bytes: usize,
    limits: Limits,
    /// Reused to build packed socket messages.
    pack: Vec<u8>,
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
    /// Socket messages written (plain or packed).
    pub writes: u64,
}

impl Backlog {
    /// An empty queue holding at most `limits`.
    pub fn new(limits: Limits) -> Backlog {
        Backlog {
            limits,
            ..Backlog::default()
        }
    }

    /// Queue `data`; false (and nothing queued) when the queue is full.
    pub fn push(&mut self, data: Vec<u8>) -> bool {
        if self.msgs.len() >= self.limits.msgs || self.bytes + data.len() > self.limits.bytes {
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

    /// Whether it holds half of its limit or more (in messages or bytes): the application
    /// has fallen well behind, not just missed one wake-up.
    pub fn half_full(&self) -> bool {
        self.msgs.len() >= self.limits.msgs / 2 || self.bytes >= self.limits.bytes / 2
    }

    /// Write as much of the queue as the socket takes, without blocking, as few socket
    /// messages as packing allows (one system call each). What stays queued waits for the
    /// socket to become writable. The buffers of the messages written go back to `spare`.
    pub fn flush(&mut self, fd: &OwnedFd, spare: &mut Spare) -> Flushed {
        let mut out = Flushed::default();
        let mut buf = std::mem::take(&mut self.pack);
        while let Some(first) = self.msgs.front() {
            let (data, n) = match pack::pack_next(self.msgs.iter().map(Vec::as_slice), &mut buf) {
                Next::Plain => (first.as_slice(), 1),
                Next::Packed(n) => (buf.as_slice(), n),
            };
            // Sent directly: the daemon registers flow sockets for readability only, and
            // waits for room on a duplicate descriptor.
            match ipc::send(fd, data) {
                Ok(_) => {
                    for d in self.msgs.drain(..n) {
                        self.bytes -= d.len();
                        out.sent_bytes += d.len() as u64;
                        spare.give(d);
                    }
                    out.sent += n as u64;
                    out.writes += 1;
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
        self.pack = buf;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Receive every socket message waiting on `sock` and unpack: the messages, and how
    /// many socket messages carried them.
    fn receive(sock: &OwnedFd) -> (Vec<Vec<u8>>, usize) {
        let mut buf = vec![0u8; pack::MAX_SOCKET_MESSAGE];
        let (mut msgs, mut socket_msgs) = (Vec::new(), 0);
        while let Ok(n) = ipc::recv(sock, &mut buf) {
            socket_msgs += 1;
            let m = &buf[..n];
            if pack::is_packed(m) {
                msgs.extend(pack::parse(m).expect("valid pack").map(<[u8]>::to_vec));
            } else {
                msgs.push(m.to_vec());
            }
        }
        (msgs, socket_msgs)
    }

    #[test]
    fn queues_while_full_and_delivers_in_order_when_drained() {
        let (mine, theirs) = ipc::seqpacket_pair().expect("pair");
        let fd = mine;
        let mut q = Backlog::default();
        // Fill the socket and then some.
        let total = 2000u32;
        for i in 0..total {
            let mut m = vec![0u8; 1000];
            m[..4].copy_from_slice(&i.to_be_bytes());
            assert!(q.push(m));
        }
        let first = q.flush(&fd, &mut Spare::default());
        assert!(
            first.sent < u64::from(total),
            "the socket should fill: {first:?}"
        );
        assert!(!q.is_empty());
        // Packed: 1,000-byte messages, 65 per socket message.
        let per_pack = ((pack::BUDGET - pack::HEADER) / (pack::PER_MESSAGE + 1000)) as u64;
        assert_eq!(per_pack, 65);
        assert_eq!(first.sent, first.writes * per_pack, "{first:?}");
        // Drain the application side and flush again until everything arrived, in order.
        let mut next = 0u32;
        while next < total {
            for m in receive(&theirs).0 {
                assert_eq!(m.len(), 1000);
                assert_eq!(u32::from_be_bytes(m[..4].try_into().expect("4")), next);
                next += 1;
            }
            if !q.is_empty() {
                q.flush(&fd, &mut Spare::default());
            }
        }
        assert!(q.is_empty());
    }

    #[test]
    fn big_messages_go_plain_and_small_ones_packed() {
        let (mine, theirs) = ipc::seqpacket_pair().expect("pair");
        let fd = mine;
        let mut q = Backlog::default();
        let big = vec![5u8; 40_000];
        let mut looks_packed = pack::MAGIC.to_vec();
        looks_packed.push(1);
        // No two 40,000-byte messages share a pack: each goes alone and plain.
        for _ in 0..3 {
            assert!(q.push(big.clone()));
        }
        let done = q.flush(&fd, &mut Spare::default());
        assert_eq!((done.sent, done.writes), (3, 3), "{done:?}");
        let mut buf = vec![0u8; pack::MAX_SOCKET_MESSAGE];
        for _ in 0..3 {
            assert_eq!(ipc::recv(&theirs, &mut buf).expect("plain"), 40_000);
        }
        // Small ones share one pack.
        for m in [b"a".to_vec(), b"b".to_vec(), looks_packed.clone()] {
            assert!(q.push(m));
        }
        let done = q.flush(&fd, &mut Spare::default());
        assert_eq!((done.sent, done.writes), (3, 1), "{done:?}");
        let n = ipc::recv(&theirs, &mut buf).expect("packed");
        let got: Vec<&[u8]> = pack::parse(&buf[..n]).expect("pack").collect();
        assert_eq!(got, [b"a".as_slice(), b"b", &looks_packed]);
        // A lone message that starts like a pack goes as a pack of one.
        assert!(q.push(looks_packed.clone()));
        q.flush(&fd, &mut Spare::default());
        assert_eq!(receive(&theirs), (vec![looks_packed], 1));
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
        let mut q = Backlog::new(Limits { msgs: 2, bytes: 10 });
        assert!(q.push(vec![1; 6]));
        assert!(!q.push(vec![1; 5]), "11 bytes > 10");
        assert!(q.push(vec![1; 4]));
        assert!(!q.push(Vec::new()), "3 messages > 2");
    }

    #[test]
    fn half_full_by_count_or_bytes() {
        let mut q = Backlog::new(Limits {
            msgs: 4,
            bytes: 100,
        });
        assert!(q.push(vec![1; 10]) && !q.half_full());
        assert!(q.push(vec![1; 10]) && q.half_full(), "2 of 4 messages");
        let mut q = Backlog::new(Limits {
            msgs: 4,
            bytes: 100,
        });
        assert!(q.push(vec![1; 49]) && !q.half_full());
        assert!(q.push(vec![1; 1]) && q.half_full(), "50 of 100 bytes");
    }

    #[test]
    fn a_closed_application_end_drops_and_counts() {
        let (mine, theirs) = ipc::seqpacket_pair().expect("pair");
        drop(theirs);
        let fd = mine;
        let mut q = Backlog::default();
        q.push(vec![1, 2, 3]);
        q.push(vec![4]);
        assert_eq!(
            q.flush(&fd, &mut Spare::default()),
            Flushed {
                sent: 0,
                sent_bytes: 0,
                dropped: 2,
                writes: 0,
            }
        );
        assert!(q.is_empty());
    }
}
