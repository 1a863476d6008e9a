//! The size of the parent's referral for the zone.
//!
//! A referral that does not fit a 512-octet UDP reply without EDNS is truncated, and a
//! resolver that cannot fall back to TCP then cannot reach the zone at all. Following the
//! NIC Chile respsize model (DESIGN §5), the referral is built for the worst query: a
//! 255-octet QNAME, every NS record, and one A and one AAAA glue record only when some
//! name server lies inside the zone itself (so that glue is required). It is encoded with
//! hickory's encoder, name compression included, exactly as a server would send it.

use std::net::IpAddr;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, AAAA, NS};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::proposal::Proposal;

/// The limit for a UDP reply without EDNS (RFC 1035 §4.2.1).
pub const LIMIT: usize = 512;

/// A name under `zone` that is 255 octets on the wire (the maximum), made of `x` labels.
pub fn longest_qname(zone: &Name) -> Result<Name, String> {
    let mut name = zone.clone();
    let wire = |n: &Name| n.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    loop {
        let room = 255 - wire(&name);
        if room < 2 {
            return Ok(name);
        }
        let label_len = (room - 1).min(63);
        name = name
            .prepend_label("x".repeat(label_len).as_str())
            .map_err(|e| format!("cannot build the query name: {e}"))?;
    }
}

/// The encoded size of the referral and the number of glue records in it.
pub fn referral_size(zone: &Name, proposal: &Proposal) -> Result<(usize, usize), String> {
    let mut msg = Message::new(0xffff, MessageType::Response, OpCode::Query);
    msg.add_query(Query::query(longest_qname(zone)?, RecordType::A));
    for ns in &proposal.nameservers {
        msg.add_authority(Record::from_rdata(
            zone.clone(),
            172_800,
            RData::NS(NS(ns.name.clone())),
        ));
    }
    // One A and one AAAA of the in-zone servers, preferring a server that has both.
    let inside: Vec<_> = proposal
        .nameservers
        .iter()
        .filter(|ns| zone.zone_of(&ns.name) && !ns.addresses.is_empty())
        .collect();
    let has = |ns: &&&super::proposal::ProposedNs, v4: bool| {
        ns.addresses.iter().any(|a| a.is_ipv4() == v4)
    };
    let both = inside.iter().find(|ns| has(ns, true) && has(ns, false));
    let mut glue = Vec::new();
    for v4 in [true, false] {
        let owner = both.or_else(|| inside.iter().find(|ns| has(ns, v4)));
        if let Some(ns) = owner {
            if let Some(addr) = ns.addresses.iter().find(|a| a.is_ipv4() == v4) {
                let rdata = match addr.ip() {
                    IpAddr::V4(ip) => RData::A(A(ip)),
                    IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
                };
                glue.push(Record::from_rdata(ns.name.clone(), 172_800, rdata));
            }
        }
    }
    let count = glue.len();
    for g in glue {
        msg.add_additional(g);
    }
    let bytes = msg
        .to_vec()
        .map_err(|e| format!("cannot encode the referral: {e}"))?;
    Ok((bytes.len(), count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::proposal::Proposal;

    #[test]
    fn qname_is_255_octets() {
        let zone = Name::from_ascii("com.").expect("name");
        let q = longest_qname(&zone).expect("qname");
        let wire = q.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
        assert_eq!(wire, 255);
        assert!(zone.zone_of(&q));
    }

    #[test]
    fn com_sizes_match_the_hand_count() {
        // 13 NS x.gtld-servers.net: 495 octets without glue (see hickory-notes §5).
        let zone = Name::from_ascii("com.").expect("name");
        let mut p = Proposal::default();
        for c in "abcdefghijklm".chars() {
            p.add_arg(&format!("{c}.gtld-servers.net")).expect("ns");
        }
        assert_eq!(referral_size(&zone, &p).expect("size"), (495, 0));
    }
}
