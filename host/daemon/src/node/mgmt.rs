//! IPCP management: create, bootstrap, enroll, connect, destroy and list IPCPs. The
//! configuration file and the control socket (`ouro ipcp ...`, `ouro name ...`) both go
//! through [`Daemon::apply`]: a configuration is a list of these operations.

use super::link::{Link, LinkAddr};
use super::local::LocalLayer;
use super::{Daemon, Layer, ShimSlot};
use crate::control_error::ControlError;
use crate::event_loop::Source;
use crate::keys::{KeySpec, parse_key_option};
use mio::Interest;
use ouro_control::{FaultSpec, IpcpDetail, IpcpInfo, IpcpKind, QueueOptions, Request, UdpOptions};
use ouro_core::identity::hex;
use ouro_core::{Instant, LayerConfig, PortId};
use ouro_flow::ipc;
use ouro_node::{BacklogLimits, IpcpId, IpcpOptions, Lower, RouteMode, ShimId, Via};
use ouro_shim::{FaultConfig, Shim};
use ouro_shim_local::LocalShim;
use ouro_shim_udp::{ShimOptions, UdpShim};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// How often the shims' learned peers are swept for silent ones.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// What an IPCP name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    Unicast(usize),
    Udp(usize),
    Local(usize),
}

impl Daemon {
    /// Apply one management operation (from the configuration or a control request).
    pub(super) fn apply(&mut self, op: &Request) -> Result<(), ControlError> {
        match op {
            Request::IpcpCreate {
                name,
                kind,
                lower,
                udp,
                fault,
                queues,
                key,
            } => {
                // Checked before anything is made: a bad setting makes nothing.
                let faults = fault_setting(*kind, fault.as_ref())?;
                self.create(
                    name,
                    *kind,
                    lower.as_deref(),
                    udp.as_ref(),
                    queues,
                    key.as_deref(),
                )?;
                match faults {
                    Some((config, seed)) => self.set_faults(name, config, seed),
                    None => Ok(()),
                }
            }
            Request::IpcpBootstrap {
                name,
                layer,
                hello_ms,
                dead_ms,
            } => self.bootstrap(name, layer, *hello_ms, *dead_ms),
            Request::IpcpEnroll {
                name,
                layer,
                via,
                over,
            } => self.enroll(name, layer, via.as_deref(), over.as_deref()),
            Request::IpcpConnect {
                name,
                to,
                over,
                cost,
            } => self.connect(name, to, over.as_deref(), *cost),
            Request::IpcpDestroy { name } => self.destroy(name),
            Request::NameCreate { name } => self.name_create(name),
            Request::NameBind { name, program, pid } => {
                self.name_bind(name, program.as_deref(), *pid)
            }
            Request::NameUnbind { name, program, pid } => {
                self.name_unbind(name, program.as_deref(), *pid)
            }
            Request::NameDestroy { name } => self.name_destroy(name),
            Request::Register { name, layer } => self.register_name(name, layer.as_deref()),
            other => Err(ControlError::BadArgument(format!(
                "not a management operation: {other:?}"
            ))),
        }
    }

    fn find(&self, name: &str) -> Option<Found> {
        if let Some(i) = self
            .layers
            .iter()
            .position(|l| !l.destroyed && l.ipcp_name == name)
        {
            return Some(Found::Unicast(i));
        }
        if let Some(i) = self
            .shims
            .iter()
            .position(|s| s.name == name && s.link.udp().is_some())
        {
            return Some(Found::Udp(i));
        }
        self.local_index(name).map(Found::Local)
    }

    fn unicast(&self, name: &str) -> Result<usize, ControlError> {
        let not_unicast = |kind| ControlError::NotUnicast {
            name: name.to_string(),
            kind,
        };
        match self.find(name) {
            Some(Found::Unicast(i)) => Ok(i),
            Some(Found::Udp(_)) => Err(not_unicast("udp")),
            Some(Found::Local(_)) => Err(not_unicast("local")),
            None => Err(ControlError::UnknownIpcp(name.to_string())),
        }
    }

    fn create(
        &mut self,
        name: &str,
        kind: IpcpKind,
        lower: Option<&str>,
        udp: Option<&UdpOptions>,
        queues: &QueueOptions,
        key: Option<&str>,
    ) -> Result<(), ControlError> {
        let bad = |m: &str| Err(ControlError::BadArgument(m.into()));
        if name.trim().is_empty() {
            return bad("an IPCP name may not be empty");
        }
        if self.find(name).is_some() {
            return Err(ControlError::Exists {
                what: "IPCP",
                name: name.to_string(),
            });
        }
        if kind != IpcpKind::Unicast && lower.is_some() {
            return bad(&format!("a {kind:?} IPCP is a shim: it has no lower layer").to_lowercase());
        }
        if kind != IpcpKind::Udp && udp.is_some() {
            return bad("UDP options are for a udp IPCP");
        }
        if kind != IpcpKind::Unicast && (!queues.is_default() || key.is_some()) {
            return bad("queue sizes and keys are for a unicast IPCP");
        }
        match kind {
            IpcpKind::Udp => {
                let Some(u) = udp else {
                    return bad("a udp IPCP needs an address to bind (`--bind`)");
                };
                self.create_udp(name, u)?;
            }
            IpcpKind::Local => self.locals.push(LocalLayer {
                name: name.to_string(),
                shim: LocalShim::default(),
                names: BTreeMap::new(),
                faults: None,
            }),
            IpcpKind::Unicast => {
                let queues =
                    super::queues::Queues::new(queues).map_err(ControlError::BadArgument)?;
                let spec = match key {
                    // A path arrives absolute (made so by the CLI or the configuration).
                    Some(k) => parse_key_option(k, std::path::Path::new(""))
                        .map_err(ControlError::BadArgument)?,
                    None => KeySpec::Random,
                };
                let (identity, origin) =
                    crate::keys::identity(&spec).map_err(ControlError::BadArgument)?;
                let opts = IpcpOptions {
                    queues: queues.ports,
                    backlog: BacklogLimits {
                        msgs: queues.backlog.msgs,
                        bytes: queues.backlog.bytes,
                    },
                    // Its routing policy runs on the routing worker thread.
                    route_mode: RouteMode::Requested,
                    ..IpcpOptions::default()
                };
                let now = self.now();
                let id = self
                    .node
                    .create_ipcp(now, name, None, opts)
                    .map_err(|e| ControlError::BadArgument(e.to_string()))?;
                let li = id.index();
                debug_assert_eq!(li, self.layers.len(), "daemon and node layers in step");
                self.hand_over_routing(id);
                let _ = self.node.set_identity(id, identity.clone());
                tracing::info!(ipcp = name, public_key = %hex(&identity.public()), "IPCP key {origin}");
                self.layers.push(Layer {
                    name: String::new(),
                    ipcp_name: name.to_string(),
                    destroyed: false,
                    below: None,
                    queues,
                });
                if let Some(l) = lower
                    && let Err(e) = self.set_lower(li, l)
                {
                    // The slot stays, idle, as for a destroyed IPCP (ids are indices).
                    let _ = self.node.destroy(now, id);
                    self.routes.forget(id);
                    self.layers[li].destroyed = true;
                    self.layers[li].ipcp_name.clear();
                    return Err(e);
                }
            }
        }
        tracing::info!(ipcp = name, ?kind, "IPCP created");
        Ok(())
    }

    /// The unicast IPCP over shim `id`.
    fn carrier(&self, id: ShimId) -> Option<&Layer> {
        self.layers
            .iter()
            .find(|l| !l.destroyed && l.shim() == Some(id))
    }

    fn create_udp(&mut self, name: &str, u: &UdpOptions) -> Result<(), ControlError> {
        let addr = |s: &str| -> Result<SocketAddr, ControlError> {
            s.parse()
                .map_err(|_| ControlError::BadArgument(format!("`{s}` is not an address:port")))
        };
        let bind = addr(&u.bind)?;
        let mut peers = Vec::new();
        for (n, a) in &u.peers {
            peers.push((n.clone(), addr(a)?));
        }
        let mut opts = ShimOptions {
            keep_sent: true, // reused for received PDUs (`Spare`)
            recv_datagrams: super::SHIM_RECV_DATAGRAMS,
            ..ShimOptions::default()
        };
        if let Some(m) = u.max_learned {
            opts.max_learned = m;
        }
        if let Some(t) = u.learned_ttl_ms {
            opts.learned_ttl = (t > 0).then(|| Duration::from_millis(t));
        }
        let mut udp = UdpShim::bind_unregistered(bind, opts)
            .map_err(|e| ControlError::BadArgument(format!("layer `{name}`: {e}")))?;
        let mut peer_names = BTreeMap::new();
        for (n, a) in peers {
            let port = udp
                .add_peer(a)
                .map_err(|e| ControlError::BadArgument(format!("layer `{name}`: {e}")))?;
            peer_names.insert(port, n);
        }
        if opts.learned_ttl.is_some() && self.sweep_at.is_none() {
            self.sweep_at = Some(self.now() + SWEEP_EVERY);
        }
        let pacer =
            ouro_node::pacer::Pacer::new(u.schedule.unwrap_or(true), u.rate_pps, self.now());
        let id = self.new_shim_id();
        let token = self
            .io
            .register(udp.as_fd(), Source::Shim(id), Interest::READABLE)
            .map_err(|e| {
                ControlError::Internal(format!("cannot watch the socket of `{name}`: {e}"))
            })?;
        let mut pacer = pacer;
        for (port, _) in udp.peers() {
            pacer.add_port(port);
            self.node.shim_port_up(id, port);
        }
        self.shims.push(ShimSlot {
            name: name.to_string(),
            id,
            link: Link::Udp(udp),
            faults: None,
            peer_names,
            pacer,
            token: Some(token),
            // Datagrams may have come before it was watched.
            readable: true,
            watching_room: false,
        });
        self.io.again(token);
        Ok(())
    }

    /// Attach unicast IPCP `ipcp` to local layer `lsi`: its end of the hub becomes a shim
    /// of the daemon (in process: no descriptor, unpaced), with the layer's faults.
    fn attach_local(&mut self, lsi: usize, ipcp: &str, id: ShimId) {
        let now = self.now();
        let l = &mut self.locals[lsi];
        let end = l.shim.attach(ipcp);
        let salt = end.member().map_or(0, |m| u64::from(m.0));
        self.shims.push(ShimSlot {
            name: l.name.clone(),
            id,
            faults: l.faults.map(|f| f.injector(salt)),
            link: Link::Local(end),
            peer_names: BTreeMap::new(),
            pacer: ouro_node::pacer::Pacer::new(false, None, now),
            token: None,
            readable: false,
            watching_room: false,
        });
    }

    /// Put unicast IPCP `li` over the shim layer `lower` (one lower layer per IPCP).
    fn set_lower(&mut self, li: usize, lower: &str) -> Result<(), ControlError> {
        let ipcp = self.layers[li].ipcp_name.clone();
        let current = self.lower_name(li);
        if let Some(c) = current {
            return if c == lower {
                Ok(())
            } else {
                Err(ControlError::Busy(format!(
                    "IPCP `{ipcp}` already runs over `{c}` (one lower layer per IPCP)"
                )))
            };
        }
        match self.find(lower) {
            Some(Found::Udp(si)) => {
                let shim = &self.shims[si];
                if let Some(other) = self.carrier(shim.id) {
                    return Err(ControlError::Busy(format!(
                        "udp layer `{lower}` already carries IPCP `{}`",
                        other.ipcp_name
                    )));
                }
                let (id, scheduled) = (shim.id, shim.pacer.enabled());
                self.node_lower(
                    li,
                    Lower::Shim {
                        shim: id,
                        scheduled,
                    },
                )?;
                self.layers[li].below = Some(super::Below::Shim(id));
            }
            Some(Found::Local(lsi)) => {
                let id = self.new_shim_id();
                self.node_lower(
                    li,
                    Lower::Shim {
                        shim: id,
                        scheduled: false,
                    },
                )?;
                self.attach_local(lsi, &ipcp, id);
                self.layers[li].below = Some(super::Below::Shim(id));
            }
            Some(Found::Unicast(lo)) => {
                if lo == li {
                    return Err(ControlError::BadArgument(format!(
                        "IPCP `{ipcp}` cannot run over itself"
                    )));
                }
                if self.below(lo).contains(&li) {
                    return Err(ControlError::BadArgument(format!(
                        "`{lower}` already runs over `{ipcp}`"
                    )));
                }
                // Its ports are N-1 flows in `lower`'s layer, allocated to its name there.
                self.node_lower(li, Lower::Unicast(IpcpId::of_index(lo)))?;
                self.layers[li].below = Some(super::Below::Unicast(lo));
                let e = self.static_names.entry(ipcp.clone()).or_default();
                if !e.contains(&lo) {
                    e.push(lo);
                }
                let now = self.now();
                self.register_in(lo, now, &ipcp);
            }
            None => {
                return Err(ControlError::BadArgument(format!(
                    "no IPCP `{lower}` to run over"
                )));
            }
        }
        Ok(())
    }

    /// The name of the layer below unicast IPCP `li` (for an IPCP over a unicast layer: the
    /// lower IPCP's name).
    pub(super) fn lower_name(&self, li: usize) -> Option<String> {
        match self.layers[li].below? {
            super::Below::Shim(id) => Some(self.shims[self.shim_index(id)?].name.clone()),
            super::Below::Unicast(lo) => Some(self.layers[lo].ipcp_name.clone()),
        }
    }

    /// The unicast IPCPs below `li`, nearest first.
    fn below(&self, li: usize) -> Vec<usize> {
        let mut v = Vec::new();
        let mut at = self.layers[li].over();
        while let Some(x) = at {
            if v.contains(&x) {
                break;
            }
            v.push(x);
            at = self.layers[x].over();
        }
        v
    }

    /// The port of unicast IPCP `li` towards `peer` over its lower layer.
    /// Give the node's IPCP `li` its lower layer.
    fn node_lower(&mut self, li: usize, lower: Lower) -> Result<(), ControlError> {
        let now = self.now();
        self.node
            .set_lower(now, IpcpId::of_index(li), lower)
            .map_err(|e| ControlError::Busy(e.to_string()))
    }

    /// A new shim id for the node.
    pub(super) fn new_shim_id(&mut self) -> ShimId {
        self.next_shim += 1;
        ShimId(self.next_shim)
    }

    /// The port of unicast IPCP `li` towards `peer` over its shim: a configured peer's
    /// name or an `address:port` on a UDP shim (a new configured peer), another member's
    /// IPCP name on a local one.
    fn port_to(&mut self, li: usize, peer: &str) -> Result<PortId, ControlError> {
        let ipcp = self.layers[li].ipcp_name.clone();
        let Some(si) = self.layers[li].shim().and_then(|id| self.shim_index(id)) else {
            return Err(ControlError::BadArgument(format!(
                "IPCP `{ipcp}` has no lower layer: give one (`--over LAYER`)"
            )));
        };
        let addr = match self.local_below(li) {
            Some((lsi, me)) => {
                let l = &self.locals[lsi];
                let other = l.shim.member(peer).ok_or_else(|| {
                    ControlError::BadArgument(format!(
                        "no IPCP `{peer}` over local layer `{}`",
                        l.name
                    ))
                })?;
                if other == me {
                    return Err(ControlError::BadArgument(format!(
                        "IPCP `{ipcp}` cannot connect to itself"
                    )));
                }
                LinkAddr::Local(other)
            }
            None => {
                let shim = &self.shims[si];
                if let Some((p, _)) = shim.peer_names.iter().find(|(_, n)| n.as_str() == peer) {
                    return Ok(*p);
                }
                let Ok(addr) = peer.parse::<SocketAddr>() else {
                    return Err(ControlError::BadArgument(format!(
                        "no peer `{peer}` in layer `{}` (give a peer name or address:port)",
                        shim.name
                    )));
                };
                LinkAddr::Udp(addr)
            }
        };
        let shim = &mut self.shims[si];
        let port = shim
            .link
            .add_peer(addr)
            .map_err(|e| ControlError::BadArgument(format!("layer `{}`: {e}", shim.name)))?;
        // Scheduled if the shim's ports are (a local shim's are not).
        shim.pacer.add_port(port);
        self.node.shim_port_up(shim.id, port);
        Ok(port)
    }

    fn check_idle(&self, li: usize) -> Result<(), ControlError> {
        let l = &self.layers[li];
        if self.node.is_joining_or_member(IpcpId::of_index(li)) {
            return Err(ControlError::Busy(format!(
                "IPCP `{}` is already in layer `{}`",
                l.ipcp_name, l.name
            )));
        }
        Ok(())
    }

    fn bootstrap(
        &mut self,
        name: &str,
        layer: &str,
        hello_ms: Option<u64>,
        dead_ms: Option<u64>,
    ) -> Result<(), ControlError> {
        let li = self.unicast(name)?;
        self.check_idle(li)?;
        check_layer_name(layer)?;
        if self.local_index(layer).is_some() || self.shims.iter().any(|s| s.name == layer) {
            return Err(ControlError::BadArgument(format!(
                "`{layer}` is the name of a shim layer"
            )));
        }
        let hello = hello_ms.unwrap_or(1_000);
        let dead = dead_ms.unwrap_or(4_000);
        if hello < 10 || dead <= hello {
            return Err(ControlError::BadArgument(
                "need hello_ms >= 10 and dead_ms > hello_ms".into(),
            ));
        }
        let mut lc = LayerConfig::named(layer);
        if hello_ms.is_some() {
            lc.hello_interval = Duration::from_millis(hello);
        }
        if dead_ms.is_some() {
            lc.dead_interval = Duration::from_millis(dead);
        }
        let now = self.now();
        self.node
            .bootstrap(now, IpcpId::of_index(li), lc)
            .map_err(|e| ControlError::Busy(e.to_string()))?;
        // A new IPCP, with a new routing policy for the worker.
        self.hand_over_routing(IpcpId::of_index(li));
        self.layers[li].name = layer.to_string();
        tracing::info!(ipcp = name, layer, "bootstrapped");
        Ok(())
    }

    fn enroll(
        &mut self,
        name: &str,
        layer: &str,
        via: Option<&str>,
        over: Option<&str>,
    ) -> Result<(), ControlError> {
        let li = self.unicast(name)?;
        self.check_idle(li)?;
        check_layer_name(layer)?;
        if let Some(o) = over {
            self.set_lower(li, o)?;
        }
        let via = match via {
            Some(v) => v.to_string(),
            None => self.member_of_layer_nearby(li, layer)?,
        };
        let how = if self.layers[li].over().is_some() {
            Via::Name(via.clone())
        } else {
            Via::Port(self.port_to(li, &via)?)
        };
        let now = self.now();
        self.node
            .enroll(now, IpcpId::of_index(li), how)
            .map_err(|e| ControlError::BadArgument(e.to_string()))?;
        self.layers[li].name = layer.to_string();
        tracing::info!(ipcp = name, layer, via, "enrolling");
        Ok(())
    }

    /// On a local lower layer: an IPCP over the same local shim already in `layer`.
    fn member_of_layer_nearby(&self, li: usize, layer: &str) -> Result<String, ControlError> {
        let Some((lsi, _)) = self.local_below(li) else {
            return Err(ControlError::BadArgument(
                "say which peer to enroll through (`--via PEER`)".into(),
            ));
        };
        self.layers
            .iter()
            .enumerate()
            .find(|(i, l)| {
                !l.destroyed
                    && l.name == layer
                    && self.ip(*i).is_enrolled()
                    && self.local_below(*i).is_some_and(|(x, _)| x == lsi)
            })
            .map(|(_, l)| l.ipcp_name.clone())
            .ok_or_else(|| {
                ControlError::BadArgument(format!(
                    "no member of layer `{layer}` over local layer `{}`: give `--via`",
                    self.locals[lsi].name
                ))
            })
    }

    fn connect(
        &mut self,
        name: &str,
        to: &str,
        over: Option<&str>,
        cost: u32,
    ) -> Result<(), ControlError> {
        let li = self.unicast(name)?;
        if let Some(o) = over {
            self.set_lower(li, o)?;
        }
        let cost = cost.max(1);
        let how = if self.layers[li].over().is_some() {
            Via::Name(to.to_string())
        } else {
            Via::Port(self.port_to(li, to)?)
        };
        let now = self.now();
        self.node
            .connect(now, IpcpId::of_index(li), how, cost)
            .map_err(|e| ControlError::BadArgument(e.to_string()))?;
        tracing::info!(ipcp = name, to, "adjacency requested");
        Ok(())
    }

    fn destroy(&mut self, name: &str) -> Result<(), ControlError> {
        match self.find(name) {
            None => Err(ControlError::UnknownIpcp(name.to_string())),
            Some(Found::Unicast(li)) => {
                if let Some(up) = self
                    .layers
                    .iter()
                    .find(|l| !l.destroyed && l.over() == Some(li))
                {
                    return Err(ControlError::Busy(format!(
                        "IPCP `{name}` carries IPCP `{}`: destroy that first",
                        up.ipcp_name
                    )));
                }
                self.destroy_unicast(li);
                Ok(())
            }
            Some(Found::Udp(si)) => {
                if let Some(l) = self.carrier(self.shims[si].id) {
                    return Err(ControlError::Busy(format!(
                        "udp layer `{name}` carries IPCP `{}`: destroy that first",
                        l.ipcp_name
                    )));
                }
                self.remove_shim(si);
                tracing::info!(ipcp = name, "udp IPCP destroyed");
                Ok(())
            }
            Some(Found::Local(lsi)) => {
                if let Some((_, m)) = self.locals[lsi].shim.members().first() {
                    return Err(ControlError::Busy(format!(
                        "local layer `{name}` carries IPCP `{m}`: destroy that first"
                    )));
                }
                let ids: Vec<u32> = self
                    .local_flows
                    .iter()
                    .filter(|(_, f)| f.layer == name)
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.end_local_flow(id);
                }
                self.locals.remove(lsi);
                tracing::info!(ipcp = name, "local IPCP destroyed");
                Ok(())
            }
        }
    }

    /// End unicast IPCP `li`: its flows end (peers are told), its names go, its neighbours
    /// over a local shim see the port go down. The slot stays, idle, so indices held
    /// elsewhere stay valid.
    fn destroy_unicast(&mut self, li: usize) {
        let now = self.now();
        if self.layers[li].over().is_some() {
            let name = self.layers[li].ipcp_name.clone();
            self.static_names.remove(&name);
        }
        let keys: Vec<_> = self.flows.keys().filter(|k| k.0 == li).copied().collect();
        for key in keys {
            if let Some(slot) = self.forget_flow(key) {
                ipc::shutdown(&slot.fd);
            }
        }
        let pending: Vec<_> = self.pending.keys().filter(|k| k.0 == li).copied().collect();
        for key in pending {
            if let Some(p) = self.pending.remove(&key) {
                super::send_reply(&p.conn, &ControlError::LayerGone.into(), None);
            }
        }
        // The node deallocates its flows and N-1 flows (and unregisters its name below),
        // and sends what that produced while the ports still exist.
        let _ = self.node.destroy(now, IpcpId::of_index(li));
        self.routes.forget(IpcpId::of_index(li));
        self.pump();
        for e in self.static_names.values_mut() {
            e.retain(|x| *x != li);
        }
        if self.local_below(li).is_some()
            && let Some(si) = self.layers[li].shim().and_then(|id| self.shim_index(id))
        {
            // Its end of the local layer goes: the other members' ports to it go down.
            let mut end = self.remove_shim(si);
            let gone = match &mut end.link {
                Link::Local(e) => e.detach(),
                Link::Udp(_) => Vec::new(),
            };
            for (other, port) in gone {
                if let Some(s) = self
                    .shims
                    .iter()
                    .find(|s| s.name == end.name && s.link.local_member() == Some(other))
                {
                    self.node.shim_port_down(now, s.id, port);
                }
            }
        }
        let name = std::mem::take(&mut self.layers[li].ipcp_name);
        self.policies.forget(&self.layers[li].name);
        let l = &mut self.layers[li];
        l.destroyed = true;
        l.name.clear();
        if let Some(super::Below::Shim(id)) = l.below.take()
            && let Some(si) = self.shim_index(id)
        {
            self.shims[si].pacer.clear_ports();
        }
        tracing::info!(ipcp = name, "unicast IPCP destroyed");
    }

    /// Take shim `si` out of the daemon (its descriptor is no longer watched).
    fn remove_shim(&mut self, si: usize) -> ShimSlot {
        let shim = self.shims.remove(si);
        if let (Some(token), Some(fd)) = (shim.token, shim.link.fd()) {
            self.io.deregister(fd, token);
        }
        shim
    }

    /// Forget the shims' silent learned peers; their ports go down in the IPCP above.
    pub(super) fn sweep_learned(&mut self, now: Instant) {
        self.sweep_at = Some(now + SWEEP_EVERY);
        for si in 0..self.shims.len() {
            let gone = self.shims[si].link.expire(now);
            let id = self.shims[si].id;
            for p in gone {
                tracing::info!(shim = %self.shims[si].name, port = %p, "learned peer expired");
                self.node.shim_port_down(now, id, p);
            }
        }
    }

    /// The IPCPs of this system (what `ouro ipcp list` prints).
    pub(super) fn ipcp_list(&self) -> Vec<IpcpInfo> {
        let mut v = Vec::new();
        for s in &self.shims {
            let Some(udp) = s.link.udp() else {
                continue; // a local layer's end: the layer is listed below
            };
            v.push(IpcpInfo {
                name: s.name.clone(),
                layer: Some(s.name.clone()),
                kind: IpcpDetail::Udp {
                    bind: udp.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                    peers: s.link.peers().len(),
                    scheduled: s.pacer.enabled(),
                    rate_pps: s.pacer.rate_pps(),
                },
            });
        }
        for l in &self.locals {
            v.push(IpcpInfo {
                name: l.name.clone(),
                layer: Some(l.name.clone()),
                kind: IpcpDetail::Local {
                    members: l.shim.members().into_iter().map(|(_, n)| n).collect(),
                },
            });
        }
        for (li, l) in self.layers.iter().enumerate().filter(|(_, l)| !l.destroyed) {
            v.push(IpcpInfo {
                name: l.ipcp_name.clone(),
                layer: (!l.name.is_empty()).then(|| l.name.clone()),
                kind: IpcpDetail::Unicast {
                    enrolled: self.ip(li).is_enrolled(),
                    address: self.ip(li).address().0,
                    lower: self.lower_name(li),
                    neighbors: self.ip(li).neighbors().len(),
                },
            });
        }
        v
    }
}

/// The fault injection a new IPCP of `kind` asks for, checked: its setting and its seed
/// (None: from the node's name). Only a shim layer (udp or local) takes one.
fn fault_setting(
    kind: IpcpKind,
    fault: Option<&FaultSpec>,
) -> Result<Option<(FaultConfig, Option<u64>)>, ControlError> {
    let Some(f) = fault else {
        return Ok(None);
    };
    if kind == IpcpKind::Unicast {
        return Err(ControlError::BadArgument(
            "fault injection is for a shim IPCP (udp or local)".into(),
        ));
    }
    let config = FaultConfig {
        loss: f.loss,
        duplicate: f.duplicate,
        reorder: f.reorder,
        delay: Duration::from_millis(f.delay_ms),
        down: f.down,
    };
    config
        .check()
        .map_err(|e| ControlError::BadArgument(e.to_string()))?;
    Ok(Some((config, (f.seed != 0).then_some(f.seed))))
}

fn check_layer_name(layer: &str) -> Result<(), ControlError> {
    if layer.trim().is_empty() {
        Err(ControlError::BadArgument(
            "a layer name may not be empty".into(),
        ))
    } else {
        Ok(())
    }
}
