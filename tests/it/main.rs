//! The single integration test binary (wasmtime style): one module per area.

mod policy;
mod routing;
mod sim;
