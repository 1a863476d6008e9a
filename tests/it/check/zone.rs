//! Test zones built in code, and DNSSEC signing with any validity window.

use std::net::IpAddr;

use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey};
use hickory_proto::dnssec::rdata::sig::SigInput;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf, SigningKey, TBS};
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};
use rootdesk::registry::DsRecord;

pub fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("test name")
}

/// The records of a zone, RRSIGs included.
#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: Name,
    pub records: Vec<Record>,
}

/// SOA timers that pass `soa-values`.
pub const GOOD_TIMERS: (i32, i32, i32, u32) = (21_600, 3_600, 1_209_600, 3_600);

impl Zone {
    /// A zone with an SOA (given serial, sane timers), the NS set, and addresses for the
    /// in-zone name servers.
    pub fn new(origin: &str, serial: u32, ns: &[(&str, &[IpAddr])]) -> Zone {
        let origin = name(origin);
        let mut z = Zone {
            origin: origin.clone(),
            records: Vec::new(),
        };
        z.set_soa(serial, GOOD_TIMERS);
        for (host, ips) in ns {
            let host = name(host);
            z.records.push(Record::from_rdata(
                origin.clone(),
                3600,
                RData::NS(NS(host.clone())),
            ));
            if origin.zone_of(&host) {
                for ip in ips.iter() {
                    z.add_address(&host, *ip);
                }
            }
        }
        z
    }

    pub fn set_soa(
        &mut self,
        serial: u32,
        (refresh, retry, expire, minimum): (i32, i32, i32, u32),
    ) {
        self.records.retain(|r| r.record_type() != RecordType::SOA);
        let soa = SOA::new(
            self.origin.prepend_label("ns1").expect("mname"),
            self.origin.prepend_label("hostmaster").expect("rname"),
            serial,
            refresh,
            retry,
            expire,
            minimum,
        );
        self.records.insert(
            0,
            Record::from_rdata(self.origin.clone(), 3600, RData::SOA(soa)),
        );
    }

    pub fn add_address(&mut self, host: &Name, ip: IpAddr) {
        let rdata = match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        self.records
            .push(Record::from_rdata(host.clone(), 3600, rdata));
    }

    /// Removes every record of `rtype` at `owner`.
    pub fn remove(&mut self, owner: &Name, rtype: RecordType) {
        self.records
            .retain(|r| !(r.name == *owner && r.record_type() == rtype));
    }

    pub fn add_dnskey(&mut self, key: &DNSKEY) {
        self.records.push(Record::from_rdata(
            self.origin.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::DNSKEY(key.clone())),
        ));
    }

    /// Adds an RRSIG over the `rtype` RRset at the apex by `key`, valid from `inception` to
    /// `expiration` (unix seconds).
    pub fn sign(&mut self, rtype: RecordType, key: &TestKey, inception: u32, expiration: u32) {
        let covered: Vec<Record> = self
            .records
            .iter()
            .filter(|r| r.name == self.origin && r.record_type() == rtype)
            .cloned()
            .collect();
        let input = SigInput {
            type_covered: rtype,
            algorithm: key.signing.algorithm(),
            num_labels: self.origin.num_labels(),
            original_ttl: 3600,
            sig_expiration: SerialNumber::new(expiration),
            sig_inception: SerialNumber::new(inception),
            key_tag: key.tag,
            signer_name: self.origin.clone(),
        };
        let tbs = TBS::from_input(&self.origin, DNSClass::IN, &input, covered.iter()).expect("tbs");
        let sig = key.signing.sign(&tbs).expect("sign");
        self.records.push(Record::from_rdata(
            self.origin.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))),
        ));
    }
}

pub fn now() -> u32 {
    u32::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).expect("time fits")
}

/// A signing key with its DNSKEY and key tag.
pub struct TestKey {
    pub signing: Box<dyn SigningKey>,
    pub dnskey: DNSKEY,
    pub tag: u16,
}

impl TestKey {
    /// A new ECDSA P-256 key; `ksk` sets the SEP flag.
    pub fn ecdsa(ksk: bool) -> TestKey {
        let alg = Algorithm::ECDSAP256SHA256;
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(alg).expect("generate");
        let key = EcdsaSigningKey::from_pkcs8(&pkcs8, alg).expect("load");
        TestKey::from_signing(Box::new(key), ksk)
    }

    pub fn ed25519(ksk: bool) -> TestKey {
        let pkcs8 = Ed25519SigningKey::generate_pkcs8().expect("generate");
        let key = Ed25519SigningKey::from_pkcs8(&pkcs8).expect("load");
        TestKey::from_signing(Box::new(key), ksk)
    }

    fn from_signing(signing: Box<dyn SigningKey>, ksk: bool) -> TestKey {
        let dnskey = DNSKEY::new(
            true,
            ksk,
            false,
            signing.to_public_key().expect("public key"),
        );
        let tag = dnskey.calculate_key_tag().expect("tag");
        TestKey {
            signing,
            dnskey,
            tag,
        }
    }

    /// The DS for this key at `zone` with the given digest type.
    pub fn ds(&self, zone: &Name, digest_type: u8) -> DsRecord {
        TestKey::ds_of(
            &self.dnskey,
            self.tag,
            u8::from(self.signing.algorithm()),
            zone,
            digest_type,
        )
    }

    /// The DS for any DNSKEY.
    pub fn ds_of(
        dnskey: &DNSKEY,
        tag: u16,
        algorithm: u8,
        zone: &Name,
        digest_type: u8,
    ) -> DsRecord {
        let digest = dnskey
            .to_digest(zone, DigestType::from(digest_type))
            .expect("digest");
        DsRecord::new(tag, algorithm, digest_type, digest.as_ref().to_vec()).expect("ds")
    }
}

/// A DNSKEY of an algorithm hickory cannot sign with (arbitrary key material): enough for
/// algorithm judgements.
pub fn foreign_dnskey(algorithm: u8) -> DNSKEY {
    DNSKEY::new(
        true,
        false,
        false,
        PublicKeyBuf::new(
            vec![3, 1, 0, 1, 0xab, 0xcd, 0xef, 0x12],
            Algorithm::from_u8(algorithm),
        ),
    )
}
