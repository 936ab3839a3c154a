//! Deterministic discrete-event simulator for Ouro layers.
//!
//! Loads a topology ([`Graph`], networkx node-link JSON) and makes every topology node a
//! real [`ouro_node::Node`] — the node `ourod` runs — over simulated [`link::Link`]s in
//! simulated time. [`Simulator`] runs one unicast layer over them and reports convergence,
//! forwarding tables and flow delivery ([`SimReport`]); [`NodeSim`] lets a test stack any
//! number of layers and play the operator and applications itself. Both drive the nodes
//! through the same code (`fabric`). The same seed always gives the same run.
//!
//! ```no_run
//! # use ouro_sim::{Graph, SimConfig, Simulator};
//! # use std::time::Duration;
//! let graph = Graph::load("ring8.json".as_ref(), Some("weight"))?;
//! let mut sim = Simulator::new(graph, SimConfig::default())?;
//! let converged = sim.run_until_converged(Duration::from_secs(60));
//! println!("{}", serde_json::to_string(&sim.report(&[0]))?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod check;
mod control;
mod converge;
mod fabric;
pub mod flows;
pub mod link;
mod policy;
mod ports;
pub mod queue;
mod report;
mod routes;
mod sched;
mod sim;
pub mod streams;
pub mod systems;
pub mod topology;
mod traffic;

pub use check::{CubeCheck, Optimality, RouteCheck};
pub use flows::{FlowFailure, FlowOutcome, FlowRecord};
pub use link::LinkParams;
pub use ports::{edge_of, port_of};
pub use report::SimReport;
pub use sim::{PolicyFactory, SimConfig, SimCounters, SimError, Simulator};
pub use streams::{Stream, StreamResult};
pub use systems::{NodeSim, NodeSimCounters};
pub use topology::{Edge, Graph, TopologyError};
pub use traffic::{FlowSummary, SimAction};
