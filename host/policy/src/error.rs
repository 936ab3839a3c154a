//! Typed errors of the policy engine.

use ouro_core::routing::RoutingError;

/// Why loading or calling a policy failed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The engine could not be configured.
    #[error("cannot configure the Wasm engine: {0}")]
    Engine(String),
    /// The bytes are not a valid component, or it does not fit the world.
    #[error("cannot load policy {name:?}: {reason}")]
    Load {
        /// Policy name.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// A policy file could not be read.
    #[error("cannot read policy file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No built-in policy has this name.
    #[error("unknown policy {0:?} (built-in: native, spf, ecmp, lfa; or a path to a .wasm file)")]
    Unknown(String),
    /// The call ran past its epoch deadline (wall-clock time limit).
    #[error("policy {0:?} ran past its deadline")]
    Timeout(String),
    /// The call used up its fuel (deterministic time limit).
    #[error("policy {0:?} ran out of fuel")]
    OutOfFuel(String),
    /// The guest trapped (panic, memory cap, unreachable...).
    #[error("policy {name:?} trapped: {reason}")]
    Trap {
        /// Policy name.
        name: String,
        /// The trap.
        reason: String,
    },
    /// The guest returned an error of its own.
    #[error("policy {name:?} returned an error: {reason}")]
    Guest {
        /// Policy name.
        name: String,
        /// The guest's message.
        reason: String,
    },
    /// The output broke the contract.
    #[error("policy {name:?} returned invalid output: {reason}")]
    InvalidOutput {
        /// Policy name.
        name: String,
        /// Which rule it broke.
        reason: String,
    },
}

impl From<PolicyError> for RoutingError {
    fn from(e: PolicyError) -> RoutingError {
        match e {
            PolicyError::InvalidOutput { .. } => RoutingError::InvalidOutput(e.to_string()),
            other => RoutingError::Failed(other.to_string()),
        }
    }
}
