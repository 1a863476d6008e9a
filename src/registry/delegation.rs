//! A TLD's delegation: its name servers with their glue addresses, and its DS set.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{DsRecord, HostName, Invalid, TldLabel};

/// What the root zone publishes for one TLD: the NS set, the glue (A/AAAA) of those name
/// servers, and the DS set. Maps and sets keep it in one deterministic order, so that two
/// equal delegations serialise identically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DelegationWire", into = "DelegationWire")]
pub struct Delegation {
    /// Name server host names with their glue addresses (possibly none).
    pub nameservers: BTreeMap<HostName, BTreeSet<IpAddr>>,
    pub ds: BTreeSet<DsRecord>,
}

/// One name server in the JSON form of a delegation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameServer {
    pub name: HostName,
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DelegationWire {
    nameservers: Vec<NameServer>,
    #[serde(default)]
    ds: Vec<DsRecord>,
}

impl TryFrom<DelegationWire> for Delegation {
    type Error = Invalid;
    fn try_from(w: DelegationWire) -> Result<Self, Invalid> {
        Delegation::from_parts(w.nameservers, w.ds)
    }
}

impl From<Delegation> for DelegationWire {
    fn from(d: Delegation) -> Self {
        DelegationWire {
            nameservers: d.name_servers(),
            ds: d.ds.into_iter().collect(),
        }
    }
}

impl Delegation {
    /// Builds a delegation from lists, refusing duplicates rather than merging them silently.
    pub fn from_parts(nameservers: Vec<NameServer>, ds: Vec<DsRecord>) -> Result<Self, Invalid> {
        let mut delegation = Delegation::default();
        for ns in nameservers {
            let mut addresses = BTreeSet::new();
            for address in ns.addresses {
                if !addresses.insert(address) {
                    return Err(Invalid::new(
                        "name server",
                        ns.name.as_str(),
                        format!("address {address} is listed twice"),
                    ));
                }
            }
            if delegation.nameservers.contains_key(&ns.name) {
                return Err(Invalid::new(
                    "name server",
                    ns.name.as_str(),
                    "it is listed twice",
                ));
            }
            delegation.nameservers.insert(ns.name, addresses);
        }
        for record in ds {
            let text = record.to_string();
            if !delegation.ds.insert(record) {
                return Err(Invalid::new("DS record", text, "it is listed twice"));
            }
        }
        Ok(delegation)
    }

    /// The name servers as a list, in canonical order.
    pub fn name_servers(&self) -> Vec<NameServer> {
        self.nameservers
            .iter()
            .map(|(name, addresses)| NameServer {
                name: name.clone(),
                addresses: addresses.iter().copied().collect(),
            })
            .collect()
    }

    /// Every (host, address) glue pair.
    pub fn glue(&self) -> impl Iterator<Item = (&HostName, &IpAddr)> {
        self.nameservers
            .iter()
            .flat_map(|(name, addresses)| addresses.iter().map(move |a| (name, a)))
    }

    /// Name servers that lie inside `tld` and therefore need glue.
    pub fn in_bailiwick<'a>(&'a self, tld: &'a TldLabel) -> impl Iterator<Item = &'a HostName> {
        self.nameservers.keys().filter(move |n| n.is_under(tld))
    }

    /// What changes from `self` to `new`.
    pub fn diff(&self, new: &Delegation) -> DelegationDiff {
        let old_ns: BTreeSet<&HostName> = self.nameservers.keys().collect();
        let new_ns: BTreeSet<&HostName> = new.nameservers.keys().collect();
        let old_glue: BTreeSet<(&HostName, &IpAddr)> = self.glue().collect();
        let new_glue: BTreeSet<(&HostName, &IpAddr)> = new.glue().collect();
        let pairs = |a: &BTreeSet<(&HostName, &IpAddr)>, b: &BTreeSet<(&HostName, &IpAddr)>| {
            a.difference(b)
                .map(|(h, ip)| ((*h).clone(), **ip))
                .collect::<Vec<_>>()
        };
        DelegationDiff {
            added_ns: new_ns.difference(&old_ns).map(|h| (*h).clone()).collect(),
            removed_ns: old_ns.difference(&new_ns).map(|h| (*h).clone()).collect(),
            added_glue: pairs(&new_glue, &old_glue),
            removed_glue: pairs(&old_glue, &new_glue),
            added_ds: new.ds.difference(&self.ds).cloned().collect(),
            removed_ds: self.ds.difference(&new.ds).cloned().collect(),
        }
    }
}

/// The difference between two delegations, every list in canonical order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationDiff {
    pub added_ns: Vec<HostName>,
    pub removed_ns: Vec<HostName>,
    pub added_glue: Vec<(HostName, IpAddr)>,
    pub removed_glue: Vec<(HostName, IpAddr)>,
    pub added_ds: Vec<DsRecord>,
    pub removed_ds: Vec<DsRecord>,
}

impl DelegationDiff {
    pub fn is_empty(&self) -> bool {
        self.added_ns.is_empty()
            && self.removed_ns.is_empty()
            && self.added_glue.is_empty()
            && self.removed_glue.is_empty()
            && self.added_ds.is_empty()
            && self.removed_ds.is_empty()
    }
}

/// One change a line: `+NS ns1.example.de`, `-A ns2.example.de 192.0.2.1`, `+DS 1 13 2 ...`.
impl fmt::Display for DelegationDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let glue_type = |ip: &IpAddr| if ip.is_ipv4() { "A" } else { "AAAA" };
        let mut lines = Vec::new();
        lines.extend(self.removed_ns.iter().map(|n| format!("-NS {n}")));
        lines.extend(self.added_ns.iter().map(|n| format!("+NS {n}")));
        lines.extend(
            self.removed_glue
                .iter()
                .map(|(n, ip)| format!("-{} {n} {ip}", glue_type(ip))),
        );
        lines.extend(
            self.added_glue
                .iter()
                .map(|(n, ip)| format!("+{} {n} {ip}", glue_type(ip))),
        );
        lines.extend(self.removed_ds.iter().map(|d| format!("-DS {d}")));
        lines.extend(self.added_ds.iter().map(|d| format!("+DS {d}")));
        f.write_str(&lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delegation(json: &str) -> Result<Delegation, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn order_is_deterministic_and_diff_is_exact() {
        let a = delegation(
            r#"{"nameservers":[{"name":"b.nic.de","addresses":["192.0.2.2"]},{"name":"a.nic.de","addresses":["2001:db8::1","192.0.2.1"]}]}"#,
        )
        .expect("valid");
        let again = delegation(
            r#"{"nameservers":[{"name":"a.nic.de","addresses":["192.0.2.1","2001:db8::1"]},{"name":"B.NIC.DE.","addresses":["192.0.2.2"]}]}"#,
        )
        .expect("valid");
        assert_eq!(a, again);
        assert_eq!(
            serde_json::to_string(&a).expect("json"),
            serde_json::to_string(&again).expect("json")
        );
        let b = delegation(
            r#"{"nameservers":[{"name":"a.nic.de","addresses":["192.0.2.9"]},{"name":"c.ns.example","addresses":[]}],
               "ds":[{"key_tag":1,"algorithm":13,"digest_type":2,"digest":"00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"}]}"#,
        )
        .expect("valid");
        let diff = a.diff(&b);
        assert_eq!(
            diff.added_ns,
            vec![HostName::parse("c.ns.example").expect("name")]
        );
        assert_eq!(
            diff.removed_ns,
            vec![HostName::parse("b.nic.de").expect("name")]
        );
        assert_eq!(diff.added_glue.len(), 1);
        assert_eq!(diff.removed_glue.len(), 3);
        assert_eq!(diff.added_ds.len(), 1);
        assert!(a.diff(&again).is_empty());
        assert!(diff.to_string().contains("+NS c.ns.example"));
    }

    #[test]
    fn refuses_duplicates_and_unknown_fields() {
        assert!(delegation(r#"{"nameservers":[{"name":"a.de"},{"name":"A.de."}]}"#).is_err());
        assert!(delegation(
            r#"{"nameservers":[{"name":"a.de","addresses":["192.0.2.1","192.0.2.1"]}]}"#
        )
        .is_err());
        assert!(delegation(r#"{"nameservers":[{"name":"a.de","ttl":5}]}"#).is_err());
        assert!(
            delegation(r#"{"nameservers":[{"name":"a.de","addresses":["999.1.1.1"]}]}"#).is_err()
        );
    }
}
