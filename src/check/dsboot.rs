//! Authenticated DNSSEC bootstrapping (RFC 9615) for unsigned TLDs: the DNS side.
//!
//! An unsigned TLD has no DS, so its CDS/CDNSKEY cannot be authenticated by its own keys.
//! RFC 9615 lets each of its name server operators vouch for them instead: the operator
//! publishes the same records at `_dsboot.<tld>._signal.<ns>` in the name server's own,
//! signed zone. This module fetches those signal RRsets through a configured resolver and
//! validates each with a chain of trust from the configured root trust anchor, following
//! the RRSIG signer names down from the root (DNSKEY validated by DS, DS by the parent's
//! DNSKEY) with the functions of [`super::dnssec`]. The resolver is not trusted: everything
//! it returns is validated here, so a wrong or missing answer only ever means no action.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::{DigestType, PublicKey};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use super::dnssec::{self, DsMatch, ServedKey, SigStatus};
use super::probe::{rcode_name, Prober, QuerySpec, Transport};
use crate::registry::DsRecord;

/// Deeper chains than this are refused (a name has at most 127 labels; real chains have 3-5 zones).
const MAX_DEPTH: usize = 32;

/// What bootstrapping needs: the root trust anchor and where to fetch the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrap {
    /// The root's trust anchor as DS records (DNSKEY anchors are turned into SHA-256 DS).
    pub anchors: Vec<DsRecord>,
    /// Resolvers asked (RD=1, DO=1, over TCP) for the signal and the chain, in order.
    pub resolvers: Vec<SocketAddr>,
}

impl Bootstrap {
    /// Reads a trust anchor file (`[cds] trust_anchor`): zone-file lines of DS or DNSKEY
    /// records for the root (`. IN DS 20326 8 2 E06D...`, `. 172800 IN DNSKEY 257 3 8 ...`),
    /// `;` comments and blank lines.
    pub fn from_file(path: &std::path::Path, resolvers: Vec<SocketAddr>) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the trust anchor file {}: {e}; set [cds] trust_anchor to a file of the root's DS or DNSKEY records",
                path.display()
            )
        })?;
        let anchors = parse_anchors(&text)
            .map_err(|e| format!("trust anchor file {}: {e}", path.display()))?;
        if resolvers.is_empty() {
            return Err("[cds] trust_anchor is set but [cds] resolvers is empty: give the resolvers to fetch the RFC 9615 signals from (\"ip:port\")".into());
        }
        Ok(Bootstrap { anchors, resolvers })
    }
}

/// The root trust anchor records in `text`, as DS records.
pub fn parse_anchors(text: &str) -> Result<Vec<DsRecord>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split(';').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = |t: &str| fields.iter().position(|f| f.eq_ignore_ascii_case(t));
        let bad = |why: String| format!("line {}: {why}", n + 1);
        if fields.first() != Some(&".") {
            return Err(bad(format!(
                "`{line}` is not a record of the root (owner `.`)"
            )));
        }
        if let Some(i) = at("DS") {
            let rdata = fields[i + 1..].join(" ");
            let ds = match RData::try_from_str(RecordType::DS, &rdata) {
                Ok(RData::DNSSEC(DNSSECRData::DS(ds))) => ds,
                Ok(_) | Err(_) => return Err(bad(format!("`{rdata}` is not DS data"))),
            };
            let record = DsRecord::new(
                ds.key_tag(),
                u8::from(ds.algorithm()),
                u8::from(ds.digest_type()),
                ds.digest().to_vec(),
            )
            .map_err(|e| bad(e.to_string()))?;
            out.push(record);
        } else if at("DNSKEY").is_some() {
            let entries = hickory_proto::serialize::txt::trust_anchor::Parser::new(line)
                .parse()
                .map_err(|e| bad(format!("not a DNSKEY record: {e}")))?;
            for entry in entries {
                #[allow(unreachable_patterns)]
                let key: &DNSKEY = match &entry {
                    hickory_proto::serialize::txt::trust_anchor::Entry::DNSKEY(r) => r.data(),
                    _ => continue,
                };
                let tag = key.calculate_key_tag().map_err(|e| bad(e.to_string()))?;
                let digest = key
                    .to_digest(&Name::root(), DigestType::SHA256)
                    .map_err(|e| bad(e.to_string()))?;
                let record = DsRecord::new(
                    tag,
                    u8::from(key.public_key().algorithm()),
                    2,
                    digest.as_ref().to_vec(),
                )
                .map_err(|e| bad(e.to_string()))?;
                out.push(record);
            }
        } else {
            return Err(bad(format!("`{line}` is neither a DS nor a DNSKEY record")));
        }
    }
    if out.is_empty() {
        return Err("no DS or DNSKEY record in it".into());
    }
    Ok(out)
}

/// Why a name server gives no usable signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalError {
    /// No CDS or CDNSKEY at the signal name.
    Missing(String),
    /// The records are there but do not validate from the trust anchor.
    Invalid(String),
}

/// A validated signal: the CDS and CDNSKEY RRsets as sorted wire rdata.
pub type SignalSets = (BTreeSet<Vec<u8>>, BTreeSet<Vec<u8>>);

/// `_dsboot.<tld>._signal.<ns>` (RFC 9615 §3).
pub fn signal_name(tld: &Name, ns: &Name) -> Result<Name, String> {
    let child = tld.to_ascii();
    let child = child.trim_end_matches('.');
    let mut ns_text = ns.to_ascii();
    if !ns_text.ends_with('.') {
        ns_text.push('.');
    }
    Name::from_ascii(format!("_dsboot.{child}._signal.{ns_text}")).map_err(|e| {
        format!("the signal name for {child} at {ns_text} cannot be formed ({e}): it is too long")
    })
}

/// Fetches and validates the signal of `ns` for `tld`.
pub async fn signal(
    tld: &Name,
    ns: &Name,
    boot: &Bootstrap,
    prober: &Prober,
    now: u32,
) -> Result<SignalSets, SignalError> {
    let name = signal_name(tld, ns).map_err(SignalError::Invalid)?;
    let walker = Walker { boot, prober, now };
    let mut sets = (BTreeSet::new(), BTreeSet::new());
    for rtype in [RecordType::CDS, RecordType::CDNSKEY] {
        let records = walker
            .fetch(&name, rtype)
            .await
            .map_err(SignalError::Missing)?;
        if !records.iter().any(|r| r.record_type() == rtype) {
            continue;
        }
        let signer = signer_of(&name, rtype, &records).ok_or_else(|| {
            SignalError::Invalid(format!("the {rtype} RRset at {name} has no RRSIG"))
        })?;
        if !signer.zone_of(&name) {
            return Err(SignalError::Invalid(format!(
                "the {rtype} RRset at {name} is signed by {signer}, which is not a zone above it"
            )));
        }
        let keys = walker
            .zone_keys(signer.clone(), 0)
            .await
            .map_err(SignalError::Invalid)?;
        validate_at(&name, &signer, rtype, &records, &keys, now)
            .map_err(|e| SignalError::Invalid(format!("the {rtype} RRset at {name}: {e}")))?;
        let wire: BTreeSet<Vec<u8>> = records
            .iter()
            .filter(|r| r.record_type() == rtype)
            .filter_map(|r| r.data.to_bytes().ok())
            .collect();
        match rtype {
            RecordType::CDS => sets.0 = wire,
            _ => sets.1 = wire,
        }
    }
    if sets.0.is_empty() && sets.1.is_empty() {
        return Err(SignalError::Missing(format!("no CDS or CDNSKEY at {name}")));
    }
    Ok(sets)
}

struct Walker<'a> {
    boot: &'a Bootstrap,
    prober: &'a Prober,
    now: u32,
}

type KeysFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<ServedKey>, String>> + Send + 'a>>;

impl<'a> Walker<'a> {
    /// The answer records at `name` of `rtype` (with their RRSIGs) from the first resolver that
    /// answers NOERROR or NXDOMAIN.
    async fn fetch(&self, name: &Name, rtype: RecordType) -> Result<Vec<Record>, String> {
        let mut spec = QuerySpec::edns(name, rtype, 1232, true);
        spec.rd = true;
        let mut errors = Vec::new();
        for address in &self.boot.resolvers {
            let label = Name::from_ascii(format!("resolver-{}.", address.port()))
                .unwrap_or_else(|_| Name::root());
            match self
                .prober
                .query(&label, *address, Transport::Tcp, &spec)
                .await
            {
                Ok(a) => match a.message.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => {
                        let wanted = name.to_lowercase();
                        return Ok(a
                            .message
                            .answers
                            .into_iter()
                            .filter(|r| r.name.to_lowercase() == wanted)
                            .collect());
                    }
                    rc => errors.push(format!(
                        "resolver {address} answered {name} {rtype} {}",
                        rcode_name(rc)
                    )),
                },
                Err(e) => errors.push(format!(
                    "resolver {address} gave no answer to {name} {rtype}: {e}"
                )),
            }
        }
        Err(errors.join("; "))
    }

    /// The keys of `zone`'s DNSKEY RRset, validated from the trust anchor: the root's by the
    /// anchor, any other zone's by its DS RRset, itself validated by the zone that signed it.
    fn zone_keys(&'a self, zone: Name, depth: usize) -> KeysFuture<'a> {
        Box::pin(async move {
            if depth > MAX_DEPTH {
                return Err(format!("the chain of trust to {zone} is too deep"));
            }
            let zone = zone.to_lowercase();
            let dnskey = self.fetch(&zone, RecordType::DNSKEY).await?;
            let keys = dnssec::served_keys(&zone, &dnskey);
            if keys.is_empty() {
                return Err(format!("{zone} serves no DNSKEY"));
            }
            let ds: Vec<DsRecord> = if zone.is_root() {
                self.boot.anchors.clone()
            } else {
                let records = self.fetch(&zone, RecordType::DS).await?;
                let parent = signer_of(&zone, RecordType::DS, &records)
                    .ok_or_else(|| format!("the DS RRset of {zone} is missing or unsigned"))?;
                if parent == zone || !parent.zone_of(&zone) {
                    return Err(format!(
                        "the DS RRset of {zone} is signed by {parent}, which is not a zone above it"
                    ));
                }
                let parent_keys = self.zone_keys(parent.clone(), depth + 1).await?;
                validate_at(
                    &zone,
                    &parent,
                    RecordType::DS,
                    &records,
                    &parent_keys,
                    self.now,
                )
                .map_err(|e| format!("the DS RRset of {zone}: {e}"))?;
                records
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::DNSSEC(DNSSECRData::DS(d)) => DsRecord::new(
                            d.key_tag(),
                            u8::from(d.algorithm()),
                            u8::from(d.digest_type()),
                            d.digest().to_vec(),
                        )
                        .ok(),
                        _ => None,
                    })
                    .collect()
            };
            let trusted: Vec<ServedKey> = ds
                .iter()
                .filter_map(|d| match dnssec::match_ds(&zone, d, &keys) {
                    DsMatch::Matches(i) => Some(keys[i].clone()),
                    _ => None,
                })
                .collect();
            if trusted.is_empty() {
                return Err(format!(
                    "no DNSKEY of {zone} matches {}",
                    if zone.is_root() {
                        "the trust anchor"
                    } else {
                        "its DS RRset"
                    }
                ));
            }
            validate_at(
                &zone,
                &zone,
                RecordType::DNSKEY,
                &dnskey,
                &trusted,
                self.now,
            )
            .map_err(|e| format!("the DNSKEY RRset of {zone}: {e}"))?;
            Ok(keys)
        })
    }
}

/// The signer name of the first RRSIG over `rtype` at `owner`.
fn signer_of(owner: &Name, rtype: RecordType, records: &[Record]) -> Option<Name> {
    dnssec::signatures(&owner.to_lowercase(), rtype, records)
        .first()
        .map(|s: &RRSIG| s.input().signer_name.to_lowercase())
}

/// Whether one RRSIG by `signer` with one of `keys` validates the `rtype` RRset at `owner` now.
fn validate_at(
    owner: &Name,
    signer: &Name,
    rtype: RecordType,
    records: &[Record],
    keys: &[ServedKey],
    now: u32,
) -> Result<(), String> {
    let owner = owner.to_lowercase();
    let mut problems = Vec::new();
    for sig in dnssec::signatures(&owner, rtype, records) {
        let input = sig.input();
        if input.signer_name.to_lowercase() != *signer {
            continue;
        }
        for key in keys
            .iter()
            .filter(|k| k.tag == input.key_tag && k.algorithm == u8::from(input.algorithm))
        {
            match dnssec::check_signature(&owner, &key.key, &sig, records, now) {
                SigStatus::Valid => return Ok(()),
                other => problems.push(format!("RRSIG by key {}: {other:?}", key.tag)),
            }
        }
    }
    if problems.is_empty() {
        problems.push(format!("no RRSIG by a validated key of {signer}"));
    }
    Err(problems.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        let tld = Name::from_ascii("xa.").expect("test value");
        let ns = Name::from_ascii("ns1.example.net.").expect("test value");
        assert_eq!(
            signal_name(&tld, &ns).expect("test value").to_ascii(),
            "_dsboot.xa._signal.ns1.example.net."
        );
        let long = Name::from_ascii(format!(
            "{}.{}.{}.{}.",
            "a".repeat(60),
            "b".repeat(60),
            "c".repeat(60),
            "d".repeat(60)
        ))
        .expect("test value");
        assert!(signal_name(&tld, &long).is_err());
    }

    #[test]
    fn anchors_from_ds_and_dnskey() {
        // The root KSK 20326, as IANA publishes it, in both forms: the same DS.
        let ds =
            ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";
        let dnskey = ". 172800 IN DNSKEY 257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=";
        let a = parse_anchors(ds).expect("test value");
        let b = parse_anchors(&format!("; root\n{dnskey}\n")).expect("test value");
        assert_eq!(a, b);
        assert_eq!(a[0].key_tag, 20326);
        assert!(parse_anchors("").is_err());
        assert!(parse_anchors("example. IN DS 1 8 2 00").is_err());
        assert!(parse_anchors(". IN A 192.0.2.1").is_err());
    }

    #[test]
    fn settings_turn_bootstrapping_on_only_with_a_trust_anchor() {
        let mut c = crate::config::CdsSettings::default();
        assert_eq!(c.bootstrap(), Ok(None));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("root.anchor");
        std::fs::write(
            &path,
            ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
        )
        .expect("write");
        c.trust_anchor = path.display().to_string();
        let e = c.bootstrap().expect_err("no resolvers");
        assert!(e.contains("resolvers"), "{e}");
        c.resolvers = vec!["127.0.0.1".into()];
        let e = c.bootstrap().expect_err("no port");
        assert!(e.contains("127.0.0.1"), "{e}");
        c.resolvers = vec!["127.0.0.1:53".into()];
        let b = c.bootstrap().expect("ok").expect("on");
        assert_eq!(b.anchors[0].key_tag, 20326);
        c.trust_anchor = dir.path().join("missing").display().to_string();
        assert!(c.bootstrap().expect_err("missing").contains("cannot read"));
    }
}
