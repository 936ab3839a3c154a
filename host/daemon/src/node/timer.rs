//! The daemon's timer: one task sleeping until the earliest deadline of the cores, the
//! shims' fault injectors and pacers, pending allocations and parked flows, then running
//! what is due ([`Daemon::on_timer`]).

use super::Daemon;
use crate::rt::{self, Async, Interest};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

/// A one-shot `timerfd` watched by the event loop: microsecond precision (tokio's timer,
/// which the daemon used before, ticked in milliseconds and turned a flow's 250 µs wait
/// for send credit into 1–2 ms: with a bucket of 1 ms of its rate, a rate-limited flow
/// then reached only half of its rate or less).
pub struct Timer {
    /// Set through this one...
    timer: TimerFd,
    /// ...and watched (for expirations) through this duplicate.
    ready: Async<OwnedFd>,
}

impl Timer {
    /// A disarmed timer, registered with the event loop running on this thread.
    pub fn new() -> std::io::Result<Timer> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        let ready = Async::duplicate(std::os::fd::AsFd::as_fd(&timer), Interest::READABLE)?;
        Ok(Timer { timer, ready })
    }

    /// Fire once, `after` from now (at once if zero).
    fn arm(&self, after: Duration) -> std::io::Result<()> {
        // A zero expiration would disarm the timer: fire after a nanosecond instead.
        let after = after.max(Duration::from_nanos(1));
        self.timer
            .set(
                Expiration::OneShot(TimeSpec::from_duration(after)),
                TimerSetTimeFlags::empty(),
            )
            .map_err(std::io::Error::from)
    }

    /// Waits until the timer fired (and consumes the expiration).
    async fn fired(&self) -> std::io::Result<()> {
        loop {
            let mut guard = self.ready.readable().await?;
            let mut count = [0u8; 8];
            match guard.try_io(|fd| {
                nix::unistd::read(fd.get_ref(), &mut count).map_err(std::io::Error::from)
            }) {
                Ok(Ok(_)) => {
                    // Read: not readable until it fires again (an expiration since is a
                    // newer event, which this leaves set).
                    guard.clear_ready();
                    return Ok(());
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
    }
}

impl Daemon {
    /// The earliest deadline, noted as the one the timer is armed for (a pump that finds
    /// an earlier one wakes the timer task).
    fn arm_next_deadline(&mut self) -> Option<ouro_core::Instant> {
        self.armed = self.next_deadline();
        self.armed
    }
}

/// A deadline still the earliest after the timer fired for it and its tasks ran is
/// looked at again only after this long (what tokio's timer did for every deadline), so
/// that a deadline nothing consumes cannot make the timer spin.
const STALE_RETRY: Duration = Duration::from_millis(1);

/// Sleeps until the earliest deadline, then runs the timers; again and again.
pub async fn timer_task(d: Rc<RefCell<Daemon>>, timer: Timer) {
    let notify = Rc::clone(&d.borrow().timer);
    let mut fired_for = None;
    loop {
        let (next, now) = {
            let mut dm = d.borrow_mut();
            (dm.arm_next_deadline(), dm.now())
        };
        match next {
            Some(t) => {
                let mut after = t.saturating_duration_since(now);
                if fired_for == Some(t) {
                    after = after.max(STALE_RETRY);
                }
                if let Err(e) = timer.arm(after) {
                    // Not seen in practice (EINVAL for a bad time, which `arm` never
                    // builds): the deadline is looked at again at the next pump.
                    tracing::warn!(error = %e, "cannot arm the timerfd");
                    notify.notified().await;
                    continue;
                }
                tokio::select! {
                    biased;
                    r = timer.fired() => {
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "timerfd failed");
                            notify.notified().await;
                            continue;
                        }
                        d.borrow_mut().on_timer();
                        fired_for = Some(t);
                        // Let the tasks it woke (flows whose credit came back) run before
                        // looking at the deadlines again: until they do, theirs is still
                        // the earliest, and already past.
                        rt::yield_now().await;
                    }
                    _ = notify.notified() => {}
                }
            }
            None => notify.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `f` once: `Some` if it completed.
    async fn poll_once<F: std::future::Future>(f: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            out = f => Some(out),
            () = std::future::ready(()) => None,
        }
    }

    #[test]
    fn fires_once_per_arming() {
        rt::block_on(fires_once_per_arming_in_the_loop()).expect("loop");
    }

    async fn fires_once_per_arming_in_the_loop() {
        let timer = Timer::new().expect("timerfd");
        // Not armed: never fires.
        assert!(poll_once(timer.fired()).await.is_none());
        // Armed for "now" (zero would disarm it): fires, once.
        timer.arm(Duration::ZERO).expect("arm");
        timer.fired().await.expect("fired");
        assert!(
            poll_once(timer.fired()).await.is_none(),
            "an expiration is consumed, and the readiness with it"
        );
        // Re-armed: fires again.
        timer.arm(Duration::from_micros(50)).expect("arm");
        timer.fired().await.expect("fired again");
        // Re-arming later before it fires replaces the earlier expiration.
        timer.arm(Duration::from_secs(3600)).expect("arm");
        assert!(poll_once(timer.fired()).await.is_none());
    }
}
