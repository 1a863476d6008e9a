//! DS automation from CDS/CDNSKEY (issue 12 part 2): key rollovers served for real by
//! in-process name servers on loopback, read by the CDS scanner, and the desk's flow from a
//! scan to a published DS set.

mod boot;
mod boot_desk;
mod cli;
mod desk;
mod scan;

use hickory_proto::dnssec::rdata::{DNSSECRData, CDNSKEY, CDS};
use hickory_proto::dnssec::{DigestType, PublicKey};
use hickory_proto::rr::{RData, Record, RecordType};

use crate::check::zone::{now, TestKey, Zone};

/// The keys of a KSK rollover: the old KSK (its DS is published), the new KSK, the ZSK.
pub struct Keys {
    pub old: TestKey,
    pub new: TestKey,
    pub zsk: TestKey,
}

impl Keys {
    pub fn new() -> Keys {
        Keys {
            old: TestKey::ecdsa(true),
            new: TestKey::ecdsa(true),
            zsk: TestKey::ed25519(false),
        }
    }
}

/// Adds a CDS (SHA-256) for `key`.
pub fn add_cds(z: &mut Zone, key: &TestKey) {
    let ds = key.ds(&z.origin, 2);
    let cds = CDS::new(
        ds.key_tag,
        Some(key.signing.algorithm()),
        DigestType::from(2),
        ds.digest.clone(),
    );
    z.records.push(Record::from_rdata(
        z.origin.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::CDS(cds)),
    ));
}

/// Adds a CDNSKEY for `key`.
pub fn add_cdnskey(z: &mut Zone, key: &TestKey) {
    let public = key.dnskey.public_key();
    let k = CDNSKEY::with_flags(
        key.dnskey.flags(),
        Some(public.algorithm()),
        public.public_bytes().to_vec(),
    );
    z.records.push(Record::from_rdata(
        z.origin.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::CDNSKEY(k)),
    ));
}

/// RFC 8078's delete signal: `CDS 0 0 0 00` and `CDNSKEY 0 3 0 AA==`.
pub fn add_delete(z: &mut Zone) {
    z.records.push(Record::from_rdata(
        z.origin.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::CDS(CDS::new(
            0,
            None,
            DigestType::from(0),
            vec![0],
        ))),
    ));
    z.records.push(Record::from_rdata(
        z.origin.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::CDNSKEY(CDNSKEY::with_flags(0, None, vec![0]))),
    ));
}

/// Signs an RRset for two weeks from an hour ago.
pub fn sign(z: &mut Zone, rtype: RecordType, key: &TestKey) {
    let t = now();
    z.sign(rtype, key, t - 3600, t + 86_400 * 14);
}

/// The zone `origin` before the rollover: old KSK and ZSK, no CDS.
pub fn before(origin: &str, ns: &[(&str, std::net::IpAddr)], keys: &Keys) -> Zone {
    let ns: Vec<(&str, Vec<std::net::IpAddr>)> = ns.iter().map(|(n, ip)| (*n, vec![*ip])).collect();
    let ns: Vec<(&str, &[std::net::IpAddr])> =
        ns.iter().map(|(n, ips)| (*n, ips.as_slice())).collect();
    let mut z = Zone::new(origin, 1, &ns);
    z.add_dnskey(&keys.old.dnskey);
    z.add_dnskey(&keys.zsk.dnskey);
    sign(&mut z, RecordType::DNSKEY, &keys.old);
    sign(&mut z, RecordType::SOA, &keys.zsk);
    sign(&mut z, RecordType::NS, &keys.zsk);
    z
}

/// The zone in the middle of a KSK rollover (double signature): both KSKs in the DNSKEY
/// RRset, which both sign; CDS and CDNSKEY for the new KSK, signed by `cds_signer`.
pub fn rolling(
    origin: &str,
    ns: &[(&str, std::net::IpAddr)],
    keys: &Keys,
    cds_signer: &TestKey,
) -> Zone {
    let ns: Vec<(&str, Vec<std::net::IpAddr>)> = ns.iter().map(|(n, ip)| (*n, vec![*ip])).collect();
    let ns: Vec<(&str, &[std::net::IpAddr])> =
        ns.iter().map(|(n, ips)| (*n, ips.as_slice())).collect();
    let mut z = Zone::new(origin, 2, &ns);
    z.add_dnskey(&keys.old.dnskey);
    z.add_dnskey(&keys.new.dnskey);
    z.add_dnskey(&keys.zsk.dnskey);
    sign(&mut z, RecordType::DNSKEY, &keys.old);
    sign(&mut z, RecordType::DNSKEY, &keys.new);
    sign(&mut z, RecordType::SOA, &keys.zsk);
    sign(&mut z, RecordType::NS, &keys.zsk);
    add_cds(&mut z, &keys.new);
    add_cdnskey(&mut z, &keys.new);
    sign(&mut z, RecordType::CDS, cds_signer);
    sign(&mut z, RecordType::CDNSKEY, cds_signer);
    z
}
