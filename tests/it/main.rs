//! The single integration test binary (wasmtime style): one module per area.

mod auth;
mod bins;
mod golden;
mod net;
mod on_loop;
mod policy;
mod routing;
mod sched;
mod sim;
mod systems;
mod test_policies;
