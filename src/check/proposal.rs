//! The proposed delegation a check runs against.
//!
//! Like Zonemaster's undelegated test, the proposal replaces whatever the parent publishes:
//! name servers, their addresses (glue, or addresses given to skip a lookup) and the DS set.
//! Names are kept as raw DNS names rather than validated [`HostName`]s, because judging a
//! bad host name is itself a check (`ns-name-syntax`) that belongs in the report. Addresses
//! carry a port so that labs can run several servers on one address.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::Name;

use crate::registry::{Delegation, DsRecord, HostName};

/// One proposed name server and the addresses given for it (glue, or addresses of an
/// out-of-bailiwick server given to skip its lookup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedNs {
    /// Absolute, lower-case name.
    pub name: Name,
    /// Socket addresses, port 53 unless a lab says otherwise.
    pub addresses: Vec<SocketAddr>,
}

/// A proposed delegation: what the parent would publish for the zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proposal {
    pub nameservers: Vec<ProposedNs>,
    pub ds: Vec<DsRecord>,
}

impl Proposal {
    /// The proposal equal to a registry delegation (addresses on port 53).
    pub fn from_delegation(delegation: &Delegation) -> Proposal {
        Proposal {
            nameservers: delegation
                .nameservers
                .iter()
                .map(|(name, addresses)| ProposedNs {
                    name: host_to_name(name),
                    addresses: addresses
                        .iter()
                        .map(|ip| SocketAddr::new(*ip, 53))
                        .collect(),
                })
                .collect(),
            ds: delegation.ds.iter().cloned().collect(),
        }
    }

    /// Adds a name server (merging with an earlier one of the same name), and an address if
    /// given. Duplicate addresses are ignored.
    pub fn add(&mut self, name: Name, address: Option<SocketAddr>) {
        let name = name.to_lowercase();
        let index = match self.nameservers.iter().position(|ns| ns.name == name) {
            Some(i) => i,
            None => {
                self.nameservers.push(ProposedNs {
                    name,
                    addresses: Vec::new(),
                });
                self.nameservers.len() - 1
            }
        };
        if let Some(address) = address {
            let ns = &mut self.nameservers[index];
            if !ns.addresses.contains(&address) {
                ns.addresses.push(address);
            }
        }
    }

    /// Adds a name server from the command-line form `NAME[/ADDR]`, where ADDR is an IPv4 or
    /// IPv6 address, optionally with a port (`127.0.0.1:5300`, `[::1]:5300`).
    pub fn add_arg(&mut self, arg: &str) -> Result<(), String> {
        let (name, address) = match arg.split_once('/') {
            Some((name, address)) => (name, Some(parse_address(address)?)),
            None => (arg, None),
        };
        self.add(parse_name(name)?, address);
        Ok(())
    }
}

fn host_to_name(host: &HostName) -> Name {
    host.to_name()
}

/// Parses an absolute DNS name (a trailing dot is optional); any label syntax that DNS
/// allows is accepted, since host name rules are a check of their own.
pub fn parse_name(text: &str) -> Result<Name, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty name".into());
    }
    // A U-label name (`рф`, `пример.рф`) is taken in its A-label form.
    let parsed = if text.is_ascii() {
        Name::from_ascii(text)
    } else {
        Name::from_utf8(text)
    };
    let mut name = parsed.map_err(|e| format!("invalid name {text:?}: {e}"))?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

/// Parses `ADDR` or `ADDR:PORT` (`[V6]:PORT` for IPv6); port 53 by default.
pub fn parse_address(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        if sa.port() == 0 {
            return Err(format!("invalid address {text:?}: port 0"));
        }
        return Ok(sa);
    }
    let bracketed = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
    if let Some(ip) = bracketed.and_then(|t| t.parse::<IpAddr>().ok()) {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!(
        "invalid address {text:?}: expected an IPv4 or IPv6 address, optionally with a port \
         (127.0.0.1:5300, [::1]:5300)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_arguments() {
        let mut p = Proposal::default();
        p.add_arg("NS1.Test/127.0.0.1").expect("v4");
        p.add_arg("ns1.test./[::1]:5300").expect("v6 with port");
        p.add_arg("ns1.test/::1").expect("plain v6");
        p.add_arg("ns1.test/127.0.0.1").expect("duplicate ignored");
        p.add_arg("ns.example.net").expect("no address");
        assert_eq!(p.nameservers.len(), 2);
        assert_eq!(p.nameservers[0].name.to_string(), "ns1.test.");
        let want: Vec<SocketAddr> = ["127.0.0.1:53", "[::1]:5300", "[::1]:53"]
            .iter()
            .map(|s| s.parse().expect("addr"))
            .collect();
        assert_eq!(p.nameservers[0].addresses, want);
        assert!(p.nameservers[1].addresses.is_empty());
        assert!(p.add_arg("ns.test/300.1.1.1").is_err());
        assert!(p.add_arg("ns.test/127.0.0.1:0").is_err());
        assert!(p.add_arg("/127.0.0.1").is_err());
        assert_eq!(
            parse_name("рф").map(|n| n.to_ascii()),
            Ok("xn--p1ai.".to_string())
        );
    }
}
