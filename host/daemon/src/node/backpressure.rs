//! Back-pressure from the layer to the application, and congestion reports from the
//! application side to the layer.
//!
//! **Sender.** An application's message goes to the core with [`Ipcp::flow_try_write`]. When
//! the flow's outgoing cube queue is full, or its congestion-controlled rate
//! ([`ouro_core::congestion`]) says wait, the core refuses it (nothing is dropped): the
//! daemon keeps it (and the rest of the socket batch it came in, at most one batch) in the
//! flow's `held` queue and stops reading the application's socket, so the application's
//! writes block (or get `EAGAIN`) once the socket buffer is full. The flow is *parked*:
//! the pacer wakes it when it has pulled from the queues and the flow has room again
//! ([`RESUME_ROOM`]), the timer when its rate's wait is over (and, as a fallback, every
//! [`RECHECK`] while it waits on a queue). Woken, the flow's task resends what is held, and
//! reads the socket again once nothing is held.
//!
//! **Receiver.** When a flow's backlog towards its application is half full (2,048 of the
//! default 4,096 messages, or half its bytes; a lower mark, 512, flagged an application
//! that merely missed a wake-up on a busy machine and held floods at a third of what the
//! path carries) or overflows, the daemon tells the core ([`Ipcp::flow_congested`]) once per
//! pump, which echoes congestion to the sender (rate-limited in the core).
//!
//! [`Ipcp::flow_try_write`]: ouro_core::Ipcp::flow_try_write
//! [`Ipcp::flow_congested`]: ouro_core::Ipcp::flow_congested

use super::Daemon;
use ouro_core::congestion::Credit;
use ouro_core::ipcp::IpcpError;
use ouro_core::{Eid, Instant};
use std::time::Duration;

/// A parked flow is woken when its queue has room for this many PDUs again.
pub(super) const RESUME_ROOM: u64 = 64;
/// A flow parked on a full queue looks again after this long even if no pull woke it
/// (its port went down, say).
pub(super) const RECHECK: Duration = Duration::from_millis(5);

impl Daemon {
    /// The application wrote a message on a flow: send it, or hold it if the flow may not
    /// send now (then the caller stops reading the flow's socket).
    pub(super) fn app_write(&mut self, key: (usize, Eid), now: Instant, data: &[u8]) {
        let Some(slot) = self.flows.get_mut(&key) else {
            return;
        };
        if !slot.held.is_empty() {
            // Keeps the application's order.
            slot.held.push(data);
            return;
        }
        match self.layers[key.0].ipcp.flow_try_write(now, key.1, data) {
            Ok(()) => {
                slot.tx_msgs += 1;
                slot.tx_bytes += data.len() as u64;
            }
            Err(IpcpError::WouldBlock) => {
                slot.held.push(data);
                slot.pauses += 1;
                self.stats.app_pauses += 1;
            }
            Err(_) => slot.tx_errors += 1,
        }
    }

    /// True if `key` holds messages (its socket is not read).
    pub(super) fn is_held(&self, key: (usize, Eid)) -> bool {
        self.flows.get(&key).is_some_and(|s| !s.held.is_empty())
    }

    /// Park `key` if it holds messages: note when to look again.
    pub(super) fn park(&mut self, key: (usize, Eid), now: Instant) {
        if !self.is_held(key) {
            return;
        }
        let at = match self.layers[key.0].ipcp.flow_room(now, key.1) {
            Some(Credit::Wait(t)) => t,
            _ => now + RECHECK,
        };
        self.parked.insert(key, at);
    }

    /// Send what `key` holds, as far as the flow may; park it again if some stays.
    pub(super) fn resume(&mut self, key: (usize, Eid)) {
        let now = self.now();
        self.parked.remove(&key);
        let Some(slot) = self.flows.get_mut(&key) else {
            return;
        };
        let ipcp = &mut self.layers[key.0].ipcp;
        while let Some(data) = slot.held.front() {
            match ipcp.flow_try_write(now, key.1, data) {
                Ok(()) => {
                    slot.tx_msgs += 1;
                    slot.tx_bytes += data.len() as u64;
                }
                Err(IpcpError::WouldBlock) => break,
                Err(_) => slot.tx_errors += 1,
            }
            slot.held.pop_front();
        }
        self.park(key, now);
    }

    /// After the pacers pulled from the cores' queues: wake the flows parked on a full
    /// queue that has room again.
    pub(super) fn wake_parked(&mut self, now: Instant) {
        if self.parked.is_empty() {
            return;
        }
        let keys: Vec<(usize, Eid)> = self.parked.keys().copied().collect();
        for key in keys {
            let room = self.layers[key.0].ipcp.flow_room(now, key.1);
            let ready = match room {
                Some(Credit::Unlimited) | None => true,
                Some(Credit::Pdus(n)) => n >= RESUME_ROOM,
                Some(Credit::Wait(_)) => false,
            };
            if ready && let Some(slot) = self.flows.get(&key) {
                slot.wake.notify_one();
            }
        }
    }

    /// Wake the parked flows whose time has come.
    pub(super) fn wake_due(&mut self, now: Instant) {
        for (key, at) in &self.parked {
            if *at <= now
                && let Some(slot) = self.flows.get(key)
            {
                slot.wake.notify_one();
            }
        }
    }

    /// The earliest time a parked flow must be looked at.
    pub(super) fn parked_deadline(&self) -> Option<Instant> {
        self.parked.values().min().copied()
    }

    /// Note that `key`'s backlog towards its application is deep (reported once per pump).
    pub(super) fn backlog_deep(&mut self, key: (usize, Eid)) {
        if let Some(slot) = self.flows.get_mut(&key)
            && !slot.congested
        {
            slot.congested = true;
            self.congested.push(key);
        }
    }

    /// Report the flows noted by [`Daemon::backlog_deep`] to their cores; true if any.
    pub(super) fn report_congestion(&mut self) -> bool {
        if self.congested.is_empty() {
            return false;
        }
        let now = self.now();
        for key in std::mem::take(&mut self.congested) {
            if let Some(slot) = self.flows.get_mut(&key) {
                slot.congested = false;
                slot.congestion_reports += 1;
                self.stats.backlog_reports += 1;
                self.layers[key.0].ipcp.flow_congested(now, key.1);
            }
        }
        true
    }
}
