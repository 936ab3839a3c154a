//! Auth `allow-all`: allow every enrollment and flow. Parameter `require-encryption`
//! (boolean, default false) is passed on in every decision.
#![forbid(unsafe_code)]

use ouro_policy_sdk::auth::host::{self, ParamValue};
use ouro_policy_sdk::auth::{Decision, Guest, Request, export};

struct Policy;

impl Guest for Policy {
    fn authorize(_request: Request) -> Decision {
        Decision {
            allow: true,
            reason: "allow-all".into(),
            require_encryption: matches!(
                host::param("require-encryption"),
                Some(ParamValue::Boolean(true))
            ),
        }
    }
}

export!(Policy);
