//! The Ouro policy SDK: write routing, scheduler and auth policies in Rust, compiled to
//! WebAssembly components (`wasm32-wasip2`) that the Ouro router loads at run time.
//!
//! Enable exactly one world feature per policy crate (`routing`, `scheduler` or `auth`):
//! it generates that world's bindings in the module of the same name. Implement its
//! `Guest` trait and export it:
//!
//! ```ignore
//! use ouro_policy_sdk::routing::{Guest, RoutingTable, Topology, export};
//! use ouro_policy_sdk::graph::{Graph, RouteOptions, Routes};
//!
//! struct MyPolicy;
//! impl Guest for MyPolicy {
//!     fn compute(own: u32, topology: Topology) -> Result<RoutingTable, String> {
//!         let graph = Graph::from_topology(&topology).map_err(|e| e.to_string())?;
//!         Ok(Routes::compute(&graph, own, RouteOptions::ECMP_LFA).into())
//!     }
//! }
//! export!(MyPolicy);
//! ```
//!
//! The graph helpers ([`graph`]) and the table builder ([`table`]) are plain Rust and also
//! build (and are tested) natively.
#![deny(unsafe_code)]

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
