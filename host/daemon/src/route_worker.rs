//! The routing worker: one thread per daemon that runs the unicast IPCPs' routing policies,
//! so that a route computation (a Wasm policy may take up to its 1 s deadline) never holds
//! up the event loop, which keeps forwarding on the tables in force meanwhile.
//!
//! The daemon's IPCPs run in requested mode ([`ouro_node::RouteMode::Requested`]). The
//! worker owns each IPCP's policy: the one the node handed over ([`RouteWorker::set`]),
//! replaced by a hot swap exactly as an inline IPCP's would be ([`RouteWorker::swap`]: a
//! [`Fallback`] around the policy in force, which takes over again if the new one fails on
//! probation). It runs the computations the node asks for ([`RouteWorker::compute`]) in
//! the order asked; each answer goes back on a channel and wakes the event loop through an
//! eventfd ([`RouteWorker::wake_fd`]), which then takes them ([`RouteWorker::answers`]).
//!
//! A policy that panics is caught: the call fails like any failing policy (the IPCP counts
//! it and keeps its table). A Wasm policy cannot run past its epoch deadline; a native
//! policy that never returned would stop the route computations of every IPCP of the
//! daemon, not its forwarding.

use nix::sys::eventfd::{EfdFlags, EventFd};
use ouro_core::Address;
use ouro_core::routing::{RoutingError, RoutingPolicy, RoutingTable, Topology};
use ouro_node::IpcpId;
use ouro_policy::Fallback;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long [`RouteWorker::stop`] waits for a computation under way (a Wasm call ends
/// within its 1 s deadline).
const STOP_WAIT: Duration = Duration::from_secs(2);

/// What the worker is asked to do, in order.
enum Job {
    /// Run `policy` for `ipcp` from now on: the IPCP is new (made or remade by a
    /// bootstrap), the policy of the one before is dropped.
    Set {
        ipcp: IpcpId,
        generation: u64,
        policy: Box<dyn RoutingPolicy>,
    },
    /// Put `policy` in force for `ipcp`, the policy in force staying as its fallback for
    /// `probation` calls.
    Swap {
        ipcp: IpcpId,
        generation: u64,
        policy: Box<dyn RoutingPolicy>,
        probation: u32,
    },
    /// Route request `id` of `ipcp`.
    Compute {
        ipcp: IpcpId,
        id: u64,
        own: Address,
        topology: Topology,
    },
    /// `ipcp` is destroyed: drop its policy.
    Drop { ipcp: IpcpId },
}

/// A computation done by the worker.
struct Done {
    ipcp: IpcpId,
    id: u64,
    result: Result<RoutingTable, RoutingError>,
    /// The generation of the policy that computed it.
    generation: u64,
    /// The call changed the policy in force (a rollback): its name now.
    renamed: Option<String>,
}

/// An answer to a route request, for [`ouro_node::Node::install_routes`].
#[derive(Debug)]
pub struct Answer {
    /// The IPCP that asked.
    pub ipcp: IpcpId,
    /// The request's id.
    pub id: u64,
    /// The table, or why there is none.
    pub result: Result<RoutingTable, RoutingError>,
    /// The call rolled the policy back (the new one failed on probation and the one it
    /// replaced computed the table): the name of the policy in force now, for
    /// [`ouro_node::Node::routing_policy_changed`]. Only reported while no policy was
    /// given to the IPCP since.
    pub rolled_back_to: Option<String>,
}

/// The generations of an IPCP's policy, as the daemon gave them to the worker.
#[derive(Clone, Copy, Debug)]
struct Generations {
    /// The policy given when the IPCP was made: answers computed before are for an IPCP
    /// that is gone.
    made: u64,
    /// The latest policy given: only its rollbacks are news.
    current: u64,
}

/// The daemon's handle on the routing worker thread.
pub struct RouteWorker {
    /// `None` once stopped.
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    wake: Arc<EventFd>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Per live IPCP given to the worker.
    generations: BTreeMap<IpcpId, Generations>,
    next_generation: u64,
}

impl std::fmt::Debug for RouteWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteWorker")
            .field("running", &self.jobs.is_some())
            .field("ipcps", &self.generations.len())
            .finish()
    }
}

impl RouteWorker {
    /// Start the worker thread (it inherits the caller's signal mask).
    pub fn start() -> std::io::Result<RouteWorker> {
        let wake = Arc::new(EventFd::from_value_and_flags(
            0,
            EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK,
        )?);
        let (jobs, jobs_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("ourod-routes".into())
            .spawn({
                let wake = Arc::clone(&wake);
                let stopping = Arc::clone(&stopping);
                move || run(&jobs_rx, &done_tx, &wake, &stopping)
            })?;
        Ok(RouteWorker {
            jobs: Some(jobs),
            done,
            wake,
            stopping,
            thread: Some(thread),
            generations: BTreeMap::new(),
            next_generation: 1,
        })
    }

    /// The eventfd the worker writes after each answer: readable while answers wait.
    pub fn wake_fd(&self) -> Arc<EventFd> {
        Arc::clone(&self.wake)
    }

    /// IPCP `ipcp` is new (created, or remade by a bootstrap) and `policy` is the one the
    /// node handed over for it: the worker runs it from now on.
    pub fn set(&mut self, ipcp: IpcpId, policy: Box<dyn RoutingPolicy>) {
        let generation = self.next();
        self.generations.insert(
            ipcp,
            Generations {
                made: generation,
                current: generation,
            },
        );
        self.send(Job::Set {
            ipcp,
            generation,
            policy,
        });
    }

    /// Hot swap: `policy` computes `ipcp`'s routes from now on; for its first `probation`
    /// calls the policy in force stays as its fallback ([`Fallback`]; 0: dropped at once).
    pub fn swap(&mut self, ipcp: IpcpId, policy: Box<dyn RoutingPolicy>, probation: u32) {
        let generation = self.next();
        self.generations
            .entry(ipcp)
            .and_modify(|g| g.current = generation)
            .or_insert(Generations {
                made: generation,
                current: generation,
            });
        self.send(Job::Swap {
            ipcp,
            generation,
            policy,
            probation,
        });
    }

    /// Run `ipcp`'s route request `id` (answered through [`RouteWorker::answers`]).
    pub fn compute(&mut self, ipcp: IpcpId, id: u64, own: Address, topology: Topology) {
        self.send(Job::Compute {
            ipcp,
            id,
            own,
            topology,
        });
    }

    /// `ipcp` is destroyed: its policy is dropped, answers still on their way are not
    /// reported.
    pub fn forget(&mut self, ipcp: IpcpId) {
        self.generations.remove(&ipcp);
        self.send(Job::Drop { ipcp });
    }

    /// The answers computed since the last call, in the order asked; answers for IPCPs
    /// destroyed or remade since they asked are left out.
    pub fn answers(&mut self) -> Vec<Answer> {
        let mut out = Vec::new();
        while let Ok(d) = self.done.try_recv() {
            let Some(g) = self.generations.get(&d.ipcp) else {
                continue;
            };
            if d.generation < g.made {
                continue;
            }
            out.push(Answer {
                ipcp: d.ipcp,
                id: d.id,
                result: d.result,
                rolled_back_to: d.renamed.filter(|_| d.generation == g.current),
            });
        }
        out
    }

    /// End the worker: what is queued is not computed, a computation under way is waited
    /// for up to [`STOP_WAIT`] (then the thread is left to end with the process).
    pub fn stop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.jobs = None; // the worker's `recv` ends
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + STOP_WAIT;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            if thread.join().is_err() {
                tracing::warn!("the routing worker ended with a panic");
            }
        } else {
            tracing::warn!("the routing worker is still computing: not waited for");
        }
    }

    fn next(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    fn send(&mut self, job: Job) {
        let Some(jobs) = &self.jobs else {
            return;
        };
        if jobs.send(job).is_err() {
            // Not seen: the worker catches its policies' panics. Forwarding goes on with
            // the tables in force; routes are no longer computed.
            tracing::error!("the routing worker is gone: routes are no longer computed");
            self.jobs = None;
        }
    }
}

impl Drop for RouteWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A policy the worker holds for an IPCP.
struct Held {
    policy: Box<dyn RoutingPolicy>,
    generation: u64,
    /// The name of the policy in force after the last call.
    name: String,
}

impl Held {
    fn new(policy: Box<dyn RoutingPolicy>, generation: u64) -> Held {
        let name = policy.name().to_string();
        Held {
            policy,
            generation,
            name,
        }
    }
}

/// The worker thread: runs jobs until the daemon's handle is dropped or stopped.
fn run(jobs: &Receiver<Job>, done: &Sender<Done>, wake: &EventFd, stopping: &AtomicBool) {
    let mut held: BTreeMap<IpcpId, Held> = BTreeMap::new();
    while let Ok(job) = jobs.recv() {
        if stopping.load(Ordering::Relaxed) {
            break;
        }
        match job {
            Job::Set {
                ipcp,
                generation,
                policy,
            } => {
                held.insert(ipcp, Held::new(policy, generation));
            }
            Job::Swap {
                ipcp,
                generation,
                policy,
                probation,
            } => {
                let policy = match held.remove(&ipcp) {
                    Some(old) => Box::new(Fallback::new(policy, old.policy, probation)),
                    None => policy,
                };
                held.insert(ipcp, Held::new(policy, generation));
            }
            Job::Drop { ipcp } => {
                held.remove(&ipcp);
            }
            Job::Compute {
                ipcp,
                id,
                own,
                topology,
            } => {
                let answer = compute(held.get_mut(&ipcp), ipcp, id, own, &topology);
                if done.send(answer).is_err() {
                    break; // the daemon's handle is gone
                }
                if let Err(e) = wake.write(1) {
                    tracing::warn!(error = %e, "cannot wake the event loop");
                }
            }
        }
    }
}

/// One route computation, a panic caught and answered as a failure.
fn compute(
    held: Option<&mut Held>,
    ipcp: IpcpId,
    id: u64,
    own: Address,
    topology: &Topology,
) -> Done {
    let Some(h) = held else {
        return Done {
            ipcp,
            id,
            result: Err(RoutingError::Failed("no routing policy".into())),
            generation: 0,
            renamed: None,
        };
    };
    let policy = &mut h.policy;
    let result = match catch_unwind(AssertUnwindSafe(|| policy.compute(own, topology))) {
        Ok(r) => r,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            tracing::error!(%ipcp, policy = %h.name, %why, "routing policy panicked");
            Err(RoutingError::Failed(format!("policy panicked: {why}")))
        }
    };
    // A rollback (logged by the daemon, which knows the layer).
    let renamed = (h.policy.name() != h.name).then(|| h.policy.name().to_string());
    if let Some(now) = &renamed {
        h.name.clone_from(now);
    }
    Done {
        ipcp,
        id,
        result,
        generation: h.generation,
        renamed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ouro_core::routing::NativeSpf;

    /// Fails every call (`Err`), or panics.
    struct Bad {
        panics: bool,
    }

    impl RoutingPolicy for Bad {
        fn name(&self) -> &str {
            "bad"
        }
        fn compute(&mut self, _: Address, _: &Topology) -> Result<RoutingTable, RoutingError> {
            if self.panics {
                panic!("on purpose");
            }
            Err(RoutingError::Failed("on purpose".into()))
        }
    }

    /// Waits for `n` answers.
    fn wait_answers(w: &mut RouteWorker, n: usize) -> Vec<Answer> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut out = Vec::new();
        while out.len() < n {
            assert!(Instant::now() < deadline, "only {} answers", out.len());
            out.extend(w.answers());
            std::thread::sleep(Duration::from_millis(1));
        }
        out
    }

    fn topo() -> Topology {
        Topology::default()
    }

    #[test]
    fn computes_in_order_and_wakes_the_loop() {
        let mut w = RouteWorker::start().expect("starts");
        let a = IpcpId(0);
        w.set(a, Box::new(NativeSpf::default()));
        w.compute(a, 1, Address(1), topo());
        w.compute(a, 2, Address(1), topo());
        let got = wait_answers(&mut w, 2);
        assert_eq!(got.iter().map(|x| x.id).collect::<Vec<_>>(), [1, 2]);
        assert!(
            got.iter()
                .all(|x| x.result.is_ok() && x.rolled_back_to.is_none())
        );
        assert!(w.wake_fd().read().expect("woken") >= 1);
        w.stop();
        w.stop(); // twice is fine
    }

    #[test]
    fn a_policy_failing_on_probation_is_rolled_back_and_reported_once() {
        let mut w = RouteWorker::start().expect("starts");
        let a = IpcpId(3);
        w.set(a, Box::new(NativeSpf::default()));
        w.swap(a, Box::new(Bad { panics: false }), 3);
        w.compute(a, 1, Address(1), topo());
        w.compute(a, 2, Address(1), topo());
        let got = wait_answers(&mut w, 2);
        // The previous policy computed the first answer, and is in force again.
        assert!(got[0].result.is_ok(), "{:?}", got[0].result);
        assert_eq!(got[0].rolled_back_to.as_deref(), Some("native"));
        assert!(got[1].result.is_ok());
        assert_eq!(got[1].rolled_back_to, None);
    }

    #[test]
    fn a_rollback_overtaken_by_a_newer_swap_is_not_reported() {
        let mut w = RouteWorker::start().expect("starts");
        let a = IpcpId(0);
        w.set(a, Box::new(NativeSpf::default()));
        w.swap(a, Box::new(Bad { panics: false }), 3);
        w.compute(a, 1, Address(1), topo());
        // Swapped again before the answer was taken: the rollback is old news.
        w.swap(a, Box::new(NativeSpf::default()), 3);
        let got = wait_answers(&mut w, 1);
        assert_eq!(got[0].rolled_back_to, None);
    }

    #[test]
    fn a_panicking_policy_fails_its_calls_and_the_worker_goes_on() {
        let mut w = RouteWorker::start().expect("starts");
        let (a, b) = (IpcpId(0), IpcpId(1));
        w.set(a, Box::new(Bad { panics: true }));
        w.set(b, Box::new(NativeSpf::default()));
        w.compute(a, 1, Address(1), topo());
        w.compute(b, 1, Address(2), topo());
        let got = wait_answers(&mut w, 2);
        let err = got[0].result.as_ref().expect_err("failed");
        assert!(err.to_string().contains("panicked"), "{err}");
        assert!(got[1].result.is_ok());
    }

    #[test]
    fn answers_for_destroyed_or_remade_ipcps_are_left_out() {
        let mut w = RouteWorker::start().expect("starts");
        let (a, b) = (IpcpId(0), IpcpId(1));
        let asked = |got: Vec<Answer>| got.iter().map(|x| (x.ipcp, x.id)).collect::<Vec<_>>();
        w.set(a, Box::new(NativeSpf::default()));
        w.set(b, Box::new(NativeSpf::default()));
        w.compute(a, 1, Address(1), topo());
        w.compute(b, 1, Address(2), topo());
        w.forget(a);
        w.set(b, Box::new(NativeSpf::default())); // remade (a bootstrap)
        w.compute(b, 2, Address(2), topo());
        // Answered in order: the last one is the only one left.
        assert_eq!(asked(wait_answers(&mut w, 1)), [(b, 2)]);
        // Asked for an IPCP destroyed since (the worker holds no policy for it), answered
        // after it was given one again: left out too.
        w.compute(a, 2, Address(1), topo());
        w.set(a, Box::new(NativeSpf::default()));
        w.compute(b, 3, Address(2), topo());
        assert_eq!(asked(wait_answers(&mut w, 1)), [(b, 3)]);
    }
}
