//! What a call on the event loop does when it reaches its wall-clock deadline: it is stopped
//! if its thread is using the CPU, and carries on, tick by tick, while the thread was
//! preempted.
//!
//! The epoch deadline counts wall-clock time, including the time the operating system ran
//! something else on the thread's core. On a busy machine a call that needs microseconds is
//! now and then preempted for a few milliseconds (`cargo run --release -p ouro-benches
//! --example loop_calls` on a shared 2-core machine: 96 of 5,000 requests of an `allowlist`
//! of 1,000 keys, each about 0.4 ms of work, took over 4 ms); with a 5 ms deadline and a
//! plain trap such a call fails, a scheduler losing its state or a legitimate request being
//! denied. Instead, at the deadline the
//! call gets one more tick and the thread's CPU time is read; at the next tick, a thread
//! that was running for at least half of it is stopped (a guest that keeps the CPU stops
//! within a tick or two of the deadline), one that was not gets another tick. The time the
//! thread was preempted stalled the event loop in any case; what the policy itself holds the
//! loop up for stays bounded by the deadline plus about a tick. However long a call was
//! preempted, it never runs past `cap` ticks in all.

use std::time::Duration;
use wasmtime::UpdateDeadline;

/// The state of the current call once past its deadline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Overrun {
    /// The thread's CPU time at the previous check, if there was one this call.
    checked: Option<Duration>,
    /// Ticks granted past the deadline so far.
    extra: u64,
}

impl Overrun {
    /// A new call.
    pub(crate) fn reset(&mut self) {
        *self = Overrun::default();
    }

    /// The call reached its deadline (or the tick it was last given) at thread CPU time
    /// `cpu` (`None` if it cannot be read: the call is stopped, as a plain deadline would).
    /// `tick` is the epoch tick, `cap` the most ticks the call may be given past its first
    /// deadline.
    pub(crate) fn decide(
        &mut self,
        cpu: Option<Duration>,
        tick: Duration,
        cap: u64,
    ) -> UpdateDeadline {
        let Some(cpu) = cpu else {
            return UpdateDeadline::Interrupt;
        };
        let busy = self
            .checked
            .is_some_and(|before| cpu.saturating_sub(before) >= tick / 2);
        if busy || self.extra >= cap {
            return UpdateDeadline::Interrupt;
        }
        self.checked = Some(cpu);
        self.extra += 1;
        UpdateDeadline::Continue(1)
    }
}

/// The CPU time the calling thread has used, if the clock can be read.
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    use nix::time::{ClockId, clock_gettime};
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    let secs = u64::try_from(t.tv_sec()).ok()?;
    let nanos = u32::try_from(t.tv_nsec()).ok()?;
    Some(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(1);

    fn stops(u: UpdateDeadline) -> bool {
        matches!(u, UpdateDeadline::Interrupt)
    }

    #[test]
    fn a_call_using_the_cpu_is_stopped_one_tick_after_its_deadline() {
        let mut o = Overrun::default();
        let ms = Duration::from_millis;
        assert!(matches!(
            o.decide(Some(ms(40)), TICK, 100),
            UpdateDeadline::Continue(1)
        ));
        assert!(stops(o.decide(Some(ms(41)), TICK, 100)));
    }

    #[test]
    fn a_preempted_call_gets_tick_after_tick_up_to_the_cap() {
        let mut o = Overrun::default();
        let cpu = Some(Duration::from_millis(40));
        for _ in 0..3 {
            assert!(matches!(
                o.decide(cpu, TICK, 3),
                UpdateDeadline::Continue(1)
            ));
        }
        assert!(stops(o.decide(cpu, TICK, 3)), "capped");
        // The next call starts afresh.
        o.reset();
        assert!(!stops(o.decide(cpu, TICK, 3)));
        // Less than half a tick on the CPU: still preempted most of the time.
        let later = Some(Duration::from_micros(40_400));
        assert!(!stops(o.decide(later, TICK, 3)));
    }

    #[test]
    fn without_a_cpu_clock_the_deadline_is_plain_wall_clock() {
        assert!(stops(Overrun::default().decide(None, TICK, 100)));
    }

    #[test]
    fn the_thread_cpu_clock_reads_and_does_not_go_back() {
        let before = thread_cpu_time().expect("readable");
        let work = (0..100_000u64).fold(0u64, |a, x| std::hint::black_box(a ^ x));
        std::hint::black_box(work);
        assert!(thread_cpu_time().expect("readable") >= before);
    }
}
