//! The single integration test binary (wasmtime style): one module per area.

mod routing;
mod sim;
