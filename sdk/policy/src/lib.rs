//! The Ouro policy SDK: write routing, scheduler and auth policies in Rust, compiled to
//! WebAssembly components (`wasm32-wasip2`) that the Ouro router loads at run time.
//!
//! Enable exactly one world feature per policy crate (`routing`, `scheduler` or `auth`):
//! it generates that world's bindings in the module of the same name. Implement its
//! `Guest` trait and export it:
//!
//! ```ignore
//! use ouro_policy_sdk::routing::{Guest, RoutingOutput, Topology, export};
//! use ouro_policy_sdk::graph::{Graph, RouteOptions, Routes};
//!
//! struct MyPolicy;
//! impl Guest for MyPolicy {
//!     fn compute(own: u32, topology: Topology) -> Result<RoutingOutput, String> {
//!         let graph = Graph::from_topology(&topology).map_err(|e| e.to_string())?;
//!         Ok(Routes::compute(&graph, own, RouteOptions::ECMP_LFA).into())
//!     }
//! }
//! export!(MyPolicy);
//! ```
//!
//! [`routing::compute_with_cubes`] does the same and adds per-QoS-cube tables as the
//! `hop-count-cubes` parameter asks.
//!
//! The graph helpers ([`graph`]) and the table builder ([`table`]) are plain Rust and also
//! build (and are tested) natively.
#![deny(unsafe_code)]

pub mod cube;
pub mod graph;
pub mod heap;
pub mod table;

/// Bindings of the `ouro:policy/routing` world (feature `routing`).
#[cfg(feature = "routing")]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod routing {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "ouro:policy/routing",
        pub_export_macro: true,
        default_bindings_module: "ouro_policy_sdk::routing",
    });
    pub use self::ouro::policy::host;

    impl From<crate::table::FlatTable> for RoutingTable {
        fn from(t: crate::table::FlatTable) -> RoutingTable {
            RoutingTable {
                destinations: t.destinations,
                hop_offsets: t.hop_offsets,
                next_hops: t.next_hops,
                alternates: t.alternates,
            }
        }
    }

    impl From<RoutingTable> for RoutingOutput {
        /// One table for every cube.
        fn from(table: RoutingTable) -> RoutingOutput {
            RoutingOutput {
                table,
                cubes: Vec::new(),
            }
        }
    }

    impl From<crate::table::FlatTable> for RoutingOutput {
        /// One table for every cube.
        fn from(t: crate::table::FlatTable) -> RoutingOutput {
            RoutingTable::from(t).into()
        }
    }

    /// Routes from `own` with `options` over the advertised link costs, plus, for the QoS
    /// cubes listed in the text-list parameter `hop-count-cubes` (names such as `voice`,
    /// or numbers), a table computed over hop count (every link costs 1: fewest queues on
    /// the way, for delay-sensitive traffic).
    pub fn compute_with_cubes(
        own: u32,
        topology: &Topology,
        options: crate::graph::RouteOptions,
    ) -> Result<RoutingOutput, String> {
        use crate::graph::Routes;
        std::thread_local! {
            /// Scratch buffers kept while the host keeps the instance (an optimisation only:
            /// a fresh instance starts with empty ones).
            static SCRATCH: std::cell::RefCell<Routes> = std::cell::RefCell::new(Routes::new());
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut routes) => compute_in(&mut routes, own, topology, options),
            Err(_) => compute_in(&mut Routes::new(), own, topology, options),
        })
    }

    fn compute_in(
        routes: &mut crate::graph::Routes,
        own: u32,
        topology: &Topology,
        options: crate::graph::RouteOptions,
    ) -> Result<RoutingOutput, String> {
        use crate::graph::Graph;
        let graph = Graph::from_topology(topology).map_err(|e| e.to_string())?;
        let mut out = RoutingOutput::from(routes.table(&graph, own, options));
        let cubes = match host::param("hop-count-cubes") {
            None => Vec::new(),
            Some(host::ParamValue::TextList(names)) => {
                crate::cube::parse_cubes(names.iter().map(String::as_str))?
            }
            Some(_) => return Err("hop-count-cubes must be a list of cube names".into()),
        };
        if cubes.is_empty() {
            return Ok(out);
        }
        let hops = vec![1u32; topology.costs.len()];
        let graph = Graph::new(
            &topology.addresses,
            &topology.offsets,
            &topology.targets,
            &hops,
        )
        .map_err(|e| e.to_string())?;
        let table = RoutingTable::from(routes.table(&graph, own, options));
        out.cubes = cubes
            .into_iter()
            .map(|cube| CubeTable {
                cube,
                costs: hops.clone(),
                table: table.clone(),
            })
            .collect();
        Ok(out)
    }

    impl<'a> crate::graph::Graph<'a> {
        /// A view of the host's topology; checks its shape.
        pub fn from_topology(t: &'a Topology) -> Result<Self, crate::graph::GraphError> {
            crate::graph::Graph::new(&t.addresses, &t.offsets, &t.targets, &t.costs)
        }
    }
}

/// Bindings of the `ouro:policy/scheduler` world (feature `scheduler`).
#[cfg(feature = "scheduler")]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod scheduler {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "ouro:policy/scheduler",
        pub_export_macro: true,
        default_bindings_module: "ouro_policy_sdk::scheduler",
    });
    pub use self::ouro::policy::host;
    pub use self::ouro::policy::scheduler_types::*;
}

/// Bindings of the `ouro:policy/auth` world (feature `auth`).
#[cfg(feature = "auth")]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod auth {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "ouro:policy/auth",
        pub_export_macro: true,
        default_bindings_module: "ouro_policy_sdk::auth",
    });
    pub use self::ouro::policy::auth_types::*;
    pub use self::ouro::policy::host;
}
