//! The daemon's state and what it does when a descriptor is ready.
//!
//! [`Daemon`] owns everything: the node, the shims' sockets, the control connections, the
//! flow sockets and the timer. The event loop ([`crate::event_loop`]) hands it each event
//! ([`Daemon::on_ready`], in `node/ready.rs`); the handler does the I/O that is ready
//! without blocking — receive batches on a UDP shim, read an application's messages, write
//! a flow's backlog, read a control request — feeds the sans-IO node, and calls
//! [`Daemon::pump`], which drains the node's transmissions and events until both are empty.
//! A handler that stops before its descriptor would block, so that the others get their
//! turn, asks the loop to run it again in the next round.

mod faults;
mod flows;
mod link;
mod local;
mod mgmt;
mod names;
mod pacer;
mod queues;
mod ready;
mod routes;
mod stack;
mod status;
mod timer;

pub use timer::Timer;

use crate::config::Config;
use crate::control_error::ControlError;
use crate::event_loop::{Io, Source};
use crate::policy::{Kind, LayerPolicies, Policies, PolicySpec, Target};
use crate::route_worker::RouteWorker;
use crate::spare::Spare;
use link::Link;
use mio::{Interest, Token};
use ouro_control::{Backpressure, DaemonCounters, Info, PolicyStats, Reply, Request, Traffic};
use ouro_core::id_hash::IdHashBuilder;
use ouro_core::ipcp::FlowEnd;
use ouro_core::{Eid, Instant, Ipcp, PortId};
use ouro_flow::ipc::{self, Slot};
use ouro_flow::pack;
use ouro_node::{Event, FlowId, IpcpId, Node, NodeConfig, ShimId, ShimTransmit, Written};
use ouro_shim::{FaultConfig, Faults, Shim};
use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

/// A control connection's socket, shared by the requests waiting on it (allocations under
/// way, listeners).
type Fd = Rc<OwnedFd>;

/// Messages read from one flow socket per system call (`recvmmsg`).
const FLOW_BATCH: usize = ipc::MAX_BATCH;
/// `recvmmsg` calls on one flow socket per wake-up before yielding.
const FLOW_ROUNDS: usize = 4;
/// Receive batches read from one shim per wake-up before yielding (64 of [`SHIM_RECV_DATAGRAMS`]).
const SHIM_BATCHES: usize = 64;
/// Datagrams per receive call of a UDP shim: up to 8 GRO runs of at most 64 PDUs, 512 PDUs
/// that are placed (queued towards their next hop, or written to their applications)
/// before the next call. With the shim's 32, one call could bring 2,048 PDUs, twice what a
/// cube queue holds: a relay dropped a third of a 64-byte flood while its CPU idled.
const SHIM_RECV_DATAGRAMS: usize = 8;
/// Requests read from one control connection per wake-up before yielding.
const CONTROL_BATCH: usize = 64;
/// Send buffer of the daemon's end of each flow socket (bytes asked for): what the daemon
/// may have written that the application has not read yet. The kernel's default (about
/// 200 kB, three packs of small messages, a millisecond at a few million messages a
/// second) lost messages whenever the application waited a few milliseconds for a CPU;
/// 4 MiB is the UDP shim's socket buffer, the same slack a UDP receiver has.
const FLOW_SOCKET_BUFFER: usize = 4 << 20;

/// Errors starting the daemon: an operation of the configuration failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

/// A shim below one IPCP (what the node knows as one [`ShimId`]): a UDP shim, or one
/// member's end of a local shim layer, with what the daemon keeps beside it. Everything here
/// but the configuration is driven through [`ouro_shim::Shim`], whatever the kind.
struct ShimSlot {
    /// The shim layer's name (the ends of a local layer all carry the layer's name).
    name: String,
    /// The shim's id in the node.
    id: ShimId,
    /// The shim.
    link: Link,
    /// The fault injector in front of its sends, if faults were ever set.
    faults: Option<Faults>,
    /// Configured peers' names, by port.
    peer_names: BTreeMap<PortId, String>,
    /// Pacing of the ports of the IPCP above (per-cube queues, scheduler batches).
    pacer: ouro_node::pacer::Pacer,
    /// The descriptor's registration with the event loop (None: an in-process shim).
    token: Option<Token>,
    /// PDUs may wait in the descriptor (until a receive would block).
    readable: bool,
    /// Watched for room too: PDUs wait in the shim's send queue.
    watching_room: bool,
}

/// What the daemon keeps beside each unicast IPCP of the node (same index as its
/// [`IpcpId`]; a destroyed IPCP leaves its slot, as in the node).
struct Layer {
    /// The layer's name (empty until bootstrapped or enrolled).
    name: String,
    /// The IPCP's name (empty once destroyed).
    ipcp_name: String,
    /// Destroyed: the slot stays (indices are keys elsewhere).
    destroyed: bool,
    /// What it sits on (one lower layer; `None` until given one).
    below: Option<Below>,
    /// Queue sizes: its scheduled ports' queues and its flows' backlogs.
    queues: queues::Queues,
}

/// The lower layer of a unicast IPCP, as the daemon knows it (the node knows it as an
/// [`ouro_node::Lower`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Below {
    /// A shim (a UDP shim, or this IPCP's end of a local shim layer), by its id.
    Shim(ShimId),
    /// Another unicast IPCP of this system (its ports are N-1 flows in that layer).
    Unicast(usize),
}

impl Layer {
    /// The shim below, if that is what it sits on.
    fn shim(&self) -> Option<ShimId> {
        match self.below {
            Some(Below::Shim(id)) => Some(id),
            _ => None,
        }
    }

    /// The unicast IPCP below.
    fn over(&self) -> Option<usize> {
        match self.below {
            Some(Below::Unicast(lo)) => Some(lo),
            _ => None,
        }
    }
}

/// The daemon's side of an application flow: its socket and its readiness (the node
/// holds its backlog, held writes and counters).
struct FlowSlot {
    fd: OwnedFd,
    /// The socket's registration with the event loop.
    token: Token,
    /// Messages may wait in the socket (until a read would block).
    readable: bool,
    /// Watched for room too: the backlog waits for the application to read.
    watching_room: bool,
    generation: u64,
    name: String,
    qos: String,
    /// Messages dropped because the application's end was gone.
    rx_drops: u64,
    /// Application messages too big for a PDU, or malformed packs.
    tx_errors: u64,
    /// When the flow was opened.
    created: Instant,
    /// The application's process id (from the control connection's credentials).
    pid: Option<u32>,
}

impl FlowSlot {
    /// Its back-pressure counters, as reported (`f`: the node's counters of the flow).
    fn backpressure(&self, f: &ouro_node::FlowStats) -> Backpressure {
        Backpressure {
            rx_drops: self.rx_drops + f.rx_drops,
            held: f.held as usize,
            pauses: f.pauses,
            congestion_reports: f.congestion_reports,
        }
    }

    /// Its traffic counters, as reported.
    fn traffic(&self, f: &ouro_node::FlowStats) -> Traffic {
        Traffic {
            tx_msgs: f.tx_msgs,
            tx_bytes: f.tx_bytes,
            rx_msgs: f.rx_msgs,
            rx_bytes: f.rx_bytes,
            tx_errors: self.tx_errors + f.tx_errors,
        }
    }
}

struct PendingAlloc {
    conn: Fd,
    conn_id: u64,
    deadline: Instant,
    name: String,
    qos: String,
}

/// A control connection.
struct Conn {
    fd: Fd,
    token: Token,
    /// Requests may wait in the socket (until a read would block).
    readable: bool,
}

/// Everything the daemon holds.
pub struct Daemon {
    /// The descriptors registered with the event loop.
    io: Io,
    /// The control socket's listener, once serving.
    listener: Option<OwnedFd>,
    /// Open control connections, by id.
    conns: HashMap<u64, Conn>,
    /// One receive buffer for every control connection (one request is read at a time).
    control_buf: Vec<u8>,
    /// One buffer for every local flow's relay (one message is relayed at a time).
    local_buf: Vec<u8>,
    start: std::time::Instant,
    /// This system's name (from the configuration).
    node_name: String,
    /// The shims below the unicast IPCPs: UDP shims, and the ends of local shim layers.
    shims: Vec<ShimSlot>,
    /// Every layer of this system above its shims, sans-IO.
    node: Node,
    /// The next shim id to give out.
    next_shim: u32,
    layers: Vec<Layer>,
    /// Per PDU: looked up with [`IdHashBuilder`], not SipHash.
    flows: HashMap<(usize, Eid), FlowSlot, IdHashBuilder>,
    /// Buffers of sent and delivered PDUs, reused for received ones.
    spare: Spare,
    pending: HashMap<(usize, Eid), PendingAlloc>,
    /// name → listening connections (id, socket); flows go to the first.
    listeners: BTreeMap<String, Vec<(u64, Fd)>>,
    /// Names registered from the configuration or with `Register`: name → layers.
    static_names: BTreeMap<String, Vec<usize>>,
    next_gen: u64,
    next_conn: u64,
    timer: Timer,
    /// The deadline the timer is armed for (`None`: disarmed, or it fired since).
    armed: Option<Instant>,
    /// The deadline the timer last fired for.
    fired_for: Option<Instant>,
    out: Vec<(PortId, Vec<u8>)>,
    /// Flows whose backlog got SDUs during this pump.
    to_deliver: Vec<(usize, Eid)>,
    /// Reused to build packed socket messages for the applications.
    pack: Vec<u8>,
    /// Receive buffers for applications' messages, shared by all flows (one flow is read at a
    /// time): [`FLOW_BATCH`] slots of [`pack::MAX_SOCKET_MESSAGE`] bytes (a socket message
    /// is one application message or a pack of several).
    app_bufs: Vec<Vec<u8>>,
    app_slots: Vec<Slot>,
    /// `recvmmsg` headers for those reads, allocated once (taken out while in use).
    app_headers: Option<ipc::RecvHeaders>,
    stats: DaemonCounters,
    policies: Policies,
    /// The thread that runs the IPCPs' routing policies (they are in requested mode).
    routes: RouteWorker,
    /// Local shim layers.
    locals: Vec<local::LocalLayer>,
    /// Flows through local layers, by flow id.
    local_flows: BTreeMap<u32, local::LocalFlow>,
    next_local_flow: u32,
    /// Created names and their bindings.
    name_table: BTreeMap<String, names::NameEntry>,
    /// Next sweep of the shims' learned peers.
    sweep_at: Option<Instant>,
}

impl Daemon {
    /// Build the daemon from a configuration: an empty daemon, then the configuration's
    /// operations applied one by one, exactly as `ouro ipcp ...`/`ouro name ...` would at run
    /// time (binds the shims, starts the routing worker). Its descriptors are registered
    /// with `registry`, the event loop's.
    pub fn new(cfg: &Config, registry: mio::Registry) -> Result<Daemon, StartError> {
        let mut io = Io::new(registry);
        let routes = RouteWorker::start()
            .map_err(|e| StartError(format!("cannot start the routing worker: {e}")))?;
        io.register(routes.wake_fd().as_fd(), Source::Routes, Interest::READABLE)
            .map_err(|e| StartError(format!("cannot watch the routing worker: {e}")))?;
        let timer =
            Timer::new().map_err(|e| StartError(format!("cannot create the timer: {e}")))?;
        io.register(timer.fd(), Source::Timer, Interest::READABLE)
            .map_err(|e| StartError(format!("cannot watch the timer: {e}")))?;
        let mut d = Daemon {
            io,
            listener: None,
            conns: HashMap::new(),
            control_buf: vec![0u8; ouro_control::MAX_CONTROL],
            local_buf: vec![0u8; pack::MAX_SOCKET_MESSAGE],
            start: std::time::Instant::now(),
            node_name: cfg.node.clone(),
            shims: Vec::new(),
            node: Node::new(NodeConfig {
                seed: seed_from(&cfg.node),
                ..NodeConfig::default()
            }),
            next_shim: 0,
            layers: Vec::new(),
            flows: HashMap::default(),
            spare: Spare::default(),
            pending: HashMap::new(),
            listeners: BTreeMap::new(),
            static_names: BTreeMap::new(),
            next_gen: 1,
            next_conn: 1,
            timer,
            armed: None,
            fired_for: None,
            out: Vec::new(),
            to_deliver: Vec::new(),
            pack: Vec::new(),
            app_bufs: (0..FLOW_BATCH)
                .map(|_| vec![0; pack::MAX_SOCKET_MESSAGE])
                .collect(),
            app_slots: vec![Slot::Empty; FLOW_BATCH],
            app_headers: Some(ipc::RecvHeaders::with_capacity(FLOW_BATCH)),
            stats: DaemonCounters::default(),
            policies: Policies::default(),
            routes,
            locals: Vec::new(),
            local_flows: BTreeMap::new(),
            next_local_flow: 1,
            name_table: BTreeMap::new(),
            sweep_at: None,
        };
        for op in &cfg.ops {
            d.apply(op).map_err(|e| StartError(e.to_string()))?;
        }
        for (ipcp, lp) in &cfg.policies {
            d.install_configured(ipcp, lp).map_err(StartError)?;
        }
        d.pump();
        Ok(d)
    }

    /// The descriptors registered with the event loop.
    pub fn io_mut(&mut self) -> &mut Io {
        &mut self.io
    }

    /// Accept control connections on `listener` (a listening Unix socket).
    pub fn serve(&mut self, listener: OwnedFd) -> std::io::Result<()> {
        self.io
            .register(listener.as_fd(), Source::Control, Interest::READABLE)?;
        self.listener = Some(listener);
        Ok(())
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

    /// Register `name` in layer `li` (the node does it once the IPCP is enrolled).
    fn register_in(&mut self, li: usize, now: Instant, name: &str) {
        let id = IpcpId::of_index(li);
        if self.node.registered(id).any(|n| n == name) {
            return;
        }
        if self.node.register(now, id, name).is_ok() && self.ip(li).is_enrolled() {
            tracing::info!(layer = %self.layers[li].name, name, "registered");
        }
    }

    /// The node's IPCP behind daemon layer `li` (every layer has one, destroyed or not).
    fn ip(&self, li: usize) -> &Ipcp {
        self.node
            .ipcp(IpcpId::of_index(li))
            .expect("every daemon layer has a node IPCP")
    }

    /// The node's flow behind a daemon flow key.
    fn fid(key: (usize, Eid)) -> FlowId {
        FlowId {
            ipcp: IpcpId::of_index(key.0),
            eid: key.1,
        }
    }

    /// Drain every core's transmissions and events, send, and re-arm the timer.
    pub fn pump(&mut self) {
        let now = self.now();
        self.pump_at(now);
    }

    /// [`Daemon::pump`] with the time of this wake-up, read by the caller (one clock read
    /// per wake-up on the data path).
    fn pump_at(&mut self, now: Instant) {
        self.drain_node(now);
        // What waits in the scheduled ports goes to the shims as far as they take it (a
        // shim whose socket is full pulls again when it drains). The room each batch makes
        // resumes the writers held back (the node's pump, when the batch is taken), so a
        // flood keeps moving until the socket is full.
        for si in 0..self.shims.len() {
            self.pull(si, now);
        }
        self.drain_node(now);
        while let Some(key) = self.to_deliver.pop() {
            self.deliver(key);
        }
        for si in 0..self.shims.len() {
            self.shims[si].link.flush();
            self.reclaim_sent(si);
            self.watch_shim_room(si);
        }
    }

    /// Take everything the node has to send and to say until it has nothing more: PDUs
    /// to the shims (and what the in-process shims carried back to the node), events acted
    /// on.
    fn drain_node(&mut self, now: Instant) {
        loop {
            let mut busy = false;
            while let Some(t) = self.node.poll_transmit() {
                busy = true;
                self.transmit(now, t);
            }
            while let Some(ev) = self.node.poll_event() {
                busy = true;
                self.on_event(ev);
            }
            busy |= self.in_process_receive(now);
            if !busy {
                break;
            }
        }
    }

    /// Hand what the in-process shims (no descriptor: the ends of local shim layers)
    /// received to the node. True if anything.
    fn in_process_receive(&mut self, now: Instant) -> bool {
        let mut busy = false;
        for si in 0..self.shims.len() {
            if self.shims[si].token.is_some() {
                continue; // read when its descriptor is readable
            }
            while let Ok(n) = self.shim_batch(si, now, false)
                && n > 0
            {
                busy = true;
            }
        }
        busy
    }

    /// Read one batch from shim `si` and hand it to the IPCP over it (`marking`: ECN-mark
    /// every PDU, the node falls behind its socket). Returns what [`Shim::recv_batch`] did.
    fn shim_batch(&mut self, si: usize, now: Instant, marking: bool) -> std::io::Result<usize> {
        let ShimSlot {
            id, link, pacer, ..
        } = &mut self.shims[si];
        let shim = *id;
        let node = &mut self.node;
        let spare = &mut self.spare;
        let carried = node.ipcp_over_shim(shim).is_some();
        link.reclaim(|buf| spare.give(buf));
        link.recv_batch(|r| {
            if carried {
                if r.new_peer {
                    // A learned peer's port is scheduled before its first PDU is handled.
                    pacer.add_port(r.port);
                    node.shim_port_up(shim, r.port);
                }
                let mut pdu = r.data.into_vec(|b| spare.copy_of(b));
                if marking {
                    mark_congested(&mut pdu);
                }
                node.shim_receive(now, shim, r.port, pdu);
            }
        })
    }

    /// Take back the buffers of the PDUs shim `si` has sent: first for the core of the
    /// layer above it (it builds the PDUs its applications write in them), then for the
    /// PDUs received ([`Spare`]).
    fn reclaim_sent(&mut self, si: usize) {
        let Daemon {
            shims, node, spare, ..
        } = self;
        let id = shims[si].id;
        shims[si].link.reclaim(|buf| {
            if let Some(buf) = node.recycle(id, buf) {
                spare.give(buf);
            }
        });
    }

    /// Hand a PDU the node sends to its shim.
    fn transmit(&mut self, now: Instant, t: ShimTransmit) {
        if let Some(si) = self.shim_index(t.shim) {
            self.transmit_on(now, si, t.port, t.data);
        }
    }

    /// The index of shim `id` in the daemon's shims.
    fn shim_index(&self, id: ShimId) -> Option<usize> {
        self.shims.iter().position(|s| s.id == id)
    }

    /// Send a PDU on shim `si`, through its fault injector if it has one. What the shim
    /// refuses it counts.
    fn transmit_on(&mut self, now: Instant, si: usize, port: PortId, data: Vec<u8>) {
        let shim = &mut self.shims[si];
        match &mut shim.faults {
            None => {
                let _ = shim.link.send(port, data);
            }
            Some(f) => {
                f.egress(now, port, data, &mut self.out);
                for (p, d) in self.out.drain(..) {
                    let _ = shim.link.send(p, d);
                }
            }
        }
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Enrolled { ipcp, address } => {
                let li = ipcp.index();
                if let Some((_, layer)) = self.node.names_of(ipcp) {
                    self.layers[li].name = layer.to_string();
                }
                tracing::info!(layer = %self.layers[li].name, %address, "enrolled");
                self.register_static(li);
            }
            Event::EnrollFailed { ipcp } => {
                let denied = self.ip(ipcp.index()).counters().denied_by_peer;
                tracing::info!(
                    layer = %self.layers[ipcp.index()].name, denied_by_peer = denied,
                    "enrollment failed; retrying"
                );
            }
            Event::AdjacencyUp {
                ipcp,
                port,
                neighbor,
            } => {
                tracing::info!(layer = %self.layers[ipcp.index()].name, %port, %neighbor, "adjacency up");
            }
            Event::AdjacencyDown {
                ipcp,
                port,
                neighbor,
            } => {
                tracing::info!(layer = %self.layers[ipcp.index()].name, %port, %neighbor, "adjacency down");
            }
            Event::RoutesChanged { ipcp } => {
                tracing::debug!(layer = %self.layers[ipcp.index()].name, "routes changed");
            }
            Event::FlowAllocated { flow } => self.on_allocated(flow),
            Event::FlowIncoming { flow, name, qos } => self.on_incoming(flow, name, qos),
            // Written to the application at the end of the pump, many per system call.
            Event::FlowReadable { flow } => self.to_deliver.push((flow.ipcp.index(), flow.eid)),
            // Its socket is read again (it was not while the node held its writes).
            Event::FlowWritable { flow } => {
                if let Some(slot) = self.flows.get(&(flow.ipcp.index(), flow.eid)) {
                    self.io.again(slot.token);
                }
            }
            Event::FlowEnded { flow, reason } => self.on_ended(flow, reason),
            Event::RouteRequest {
                ipcp,
                id,
                own,
                topology,
            } => self.route_request(ipcp, id, own, topology),
        }
    }

    fn on_ended(&mut self, flow: FlowId, reason: FlowEnd) {
        let key = (flow.ipcp.index(), flow.eid);
        if let Some(p) = self.pending.remove(&key) {
            let e = match reason {
                FlowEnd::NameUnknown => ControlError::NameNotFound {
                    layer: self.layers[key.0].name.clone(),
                    name: p.name,
                },
                FlowEnd::Refused => ControlError::PeerRefused(p.name),
                FlowEnd::Denied => ControlError::Denied(p.name),
                _ => ControlError::Unreachable {
                    name: p.name,
                    why: format!("{reason:?}"),
                },
            };
            send_reply(&p.conn, &e.into(), None);
        }
        if self.flows.contains_key(&key) {
            tracing::debug!(layer = %self.layers[key.0].name, flow = %key.1, ?reason, "flow ended");
            self.deliver(key); // what fits is still delivered
        }
        let left = self.node.flow_stats(flow).map_or(0, |f| f.backlog);
        if let Some(slot) = self.forget_flow(key) {
            self.stats.closed_flow_rx_drops += left;
            ipc::shutdown(&slot.fd);
        }
        let now = self.now();
        let _ = self.node.dealloc(now, flow);
    }

    fn on_allocated(&mut self, flow: FlowId) {
        let (li, eid) = (flow.ipcp.index(), flow.eid);
        let Some(p) = self.pending.remove(&(li, eid)) else {
            let now = self.now();
            let _ = self.node.dealloc(now, flow);
            return;
        };
        let layer = self.layers[li].name.clone();
        let reply = Reply::Flow { flow: eid.0, layer };
        if !self.open_flow(li, eid, &p.conn, &reply, p.name, p.qos) {
            let now = self.now();
            let _ = self.node.dealloc(now, flow);
        } else {
            self.stats.flows_allocated += 1;
        }
    }

    /// The node accepted a flow to `name` (an application listens on it): the first
    /// listener gets it.
    fn on_incoming(&mut self, flow: FlowId, name: String, qos: ouro_core::QosSpec) {
        let now = self.now();
        let (li, eid) = (flow.ipcp.index(), flow.eid);
        let listener = self
            .listeners
            .get(&name)
            .and_then(|v| v.first())
            .map(|(_, fd)| Rc::clone(fd));
        let Some(conn) = listener else {
            self.stats.flows_refused += 1;
            let _ = self.node.dealloc(now, flow);
            return;
        };
        let qos_name = format!("{:?}", qos.cube()).to_lowercase();
        let reply = Reply::Incoming {
            flow: eid.0,
            layer: self.layers[li].name.clone(),
            name: name.clone(),
            qos: qos_name.clone(),
        };
        if self.open_flow(li, eid, &conn, &reply, name, qos_name) {
            self.stats.flows_accepted += 1;
        } else {
            let _ = self.node.dealloc(now, flow);
        }
    }

    /// Make the flow's socket pair, hand one end over with `reply`, keep the other and
    /// watch it. False if the application could not be told.
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
        // Best effort (the kernel caps it at net.core.wmem_max): see FLOW_SOCKET_BUFFER.
        let _ = nix::sys::socket::setsockopt(
            &mine,
            nix::sys::socket::sockopt::SndBuf,
            &FLOW_SOCKET_BUFFER,
        );
        // Readable only: writes go straight to the socket, and the flow is watched for room
        // only while its backlog waits (a registration for writability would wake the
        // daemon each time the application reads a message).
        let generation = self.next_gen;
        self.next_gen += 1;
        let source = Source::Flow {
            key: (li, flow),
            generation,
        };
        let Ok(token) = self.io.register(mine.as_fd(), source, Interest::READABLE) else {
            return false;
        };
        self.flows.insert(
            (li, flow),
            FlowSlot {
                fd: mine,
                token,
                readable: false,
                watching_room: false,
                generation,
                name,
                qos,
                rx_drops: 0,
                tx_errors: 0,
                created: self.now(),
                pid: names::peer_pid(conn),
            },
        );
        true
    }

    /// Write a flow's backlog to its application's socket; if some stays queued, the
    /// flow is watched for room in the socket.
    fn deliver(&mut self, key: (usize, Eid)) {
        let Daemon {
            flows,
            node,
            spare,
            pack,
            io,
            ..
        } = self;
        let Some(slot) = flows.get_mut(&key) else {
            return;
        };
        let flow = Self::fid(key);
        let done = crate::backlog::flush(|k| node.pending_from(flow, k), &slot.fd, pack);
        node.consume(flow, done.sent, |buf| spare.give(buf));
        if done.closed {
            // The application's end is gone: its reader ends the flow.
            slot.rx_drops += node.consume(flow, usize::MAX, |buf| spare.give(buf)) as u64;
        }
        let waits = node.has_pending(flow);
        if waits != slot.watching_room {
            // Watched for room while the backlog waits (the socket is full: the next event
            // is the application reading), not otherwise.
            match io.watch_room(slot.fd.as_fd(), slot.token, waits) {
                Ok(()) => slot.watching_room = waits,
                Err(e) => tracing::warn!(error = %e, "cannot watch a flow socket"),
            }
        }
    }

    /// Read up to [`FLOW_ROUNDS`] batches of an application's socket messages (until its
    /// socket is empty), unpack the packed ones, and feed the messages to the core.
    fn app_read(&mut self, key: (usize, Eid)) -> AppRead {
        let mut bufs = std::mem::take(&mut self.app_bufs);
        let mut slots = std::mem::take(&mut self.app_slots);
        let mut headers = self
            .app_headers
            .take()
            .unwrap_or_else(|| ipc::RecvHeaders::with_capacity(FLOW_BATCH));
        // Stays `More` if every round read a full batch: the socket may hold more.
        let mut read = AppRead::More;
        'rounds: for _ in 0..FLOW_ROUNDS {
            let got = match self.flows.get(&key) {
                Some(f) => ipc::recv_batch_into(&mut headers, &f.fd, &mut bufs, &mut slots),
                None => {
                    read = AppRead::Closed;
                    break;
                }
            };
            match got {
                Ok(n) => {
                    let now = self.now(); // one clock read per batch
                    for (buf, slot) in bufs.iter().zip(&slots[..n]) {
                        match *slot {
                            Slot::Message(len) if pack::is_packed(&buf[..len]) => {
                                match pack::parse(&buf[..len]) {
                                    Ok(msgs) => msgs.for_each(|m| self.app_write(key, now, m)),
                                    // Malformed: dropped whole, counted.
                                    Err(_) => self.app_oversized(key),
                                }
                            }
                            Slot::Message(len) => self.app_write(key, now, &buf[..len]),
                            // Too big for a PDU: dropped, counted.
                            Slot::Oversized => self.app_oversized(key),
                            Slot::Closed | Slot::Empty => {
                                read = AppRead::Closed;
                                break 'rounds;
                            }
                        }
                    }
                    if n < bufs.len() {
                        // The socket was empty: skip the read that would only say so. A
                        // message arriving since then is a newer event.
                        read = AppRead::Drained;
                        break;
                    }
                    if self.node.is_held(Self::fid(key)) {
                        // The flow may not send more: stop reading until it is writable.
                        read = AppRead::Held;
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    read = AppRead::Drained;
                    break;
                }
                Err(_) => {
                    read = AppRead::Closed;
                    break;
                }
            }
        }
        self.app_bufs = bufs;
        self.app_slots = slots;
        self.app_headers = Some(headers);
        read
    }

    /// Remove a flow's slot, keeping its count of dropped messages in the daemon's total.
    fn forget_flow(&mut self, key: (usize, Eid)) -> Option<FlowSlot> {
        let slot = self.flows.remove(&key)?;
        self.io.deregister(slot.fd.as_fd(), slot.token);
        self.stats.closed_flow_rx_drops += slot.rx_drops;
        if let Some(f) = self.node.flow_stats(Self::fid(key)) {
            self.stats.closed_flow_rx_drops += f.rx_drops;
        }
        Some(slot)
    }

    /// The daemon's counters with what the node counts for it: paused writers, deep
    /// backlogs reported, flows refused for want of a listener.
    fn counters(&self) -> DaemonCounters {
        let n = self.node.stats();
        DaemonCounters {
            app_pauses: n.app_pauses,
            backlog_reports: n.backlog_reports,
            flows_refused: self.stats.flows_refused + n.flows_refused,
            ..self.stats
        }
    }

    /// The application wrote a message on a flow: the node sends it or holds it (then
    /// the flow's socket is not read until the node says the flow is writable again).
    fn app_write(&mut self, key: (usize, Eid), now: Instant, data: &[u8]) {
        match self.node.write(now, Self::fid(key), data) {
            Ok(Written::Sent) => {}
            // Counted by the node: pauses (`app_pauses`) and refusals (`tx_errors`).
            Ok(Written::Held) | Err(_) => {}
        }
    }

    /// The application wrote a message larger than any PDU, or a malformed pack.
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
            self.forget_flow(key);
            self.stats.app_closed += 1;
            let now = self.now();
            let _ = self.node.dealloc(now, Self::fid(key));
            tracing::debug!(layer = %self.layers[key.0].name, flow = %key.1, "flow closed by the application");
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut take = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        take(self.node.poll_timeout());
        for s in &self.shims {
            take(s.faults.as_ref().and_then(Faults::poll_timeout));
        }
        for p in self.pending.values() {
            take(Some(p.deadline));
        }
        take(self.sweep_at);
        take(self.pacer_deadline());
        next
    }

    /// Run whatever is due.
    fn on_timer(&mut self) {
        let now = self.now();
        if self.sweep_at.is_some_and(|t| t <= now) {
            self.sweep_learned(now);
        }
        self.node.handle_timeout(now);
        for s in &mut self.shims {
            if let Some(f) = &mut s.faults
                && f.poll_timeout().is_some_and(|t| t <= now)
            {
                f.release(now, &mut self.out);
                for (p, d) in self.out.drain(..) {
                    let _ = s.link.send(p, d);
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
                let _ = self.node.dealloc(now, Self::fid(key));
                send_reply(&p.conn, &ControlError::Timeout(p.name).into(), None);
            }
        }
        self.pump();
    }

    /// Reads up to [`SHIM_BATCHES`] batches from shim `si` and feeds them to the core. True
    /// if the socket is drained (or failed): wait for its next event before reading again.
    fn shim_rx(&mut self, si: usize) -> bool {
        let now = self.now();
        let mut drained = false;
        // Set once the first batch found more waiting (a node that keeps up reads its
        // socket empty at once, and spends no system call on this): the socket's receive
        // buffer is half full, or the kernel dropped datagrams at it since the last look —
        // this node falls behind. The PDUs read next left their senders about when the
        // lost ones did; marking them tells those flows' senders to slow down, as a
        // filling queue would.
        let mut overflowed = None;
        let mut pumped = false;
        for _ in 0..SHIM_BATCHES {
            let marking = overflowed == Some(true);
            match self.shim_batch(si, now, marking) {
                Ok(0) => {
                    // Nothing handed up: the socket was empty, or held only strangers'
                    // datagrams or an error from an earlier send (then read on).
                    drained = self.shims[si].link.drained();
                    break;
                }
                Ok(_) => {
                    // Move what this batch brought on — towards the sockets, and to the
                    // applications — before reading the next one: a wake-up reads up to
                    // SHIM_BATCHES batches, more than a cube queue or a flow's backlog
                    // holds, so handling them only at the end dropped bursts.
                    self.pump_at(now);
                    pumped = true;
                    if self.shims[si].link.drained() {
                        drained = true;
                        break;
                    }
                    if overflowed.is_none() {
                        overflowed = Some(self.shims[si].link.rx_pressure().congested());
                    }
                }
                Err(e) => {
                    tracing::warn!(shim = %self.shims[si].name, error = %e, "receive failed");
                    drained = true;
                    break;
                }
            }
        }
        if !pumped {
            self.pump_at(now);
        }
        drained
    }

    /// A control connection closed (or failed): its listeners and allocations under way
    /// go with it.
    fn conn_closed(&mut self, conn_id: u64) {
        if let Some(c) = self.conns.remove(&conn_id) {
            self.io.deregister(c.fd.as_fd(), c.token);
        }
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
            self.local_listener_gone(&name);
            let keep = self.static_names.get(&name).cloned().unwrap_or_default();
            for li in 0..self.layers.len() {
                if keep.contains(&li) {
                    continue;
                }
                let _ = self.node.unregister(now, IpcpId::of_index(li), &name);
            }
            self.node.unlisten(&name);
        }
        let cancelled: Vec<(usize, Eid)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.conn_id == conn_id)
            .map(|(k, _)| *k)
            .collect();
        for key in cancelled {
            self.pending.remove(&key);
            let _ = self.node.dealloc(now, Self::fid(key));
        }
        self.pump();
    }

    /// The unicast IPCPs of layer `name` (every live one if None); a local layer's name
    /// gives none (the caller handles local layers).
    fn layer_index(&self, name: Option<&str>) -> Result<Vec<usize>, ControlError> {
        let live = |l: &&Layer| !l.destroyed;
        match name {
            None => Ok((0..self.layers.len())
                .filter(|i| !self.layers[*i].destroyed)
                .collect()),
            Some(n) if self.local_index(n).is_some() => Ok(Vec::new()),
            Some(n) => {
                let v: Vec<usize> = (0..self.layers.len())
                    .filter(|i| {
                        Some(&self.layers[*i])
                            .filter(live)
                            .is_some_and(|l| l.name == n)
                    })
                    .collect();
                if v.is_empty() {
                    Err(ControlError::no_layer(n))
                } else {
                    Ok(v)
                }
            }
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
                let Some(spec) = ouro_core::QosSpec::preset(&qos) else {
                    return Some(ControlError::UnknownQos(qos).into());
                };
                if let Some(lsi) = self.local_for_alloc(&name, layer.as_deref()) {
                    return self.local_alloc(lsi, conn, &name, &qos);
                }
                let candidates = match self.layer_index(layer.as_deref()) {
                    Ok(c) => c,
                    Err(e) => return Some(e.into()),
                };
                let Some(li) = candidates.into_iter().find(|i| self.ip(*i).is_enrolled()) else {
                    return Some(ControlError::NoEnrolledLayer.into());
                };
                match self.node.alloc_flow(now, IpcpId::of_index(li), &name, spec) {
                    Ok(FlowId { eid, .. }) => {
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
                    Err(e) => ControlError::AllocFailed(e.to_string()).into(),
                }
            }
            Request::Listen { name, layers } => {
                if let Err(e) = self.may_listen(&name, conn) {
                    return Some(e.into());
                }
                let mut idx = Vec::new();
                self.local_register(&name, &layers, false);
                if layers.is_empty() {
                    idx = self.layer_index(None).unwrap_or_default();
                } else {
                    for l in &layers {
                        match self.layer_index(Some(l)) {
                            Ok(mut v) => idx.append(&mut v),
                            Err(e) => return Some(e.into()),
                        }
                    }
                }
                self.listeners
                    .entry(name.clone())
                    .or_default()
                    .push((conn_id, Rc::clone(conn)));
                self.node.listen(&name);
                for li in idx {
                    self.register_in(li, now, &name);
                }
                Reply::Ok
            }
            Request::Register { name, layer } => {
                match self.register_name(&name, layer.as_deref()) {
                    Ok(()) => Reply::Ok,
                    Err(e) => e.into(),
                }
            }
            Request::Unregister { name, layer } => match self.layer_index(layer.as_deref()) {
                Ok(idx) => {
                    self.local_unregister(&name, layer.as_deref());
                    if let Some(e) = self.static_names.get_mut(&name) {
                        e.retain(|l| !idx.contains(l));
                    }
                    for li in idx {
                        let _ = self.node.unregister(now, IpcpId::of_index(li), &name);
                    }
                    Reply::Ok
                }
                Err(e) => e.into(),
            },
            Request::ListNames => Reply::Info {
                info: Info::Names(self.name_list()),
            },
            Request::ListIpcps => Reply::Info {
                info: Info::Ipcps(self.ipcp_list()),
            },
            Request::ListFlows => Reply::Info {
                info: Info::Flows(self.flow_list()),
            },
            op @ (Request::IpcpCreate { .. }
            | Request::IpcpBootstrap { .. }
            | Request::IpcpEnroll { .. }
            | Request::IpcpConnect { .. }
            | Request::IpcpDestroy { .. }
            | Request::NameCreate { .. }
            | Request::NameBind { .. }
            | Request::NameUnbind { .. }
            | Request::NameDestroy { .. }) => match self.apply(&op) {
                Ok(()) => Reply::Ok,
                Err(e) => e.into(),
            },
            Request::Status => Reply::Info {
                info: Info::Status(Box::new(self.status())),
            },
            Request::PolicyLoad {
                layer,
                kind,
                policy,
                params,
            } => match self.load_policy(now, &layer, &kind, policy, &params) {
                Ok(()) => Reply::Ok,
                Err(e) => e.into(),
            },
            Request::PolicyStats => Reply::Info {
                info: Info::Policies(self.policy_stats()),
            },
            Request::Fault {
                layer,
                loss,
                duplicate,
                reorder,
                delay_ms,
                down,
            } => {
                let cfg = FaultConfig {
                    loss: loss.clamp(0.0, 1.0),
                    duplicate: duplicate.clamp(0.0, 1.0),
                    reorder: reorder.clamp(0.0, 1.0),
                    delay: Duration::from_millis(delay_ms),
                    down,
                };
                match self.set_faults(&layer, cfg, None) {
                    Ok(()) => Reply::Ok,
                    Err(e) => e.into(),
                }
            }
        };
        self.pump();
        Some(reply)
    }

    /// Install the policies the configuration declares for unicast IPCP `ipcp` (at start:
    /// they replace the native defaults, no probation).
    fn install_configured(&mut self, ipcp: &str, lp: &LayerPolicies) -> Result<(), String> {
        let now = self.now();
        let Some(li) = self
            .layers
            .iter()
            .position(|l| !l.destroyed && l.ipcp_name == ipcp)
        else {
            return Err(format!("no unicast IPCP `{ipcp}` for its policies"));
        };
        let layer = self.layers[li].name.as_str();
        for (kind, spec) in [
            (Kind::Routing, &lp.routing),
            (Kind::Scheduler, &lp.scheduler),
            (Kind::Auth, &lp.auth),
        ] {
            if spec.policy != "native" {
                let at = Target {
                    layer,
                    node: &mut self.node,
                    ipcp: IpcpId::of_index(li),
                    routes: &mut self.routes,
                };
                self.policies
                    .install(at, now, kind, spec, false)
                    .map_err(|reason| format!("layer `{layer}`: {reason}"))?;
            }
        }
        Ok(())
    }

    /// `ouro policy load`: hot-swap one policy of a layer (on probation).
    fn load_policy(
        &mut self,
        now: Instant,
        layer: &str,
        kind: &str,
        policy: String,
        params: &[(String, String)],
    ) -> Result<(), ControlError> {
        let Some(kind) = Kind::parse(kind) else {
            return Err(ControlError::BadArgument(format!(
                "unknown policy kind `{kind}` (routing, scheduler or auth)"
            )));
        };
        let Some(li) = self
            .layers
            .iter()
            .position(|l| !l.destroyed && l.name == layer)
        else {
            return Err(ControlError::UnknownLayer {
                kind: "unicast ",
                name: layer.to_string(),
            });
        };
        let spec = PolicySpec {
            policy,
            params: params
                .iter()
                .map(|(k, v)| (k.clone(), ouro_policy::ParamValue::from_cli(v)))
                .collect(),
        };
        let at = Target {
            layer: &self.layers[li].name,
            node: &mut self.node,
            ipcp: IpcpId::of_index(li),
            routes: &mut self.routes,
        };
        self.policies
            .install(at, now, kind, &spec, true)
            .map_err(ControlError::Policy)
    }

    fn policy_stats(&self) -> Vec<PolicyStats> {
        self.policies.stats(
            self.layers
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.destroyed)
                .map(|(li, l)| (l.name.as_str(), self.ip(li))),
        )
    }

    /// Before exiting (SIGTERM/SIGINT): deallocate every flow explicitly, so each far end
    /// cleans up at once instead of after its peer timeout. Applications' flows first (their
    /// `FlowDealloc`s may travel over N-1 flows), then allocations under way (their
    /// applications are told), local flows, and last the N-1 flows of IPCPs over unicast
    /// layers; what that produces is sent before returning, past any link's rate limit.
    pub fn shutdown(&mut self) {
        let now = self.now();
        let keys: Vec<(usize, Eid)> = self.flows.keys().copied().collect();
        let flows = keys.len();
        for key in keys {
            if let Some(slot) = self.forget_flow(key) {
                ipc::shutdown(&slot.fd);
            }
            let _ = self.node.dealloc(now, Self::fid(key));
        }
        let pending: Vec<_> = self.pending.drain().collect();
        for (key, p) in pending {
            let _ = self.node.dealloc(now, Self::fid(key));
            send_reply(&p.conn, &ControlError::ShuttingDown.into(), None);
        }
        let locals: Vec<u32> = self.local_flows.keys().copied().collect();
        for id in locals {
            self.end_local_flow(id);
        }
        self.pump();
        self.drain_ports(now);
        // Last the N-1 flows (the applications' deallocations went over them above).
        let (_, n1) = self.node.shutdown(now);
        self.pump();
        self.drain_ports(now);
        self.routes.stop();
        tracing::info!(flows, n1_flows = n1, "flows deallocated");
    }
}

/// ECN-mark a received PDU (if it is a data transfer PDU at all; the core checks the rest).
fn mark_congested(pdu: &mut [u8]) {
    if let Ok(mut p) = ouro_core::wire::DtPacket::new_checked(pdu) {
        p.mark_congested();
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
fn send_reply(conn: &OwnedFd, reply: &Reply, fd: Option<&OwnedFd>) -> bool {
    match ipc::send_msg(conn, &reply.encode(), fd) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, "control reply not delivered");
            false
        }
    }
}

/// What [`Daemon::app_read`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AppRead {
    /// It read until the socket was empty.
    Drained,
    /// It stopped because the flow may not send more: the socket may hold more, read once
    /// the node says the flow is writable.
    Held,
    /// It stopped after [`FLOW_ROUNDS`] full batches: the socket may hold more.
    More,
    /// The application closed its end.
    Closed,
}
