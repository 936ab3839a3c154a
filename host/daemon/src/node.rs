//! The daemon's state and its tasks: one tokio current-thread runtime owns everything.
//!
//! The state ([`Daemon`]) lives in an `Rc<RefCell<_>>` shared by a few kinds of local task:
//! one per UDP shim (receive batches, flush the send queue), one timer task (sleeps until
//! the earliest deadline of any IPCP or fault injector), one accepting control connections,
//! one per control connection, and one per flow (reading the application's messages). A task
//! awaits readiness *outside* any borrow, then borrows the state, does the I/O that is ready
//! without blocking, feeds the sans-IO core, and calls [`Daemon::pump`], which drains the
//! cores' transmissions and events until both are empty. No borrow is ever held across an
//! `.await`.

use crate::config::Config;
use crate::policy::{Kind, Policies, PolicySpec, param_from_cli};
use ouro_core::identity::hex;
use ouro_core::ipcp::FlowEnd;
use ouro_core::routing::NativeSpf;
use ouro_core::{Eid, Event, Instant, Ipcp, LayerConfig, NameHash, PortId, QosSpec};
use ouro_flow::ipc;
use ouro_flow::proto::{ErrorKind, Reply, Request};
use ouro_shim_udp::fault::{FaultConfig, Faults};
use ouro_shim_udp::{ShimOptions, UdpShim};
use serde_json::json;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::rc::{Rc, Weak};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

/// A shared, registered descriptor (flow socket or control connection).
type Fd = Rc<AsyncFd<OwnedFd>>;

/// How long to wait before trying a failed enrollment again.
const ENROLL_RETRY: Duration = Duration::from_secs(1);
/// Messages read from one flow socket per wake-up before yielding.
const FLOW_BATCH: usize = 64;
/// Receive batches read from one shim per wake-up before yielding.
const SHIM_BATCHES: usize = 16;

/// Errors starting the daemon.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A shim could not be set up.
    #[error("layer `{layer}`: {source}")]
    Shim {
        /// The layer.
        layer: String,
        /// Why.
        source: ouro_shim_udp::ShimError,
    },
    /// A configured policy could not be loaded.
    #[error("layer `{layer}`: {reason}")]
    Policy {
        /// The layer.
        layer: String,
        /// Why.
        reason: String,
    },
    /// The IPCP's key could not be generated or saved.
    #[error("layer `{layer}` key: {reason}")]
    Key {
        /// The layer.
        layer: String,
        /// Why.
        reason: String,
    },
}

struct Shim {
    name: String,
    udp: UdpShim,
    faults: Option<Faults>,
    peer_names: BTreeMap<PortId, String>,
}

struct Layer {
    name: String,
    ipcp: Ipcp,
    lower: Option<usize>,
    enroll_via: Option<PortId>,
    enroll_retry_at: Option<Instant>,
    connects: Vec<(PortId, u32)>,
    /// Names registered in this layer: hash (this layer's length) → name.
    names: HashMap<NameHash, String>,
}

struct FlowSlot {
    fd: Fd,
    generation: u64,
    name: String,
    qos: String,
    /// Messages from the application sent into the layer.
    tx_msgs: u64,
    /// Messages from the layer delivered to the application.
    rx_msgs: u64,
    /// Messages from the layer dropped because the application's socket was full.
    rx_drops: u64,
    /// Application writes the core refused (no route...).
    tx_errors: u64,
}

struct PendingAlloc {
    conn: Fd,
    conn_id: u64,
    deadline: Instant,
    name: String,
    qos: String,
}

/// Daemon-level counters.
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    flows_allocated: u64,
    flows_accepted: u64,
    flows_refused: u64,
    app_closed: u64,
    bad_requests: u64,
}

/// Everything the daemon holds.
pub struct Daemon {
    me: Weak<RefCell<Daemon>>,
    start: std::time::Instant,
    node: String,
    shims: Vec<Shim>,
    layers: Vec<Layer>,
    flows: HashMap<(usize, Eid), FlowSlot>,
    pending: HashMap<(usize, Eid), PendingAlloc>,
    /// name → listening connections (id, socket); flows go to the first.
    listeners: BTreeMap<String, Vec<(u64, Fd)>>,
    /// Names registered from the configuration or with `Register`: name → layers.
    static_names: BTreeMap<String, Vec<usize>>,
    next_gen: u64,
    next_conn: u64,
    timer: Rc<Notify>,
    armed: Option<Instant>,
    out: Vec<(PortId, Vec<u8>)>,
    stats: Stats,
    policies: Policies,
}

impl Daemon {
    /// Build the daemon from a configuration (binds the shims; must run inside the runtime).
    pub fn new(cfg: &Config) -> Result<Rc<RefCell<Daemon>>, StartError> {
        let start = std::time::Instant::now();
        let now = Instant::ZERO;
        let seed = seed_from(&cfg.node);
        let mut shims = Vec::new();
        for u in &cfg.udp {
            let mut opts = ShimOptions::default();
            if let Some(m) = u.max_learned {
                opts.max_learned = m;
            }
            let mut udp = UdpShim::bind(u.bind, opts).map_err(|source| StartError::Shim {
                layer: u.name.clone(),
                source,
            })?;
            let mut peer_names = BTreeMap::new();
            for (name, addr) in &u.peers {
                peer_names.insert(udp.add_peer(*addr), name.clone());
            }
            let faults = u
                .fault
                .map(|(f, s)| Faults::new(f, if s == 0 { seed } else { s }));
            shims.push(Shim {
                name: u.name.clone(),
                udp,
                faults,
                peer_names,
            });
        }
        let mut layers = Vec::new();
        let mut policies = Policies::default();
        for (i, l) in cfg.unicast.iter().enumerate() {
            let ipcp_name = format!("{}.{}", cfg.node, l.name);
            let policy = Box::new(NativeSpf::default());
            let lseed = seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let mut ipcp = if l.bootstrap {
                let mut lc = LayerConfig::named(&l.name);
                if let Some(h) = l.hello {
                    lc.hello_interval = h;
                }
                if let Some(d) = l.dead {
                    lc.dead_interval = d;
                }
                Ipcp::bootstrap(&ipcp_name, lc, policy, now, lseed)
            } else {
                Ipcp::new(&ipcp_name, policy, now, lseed)
            };
            let (identity, origin) =
                crate::keys::identity(&l.key).map_err(|reason| StartError::Key {
                    layer: l.name.clone(),
                    reason,
                })?;
            ipcp.set_identity(identity);
            tracing::info!(layer = %l.name, public_key = %hex(&ipcp.public_key()), "IPCP key {origin}");
            for (kind, spec) in [
                (Kind::Routing, &l.policies.routing),
                (Kind::Scheduler, &l.policies.scheduler),
                (Kind::Auth, &l.policies.auth),
            ] {
                if spec.policy != "native" {
                    policies
                        .install(&l.name, &mut ipcp, now, kind, spec, false)
                        .map_err(|reason| StartError::Policy {
                            layer: l.name.clone(),
                            reason,
                        })?;
                }
            }
            let peer_port = |p: usize| PortId(p as u32);
            let connects: Vec<(PortId, u32)> =
                l.connect.iter().map(|(p, c)| (peer_port(*p), *c)).collect();
            for (port, cost) in &connects {
                ipcp.connect(now, *port, *cost);
            }
            let enroll_via = l.enroll.map(peer_port);
            if let Some(port) = enroll_via {
                ipcp.enroll_via(now, port);
            }
            layers.push(Layer {
                name: l.name.clone(),
                ipcp,
                lower: l.lower,
                enroll_via,
                enroll_retry_at: None,
                connects,
                names: HashMap::new(),
            });
        }
        let mut static_names = BTreeMap::new();
        for (name, ls) in &cfg.names {
            static_names.insert(name.clone(), ls.clone());
        }
        let d = Rc::new(RefCell::new(Daemon {
            me: Weak::new(),
            start,
            node: cfg.node.clone(),
            shims,
            layers,
            flows: HashMap::new(),
            pending: HashMap::new(),
            listeners: BTreeMap::new(),
            static_names,
            next_gen: 1,
            next_conn: 1,
            timer: Rc::new(Notify::new()),
            armed: None,
            out: Vec::new(),
            stats: Stats::default(),
            policies,
        }));
        {
            let mut dm = d.borrow_mut();
            dm.me = Rc::downgrade(&d);
            for li in 0..dm.layers.len() {
                if dm.layers[li].ipcp.is_enrolled() {
                    dm.register_static(li);
                }
            }
            dm.pump();
        }
        Ok(d)
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// Register the configured names that belong in layer `li`.
    fn register_static(&mut self, li: usize) {
        let now = self.now();
        let names: Vec<String> = self
            .static_names
            .iter()
            .filter(|(_, ls)| ls.contains(&li))
            .map(|(n, _)| n.clone())
            .chain(self.listeners.keys().cloned())
            .collect();
        for n in names {
            self.register_in(li, now, &n);
        }
    }

    fn register_in(&mut self, li: usize, now: Instant, name: &str) {
        let layer = &mut self.layers[li];
        if layer.ipcp.is_enrolled() {
            let h = layer.ipcp.hash_name(name);
            if layer.names.insert(h, name.to_string()).is_none() {
                let _ = layer.ipcp.register(now, name);
                tracing::info!(layer = %layer.name, name, "registered");
            }
        }
    }

    /// Drain every core's transmissions and events, send, and re-arm the timer.
    pub fn pump(&mut self) {
        loop {
            let mut busy = false;
            for li in 0..self.layers.len() {
                while let Some(t) = self.layers[li].ipcp.poll_transmit() {
                    busy = true;
                    self.transmit(li, t.port, t.data);
                }
                while let Some(ev) = self.layers[li].ipcp.poll_event() {
                    busy = true;
                    self.on_event(li, ev);
                }
            }
            if !busy {
                break;
            }
        }
        for s in &mut self.shims {
            s.udp.flush();
        }
        let next = self.next_deadline();
        if next != self.armed && next.is_some_and(|n| self.armed.is_none_or(|a| n < a)) {
            self.timer.notify_one();
        }
    }

    fn transmit(&mut self, li: usize, port: PortId, data: Vec<u8>) {
        let Some(si) = self.layers[li].lower else {
            return; // a local layer has no ports
        };
        let now = self.now();
        let shim = &mut self.shims[si];
        match &mut shim.faults {
            None => shim.udp.send(port, data),
            Some(f) => {
                f.egress(now, port, data, &mut self.out);
                for (p, d) in self.out.drain(..) {
                    shim.udp.send(p, d);
                }
            }
        }
    }

    fn on_event(&mut self, li: usize, ev: Event) {
        let now = self.now();
        // Borrowed only where needed: FlowData (the per-packet case) must not allocate.
        let lname = |d: &Daemon| d.layers[li].name.clone();
        match ev {
            Event::Enrolled { address } => {
                tracing::info!(layer = %lname(self), %address, "enrolled");
                self.layers[li].enroll_retry_at = None;
                self.register_static(li);
            }
            Event::EnrollFailed { port } => {
                let denied = self.layers[li].ipcp.counters().denied_by_peer;
                tracing::info!(
                    layer = %lname(self), %port, denied_by_peer = denied,
                    "enrollment failed; retrying"
                );
                self.layers[li].enroll_retry_at = Some(now + ENROLL_RETRY);
            }
            Event::AdjacencyUp { port, neighbor } => {
                tracing::info!(layer = %lname(self), %port, %neighbor, "adjacency up");
            }
            Event::AdjacencyDown { port, neighbor } => {
                tracing::info!(layer = %lname(self), %port, %neighbor, "adjacency down");
                // Keep asking on configured ports: the neighbour may come back.
                if let Some((_, cost)) = self.layers[li].connects.iter().find(|(p, _)| *p == port) {
                    let cost = *cost;
                    self.layers[li].ipcp.connect(now, port, cost);
                }
            }
            Event::RoutesChanged => tracing::debug!(layer = %lname(self), "routes changed"),
            Event::FlowAllocated { flow } => self.on_allocated(li, flow),
            Event::FlowRequest { flow, name, qos } => self.on_request(li, flow, name, qos),
            Event::FlowData { flow, data } => {
                if let Some(slot) = self.flows.get_mut(&(li, flow)) {
                    match ipc::send(slot.fd.get_ref(), &data) {
                        Ok(_) => slot.rx_msgs += 1,
                        Err(_) => slot.rx_drops += 1,
                    }
                }
            }
            Event::FlowEnded { flow, reason } => {
                if let Some(p) = self.pending.remove(&(li, flow)) {
                    let (kind, message) = match reason {
                        FlowEnd::NameUnknown => (
                            ErrorKind::NameUnknown,
                            format!("name `{}` not found in layer `{}`", p.name, lname(self)),
                        ),
                        FlowEnd::Refused => {
                            (ErrorKind::Refused, format!("`{}` refused the flow", p.name))
                        }
                        FlowEnd::Denied => (
                            ErrorKind::Refused,
                            format!("flow to `{}` denied by the responder's policy", p.name),
                        ),
                        _ => (
                            ErrorKind::Unreachable,
                            format!("`{}` unreachable ({reason:?})", p.name),
                        ),
                    };
                    send_reply(&p.conn, &Reply::Error { kind, message }, None);
                }
                if let Some(slot) = self.flows.remove(&(li, flow)) {
                    tracing::debug!(layer = %lname(self), %flow, ?reason, "flow ended");
                    ipc::shutdown(slot.fd.get_ref());
                }
            }
        }
    }

    fn on_allocated(&mut self, li: usize, flow: Eid) {
        let Some(p) = self.pending.remove(&(li, flow)) else {
            let now = self.now();
            let _ = self.layers[li].ipcp.dealloc_flow(now, flow);
            return;
        };
        let layer = self.layers[li].name.clone();
        let reply = Reply::Flow {
            flow: flow.0,
            layer,
        };
        if !self.open_flow(li, flow, &p.conn, &reply, p.name, p.qos) {
            let now = self.now();
            let _ = self.layers[li].ipcp.dealloc_flow(now, flow);
        } else {
            self.stats.flows_allocated += 1;
        }
    }

    fn on_request(&mut self, li: usize, flow: Eid, hash: NameHash, qos: QosSpec) {
        let now = self.now();
        let name = self.layers[li].names.get(&hash).cloned();
        let listener = name
            .as_ref()
            .and_then(|n| self.listeners.get(n))
            .and_then(|v| v.first())
            .map(|(_, fd)| Rc::clone(fd));
        let (Some(name), Some(conn)) = (name, listener) else {
            self.stats.flows_refused += 1;
            let _ = self.layers[li].ipcp.reject_flow(now, flow);
            return;
        };
        if self.layers[li].ipcp.accept_flow(now, flow).is_err() {
            return;
        }
        let qos_name = format!("{:?}", qos.cube()).to_lowercase();
        let reply = Reply::Incoming {
            flow: flow.0,
            layer: self.layers[li].name.clone(),
            name: name.clone(),
            qos: qos_name.clone(),
        };
        if self.open_flow(li, flow, &conn, &reply, name, qos_name) {
            self.stats.flows_accepted += 1;
        } else {
            let _ = self.layers[li].ipcp.dealloc_flow(now, flow);
        }
    }

    /// Make the flow's socket pair, hand one end over with `reply`, keep the other and
    /// start its reader. False if the application could not be told.
    fn open_flow(
        &mut self,
        li: usize,
        flow: Eid,
        conn: &Fd,
        reply: &Reply,
        name: String,
        qos: String,
    ) -> bool {
        let Ok((mine, theirs)) = ipc::seqpacket_pair() else {
            return false;
        };
        if !send_reply(conn, reply, Some(&theirs)) {
            return false;
        }
        drop(theirs);
        let Ok(fd) = ipc::async_fd(mine) else {
            return false;
        };
        let fd = Rc::new(fd);
        let generation = self.next_gen;
        self.next_gen += 1;
        self.flows.insert(
            (li, flow),
            FlowSlot {
                fd: Rc::clone(&fd),
                generation,
                name,
                qos,
                tx_msgs: 0,
                rx_msgs: 0,
                rx_drops: 0,
                tx_errors: 0,
            },
        );
        if let Some(me) = self.me.upgrade() {
            tokio::task::spawn_local(flow_reader(me, (li, flow), generation, fd));
        }
        true
    }

    /// The application wrote a message on a flow.
    fn app_write(&mut self, key: (usize, Eid), data: &[u8]) {
        let now = self.now();
        let Some(slot) = self.flows.get_mut(&key) else {
            return;
        };
        match self.layers[key.0].ipcp.flow_write(now, key.1, data) {
            Ok(()) => slot.tx_msgs += 1,
            Err(_) => slot.tx_errors += 1,
        }
    }

    /// The application wrote a message larger than any PDU.
    fn app_oversized(&mut self, key: (usize, Eid)) {
        if let Some(slot) = self.flows.get_mut(&key) {
            slot.tx_errors += 1;
        }
    }

    /// The application closed its end of a flow (or died).
    fn app_closed(&mut self, key: (usize, Eid), generation: u64) {
        if self
            .flows
            .get(&key)
            .is_some_and(|s| s.generation == generation)
        {
            self.flows.remove(&key);
            self.stats.app_closed += 1;
            let now = self.now();
            let _ = self.layers[key.0].ipcp.dealloc_flow(now, key.1);
            tracing::debug!(layer = %self.layers[key.0].name, flow = %key.1, "flow closed by the application");
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut take = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for l in &self.layers {
            take(l.ipcp.poll_timeout());
            take(l.enroll_retry_at);
        }
        for s in &self.shims {
            take(s.faults.as_ref().and_then(Faults::poll_timeout));
        }
        for p in self.pending.values() {
            take(Some(p.deadline));
        }
        next
    }

    /// Run whatever is due.
    fn on_timer(&mut self) {
        let now = self.now();
        for li in 0..self.layers.len() {
            if self.layers[li]
                .ipcp
                .poll_timeout()
                .is_some_and(|t| t <= now)
            {
                self.layers[li].ipcp.handle_timeout(now);
            }
            if self.layers[li].enroll_retry_at.is_some_and(|t| t <= now) {
                self.layers[li].enroll_retry_at = None;
                if let Some(port) = self.layers[li].enroll_via {
                    self.layers[li].ipcp.enroll_via(now, port);
                }
            }
        }
        for s in &mut self.shims {
            if let Some(f) = &mut s.faults
                && f.poll_timeout().is_some_and(|t| t <= now)
            {
                f.release(now, &mut self.out);
                for (p, d) in self.out.drain(..) {
                    s.udp.send(p, d);
                }
            }
        }
        let expired: Vec<(usize, Eid)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            if let Some(p) = self.pending.remove(&key) {
                let _ = self.layers[key.0].ipcp.dealloc_flow(now, key.1);
                send_reply(
                    &p.conn,
                    &Reply::Error {
                        kind: ErrorKind::Unreachable,
                        message: format!("no answer from `{}` in time", p.name),
                    },
                    None,
                );
            }
        }
        self.pump();
    }

    fn shim_rx(&mut self, si: usize) {
        let now = self.now();
        let li = self.layers.iter().position(|l| l.lower == Some(si));
        for _ in 0..SHIM_BATCHES {
            let Shim { udp, .. } = &mut self.shims[si];
            let layers = &mut self.layers;
            let res = udp.recv_batch(|r| {
                if let Some(li) = li {
                    layers[li].ipcp.handle_pdu(now, r.port, r.data.to_vec());
                }
            });
            match res {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(shim = %self.shims[si].name, error = %e, "receive failed");
                    break;
                }
            }
        }
        self.pump();
    }

    fn conn_closed(&mut self, conn_id: u64) {
        let now = self.now();
        let mut dropped = Vec::new();
        for (name, v) in self.listeners.iter_mut() {
            v.retain(|(id, _)| *id != conn_id);
            if v.is_empty() {
                dropped.push(name.clone());
            }
        }
        for name in dropped {
            self.listeners.remove(&name);
            let keep = self.static_names.get(&name).cloned().unwrap_or_default();
            for li in 0..self.layers.len() {
                if keep.contains(&li) {
                    continue;
                }
                let h = self.layers[li].ipcp.hash_name(&name);
                if self.layers[li].names.remove(&h).is_some() {
                    let _ = self.layers[li].ipcp.unregister(now, &name);
                }
            }
        }
        let cancelled: Vec<(usize, Eid)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.conn_id == conn_id)
            .map(|(k, _)| *k)
            .collect();
        for key in cancelled {
            self.pending.remove(&key);
            let _ = self.layers[key.0].ipcp.dealloc_flow(now, key.1);
        }
        self.pump();
    }

    fn layer_index(&self, name: Option<&str>) -> Result<Vec<usize>, Reply> {
        match name {
            None => Ok((0..self.layers.len()).collect()),
            Some(n) => self
                .layers
                .iter()
                .position(|l| l.name == n)
                .map(|i| vec![i])
                .ok_or_else(|| bad(format!("no unicast layer `{n}`"))),
        }
    }

    /// Handle one control request; `None` means the reply comes later.
    fn request(&mut self, conn_id: u64, conn: &Fd, req: Request) -> Option<Reply> {
        let now = self.now();
        let reply = match req {
            Request::Alloc {
                name,
                qos,
                layer,
                timeout_ms,
            } => {
                let Some(spec) = QosSpec::preset(&qos) else {
                    return Some(bad(format!("unknown QoS preset `{qos}`")));
                };
                let candidates = match self.layer_index(layer.as_deref()) {
                    Ok(c) => c,
                    Err(r) => return Some(r),
                };
                let Some(li) = candidates
                    .into_iter()
                    .find(|i| self.layers[*i].ipcp.is_enrolled())
                else {
                    return Some(Reply::Error {
                        kind: ErrorKind::NoLayer,
                        message: "no enrolled unicast layer".into(),
                    });
                };
                match self.layers[li].ipcp.alloc_flow(now, &name, spec) {
                    Ok(eid) => {
                        self.pending.insert(
                            (li, eid),
                            PendingAlloc {
                                conn: Rc::clone(conn),
                                conn_id,
                                deadline: now
                                    + Duration::from_millis(timeout_ms.clamp(1, 3_600_000)),
                                name,
                                qos,
                            },
                        );
                        self.pump();
                        return None;
                    }
                    Err(e) => Reply::Error {
                        kind: ErrorKind::NoLayer,
                        message: e.to_string(),
                    },
                }
            }
            Request::Listen { name, layers } => {
                let mut idx = Vec::new();
                if layers.is_empty() {
                    idx = (0..self.layers.len()).collect();
                } else {
                    for l in &layers {
                        match self.layer_index(Some(l)) {
                            Ok(mut v) => idx.append(&mut v),
                            Err(r) => return Some(r),
                        }
                    }
                }
                self.listeners
                    .entry(name.clone())
                    .or_default()
                    .push((conn_id, Rc::clone(conn)));
                for li in idx {
                    self.register_in(li, now, &name);
                }
                Reply::Ok
            }
            Request::Register { name, layer } => match self.layer_index(layer.as_deref()) {
                Ok(idx) => {
                    let e = self.static_names.entry(name.clone()).or_default();
                    for li in &idx {
                        if !e.contains(li) {
                            e.push(*li);
                        }
                    }
                    for li in idx {
                        self.register_in(li, now, &name);
                    }
                    Reply::Ok
                }
                Err(r) => r,
            },
            Request::Unregister { name, layer } => match self.layer_index(layer.as_deref()) {
                Ok(idx) => {
                    if let Some(e) = self.static_names.get_mut(&name) {
                        e.retain(|l| !idx.contains(l));
                    }
                    for li in idx {
                        let h = self.layers[li].ipcp.hash_name(&name);
                        if self.layers[li].names.remove(&h).is_some() {
                            let _ = self.layers[li].ipcp.unregister(now, &name);
                        }
                    }
                    Reply::Ok
                }
                Err(r) => r,
            },
            Request::ListNames => Reply::Info {
                info: self.names_json(),
            },
            Request::ListIpcps => Reply::Info {
                info: self.ipcps_json(),
            },
            Request::Status => Reply::Info {
                info: self.status_json(),
            },
            Request::PolicyLoad {
                layer,
                kind,
                policy,
                params,
            } => self.load_policy(now, &layer, &kind, policy, &params),
            Request::PolicyStats => Reply::Info {
                info: self.policy_stats(),
            },
            Request::Fault {
                layer,
                loss,
                duplicate,
                reorder,
                delay_ms,
                down,
            } => {
                let Some(s) = self.shims.iter_mut().find(|s| s.name == layer) else {
                    return Some(bad(format!("no shim layer `{layer}`")));
                };
                let cfg = FaultConfig {
                    loss: loss.clamp(0.0, 1.0),
                    duplicate: duplicate.clamp(0.0, 1.0),
                    reorder: reorder.clamp(0.0, 1.0),
                    delay: Duration::from_millis(delay_ms),
                    down,
                };
                match &mut s.faults {
                    Some(f) => f.set_config(cfg),
                    None => s.faults = Some(Faults::new(cfg, seed_from(&self.node))),
                }
                Reply::Ok
            }
        };
        self.pump();
        Some(reply)
    }

    /// `ouro policy load`: hot-swap one policy of a layer (on probation).
    fn load_policy(
        &mut self,
        now: Instant,
        layer: &str,
        kind: &str,
        policy: String,
        params: &[(String, String)],
    ) -> Reply {
        let Some(kind) = Kind::parse(kind) else {
            return bad(format!(
                "unknown policy kind `{kind}` (routing, scheduler or auth)"
            ));
        };
        let Some(l) = self.layers.iter_mut().find(|l| l.name == layer) else {
            return bad(format!("no unicast layer `{layer}`"));
        };
        let spec = PolicySpec {
            policy,
            params: params
                .iter()
                .map(|(k, v)| (k.clone(), param_from_cli(v)))
                .collect(),
        };
        match self
            .policies
            .install(&l.name, &mut l.ipcp, now, kind, &spec, true)
        {
            Ok(()) => Reply::Ok,
            Err(e) => bad(e),
        }
    }

    fn policy_stats(&self) -> serde_json::Value {
        self.policies
            .stats_json(self.layers.iter().map(|l| (l.name.as_str(), &l.ipcp)))
    }

    fn names_json(&self) -> serde_json::Value {
        let mut names = Vec::new();
        for l in &self.layers {
            let mut v: Vec<&String> = l.names.values().collect();
            v.sort();
            for n in v {
                names.push(json!({
                    "name": n,
                    "layer": l.name,
                    "listeners": self.listeners.get(n).map_or(0, Vec::len),
                }));
            }
        }
        json!(names)
    }

    fn ipcps_json(&self) -> serde_json::Value {
        let mut v = Vec::new();
        for s in &self.shims {
            v.push(json!({
                "layer": s.name,
                "type": "udp",
                "bind": s.udp.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            }));
        }
        for l in &self.layers {
            v.push(json!({
                "layer": l.name,
                "type": "unicast",
                "name": format!("{}.{}", self.node, l.name),
                "enrolled": l.ipcp.is_enrolled(),
                "address": l.ipcp.address().0,
                "lower": l.lower.map(|i| self.shims[i].name.clone()),
            }));
        }
        json!(v)
    }

    /// The whole state as JSON (what `ouro status --json` prints).
    pub fn status_json(&self) -> serde_json::Value {
        let shims: Vec<_> = self
            .shims
            .iter()
            .map(|s| {
                let c = s.udp.counters();
                let peers: Vec<_> = s
                    .udp
                    .peers()
                    .map(|(p, a)| json!({"port": p.0, "addr": a.to_string(), "name": s.peer_names.get(&p)}))
                    .collect();
                let faults = s.faults.as_ref().map(|f| {
                    let fc = f.config();
                    let n = f.counters();
                    json!({
                        "loss": fc.loss, "duplicate": fc.duplicate, "reorder": fc.reorder,
                        "delay_ms": fc.delay.as_millis() as u64, "down": fc.down,
                        "lost": n.lost, "down_drops": n.down_drops, "duplicated": n.duplicated,
                        "reordered": n.reordered, "delayed": n.delayed,
                    })
                });
                json!({
                    "name": s.name,
                    "type": "udp",
                    "bind": s.udp.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                    "peers": peers,
                    "faults": faults,
                    "counters": {
                        "rx_datagrams": c.rx_datagrams, "rx_bytes": c.rx_bytes,
                        "tx_datagrams": c.tx_datagrams, "tx_bytes": c.tx_bytes,
                        "rx_batches": c.rx_batches, "tx_syscalls": c.tx_syscalls,
                        "peers_learned": c.peers_learned, "drop_stranger": c.drop_stranger,
                        "drop_bad": c.drop_bad, "drop_tx": c.drop_tx,
                    },
                })
            })
            .collect();
        let layers: Vec<_> = self
            .layers
            .iter()
            .enumerate()
            .map(|(li, l)| {
                let ip = &l.ipcp;
                let fib = ip.fib();
                let mut fib_rows: Vec<_> = fib
                    .iter()
                    .map(|(dst, e)| {
                        (dst.0, json!({
                            "dst": dst.0,
                            "next_hops": e.next_hops.iter().map(|(a, p)| json!({"addr": a.0, "port": p.0})).collect::<Vec<_>>(),
                            "backup": e.backup.map(|(a, p)| json!({"addr": a.0, "port": p.0})),
                        }))
                    })
                    .collect();
                fib_rows.sort_by_key(|(d, _)| *d);
                let neighbors: Vec<_> = ip
                    .neighbors()
                    .into_iter()
                    .map(|(p, a)| {
                        let peer = l.lower.and_then(|si| self.shims[si].udp.peer_addr(p));
                        let name = l.lower.and_then(|si| self.shims[si].peer_names.get(&p).cloned());
                        json!({"port": p.0, "address": a.0, "endpoint": peer.map(|x| x.to_string()), "name": name})
                    })
                    .collect();
                let c = ip.counters();
                let mut names: Vec<&String> = l.names.values().collect();
                names.sort();
                let mut flows: Vec<_> = self
                    .flows
                    .iter()
                    .filter(|((fl, _), _)| *fl == li)
                    .map(|((_, eid), s)| {
                        (eid.0, json!({
                            "flow": eid.0, "name": s.name, "qos": s.qos,
                            "tx_msgs": s.tx_msgs, "rx_msgs": s.rx_msgs,
                            "rx_drops": s.rx_drops, "tx_errors": s.tx_errors,
                        }))
                    })
                    .collect();
                flows.sort_by_key(|(e, _)| *e);
                json!({
                    "name": l.name,
                    "type": "unicast",
                    "ipcp": format!("{}.{}", self.node, l.name),
                    "lower": l.lower.map(|i| self.shims[i].name.clone()),
                    "enrolled": ip.is_enrolled(),
                    "address": ip.address().0,
                    "public_key": hex(&ip.public_key()),
                    "neighbors": neighbors,
                    "lsdb": ip.lsdb_len(),
                    "fib": fib_rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
                    "names": names,
                    "flows": flows.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
                    "core_flows": ip.flow_count(),
                    "counters": {
                        "rx_pdus": c.rx_pdus, "tx_pdus": c.tx_pdus, "forwarded": c.forwarded,
                        "delivered": c.delivered, "drop_malformed": c.drop_malformed,
                        "drop_ttl": c.drop_ttl, "drop_no_route": c.drop_no_route,
                        "drop_unknown_eid": c.drop_unknown_eid, "drop_not_ready": c.drop_not_ready,
                        "route_computations": c.route_computations,
                        "routing_failures": c.routing_failures,
                        "lsas_originated": c.lsas_originated,
                        "drop_queue_full": c.drop_queue_full,
                        "scheduler_failures": c.scheduler_failures,
                        "auth_denied": c.auth_denied, "auth_failures": c.auth_failures,
                        "denied_by_peer": c.denied_by_peer,
                        "proof_failures": c.proof_failures,
                    },
                })
            })
            .collect();
        json!({
            "node": self.node,
            "pid": std::process::id(),
            "uptime_ms": self.now().as_millis(),
            "shims": shims,
            "layers": layers,
            "pending_allocs": self.pending.len(),
            "counters": {
                "flows_allocated": self.stats.flows_allocated,
                "flows_accepted": self.stats.flows_accepted,
                "flows_refused": self.stats.flows_refused,
                "app_closed": self.stats.app_closed,
                "bad_requests": self.stats.bad_requests,
            },
        })
    }

    /// Deallocate every flow (peers are told) and send what that produces.
    pub fn shutdown(&mut self) {
        let now = self.now();
        let keys: Vec<(usize, Eid)> = self.flows.keys().copied().collect();
        for key in keys {
            if let Some(slot) = self.flows.remove(&key) {
                ipc::shutdown(slot.fd.get_ref());
            }
            let _ = self.layers[key.0].ipcp.dealloc_flow(now, key.1);
        }
        self.pump();
    }
}

fn bad(message: String) -> Reply {
    Reply::Error {
        kind: ErrorKind::BadRequest,
        message,
    }
}

fn seed_from(node: &str) -> u64 {
    let h = fnv1a(node.as_bytes());
    h ^ u64::from(std::process::id())
}

/// FNV-1a: a seed, not a security property.
fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Send a control message (non-blocking); false if the connection is gone or full.
fn send_reply(conn: &Fd, reply: &Reply, fd: Option<&OwnedFd>) -> bool {
    match ipc::send_msg(conn.get_ref(), &reply.encode(), fd) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, "control reply not delivered");
            false
        }
    }
}

/// Reads an application's messages on one flow and feeds them to the core.
async fn flow_reader(d: Rc<RefCell<Daemon>>, key: (usize, Eid), generation: u64, fd: Fd) {
    let mut buf = vec![0u8; ouro_flow::MAX_MESSAGE];
    loop {
        let Ok(mut guard) = fd.readable().await else {
            break;
        };
        let mut closed = false;
        {
            let mut dm = d.borrow_mut();
            for _ in 0..FLOW_BATCH {
                match guard.try_io(|f| ipc::recv(f.get_ref(), &mut buf)) {
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                        dm.app_oversized(key); // too big for a PDU: dropped, counted
                    }
                    Ok(Ok(0)) | Ok(Err(_)) => {
                        closed = true;
                        break;
                    }
                    Ok(Ok(n)) => dm.app_write(key, &buf[..n]),
                    Err(_would_block) => break,
                }
            }
            if closed {
                dm.app_closed(key, generation);
            }
            dm.pump();
        }
        if closed {
            break;
        }
    }
}

/// Receives on one shim (and flushes its send queue when the socket was full).
pub async fn shim_task(d: Rc<RefCell<Daemon>>, si: usize) {
    let ready = d.borrow().shims[si].udp.readiness();
    loop {
        let queued = d.borrow().shims[si].udp.has_queued();
        tokio::select! {
            r = ready.readable() => {
                if r.is_err() { break; }
                d.borrow_mut().shim_rx(si);
            }
            w = ready.writable(), if queued => {
                if w.is_err() { break; }
                d.borrow_mut().shims[si].udp.flush();
            }
        }
    }
}

/// Sleeps until the earliest deadline, then runs the timers.
pub async fn timer_task(d: Rc<RefCell<Daemon>>) {
    let (notify, start) = {
        let dm = d.borrow();
        (Rc::clone(&dm.timer), dm.start)
    };
    loop {
        let next = {
            let mut dm = d.borrow_mut();
            let n = dm.next_deadline();
            dm.armed = n;
            n
        };
        match next {
            Some(t) => {
                let at = tokio::time::Instant::from_std(start + Duration::from_nanos(t.as_nanos()));
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => d.borrow_mut().on_timer(),
                    _ = notify.notified() => {}
                }
            }
            None => notify.notified().await,
        }
    }
}

/// Accepts control connections.
pub async fn control_task(d: Rc<RefCell<Daemon>>, listener: AsyncFd<OwnedFd>) {
    loop {
        let Ok(mut guard) = listener.readable().await else {
            break;
        };
        match guard.try_io(|l| ipc::accept(l.get_ref())) {
            Ok(Ok(conn)) => match ipc::async_fd(conn) {
                Ok(fd) => {
                    let id = {
                        let mut dm = d.borrow_mut();
                        dm.next_conn += 1;
                        dm.next_conn
                    };
                    tokio::task::spawn_local(conn_task(Rc::clone(&d), Rc::new(fd), id));
                }
                Err(e) => tracing::warn!(error = %e, "cannot register a control connection"),
            },
            Ok(Err(e)) => tracing::warn!(error = %e, "accept failed"),
            Err(_would_block) => {}
        }
    }
}

async fn conn_task(d: Rc<RefCell<Daemon>>, fd: Fd, id: u64) {
    let mut buf = vec![0u8; ipc::MAX_CONTROL];
    'outer: loop {
        let Ok(mut guard) = fd.readable().await else {
            break;
        };
        loop {
            let n = match guard.try_io(|f| ipc::recv(f.get_ref(), &mut buf)) {
                Ok(Ok(0)) | Ok(Err(_)) => break 'outer,
                Ok(Ok(n)) => n,
                Err(_would_block) => break,
            };
            let reply = match serde_json::from_slice::<Request>(&buf[..n]) {
                Ok(req) => d.borrow_mut().request(id, &fd, req),
                Err(e) => {
                    d.borrow_mut().stats.bad_requests += 1;
                    Some(bad(format!("bad request: {e}")))
                }
            };
            if let Some(r) = reply {
                send_reply(&fd, &r, None);
            }
        }
    }
    d.borrow_mut().conn_closed(id);
}
