//! Batched reads and writes: many messages per system call (`recvmmsg`/`sendmmsg` on the
//! flow's socket), with the same message semantics as [`Flow::read`] and [`Flow::write`].
//!
//! ```no_run
//! # fn main() -> Result<(), ouro_flow::FlowError> {
//! use ouro_flow::{alloc, Qos, RecvBatch};
//! let flow = alloc("sink", Qos::BestEffort, std::time::Duration::from_secs(5))?;
//! flow.write_batch(&[b"one".as_slice(), b"two"])?;
//! let mut batch = RecvBatch::new(32, 2048);
//! let n = flow.read_batch(&mut batch)?;
//! for msg in batch.iter() {
//!     println!("{} bytes", msg.len());
//! }
//! # let _ = n; Ok(()) }
//! ```

use crate::ipc::{self, Slot};
use crate::pack::{self, MAX_SOCKET_MESSAGE, Next};
use crate::rx::Rx;
use crate::{Flow, FlowError, wait_readable, wait_writable};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// Where one message of a [`RecvBatch`] lies.
#[derive(Clone, Copy, Debug)]
struct At {
    /// The receive buffer, or [`SPILL`].
    buf: usize,
    start: usize,
    len: usize,
}

/// [`At::buf`] of messages copied from the flow's own buffer.
const SPILL: usize = usize::MAX;

/// Reusable receive buffers for [`Flow::read_batch`] (and the tokio form): up to
/// [`ipc::MAX_BATCH`] socket messages per system call, each plain (one message) or packed
/// (many, see [`crate::pack`]). A message longer than the batch's message size is dropped
/// and counted in [`RecvBatch::oversized`] (never handed up cut); a malformed pack is
/// dropped and counted in [`RecvBatch::malformed`].
#[derive(Debug)]
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    slots: Vec<Slot>,
    max_len: usize,
    /// Where each message of the last read lies, in order.
    msgs: Vec<At>,
    spill: Vec<u8>,
    oversized: u64,
    malformed: u64,
}

/// What one batch receive found.
pub(crate) enum Filled {
    /// This many messages (maybe 0 when all were oversized).
    Messages(usize),
    /// The peer closed and nothing came before it.
    Closed,
}

impl RecvBatch {
    /// Buffers for `slots` socket messages per system call (1 to [`ipc::MAX_BATCH`]), taking
    /// messages of up to `max_len` bytes (use [`crate::MAX_MESSAGE`] to accept any). Each
    /// slot holds a whole socket message ([`MAX_SOCKET_MESSAGE`] bytes), since a packed one
    /// may carry many small messages.
    pub fn new(slots: usize, max_len: usize) -> RecvBatch {
        let slots = slots.clamp(1, ipc::MAX_BATCH);
        RecvBatch {
            bufs: (0..slots).map(|_| vec![0; MAX_SOCKET_MESSAGE]).collect(),
            slots: vec![Slot::Empty; slots],
            max_len,
            msgs: Vec::with_capacity(slots),
            spill: Vec::new(),
            oversized: 0,
            malformed: 0,
        }
    }

    /// Messages of the last read.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// True if the last read returned no message.
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    fn slice(&self, at: At) -> &[u8] {
        let buf = if at.buf == SPILL {
            &self.spill
        } else {
            &self.bufs[at.buf]
        };
        &buf[at.start..at.start + at.len]
    }

    /// Message `i` of the last read.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.msgs.get(i).map(|&at| self.slice(at))
    }

    /// The messages of the last read, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.msgs.iter().map(|&at| self.slice(at))
    }

    /// Messages dropped so far because they were longer than the batch's message size.
    pub fn oversized(&self) -> u64 {
        self.oversized
    }

    /// Packed socket messages dropped so far because they were malformed.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// The messages `rx` holds if any, else one non-blocking `recvmmsg` on `fd`.
    pub(crate) fn fill(&mut self, fd: BorrowedFd<'_>, rx: &mut Rx) -> io::Result<Filled> {
        let RecvBatch {
            bufs,
            slots,
            max_len,
            msgs,
            spill,
            oversized,
            malformed,
        } = self;
        let max_len = *max_len;
        let keep = |msgs: &mut Vec<At>, oversized: &mut u64, at: At| {
            if at.len > max_len {
                *oversized += 1;
            } else {
                msgs.push(at);
            }
        };
        msgs.clear();
        spill.clear();
        if rx.pending() > 0 {
            rx.drain(|m| {
                let at = At {
                    buf: SPILL,
                    start: spill.len(),
                    len: m.len(),
                };
                keep(msgs, oversized, at);
                spill.extend_from_slice(m);
            });
            return Ok(Filled::Messages(msgs.len()));
        }
        let n = ipc::recv_batch(&fd, bufs, slots)?;
        for (i, (buf, slot)) in bufs.iter().zip(&slots[..n]).enumerate() {
            match *slot {
                Slot::Message(len) if pack::is_packed(&buf[..len]) => {
                    match pack::parse(&buf[..len]) {
                        Ok(mut it) => {
                            while let Some(r) = it.next_range() {
                                let at = At {
                                    buf: i,
                                    start: r.start,
                                    len: r.len(),
                                };
                                keep(msgs, oversized, at);
                            }
                        }
                        Err(_) => *malformed += 1,
                    }
                }
                Slot::Message(len) => keep(
                    msgs,
                    oversized,
                    At {
                        buf: i,
                        start: 0,
                        len,
                    },
                ),
                Slot::Oversized => *oversized += 1,
                Slot::Closed if msgs.is_empty() && i == 0 => return Ok(Filled::Closed),
                Slot::Closed | Slot::Empty => break,
            }
        }
        Ok(Filled::Messages(msgs.len()))
    }
}

/// Map the errors of a flow socket as [`Flow::read`]/[`Flow::write`] do.
pub(crate) fn flow_error(e: io::Error) -> FlowError {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => FlowError::Closed,
        _ => e.into(),
    }
}

/// The next socket message for `msgs` (non-empty): the first message as it is, or a pack
/// built in `buf`; and how many messages it carries.
pub(crate) fn next_unit<'m: 'b, 'b>(msgs: &[&'m [u8]], buf: &'b mut Vec<u8>) -> (&'b [u8], usize) {
    match pack::pack_next(msgs.iter().copied(), buf) {
        Next::Plain => (msgs[0], 1),
        Next::Packed(n) => (buf.as_slice(), n),
    }
}

impl Flow {
    /// Read at least one message with one system call, waiting like [`Flow::read`] (read
    /// timeout, non-blocking mode): every message of up to `batch`'s slot count of socket
    /// messages (a packed one carries many), or the messages left over from a packed one
    /// that [`Flow::read`] started. Returns how many messages `batch` now holds; 0 is
    /// possible when every message received was too long (see [`RecvBatch::oversized`]).
    pub fn read_batch(&self, batch: &mut RecvBatch) -> Result<usize, FlowError> {
        let mut rx = self.rx();
        loop {
            match batch.fill(self.as_fd(), &mut rx) {
                Ok(Filled::Closed) => return Err(FlowError::Closed),
                Ok(Filled::Messages(n)) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.nonblocking || !wait_readable(self.as_fd(), self.read_timeout)? {
                        return Err(FlowError::Timeout);
                    }
                }
                Err(e) => return Err(flow_error(e)),
            }
        }
    }

    /// Write `msgs` (each one message), in order, packing as many as fit into each socket
    /// message ([`pack::BUDGET`] bytes), one system call per socket message. Blocking mode:
    /// returns when all were written (`msgs.len()`). Non-blocking mode: writes what the
    /// flow's buffer takes and returns how many; [`FlowError::Timeout`] if it took none.
    pub fn write_batch(&self, msgs: &[&[u8]]) -> Result<usize, FlowError> {
        let mut done = 0;
        let mut buf = Vec::new();
        while done < msgs.len() {
            let (data, n) = next_unit(&msgs[done..], &mut buf);
            loop {
                match ipc::send(&self.as_fd(), data) {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if self.nonblocking {
                            return if done == 0 {
                                Err(FlowError::Timeout)
                            } else {
                                Ok(done)
                            };
                        }
                        wait_writable(self.as_fd())?;
                    }
                    Err(e) => return Err(flow_error(e)),
                }
            }
            done += n;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FlowError, ipc, pack};
    use std::time::Duration;

    fn pair() -> (Flow, Flow) {
        let (a, b) = ipc::seqpacket_pair().expect("pair");
        (
            Flow::new(a, 1, "l".into()).expect("flow"),
            Flow::new(b, 2, "l".into()).expect("flow"),
        )
    }

    #[test]
    fn batches_keep_boundaries_order_and_count_oversized() {
        let (a, mut b) = pair();
        let msgs: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 1 + i as usize]).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        assert_eq!(a.write_batch(&refs).expect("write"), 100);
        a.write(&[9u8; 200]).expect("write"); // longer than a slot
        a.write(b"last").expect("write");
        let mut batch = RecvBatch::new(16, 128);
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut reads = 0;
        b.set_read_timeout(Some(Duration::from_millis(50)));
        loop {
            match b.read_batch(&mut batch) {
                Ok(n) => {
                    reads += 1;
                    assert_eq!(n, batch.len());
                    got.extend(batch.iter().map(<[u8]>::to_vec));
                }
                Err(FlowError::Timeout) => break,
                Err(e) => panic!("{e}"),
            }
        }
        // 1..=100-byte messages are within 128 bytes; 200 bytes is not. The 100 went as one
        // pack, so one recvmmsg took the pack and the two plain messages.
        assert_eq!(reads, 1);
        assert_eq!(got.len(), 101);
        assert_eq!(got[..100], msgs[..]);
        assert_eq!(got[100], b"last");
        assert_eq!(batch.oversized(), 1);
    }

    #[test]
    fn packed_messages_are_read_one_by_one_and_mix_with_batches() {
        let (a, mut b) = pair();
        let msgs: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 3 + i as usize]).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        assert_eq!(a.write_batch(&refs).expect("write"), 10);
        a.write(b"after").expect("write");
        let mut buf = [0u8; 64];
        assert_eq!(b.read(&mut buf).expect("read"), 3);
        assert_eq!(&buf[..3], msgs[0].as_slice());
        assert_eq!(b.buffered(), 9);
        // The socket holds only "after" now; the rest of the pack is in the Flow.
        assert_eq!(b.read(&mut buf).expect("read"), 4);
        // Too long for the buffer: an error, and the next message is intact.
        let err = b.read(&mut buf[..2]).expect_err("5 bytes into 2");
        assert!(matches!(&err, FlowError::Io(e) if e.kind() == io::ErrorKind::InvalidData));
        let mut batch = RecvBatch::new(4, 64);
        assert_eq!(b.read_batch(&mut batch).expect("the buffered rest"), 7);
        let rest: Vec<&[u8]> = batch.iter().collect();
        assert_eq!(rest, refs[3..]);
        assert_eq!(b.buffered(), 0);
        assert_eq!(b.read_batch(&mut batch).expect("then the socket"), 1);
        assert_eq!(batch.get(0), Some(b"after".as_slice()));
        b.set_nonblocking(true);
        assert!(matches!(b.read(&mut buf), Err(FlowError::Timeout)));
    }

    #[test]
    fn wait_sees_buffered_messages() {
        let (a, b) = pair();
        a.write_batch(&[b"1".as_slice(), b"2"]).expect("write");
        let mut buf = [0u8; 8];
        assert_eq!(b.read(&mut buf).expect("read"), 1);
        // Nothing is left on the socket, but a message is in the Flow.
        assert_eq!(
            crate::wait(&[&a, &b], Some(Duration::from_millis(1))).expect("wait"),
            vec![1]
        );
        assert_eq!(b.read(&mut buf).expect("read"), 1);
        assert_eq!(&buf[..1], b"2");
    }

    #[test]
    fn messages_that_look_packed_and_malformed_packs() {
        let (a, mut b) = pair();
        let mut tricky = pack::MAGIC.to_vec();
        tricky.extend_from_slice(&[0, 0]);
        a.write(&tricky).expect("write");
        let mut buf = [0u8; 16];
        assert_eq!(b.read(&mut buf).expect("read"), 6);
        assert_eq!(&buf[..6], tricky.as_slice());
        // A raw writer's malformed pack (count 0) is an error, then a counted drop.
        ipc::send(&a.as_fd(), &tricky).expect("send");
        let err = b.read(&mut buf).expect_err("malformed");
        assert!(matches!(&err, FlowError::Io(e) if e.kind() == io::ErrorKind::InvalidData));
        ipc::send(&a.as_fd(), &tricky).expect("send");
        a.write_batch(&[b"ok".as_slice(), &[1u8; 100], b"ok"])
            .expect("write");
        let mut batch = RecvBatch::new(8, 50);
        b.set_nonblocking(true);
        assert_eq!(b.read_batch(&mut batch).expect("read"), 2);
        assert_eq!((batch.malformed(), batch.oversized()), (1, 1));
    }

    #[test]
    fn batch_read_sees_close_after_the_last_messages() {
        let (a, b) = pair();
        a.write_batch(&[b"x".as_slice(), b"yz"]).expect("write");
        a.dealloc();
        let mut batch = RecvBatch::new(8, 64);
        assert_eq!(b.read_batch(&mut batch).expect("the messages first"), 2);
        assert_eq!(batch.get(1), Some(b"yz".as_slice()));
        assert!(matches!(b.read_batch(&mut batch), Err(FlowError::Closed)));
        // Writing to a closed flow is Closed, not a signal.
        assert!(matches!(
            b.write_batch(&[b"q".as_slice()]),
            Err(FlowError::Closed)
        ));
    }

    #[test]
    fn non_blocking_batch_write_stops_when_full() {
        let (mut a, b) = pair();
        a.set_nonblocking(true);
        let msg = vec![0u8; 4096];
        let refs: Vec<&[u8]> = (0..64).map(|_| msg.as_slice()).collect();
        let mut total = 0;
        loop {
            match a.write_batch(&refs) {
                Ok(n) => {
                    assert!(n > 0 && n <= 64);
                    total += n;
                }
                Err(FlowError::Timeout) => break,
                Err(e) => panic!("{e}"),
            }
            assert!(total < 1_000_000, "the socket never filled");
        }
        let mut batch = RecvBatch::new(64, 4096);
        let mut read = 0;
        let mut b = b;
        b.set_nonblocking(true);
        while let Ok(n) = b.read_batch(&mut batch) {
            read += n;
        }
        assert_eq!(read, total);
    }
}
