//! The daemon's event loop: a single-threaded executor over one edge-triggered `epoll`.
//!
//! `ourod` ran on tokio's current-thread runtime and a `LocalSet`. Profiling the relay of
//! a 3-node line during a ping (`perf record` on B), tokio's wake-up path — the I/O
//! driver's `ScheduledIo::wake`, the `LocalSet`'s scheduling and tick, the task harness,
//! the time and signal drivers — was 27 % of the relay's CPU for each PDU it passed on,
//! five times the sans-IO core's share. The daemon needs little of a general runtime:
//! local tasks, readiness of descriptors, nothing across threads. This is that, and no
//! more:
//!
//! - [`block_on`] runs a main future and the tasks it [`spawn`]s until the main future
//!   ends. Woken tasks run in the order they were woken; when none is left, the loop sleeps
//!   in `epoll_wait` (one system call per wake-up), otherwise it only looks at the
//!   descriptors (`epoll_wait` with a zero timeout) between rounds of tasks.
//! - [`Async`] registers a descriptor (edge-triggered) and keeps its readiness, which
//!   [`Guard::clear_ready`] or a [`Guard::try_io`] that would block clears, as tokio's
//!   `AsyncFd` does.
//! - No timers: the daemon's timer is a `timerfd` (see `node::timer`), a descriptor like
//!   any other.
//!
//! Wakers may be sent to other threads (the `Waker` contract), but a wake from another
//! thread is noticed only at the loop's next event: nothing in the daemon wakes a task
//! from another thread.

mod io;

pub use io::{Async, Guard, Interest};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollTimeout};
use std::cell::RefCell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Events taken from the kernel per `epoll_wait`.
const EVENTS: usize = 64;
/// The id under which the main future is woken.
const MAIN: usize = usize::MAX;

thread_local! {
    static CURRENT: RefCell<Option<Rc<Shared>>> = const { RefCell::new(None) };
}

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// What a task slot holds.
enum State {
    /// Free for the next spawned task.
    Empty,
    /// Waiting to be woken.
    Idle(Task),
    /// Taken out to be polled.
    Running,
    /// Aborted while it was being polled: dropped when the poll returns.
    Aborted,
}

struct Slot {
    state: State,
    /// Bumped each time the slot is reused, so an old [`JoinHandle`] cannot abort a newer task.
    generation: u64,
    wake: Arc<TaskWake>,
    waker: Waker,
}

/// Wakes one task: queues its id once until it is polled again.
struct TaskWake {
    id: usize,
    queued: AtomicBool,
    woken: Arc<Mutex<Vec<usize>>>,
}

impl Wake for TaskWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            // A poisoned lock still holds a valid list.
            let mut w = self.woken.lock().unwrap_or_else(|e| e.into_inner());
            w.push(self.id);
        }
    }
}

/// The loop's state, reachable from the thread running it.
pub(crate) struct Shared {
    epoll: Epoll,
    tasks: RefCell<Vec<Slot>>,
    free_tasks: RefCell<Vec<usize>>,
    woken: Arc<Mutex<Vec<usize>>>,
    pub(crate) sources: RefCell<io::Sources>,
}

impl Shared {
    fn current() -> Option<Rc<Shared>> {
        CURRENT.with(|c| c.borrow().clone())
    }

    fn take_woken(&self, into: &mut Vec<usize>) {
        let mut w = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *w, into);
    }

    fn none_woken(&self) -> bool {
        self.woken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    fn spawn(&self, fut: Task) -> JoinHandle {
        let mut tasks = self.tasks.borrow_mut();
        let id = match self.free_tasks.borrow_mut().pop() {
            Some(id) => id,
            None => {
                let wake = Arc::new(TaskWake {
                    id: tasks.len(),
                    queued: AtomicBool::new(false),
                    woken: Arc::clone(&self.woken),
                });
                tasks.push(Slot {
                    state: State::Empty,
                    generation: 0,
                    waker: Waker::from(Arc::clone(&wake)),
                    wake,
                });
                tasks.len() - 1
            }
        };
        let slot = &mut tasks[id];
        slot.generation += 1;
        slot.state = State::Idle(fut);
        // A fresh task runs once at the next round, as tokio's do.
        slot.wake.queued.store(false, Ordering::Release);
        slot.wake.wake_by_ref();
        JoinHandle {
            id,
            generation: slot.generation,
        }
    }

    /// Polls task `id` if it is idle; frees its slot if it ended or was aborted.
    fn poll_task(&self, id: usize) {
        let (mut fut, waker) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(slot) = tasks.get_mut(id) else {
                return;
            };
            match std::mem::replace(&mut slot.state, State::Running) {
                State::Idle(f) => {
                    slot.wake.queued.store(false, Ordering::Release);
                    (f, slot.waker.clone())
                }
                other => {
                    // A stale wake-up (of a task since ended, or of a freed slot).
                    slot.state = other;
                    return;
                }
            }
        };
        let done = fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready();
        let finished = {
            let mut tasks = self.tasks.borrow_mut();
            let slot = &mut tasks[id];
            if !done && matches!(slot.state, State::Running) {
                slot.state = State::Idle(fut);
                None
            } else {
                slot.state = State::Empty;
                self.free_tasks.borrow_mut().push(id);
                Some(fut)
            }
        };
        // Dropped outside any borrow: dropping a task may drop registrations or tasks.
        drop(finished);
    }

    fn abort(&self, h: &JoinHandle) {
        let dropped = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(slot) = tasks.get_mut(h.id) else {
                return;
            };
            if slot.generation != h.generation {
                return;
            }
            match std::mem::replace(&mut slot.state, State::Empty) {
                State::Idle(f) => {
                    self.free_tasks.borrow_mut().push(h.id);
                    Some(f)
                }
                State::Running | State::Aborted => {
                    slot.state = State::Aborted;
                    None
                }
                State::Empty => None,
            }
        };
        drop(dropped);
    }

    /// Drops every task (at the end of [`block_on`]).
    fn drop_all(&self) {
        let all: Vec<Task> = self
            .tasks
            .borrow_mut()
            .iter_mut()
            .filter_map(|s| match std::mem::replace(&mut s.state, State::Empty) {
                State::Idle(f) => Some(f),
                _ => None,
            })
            .collect();
        drop(all);
    }
}

/// A spawned task; dropping it detaches the task.
#[derive(Debug)]
pub struct JoinHandle {
    id: usize,
    generation: u64,
}

impl JoinHandle {
    /// Stops the task: it is dropped now, or when its current poll returns if it is the
    /// one running.
    pub fn abort(&self) {
        if let Some(s) = Shared::current() {
            s.abort(self);
        }
    }
}

/// Runs `fut` as a task of the loop running on this thread. Outside [`block_on`] the task
/// cannot run: it is dropped (with a warning) and the handle aborts nothing.
pub fn spawn(fut: impl Future<Output = ()> + 'static) -> JoinHandle {
    match Shared::current() {
        Some(s) => s.spawn(Box::pin(fut)),
        None => {
            tracing::warn!("a task was spawned outside the daemon's event loop: dropped");
            JoinHandle {
                id: usize::MAX,
                generation: 0,
            }
        }
    }
}

/// Lets the other woken tasks and the descriptors' events run before this task goes on.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Runs `fut`, and the tasks spawned meanwhile, on this thread until `fut` ends; then drops
/// the tasks still there. Fails only if the kernel gives no `epoll` instance or
/// `epoll_wait` fails (other than by a signal).
pub fn block_on<F: Future>(fut: F) -> std::io::Result<F::Output> {
    let shared = Rc::new(Shared {
        epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
        tasks: RefCell::new(Vec::new()),
        free_tasks: RefCell::new(Vec::new()),
        woken: Arc::new(Mutex::new(Vec::new())),
        sources: RefCell::new(io::Sources::default()),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(Rc::clone(&shared)));
    let out = run(&shared, fut);
    shared.drop_all();
    CURRENT.with(|c| *c.borrow_mut() = None);
    out
}

fn run<F: Future>(shared: &Shared, fut: F) -> std::io::Result<F::Output> {
    let mut fut = pin!(fut);
    let main = Arc::new(TaskWake {
        id: MAIN,
        queued: AtomicBool::new(false),
        woken: Arc::clone(&shared.woken),
    });
    let main_waker = Waker::from(Arc::clone(&main));
    main.wake_by_ref();
    let mut events = vec![EpollEvent::empty(); EVENTS];
    let mut round = Vec::new();
    loop {
        shared.take_woken(&mut round);
        for id in round.drain(..) {
            if id == MAIN {
                main.queued.store(false, Ordering::Release);
                if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&main_waker)) {
                    return Ok(out);
                }
            } else {
                shared.poll_task(id);
            }
        }
        let timeout = if shared.none_woken() {
            EpollTimeout::NONE
        } else {
            EpollTimeout::ZERO
        };
        let n = match shared.epoll.wait(&mut events, timeout) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => return Err(e.into()),
        };
        for ev in &events[..n] {
            io::dispatch(shared, ev);
        }
    }
}

#[cfg(test)]
mod tests;
