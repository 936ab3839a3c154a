//! Changing the simulated world while it runs: late joins and link changes.

use crate::fabric::{Driver, SHIM};
use crate::link::LinkParams;
use crate::ports::port_of;
use crate::sim::{IPCP, Simulator};
use ouro_node::Via;

impl Simulator {
    /// Bring in a node that was held back at boot: it enrolls through an enrolled neighbour
    /// (now, or as soon as one is enrolled).
    pub fn join(&mut self, node: usize) {
        if self.fabric.systems[node].attached {
            return;
        }
        self.fabric.systems[node].attached = true;
        self.try_enroll(node);
        self.flush();
    }

    /// True if edge `edge` is up.
    pub fn link_is_up(&self, edge: usize) -> bool {
        self.fabric.links[edge].is_up()
    }

    /// Take edge `edge` down (traffic in flight is lost, both ends' shims lose the port) or
    /// bring it back up (the ends' shims get the port again, and the ends connect again, or
    /// one enrolls through the other).
    pub fn set_link(&mut self, edge: usize, up: bool) {
        if self.fabric.links[edge].is_up() == up {
            return;
        }
        self.fabric.links[edge].set_up(up);
        let e = self.fabric.graph.edges()[edge];
        let port = port_of(edge);
        for end in [e.a, e.b] {
            let (node, now) = self.node_mut(end);
            if up {
                node.shim_port_up(SHIM, port);
            } else {
                node.shim_port_down(now, SHIM, port);
            }
        }
        let attached = |n: usize| self.fabric.systems[n].attached;
        if up && attached(e.a) && attached(e.b) {
            match (self.enrolled[e.a], self.enrolled[e.b]) {
                (true, true) => {
                    let (node, now) = self.node_mut(e.a);
                    let r = node.connect(now, IPCP, Via::Port(port), e.cost);
                    self.count_error(r);
                }
                (true, false) => self.try_enroll(e.b),
                (false, true) => self.try_enroll(e.a),
                (false, false) => {}
            }
        }
        self.flush();
    }

    /// Change the delay, bandwidth or loss of edge `edge` (packets in flight are unaffected).
    pub fn set_link_params(&mut self, edge: usize, params: LinkParams) {
        self.fabric.links[edge].set_params(params);
    }
}
