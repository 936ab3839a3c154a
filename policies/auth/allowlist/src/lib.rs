//! Auth `allowlist`: allow only listed peers and names. Parameters (text lists of lowercase
//! hex): `keys`, the static public keys allowed to enroll and to allocate flows (a request
//! without a key is denied); `names`, the name hashes flows may be allocated to (when unset,
//! any name). `require-encryption` (boolean, default true) is passed on.
#![forbid(unsafe_code)]

use ouro_policy_sdk::auth::host::{self, ParamValue};
use ouro_policy_sdk::auth::{Decision, Guest, Request, RequestKind, export};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn list(name: &str) -> Option<Vec<String>> {
    match host::param(name) {
        Some(ParamValue::TextList(l)) => {
            Some(l.into_iter().map(|s| s.to_ascii_lowercase()).collect())
        }
        Some(ParamValue::Text(s)) => Some(vec![s.to_ascii_lowercase()]),
        _ => None,
    }
}

fn decide(allow: bool, reason: String) -> Decision {
    let require_encryption = !matches!(
        host::param("require-encryption"),
        Some(ParamValue::Boolean(false))
    );
    Decision {
        allow,
        reason,
        require_encryption,
    }
}

struct Policy;

impl Guest for Policy {
    fn authorize(request: Request) -> Decision {
        let keys = list("keys").unwrap_or_default();
        let Some(key) = request.peer_key.as_deref().map(hex) else {
            return decide(false, "no peer key presented".into());
        };
        if !keys.contains(&key) {
            return decide(false, format!("peer key {key} is not on the allowlist"));
        }
        if request.kind == RequestKind::Flow
            && let Some(names) = list("names")
        {
            let name = hex(&request.name_hash);
            if !names.contains(&name) {
                return decide(false, format!("name {name} is not on the allowlist"));
            }
        }
        decide(true, "on the allowlist".into())
    }
}

export!(Policy);
