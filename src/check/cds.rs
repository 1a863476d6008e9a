//! The CDS scanner's DNS side (RFC 7344, RFC 8078, draft-ietf-dnsop-ds-automation): ask every
//! name server address of a TLD over TCP for CDS, CDNSKEY and DNSKEY, and judge whether the
//! records may change the TLD's DS set.
//!
//! A DS change is something the desk publishes for the whole Internet, so every rule errs on
//! doing nothing: all servers must serve the same CDS and CDNSKEY RRsets, each RRset must be
//! signed by a key a published DS points to (the chain of trust the DNSSEC checks follow,
//! with the same functions of [`super::dnssec`]), CDS and CDNSKEY must name the same keys, and
//! the DS set they yield must itself validate the served DNSKEY RRset. Anything else is a
//! problem to report, never to act on. Queries go through the sweep's [`Prober`] (its hub
//! and bound on queries in flight), so the scan is part of the same scheduling problem.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use futures_util::future::join_all;
use hickory_proto::dnssec::rdata::{DNSSECRData, CDNSKEY, CDS, DNSKEY};
use hickory_proto::dnssec::{DigestType, PublicKey};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use serde::Serialize;

use super::dnssec::{self, DsMatch, Invalidity, Judgement, ServedKey};
use super::dsboot::{self, Bootstrap};
use super::probe::{rcode_name, Prober, QuerySpec, Transport};
use super::report::Report;
use crate::registry::DsRecord;

/// One name server address to ask.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CdsTarget {
    pub ns: Name,
    pub address: SocketAddr,
}

/// Why CDS/CDNSKEY records are not acted on: a stable label, the key of the report's rate
/// limit together with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CdsProblem {
    /// Servers serve different CDS/CDNSKEY RRsets, or some did not answer.
    Inconsistent,
    /// An RRset is not signed by a key a published DS points to.
    NotTrusted,
    /// CDS and CDNSKEY name different keys.
    Disagree,
    /// The DS set they yield would not validate the served DNSKEY RRset.
    WouldBreak,
    /// Malformed records: a delete signal mixed with keys, a digest that is not allowed.
    Invalid,
    /// The TLD has no DS and bootstrapping (RFC 9615) is not configured.
    Unsigned,
    /// RFC 9615: a name server lies under the TLD itself, so it cannot vouch for it.
    BootstrapInBailiwick,
    /// RFC 9615: a name server publishes no signal.
    BootstrapNoSignal,
    /// RFC 9615: a signal does not validate from the trust anchor.
    BootstrapInvalid,
    /// RFC 9615: the signals differ from each other or from the TLD's own CDS/CDNSKEY.
    BootstrapMismatch,
}

impl CdsProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            CdsProblem::Inconsistent => "cds-inconsistent",
            CdsProblem::NotTrusted => "cds-not-trusted",
            CdsProblem::Disagree => "cds-cdnskey-disagree",
            CdsProblem::WouldBreak => "cds-would-break",
            CdsProblem::Invalid => "cds-invalid",
            CdsProblem::Unsigned => "cds-unsigned",
            CdsProblem::BootstrapInBailiwick => "cds-bootstrap-in-bailiwick",
            CdsProblem::BootstrapNoSignal => "cds-bootstrap-no-signal",
            CdsProblem::BootstrapInvalid => "cds-bootstrap-invalid",
            CdsProblem::BootstrapMismatch => "cds-bootstrap-mismatch",
        }
    }
}

impl std::fmt::Display for CdsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the CDS/CDNSKEY records of a TLD come to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum CdsOutcome {
    /// No server serves CDS or CDNSKEY.
    None,
    /// They yield the DS set already published.
    Unchanged,
    /// A new DS set, validated as above.
    Change { ds: Vec<DsRecord> },
    /// RFC 8078's delete signal from a signed TLD: remove the DS set.
    Delete,
    /// Not to be acted on.
    Problem {
        problem: CdsProblem,
        message: String,
    },
}

/// The scan of one TLD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CdsScan {
    pub zone: String,
    /// Name server addresses asked.
    pub servers: usize,
    #[serde(flatten)]
    pub outcome: CdsOutcome,
}

impl CdsScan {
    /// One line for people: `xa: change to DS 12345 13 2, ...`.
    pub fn summary(&self) -> String {
        match &self.outcome {
            CdsOutcome::None => "no CDS/CDNSKEY published".into(),
            CdsOutcome::Unchanged => "CDS/CDNSKEY match the published DS set".into(),
            CdsOutcome::Change { ds } => format!(
                "CDS/CDNSKEY ask for the DS set {}",
                ds.iter()
                    .map(|d| format!("{} {} {}", d.key_tag, d.algorithm, d.digest_type))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CdsOutcome::Delete => "CDS/CDNSKEY ask to delete the DS set (RFC 8078)".into(),
            CdsOutcome::Problem { problem, message } => format!("{problem}: {message}"),
        }
    }
}

/// The name server addresses a check asked about the zone (from its query log, so that
/// out-of-bailiwick servers resolved by the check are included), plus the proposal's own.
pub fn targets_of(zone: &Name, report: &Report, given: &super::Proposal) -> Vec<CdsTarget> {
    let apex = zone.to_ascii();
    let mut out = BTreeSet::new();
    for q in &report.queries {
        if q.qname.eq_ignore_ascii_case(&apex) {
            if let Ok(ns) = Name::from_ascii(&q.server) {
                out.insert(CdsTarget {
                    ns,
                    address: q.address,
                });
            }
        }
    }
    for ns in &given.nameservers {
        for a in &ns.addresses {
            out.insert(CdsTarget {
                ns: ns.name.clone(),
                address: *a,
            });
        }
    }
    out.into_iter().collect()
}

/// A server's CDS and CDNSKEY RRsets, as sorted wire rdata.
type RrsetPair = (BTreeSet<Vec<u8>>, BTreeSet<Vec<u8>>);

/// What one server answered.
struct Served {
    target: CdsTarget,
    dnskey: Vec<Record>,
    cds: Vec<Record>,
    cdnskey: Vec<Record>,
}

impl Served {
    fn label(&self) -> String {
        format!("{} ({})", self.target.ns.to_ascii(), self.target.address)
    }

    /// The CDS and CDNSKEY RRsets as sorted wire rdata, for comparing servers.
    fn rrsets(&self) -> RrsetPair {
        let wire = |records: &[Record], t: RecordType| -> BTreeSet<Vec<u8>> {
            records
                .iter()
                .filter(|r| r.record_type() == t)
                .filter_map(|r| r.data.to_bytes().ok())
                .collect()
        };
        (
            wire(&self.cds, RecordType::CDS),
            wire(&self.cdnskey, RecordType::CDNSKEY),
        )
    }
}

fn problem(problem: CdsProblem, message: impl Into<String>) -> CdsOutcome {
    CdsOutcome::Problem {
        problem,
        message: message.into(),
    }
}

/// Asks every target over TCP and judges the answers against the published DS set; for an
/// unsigned TLD, with `bootstrap` given, by RFC 9615's signals ([`super::dsboot`]).
pub async fn scan(
    zone: &Name,
    targets: &[CdsTarget],
    published: &[DsRecord],
    bootstrap: Option<&Bootstrap>,
    prober: &Prober,
    now: u32,
) -> CdsScan {
    let mut zone = zone.to_lowercase();
    zone.set_fqdn(true);
    let ask = |t: CdsTarget, qtype: RecordType| {
        let spec = QuerySpec::edns(&zone, qtype, 1232, true);
        async move {
            let outcome = prober.query(&t.ns, t.address, Transport::Tcp, &spec).await;
            match outcome {
                Ok(a) if a.message.metadata.response_code == ResponseCode::NoError => {
                    Ok(a.message.answers)
                }
                Ok(a) => Err(format!(
                    "answered the {qtype} query {}",
                    rcode_name(a.message.metadata.response_code)
                )),
                Err(e) => Err(format!("gave no answer to the {qtype} query over TCP: {e}")),
            }
        }
    };
    let answers = join_all(targets.iter().map(|t| {
        let t = t.clone();
        let ask = &ask;
        async move {
            let (dnskey, cds, cdnskey) = futures_util::join!(
                ask(t.clone(), RecordType::DNSKEY),
                ask(t.clone(), RecordType::CDS),
                ask(t.clone(), RecordType::CDNSKEY)
            );
            (t, dnskey, cds, cdnskey)
        }
    }))
    .await;
    let mut served = Vec::new();
    let mut failures = Vec::new();
    for (target, dnskey, cds, cdnskey) in answers {
        match (dnskey, cds, cdnskey) {
            (Ok(dnskey), Ok(cds), Ok(cdnskey)) => served.push(Served {
                target,
                dnskey,
                cds,
                cdnskey,
            }),
            (d, c, k) => {
                let why = [d.err(), c.err(), k.err()]
                    .into_iter()
                    .flatten()
                    .next()
                    .unwrap_or_default();
                failures.push(format!(
                    "{} ({}) {why}",
                    target.ns.to_ascii(),
                    target.address
                ));
            }
        }
    }
    let mut outcome = judge(&zone, &served, &failures, published, now);
    if let (
        Some(boot),
        CdsOutcome::Problem {
            problem: CdsProblem::Unsigned,
            ..
        },
    ) = (bootstrap, &outcome)
    {
        outcome = bootstrapped(&zone, targets, &served, boot, prober, now).await;
    }
    CdsScan {
        zone: zone.to_ascii(),
        servers: targets.len(),
        outcome,
    }
}

fn judge(
    zone: &Name,
    served: &[Served],
    failures: &[String],
    published: &[DsRecord],
    now: u32,
) -> CdsOutcome {
    let publishes = served.iter().any(|s| {
        let (c, k) = s.rrsets();
        !c.is_empty() || !k.is_empty()
    });
    if !publishes {
        // Nothing asked for; a server that did not answer is the sweep's finding.
        return CdsOutcome::None;
    }
    if !failures.is_empty() {
        return problem(
            CdsProblem::Inconsistent,
            format!(
                "some name servers serve CDS/CDNSKEY, but {}; the desk acts only when every server serves the same records",
                failures.join("; ")
            ),
        );
    }
    // Every server must serve the same RRsets.
    let mut by_rrsets: BTreeMap<RrsetPair, Vec<String>> = BTreeMap::new();
    for s in served {
        by_rrsets.entry(s.rrsets()).or_default().push(s.label());
    }
    if by_rrsets.len() > 1 {
        let groups: Vec<String> = by_rrsets
            .iter()
            .map(|((c, k), servers)| {
                format!(
                    "{} serve{} {} CDS and {} CDNSKEY",
                    servers.join(", "),
                    if servers.len() == 1 { "s" } else { "" },
                    c.len(),
                    k.len()
                )
            })
            .collect();
        return problem(
            CdsProblem::Inconsistent,
            format!(
                "the name servers serve different CDS/CDNSKEY RRsets ({}); the desk acts only when every server serves the same records",
                groups.join("; ")
            ),
        );
    }
    if published.is_empty() {
        return problem(
            CdsProblem::Unsigned,
            format!(
                "{} has no DS published, so no chain of trust can authenticate its CDS/CDNSKEY; \
                 authenticated bootstrapping (RFC 9615) is not configured on this desk: submit the first DS set as a request",
                zone.to_ascii()
            ),
        );
    }
    // Each server's RRsets must be signed by a key a published DS points to.
    for s in served {
        let keys = dnssec::served_keys(zone, &s.dnskey);
        let trusted: Vec<&ServedKey> = published
            .iter()
            .filter_map(|ds| match dnssec::match_ds(zone, ds, &keys) {
                DsMatch::Matches(i) => Some(&keys[i]),
                _ => None,
            })
            .collect();
        if trusted.is_empty() {
            return problem(
                CdsProblem::NotTrusted,
                format!(
                    "{} serves no DNSKEY that a published DS points to, so its CDS/CDNSKEY cannot be authenticated",
                    s.label()
                ),
            );
        }
        if let Err(e) = dnssec::validate_rrset(zone, RecordType::DNSKEY, &s.dnskey, &trusted, now) {
            return problem(
                CdsProblem::NotTrusted,
                format!("{}: the DNSKEY RRset is not validly signed by a key a published DS points to: {}", s.label(), text(e)),
            );
        }
        for (rtype, records) in [(RecordType::CDS, &s.cds), (RecordType::CDNSKEY, &s.cdnskey)] {
            if !records.iter().any(|r| r.record_type() == rtype) {
                continue;
            }
            if let Err(e) = dnssec::validate_rrset(zone, rtype, records, &trusted, now) {
                return problem(
                    CdsProblem::NotTrusted,
                    format!(
                        "{}: the {rtype} RRset is not validly signed by a key a published DS points to (RFC 7344 §4.1): {}",
                        s.label(),
                        text(e)
                    ),
                );
            }
        }
    }
    derive(zone, served, published, now)
}

/// RFC 9615 for an unsigned TLD whose servers all serve the same CDS/CDNSKEY: every name
/// server must be out of bailiwick and publish, at `_dsboot.<tld>._signal.<ns>`, a signal
/// that validates from the trust anchor and equals the TLD's own records; then the records
/// are judged as for a signed TLD (the DS set must validate the served DNSKEY RRset).
async fn bootstrapped(
    zone: &Name,
    targets: &[CdsTarget],
    served: &[Served],
    boot: &Bootstrap,
    prober: &Prober,
    now: u32,
) -> CdsOutcome {
    let names: BTreeSet<Name> = targets.iter().map(|t| t.ns.to_lowercase()).collect();
    let inside: Vec<String> = names
        .iter()
        .filter(|n| zone.zone_of(n))
        .map(|n| n.to_ascii())
        .collect();
    if !inside.is_empty() {
        return problem(
            CdsProblem::BootstrapInBailiwick,
            format!(
                "{} lie{} under {} itself: a name server in the TLD's own zone cannot vouch for it, \
                 so authenticated bootstrapping (RFC 9615 §1.1) is not possible; submit the first DS set as a request",
                inside.join(", "),
                if inside.len() == 1 { "s" } else { "" },
                zone.to_ascii()
            ),
        );
    }
    let apex = served[0].rrsets();
    let signals = join_all(
        names
            .iter()
            .map(|ns| async move { (ns, dsboot::signal(zone, ns, boot, prober, now).await) }),
    )
    .await;
    for (ns, result) in signals {
        match result {
            Err(dsboot::SignalError::Missing(e)) => {
                return problem(
                    CdsProblem::BootstrapNoSignal,
                    format!(
                        "{} publishes no bootstrapping signal ({e}); every name server must publish the TLD's CDS/CDNSKEY \
                         at _dsboot.{}_signal.{} (RFC 9615 §3)",
                        ns.to_ascii(),
                        zone.to_ascii(),
                        ns.to_ascii()
                    ),
                )
            }
            Err(dsboot::SignalError::Invalid(e)) => {
                return problem(
                    CdsProblem::BootstrapInvalid,
                    format!(
                        "the bootstrapping signal of {} does not validate from the trust anchor: {e}",
                        ns.to_ascii()
                    ),
                )
            }
            Ok(sets) if sets != apex => {
                return problem(
                    CdsProblem::BootstrapMismatch,
                    format!(
                        "the bootstrapping signal of {} ({} CDS, {} CDNSKEY) differs from the CDS/CDNSKEY {} serves \
                         ({} CDS, {} CDNSKEY); they must be the same records (RFC 9615 §4.2)",
                        ns.to_ascii(),
                        sets.0.len(),
                        sets.1.len(),
                        zone.to_ascii(),
                        apex.0.len(),
                        apex.1.len()
                    ),
                )
            }
            Ok(_) => {}
        }
    }
    match derive(zone, served, &[], now) {
        // Nothing to delete in an unsigned zone.
        CdsOutcome::Delete => CdsOutcome::Unchanged,
        other => other,
    }
}

/// The DS set asked for by the CDS/CDNSKEY every server serves, checked.
fn derive(zone: &Name, served: &[Served], published: &[DsRecord], now: u32) -> CdsOutcome {
    // From here on every server serves the same records: judge the first one's.
    let first = &served[0];
    let cds: Vec<CDS> = first
        .cds
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::CDS(c)) => Some(c.clone()),
            _ => None,
        })
        .collect();
    let cdnskey: Vec<CDNSKEY> = first
        .cdnskey
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::CDNSKEY(k)) => Some(k.clone()),
            _ => None,
        })
        .collect();
    let deletes = cds.iter().filter(|c| c.is_delete()).count()
        + cdnskey.iter().filter(|k| k.is_delete()).count();
    if deletes > 0 {
        if deletes != cds.len() + cdnskey.len() {
            return problem(
                CdsProblem::Invalid,
                "the delete signal (CDS 0 0 0 00, CDNSKEY 0 3 0 AA==) is served beside other CDS/CDNSKEY records; \
                 serve either the delete signal alone or the keys (RFC 8078 §4)",
            );
        }
        return CdsOutcome::Delete;
    }
    let from_cds = match cds.iter().map(ds_of_cds).collect::<Result<Vec<_>, _>>() {
        Ok(v) => v,
        Err(e) => return problem(CdsProblem::Invalid, e),
    };
    let keys: Vec<ServedKey> = cdnskey.iter().filter_map(key_of_cdnskey).collect();
    if keys.len() != cdnskey.len() {
        return problem(
            CdsProblem::Invalid,
            "a CDNSKEY record holds no usable public key",
        );
    }
    if !from_cds.is_empty() && !keys.is_empty() {
        // Both given: they must name the same keys.
        for ds in &from_cds {
            if !matches!(dnssec::match_ds(zone, ds, &keys), DsMatch::Matches(_)) {
                return problem(
                    CdsProblem::Disagree,
                    format!(
                        "CDS {} {} {} matches no CDNSKEY; CDS and CDNSKEY must name the same keys",
                        ds.key_tag, ds.algorithm, ds.digest_type
                    ),
                );
            }
        }
        for k in &keys {
            let named = from_cds.iter().any(|ds| {
                dnssec::match_ds(zone, ds, std::slice::from_ref(k)) == DsMatch::Matches(0)
            });
            if !named {
                return problem(
                    CdsProblem::Disagree,
                    format!(
                        "CDNSKEY {} (algorithm {}) has no CDS; CDS and CDNSKEY must name the same keys",
                        k.tag, k.algorithm
                    ),
                );
            }
        }
    }
    let proposed: Vec<DsRecord> = if from_cds.is_empty() {
        // CDNSKEY alone: the desk computes SHA-256 digests (RFC 8624).
        match keys
            .iter()
            .map(|k| {
                let digest = k
                    .key
                    .to_digest(zone, DigestType::SHA256)
                    .map_err(|e| format!("cannot compute the DS of CDNSKEY {}: {e}", k.tag))?;
                DsRecord::new(k.tag, k.algorithm, 2, digest.as_ref().to_vec())
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(v) => v,
            Err(e) => return problem(CdsProblem::Invalid, e),
        }
    } else {
        from_cds
    };
    let bad_digests: Vec<String> = dnssec::ds_digest_judgements(&proposed)
        .into_iter()
        .filter(|(_, j, _)| *j == Judgement::Major)
        .map(|(_, _, why)| why)
        .collect();
    if !bad_digests.is_empty() {
        return problem(CdsProblem::Invalid, bad_digests.join("; "));
    }
    for d in &proposed {
        let (j, name) = dnssec::algorithm_judgement(d.algorithm);
        if j == Judgement::Major {
            return problem(
                CdsProblem::Invalid,
                format!(
                    "CDS {} {} {}: algorithm {name}",
                    d.key_tag, d.algorithm, d.digest_type
                ),
            );
        }
    }
    // The new DS set must validate the DNSKEY RRset every server serves.
    for s in served {
        let served_keys = dnssec::served_keys(zone, &s.dnskey);
        let trusted: Vec<&ServedKey> = proposed
            .iter()
            .filter_map(|ds| match dnssec::match_ds(zone, ds, &served_keys) {
                DsMatch::Matches(i) => Some(&served_keys[i]),
                _ => None,
            })
            .collect();
        let valid = !trusted.is_empty()
            && dnssec::validate_rrset(zone, RecordType::DNSKEY, &s.dnskey, &trusted, now).is_ok();
        if !valid {
            return problem(
                CdsProblem::WouldBreak,
                format!(
                    "the DS set the CDS/CDNSKEY records yield would not validate the DNSKEY RRset {} serves: \
                     no DS of it points to a key that signs the DNSKEY RRset",
                    s.label()
                ),
            );
        }
    }
    let now_set: BTreeSet<&DsRecord> = published.iter().collect();
    let new_set: BTreeSet<&DsRecord> = proposed.iter().collect();
    if now_set == new_set {
        return CdsOutcome::Unchanged;
    }
    let mut ds: Vec<DsRecord> = new_set.into_iter().cloned().collect();
    ds.dedup();
    CdsOutcome::Change { ds }
}

fn text(e: Invalidity) -> String {
    match e {
        Invalidity::Invalid(m) | Invalidity::Unverifiable(m) => m,
    }
}

/// A CDS as the DS it asks for.
fn ds_of_cds(c: &CDS) -> Result<DsRecord, String> {
    let algorithm = c.algorithm().map(u8::from).unwrap_or(0);
    let digest_type = u8::from(c.digest_type());
    DsRecord::new(c.key_tag(), algorithm, digest_type, c.digest().to_vec()).map_err(|e| {
        format!(
            "CDS {} {algorithm} {digest_type} is not a valid DS: {e}",
            c.key_tag()
        )
    })
}

/// A CDNSKEY as the DNSKEY it names, with its key tag (hickory computes tag and digest).
fn key_of_cdnskey(k: &CDNSKEY) -> Option<ServedKey> {
    let public = k.public_key()?;
    let key = DNSKEY::with_flags(k.flags(), public);
    let tag = key.calculate_key_tag().ok()?;
    let algorithm = u8::from(key.public_key().algorithm());
    Some(ServedKey {
        key,
        tag,
        algorithm,
    })
}

/// The scan of one swept TLD: the addresses its check asked, the DS set it published, the
/// profile's special-purpose allowances, with the sweep's prober; an unsigned TLD is
/// bootstrapped (RFC 9615) when `bootstrap` is given, else reported as `cds-unsigned`.
pub async fn scan_swept(
    zone: &Name,
    proposal: &super::Proposal,
    report: &Report,
    prober: Prober,
    profile: &super::Profile,
    bootstrap: Option<&Bootstrap>,
) -> CdsScan {
    let prober = prober.allowing(profile.query.allowed_blocks().unwrap_or_default());
    let targets = targets_of(zone, report, proposal);
    scan(zone, &targets, &proposal.ds, bootstrap, &prober, now32()).await
}

/// Unix time modulo 2^32, as RRSIG validity windows count (RFC 4034 §3.1.5).
pub fn now32() -> u32 {
    (time::OffsetDateTime::now_utc().unix_timestamp() & 0xffff_ffff) as u32
}
