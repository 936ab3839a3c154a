use super::*;
use std::cell::Cell;
use std::os::unix::net::UnixDatagram;

fn pair() -> (UnixDatagram, UnixDatagram) {
    let (a, b) = UnixDatagram::pair().expect("pair");
    a.set_nonblocking(true).expect("nb");
    b.set_nonblocking(true).expect("nb");
    (a, b)
}

/// Receives one datagram from `fd`, waiting for it.
async fn recv_one(fd: &Async<UnixDatagram>) -> Vec<u8> {
    let mut buf = [0u8; 64];
    loop {
        let mut g = fd.readable().await.expect("readable");
        if let Ok(r) = g.try_io(|s| s.get_ref().recv(&mut buf)) {
            return buf[..r.expect("recv")].to_vec();
        }
    }
}

#[test]
fn tasks_run_and_the_main_future_returns_its_output() {
    let out = block_on(async {
        let seen = Rc::new(Cell::new(0));
        for i in 1..=3 {
            let s = Rc::clone(&seen);
            spawn(async move { s.set(s.get() + i) });
        }
        // The tasks run at the next round.
        yield_now().await;
        seen.get()
    })
    .expect("loop");
    assert_eq!(out, 6);
}

#[test]
fn a_task_waits_for_its_descriptor_and_reads_each_datagram_once() {
    block_on(async {
        let (mine, theirs) = pair();
        let mine = Async::new(mine, Interest::READABLE).expect("register");
        let (back_mine, back_theirs) = pair();
        let back = Async::new(back_mine, Interest::READABLE).expect("register");
        // An echo task: every datagram on `theirs` goes back on `back_theirs`.
        let (echo_in, echo_out) = (theirs, back_theirs);
        let echo_in = Async::new(echo_in, Interest::READABLE).expect("register");
        spawn(async move {
            loop {
                let d = recv_one(&echo_in).await;
                echo_out.send(&d).expect("send");
            }
        });
        for i in 0..5u8 {
            mine.get_ref().send(&[i]).expect("send");
            assert_eq!(recv_one(&back).await, vec![i]);
        }
        // Nothing more came back: the readiness was cleared by the read that would block.
        let mut buf = [0u8; 4];
        let mut g = back.readable().await.expect("still marked ready");
        assert!(g.try_io(|s| s.get_ref().recv(&mut buf)).is_err());
    })
    .expect("loop");
}

#[test]
fn an_aborted_task_is_dropped_and_never_polled_again() {
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    block_on(async {
        let dropped = Rc::new(Cell::new(false));
        let polls = Rc::new(Cell::new(0));
        let (flag, p) = (Flag(Rc::clone(&dropped)), Rc::clone(&polls));
        let h = spawn(async move {
            let _flag = flag;
            loop {
                p.set(p.get() + 1);
                yield_now().await;
            }
        });
        yield_now().await;
        yield_now().await;
        assert!(polls.get() >= 1);
        h.abort();
        assert!(dropped.get(), "dropped at once when not running");
        let at_abort = polls.get();
        yield_now().await;
        yield_now().await;
        assert_eq!(polls.get(), at_abort);
        // A handle of a slot since reused aborts nothing.
        let ran = Rc::new(Cell::new(false));
        let r = Rc::clone(&ran);
        spawn(async move { r.set(true) });
        h.abort();
        yield_now().await;
        assert!(ran.get());
    })
    .expect("loop");
}

#[test]
fn a_task_that_aborts_itself_ends_after_its_poll() {
    block_on(async {
        let me: Rc<Cell<Option<JoinHandle>>> = Rc::new(Cell::new(None));
        let count = Rc::new(Cell::new(0));
        let (m, c) = (Rc::clone(&me), Rc::clone(&count));
        let h = spawn(async move {
            loop {
                c.set(c.get() + 1);
                if let Some(h) = m.take() {
                    h.abort();
                }
                yield_now().await;
            }
        });
        me.set(Some(h));
        for _ in 0..4 {
            yield_now().await;
        }
        assert_eq!(count.get(), 1);
    })
    .expect("loop");
}

#[test]
fn the_tasks_left_are_dropped_when_the_main_future_ends() {
    let (a, b) = pair();
    block_on(async move {
        let a = Async::new(a, Interest::READABLE).expect("register");
        spawn(async move {
            let _ = a.readable().await;
            std::future::pending::<()>().await;
        });
        yield_now().await;
    })
    .expect("loop");
    // `a` was closed with its task: its peer sees the socket gone.
    assert!(b.send(&[1]).is_err());
}

#[test]
fn registering_outside_the_loop_is_an_error_not_a_panic() {
    let (a, _b) = pair();
    assert!(Async::new(a, Interest::READABLE).is_err());
    let h = spawn(async {});
    h.abort();
}
