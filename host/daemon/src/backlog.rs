//! Delivery of incoming SDUs to an application: what waits in a flow's backlog (kept by the
//! node, `ouro_node::Node::pending`) is written to the flow's socket packed, many messages
//! per socket message (`ouro_flow::pack`), so the kernel handles one buffer for many SDUs.
//! What the socket does not take stays in the backlog until the socket drains (the flow's
//! socket is watched for room).

use ouro_flow::ipc;
use ouro_flow::pack::{self, Next};
use std::io;
use std::os::fd::OwnedFd;

/// What [`flush`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Messages written to the socket (the oldest ones, in order).
    pub sent: usize,
    /// Socket messages written (plain or packed).
    pub writes: u64,
    /// The application's end is closed: nothing more can be written.
    pub closed: bool,
}

/// Write as many of the waiting messages as the socket takes, without blocking, as few
/// socket messages as packing allows (one system call each). `from(k)` gives the messages
/// from the `k`-th oldest on; `buf` is reused to build packs.
pub fn flush<'a, I: Iterator<Item = &'a [u8]>>(
    from: impl Fn(usize) -> I,
    fd: &OwnedFd,
    buf: &mut Vec<u8>,
) -> Flushed {
    let mut out = Flushed::default();
    while let Some(first) = from(out.sent).next() {
        let (data, n) = match pack::pack_next(from(out.sent), buf) {
            Next::Plain => (first, 1),
            Next::Packed(n) => (buf.as_slice(), n),
        };
        // Sent directly: the daemon watches a flow socket for room only while its
        // backlog waits.
        match ipc::send(fd, data) {
            Ok(_) => {
                out.sent += n;
                out.writes += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(_) => {
                out.closed = true;
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Flush `q` and drop what was sent, as the daemon does with the node's backlog.
    fn flush_queue(q: &mut VecDeque<Vec<u8>>, fd: &OwnedFd) -> Flushed {
        let mut buf = Vec::new();
        let done = flush(|k| q.range(k..).map(Vec::as_slice), fd, &mut buf);
        q.drain(..done.sent);
        done
    }

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
        let mut q = VecDeque::new();
        // Fill the socket and then some.
        let total = 2000u32;
        for i in 0..total {
            let mut m = vec![0u8; 1000];
            m[..4].copy_from_slice(&i.to_be_bytes());
            q.push_back(m);
        }
        let first = flush_queue(&mut q, &fd);
        assert!(
            first.sent < total as usize,
            "the socket should fill: {first:?}"
        );
        assert!(!q.is_empty());
        // Packed: 1,000-byte messages, 65 per socket message.
        let per_pack = ((pack::BUDGET - pack::HEADER) / (pack::PER_MESSAGE + 1000)) as u64;
        assert_eq!(per_pack, 65);
        assert_eq!(first.sent as u64, first.writes * per_pack, "{first:?}");
        // Drain the application side and flush again until everything arrived, in order.
        let mut next = 0u32;
        while next < total {
            for m in receive(&theirs).0 {
                assert_eq!(m.len(), 1000);
                assert_eq!(u32::from_be_bytes(m[..4].try_into().expect("4")), next);
                next += 1;
            }
            if !q.is_empty() {
                flush_queue(&mut q, &fd);
            }
        }
        assert!(q.is_empty());
    }

    #[test]
    fn big_messages_go_plain_and_small_ones_packed() {
        let (mine, theirs) = ipc::seqpacket_pair().expect("pair");
        let fd = mine;
        let mut q = VecDeque::new();
        let big = vec![5u8; 40_000];
        let mut looks_packed = pack::MAGIC.to_vec();
        looks_packed.push(1);
        // No two 40,000-byte messages share a pack: each goes alone and plain.
        for _ in 0..3 {
            q.push_back(big.clone());
        }
        let done = flush_queue(&mut q, &fd);
        assert_eq!((done.sent, done.writes), (3, 3), "{done:?}");
        let mut buf = vec![0u8; pack::MAX_SOCKET_MESSAGE];
        for _ in 0..3 {
            assert_eq!(ipc::recv(&theirs, &mut buf).expect("plain"), 40_000);
        }
        // Small ones share one pack.
        for m in [b"a".to_vec(), b"b".to_vec(), looks_packed.clone()] {
            q.push_back(m);
        }
        let done = flush_queue(&mut q, &fd);
        assert_eq!((done.sent, done.writes), (3, 1), "{done:?}");
        let n = ipc::recv(&theirs, &mut buf).expect("packed");
        let got: Vec<&[u8]> = pack::parse(&buf[..n]).expect("pack").collect();
        assert_eq!(got, [b"a".as_slice(), b"b", &looks_packed]);
        // A lone message that starts like a pack goes as a pack of one.
        q.push_back(looks_packed.clone());
        flush_queue(&mut q, &fd);
        assert_eq!(receive(&theirs), (vec![looks_packed], 1));
    }

    #[test]
    fn a_closed_application_end_drops_and_counts() {
        let (mine, theirs) = ipc::seqpacket_pair().expect("pair");
        drop(theirs);
        let fd = mine;
        let mut q = VecDeque::new();
        q.push_back(vec![1, 2, 3]);
        q.push_back(vec![4]);
        assert_eq!(
            flush_queue(&mut q, &fd),
            Flushed {
                sent: 0,
                writes: 0,
                closed: true,
            }
        );
        assert_eq!(
            q.len(),
            2,
            "what was not sent stays for the daemon to count"
        );
    }
}
