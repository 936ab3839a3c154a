//! The daemon's one timer: a `timerfd` armed (by the event loop, after each round) for the
//! earliest deadline of the node, the shims' fault injectors and pacers, pending
//! allocations and parked flows; [`Daemon::on_timer`](super::Daemon) runs what is due.

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

/// A one-shot `timerfd`: microsecond precision (`epoll_wait`'s timeout counts
/// milliseconds, which would turn a flow's 250 µs wait for send credit into 1–2 ms: with a
/// bucket of 1 ms of its rate, a rate-limited flow then reaches only half of its rate or
/// less).
pub struct Timer {
    timer: TimerFd,
}

impl Timer {
    /// A disarmed timer.
    pub fn new() -> std::io::Result<Timer> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(Timer { timer })
    }

    /// The descriptor to watch: readable once the timer fired.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.timer.as_fd()
    }

    /// Fire once, `after` from now (at once if zero); replaces the expiration set before.
    pub fn arm(&self, after: Duration) -> std::io::Result<()> {
        // A zero expiration would disarm the timer: fire after a nanosecond instead.
        let after = after.max(Duration::from_nanos(1));
        self.timer
            .set(
                Expiration::OneShot(TimeSpec::from_duration(after)),
                TimerSetTimeFlags::empty(),
            )
            .map_err(std::io::Error::from)
    }

    /// Takes the expiration: true if the timer fired since it was last taken.
    pub fn consume(&self) -> std::io::Result<bool> {
        let mut count = [0u8; 8];
        match nix::unistd::read(&self.timer, &mut count) {
            Ok(_) => Ok(true),
            Err(nix::errno::Errno::EAGAIN) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Interest, Poll, Token, unix::SourceFd};
    use std::os::fd::AsRawFd;

    /// Waits (up to `limit`) for the timer's descriptor to become readable.
    fn wait(poll: &mut Poll, limit: Duration) -> bool {
        let mut events = Events::with_capacity(4);
        poll.poll(&mut events, Some(limit)).expect("poll");
        !events.is_empty()
    }

    #[test]
    fn fires_once_per_arming() {
        let timer = Timer::new().expect("timerfd");
        let mut poll = Poll::new().expect("poll");
        let raw = timer.fd().as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&raw), Token(0), Interest::READABLE)
            .expect("register");
        // Not armed: never fires.
        assert!(!timer.consume().expect("read"));
        // Armed for "now" (zero would disarm it): fires, once.
        timer.arm(Duration::ZERO).expect("arm");
        assert!(wait(&mut poll, Duration::from_secs(10)), "fired");
        assert!(timer.consume().expect("read"));
        assert!(!timer.consume().expect("read"), "an expiration is consumed");
        // Re-armed: fires again.
        timer.arm(Duration::from_micros(50)).expect("arm");
        assert!(wait(&mut poll, Duration::from_secs(10)), "fired again");
        assert!(timer.consume().expect("read"));
        // Re-arming later before it fires replaces the earlier expiration.
        timer.arm(Duration::from_secs(3600)).expect("arm");
        timer.arm(Duration::from_secs(7200)).expect("arm");
        assert!(!wait(&mut poll, Duration::ZERO));
        assert!(!timer.consume().expect("read"));
    }
}
