//! Packed socket messages: several application messages in one `SOCK_SEQPACKET` message on
//! a flow's socket, so the kernel allocates, copies and frees one buffer for many messages.
//! The byte layout and a test vector are in `docs/FLOW-IPC.md` ("Packed messages").
//!
//! A socket message that starts with [`MAGIC`] is packed:
//!
//! ```text
//! magic (4: FF FE 50 4B) | count (u16, big-endian, >= 1) | count × { length (u32 BE) | bytes }
//! ```
//!
//! Any other socket message is one plain message, as before packing existed, so a single
//! `write` costs nothing extra. A plain message that itself starts with [`MAGIC`] is sent as
//! a pack of one, which keeps the two kinds apart without ambiguity.

use crate::MAX_MESSAGE;

/// The first four bytes of a packed socket message.
pub const MAGIC: [u8; 4] = [0xFF, 0xFE, 0x50, 0x4B];
/// Bytes before the first message of a pack: magic and count.
pub const HEADER: usize = 6;
/// Bytes before each message in a pack: its length.
pub const PER_MESSAGE: usize = 4;
/// Most bytes the writers put in one packed socket message (a pack of one message that
/// must be packed, see [`MAGIC`], may be larger, up to [`MAX_SOCKET_MESSAGE`]).
pub const BUDGET: usize = 65_536;
/// The largest socket message a writer of this protocol makes: one message of
/// [`MAX_MESSAGE`] bytes packed alone. Receive buffers of this size never cut a pack.
pub const MAX_SOCKET_MESSAGE: usize = MAX_MESSAGE + HEADER + PER_MESSAGE;

/// Why a socket message starting with [`MAGIC`] is not a valid pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// Shorter than the header.
    #[error("packed message shorter than its header")]
    Short,
    /// A count of zero.
    #[error("packed message with a count of zero")]
    Empty,
    /// A length runs past the end, or a message is longer than `MAX_MESSAGE`.
    #[error("packed message {0} runs past the end or is too long")]
    Length(usize),
    /// Bytes after the last message.
    #[error("{0} bytes after the last packed message")]
    Trailing(usize),
}

/// True if the socket message `msg` is packed (starts with [`MAGIC`]).
pub fn is_packed(msg: &[u8]) -> bool {
    msg.starts_with(&MAGIC)
}

/// The messages of a validated pack, in order.
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    msg: &'a [u8],
    at: usize,
    left: usize,
}

impl<'a> Messages<'a> {
    /// Messages not yet returned.
    pub fn remaining(&self) -> usize {
        self.left
    }

    /// Where the next message lies in the packed socket message.
    pub fn next_range(&mut self) -> Option<std::ops::Range<usize>> {
        if self.left == 0 {
            return None;
        }
        let r = next_at(self.msg, &mut self.at)?;
        self.left -= 1;
        Some(r)
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let r = self.next_range()?;
        self.msg.get(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// The range of the message whose length field is at `*at` in `msg`, moving `*at` past it
/// (None, and `*at` unchanged, if it runs past the end).
pub(crate) fn next_at(msg: &[u8], at: &mut usize) -> Option<std::ops::Range<usize>> {
    let len = msg.get(*at..)?.first_chunk::<4>()?;
    let start = *at + PER_MESSAGE;
    let end = start.checked_add(u32::from_be_bytes(*len) as usize)?;
    if end > msg.len() {
        return None;
    }
    *at = end;
    Some(start..end)
}

/// Check a packed socket message (one for which [`is_packed`] holds) completely and return
/// its messages. Never panics, whatever the input.
pub fn parse(msg: &[u8]) -> Result<Messages<'_>, PackError> {
    let Some(&[_, _, _, _, c0, c1]) = msg.first_chunk::<HEADER>() else {
        return Err(PackError::Short);
    };
    let count = usize::from(u16::from_be_bytes([c0, c1]));
    if count == 0 {
        return Err(PackError::Empty);
    }
    let mut at = HEADER;
    for i in 0..count {
        match next_at(msg, &mut at) {
            Some(r) if r.len() <= MAX_MESSAGE => {}
            _ => return Err(PackError::Length(i)),
        }
    }
    if at < msg.len() {
        return Err(PackError::Trailing(msg.len() - at));
    }
    Ok(Messages {
        msg,
        at: HEADER,
        left: count,
    })
}

/// What the next socket message carries, as [`pack_next`] planned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The first message alone, as it is (no copy).
    Plain,
    /// The buffer holds a pack of this many messages from the front.
    Packed(usize),
}

/// Plan the next socket message for the (non-empty) queue `msgs`: as many messages from
/// the front as fit in [`BUDGET`] bytes go into one pack written to `out`; a message alone
/// goes plain unless it starts with [`MAGIC`]. A message longer than [`MAX_MESSAGE`] always
/// goes alone and plain (the receiver counts it as oversized, as without packing).
/// `Next::Packed(0)` only for an empty queue.
pub fn pack_next<'a, I>(msgs: I, out: &mut Vec<u8>) -> Next
where
    I: IntoIterator<Item = &'a [u8]>,
{
    out.clear();
    let mut it = msgs.into_iter().peekable();
    let Some(first) = it.next() else {
        return Next::Packed(0);
    };
    let fits =
        |used: usize, m: &[u8]| m.len() <= MAX_MESSAGE && used + PER_MESSAGE + m.len() <= BUDGET;
    let second_fits = it
        .peek()
        .is_some_and(|m| fits(HEADER + PER_MESSAGE + first.len(), m));
    if first.len() > MAX_MESSAGE || (!second_fits && !is_packed(first)) {
        return Next::Plain;
    }
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[0, 0]);
    push(out, first);
    let mut count = 1usize;
    if second_fits {
        while let Some(m) = it.peek() {
            if count == usize::from(u16::MAX) || !fits(out.len(), m) {
                break;
            }
            push(out, m);
            count += 1;
            it.next();
        }
    }
    out[4..6].copy_from_slice(&(count as u16).to_be_bytes());
    Next::Packed(count)
}

fn push(out: &mut Vec<u8>, m: &[u8]) {
    out.extend_from_slice(&(m.len() as u32).to_be_bytes());
    out.extend_from_slice(m);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The test vector of `docs/FLOW-IPC.md`.
    const VECTOR: [u8; 17] = [
        0xFF, 0xFE, 0x50, 0x4B, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, b'h', b'i', 0x00, 0x00, 0x00,
        0x01, b'!',
    ];

    #[test]
    fn the_documented_vector() {
        let mut out = Vec::new();
        assert_eq!(
            pack_next([b"hi".as_slice(), b"!"], &mut out),
            Next::Packed(2)
        );
        assert_eq!(out, VECTOR);
        let got: Vec<&[u8]> = parse(&VECTOR).expect("valid").collect();
        assert_eq!(got, [b"hi".as_slice(), b"!"]);
    }

    #[test]
    fn a_single_message_goes_plain_unless_it_looks_packed() {
        let mut out = Vec::new();
        assert_eq!(pack_next([b"one".as_slice()], &mut out), Next::Plain);
        let tricky = [0xFF, 0xFE, 0x50, 0x4B, 9];
        assert_eq!(pack_next([tricky.as_slice()], &mut out), Next::Packed(1));
        assert_eq!(parse(&out).expect("valid").collect::<Vec<_>>(), [tricky]);
        // The largest message packed alone is the largest socket message.
        let mut big = vec![7u8; MAX_MESSAGE];
        big[..4].copy_from_slice(&MAGIC);
        assert_eq!(pack_next([big.as_slice()], &mut out), Next::Packed(1));
        assert_eq!(out.len(), MAX_SOCKET_MESSAGE);
        // Too long for any flow: alone and plain, so the receiver counts it oversized.
        let huge = vec![0u8; MAX_MESSAGE + 1];
        assert_eq!(pack_next([huge.as_slice(), b"x"], &mut out), Next::Plain);
    }

    #[test]
    fn packs_stop_at_the_budget_and_at_oversized_messages() {
        let m = vec![1u8; 1000];
        let msgs: Vec<&[u8]> = (0..100).map(|_| m.as_slice()).collect();
        let mut out = Vec::new();
        let n = (BUDGET - HEADER) / (PER_MESSAGE + 1000);
        assert_eq!(pack_next(msgs.iter().copied(), &mut out), Next::Packed(n));
        assert!(out.len() <= BUDGET);
        let huge = vec![0u8; MAX_MESSAGE + 1];
        assert_eq!(
            pack_next([b"a".as_slice(), b"b", &huge, b"c"], &mut out),
            Next::Packed(2)
        );
        // A big message does not share: both go plain.
        let half = vec![2u8; BUDGET / 2 + 1];
        assert_eq!(pack_next([half.as_slice(), &half], &mut out), Next::Plain);
    }

    #[test]
    fn malformed_packs_are_errors() {
        assert_eq!(parse(&MAGIC).err(), Some(PackError::Short));
        assert_eq!(
            parse(&[0xFF, 0xFE, 0x50, 0x4B, 0, 0]).err(),
            Some(PackError::Empty)
        );
        assert_eq!(parse(&VECTOR[..16]).err(), Some(PackError::Length(1)));
        let mut long = VECTOR.to_vec();
        long.push(0);
        assert_eq!(parse(&long).err(), Some(PackError::Trailing(1)));
        let mut big = VECTOR[..6].to_vec();
        big[5] = 1;
        big.extend_from_slice(&((MAX_MESSAGE + 1) as u32).to_be_bytes());
        big.resize(big.len() + MAX_MESSAGE + 1, 0);
        assert_eq!(parse(&big).err(), Some(PackError::Length(0)));
    }

    proptest! {
        #[test]
        fn parse_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut msg = MAGIC.to_vec();
            msg.extend_from_slice(&tail);
            if let Ok(it) = parse(&msg) {
                let n = it.remaining();
                prop_assert_eq!(it.count(), n);
            }
        }

        #[test]
        fn packing_round_trips(msgs in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..3000), 1..60)) {
            let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
            let mut out = Vec::new();
            let mut got: Vec<Vec<u8>> = Vec::new();
            let mut at = 0;
            while at < refs.len() {
                match pack_next(refs[at..].iter().copied(), &mut out) {
                    Next::Plain => {
                        prop_assert!(!is_packed(refs[at]));
                        got.push(refs[at].to_vec());
                        at += 1;
                    }
                    Next::Packed(n) => {
                        prop_assert!(n >= 1 && out.len() <= MAX_SOCKET_MESSAGE);
                        prop_assert!(n == 1 || out.len() <= BUDGET);
                        got.extend(parse(&out).expect("valid").map(<[u8]>::to_vec));
                        at += n;
                    }
                }
            }
            prop_assert_eq!(got, msgs);
        }
    }
}
