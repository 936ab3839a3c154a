//! Sans-IO protocol core of Ouro, a recursive (Ouroboros) packet network.
//!
//! Nothing in this crate touches a socket, a thread or a clock: callers feed bytes and an
//! explicit [`time::Instant`] in, and take transmissions, events and timer deadlines out
//! (the `poll_*` style of quinn-proto). The same code runs in the deterministic simulator
//! (`ouro-sim`) and under the real daemon.
//!
//! Layout, one protocol function per module:
//! - [`wire`]: every wire format, as checked views and parsed representations;
//! - [`name`]: name hashing (BLAKE3, per-layer length);
//! - [`lsdb`]: the link-state database (sequence numbers, aging, flooding decisions);
//! - [`routing`]: the [`routing::RoutingPolicy`] trait, the topology it reads, the native
//!   reference policy and the forwarding table;
//! - [`directory`]: the name directory (a one-hop DHT over the link-state membership);
//! - [`flow`]: the flow allocator's per-flow state;
//! - [`congestion`]: the per-flow AIMD send rate the sender keeps;
//! - [`sched`]: per-port, per-QoS-cube queues and the [`sched::SchedulerPolicy`] that plans
//!   each transmit batch;
//! - [`auth`]: the [`auth::AuthPolicy`] consulted on enrollment and flow allocation;
//! - [`ipcp`]: the unicast IPCP that ties them together.
#![forbid(unsafe_code)]

pub mod addr;
pub mod auth;
pub mod config;
pub mod congestion;
pub mod directory;
pub mod flow;
pub mod id_hash;
pub mod identity;
pub mod ipcp;
pub mod lsdb;
pub mod name;
pub mod qos;
pub mod rng;
pub mod routing;
pub mod sched;
pub mod time;
pub mod wire;

pub use addr::{Address, Eid, PortId};
pub use config::LayerConfig;
pub use ipcp::{Event, Ipcp, Transmit};
pub use name::NameHash;
pub use qos::{QosCube, QosSpec};
pub use time::Instant;
