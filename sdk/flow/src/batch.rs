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
use crate::{Flow, FlowError, wait_readable, wait_writable};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// Reusable receive buffers for [`Flow::read_batch`] (and the tokio form): up to
/// [`ipc::MAX_BATCH`] slots of a fixed size. A message longer than its slot is consumed,
/// dropped and counted in [`RecvBatch::oversized`] (never handed up cut).
#[derive(Debug)]
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    slots: Vec<Slot>,
    /// (slot, length) of each message of the last read, in order.
    msgs: Vec<(usize, usize)>,
    oversized: u64,
}

/// What one batch receive found.
pub(crate) enum Filled {
    /// This many messages (maybe 0 when all were oversized).
    Messages(usize),
    /// The peer closed and nothing came before it.
    Closed,
}

impl RecvBatch {
    /// Buffers for `slots` messages (1 to [`ipc::MAX_BATCH`]) of up to `slot_size` bytes
    /// each (use [`crate::MAX_MESSAGE`] to accept any message).
    pub fn new(slots: usize, slot_size: usize) -> RecvBatch {
        let slots = slots.clamp(1, ipc::MAX_BATCH);
        RecvBatch {
            bufs: (0..slots).map(|_| vec![0; slot_size.max(1)]).collect(),
            slots: vec![Slot::Empty; slots],
            msgs: Vec::with_capacity(slots),
            oversized: 0,
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

    /// Message `i` of the last read.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.msgs.get(i).map(|&(s, n)| &self.bufs[s][..n])
    }

    /// The messages of the last read, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.msgs.iter().map(|&(s, n)| &self.bufs[s][..n])
    }

    /// Messages dropped so far because they were longer than a slot.
    pub fn oversized(&self) -> u64 {
        self.oversized
    }

    /// One non-blocking `recvmmsg` on `fd`.
    pub(crate) fn fill(&mut self, fd: BorrowedFd<'_>) -> io::Result<Filled> {
        self.msgs.clear();
        let n = ipc::recv_batch(&fd, &mut self.bufs, &mut self.slots)?;
        for (i, slot) in self.slots[..n].iter().enumerate() {
            match *slot {
                Slot::Message(len) => self.msgs.push((i, len)),
                Slot::Oversized => self.oversized += 1,
                Slot::Closed if self.msgs.is_empty() && i == 0 => return Ok(Filled::Closed),
                Slot::Closed | Slot::Empty => break,
            }
        }
        Ok(Filled::Messages(self.msgs.len()))
    }
}

/// Map the errors of a flow socket as [`Flow::read`]/[`Flow::write`] do.
pub(crate) fn flow_error(e: io::Error) -> FlowError {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => FlowError::Closed,
        _ => e.into(),
    }
}

impl Flow {
    /// Read at least one and up to `batch`'s slot count of messages with one system call,
    /// waiting like [`Flow::read`] (read timeout, non-blocking mode). Returns how many
    /// messages `batch` now holds; 0 is possible when every message received was longer
    /// than a slot (see [`RecvBatch::oversized`]).
    pub fn read_batch(&self, batch: &mut RecvBatch) -> Result<usize, FlowError> {
        loop {
            match batch.fill(self.as_fd()) {
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

    /// Write `msgs` (each one message) with as few system calls as possible, in order.
    /// Blocking mode: returns when all were written (`msgs.len()`). Non-blocking mode:
    /// writes what the flow's buffer takes and returns how many; [`FlowError::Timeout`] if
    /// it took none.
    pub fn write_batch(&self, msgs: &[&[u8]]) -> Result<usize, FlowError> {
        let mut done = 0;
        while done < msgs.len() {
            match ipc::send_batch(&self.as_fd(), &msgs[done..]) {
                Ok(n) => done += n,
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
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FlowError, ipc};
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
        b.set_read_timeout(Some(Duration::from_millis(50)));
        loop {
            match b.read_batch(&mut batch) {
                Ok(n) => {
                    assert!(n <= 16);
                    got.extend(batch.iter().map(<[u8]>::to_vec));
                }
                Err(FlowError::Timeout) => break,
                Err(e) => panic!("{e}"),
            }
        }
        // 1..=100-byte messages fit 128-byte slots except none; 200 bytes does not.
        assert_eq!(got.len(), 101);
        assert_eq!(got[..100], msgs[..]);
        assert_eq!(got[100], b"last");
        assert_eq!(batch.oversized(), 1);
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
