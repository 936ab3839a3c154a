//! Names: creating them, binding programs or processes to them (only a bound process may
//! accept flows to a bound name), and listing them with their registrations.

use super::{Daemon, Fd};
use crate::control_error::ControlError;
use ouro_control::NameInfo;
use std::collections::BTreeSet;

/// A created name and its bindings.
#[derive(Debug, Default)]
pub(super) struct NameEntry {
    /// Programs (executable basename or full path) bound to it.
    pub(super) programs: BTreeSet<String>,
    /// Processes bound to it.
    pub(super) pids: BTreeSet<u32>,
}

impl NameEntry {
    fn is_bound(&self) -> bool {
        !self.programs.is_empty() || !self.pids.is_empty()
    }

    /// True if process `pid` (running `exe`) is bound.
    fn admits(&self, pid: Option<u32>, exe: Option<&std::path::Path>) -> bool {
        if pid.is_some_and(|p| self.pids.contains(&p)) {
            return true;
        }
        let Some(exe) = exe else {
            return false;
        };
        let base = exe.file_name().and_then(|b| b.to_str());
        self.programs
            .iter()
            .any(|p| Some(p.as_str()) == base || std::path::Path::new(p) == exe)
    }
}

/// The process at the other end of a Unix socket (its credentials).
pub(super) fn peer_pid(conn: &Fd) -> Option<u32> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let c = getsockopt(&**conn, PeerCredentials).ok()?;
    u32::try_from(c.pid()).ok().filter(|p| *p > 0)
}

/// The executable a process runs.
fn exe_of(pid: u32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

fn check_name(name: &str) -> Result<(), ControlError> {
    if name.trim().is_empty() {
        Err(ControlError::BadArgument("a name may not be empty".into()))
    } else {
        Ok(())
    }
}

impl Daemon {
    /// May the application on `conn` accept flows to `name`?
    pub(super) fn may_listen(&self, name: &str, conn: &Fd) -> Result<(), ControlError> {
        let Some(e) = self.name_table.get(name).filter(|e| e.is_bound()) else {
            return Ok(());
        };
        let pid = peer_pid(conn);
        if e.admits(pid, pid.and_then(exe_of).as_deref()) {
            Ok(())
        } else {
            Err(ControlError::NotPermitted(format!(
                "name `{name}` is bound to other programs or processes (see `ouro name list`)"
            )))
        }
    }

    /// `NameCreate`.
    pub(super) fn name_create(&mut self, name: &str) -> Result<(), ControlError> {
        check_name(name)?;
        if self.name_table.contains_key(name) {
            return Err(ControlError::Exists {
                what: "name",
                name: name.to_string(),
            });
        }
        self.name_table
            .insert(name.to_string(), NameEntry::default());
        Ok(())
    }

    /// `NameBind` (creates the name if needed).
    pub(super) fn name_bind(
        &mut self,
        name: &str,
        program: Option<&str>,
        pid: Option<u32>,
    ) -> Result<(), ControlError> {
        check_name(name)?;
        let bad = |m: String| Err(ControlError::BadArgument(m));
        if program.is_none() && pid.is_none() {
            return bad("bind what? give a program or a process id".into());
        }
        if let Some(p) = pid
            && !std::path::Path::new(&format!("/proc/{p}")).exists()
        {
            return bad(format!("no process {p}"));
        }
        if program.is_some_and(|p| p.trim().is_empty()) {
            return bad("the program name is empty".into());
        }
        let e = self.name_table.entry(name.to_string()).or_default();
        e.programs.extend(program.map(str::to_string));
        e.pids.extend(pid);
        Ok(())
    }

    /// `NameUnbind`.
    pub(super) fn name_unbind(
        &mut self,
        name: &str,
        program: Option<&str>,
        pid: Option<u32>,
    ) -> Result<(), ControlError> {
        let Some(e) = self.name_table.get_mut(name) else {
            return Err(ControlError::UnknownName(name.to_string()));
        };
        if program.is_none() && pid.is_none() {
            e.programs.clear();
            e.pids.clear();
            return Ok(());
        }
        let found =
            program.is_some_and(|p| e.programs.remove(p)) | pid.is_some_and(|p| e.pids.remove(&p));
        if found {
            Ok(())
        } else {
            Err(ControlError::BadArgument(format!(
                "that is not bound to `{name}`"
            )))
        }
    }

    /// `NameDestroy`: bindings and registrations go (listening applications keep theirs).
    pub(super) fn name_destroy(&mut self, name: &str) -> Result<(), ControlError> {
        let known = self.name_table.remove(name).is_some() | self.static_names.contains_key(name);
        if !known {
            return Err(ControlError::UnknownName(name.to_string()));
        }
        let now = self.now();
        self.static_names.remove(name);
        self.local_unregister(name, None);
        let listening = self.listeners.contains_key(name);
        if !listening {
            for li in 0..self.layers.len() {
                let _ = self
                    .node
                    .unregister(now, ouro_node::IpcpId::of_index(li), name);
            }
        }
        Ok(())
    }

    /// `Register`: register `name` in a layer (every layer if None), kept while no
    /// application listens (flows to it are refused until one does).
    pub(super) fn register_name(
        &mut self,
        name: &str,
        layer: Option<&str>,
    ) -> Result<(), ControlError> {
        check_name(name)?;
        let idx = self.layer_index(layer)?;
        let layers: Vec<String> = layer.map(str::to_string).into_iter().collect();
        self.local_register(name, &layers, true);
        let e = self.static_names.entry(name.to_string()).or_default();
        for li in &idx {
            if !e.contains(li) {
                e.push(*li);
            }
        }
        let now = self.now();
        for li in idx {
            self.register_in(li, now, name);
        }
        Ok(())
    }

    /// Every name known here: created, bound, registered or listened on.
    pub(super) fn name_list(&self) -> Vec<NameInfo> {
        let mut all: BTreeSet<&str> = self.name_table.keys().map(String::as_str).collect();
        all.extend(self.static_names.keys().map(String::as_str));
        all.extend(self.listeners.keys().map(String::as_str));
        for li in 0..self.layers.len() {
            all.extend(self.node.registered(ouro_node::IpcpId::of_index(li)));
        }
        for l in &self.locals {
            all.extend(l.names.keys().map(String::as_str));
        }
        all.into_iter()
            .map(|n| {
                let mut layers: Vec<&str> = self
                    .layers
                    .iter()
                    .enumerate()
                    .filter(|(li, l)| {
                        !l.destroyed
                            && self
                                .node
                                .registered(ouro_node::IpcpId::of_index(*li))
                                .any(|x| x == n)
                    })
                    .map(|(_, l)| l.name.as_str())
                    .chain(
                        self.locals
                            .iter()
                            .filter(|l| l.names.contains_key(n))
                            .map(|l| l.name.as_str()),
                    )
                    .collect();
                layers.dedup();
                let e = self.name_table.get(n);
                let listeners = self.listeners.get(n);
                NameInfo {
                    name: n.to_string(),
                    layers: layers.into_iter().map(String::from).collect(),
                    programs: e
                        .map(|e| e.programs.iter().cloned().collect())
                        .unwrap_or_default(),
                    pids: e
                        .map(|e| e.pids.iter().copied().collect())
                        .unwrap_or_default(),
                    listeners: listeners.map_or(0, Vec::len),
                    listener_pids: listeners
                        .map(|v| v.iter().filter_map(|(_, fd)| peer_pid(fd)).collect())
                        .unwrap_or_default(),
                }
            })
            .collect()
    }
}
