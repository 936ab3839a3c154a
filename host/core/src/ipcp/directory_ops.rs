//! Directory operations of the IPCP: publishing registrations to their replicas, answering
//! lookups, and re-publishing when membership moves a name (see [`crate::directory`]).

use super::Ipcp;
use crate::directory::replicas;
use crate::time::Instant;
use crate::wire::{DirEntry, MgmtMsg};
use crate::{Address, NameHash};
use std::time::Duration;

impl Ipcp {
    /// Every member this IPCP can reach, itself included.
    pub(super) fn members(&self) -> Vec<Address> {
        let mut m: Vec<Address> = self.fib.iter().map(|(a, _)| *a).collect();
        m.push(self.address);
        m
    }

    /// The replicas responsible for `name` as this IPCP sees the layer.
    pub(super) fn replicas_of(&self, name: &NameHash) -> Vec<Address> {
        replicas(
            name,
            self.members(),
            usize::from(self.config.dht_replicas.max(1)),
        )
    }

    /// Lifetime of the registrations we publish.
    fn registration_lifetime(&self) -> Duration {
        (self.config.dir_refresh * 3).min(Duration::from_secs(u64::from(u16::MAX)))
    }

    /// Publish our registration of `name` to its replicas; with `only_if_moved`, only if
    /// the replica set differs from the one last published to.
    pub(super) fn publish_name(&mut self, _now: Instant, name: NameHash, only_if_moved: bool) {
        let reps = self.replicas_of(&name);
        if only_if_moved && self.local_names.get(&name) == Some(&reps) {
            return;
        }
        let lifetime_s = u16::try_from(self.registration_lifetime().as_secs()).unwrap_or(u16::MAX);
        let msg = MgmtMsg::DirPut {
            entries: vec![DirEntry {
                name,
                address: self.address,
                key: self.identity.public(),
                lifetime_s,
            }],
        };
        let mut all_sent = true;
        for r in &reps {
            all_sent &= self.send_mgmt(*r, &msg).is_ok();
        }
        // A replica we could not reach yet: retry after the next route computation.
        let published = if all_sent { reps } else { Vec::new() };
        self.local_names.insert(name, published);
    }

    /// Withdraw our registration of `name`.
    pub(super) fn withdraw_name(&mut self, _now: Instant, name: NameHash) {
        if self.local_names.remove(&name).is_none() {
            return;
        }
        let msg = MgmtMsg::DirDel {
            name,
            address: self.address,
        };
        for r in self.replicas_of(&name) {
            let _ = self.send_mgmt(r, &msg);
        }
    }

    /// After a route computation: re-publish names whose replicas changed.
    pub(super) fn republish_moved_names(&mut self, now: Instant) {
        let names: Vec<NameHash> = self.local_names.keys().copied().collect();
        for name in names {
            self.publish_name(now, name, true);
        }
    }

    /// A member stores registrations with us.
    pub(super) fn on_dir_put(&mut self, now: Instant, entries: Vec<DirEntry>) {
        for e in entries {
            let expires = now + Duration::from_secs(u64::from(e.lifetime_s));
            self.dir_store.put(e.name, e.address, e.key, expires);
        }
    }

    /// A member looks a name up.
    pub(super) fn on_dir_get(&mut self, now: Instant, src: Address, query: u32, name: NameHash) {
        let targets = self.dir_store.get(&name, now);
        let _ = self.send_mgmt(
            src,
            &MgmtMsg::DirReply {
                query,
                name,
                targets,
            },
        );
    }

    /// Expire stored registrations; refresh ours periodically.
    pub(super) fn directory_tick(&mut self, now: Instant) {
        self.dir_store.expire(now);
        let due = self
            .last_dir_publish
            .is_none_or(|t| t + self.config.dir_refresh <= now);
        if due {
            self.last_dir_publish = Some(now);
            let names: Vec<NameHash> = self.local_names.keys().copied().collect();
            for name in names {
                self.publish_name(now, name, false);
            }
        }
    }
}
