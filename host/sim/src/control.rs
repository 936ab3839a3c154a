//! Changing the simulated world while it runs: late joins and link changes.

use crate::link::LinkParams;
use crate::node::port_of;
use crate::sim::Simulator;

impl Simulator {
    /// Bring in a node that was held back at boot: it enrolls through an enrolled neighbour
    /// (now, or as soon as one is enrolled).
    pub fn join(&mut self, node: usize) {
        if self.nodes[node].active {
            return;
        }
        self.nodes[node].active = true;
        self.try_enroll(node);
        self.flush();
    }

    /// True if edge `edge` is up.
    pub fn link_is_up(&self, edge: usize) -> bool {
        self.links[edge].is_up()
    }

    /// Take edge `edge` down (traffic in flight is lost, both ends get `port_down`) or bring
    /// it back up (the ends connect again, or one enrolls through the other).
    pub fn set_link(&mut self, edge: usize, up: bool) {
        if self.links[edge].is_up() == up {
            return;
        }
        self.links[edge].set_up(up);
        let e = self.graph.edges()[edge];
        let port = port_of(edge);
        let now = self.now;
        if !up {
            for end in [e.a, e.b] {
                if self.nodes[end].active {
                    self.nodes[end].ipcp.port_down(now, port);
                    self.mark(end);
                }
            }
        } else {
            let (a, b) = (&self.nodes[e.a], &self.nodes[e.b]);
            if a.active && b.active {
                match (a.enrolled, b.enrolled) {
                    (true, true) => {
                        self.nodes[e.a].ipcp.connect(now, port, e.cost);
                        self.mark(e.a);
                    }
                    (true, false) => self.try_enroll(e.b),
                    (false, true) => self.try_enroll(e.a),
                    (false, false) => {}
                }
            }
        }
        self.flush();
    }

    /// Change the delay, bandwidth or loss of edge `edge` (packets in flight are unaffected).
    pub fn set_link_params(&mut self, edge: usize, params: LinkParams) {
        self.links[edge].set_params(params);
    }
}
