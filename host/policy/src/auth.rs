//! [`WasmAuth`]: an enrollment / flow authorisation component. Fail-closed: a trap, a
//! timeout or any other failure is a deny (counted, with the error as the reason).

use crate::PolicyError;
use crate::bindings::auth::ouro::policy::auth_types::{
    Request as WitRequest, RequestKind as WitKind,
};
use crate::bindings::auth::{Auth, AuthPre};
use crate::call::{Caller, Hook};
use crate::engine::PolicyEngine;
use crate::host::HostState;
use crate::metrics::PolicyMetrics;
use crate::params::Params;
use ouro_core::auth::{AuthError, AuthPolicy};
pub use ouro_core::auth::{AuthRequest, Decision, RequestKind};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::HasSelf;

/// An auth policy running as a Wasm component (a fresh instance per request).
#[derive(Clone)]
pub struct WasmAuth {
    caller: Caller,
    pre: AuthPre<HostState>,
}

impl std::fmt::Debug for WasmAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmAuth")
            .field("name", &self.caller.name)
            .finish()
    }
}

impl WasmAuth {
    /// Compile (or fetch from the cache) and link the component `wasm` as auth policy `name`.
    pub fn load(
        engine: &PolicyEngine,
        name: &str,
        wasm: &[u8],
        params: Params,
    ) -> Result<Self, PolicyError> {
        let caller = Caller::new(engine, Hook::Auth, name, params);
        let pre = caller.link(
            engine,
            wasm,
            |linker| Auth::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s),
            AuthPre::new,
        )?;
        Ok(WasmAuth { caller, pre })
    }

    /// The call metrics.
    pub fn metrics(&self) -> Arc<PolicyMetrics> {
        self.caller.metrics.clone()
    }

    /// Decide on `request`. Never fails: a failing policy denies (and the failure counts).
    pub fn authorize(&self, request: &AuthRequest) -> Decision {
        self.try_authorize(request).unwrap_or_else(|e| Decision {
            allow: false,
            reason: format!("denied: {e}"),
            require_encryption: true,
        })
    }

    /// Decide on `request`; a trap, timeout or other failure is an error (counted).
    pub fn try_authorize(&self, request: &AuthRequest) -> Result<Decision, PolicyError> {
        let start = Instant::now();
        let wit = WitRequest {
            kind: match request.kind {
                RequestKind::Enrollment => WitKind::Enrollment,
                RequestKind::Flow => WitKind::Flow,
            },
            layer: request.layer.clone(),
            peer_key: request.peer_key.map(|k| k.to_vec()),
            name_hash: request.name_hash.clone(),
            cube: request.cube,
        };
        let mut fuel = 0;
        let result: Result<Decision, PolicyError> = self.caller.store().and_then(|mut store| {
            let out = self
                .pre
                .instantiate(&mut store)
                .and_then(|auth| auth.call_authorize(&mut store, &wit))
                .map_err(|e| self.caller.classify(e));
            fuel = self.caller.fuel_used(&store);
            out.map(|d| Decision {
                allow: d.allow,
                reason: d.reason,
                require_encryption: d.require_encryption,
            })
        });
        let error = result.as_ref().err().map(ToString::to_string);
        self.caller.metrics.record(start.elapsed(), fuel, error);
        result
    }
}

impl AuthPolicy for WasmAuth {
    fn name(&self) -> &str {
        &self.caller.name
    }

    /// One fresh instance per request; a failure is an error, which the IPCP treats as a
    /// denial (or a rollback while on probation, see [`crate::AuthFallback`]).
    fn authorize(&mut self, request: &AuthRequest) -> Result<Decision, AuthError> {
        self.try_authorize(request)
            .map_err(|e| AuthError(e.to_string()))
    }
}
