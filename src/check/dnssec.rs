//! DNSSEC judgements: DS digest types, DNSKEY algorithms, DS-to-DNSKEY matching and RRSIG
//! verification with validity windows.
//!
//! The parent's DS set is the start of the chain of trust: if no DS matches a key the
//! servers serve, or that key's signature over the DNSKEY RRset does not verify or is out
//! of its validity period, every validating resolver treats the TLD as bogus. These are pure
//! functions over decoded records; the engine fetches the records.

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::{DigestType, PublicKey, Verifier};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::registry::DsRecord;

/// How acceptable something is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    Ok,
    /// Not recommended: a warning.
    Minor,
    /// Must not be used: an error.
    Major,
}

/// DNSKEY/DS algorithm numbers (RFC 8624 and its successors, IANA registry).
pub fn algorithm_judgement(alg: u8) -> (Judgement, &'static str) {
    match alg {
        8 => (Judgement::Ok, "RSASHA256"),
        13 => (Judgement::Ok, "ECDSAP256SHA256"),
        14 => (Judgement::Ok, "ECDSAP384SHA384"),
        15 => (Judgement::Ok, "ED25519"),
        16 => (Judgement::Ok, "ED448"),
        5 => (Judgement::Minor, "RSASHA1 (deprecated, RFC 9905)"),
        7 => (
            Judgement::Minor,
            "RSASHA1-NSEC3-SHA1 (deprecated, RFC 9905)",
        ),
        10 => (Judgement::Minor, "RSASHA512 (not recommended, RFC 8624)"),
        1 => (Judgement::Major, "RSAMD5 (must not be used, RFC 8624)"),
        3 => (Judgement::Major, "DSA (must not be used, RFC 8624)"),
        6 => (
            Judgement::Major,
            "DSA-NSEC3-SHA1 (must not be used, RFC 8624)",
        ),
        12 => (Judgement::Major, "ECC-GOST (must not be used, RFC 8624)"),
        _ => (Judgement::Major, "unknown or not a zone-signing algorithm"),
    }
}

/// Judges every DS record's digest type: 2 and 4 are fine; 1 (SHA-1) is a warning when the
/// same key also has a SHA-256/384 DS and an error when it is the key's only digest; 3
/// (GOST) and unknown types are errors. Returns (record, judgement, explanation).
pub fn ds_digest_judgements(ds: &[DsRecord]) -> Vec<(DsRecord, Judgement, String)> {
    let mut out = Vec::new();
    for d in ds {
        match d.digest_type {
            2 | 4 => {}
            1 => {
                let strong = ds.iter().any(|o| {
                    o.key_tag == d.key_tag && o.algorithm == d.algorithm && matches!(o.digest_type, 2 | 4)
                });
                if strong {
                    out.push((
                        d.clone(),
                        Judgement::Minor,
                        format!(
                            "DS {} {} 1 uses SHA-1 (deprecated; RFC 8624 says it must not be generated); \
                             the same key also has a SHA-256/384 DS, so drop the SHA-1 one",
                            d.key_tag, d.algorithm
                        ),
                    ));
                } else {
                    out.push((
                        d.clone(),
                        Judgement::Major,
                        format!(
                            "DS {} {} 1 uses SHA-1, which must not be generated (RFC 8624), and is the \
                             only digest for this key: add a SHA-256 (2) DS",
                            d.key_tag, d.algorithm
                        ),
                    ));
                }
            }
            3 => out.push((
                d.clone(),
                Judgement::Major,
                format!(
                    "DS {} {} 3 uses GOST R 34.11-94, which must not be used (RFC 8624): use digest type 2 (SHA-256)",
                    d.key_tag, d.algorithm
                ),
            )),
            t => out.push((
                d.clone(),
                Judgement::Major,
                format!(
                    "DS {} {} {t} has an unassigned digest type {t}: use digest type 2 (SHA-256)",
                    d.key_tag, d.algorithm
                ),
            )),
        }
    }
    out
}

/// A DNSKEY as served, with its key tag and algorithm number.
#[derive(Debug, Clone)]
pub struct ServedKey {
    pub key: DNSKEY,
    pub tag: u16,
    pub algorithm: u8,
}

/// The DNSKEYs at `zone` in a set of records.
pub fn served_keys(zone: &Name, records: &[Record]) -> Vec<ServedKey> {
    records
        .iter()
        .filter(|r| r.name.to_lowercase() == *zone)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(ServedKey {
                key: k.clone(),
                tag: k.calculate_key_tag().unwrap_or(0),
                algorithm: u8::from(k.public_key().algorithm()),
            }),
            _ => None,
        })
        .collect()
}

/// The RRSIGs at `zone` covering `covered`.
pub fn signatures(zone: &Name, covered: RecordType, records: &[Record]) -> Vec<RRSIG> {
    records
        .iter()
        .filter(|r| r.name.to_lowercase() == *zone)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == covered => {
                Some(s.clone())
            }
            _ => None,
        })
        .collect()
}

/// How a DS relates to the served keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DsMatch {
    /// The digest of this key (index into the served keys) equals the DS digest.
    Matches(usize),
    /// A key with the DS's tag and algorithm exists but its digest differs.
    DigestDiffers { computed: String },
    /// The digest type cannot be computed; a key with the tag and algorithm exists.
    Uncomputable(usize),
    /// The matching key lacks the zone-key flag.
    NotZoneKey(usize),
    /// No key with this tag and algorithm.
    NoKey,
}

/// Finds the served key a DS points to.
pub fn match_ds(zone: &Name, ds: &DsRecord, keys: &[ServedKey]) -> DsMatch {
    let mut result = DsMatch::NoKey;
    for (i, k) in keys.iter().enumerate() {
        if k.tag != ds.key_tag || k.algorithm != ds.algorithm {
            continue;
        }
        let digest_type = DigestType::from(ds.digest_type);
        if !matches!(ds.digest_type, 1 | 2 | 4) {
            result = DsMatch::Uncomputable(i);
            continue;
        }
        match k.key.to_digest(zone, digest_type) {
            Ok(d) if d.as_ref() == ds.digest.as_slice() => {
                if !k.key.zone_key() {
                    return DsMatch::NotZoneKey(i);
                }
                return DsMatch::Matches(i);
            }
            Ok(d) => {
                if result == DsMatch::NoKey {
                    result = DsMatch::DigestDiffers {
                        computed: data_encoding::HEXUPPER.encode(d.as_ref()),
                    }
                }
            }
            Err(_) => result = DsMatch::Uncomputable(i),
        }
    }
    result
}

/// RFC 1982 serial arithmetic: whether `a` is before or equal to `b`.
pub fn serial_le(a: u32, b: u32) -> bool {
    a == b || (b.wrapping_sub(a) as i32) > 0
}

/// A signature's standing at `now` (unix seconds, truncated to 32 bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigStatus {
    Valid,
    BadSignature(String),
    Expired {
        expiration: u32,
    },
    NotYetValid {
        inception: u32,
    },
    /// The checker cannot verify this algorithm (hickory with ring has no Ed448).
    Unverifiable(u8),
}

/// Verifies `sig` over the `covered` RRset at `zone` in `records` with `key`, and checks its
/// validity window.
pub fn check_signature(
    zone: &Name,
    key: &DNSKEY,
    sig: &RRSIG,
    records: &[Record],
    now: u32,
) -> SigStatus {
    if !key.public_key().algorithm().is_supported() {
        return SigStatus::Unverifiable(u8::from(key.public_key().algorithm()));
    }
    if let Err(e) = key.verify_rrsig(zone, DNSClass::IN, sig, records.iter()) {
        return SigStatus::BadSignature(e.to_string());
    }
    let input = sig.input();
    let inception = input.sig_inception.get();
    let expiration = input.sig_expiration.get();
    if !serial_le(inception, now) {
        return SigStatus::NotYetValid { inception };
    }
    if !serial_le(now, expiration) {
        return SigStatus::Expired { expiration };
    }
    SigStatus::Valid
}

/// Unix time as an RFC 3339 string, for messages.
pub fn timestamp(t: u32) -> String {
    time::OffsetDateTime::from_unix_timestamp(i64::from(t))
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// The result of validating one signed RRset with a set of candidate keys.
pub fn validate_rrset(
    zone: &Name,
    covered: RecordType,
    records: &[Record],
    keys: &[&ServedKey],
    now: u32,
) -> Result<(), Invalidity> {
    let sigs = signatures(zone, covered, records);
    if sigs.is_empty() {
        return Err(Invalidity::Invalid(format!(
            "the {covered} RRset has no RRSIG"
        )));
    }
    let mut problems = Vec::new();
    let mut unverifiable = Vec::new();
    // Keys that signed nothing matter only when no other key's signature is good.
    let mut missing = Vec::new();
    for key in keys {
        let by_key: Vec<&RRSIG> = sigs
            .iter()
            .filter(|s| {
                let i = s.input();
                i.key_tag == key.tag
                    && u8::from(i.algorithm) == key.algorithm
                    && i.signer_name.to_lowercase() == *zone
            })
            .collect();
        if by_key.is_empty() {
            missing.push(format!(
                "no RRSIG over {covered} by key {} (algorithm {})",
                key.tag, key.algorithm
            ));
            continue;
        }
        for s in by_key {
            match check_signature(zone, &key.key, s, records, now) {
                SigStatus::Valid => return Ok(()),
                SigStatus::BadSignature(e) => problems.push(format!(
                    "the RRSIG over {covered} by key {} does not verify ({e})",
                    key.tag
                )),
                SigStatus::Expired { expiration } => problems.push(format!(
                    "the RRSIG over {covered} by key {} expired at {}",
                    key.tag,
                    timestamp(expiration)
                )),
                SigStatus::NotYetValid { inception } => problems.push(format!(
                    "the RRSIG over {covered} by key {} is not valid before {}",
                    key.tag,
                    timestamp(inception)
                )),
                SigStatus::Unverifiable(alg) => {
                    // The validity window can still be judged.
                    let i = s.input();
                    let (inception, expiration) = (i.sig_inception.get(), i.sig_expiration.get());
                    if !serial_le(now, expiration) {
                        problems.push(format!(
                            "the RRSIG over {covered} by key {} expired at {}",
                            key.tag,
                            timestamp(expiration)
                        ));
                    } else if !serial_le(inception, now) {
                        problems.push(format!(
                            "the RRSIG over {covered} by key {} is not valid before {}",
                            key.tag,
                            timestamp(inception)
                        ));
                    } else {
                        unverifiable.push(format!(
                            "the RRSIG over {covered} by key {} (algorithm {alg}) is within its validity period, \
                             but this checker cannot verify algorithm {alg} cryptographically",
                            key.tag
                        ));
                    }
                }
            }
        }
    }
    if problems.is_empty() && !unverifiable.is_empty() {
        return Err(Invalidity::Unverifiable(unverifiable.join("; ")));
    }
    problems.extend(missing);
    if problems.is_empty() {
        problems.push(format!("no key to verify the {covered} RRSIG with"));
    }
    problems.extend(unverifiable);
    Err(Invalidity::Invalid(problems.join("; ")))
}

/// Why an RRset is not shown to be validly signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidity {
    /// A signature is missing, wrong, or out of its validity period.
    Invalid(String),
    /// The only signatures are of an algorithm the checker cannot verify (a warning).
    Unverifiable(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(tag: u16, alg: u8, dt: u8) -> DsRecord {
        let len = match dt {
            1 => 20,
            4 => 48,
            _ => 32,
        };
        DsRecord::new(tag, alg, dt, vec![1; len]).expect("ds")
    }

    #[test]
    fn digest_type_rules() {
        let j = ds_digest_judgements(&[ds(1, 13, 2), ds(1, 13, 1)]);
        assert_eq!(j.len(), 1);
        assert_eq!(j[0].1, Judgement::Minor);
        let j = ds_digest_judgements(&[ds(1, 13, 1), ds(2, 13, 2)]);
        assert_eq!(j[0].1, Judgement::Major);
        let j = ds_digest_judgements(&[ds(1, 13, 3), ds(1, 13, 4)]);
        assert_eq!((j.len(), j[0].1), (1, Judgement::Major));
        assert_eq!(ds_digest_judgements(&[ds(1, 13, 9)])[0].1, Judgement::Major);
    }

    #[test]
    fn algorithm_rules() {
        for a in [8, 13, 14, 15, 16] {
            assert_eq!(algorithm_judgement(a).0, Judgement::Ok);
        }
        for a in [5, 7, 10] {
            assert_eq!(algorithm_judgement(a).0, Judgement::Minor);
        }
        for a in [1, 3, 6, 12, 2, 200] {
            assert_eq!(algorithm_judgement(a).0, Judgement::Major);
        }
    }

    #[test]
    fn serial_arithmetic() {
        assert!(serial_le(5, 5));
        assert!(serial_le(5, 6));
        assert!(!serial_le(6, 5));
        assert!(serial_le(u32::MAX - 1, 3));
        assert!(!serial_le(3, u32::MAX - 1));
    }
}
