//! The root zone's delegation data as one value: what `import-zone` reads and `export-zone`
//! writes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use super::{Delegation, DelegationDiff, DsRecord, HostName, TldLabel};

/// The apex SOA of a publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Soa {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
    pub ttl: u32,
}

/// The root's own name servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Apex {
    pub ns: BTreeSet<HostName>,
    pub ns_ttl: u32,
}

/// The NS and DS RRsets of one TLD, with their TTLs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TldDelegation {
    pub ns: BTreeSet<HostName>,
    pub ns_ttl: u32,
    pub ds: BTreeSet<DsRecord>,
    pub ds_ttl: u32,
}

/// One glue address with its TTL.
pub type HostAddress = (IpAddr, u32);

/// Root zone delegation data. Glue belongs to hosts, not TLDs: in the root zone one name
/// server host (and its addresses) can serve many TLDs, so changing its address changes every
/// one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootZone {
    pub soa: Soa,
    pub apex: Apex,
    pub tlds: BTreeMap<TldLabel, TldDelegation>,
    /// Glue addresses by host, each with its TTL.
    pub hosts: BTreeMap<HostName, BTreeMap<IpAddr, u32>>,
}

/// Differences between two root zones, per TLD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ZoneDiff {
    pub added: Vec<TldLabel>,
    pub removed: Vec<TldLabel>,
    pub changed: BTreeMap<TldLabel, DelegationDiff>,
    /// TLDs whose data is the same but a TTL changed.
    pub ttl_changed: Vec<TldLabel>,
    pub apex_changed: bool,
}

impl ZoneDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.ttl_changed.is_empty()
            && !self.apex_changed
    }
}

impl RootZone {
    /// The delegation of one TLD, with the glue of its name servers.
    pub fn delegation(&self, tld: &TldLabel) -> Option<Delegation> {
        let entry = self.tlds.get(tld)?;
        Some(self.delegation_of(entry))
    }

    fn delegation_of(&self, entry: &TldDelegation) -> Delegation {
        let nameservers = entry
            .ns
            .iter()
            .map(|ns| {
                let addresses = self
                    .hosts
                    .get(ns)
                    .map(|a| a.keys().copied().collect())
                    .unwrap_or_default();
                (ns.clone(), addresses)
            })
            .collect();
        Delegation {
            nameservers,
            ds: entry.ds.clone(),
        }
    }

    /// Host names that some TLD or the apex names as a name server.
    pub fn used_hosts(&self) -> BTreeSet<&HostName> {
        self.tlds
            .values()
            .flat_map(|t| t.ns.iter())
            .chain(self.apex.ns.iter())
            .collect()
    }

    /// The TTLs of a host's glue, for comparing imports.
    fn host_ttls(&self, host: &HostName) -> Vec<u32> {
        self.hosts
            .get(host)
            .map(|a| a.values().copied().collect())
            .unwrap_or_default()
    }

    /// What changes from `self` to `new`, per TLD.
    pub fn diff(&self, new: &RootZone) -> ZoneDiff {
        let mut diff = ZoneDiff {
            apex_changed: self.apex != new.apex
                || self
                    .apex
                    .ns
                    .iter()
                    .any(|h| self.hosts.get(h) != new.hosts.get(h)),
            ..ZoneDiff::default()
        };
        for (label, old_entry) in &self.tlds {
            match new.tlds.get(label) {
                None => diff.removed.push(label.clone()),
                Some(new_entry) => {
                    let changes = self
                        .delegation_of(old_entry)
                        .diff(&new.delegation_of(new_entry));
                    if !changes.is_empty() {
                        diff.changed.insert(label.clone(), changes);
                    } else if old_entry.ns_ttl != new_entry.ns_ttl
                        || old_entry.ds_ttl != new_entry.ds_ttl
                        || old_entry
                            .ns
                            .iter()
                            .any(|h| self.host_ttls(h) != new.host_ttls(h))
                    {
                        diff.ttl_changed.push(label.clone());
                    }
                }
            }
        }
        diff.added = new
            .tlds
            .keys()
            .filter(|l| !self.tlds.contains_key(*l))
            .cloned()
            .collect();
        diff
    }
}
