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
        lower: impl Into<Option<Lower>>,
        mut opts: IpcpOptions,
    ) -> Result<IpcpId, NodeError> {
        let now = self.tick(now);
        let lower = lower.into();
        if self.ipcp_by_name(name).is_some() {
            return Err(NodeError::NameTaken(name.to_string()));
        }
        if let Some(Lower::Unicast(lo)) = lower {
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
        self.attach(now, id.index());
        Ok(id)
    }

    /// Put IPCP `id`, created without one, over `lower` (a no-op if it is there already).
    pub fn set_lower(&mut self, now: Instant, id: IpcpId, lower: Lower) -> Result<(), NodeError> {
        let now = self.tick(now);
        let l = self.live(id)?;
        match l.lower {
            Some(x) if x == lower => return Ok(()),
            Some(_) => return Err(NodeError::HasLower(l.name.clone())),
            None => {}
        }
        if let Lower::Unicast(lo) = lower {
            let lname = self.live(lo)?.name.clone();
            if lo == id || self.below(lo).contains(&id) {
                return Err(NodeError::LowerLoop(l.name.clone(), lname));
            }
        }
        if let Lower::Shim { shim, .. } = lower
            && let Some(other) = self.carrier(shim)
        {
            return Err(NodeError::ShimTaken(self.layers[other].name.clone()));
        }
        self.layers[id.index()].lower = Some(lower);
        self.attach(now, id.index());
        Ok(())
    }

    /// The IPCPs below `id`, nearest first.
    pub fn below(&self, id: IpcpId) -> Vec<IpcpId> {
        let mut v = Vec::new();
        let mut at = self.layers.get(id.index()).and_then(|l| l.lower);
        while let Some(Lower::Unicast(x)) = at {
            if v.contains(&x) {
                break;
            }
            v.push(x);
            at = self.layers.get(x.index()).and_then(|l| l.lower);
        }
        v
    }

    /// Layer `li` got its lower layer: over a unicast layer its name is registered there;
    /// over a shim, the shim's ports are scheduled.
    fn attach(&mut self, now: Instant, li: usize) {
        match self.layers[li].lower {
            Some(Lower::Unicast(lo)) => {
                let name = self.layers[li].name.clone();
                let _ = self.register(now, lo, &name);
            }
            Some(Lower::Shim { shim, .. }) => self.schedule_shim_ports(shim),
            None => {}
        }
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
        if let Some(Lower::Shim { shim, .. }) = lower {
            self.schedule_shim_ports(shim); // the IPCP is new: its ports are not yet
        }
        let address = self.layers[id.index()].ipcp.address();
        self.on_enrolled(now, id.index());
        self.events.push_back(Event::Enrolled { ipcp: id, address });
        self.dirty = true;
        Ok(())
    }

    /// Enroll IPCP `id` through a member of the layer: over a shim, the one at the other end
    /// of a port; over a unicast layer, the IPCP of that name there (reached over an N-1
    /// flow, allocated first). A failed enrollment is tried again.
    ///
    /// Over a shim, an IPCP on its way in (not a member yet) may be given another port: an
    /// attempt under way is abandoned for one through `via` at once; a failed one waiting
    /// to be tried again is tried through `via`, at its time.
    pub fn enroll(&mut self, now: Instant, id: IpcpId, via: Via) -> Result<(), NodeError> {
        let now = self.tick(now);
        self.check_via(id, &via)?;
        if let Err(e) = self.check_idle(id) {
            let l = &self.layers[id.index()];
            let retarget = !l.ipcp.is_enrolled()
                && matches!((&l.enroll_via, &via), (Some(Via::Port(_)), Via::Port(_)));
            if !retarget {
                return Err(e);
            }
        }
        let l = &mut self.layers[id.index()];
        l.enroll_via = Some(via);
        if l.enroll_retry_at.is_none() {
            self.start_enrollment(now, id.index());
        }
        self.dirty = true;
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
            (Via::Name(peer), Some(Lower::Unicast(lo))) => {
                self.n1_join(now, id.index(), lo.index(), &peer, cost, false)?
            }
            (Via::Name(_), _) => {} // refused by check_via
        }
        self.dirty = true;
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
        self.dirty = true;
        Ok(())
    }

    /// Unregister `name` from the layer of IPCP `id` (and forget it is wanted there).
    pub fn unregister(&mut self, now: Instant, id: IpcpId, name: &str) -> Result<(), NodeError> {
        let now = self.tick(now);
        let l = self.live_mut(id)?;
        l.wanted.retain(|n| n != name);
        let h = l.ipcp.hash_name(name);
        if l.names.remove(&h).is_some() {
            let _ = l.ipcp.unregister(now, name);
        }
        self.dirty = true;
        Ok(())
    }

    /// The names registered in the layer of IPCP `id` (not those waiting for it to enroll).
    pub fn registered(&self, id: IpcpId) -> impl Iterator<Item = &str> + '_ {
        self.layers
            .get(id.index())
            .filter(|l| l.is_live())
            .into_iter()
            .flat_map(|l| l.names.values().map(String::as_str))
    }

    /// The name of IPCP `id` and of its layer (empty until it joins one).
    pub fn names_of(&self, id: IpcpId) -> Option<(&str, &str)> {
        self.live(id)
            .ok()
            .map(|l| (l.name.as_str(), l.layer.as_str()))
    }

    /// True while IPCP `id` is in a layer or on its way into one.
    pub fn is_joining_or_member(&self, id: IpcpId) -> bool {
        self.check_idle(id).is_err()
    }

    /// Give back the buffer of a PDU shim `shim` has sent: the IPCP over the shim builds
    /// later PDUs in it. Returns the buffer if nobody keeps it.
    pub fn recycle(&mut self, shim: ShimId, buf: Vec<u8>) -> Option<Vec<u8>> {
        match self.carrier(shim) {
            Some(li) => self.layers[li].ipcp.recycle(buf),
            None => Some(buf),
        }
    }

    /// Before the system stops: every application flow is deallocated (the peers are
    /// told), then every N-1 flow. What that sends comes out of [`Node::poll_transmit`].
    /// Returns (application flows, N-1 flows) deallocated.
    pub fn shutdown(&mut self, now: Instant) -> (usize, usize) {
        let now = self.tick(now);
        let flows: Vec<FlowId> = self.flows.keys().copied().collect();
        for flow in &flows {
            let _ = self.layers[flow.ipcp.index()]
                .ipcp
                .dealloc_flow(now, flow.eid);
            self.flows.remove(flow);
        }
        self.parked.clear();
        // The applications' deallocations may travel over N-1 flows: send them first.
        self.pump(now);
        let mut n1 = 0;
        for li in 0..self.layers.len() {
            if self.layers[li].is_live() && matches!(self.layers[li].lower, Some(Lower::Unicast(_)))
            {
                n1 += self.n1_ports(IpcpId::of(li)).len();
                self.n1_drop_upper(now, li);
            }
        }
        self.pump(now);
        (flows.len(), n1)
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

    /// From now on, keep the PDUs of IPCP `id`, over a shim, in per-port, per-cube queues
    /// bounded by `limits`, which the driver drains with [`Node::dequeue`]: as if it had
    /// been made over [`Lower::Shim`] with `scheduled` set and these
    /// [`IpcpOptions::queues`]. What it sent before went out already. Over a unicast layer
    /// its ports are scheduled anyway: only the limits of the ports it opens later change.
    pub fn schedule_ports(
        &mut self,
        id: IpcpId,
        limits: ouro_core::sched::QueueLimits,
    ) -> Result<(), NodeError> {
        let l = self.live_mut(id)?;
        l.opts.queues = limits;
        match l.lower {
            Some(Lower::Shim { shim, .. }) => {
                l.lower = Some(Lower::Shim {
                    shim,
                    scheduled: true,
                });
                self.schedule_shim_ports(shim);
                Ok(())
            }
            Some(Lower::Unicast(_)) => Ok(()),
            None => Err(NodeError::NoLower(l.name.clone())),
        }
    }

    /// Schedule every known port of `shim` in the IPCP over it (again after the IPCP was
    /// remade; scheduling a port twice changes nothing).
    fn schedule_shim_ports(&mut self, shim: ShimId) {
        let Some(li) = self.carrier(shim) else {
            return;
        };
        let l = &mut self.layers[li];
        if let Some(Lower::Shim {
            scheduled: true, ..
        }) = l.lower
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
            self.dirty = true;
        }
    }

    /// The IPCP named `name`.
    pub fn ipcp_by_name(&self, name: &str) -> Option<IpcpId> {
        self.layers
            .iter()
            .position(|l| l.is_live() && l.name == name)
            .map(IpcpId::of)
    }

    /// The core IPCP behind `id` (for status displays and tests). A destroyed IPCP's slot
    /// holds an idle one.
    pub fn ipcp(&self, id: IpcpId) -> Option<&Ipcp> {
        self.layers.get(id.index()).map(|l| &l.ipcp)
    }

    /// The core IPCP behind `id`, to change (its policies, say). What the call makes it
    /// send or report comes out of the node's outputs as usual.
    pub fn ipcp_mut(&mut self, id: IpcpId) -> Option<&mut Ipcp> {
        self.dirty = true;
        self.layers
            .get_mut(id.index())
            .filter(|l| l.is_live())
            .map(|l| &mut l.ipcp)
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
            .and_then(|l| l.lower)
    }

    /// The index of the live IPCP over `shim`.
    pub(crate) fn carrier(&self, shim: ShimId) -> Option<usize> {
        self.layers.iter().position(|l| {
            l.is_live() && matches!(l.lower, Some(Lower::Shim { shim: s, .. }) if s == shim)
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
            (Via::Port(_), Some(Lower::Shim { .. })) | (Via::Name(_), Some(Lower::Unicast(_))) => {
                Ok(())
            }
            (Via::Port(_), Some(Lower::Unicast(_))) => Err(NodeError::BadVia(
                l.name.clone(),
                "over a unicast layer, peers are reached by name",
            )),
            (Via::Name(_), Some(Lower::Shim { .. })) => Err(NodeError::BadVia(
                l.name.clone(),
                "over a shim, peers are reached by port",
            )),
            (_, None) => Err(NodeError::BadVia(l.name.clone(), "it has no lower layer")),
        }
    }

    /// Start (or restart) the enrollment of layer `li` the way it was asked for.
    pub(crate) fn start_enrollment(&mut self, now: Instant, li: usize) {
        let Some(via) = self.layers[li].enroll_via.clone() else {
            return;
        };
        match (via, self.layers[li].lower) {
            (Via::Port(port), _) => self.layers[li].ipcp.enroll_via(now, port),
            (Via::Name(peer), Some(Lower::Unicast(lo))) => {
                if let Err(e) = self.n1_join(now, li, lo.index(), &peer, 1, true) {
                    // The lower IPCP refused outright (it is gone): tried again later.
                    let _ = e;
                    self.layers[li].enroll_retry_at = Some(now + self.config.enroll_retry);
                }
            }
            (Via::Name(_), _) => {}
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
