//! The local shim of Ouro: a layer that spans one system.
//!
//! IPCPs of the same daemon *attach* to a local shim and become its members. Every pair of
//! members is joined by a port: member `a` reaches member `b` on [`PortId`]`(b)`, and PDUs
//! from `a` arrive at `b` on [`PortId`]`(a)`. So unicast IPCPs stacked on one host can be
//! adjacent (connect, enroll) exactly as over a wire, with no socket in between.
//!
//! Sans-IO: [`LocalShim::send`] queues a PDU, [`LocalShim::poll`] hands the next one to the
//! driver, which gives it to the receiving member's IPCP. Nothing here blocks, reads a clock
//! or panics on bad input: a PDU to an unknown port or beyond the queue limit is counted and
//! dropped.
//!
//! (Applications reach each other through a local layer too; the daemon does that part,
//! joining the two applications' flow sockets directly — see `docs/FLOW-IPC.md`.)
#![forbid(unsafe_code)]

use ouro_core::PortId;
use std::collections::VecDeque;

/// A member of a local shim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(pub u32);

/// A PDU on its way to a member.
#[derive(Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The receiving member.
    pub to: MemberId,
    /// The receiver's port the PDU arrives on (the sender's member id).
    pub port: PortId,
    /// The PDU.
    pub data: Vec<u8>,
}

/// Counters of one local shim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalCounters {
    /// PDUs handed to a member.
    pub delivered: u64,
    /// Bytes handed to a member.
    pub delivered_bytes: u64,
    /// PDUs dropped: unknown or detached port, to itself, or empty.
    pub drop_port: u64,
    /// PDUs dropped: the queue was full.
    pub drop_full: u64,
}

/// A local shim: members and the PDUs in flight between them.
#[derive(Debug)]
pub struct LocalShim {
    /// Member names by id (None: detached; ids are never reused).
    members: Vec<Option<String>>,
    queue: VecDeque<Delivery>,
    max_queued: usize,
    counters: LocalCounters,
}

impl Default for LocalShim {
    fn default() -> Self {
        LocalShim::new(65_536)
    }
}

impl LocalShim {
    /// An empty shim holding at most `max_queued` PDUs in flight.
    pub fn new(max_queued: usize) -> LocalShim {
        LocalShim {
            members: Vec::new(),
            queue: VecDeque::new(),
            max_queued: max_queued.max(1),
            counters: LocalCounters::default(),
        }
    }

    /// Attach a member called `name` (an IPCP name).
    pub fn attach(&mut self, name: &str) -> MemberId {
        let id = MemberId(u32::try_from(self.members.len()).unwrap_or(u32::MAX));
        self.members.push(Some(name.to_string()));
        id
    }

    /// Detach a member: PDUs queued to it are dropped; returns the members that had a port
    /// to it and that port (their driver tells their IPCP the port is down).
    pub fn detach(&mut self, m: MemberId) -> Vec<(MemberId, PortId)> {
        let Some(slot) = self.members.get_mut(m.0 as usize) else {
            return Vec::new();
        };
        if slot.take().is_none() {
            return Vec::new();
        }
        self.queue.retain(|d| d.to != m);
        self.members()
            .map(|(other, _)| (other, PortId(m.0)))
            .collect()
    }

    /// The member called `name`.
    pub fn member(&self, name: &str) -> Option<MemberId> {
        self.members
            .iter()
            .position(|n| n.as_deref() == Some(name))
            .map(|i| MemberId(i as u32))
    }

    /// The attached members: (id, name).
    pub fn members(&self) -> impl Iterator<Item = (MemberId, &str)> + '_ {
        self.members
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_deref().map(|n| (MemberId(i as u32), n)))
    }

    /// The port on which `from` reaches `to` (None unless both are attached and distinct).
    pub fn port_to(&self, from: MemberId, to: MemberId) -> Option<PortId> {
        (from != to && self.is_attached(from) && self.is_attached(to)).then_some(PortId(to.0))
    }

    /// The member at the other end of `from`'s `port`.
    pub fn peer(&self, from: MemberId, port: PortId) -> Option<MemberId> {
        let to = MemberId(port.0);
        self.port_to(from, to).map(|_| to)
    }

    fn is_attached(&self, m: MemberId) -> bool {
        self.members.get(m.0 as usize).is_some_and(Option::is_some)
    }

    /// Queue a PDU from member `from` on its port `port`.
    pub fn send(&mut self, from: MemberId, port: PortId, data: Vec<u8>) {
        let Some(to) = self.peer(from, port) else {
            self.counters.drop_port += 1;
            return;
        };
        if data.is_empty() {
            self.counters.drop_port += 1;
            return;
        }
        if self.queue.len() >= self.max_queued {
            self.counters.drop_full += 1;
            return;
        }
        self.queue.push_back(Delivery {
            to,
            port: PortId(from.0),
            data,
        });
    }

    /// The next PDU to hand to a member.
    pub fn poll(&mut self) -> Option<Delivery> {
        let d = self.queue.pop_front()?;
        self.counters.delivered += 1;
        self.counters.delivered_bytes += d.data.len() as u64;
        Some(d)
    }

    /// Counters so far.
    pub fn counters(&self) -> LocalCounters {
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_reach_each_other_on_symmetric_ports() {
        let mut s = LocalShim::default();
        let a = s.attach("a");
        let b = s.attach("b");
        let c = s.attach("c");
        assert_eq!(s.member("b"), Some(b));
        let ab = s.port_to(a, b).expect("port");
        s.send(a, ab, b"hello".to_vec());
        s.send(c, s.port_to(c, b).expect("port"), b"hi".to_vec());
        let d = s.poll().expect("delivery");
        assert_eq!((d.to, d.data.as_slice()), (b, &b"hello"[..]));
        // b answers on the port it received on.
        assert_eq!(s.peer(b, d.port), Some(a));
        let d2 = s.poll().expect("delivery");
        assert_eq!((d2.to, s.peer(b, d2.port)), (b, Some(c)));
        s.send(b, d.port, b"back".to_vec());
        let d = s.poll().expect("delivery");
        assert_eq!((d.to, d.port), (a, PortId(b.0)));
        assert_eq!(s.poll(), None);
        assert_eq!(s.counters().delivered, 3);
    }

    #[test]
    fn bad_ports_detach_and_a_full_queue_are_counted_drops() {
        let mut s = LocalShim::new(2);
        let a = s.attach("a");
        let b = s.attach("b");
        s.send(a, PortId(a.0), vec![1]); // to itself
        s.send(a, PortId(99), vec![1]); // nobody
        s.send(a, PortId(b.0), Vec::new()); // empty
        assert_eq!(s.counters().drop_port, 3);
        for _ in 0..3 {
            s.send(a, PortId(b.0), vec![1]);
        }
        assert_eq!(s.counters().drop_full, 1);
        let c = s.attach("c");
        assert_eq!(s.detach(b), vec![(a, PortId(b.0)), (c, PortId(b.0))]);
        assert_eq!(s.poll(), None, "PDUs to a detached member are dropped");
        assert!(s.detach(b).is_empty(), "detaching twice is harmless");
        s.send(a, PortId(b.0), vec![1]);
        assert_eq!(s.counters().drop_port, 4);
        assert_eq!(s.member("b"), None);
        assert_eq!(s.attach("b"), MemberId(3), "ids are never reused");
    }
}
