//! The system configuration file (TOML): the node, its layers, names and registrations.
//!
//! ```toml
//! node = "b"                       # this system's name (IPCP names derive from it)
//!
//! [[layer]]
//! name = "udp"
//! type = "udp"                     # a UDP shim: one socket
//! bind = "127.0.0.1:7102"          # address:port (IPv4 or [IPv6])
//! peers = [ { name = "a", addr = "127.0.0.1:7101" } ]
//! # fault = { loss = 0.1, duplicate = 0.0, reorder = 0.0, delay_ms = 0, down = false }
//!
//! [[layer]]
//! name = "net"
//! type = "unicast"
//! lower = "udp"                    # the shim layer it runs over (none: a local layer)
//! enroll = "a"                     # enroll through this peer (or `bootstrap = true`)
//! connect = [ { peer = "a", cost = 1 } ]
//! key = "net.key"                  # X25519 private key: 64 hex digits or a key file
//!                                  # (relative to this file; created if missing)
//!
//! [[name]]
//! name = "pong"
//! register = ["net"]               # registered at start (flows refused until an app listens)
//! ```
//!
//! Every error names the file, line and column.

use crate::keys::{KeySpec, parse_key_option};
use crate::policy::{Kind, LayerPolicies, PolicySpec, param_from_toml};
use ouro_shim_udp::fault::FaultConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// The configuration used when `ourod` starts without a file: one local unicast layer, so
/// applications on this system can open flows to each other at once.
pub const EMBEDDED_DEFAULT: &str = r#"
node = "local"

[[layer]]
name = "local"
type = "unicast"
bootstrap = true
"#;

/// A configuration error, located in its file.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    node: Spanned<String>,
    #[serde(default, rename = "layer")]
    layers: Vec<Spanned<LayerDecl>>,
    #[serde(default, rename = "name")]
    names: Vec<Spanned<NameDecl>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerDecl {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    // udp
    bind: Option<Spanned<String>>,
    #[serde(default)]
    peers: Vec<Spanned<PeerDecl>>,
    fault: Option<FaultDecl>,
    max_learned: Option<usize>,
    // unicast
    lower: Option<Spanned<String>>,
    #[serde(default)]
    bootstrap: bool,
    enroll: Option<Spanned<String>>,
    #[serde(default)]
    connect: Vec<Spanned<ConnectDecl>>,
    hello_ms: Option<u64>,
    dead_ms: Option<u64>,
    policy: Option<PolicyDecl>,
    key: Option<Spanned<String>>,
}

/// `policy = "native"` (the routing policy alone, as before), or a `[layer.policy]` table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PolicyDecl {
    Routing(String),
    Table(PolicyTable),
}

/// `[layer.policy]`: `routing`, `scheduler`, `auth` (each `native`, a built-in name or a
/// `.wasm` path) and `[layer.policy.params.<kind>]` tables of typed parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyTable {
    routing: Option<String>,
    scheduler: Option<String>,
    auth: Option<String>,
    #[serde(default)]
    params: ParamTables,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamTables {
    #[serde(default)]
    routing: toml::Table,
    #[serde(default)]
    scheduler: toml::Table,
    #[serde(default)]
    auth: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerDecl {
    name: String,
    addr: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectDecl {
    peer: Spanned<String>,
    #[serde(default = "one")]
    cost: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultDecl {
    #[serde(default)]
    loss: f64,
    #[serde(default)]
    duplicate: f64,
    #[serde(default)]
    reorder: f64,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    down: bool,
    #[serde(default)]
    seed: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameDecl {
    name: String,
    #[serde(default)]
    register: Vec<Spanned<String>>,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// This system's name.
    pub node: String,
    /// UDP shim layers.
    pub udp: Vec<UdpLayer>,
    /// Unicast layers.
    pub unicast: Vec<UnicastLayer>,
    /// Names registered at start: (name, unicast layer indices).
    pub names: Vec<(String, Vec<usize>)>,
}

/// A UDP shim layer.
#[derive(Clone, Debug)]
pub struct UdpLayer {
    /// Layer name.
    pub name: String,
    /// Socket address.
    pub bind: SocketAddr,
    /// Configured peers: (name, address).
    pub peers: Vec<(String, SocketAddr)>,
    /// Fault injection and its seed.
    pub fault: Option<(FaultConfig, u64)>,
    /// Learned-peer limit.
    pub max_learned: Option<usize>,
}

/// A unicast layer.
#[derive(Clone, Debug)]
pub struct UnicastLayer {
    /// Layer name.
    pub name: String,
    /// Index of the UDP layer below (None: a local layer).
    pub lower: Option<usize>,
    /// Bootstrap the layer here.
    pub bootstrap: bool,
    /// Enroll through this peer of the lower layer (index in its peers).
    pub enroll: Option<usize>,
    /// Adjacencies: (peer index in the lower layer, cost).
    pub connect: Vec<(usize, u32)>,
    /// Keepalive interval, if not the default.
    pub hello: Option<Duration>,
    /// Dead interval, if not the default.
    pub dead: Option<Duration>,
    /// Routing, scheduler and auth policies.
    pub policies: LayerPolicies,
    /// Where the IPCP's key pair comes from (`key`).
    pub key: KeySpec,
}

/// Check a layer's policy declaration and type its parameters.
fn layer_policies(decl: &PolicyDecl) -> Result<LayerPolicies, String> {
    let table = match decl {
        PolicyDecl::Routing(r) => &PolicyTable {
            routing: Some(r.clone()),
            ..PolicyTable::default()
        },
        PolicyDecl::Table(t) => t,
    };
    let one = |kind: Kind, name: &Option<String>, params: &toml::Table| {
        let policy = name.clone().unwrap_or_else(|| "native".into());
        kind.check(&policy)?;
        let params = params
            .iter()
            .map(|(k, v)| {
                param_from_toml(v)
                    .map(|p| (k.clone(), p))
                    .map_err(|e| format!("parameter `{k}`: {e}"))
            })
            .collect::<Result<_, String>>()?;
        Ok::<_, String>(PolicySpec { policy, params })
    };
    Ok(LayerPolicies {
        routing: one(Kind::Routing, &table.routing, &table.params.routing)?,
        scheduler: one(Kind::Scheduler, &table.scheduler, &table.params.scheduler)?,
        auth: one(Kind::Auth, &table.auth, &table.params.auth)?,
    })
}

impl Config {
    /// Read and validate `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&file, &text)
    }

    /// Parse and validate `text` (from `file`, for error messages).
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        let err = |span: Option<std::ops::Range<usize>>, message: String| {
            let (line, column) = span.map_or((0, 0), |s| line_col(text, s.start));
            ConfigError {
                file: file.to_string(),
                line,
                column,
                message,
            }
        };
        let f: File = toml::from_str(text).map_err(|e| err(e.span(), e.message().to_string()))?;
        let node = f.node.get_ref().trim().to_string();
        if node.is_empty() {
            return Err(err(Some(f.node.span()), "node name is empty".into()));
        }
        let mut cfg = Config {
            node,
            udp: Vec::new(),
            unicast: Vec::new(),
            names: Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        // UDP layers first: unicast layers refer to them.
        for l in &f.layers {
            let l = l.get_ref();
            if !seen.insert(l.name.get_ref().clone()) {
                return Err(err(
                    Some(l.name.span()),
                    format!("duplicate layer name `{}`", l.name.get_ref()),
                ));
            }
            match l.kind.get_ref().as_str() {
                "udp" => {
                    let bind = l.bind.as_ref().ok_or_else(|| {
                        err(
                            Some(l.name.span()),
                            "a udp layer needs `bind = \"address:port\"`".into(),
                        )
                    })?;
                    let bind_addr = parse_addr(bind.get_ref()).ok_or_else(|| {
                        err(
                            Some(bind.span()),
                            format!("`{}` is not an address:port", bind.get_ref()),
                        )
                    })?;
                    if !bind_addr.ip().is_loopback() && !bind_addr.ip().is_unspecified() {
                        tracing::warn!(%bind_addr, "udp layer bound to a non-loopback address");
                    }
                    let mut peers = Vec::new();
                    for p in &l.peers {
                        let pd = p.get_ref();
                        let a = parse_addr(pd.addr.get_ref()).ok_or_else(|| {
                            err(
                                Some(pd.addr.span()),
                                format!("`{}` is not an address:port", pd.addr.get_ref()),
                            )
                        })?;
                        peers.push((pd.name.clone(), a));
                    }
                    let fault = match &l.fault {
                        None => None,
                        Some(fd) => {
                            for (what, v) in [
                                ("loss", fd.loss),
                                ("duplicate", fd.duplicate),
                                ("reorder", fd.reorder),
                            ] {
                                if !(0.0..=1.0).contains(&v) {
                                    return Err(err(
                                        Some(l.name.span()),
                                        format!("fault {what} must be between 0 and 1"),
                                    ));
                                }
                            }
                            Some((
                                FaultConfig {
                                    loss: fd.loss,
                                    duplicate: fd.duplicate,
                                    reorder: fd.reorder,
                                    delay: Duration::from_millis(fd.delay_ms),
                                    down: fd.down,
                                },
                                fd.seed,
                            ))
                        }
                    };
                    cfg.udp.push(UdpLayer {
                        name: l.name.get_ref().clone(),
                        bind: bind_addr,
                        peers,
                        fault,
                        max_learned: l.max_learned,
                    });
                }
                "unicast" => {}
                other => {
                    return Err(err(
                        Some(l.kind.span()),
                        format!("unknown layer type `{other}` (expected `udp` or `unicast`)"),
                    ));
                }
            }
        }
        for l in &f.layers {
            let l = l.get_ref();
            if l.kind.get_ref() != "unicast" {
                continue;
            }
            let policies = match &l.policy {
                None => LayerPolicies::default(),
                Some(p) => layer_policies(p).map_err(|m| {
                    err(
                        Some(l.name.span()),
                        format!("layer `{}` policy: {m}", l.name.get_ref()),
                    )
                })?,
            };
            let lower = match &l.lower {
                None => None,
                Some(lw) => Some(
                    cfg.udp
                        .iter()
                        .position(|u| &u.name == lw.get_ref())
                        .ok_or_else(|| {
                            err(
                                Some(lw.span()),
                                format!("no udp layer called `{}`", lw.get_ref()),
                            )
                        })?,
                ),
            };
            let peer_index = |name: &Spanned<String>| -> Result<usize, ConfigError> {
                let Some(li) = lower else {
                    return Err(err(
                        Some(name.span()),
                        "a layer without `lower` has no peers".into(),
                    ));
                };
                cfg.udp[li]
                    .peers
                    .iter()
                    .position(|(n, _)| n == name.get_ref())
                    .ok_or_else(|| {
                        err(
                            Some(name.span()),
                            format!(
                                "no peer `{}` in layer `{}`",
                                name.get_ref(),
                                cfg.udp[li].name
                            ),
                        )
                    })
            };
            let enroll = l.enroll.as_ref().map(&peer_index).transpose()?;
            if l.bootstrap == enroll.is_some() {
                return Err(err(
                    Some(l.name.span()),
                    format!(
                        "unicast layer `{}` needs exactly one of `bootstrap = true` or `enroll = \"peer\"`",
                        l.name.get_ref()
                    ),
                ));
            }
            let hello = l.hello_ms.unwrap_or(1_000);
            let dead = l.dead_ms.unwrap_or(4_000);
            if hello < 10 || dead <= hello {
                return Err(err(
                    Some(l.name.span()),
                    format!(
                        "layer `{}`: need hello_ms >= 10 and dead_ms > hello_ms",
                        l.name.get_ref()
                    ),
                ));
            }
            let key = match &l.key {
                None => KeySpec::Random,
                Some(k) => {
                    let base = Path::new(file).parent().unwrap_or(Path::new(""));
                    parse_key_option(k.get_ref(), base).map_err(|m| {
                        err(Some(k.span()), format!("layer `{}`: {m}", l.name.get_ref()))
                    })?
                }
            };
            let mut connect = Vec::new();
            for c in &l.connect {
                let c = c.get_ref();
                connect.push((peer_index(&c.peer)?, c.cost.max(1)));
            }
            cfg.unicast.push(UnicastLayer {
                name: l.name.get_ref().clone(),
                lower,
                bootstrap: l.bootstrap,
                enroll,
                connect,
                hello: l.hello_ms.map(Duration::from_millis),
                dead: l.dead_ms.map(Duration::from_millis),
                policies,
                key,
            });
        }
        for n in &f.names {
            let n = n.get_ref();
            let mut layers = Vec::new();
            for r in &n.register {
                layers.push(
                    cfg.unicast
                        .iter()
                        .position(|u| &u.name == r.get_ref())
                        .ok_or_else(|| {
                            err(
                                Some(r.span()),
                                format!("no unicast layer called `{}`", r.get_ref()),
                            )
                        })?,
                );
            }
            cfg.names.push((n.name.clone(), layers));
        }
        Ok(cfg)
    }
}

fn parse_addr(s: &str) -> Option<SocketAddr> {
    s.parse().ok()
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count())
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
node = "b"

[[layer]]
name = "udp"
type = "udp"
bind = "127.0.0.1:7102"
peers = [ { name = "a", addr = "127.0.0.1:7101" }, { name = "c", addr = "[::1]:7103" } ]
fault = { loss = 0.25 }

[[layer]]
name = "net"
type = "unicast"
lower = "udp"
enroll = "a"
connect = [ { peer = "a" }, { peer = "c", cost = 3 } ]

[[name]]
name = "pong"
register = ["net"]
"#;

    #[test]
    fn a_full_file_parses() {
        let c = Config::parse("b.toml", GOOD).expect("parses");
        assert_eq!(c.node, "b");
        assert_eq!(c.udp[0].peers.len(), 2);
        assert_eq!(c.udp[0].fault.map(|f| f.0.loss), Some(0.25));
        assert_eq!(c.unicast[0].enroll, Some(0));
        assert_eq!(c.unicast[0].connect, vec![(0, 1), (1, 3)]);
        assert_eq!(c.names, vec![("pong".to_string(), vec![0])]);
        Config::parse("default", EMBEDDED_DEFAULT).expect("the embedded default parses");
    }

    #[test]
    fn layer_policies_parse_with_typed_params() {
        use crate::policy::PolicySpec;
        use ouro_policy::ParamValue;
        let block = r#"[layer.policy]
routing = "ecmp"
scheduler = "drr"
auth = "allowlist"
[layer.policy.params.scheduler]
weight-2 = 3
[layer.policy.params.auth]
keys = ["ab"]
require-encryption = false

[[name]]"#;
        let c = Config::parse("p.toml", &GOOD.replace("[[name]]", block)).expect("parses");
        let p = &c.unicast[0].policies;
        assert_eq!(p.routing.policy, "ecmp");
        assert_eq!(
            p.scheduler,
            PolicySpec {
                policy: "drr".into(),
                params: [("weight-2".to_string(), ParamValue::Integer(3))].into(),
            }
        );
        assert_eq!(
            p.auth.params["keys"],
            ParamValue::TextList(vec!["ab".into()])
        );
        assert_eq!(
            p.auth.params["require-encryption"],
            ParamValue::Boolean(false)
        );
        let legacy = GOOD.replace("enroll = \"a\"", "enroll = \"a\"\npolicy = \"lfa\"");
        let c = Config::parse("l.toml", &legacy).expect("parses");
        assert_eq!(c.unicast[0].policies.routing.policy, "lfa");
        assert_eq!(c.unicast[0].policies.auth.policy, "native");
        let e = error_of(&GOOD.replace("enroll = \"a\"", "enroll = \"a\"\npolicy = \"drr\""));
        assert!(e.message.contains("unknown routing policy `drr`"), "{e}");
    }

    fn error_of(text: &str) -> ConfigError {
        Config::parse("x.toml", text).expect_err("must fail")
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = error_of("node = \"a\"\n[[layer]]\nname = 3\n");
        assert_eq!((e.file.as_str(), e.line), ("x.toml", 3), "{e}");
        assert_eq!(e.column, 8, "{e}");
        let e = error_of(&GOOD.replace("lower = \"udp\"", "lower = \"eth\""));
        assert_eq!(e.line, 14, "{e}");
        assert!(e.message.contains("no udp layer called `eth`"), "{e}");
        let e = error_of(&GOOD.replace("enroll = \"a\"", "enroll = \"zz\""));
        assert_eq!(e.line, 15, "{e}");
        let e = error_of(&GOOD.replace("127.0.0.1:7102", "localhost"));
        assert_eq!((e.line, e.column), (7, 8), "{e}");
        let e = error_of(&GOOD.replace("type = \"udp\"", "type = \"eth\""));
        assert!(e.message.contains("unknown layer type"), "{e}");
        let e = error_of(&GOOD.replace("enroll = \"a\"", "enroll = \"a\"\nhello_ms = 0"));
        assert!(e.message.contains("hello_ms >= 10"), "{e}");
        let e = error_of("node = \"a\"\nbogus = 1\n");
        assert_eq!(e.line, 2, "{e}");
        let e = error_of("node = ");
        assert_eq!(e.line, 1, "{e}");
        assert!(e.to_string().starts_with("x.toml:1:"), "{e}");
    }

    #[test]
    fn key_option_inline_file_missing_and_malformed() {
        let with_key =
            |v: &str| GOOD.replace("enroll = \"a\"", &format!("enroll = \"a\"\nkey = \"{v}\""));
        let c = Config::parse("b.toml", GOOD).expect("parses");
        assert_eq!(c.unicast[0].key, KeySpec::Random);
        let hexkey = "11".repeat(32);
        let c = Config::parse("b.toml", &with_key(&hexkey)).expect("parses");
        assert_eq!(
            c.unicast[0].key,
            KeySpec::Known {
                secret: [0x11; 32],
                path: None
            }
        );
        let dir = std::env::temp_dir().join(format!("ouro-cfg-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cfg_file = dir.join("b.toml");
        let file = cfg_file.to_str().expect("utf-8 path");
        let c = Config::parse(file, &with_key("new.key")).expect("parses");
        assert_eq!(c.unicast[0].key, KeySpec::Create(dir.join("new.key")));
        std::fs::write(dir.join("bad.key"), "xyz").expect("written");
        let e = Config::parse(file, &with_key("bad.key")).expect_err("malformed");
        assert_eq!(e.line, 16, "{e}");
        assert!(e.message.contains("does not hold a private key"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any text, and any mutation of a valid file, is a located error or a config: never
        /// a panic.
        #[test]
        fn never_panics(text in ".{0,400}", cut in 0usize..600, insert in "[\\[\\]{}=\"a-z0-9.:, \\n]{0,8}") {
            let _ = Config::parse("p.toml", &text);
            let mut g = GOOD.to_string();
            let at = cut.min(g.len());
            if g.is_char_boundary(at) {
                g.insert_str(at, &insert);
                if let Err(e) = Config::parse("p.toml", &g) {
                    proptest::prop_assert!(e.line >= 1 && e.column >= 1, "{}", e);
                }
            }
        }
    }
}
