//! The messages an application wrote that its flow could not take yet (congestion control
//! or a full queue), kept in order until the flow resumes. They live in one growing buffer,
//! so holding a message costs a copy but no allocation once the buffer has grown: a paused
//! sender holds the rest of a whole read, thousands of small messages at a time.

/// Bytes of buffer a flow keeps after its held messages are gone (more is given back).
const KEEP: usize = 1 << 20;

/// Length prefix of each message in the buffer (never leaves the process).
const PREFIX: usize = std::mem::size_of::<u32>();

/// A first-in first-out queue of messages in one contiguous buffer.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// The messages, each after its length (`u32`, native byte order).
    bytes: Vec<u8>,
    /// Where the first message not yet taken starts.
    head: usize,
    /// Messages held.
    count: usize,
}

impl Held {
    /// Hold `msg` after the others.
    pub(crate) fn push(&mut self, msg: &[u8]) {
        // A message is at most a PDU's payload, far below 4 GiB.
        let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&len.to_ne_bytes());
        self.bytes.extend_from_slice(msg);
        self.count += 1;
    }

    /// The oldest message held.
    pub(crate) fn front(&self) -> Option<&[u8]> {
        let rest = self.bytes.get(self.head..)?;
        let len = u32::from_ne_bytes(rest.get(..PREFIX)?.try_into().ok()?) as usize;
        rest.get(PREFIX..PREFIX + len)
    }

    /// Drop the oldest message (it was sent).
    pub(crate) fn pop_front(&mut self) {
        let Some(len) = self.front().map(<[u8]>::len) else {
            return;
        };
        self.head += PREFIX + len;
        self.count -= 1;
        if self.count == 0 {
            self.bytes.clear();
            self.head = 0;
            if self.bytes.capacity() > KEEP {
                self.bytes.shrink_to(KEEP);
            }
        }
    }

    /// Messages held.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// True if nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_out_in_order_and_whole() {
        let mut h = Held::default();
        assert!(h.is_empty());
        assert_eq!(h.front(), None);
        h.pop_front(); // nothing to drop: no effect
        h.push(b"one");
        h.push(b"");
        h.push(&[7; 1400]);
        assert_eq!(h.len(), 3);
        assert_eq!(h.front(), Some(&b"one"[..]));
        h.pop_front();
        assert_eq!(h.front(), Some(&b""[..]));
        h.pop_front();
        h.push(b"four"); // pushed while others wait: still after them
        assert_eq!(h.front(), Some(&[7; 1400][..]));
        h.pop_front();
        assert_eq!(h.front(), Some(&b"four"[..]));
        h.pop_front();
        assert!(h.is_empty());
        assert_eq!(h.front(), None);
    }

    #[test]
    fn an_emptied_queue_reuses_its_buffer_up_to_a_bound() {
        let mut h = Held::default();
        for _ in 0..100 {
            h.push(&[1; 64]);
        }
        let cap = h.bytes.capacity();
        while !h.is_empty() {
            h.pop_front();
        }
        assert_eq!(h.bytes.capacity(), cap, "kept for the next pause");
        for _ in 0..100 {
            h.push(&[2; 64]);
        }
        assert_eq!(h.bytes.capacity(), cap, "no allocation the second time");
        while !h.is_empty() {
            h.pop_front();
        }
        for _ in 0..40 {
            h.push(&[3; 64 << 10]);
        }
        while !h.is_empty() {
            h.pop_front();
        }
        assert!(h.bytes.capacity() <= KEEP, "a burst's buffer is given back");
    }
}
