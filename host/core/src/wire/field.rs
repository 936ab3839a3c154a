//! Bounds-checked big-endian reader used by every parser (never panics).
//!
//! A [`Reader`] walks a byte slice front to back. Every read checks the remaining length
//! first and returns [`WireError::Truncated`] instead of indexing out of bounds, so a parser
//! written with `?` on each field can never panic on hostile input.

use super::WireError;

/// A cursor over a byte slice that reads big-endian integers and byte runs.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    /// The whole buffer being parsed.
    buf: &'a [u8],
    /// Offset of the next unread byte (always `<= buf.len()`).
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Take the next `n` bytes, or fail with [`WireError::Truncated`] (`needed` and `had`
    /// count from the start of the buffer).
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated {
            needed: usize::MAX,
            had: self.buf.len(),
        })?;
        let out = self.buf.get(self.pos..end).ok_or(WireError::Truncated {
            needed: end,
            had: self.buf.len(),
        })?;
        self.pos = end;
        Ok(out)
    }

    /// Take the next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// Read one byte.
    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    /// Read a big-endian `u16`.
    pub(crate) fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Read a big-endian `u32`.
    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Read a big-endian `u64`.
    pub(crate) fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// The unread rest of the buffer, consuming it.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        out
    }

    /// Succeed only if the whole buffer was read, else [`WireError::Trailing`].
    pub(crate) fn finish(self) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian() {
        let buf = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let mut r = Reader::new(&buf);
        assert_eq!(r.u8(), Ok(0x01));
        assert_eq!(r.u16(), Ok(0x0203));
        assert_eq!(r.u32(), Ok(0x0405_0607));
        assert_eq!(r.u64(), Ok(0x0809_0a0b_0c0d_0e0f));
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn truncation_and_trailing() {
        let buf = [1, 2, 3];
        let mut r = Reader::new(&buf);
        assert_eq!(r.u32(), Err(WireError::Truncated { needed: 4, had: 3 }));
        // A failed read consumes nothing.
        assert_eq!(r.remaining(), 3);
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.bytes(2), Err(WireError::Truncated { needed: 4, had: 3 }));
        assert_eq!(r.clone().finish(), Err(WireError::Trailing(1)));
        assert!(r.bytes(usize::MAX).is_err());
        assert_eq!(r.rest(), &[3]);
        assert_eq!(r.finish(), Ok(()));
    }
}
