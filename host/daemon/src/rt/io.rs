//! Descriptors registered with the loop's `epoll`, and their readiness.

use super::Shared;
use nix::sys::epoll::{EpollEvent, EpollFlags};
use std::cell::Cell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::task::{Poll, Waker};

/// What a registration watches: [`Interest::READABLE`], [`Interest::WRITABLE`] or both
/// (`|`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Data (or an end of stream, or an error) to read.
    pub const READABLE: Interest = Interest(1);
    /// Room to write.
    pub const WRITABLE: Interest = Interest(2);

    fn flags(self) -> EpollFlags {
        let mut f = EpollFlags::EPOLLET;
        if self.0 & Self::READABLE.0 != 0 {
            f |= EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP;
        }
        if self.0 & Self::WRITABLE.0 != 0 {
            f |= EpollFlags::EPOLLOUT;
        }
        f
    }
}

impl std::ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        Interest(self.0 | rhs.0)
    }
}

/// One registered descriptor's readiness and the tasks waiting on it (one per direction).
#[derive(Default)]
pub(crate) struct Source {
    ready: Cell<u8>,
    readers: Cell<Option<Waker>>,
    writers: Cell<Option<Waker>>,
}

/// The registered descriptors, by `epoll` token.
#[derive(Default)]
pub(crate) struct Sources {
    by_token: Vec<Option<Rc<Source>>>,
    free: Vec<usize>,
}

impl Sources {
    fn insert(&mut self, s: Rc<Source>) -> usize {
        match self.free.pop() {
            Some(t) => {
                self.by_token[t] = Some(s);
                t
            }
            None => {
                self.by_token.push(Some(s));
                self.by_token.len() - 1
            }
        }
    }

    fn remove(&mut self, token: usize) {
        if let Some(s) = self.by_token.get_mut(token)
            && s.take().is_some()
        {
            self.free.push(token);
        }
    }
}

/// Hands an event to its descriptor: marks it ready and wakes who waits for that.
pub(super) fn dispatch(shared: &Shared, ev: &EpollEvent) {
    let source = {
        let sources = shared.sources.borrow();
        match sources.by_token.get(ev.data() as usize) {
            Some(Some(s)) => Rc::clone(s),
            // Removed since the event was queued.
            _ => return,
        }
    };
    let f = ev.events();
    let broken = EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR;
    if f.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | broken) {
        source.ready.set(source.ready.get() | Interest::READABLE.0);
        if let Some(w) = source.readers.take() {
            w.wake();
        }
    }
    if f.intersects(EpollFlags::EPOLLOUT | broken) {
        source.ready.set(source.ready.get() | Interest::WRITABLE.0);
        if let Some(w) = source.writers.take() {
            w.wake();
        }
    }
}

/// A descriptor registered with the loop (edge-triggered), owned: dropping it removes the
/// registration, then closes the descriptor. Its readiness stays set until a
/// [`Guard`] clears it, so a task reads until the descriptor would block.
pub struct Async<T: AsFd> {
    inner: T,
    token: usize,
    source: Rc<Source>,
    shared: Rc<Shared>,
}

impl<T: AsFd> std::fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Async")
            .field("token", &self.token)
            .field("ready", &self.source.ready.get())
            .finish()
    }
}

impl<T: AsFd> Async<T> {
    /// Registers `inner` for `interest` with the loop running on this thread (fails outside
    /// [`super::block_on`]).
    pub fn new(inner: T, interest: Interest) -> io::Result<Async<T>> {
        let shared = Shared::current()
            .ok_or_else(|| io::Error::other("not inside the daemon's event loop"))?;
        let source = Rc::new(Source::default());
        let token = shared.sources.borrow_mut().insert(Rc::clone(&source));
        let ev = EpollEvent::new(interest.flags(), token as u64);
        if let Err(e) = shared.epoll.add(inner.as_fd(), ev) {
            shared.sources.borrow_mut().remove(token);
            return Err(e.into());
        }
        Ok(Async {
            inner,
            token,
            source,
            shared,
        })
    }

    /// The descriptor.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// Waits until the descriptor is readable (or at its end, or in error).
    pub async fn readable(&self) -> io::Result<Guard<'_, T>> {
        self.ready(Interest::READABLE).await
    }

    /// Waits until the descriptor has room to write (or is in error).
    pub async fn writable(&self) -> io::Result<Guard<'_, T>> {
        self.ready(Interest::WRITABLE).await
    }

    async fn ready(&self, want: Interest) -> io::Result<Guard<'_, T>> {
        std::future::poll_fn(|cx| {
            if self.source.ready.get() & want.0 != 0 {
                return Poll::Ready(Ok(Guard {
                    fd: self,
                    bit: want.0,
                }));
            }
            let slot = if want == Interest::READABLE {
                &self.source.readers
            } else {
                &self.source.writers
            };
            // One waiter per direction: a later one replaces an earlier one.
            slot.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }
}

impl Async<OwnedFd> {
    /// Registers a duplicate of `fd` for `interest`, to watch one direction of a descriptor
    /// registered (or used) elsewhere for the other; `fd` itself is left as it is.
    pub fn duplicate(fd: BorrowedFd<'_>, interest: Interest) -> io::Result<Async<OwnedFd>> {
        Async::new(fd.try_clone_to_owned()?, interest)
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        // Before the descriptor closes (the field is dropped after this).
        let _ = self.shared.epoll.delete(self.inner.as_fd());
        self.shared.sources.borrow_mut().remove(self.token);
    }
}

/// Would block: the readiness was cleared (returned by [`Guard::try_io`]).
#[derive(Debug)]
pub struct WouldBlock;

/// A descriptor found ready in one direction.
#[derive(Debug)]
pub struct Guard<'a, T: AsFd> {
    fd: &'a Async<T>,
    bit: u8,
}

impl<'a, T: AsFd> Guard<'a, T> {
    /// Forgets the readiness: the next wait lasts until the next event.
    pub fn clear_ready(&mut self) {
        let s = &self.fd.source;
        s.ready.set(s.ready.get() & !self.bit);
    }

    /// Runs `f` on the descriptor; if it would block, clears the readiness and returns
    /// `Err(WouldBlock)`.
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&'a Async<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, WouldBlock> {
        match f(self.fd) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(WouldBlock)
            }
            r => Ok(r),
        }
    }
}
