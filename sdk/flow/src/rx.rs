//! The receive side of a flow: socket messages (plain or packed, see [`crate::pack`])
//! turned back into application messages, with the unread rest of a packed one kept for the
//! next read.

use crate::ipc;
use crate::pack::{self, MAX_SOCKET_MESSAGE};
use std::io;
use std::os::fd::BorrowedFd;

/// What one read found.
pub(crate) enum Got {
    /// A message of this length.
    Message(usize),
    /// The peer closed.
    Closed,
}

/// The last socket message received by [`Rx::read`] and how much of it is unread.
#[derive(Debug, Default)]
pub(crate) struct Rx {
    /// Allocated on first use ([`MAX_SOCKET_MESSAGE`] bytes).
    buf: Vec<u8>,
    /// Length of the socket message in `buf`.
    len: usize,
    /// Offset of the next unread message's length field.
    at: usize,
    /// Messages of it not yet read.
    left: usize,
}

pub(crate) fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

fn copy_out(msg: &[u8], out: &mut [u8]) -> io::Result<Got> {
    let Some(dst) = out.get_mut(..msg.len()) else {
        return Err(invalid(format_args!(
            "message of {} bytes larger than the {}-byte buffer",
            msg.len(),
            out.len()
        )));
    };
    dst.copy_from_slice(msg);
    Ok(Got::Message(msg.len()))
}

impl Rx {
    /// Messages received but not read yet.
    pub(crate) fn pending(&self) -> usize {
        self.left
    }

    /// The next unread message of the buffered pack.
    fn take(&mut self) -> Option<&[u8]> {
        if self.left == 0 {
            return None;
        }
        let msg = self.buf.get(..self.len)?;
        match pack::next_at(msg, &mut self.at) {
            Some(r) => {
                self.left -= 1;
                msg.get(r)
            }
            None => {
                self.left = 0; // cannot happen: the pack was checked whole
                None
            }
        }
    }

    /// Hand every buffered message to `f`, in order.
    pub(crate) fn drain(&mut self, mut f: impl FnMut(&[u8])) {
        while let Some(m) = self.take() {
            f(m);
        }
    }

    /// One message into `out`: a buffered one, else from one socket message received
    /// without blocking (`WouldBlock` if none waits) or, with `wait`, by a receive that
    /// waits as the descriptor's mode and receive timeout say. A message longer than `out`
    /// is consumed and an `InvalidData` error, as is a malformed pack.
    pub(crate) fn read(
        &mut self,
        fd: BorrowedFd<'_>,
        out: &mut [u8],
        wait: bool,
    ) -> io::Result<Got> {
        if let Some(m) = self.take() {
            return copy_out(m, out);
        }
        if self.buf.is_empty() {
            self.buf = vec![0; MAX_SOCKET_MESSAGE];
        }
        let n = if wait {
            ipc::recv_wait(&fd, &mut self.buf)?
        } else {
            ipc::recv(&fd, &mut self.buf)?
        };
        let msg = &self.buf[..n];
        if n == 0 {
            return Ok(Got::Closed);
        }
        if !pack::is_packed(msg) {
            return copy_out(msg, out);
        }
        self.left = pack::parse(msg).map_err(invalid)?.remaining();
        self.len = n;
        self.at = pack::HEADER;
        match self.take() {
            Some(m) => copy_out(m, out),
            None => Err(invalid("empty pack")), // parse refuses a count of zero
        }
    }
}
