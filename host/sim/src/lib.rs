//! Deterministic discrete-event simulator for Ouro layers.
#![forbid(unsafe_code)]
