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
//!                                  # (fault injection: on a udp or a local layer)
//!
//! # learned_ttl_ms = 300000       # forget a learned peer silent this long (0: never)
//! # rate_pps = 5000                # link rate: PDUs/s handed to the socket (default: unpaced)
//! # schedule = true                # per-cube queues + scheduler on the ports (false: FIFO)
//!
//! [[layer]]
//! name = "lo"
//! type = "local"                   # a local shim: joins this system's IPCPs and applications
//! # fault = { loss = 0.5 }         # as on a udp layer, on every member's sends
//!
//! [[layer]]
//! name = "net"
//! type = "unicast"                 # IPCP `b.net` (or `ipcp = "..."`) in layer `net` (or `layer = "..."`)
//! lower = "udp"                    # the layer it runs over: udp, local or unicast (none: alone)
//! enroll = "a"                     # enroll through this peer (or `bootstrap = true`)
//! connect = [ { peer = "a", cost = 1 } ]
//! key = "net.key"                  # X25519 private key: 64 hex digits or a key file
//!                                  # (relative to this file; created if missing)
//! # queue_pdus = 1024              # PDUs per cube queue of each scheduled (UDP) port
//! # mgmt_queue_pdus = 1024         # PDUs in each scheduled port's management queue
//! # backlog_sdus = 4096            # SDUs kept per flow while its application's socket is full
//! # backlog_bytes = 4194304        # bytes kept per flow likewise
//!
//! [[name]]
//! name = "pong"
//! register = ["net"]               # registered at start (flows refused until an app listens)
//! bind = ["ouro"]                  # only these programs may accept flows to it
//! ```
//!
//! Over a `local` lower layer, `enroll` and `connect` name another unicast `[[layer]]` of the
//! file (or an IPCP name). The validated configuration is a list of the same operations the
//! control socket takes at run time (`ouro ipcp create/bootstrap/enroll/connect`,
//! `ouro name create/bind/register`); `ourod` applies them in order.
//!
//! Every error names the file, line and column.

use crate::keys::{KeySpec, parse_key_option};
use crate::policy::{Kind, LayerPolicies, PolicySpec, param_from_toml};
use ouro_control::{FaultSpec, IpcpKind, QueueOptions, Request, UdpOptions};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use toml::Spanned;

/// The configuration used when `ourod` starts without a file: one local shim layer, so
/// applications on this system can open flows to each other at once.
pub const EMBEDDED_DEFAULT: &str = r#"
node = "local"

[[layer]]
name = "local"
type = "local"
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
    learned_ttl_ms: Option<u64>,
    rate_pps: Option<u64>,
    schedule: Option<bool>,
    // unicast
    ipcp: Option<Spanned<String>>,
    layer: Option<Spanned<String>>,
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
    queue_pdus: Option<Spanned<u32>>,
    mgmt_queue_pdus: Option<Spanned<u32>>,
    backlog_sdus: Option<Spanned<u32>>,
    backlog_bytes: Option<Spanned<u64>>,
}

impl LayerDecl {
    /// A key this layer's type does not take (silently ignoring it would hide a mistake,
    /// such as `rate_pps` on a unicast layer): (key, where, the type that takes it).
    fn misplaced_key(
        &self,
    ) -> Option<(&'static str, Option<std::ops::Range<usize>>, &'static str)> {
        let span = |x: &Option<Spanned<String>>| x.as_ref().map(Spanned::span);
        let udp = [
            ("bind", self.bind.is_some(), span(&self.bind)),
            (
                "peers",
                !self.peers.is_empty(),
                self.peers.first().map(Spanned::span),
            ),
            ("max_learned", self.max_learned.is_some(), None),
            ("learned_ttl_ms", self.learned_ttl_ms.is_some(), None),
            ("rate_pps", self.rate_pps.is_some(), None),
            ("schedule", self.schedule.is_some(), None),
        ];
        let shim = [("fault", self.fault.is_some(), None)];
        let sizes = self.queue_sizes();
        let unicast = [
            ("ipcp", self.ipcp.is_some(), span(&self.ipcp)),
            ("layer", self.layer.is_some(), span(&self.layer)),
            ("lower", self.lower.is_some(), span(&self.lower)),
            ("bootstrap", self.bootstrap, None),
            ("enroll", self.enroll.is_some(), span(&self.enroll)),
            (
                "connect",
                !self.connect.is_empty(),
                self.connect.first().map(Spanned::span),
            ),
            ("hello_ms", self.hello_ms.is_some(), None),
            ("dead_ms", self.dead_ms.is_some(), None),
            ("policy", self.policy.is_some(), None),
            ("key", self.key.is_some(), span(&self.key)),
            (
                "queue sizes",
                !sizes.is_empty(),
                sizes.first().map(|(s, _)| s.clone()),
            ),
        ];
        let kind = self.kind.get_ref().as_str();
        if !["udp", "local", "unicast"].contains(&kind) {
            return None; // an unknown type is its own error
        }
        let wrong = |keys: &[(&'static str, bool, Option<std::ops::Range<usize>>)], belongs| {
            keys.iter()
                .find(|(_, set, _)| *set)
                .map(|(k, _, s)| (*k, s.clone(), belongs))
        };
        let not_udp = (kind != "udp").then(|| wrong(&udp, "udp")).flatten();
        let not_shim = (kind == "unicast")
            .then(|| wrong(&shim, "udp or local"))
            .flatten();
        let not_unicast = (kind != "unicast")
            .then(|| wrong(&unicast, "unicast"))
            .flatten();
        not_udp.or(not_shim).or(not_unicast)
    }

    /// The queue sizes, each alone with where it is written (to locate a bad one).
    fn queue_sizes(&self) -> Vec<(std::ops::Range<usize>, QueueOptions)> {
        let at = |x: &Option<Spanned<u32>>| x.as_ref().map(|v| (v.span(), *v.get_ref()));
        let q = QueueOptions::default;
        [
            at(&self.queue_pdus).map(|(s, n)| {
                (
                    s,
                    QueueOptions {
                        cube_pdus: Some(n),
                        ..q()
                    },
                )
            }),
            at(&self.mgmt_queue_pdus).map(|(s, n)| {
                (
                    s,
                    QueueOptions {
                        mgmt_pdus: Some(n),
                        ..q()
                    },
                )
            }),
            at(&self.backlog_sdus).map(|(s, n)| {
                (
                    s,
                    QueueOptions {
                        backlog_sdus: Some(n),
                        ..q()
                    },
                )
            }),
            self.backlog_bytes.as_ref().map(|v| {
                let n = Some(*v.get_ref());
                (
                    v.span(),
                    QueueOptions {
                        backlog_bytes: n,
                        ..q()
                    },
                )
            }),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
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
    name: Spanned<String>,
    #[serde(default)]
    register: Vec<Spanned<String>>,
    #[serde(default)]
    bind: Vec<Spanned<String>>,
}

/// The validated configuration: this system's name and the operations that build it.
#[derive(Clone, Debug)]
pub struct Config {
    /// This system's name.
    pub node: String,
    /// Management operations, applied in order at start.
    pub ops: Vec<Request>,
    /// Policies declared per unicast IPCP (by IPCP name), installed once the operations are
    /// applied. Kept beside `ops` because their parameters are typed by the TOML, not text.
    pub policies: Vec<(String, LayerPolicies)>,
}

/// What a `[[layer]]` name stands for, while validating.
enum Lower {
    /// A UDP shim and its peer names.
    Udp(Vec<String>),
    /// A local shim.
    Local,
    /// A unicast layer (its IPCP's name): ports are N-1 flows to peer IPCPs by name.
    Unicast(String),
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
        let mut ops = Vec::new();
        let mut policies = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut lowers: HashMap<String, Lower> = HashMap::new();
        // Shim layers first: unicast layers refer to them.
        for l in &f.layers {
            let l = l.get_ref();
            if !seen.insert(l.name.get_ref().clone()) {
                return Err(err(
                    Some(l.name.span()),
                    format!("duplicate layer name `{}`", l.name.get_ref()),
                ));
            }
            let name = l.name.get_ref().clone();
            if let Some((key, span, belongs)) = l.misplaced_key() {
                return Err(err(
                    Some(span.unwrap_or(l.name.span())),
                    format!("layer `{name}`: `{key}` belongs to a {belongs} layer"),
                ));
            }
            let fault = l.fault.as_ref().map(|fd| FaultSpec {
                loss: fd.loss,
                duplicate: fd.duplicate,
                reorder: fd.reorder,
                delay_ms: fd.delay_ms,
                down: fd.down,
                seed: fd.seed,
            });
            if let Some(Err(e)) = fault.map(|f| f.check()) {
                return Err(err(Some(l.name.span()), e));
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
                        parse_addr(pd.addr.get_ref()).ok_or_else(|| {
                            err(
                                Some(pd.addr.span()),
                                format!("`{}` is not an address:port", pd.addr.get_ref()),
                            )
                        })?;
                        peers.push((pd.name.clone(), pd.addr.get_ref().clone()));
                    }
                    lowers.insert(
                        name.clone(),
                        Lower::Udp(peers.iter().map(|(n, _)| n.clone()).collect()),
                    );
                    ops.push(Request::IpcpCreate {
                        name,
                        kind: IpcpKind::Udp,
                        lower: None,
                        udp: Some(UdpOptions {
                            bind: bind.get_ref().clone(),
                            peers,
                            max_learned: l.max_learned,
                            learned_ttl_ms: l.learned_ttl_ms,
                            rate_pps: l.rate_pps,
                            schedule: l.schedule,
                        }),
                        fault,
                        queues: QueueOptions::default(),
                        key: None,
                    });
                }
                "local" => {
                    lowers.insert(name.clone(), Lower::Local);
                    ops.push(Request::IpcpCreate {
                        name,
                        kind: IpcpKind::Local,
                        lower: None,
                        udp: None,
                        fault,
                        queues: QueueOptions::default(),
                        key: None,
                    });
                }
                "unicast" => {}
                other => {
                    return Err(err(
                        Some(l.kind.span()),
                        format!(
                            "unknown layer type `{other}` (expected `udp`, `local` or `unicast`)"
                        ),
                    ));
                }
            }
        }
        // Unicast layers: `[[layer]]` name → (IPCP name, layer name).
        let mut unicast: HashMap<String, (String, String)> = HashMap::new();
        for l in &f.layers {
            let l = l.get_ref();
            if l.kind.get_ref() != "unicast" {
                continue;
            }
            let ipcp = l.ipcp.as_ref().map_or_else(
                || format!("{node}.{}", l.name.get_ref()),
                |i| i.get_ref().clone(),
            );
            let layer = l
                .layer
                .as_ref()
                .map_or_else(|| l.name.get_ref().clone(), |x| x.get_ref().clone());
            unicast.insert(l.name.get_ref().clone(), (ipcp, layer));
        }
        let (mut creates, mut boots, mut joins) = (Vec::new(), Vec::new(), Vec::new());
        let mut layer_names: Vec<String> = lowers
            .iter()
            .filter(|(_, l)| matches!(l, Lower::Local))
            .map(|(n, _)| n.clone())
            .collect();
        for l in &f.layers {
            let l = l.get_ref();
            if l.kind.get_ref() != "unicast" {
                continue;
            }
            let (ipcp, layer) = unicast[l.name.get_ref()].clone();
            layer_names.push(layer.clone());
            if let Some(p) = &l.policy {
                let p = layer_policies(p).map_err(|m| {
                    err(
                        Some(l.name.span()),
                        format!("layer `{}` policy: {m}", l.name.get_ref()),
                    )
                })?;
                policies.push((ipcp.clone(), p));
            }
            let below_unicast = l.lower.as_ref().and_then(|lw| {
                unicast
                    .get(lw.get_ref())
                    .map(|(i, _)| Lower::Unicast(i.clone()))
            });
            let lower = match &l.lower {
                None => None,
                Some(lw) if lw.get_ref() == l.name.get_ref() => {
                    return Err(err(
                        Some(lw.span()),
                        "a layer cannot run over itself".into(),
                    ));
                }
                Some(lw) => Some((
                    lw.get_ref().clone(),
                    match &below_unicast {
                        Some(u) => u,
                        None => lowers.get(lw.get_ref()).ok_or_else(|| {
                            err(
                                Some(lw.span()),
                                format!("no udp, local or unicast layer called `{}`", lw.get_ref()),
                            )
                        })?,
                    },
                )),
            };
            // A peer over the lower layer: a UDP peer name, or a unicast layer (IPCP) here.
            let peer = |name: &Spanned<String>| -> Result<String, ConfigError> {
                match &lower {
                    None => Err(err(
                        Some(name.span()),
                        "a layer without `lower` has no peers".into(),
                    )),
                    Some((lname, Lower::Udp(peers))) => {
                        if peers.contains(name.get_ref()) {
                            Ok(name.get_ref().clone())
                        } else {
                            Err(err(
                                Some(name.span()),
                                format!("no peer `{}` in layer `{lname}`", name.get_ref()),
                            ))
                        }
                    }
                    Some((_, Lower::Local)) => Ok(unicast
                        .get(name.get_ref())
                        .map_or_else(|| name.get_ref().clone(), |(i, _)| i.clone())),
                    // A peer IPCP's name, reached by an N-1 flow in the lower layer.
                    Some((_, Lower::Unicast(_))) => Ok(name.get_ref().clone()),
                }
            };
            let enroll = l.enroll.as_ref().map(&peer).transpose()?;
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
            // Checked here (located errors), resolved against this file's directory, and
            // resolved again when the IPCP is created, as `ouro ipcp create --key` is.
            let key = match &l.key {
                None => None,
                Some(k) => {
                    let base = Path::new(file).parent().unwrap_or(Path::new(""));
                    let located = |m: String| {
                        err(Some(k.span()), format!("layer `{}`: {m}", l.name.get_ref()))
                    };
                    Some(
                        match parse_key_option(k.get_ref(), base).map_err(located)? {
                            KeySpec::Known { path: None, .. } | KeySpec::Random => {
                                k.get_ref().clone()
                            }
                            KeySpec::Known { path: Some(p), .. } | KeySpec::Create(p) => p
                                .to_str()
                                .ok_or_else(|| located("the key file's path is not UTF-8".into()))?
                                .to_string(),
                        },
                    )
                }
            };
            let mut queues = QueueOptions::default();
            for (span, one) in l.queue_sizes() {
                one.check()
                    .map_err(|m| err(Some(span), format!("layer `{}`: {m}", l.name.get_ref())))?;
                queues.cube_pdus = queues.cube_pdus.or(one.cube_pdus);
                queues.mgmt_pdus = queues.mgmt_pdus.or(one.mgmt_pdus);
                queues.backlog_sdus = queues.backlog_sdus.or(one.backlog_sdus);
                queues.backlog_bytes = queues.backlog_bytes.or(one.backlog_bytes);
            }
            let mut connects = Vec::new();
            for c in &l.connect {
                let c = c.get_ref();
                connects.push(Request::IpcpConnect {
                    name: ipcp.clone(),
                    to: peer(&c.peer)?,
                    over: None,
                    cost: c.cost.max(1),
                });
            }
            let over = match lower {
                Some((_, Lower::Unicast(i))) => Some(i.clone()),
                _ => None,
            };
            creates.push((
                ipcp.clone(),
                over.clone(),
                Request::IpcpCreate {
                    name: ipcp.clone(),
                    kind: IpcpKind::Unicast,
                    lower: over.or_else(|| lower.map(|(n, _)| n)),
                    udp: None,
                    fault: None,
                    queues,
                    key,
                },
            ));
            // Every IPCP exists and every bootstrap is done before any IPCP connects or
            // enrolls (over a local shim the peer is another IPCP of this file). As `ourod`
            // always did: a bootstrapped IPCP connects once in its layer, an enrollee asks
            // for its adjacencies before enrolling.
            match enroll {
                None => {
                    boots.push(Request::IpcpBootstrap {
                        name: ipcp,
                        layer,
                        hello_ms: l.hello_ms,
                        dead_ms: l.dead_ms,
                    });
                    joins.extend(connects);
                }
                Some(via) => {
                    joins.extend(connects);
                    joins.push(Request::IpcpEnroll {
                        name: ipcp,
                        layer,
                        via: Some(via),
                        over: None,
                    });
                }
            }
        }
        // An IPCP over a unicast layer is created after the IPCP below it.
        while !creates.is_empty() {
            let ready = creates
                .iter()
                .position(|(_, over, _)| {
                    over.as_ref()
                        .is_none_or(|o| !creates.iter().any(|(i, _, _)| i == o))
                })
                .ok_or_else(|| err(None, "unicast layers run over each other in a cycle".into()))?;
            ops.push(creates.remove(ready).2);
        }
        ops.append(&mut boots);
        ops.append(&mut joins);
        let mut names = std::collections::HashSet::new();
        for n in &f.names {
            let n = n.get_ref();
            let name = n.name.get_ref().trim().to_string();
            if name.is_empty() || !names.insert(name.clone()) {
                return Err(err(
                    Some(n.name.span()),
                    format!("empty or duplicate name `{name}`"),
                ));
            }
            ops.push(Request::NameCreate { name: name.clone() });
            for b in &n.bind {
                if b.get_ref().trim().is_empty() {
                    return Err(err(Some(b.span()), "empty program name".into()));
                }
                ops.push(Request::NameBind {
                    name: name.clone(),
                    program: Some(b.get_ref().clone()),
                    pid: None,
                });
            }
            for r in &n.register {
                if !layer_names.contains(r.get_ref()) {
                    return Err(err(
                        Some(r.span()),
                        format!("no unicast or local layer called `{}`", r.get_ref()),
                    ));
                }
                ops.push(Request::Register {
                    name: name.clone(),
                    layer: Some(r.get_ref().clone()),
                });
            }
        }
        Ok(Config {
            node,
            ops,
            policies,
        })
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
        let Request::IpcpCreate {
            udp: Some(u),
            fault,
            ..
        } = &c.ops[0]
        else {
            panic!("{:?}", c.ops[0]);
        };
        assert_eq!(u.peers.len(), 2);
        assert_eq!(fault.map(|f| f.loss), Some(0.25));
        assert_eq!((u.rate_pps, u.schedule), (None, None), "unpaced, scheduled");
        let paced = GOOD.replace("fault = ", "rate_pps = 500\nschedule = false\nfault = ");
        let p = Config::parse("b.toml", &paced).expect("parses");
        let Request::IpcpCreate { udp: Some(u), .. } = &p.ops[0] else {
            panic!("{:?}", p.ops[0]);
        };
        assert_eq!((u.rate_pps, u.schedule), (Some(500), Some(false)));
        let connect = |to: &str, cost| Request::IpcpConnect {
            name: "b.net".into(),
            to: to.into(),
            over: None,
            cost,
        };
        assert_eq!(
            c.ops[1..],
            [
                Request::IpcpCreate {
                    name: "b.net".into(),
                    kind: IpcpKind::Unicast,
                    lower: Some("udp".into()),
                    udp: None,
                    fault: None,
                    queues: QueueOptions::default(),
                    key: None,
                },
                connect("a", 1),
                connect("c", 3),
                Request::IpcpEnroll {
                    name: "b.net".into(),
                    layer: "net".into(),
                    via: Some("a".into()),
                    over: None,
                },
                Request::NameCreate {
                    name: "pong".into()
                },
                Request::Register {
                    name: "pong".into(),
                    layer: Some("net".into()),
                },
            ]
        );
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
        let p = &c.policies[0].1;
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
        assert_eq!(c.policies[0].1.routing.policy, "lfa");
        assert_eq!(c.policies[0].1.auth.policy, "native");
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
        assert!(
            e.message
                .contains("no udp, local or unicast layer called `eth`"),
            "{e}"
        );
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
    fn unicast_layers_stack_over_a_local_shim() {
        let c = Config::parse(
            "l.toml",
            r#"
node = "h"
[[layer]]
name = "lo"
type = "local"
[[layer]]
name = "n2"
type = "unicast"
ipcp = "second"
layer = "net"
lower = "lo"
enroll = "n1"
connect = [ { peer = "h.n1" } ]
[[layer]]
name = "n1"
type = "unicast"
layer = "net"
lower = "lo"
bootstrap = true
[[name]]
name = "svc"
register = ["lo", "net"]
bind = ["ouro"]
"#,
        )
        .expect("parses");
        // The enrollee comes first in the file; its enrollment still follows the bootstrap.
        let at = |want: &dyn Fn(&Request) -> bool| c.ops.iter().position(want).expect("op");
        let enroll = at(
            &|r| matches!(r, Request::IpcpEnroll { name, via: Some(v), .. } if name == "second" && v == "h.n1"),
        );
        let boot = at(&|r| matches!(r, Request::IpcpBootstrap { name, .. } if name == "h.n1"));
        let created = at(&|r| matches!(r, Request::IpcpCreate { name, .. } if name == "h.n1"));
        assert!(created < boot && boot < enroll, "{:?}", c.ops);
        assert!(c.ops.contains(&Request::NameBind {
            name: "svc".into(),
            program: Some("ouro".into()),
            pid: None,
        }));
        let e = error_of(
            "node = \"a\"\n[[layer]]\nname = \"u\"\ntype = \"udp\"\nbind = \"127.0.0.1:1\"\n[[name]]\nname = \"x\"\nregister = [\"u\"]\n",
        );
        assert!(
            e.message.contains("no unicast or local layer called `u`"),
            "{e}"
        );
        assert_eq!(e.line, 8, "{e}");
    }

    #[test]
    fn a_unicast_layer_may_run_over_another() {
        let top = "\n[[layer]]\nname = \"top\"\ntype = \"unicast\"\nlower = \"net\"\n\
                   enroll = \"a.top\"\nconnect = [ { peer = \"a.top\" } ]\n";
        // Listed before the layer it runs over: still created after it.
        let text = GOOD.replacen(
            "[[layer]]\nname = \"net\"",
            &format!("{top}\n[[layer]]\nname = \"net\""),
            1,
        );
        let c = Config::parse("t.toml", &text).expect("parses");
        let created = |n: &str| {
            c.ops
                .iter()
                .position(|r| matches!(r, Request::IpcpCreate { name, .. } if name == n))
                .expect("created")
        };
        assert!(created("b.net") < created("b.top"), "{:?}", c.ops);
        assert!(c.ops.contains(&Request::IpcpCreate {
            name: "b.top".into(),
            kind: IpcpKind::Unicast,
            lower: Some("b.net".into()),
            udp: None,
            fault: None,
            queues: QueueOptions::default(),
            key: None,
        }));
        assert!(c.ops.contains(&Request::IpcpEnroll {
            name: "b.top".into(),
            layer: "top".into(),
            via: Some("a.top".into()),
            over: None,
        }));
        let e = error_of(&GOOD.replace("lower = \"udp\"", "lower = \"net\""));
        assert!(e.message.contains("cannot run over itself"), "{e}");
    }

    #[test]
    fn key_option_inline_file_missing_and_malformed() {
        let with_key =
            |v: &str| GOOD.replace("enroll = \"a\"", &format!("enroll = \"a\"\nkey = \"{v}\""));
        let key_of = |c: &Config| {
            c.ops.iter().find_map(|r| match r {
                Request::IpcpCreate { name, key, .. } if name == "b.net" => Some(key.clone()),
                _ => None,
            })
        };
        let c = Config::parse("b.toml", GOOD).expect("parses");
        assert_eq!(key_of(&c), Some(None), "no key: random");
        let hexkey = "11".repeat(32);
        let c = Config::parse("b.toml", &with_key(&hexkey)).expect("parses");
        assert_eq!(key_of(&c), Some(Some(hexkey.clone())));
        let dir = std::env::temp_dir().join(format!("ouro-cfg-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cfg_file = dir.join("b.toml");
        let file = cfg_file.to_str().expect("utf-8 path");
        // A key file is named relative to the configuration file's directory.
        let c = Config::parse(file, &with_key("new.key")).expect("parses");
        let path = dir.join("new.key");
        assert_eq!(key_of(&c), Some(Some(path.to_str().expect("utf-8").into())));
        assert_eq!(
            parse_key_option(path.to_str().expect("utf-8"), Path::new("")),
            Ok(KeySpec::Create(path.clone())),
            "the daemon resolves the path it is given to the same file"
        );
        std::fs::write(dir.join("bad.key"), "xyz").expect("written");
        let e = Config::parse(file, &with_key("bad.key")).expect_err("malformed");
        assert_eq!(e.line, 16, "{e}");
        assert!(e.message.contains("does not hold a private key"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn queue_sizes_are_per_unicast_layer_checked_and_located() {
        let sizes = "enroll = \"a\"\nqueue_pdus = 64\nmgmt_queue_pdus = 512\n\
                     backlog_sdus = 100\nbacklog_bytes = 1048576";
        let c = Config::parse("q.toml", &GOOD.replace("enroll = \"a\"", sizes)).expect("parses");
        let queues = c.ops.iter().find_map(|r| match r {
            Request::IpcpCreate { name, queues, .. } if name == "b.net" => Some(*queues),
            _ => None,
        });
        assert_eq!(
            queues,
            Some(QueueOptions {
                cube_pdus: Some(64),
                mgmt_pdus: Some(512),
                backlog_sdus: Some(100),
                backlog_bytes: Some(1 << 20),
            })
        );
        // Out of range: the error points at the value.
        let e = error_of(&GOOD.replace("enroll = \"a\"", "enroll = \"a\"\nqueue_pdus = 0"));
        assert_eq!((e.line, e.column), (16, 14), "{e}");
        assert!(
            e.message.contains("queue_pdus must be between 1 and 65536"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("enroll = \"a\"", "enroll = \"a\"\nbacklog_bytes = 10"));
        assert!(
            e.message.contains("backlog_bytes must be between 65536"),
            "{e}"
        );
        assert_eq!(e.line, 16, "{e}");
        let e = error_of(&GOOD.replace("enroll = \"a\"", "enroll = \"a\"\nbacklog_sdus = -1"));
        assert_eq!(e.line, 16, "{e}");
        // On a shim layer they mean nothing: refused.
        let e = error_of(&GOOD.replace("fault = ", "mgmt_queue_pdus = 64\nfault = "));
        assert_eq!((e.line, e.column), (9, 19), "{e}");
        assert!(
            e.message
                .contains("`queue sizes` belongs to a unicast layer"),
            "{e}"
        );
    }

    #[test]
    fn keys_of_another_layer_type_are_refused_not_ignored() {
        // `rate_pps` is the UDP link's: on the unicast layer it would do nothing.
        let e = error_of(&GOOD.replace("enroll = \"a\"", "enroll = \"a\"\nrate_pps = 10"));
        assert_eq!(e.line, 12, "at the layer's name: {e}");
        assert!(
            e.message
                .contains("layer `net`: `rate_pps` belongs to a udp layer"),
            "{e}"
        );
        let e = error_of(&GOOD.replace("fault = ", "key = \"k.key\"\nfault = "));
        assert_eq!((e.line, e.column), (9, 7), "at the key: {e}");
        assert!(
            e.message.contains("`key` belongs to a unicast layer"),
            "{e}"
        );
        let local =
            "node = \"a\"\n[[layer]]\nname = \"lo\"\ntype = \"local\"\nbind = \"1.2.3.4:5\"\n";
        let e = error_of(local);
        assert_eq!((e.line, e.column), (5, 8), "{e}");
        assert!(e.message.contains("`bind` belongs to a udp layer"), "{e}");
        // Faults go on any shim layer, not on a unicast one.
        let faulty = "node = \"a\"\n[[layer]]\nname = \"lo\"\ntype = \"local\"\n\
                      fault = { loss = 1.0, down = true }\n";
        let c = Config::parse("l.toml", faulty).expect("parses");
        let Request::IpcpCreate {
            kind: IpcpKind::Local,
            fault: Some(f),
            ..
        } = &c.ops[0]
        else {
            panic!("{:?}", c.ops);
        };
        assert_eq!((f.loss, f.down), (1.0, true));
        let e = error_of(&GOOD.replace("enroll = \"a\"", "enroll = \"a\"\nfault = { loss = 0.5 }"));
        assert!(
            e.message
                .contains("layer `net`: `fault` belongs to a udp or local layer"),
            "{e}"
        );
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
