//! The single integration test binary (wasmtime style): one module per area.

mod auth;
mod bins;
mod flow_control;
mod golden;
mod ipcp;
mod line;
mod net;
mod on_loop;
mod policy;
mod route_requests;
mod routing;
mod sched;
mod sim;
mod systems;
mod test_policies;
