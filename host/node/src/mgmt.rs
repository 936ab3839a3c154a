//! Management operations: IPCPs created, bootstrapped, enrolled, connected and destroyed;
//! names registered and listened on; the shims' ports coming and going.

use crate::ids::{FlowId, IpcpId, Lower, ShimId, Via};
use crate::layer::{IpcpOptions, Layer};
use crate::{Event, Node, NodeError};
use ouro_core::identity::Identity;
use ouro_core::{Instant, Ipcp, LayerConfig, PortId};
use std::collections::BTreeMap;

impl Node {
    /// Create a unicast IPCP named `name` over `lower`. It joins a layer with
    /// [`Node::bootstrap`] or [`Node::enroll`]. Over a unicast layer its name is
    /// registered there, so its peers can allocate N-1 flows to it.
    pub fn create_ipcp(
        &mut self,
        now: Instant,
        name: &str,
        lower: Lower,
        mut opts: IpcpOptions,
    ) -> Result<IpcpId, NodeError> {
        let now = self.tick(now);
        if self.ipcp_by_name(name).is_some() {
            return Err(NodeError::NameTaken(name.to_string()));
        }
        if let Lower::Unicast(lo) = lower {
            self.live(lo)?;
        }
        let seed = self.seeds.next_u64();
        let ipcp = Ipcp::new(name, (opts.routing)(), now, seed);
        let id = IpcpId::of(self.layers.len());
        let mut layer = Layer {
            name: name.to_string(),
            layer: String::new(),
            destroyed: false,
            ipcp,
            lower,
            opts,
            seed,
            enroll_via: None,
            enroll_retry_at: None,
            connects: Vec::new(),
            names: BTreeMap::new(),
            wanted: Vec::new(),
            identity: None,
            policy: None,
        };
        layer.hand_over_routing();
        self.layers.push(layer);
        match lower {
            Lower::Unicast(lo) => self.register(now, lo, name)?,
            Lower::Shim { shim, .. } => self.schedule_shim_ports(shim),
        }
        Ok(id)
    }

    /// Give IPCP `id` its key pair (kept across a bootstrap's new IPCP).
    pub fn set_identity(&mut self, id: IpcpId, identity: Identity) -> Result<(), NodeError> {
        let l = self.live_mut(id)?;
        l.ipcp.set_identity(identity.clone());
        l.identity = Some(identity);
        Ok(())
    }

    /// Make IPCP `id` the first member of a layer configured by `config`.
    pub fn bootstrap(
        &mut self,
        now: Instant,
        id: IpcpId,
        config: LayerConfig,
    ) -> Result<(), NodeError> {
        let now = self.tick(now);
        self.check_idle(id)?;
        let l = &mut self.layers[id.index()];
        let policy = (l.opts.routing)();
        l.set_ipcp(Ipcp::bootstrap(&l.name, config, policy, now, l.seed));
        if let Some(identity) = &l.identity {
            l.ipcp.set_identity(identity.clone());
        }
        l.layer = l.ipcp.config().layer_name.clone();
        for (port, cost) in l.connects.clone() {
            l.ipcp.connect(now, port, cost);
        }
        let lower = l.lower;
        if let Lower::Shim { shim, .. } = lower {
            self.schedule_shim_ports(shim); // the IPCP is new: its ports are not yet
        }
        let address = self.layers[id.index()].ipcp.address();
        self.on_enrolled(now, id.index());
        self.events.push_back(Event::Enrolled { ipcp: id, address });
        self.pump(now);
        Ok(())
    }

    /// Enroll IPCP `id` through a member of the layer: over a shim, the one at the other end
    /// of a port; over a unicast layer, the IPCP of that name there (reached over an N-1
    /// flow, allocated first). A failed enrollment is tried again.
    pub fn enroll(&mut self, now: Instant, id: IpcpId, via: Via) -> Result<(), NodeError> {
        let now = self.tick(now);
        self.check_idle(id)?;
        self.check_via(id, &via)?;
        self.layers[id.index()].enroll_via = Some(via.clone());
        self.start_enrollment(now, id.index());
        self.pump(now);
        Ok(())
    }

    /// Ask IPCP `id` for an adjacency with the peer `via` leads to, advertising `cost`. It is
    /// asked for again whenever it goes down.
    pub fn connect(
        &mut self,
        now: Instant,
        id: IpcpId,
        via: Via,
        cost: u32,
    ) -> Result<(), NodeError> {
        let now = self.tick(now);
        self.check_via(id, &via)?;
        let cost = cost.max(1);
        match (via, self.layers[id.index()].lower) {
            (Via::Port(port), _) => self.layers[id.index()].connect(now, port, cost),
            (Via::Name(peer), Lower::Unicast(lo)) => {
                self.n1_join(now, id.index(), lo.index(), &peer, cost, false)?
            }
            (Via::Name(_), Lower::Shim { .. }) => {} // refused by check_via
        }
        self.pump(now);
        Ok(())
    }

    /// Register `name` in the layer of IPCP `id` (now if it is enrolled, else once it is).
    pub fn register(&mut self, now: Instant, id: IpcpId, name: &str) -> Result<(), NodeError> {
        let now = self.tick(now);
        let l = self.live_mut(id)?;
        if !l.wanted.iter().any(|n| n == name) {
            l.wanted.push(name.to_string());
        }
        if l.ipcp.is_enrolled() {
            register_in(l, now, name);
        }
        self.pump(now);
        Ok(())
    }

    /// An application listens on `name`: flows to it (in any layer it is registered in)
    /// are accepted ([`Event::FlowIncoming`]).
    pub fn listen(&mut self, name: &str) {
        self.listeners.insert(name.to_string());
    }

    /// No application listens on `name` any more: flows to it are refused.
    pub fn unlisten(&mut self, name: &str) {
        self.listeners.remove(name);
    }

    /// Destroy IPCP `id`: its applications' flows end (deallocated towards their peers),
    /// its N-1 flows are deallocated, and the IPCPs over it lose their ports.
    pub fn destroy(&mut self, now: Instant, id: IpcpId) -> Result<(), NodeError> {
        let now = self.tick(now);
        self.live(id)?;
        let li = id.index();
        let mine: Vec<FlowId> = self
            .flows
            .keys()
            .filter(|f| f.ipcp == id)
            .copied()
            .collect();
        for flow in mine {
            let _ = self.layers[li].ipcp.dealloc_flow(now, flow.eid);
            self.flows.remove(&flow);
            self.parked.remove(&flow);
        }
        self.n1_drop_upper(now, li);
        self.n1_drop_lower(now, li);
        // What it sent in its last moments goes out before it is replaced.
        self.pump(now);
        let l = &mut self.layers[li];
        l.destroyed = true;
        l.ipcp = Ipcp::new(&l.name, (l.opts.routing)(), now, l.seed);
        l.policy = None;
        l.name.clear();
        l.layer.clear();
        l.enroll_via = None;
        l.enroll_retry_at = None;
        l.connects.clear();
        l.names.clear();
        l.wanted.clear();
        Ok(())
    }

    /// A port of shim `shim` is up (a peer configured or learned, a link attached): the
    /// IPCP over the shim (now or later) schedules it if its ports are scheduled.
    pub fn shim_port_up(&mut self, shim: ShimId, port: PortId) {
        self.shim_ports.entry(shim).or_default().insert(port);
        self.schedule_shim_ports(shim);
    }

    /// Schedule every known port of `shim` in the IPCP over it (again after the IPCP was
    /// remade; scheduling a port twice changes nothing).
    fn schedule_shim_ports(&mut self, shim: ShimId) {
        let Some(li) = self.carrier(shim) else {
            return;
        };
        let l = &mut self.layers[li];
        if let Lower::Shim {
            scheduled: true, ..
        } = l.lower
        {
            for port in self.shim_ports.get(&shim).into_iter().flatten() {
                l.ipcp.schedule_port(*port, l.opts.queues);
            }
        }
    }

    /// A port of shim `shim` is gone: the IPCP over it loses what waits there and its
    /// adjacency on it.
    pub fn shim_port_down(&mut self, now: Instant, shim: ShimId, port: PortId) {
        let now = self.tick(now);
        if let Some(ports) = self.shim_ports.get_mut(&shim) {
            ports.remove(&port);
        }
        if let Some(li) = self.carrier(shim) {
            self.layers[li].ipcp.port_down(now, port);
            self.pump(now);
        }
    }

    /// The IPCP named `name`.
    pub fn ipcp_by_name(&self, name: &str) -> Option<IpcpId> {
        self.layers
            .iter()
            .position(|l| l.is_live() && l.name == name)
            .map(IpcpId::of)
    }

    /// The core IPCP behind `id` (for status displays and tests).
    pub fn ipcp(&self, id: IpcpId) -> Option<&Ipcp> {
        self.layers
            .get(id.index())
            .filter(|l| l.is_live())
            .map(|l| &l.ipcp)
    }

    /// The IPCP over shim `shim`, if any.
    pub fn ipcp_over_shim(&self, shim: ShimId) -> Option<IpcpId> {
        self.carrier(shim).map(IpcpId::of)
    }

    /// The live IPCPs, in creation order.
    pub fn ipcps(&self) -> impl Iterator<Item = IpcpId> + '_ {
        self.layers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_live())
            .map(|(i, _)| IpcpId::of(i))
    }

    /// What IPCP `id` sits on.
    pub fn lower_of(&self, id: IpcpId) -> Option<Lower> {
        self.layers
            .get(id.index())
            .filter(|l| l.is_live())
            .map(|l| l.lower)
    }

    /// The index of the live IPCP over `shim`.
    pub(crate) fn carrier(&self, shim: ShimId) -> Option<usize> {
        self.layers.iter().position(|l| {
            l.is_live() && matches!(l.lower, Lower::Shim { shim: s, .. } if s == shim)
        })
    }

    pub(crate) fn live(&self, id: IpcpId) -> Result<&Layer, NodeError> {
        self.layers
            .get(id.index())
            .filter(|l| l.is_live())
            .ok_or(NodeError::NoSuchIpcp(id.0))
    }

    pub(crate) fn live_mut(&mut self, id: IpcpId) -> Result<&mut Layer, NodeError> {
        self.layers
            .get_mut(id.index())
            .filter(|l| l.is_live())
            .ok_or(NodeError::NoSuchIpcp(id.0))
    }

    fn check_idle(&self, id: IpcpId) -> Result<(), NodeError> {
        let l = self.live(id)?;
        if l.ipcp.is_enrolled() || l.enroll_via.is_some() {
            return Err(NodeError::AlreadyMember(l.name.clone()));
        }
        Ok(())
    }

    fn check_via(&self, id: IpcpId, via: &Via) -> Result<(), NodeError> {
        let l = self.live(id)?;
        match (via, l.lower) {
            (Via::Port(_), Lower::Shim { .. }) | (Via::Name(_), Lower::Unicast(_)) => Ok(()),
            (Via::Port(_), Lower::Unicast(_)) => Err(NodeError::BadVia(
                l.name.clone(),
                "over a unicast layer, peers are reached by name",
            )),
            (Via::Name(_), Lower::Shim { .. }) => Err(NodeError::BadVia(
                l.name.clone(),
                "over a shim, peers are reached by port",
            )),
        }
    }

    /// Start (or restart) the enrollment of layer `li` the way it was asked for.
    pub(crate) fn start_enrollment(&mut self, now: Instant, li: usize) {
        let Some(via) = self.layers[li].enroll_via.clone() else {
            return;
        };
        match (via, self.layers[li].lower) {
            (Via::Port(port), _) => self.layers[li].ipcp.enroll_via(now, port),
            (Via::Name(peer), Lower::Unicast(lo)) => {
                if let Err(e) = self.n1_join(now, li, lo.index(), &peer, 1, true) {
                    // The lower IPCP refused outright (it is gone): tried again later.
                    let _ = e;
                    self.layers[li].enroll_retry_at = Some(now + self.config.enroll_retry);
                }
            }
            (Via::Name(_), Lower::Shim { .. }) => {}
        }
    }

    /// Layer `li` is in its layer: register the names waiting for it, and ask at once for
    /// the N-1 flows of the IPCPs over it that waited for it.
    pub(crate) fn on_enrolled(&mut self, now: Instant, li: usize) {
        let l = &mut self.layers[li];
        l.enroll_retry_at = None;
        l.layer = l.ipcp.config().layer_name.clone();
        for name in l.wanted.clone() {
            register_in(l, now, &name);
        }
        self.n1_lower_ready(now, li);
    }
}

/// Register `name` in enrolled layer `l` unless it is there already.
fn register_in(l: &mut Layer, now: Instant, name: &str) {
    let h = l.ipcp.hash_name(name);
    if !l.names.contains_key(&h) && l.ipcp.register(now, name).is_ok() {
        l.names.insert(h, name.to_string());
    }
}
