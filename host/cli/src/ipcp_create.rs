//! `ouro ipcp create`: every per-layer key of the configuration file has an option here, and
//! both become the same [`Request::IpcpCreate`] the daemon applies (see `ourod`'s config).
//!
//! | configuration key                          | option                          |
//! |--------------------------------------------|---------------------------------|
//! | `type`                                     | `--type`                        |
//! | `bind`, `peers`                            | `--bind`, `--peer NAME=ADDR`    |
//! | `max_learned`, `learned_ttl_ms`            | `--max-learned`, `--learned-ttl-ms` |
//! | `rate_pps`, `schedule = false`             | `--rate-pps`, `--no-schedule`   |
//! | `fault = { loss, duplicate, reorder, delay_ms, down, seed }` (udp, local) | `--loss`, `--duplicate`, `--reorder`, `--delay-ms`, `--down`, `--fault-seed` |
//! | `lower`                                    | `--lower`                       |
//! | `key`                                      | `--key`                         |
//! | `queue_pdus`, `mgmt_queue_pdus`            | `--queue-pdus`, `--mgmt-queue-pdus` |
//! | `backlog_sdus`, `backlog_bytes`            | `--backlog-sdus`, `--backlog-bytes` |
//!
//! `bootstrap`/`enroll`/`connect`/`hello_ms`/`dead_ms` are `ouro ipcp bootstrap/enroll/
//! connect`; `policy` is `ouro policy load` (at run time, on probation).

use clap::{Args, ValueEnum};
use ouro_control::{FaultSpec, IpcpKind, QueueOptions, Request, UdpOptions};

/// IPCP types `ouro ipcp create` knows.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    /// A member of a unicast layer.
    Unicast,
    /// A UDP shim (one socket).
    Udp,
    /// A local shim (this system only).
    Local,
}

/// Arguments of `ouro ipcp create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Its name.
    name: String,
    /// Its type.
    #[arg(long = "type", value_enum)]
    kind: Kind,
    /// unicast: the layer below (a shim layer or another unicast IPCP).
    #[arg(long)]
    lower: Option<String>,
    /// udp: the address:port to bind.
    #[arg(long)]
    bind: Option<String>,
    /// udp: a configured peer, NAME=ADDRESS:PORT (repeatable).
    #[arg(long = "peer", value_name = "NAME=ADDR")]
    peers: Vec<String>,
    /// udp: forget learned peers silent this long (ms; 0: never).
    #[arg(long)]
    learned_ttl_ms: Option<u64>,
    /// udp: how many peers may be learned.
    #[arg(long)]
    max_learned: Option<usize>,
    /// udp: link rate, PDUs per second handed to the socket (default: unpaced).
    #[arg(long, value_name = "N")]
    rate_pps: Option<u64>,
    /// udp: send PDUs in order through one FIFO instead of per-cube queues and a scheduler.
    #[arg(long)]
    no_schedule: bool,
    /// udp, local: inject this loss probability from the start.
    #[arg(long)]
    loss: Option<f64>,
    /// udp, local: inject this duplication probability from the start.
    #[arg(long)]
    duplicate: Option<f64>,
    /// udp, local: inject this reordering probability from the start.
    #[arg(long)]
    reorder: Option<f64>,
    /// udp, local: add this delay (ms) from the start.
    #[arg(long)]
    delay_ms: Option<u64>,
    /// udp, local: start with the link down.
    #[arg(long)]
    down: bool,
    /// udp, local: seed of the fault injector (0: from the node's name).
    #[arg(long)]
    fault_seed: Option<u64>,
    /// unicast: the private key, 64 hex digits or a key file (created if missing; a file
    /// keeps the key out of the process list).
    #[arg(long)]
    key: Option<String>,
    /// unicast: PDUs per cube queue of each scheduled port (default 1024).
    #[arg(long, value_name = "N")]
    queue_pdus: Option<u32>,
    /// unicast: PDUs in each scheduled port's management queue (default 1,024).
    #[arg(long, value_name = "N")]
    mgmt_queue_pdus: Option<u32>,
    /// unicast: SDUs kept per flow while its application's socket is full (default 4,096).
    #[arg(long, value_name = "N")]
    backlog_sdus: Option<u32>,
    /// unicast: bytes kept per flow while its application's socket is full (default 4 MiB).
    #[arg(long, value_name = "BYTES")]
    backlog_bytes: Option<u64>,
}

impl CreateArgs {
    /// The fault injection asked for, if any (not checked).
    fn fault_spec(&self) -> Option<FaultSpec> {
        let any = self.loss.is_some()
            || self.duplicate.is_some()
            || self.reorder.is_some()
            || self.delay_ms.is_some()
            || self.down
            || self.fault_seed.is_some();
        any.then(|| FaultSpec {
            loss: self.loss.unwrap_or(0.0),
            duplicate: self.duplicate.unwrap_or(0.0),
            reorder: self.reorder.unwrap_or(0.0),
            delay_ms: self.delay_ms.unwrap_or(0),
            down: self.down,
            seed: self.fault_seed.unwrap_or(0),
        })
    }

    fn udp(&self) -> Result<Option<UdpOptions>, String> {
        let none_given = self.peers.is_empty()
            && self.learned_ttl_ms.is_none()
            && self.max_learned.is_none()
            && self.rate_pps.is_none()
            && !self.no_schedule;
        let Some(bind) = &self.bind else {
            return if none_given {
                Ok(None)
            } else {
                Err("UDP options need `--bind ADDRESS:PORT` (and `--type udp`)".into())
            };
        };
        let mut peers = Vec::new();
        for p in &self.peers {
            let (n, a) = p
                .split_once('=')
                .ok_or_else(|| format!("--peer `{p}`: expected NAME=ADDRESS:PORT"))?;
            peers.push((n.to_string(), a.to_string()));
        }
        Ok(Some(UdpOptions {
            bind: bind.clone(),
            peers,
            max_learned: self.max_learned,
            learned_ttl_ms: self.learned_ttl_ms,
            rate_pps: self.rate_pps,
            schedule: self.no_schedule.then_some(false),
        }))
    }

    /// The fault injection asked for, if any, checked.
    fn fault(&self) -> Result<Option<FaultSpec>, String> {
        let fault = self.fault_spec();
        if let Some(f) = fault {
            f.check()?;
        }
        Ok(fault)
    }

    /// The key as the daemon takes it: 64 hex digits, or a key file's absolute path (the
    /// daemon's working directory is not this one).
    fn key(&self) -> Result<Option<String>, String> {
        let Some(k) = &self.key else {
            return Ok(None);
        };
        if ouro_core::identity::parse_key_hex(k).is_some() {
            return Ok(Some(k.clone()));
        }
        if k.trim().is_empty() {
            return Err("--key is empty (expected 64 hex digits or a key file)".into());
        }
        let path = std::path::absolute(k).map_err(|e| format!("--key `{k}`: {e}"))?;
        path.to_str()
            .map(|p| Some(p.to_string()))
            .ok_or_else(|| format!("--key `{k}`: the path is not UTF-8"))
    }

    /// The request these arguments make (checked as far as the daemon's state is not
    /// needed; the daemon checks again).
    pub fn request(&self) -> Result<Request, String> {
        let queues = QueueOptions {
            cube_pdus: self.queue_pdus,
            mgmt_pdus: self.mgmt_queue_pdus,
            backlog_sdus: self.backlog_sdus,
            backlog_bytes: self.backlog_bytes,
        };
        queues.check()?;
        Ok(Request::IpcpCreate {
            name: self.name.clone(),
            kind: match self.kind {
                Kind::Unicast => IpcpKind::Unicast,
                Kind::Udp => IpcpKind::Udp,
                Kind::Local => IpcpKind::Local,
            },
            lower: self.lower.clone(),
            udp: self.udp()?,
            fault: self.fault()?,
            queues,
            key: self.key()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        create: CreateArgs,
    }

    fn request(args: &[&str]) -> Result<Request, String> {
        let cli = Cli::try_parse_from(std::iter::once("create").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.create.request()
    }

    #[test]
    fn udp_pacing_schedule_and_faults_match_the_configuration() {
        let r = request(&[
            "u",
            "--type",
            "udp",
            "--bind",
            "127.0.0.1:7000",
            "--peer",
            "b=127.0.0.1:7001",
            "--rate-pps",
            "5000",
            "--no-schedule",
            "--loss",
            "0.1",
            "--delay-ms",
            "5",
            "--fault-seed",
            "7",
        ])
        .expect("valid");
        let Request::IpcpCreate {
            udp: Some(u),
            fault,
            queues,
            key,
            ..
        } = r
        else {
            panic!("{r:?}");
        };
        assert_eq!((u.rate_pps, u.schedule), (Some(5000), Some(false)));
        assert_eq!(u.peers, [("b".to_string(), "127.0.0.1:7001".to_string())]);
        let f = fault.expect("fault");
        assert_eq!((f.loss, f.delay_ms, f.seed, f.down), (0.1, 5, 7, false));
        assert!(queues.is_default() && key.is_none());
        let plain = request(&["u", "--type", "udp", "--bind", "127.0.0.1:7000"]).expect("valid");
        let Request::IpcpCreate {
            udp: Some(u),
            fault,
            ..
        } = plain
        else {
            panic!("{plain:?}");
        };
        assert_eq!((u.rate_pps, u.schedule, fault), (None, None, None));
    }

    #[test]
    fn a_local_layer_takes_faults_too() {
        let r = request(&["lo", "--type", "local", "--loss", "1", "--down"]).expect("valid");
        let Request::IpcpCreate {
            udp: None,
            fault: Some(f),
            ..
        } = r
        else {
            panic!("{r:?}");
        };
        assert_eq!((f.loss, f.down, f.seed), (1.0, true, 0));
    }

    #[test]
    fn unicast_queue_sizes_and_key() {
        let hex = "ab".repeat(32);
        let r = request(&[
            "n",
            "--type",
            "unicast",
            "--lower",
            "u",
            "--queue-pdus",
            "64",
            "--mgmt-queue-pdus",
            "128",
            "--backlog-sdus",
            "10",
            "--backlog-bytes",
            "65536",
            "--key",
            &hex,
        ])
        .expect("valid");
        let Request::IpcpCreate {
            queues, key, lower, ..
        } = r
        else {
            panic!("{r:?}");
        };
        assert_eq!(lower.as_deref(), Some("u"));
        assert_eq!(
            queues,
            QueueOptions {
                cube_pdus: Some(64),
                mgmt_pdus: Some(128),
                backlog_sdus: Some(10),
                backlog_bytes: Some(65536),
            }
        );
        assert_eq!(key, Some(hex));
        // A key file is sent as an absolute path.
        let r = request(&["n", "--type", "unicast", "--key", "n.key"]).expect("valid");
        let Request::IpcpCreate { key: Some(k), .. } = r else {
            panic!("{r:?}");
        };
        assert!(k.starts_with('/') && k.ends_with("/n.key"), "{k}");
    }

    #[test]
    fn bad_values_are_refused_before_the_daemon_sees_them() {
        let e = request(&["n", "--type", "unicast", "--queue-pdus", "0"]).expect_err("range");
        assert!(e.contains("queue_pdus must be between 1 and 65536"), "{e}");
        let e = request(&["n", "--type", "unicast", "--backlog-bytes", "100"]).expect_err("small");
        assert!(e.contains("backlog_bytes"), "{e}");
        let e = request(&["u", "--type", "udp", "--rate-pps", "10"]).expect_err("no bind");
        assert!(e.contains("--bind"), "{e}");
        let e = request(&["u", "--type", "udp", "--bind", "127.0.0.1:1", "--loss", "2"])
            .expect_err("probability");
        assert!(e.contains("loss must be between 0 and 1"), "{e}");
        let e = request(&["u", "--type", "udp", "--rate-pps", "x"]).expect_err("number");
        assert!(e.contains("--rate-pps"), "{e}");
    }
}
