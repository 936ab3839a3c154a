//! A flow's backlog towards its application: the messages the layer delivered that the
//! application has not read yet, bounded in messages and bytes. Beyond the bounds a
//! message is dropped (counted); from half full on, the node reports congestion to the
//! flow's IPCP, which echoes it to the sender (so a slow reader slows the writer down).

use std::collections::VecDeque;

/// How much one flow's backlog holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BacklogLimits {
    /// Most messages.
    pub msgs: usize,
    /// Most bytes.
    pub bytes: usize,
}

impl Default for BacklogLimits {
    /// 4,096 messages, 4 MiB.
    fn default() -> Self {
        BacklogLimits {
            msgs: 4096,
            bytes: 4 << 20,
        }
    }
}

/// What [`Backlog::push`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued into an empty backlog (the application is to be told).
    First,
    /// Queued behind others.
    Queued,
    /// Queued, and the backlog is now at least half full.
    Deep,
    /// The backlog is full: dropped.
    Dropped,
}

/// The messages of one flow waiting for its application.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    msgs: VecDeque<Vec<u8>>,
    bytes: usize,
    limits: BacklogLimits,
}

impl Backlog {
    pub(crate) fn new(limits: BacklogLimits) -> Backlog {
        Backlog {
            limits,
            ..Backlog::default()
        }
    }

    pub(crate) fn push(&mut self, data: Vec<u8>) -> Pushed {
        if self.msgs.len() >= self.limits.msgs
            || self.bytes.saturating_add(data.len()) > self.limits.bytes
        {
            return Pushed::Dropped;
        }
        let first = self.msgs.is_empty();
        self.bytes += data.len();
        self.msgs.push_back(data);
        if first {
            Pushed::First
        } else if self.msgs.len() * 2 >= self.limits.msgs || self.bytes * 2 >= self.limits.bytes {
            Pushed::Deep
        } else {
            Pushed::Queued
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Vec<u8>> {
        let m = self.msgs.pop_front()?;
        self.bytes -= m.len();
        Some(m)
    }

    /// The messages from the `skip`-th on (`VecDeque::range`: no walk over the skipped).
    pub(crate) fn iter_from(&self, skip: usize) -> impl Iterator<Item = &[u8]> + '_ {
        self.msgs
            .range(skip.min(self.msgs.len())..)
            .map(Vec::as_slice)
    }

    pub(crate) fn len(&self) -> usize {
        self.msgs.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_messages_and_bytes_and_reports_depth() {
        let mut b = Backlog::new(BacklogLimits {
            msgs: 4,
            bytes: 100,
        });
        assert_eq!(b.push(vec![0; 10]), Pushed::First);
        assert_eq!(b.push(vec![0; 10]), Pushed::Deep); // 2 of 4 messages
        assert_eq!(b.push(vec![0; 90]), Pushed::Dropped); // 110 bytes > 100
        assert_eq!(b.push(vec![0; 10]), Pushed::Deep);
        assert_eq!(b.push(vec![0; 10]), Pushed::Deep);
        assert_eq!(b.push(vec![0; 1]), Pushed::Dropped); // 5 messages > 4
        assert_eq!((b.len(), b.bytes()), (4, 40));
        assert_eq!(b.pop().map(|m| m.len()), Some(10));
        assert_eq!((b.len(), b.bytes()), (3, 30));
    }

    #[test]
    fn a_large_backlog_is_not_deep_at_once() {
        let mut b = Backlog::new(BacklogLimits::default());
        assert_eq!(b.push(vec![1]), Pushed::First);
        assert_eq!(b.push(vec![2]), Pushed::Queued);
        assert_eq!(b.pop(), Some(vec![1]));
        assert_eq!(b.pop(), Some(vec![2]));
        assert_eq!(b.pop(), None);
    }
}
