//! The local shim of Ouro: a layer that spans one system.
//!
//! IPCPs of the same daemon *attach* to a local shim ([`LocalShim::attach`]) and become its
//! members; each attachment is a [`LocalEnd`], which implements [`ouro_shim::Shim`], the
//! interface a driver runs every shim through. Every pair of members is joined by a port:
//! member `a` reaches member `b` on [`PortId`]`(b)`, and PDUs from `a` arrive at `b` on
//! [`PortId`]`(a)`. So unicast IPCPs stacked on one host can be adjacent (connect, enroll)
//! exactly as over a wire, with no socket in between.
//!
//! In process and sans-IO: [`Shim::send`] on one end puts the PDU in the receiving member's
//! inbox at once (nothing waits in a send queue, [`Shim::flush`] has nothing to do), and
//! [`Shim::recv_batch`] on the receiving end hands it over, the sender's buffer itself
//! ([`Payload::Owned`]: no copy). An end has no descriptor ([`Shim::fd`] is `None`): its
//! driver reads it after each round of sends. Nothing here blocks, reads a clock or panics
//! on bad input: a PDU to an unknown port or beyond the queue limit is counted and dropped.
//!
//! The ends share the hub ([`LocalShim`]) through an `Rc<RefCell<_>>`, borrowed only inside
//! this crate's calls (never while the driver's callback runs), so a driver may send from
//! one end while it receives on another.
//!
//! (Applications reach each other through a local layer too; the daemon does that part,
//! joining the two applications' flow sockets directly — see `docs/FLOW-IPC.md`.)
#![forbid(unsafe_code)]

use ouro_core::PortId;
use ouro_shim::{Payload, PeerError, Received, SendError, Shim, ShimCounters};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::rc::Rc;

/// PDUs one [`Shim::recv_batch`] of an end hands over (at most).
pub const RECV_BATCH: usize = 256;

/// A member of a local shim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(pub u32);

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "member {}", self.0)
    }
}

/// Counters of one local shim (all its members).
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

/// An attached member: its name and the PDUs on their way to it.
#[derive(Debug)]
struct Member {
    name: String,
    inbox: VecDeque<(PortId, Vec<u8>)>,
}

/// What the members share.
#[derive(Debug)]
struct Hub {
    /// Members by id (None: detached; ids are never reused).
    members: Vec<Option<Member>>,
    /// PDUs in all inboxes.
    queued: usize,
    max_queued: usize,
    counters: LocalCounters,
}

impl Hub {
    fn is_attached(&self, m: MemberId) -> bool {
        self.members.get(m.0 as usize).is_some_and(Option::is_some)
    }

    fn port_to(&self, from: MemberId, to: MemberId) -> Option<PortId> {
        (from != to && self.is_attached(from) && self.is_attached(to)).then_some(PortId(to.0))
    }

    fn send(&mut self, from: MemberId, port: PortId, data: Vec<u8>) -> Result<(), SendError> {
        let to = MemberId(port.0);
        if self.port_to(from, to).is_none() {
            self.counters.drop_port += 1;
            return Err(SendError::UnknownPort(port));
        }
        if data.is_empty() {
            self.counters.drop_port += 1;
            return Err(SendError::Empty);
        }
        if self.queued >= self.max_queued {
            self.counters.drop_full += 1;
            return Err(SendError::QueueFull);
        }
        if let Some(Some(m)) = self.members.get_mut(to.0 as usize) {
            m.inbox.push_back((PortId(from.0), data));
            self.queued += 1;
        }
        Ok(())
    }

    fn detach(&mut self, m: MemberId) -> Vec<(MemberId, PortId)> {
        let Some(slot) = self.members.get_mut(m.0 as usize) else {
            return Vec::new();
        };
        let Some(gone) = slot.take() else {
            return Vec::new();
        };
        // PDUs on their way to it are dropped with it.
        self.queued -= gone.inbox.len().min(self.queued);
        self.members
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_some())
            .map(|(i, _)| (MemberId(i as u32), PortId(m.0)))
            .collect()
    }
}

/// A local shim: the hub its members' ends share.
#[derive(Debug)]
pub struct LocalShim {
    hub: Rc<RefCell<Hub>>,
}

impl Default for LocalShim {
    fn default() -> Self {
        LocalShim::new(65_536)
    }
}

impl LocalShim {
    /// An empty shim holding at most `max_queued` PDUs in flight (all members together).
    pub fn new(max_queued: usize) -> LocalShim {
        LocalShim {
            hub: Rc::new(RefCell::new(Hub {
                members: Vec::new(),
                queued: 0,
                max_queued: max_queued.max(1),
                counters: LocalCounters::default(),
            })),
        }
    }

    /// Attach a member called `name` (an IPCP name): its end of the shim.
    pub fn attach(&mut self, name: &str) -> LocalEnd {
        let me = self.with(
            |h| {
                let id = MemberId(u32::try_from(h.members.len()).unwrap_or(u32::MAX));
                h.members.push(Some(Member {
                    name: name.to_string(),
                    inbox: VecDeque::new(),
                }));
                Some(id)
            },
            None,
        );
        LocalEnd {
            hub: Rc::clone(&self.hub),
            me,
            batch: VecDeque::new(),
            drained: true,
            counters: ShimCounters::default(),
        }
    }

    /// The member called `name`.
    pub fn member(&self, name: &str) -> Option<MemberId> {
        self.with(
            |h| {
                h.members
                    .iter()
                    .position(|m| m.as_ref().is_some_and(|m| m.name == name))
                    .map(|i| MemberId(i as u32))
            },
            None,
        )
    }

    /// The attached members: (id, name), by id.
    pub fn members(&self) -> Vec<(MemberId, String)> {
        self.with(
            |h| {
                h.members
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| m.as_ref().map(|m| (MemberId(i as u32), m.name.clone())))
                    .collect()
            },
            Vec::new(),
        )
    }

    /// The port on which `from` reaches `to` (None unless both are attached and distinct).
    pub fn port_to(&self, from: MemberId, to: MemberId) -> Option<PortId> {
        self.with(|h| h.port_to(from, to), None)
    }

    /// PDUs on their way to members.
    pub fn in_flight(&self) -> usize {
        self.with(|h| h.queued, 0)
    }

    /// Counters so far.
    pub fn counters(&self) -> LocalCounters {
        self.with(|h| h.counters, LocalCounters::default())
    }

    /// `f` on the hub, or `or` if it is borrowed (only from within an end's own call, which
    /// never calls out: not seen).
    fn with<T>(&self, f: impl FnOnce(&mut Hub) -> T, or: T) -> T {
        self.hub.try_borrow_mut().map_or(or, |mut h| f(&mut h))
    }
}

/// One member's end of a local shim: the shim of the IPCP attached as that member.
/// Dropping it detaches the member (as [`LocalEnd::detach`], without the list).
#[derive(Debug)]
pub struct LocalEnd {
    hub: Rc<RefCell<Hub>>,
    /// Its member id (None: detached).
    me: Option<MemberId>,
    /// PDUs taken from the inbox, handed to the driver outside the hub's borrow.
    batch: VecDeque<(PortId, Vec<u8>)>,
    drained: bool,
    counters: ShimCounters,
}

impl LocalEnd {
    /// Its member id (None once detached).
    pub fn member(&self) -> Option<MemberId> {
        self.me
    }

    /// Detach the member: PDUs on their way to it are dropped, its ports go; returns the
    /// members that had a port to it and that port (their driver tells their IPCP the port
    /// is down). Detaching twice is harmless (nothing the second time).
    pub fn detach(&mut self) -> Vec<(MemberId, PortId)> {
        let Some(me) = self.me.take() else {
            return Vec::new();
        };
        self.batch.clear();
        self.hub
            .try_borrow_mut()
            .map(|mut h| h.detach(me))
            .unwrap_or_default()
    }
}

impl Drop for LocalEnd {
    fn drop(&mut self) {
        let _ = self.detach();
    }
}

impl Shim for LocalEnd {
    type Addr = MemberId;

    /// Any size: the PDU moves between members of one process.
    fn max_pdu(&self) -> usize {
        usize::MAX
    }

    /// None: in process.
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// The port to another attached member (nothing to configure: every member is a peer).
    fn add_peer(&mut self, addr: MemberId) -> Result<PortId, PeerError> {
        self.port_of(addr).ok_or(PeerError::NoSuchPeer)
    }

    fn peer_addr(&self, port: PortId) -> Option<MemberId> {
        let to = MemberId(port.0);
        self.port_of(to).map(|_| to)
    }

    fn port_of(&self, addr: MemberId) -> Option<PortId> {
        let me = self.me?;
        self.hub.try_borrow().ok()?.port_to(me, addr)
    }

    /// Every other attached member.
    fn peers(&self) -> Vec<(PortId, MemberId)> {
        let (Some(me), Ok(h)) = (self.me, self.hub.try_borrow()) else {
            return Vec::new();
        };
        (0..h.members.len())
            .map(|i| MemberId(i as u32))
            .filter_map(|m| h.port_to(me, m).map(|p| (p, m)))
            .collect()
    }

    /// Into the receiving member's inbox at once.
    #[inline]
    fn send(&mut self, port: PortId, pdu: Vec<u8>) -> Result<(), SendError> {
        let len = pdu.len() as u64;
        let sent = match (self.me, self.hub.try_borrow_mut()) {
            (Some(me), Ok(mut h)) => h.send(me, port, pdu),
            (None, _) => Err(SendError::UnknownPort(port)),
            // Not seen: the hub is borrowed only inside this crate's calls.
            (Some(_), Err(_)) => Err(SendError::QueueFull),
        };
        match sent {
            Ok(()) => {
                self.counters.tx_pdus += 1;
                self.counters.tx_bytes += len;
            }
            Err(_) => self.counters.drop_tx += 1,
        }
        sent
    }

    /// Always 0: a PDU sent is in its receiver's inbox.
    fn queued(&self) -> usize {
        0
    }

    /// Nothing to do (see [`LocalEnd::queued`](Shim::queued)).
    fn flush(&mut self) {}

    /// None: the receiver keeps the buffers it is handed.
    fn reclaim(&mut self, _f: impl FnMut(Vec<u8>)) {}

    /// Up to [`RECV_BATCH`] PDUs from its inbox, each the buffer its sender gave.
    fn recv_batch(&mut self, mut f: impl FnMut(Received<'_>)) -> io::Result<usize> {
        if let (Some(me), Ok(mut h)) = (self.me, self.hub.try_borrow_mut()) {
            let h = &mut *h;
            if let Some(Some(m)) = h.members.get_mut(me.0 as usize) {
                let n = m.inbox.len().min(RECV_BATCH);
                for d in m.inbox.drain(..n) {
                    h.counters.delivered += 1;
                    h.counters.delivered_bytes += d.1.len() as u64;
                    self.batch.push_back(d);
                }
                h.queued -= n.min(h.queued);
                self.drained = m.inbox.is_empty();
            }
        }
        let n = self.batch.len();
        while let Some((port, data)) = self.batch.pop_front() {
            self.counters.rx_pdus += 1;
            self.counters.rx_bytes += data.len() as u64;
            f(Received {
                port,
                new_peer: false,
                data: Payload::Owned(data),
            });
        }
        if n == 0 {
            self.drained = true;
        }
        Ok(n)
    }

    fn drained(&self) -> bool {
        self.drained
    }

    fn counters(&self) -> ShimCounters {
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything end `e` receives now: (port, data).
    fn take(e: &mut LocalEnd) -> Vec<(PortId, Vec<u8>)> {
        let mut got = Vec::new();
        while e
            .recv_batch(|r| {
                assert!(!r.new_peer);
                got.push((r.port, r.data.to_vec()))
            })
            .expect("in process")
            > 0
        {}
        got
    }

    #[test]
    fn members_reach_each_other_on_symmetric_ports() {
        let mut s = LocalShim::default();
        let mut a = s.attach("a");
        let mut b = s.attach("b");
        let mut c = s.attach("c");
        let (ma, mb, mc) = (
            a.member().expect("a"),
            b.member().expect("b"),
            c.member().expect("c"),
        );
        assert_eq!(s.member("b"), Some(mb));
        assert!(a.fd().is_none() && a.max_pdu() == usize::MAX);
        let ab = s.port_to(ma, mb).expect("port");
        assert_eq!(a.add_peer(mb), Ok(ab));
        assert_eq!(a.peers(), vec![(PortId(mb.0), mb), (PortId(mc.0), mc)]);
        a.send(ab, b"hello".to_vec()).expect("sent");
        c.send(c.port_of(mb).expect("port"), b"hi".to_vec())
            .expect("sent");
        assert_eq!((a.queued(), s.in_flight()), (0, 2), "in b's inbox at once");
        let got = take(&mut b);
        assert_eq!(
            got,
            vec![
                (PortId(ma.0), b"hello".to_vec()),
                (PortId(mc.0), b"hi".to_vec())
            ]
        );
        assert!(b.drained());
        // b answers on the port it received on.
        assert_eq!(b.peer_addr(got[0].0), Some(ma));
        b.send(got[0].0, b"back".to_vec()).expect("sent");
        assert_eq!(take(&mut a), vec![(PortId(mb.0), b"back".to_vec())]);
        assert!(take(&mut c).is_empty());
        assert_eq!(s.counters().delivered, 3);
        assert_eq!(a.counters().tx_pdus, 1);
        assert_eq!((b.counters().rx_pdus, b.counters().rx_bytes), (2, 7));
    }

    #[test]
    fn the_senders_buffer_is_handed_over_in_batches() {
        let mut s = LocalShim::default();
        let mut a = s.attach("a");
        let mut b = s.attach("b");
        let to_b = a.port_of(b.member().expect("b")).expect("port");
        let pdu = vec![7u8; 100];
        let ptr = pdu.as_ptr();
        a.send(to_b, pdu).expect("sent");
        for _ in 0..RECV_BATCH {
            a.send(to_b, vec![1]).expect("sent");
        }
        let mut first = None;
        let n = b
            .recv_batch(|r| {
                if let Payload::Owned(v) = r.data {
                    first.get_or_insert(v.as_ptr());
                }
            })
            .expect("in process");
        assert_eq!(n, RECV_BATCH);
        assert_eq!(first, Some(ptr), "no copy");
        assert!(!b.drained(), "one more waits");
        assert_eq!(b.recv_batch(|_| {}).expect("in process"), 1);
        assert!(b.drained());
        assert_eq!(b.recv_batch(|_| {}).expect("in process"), 0);
    }

    #[test]
    fn bad_ports_detach_and_a_full_queue_are_counted_drops() {
        let mut s = LocalShim::new(2);
        let mut a = s.attach("a");
        let mut b = s.attach("b");
        let (ma, mb) = (a.member().expect("a"), b.member().expect("b"));
        assert_eq!(
            a.send(PortId(ma.0), vec![1]),
            Err(SendError::UnknownPort(PortId(ma.0))),
            "to itself"
        );
        assert!(a.send(PortId(99), vec![1]).is_err(), "nobody");
        assert_eq!(a.send(PortId(mb.0), Vec::new()), Err(SendError::Empty));
        assert_eq!(a.add_peer(ma), Err(PeerError::NoSuchPeer));
        assert_eq!(s.counters().drop_port, 3);
        for _ in 0..2 {
            a.send(PortId(mb.0), vec![1]).expect("room");
        }
        assert_eq!(a.send(PortId(mb.0), vec![1]), Err(SendError::QueueFull));
        assert_eq!(s.counters().drop_full, 1);
        assert_eq!(a.counters().drop_tx, 4);
        let c = s.attach("c");
        let mc = c.member().expect("c");
        assert_eq!(b.detach(), vec![(ma, PortId(mb.0)), (mc, PortId(mb.0))]);
        assert_eq!(s.in_flight(), 0, "PDUs to a detached member are dropped");
        assert!(take(&mut b).is_empty());
        assert!(b.detach().is_empty(), "detaching twice is harmless");
        assert!(a.send(PortId(mb.0), vec![1]).is_err());
        assert_eq!(s.counters().drop_port, 4);
        assert_eq!(s.member("b"), None);
        assert_eq!(a.peer_addr(PortId(mb.0)), None);
        assert!(
            b.send(PortId(ma.0), vec![1]).is_err(),
            "a detached end sends nothing"
        );
        let again = s.attach("b");
        assert_eq!(again.member(), Some(MemberId(3)), "ids are never reused");
        // Dropping an end detaches its member.
        drop(c);
        assert_eq!(
            s.members(),
            vec![(ma, "a".to_string()), (MemberId(3), "b".to_string())]
        );
    }
}
