//! The check run: find the addresses, probe every server address over each transport the
//! checks need, and judge the answers.
//!
//! Probing goes in two rounds so that a dead server costs one timeout, not one per query:
//! first an SOA query over UDP and over TCP to every address at once; then, only for the
//! transports that answered, every other query at once (EDNS, NS, DNSKEY, glue addresses,
//! recursion). The judging that follows is pure and works on what was collected.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use futures_util::future::join_all;
use hickory_proto::dnssec::rdata::DNSKEY;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::addresses::{network, special_purpose};
use super::dnssec::{
    self, algorithm_judgement, ds_digest_judgements, DsMatch, Judgement, ServedKey,
};
use super::lookup::{AsLookup, NameResolver};
use super::probe::{
    rcode_name, Answer, EdnsOddity, Outcome, ProbeError, Prober, QuerySpec, Transport,
};
use super::profile::{CheckId, Needs, Profile, Severity};
use super::proposal::Proposal;
use super::referral::{referral_size, LIMIT};
use super::report::{CheckStatus, Finding, Report};

/// Collects findings, applying the profile's severities.
struct Findings<'a> {
    profile: &'a Profile,
    list: Vec<Finding>,
    /// Checks (or parts of checks) that could not be evaluated, and why.
    not_run: BTreeMap<CheckId, String>,
}

/// Where a finding applies.
#[derive(Default, Clone, Copy)]
struct At<'a> {
    ns: Option<&'a Name>,
    address: Option<SocketAddr>,
    transport: Option<Transport>,
}

impl<'a> At<'a> {
    fn ns(ns: &'a Name) -> Self {
        At {
            ns: Some(ns),
            ..At::default()
        }
    }
    fn target(t: &'a Target) -> Self {
        At {
            ns: Some(&t.ns),
            address: Some(t.address),
            transport: None,
        }
    }
    fn over(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self
    }
}

impl Findings<'_> {
    fn on(&self, check: CheckId) -> bool {
        self.profile.checks.get(check) != Severity::Off
    }

    /// Records that `check` (or part of it) could not be evaluated; the first reason is kept.
    fn not_run(&mut self, check: CheckId, reason: impl Into<String>) {
        if self.on(check) {
            self.not_run.entry(check).or_insert_with(|| reason.into());
        }
    }

    /// A major finding takes the check's configured severity; a minor one at most `warning`.
    fn add(&mut self, check: CheckId, major: bool, at: At<'_>, message: impl Into<String>) {
        let mut severity = self.profile.checks.get(check);
        if !major {
            severity = severity.min(Severity::Warning);
        }
        if severity == Severity::Off {
            return;
        }
        self.list.push(Finding {
            check,
            severity,
            message: message.into(),
            nameserver: at.ns.map(|n| n.to_ascii()),
            address: at.address,
            transport: at.transport,
        });
    }
}

/// One name server address to probe.
#[derive(Debug, Clone)]
struct Target {
    ns: Name,
    address: SocketAddr,
}

/// What one target answered.
struct Probed {
    target: Target,
    soa: [Outcome; 2],
    /// The transport used for the second round (UDP if it answered, else TCP).
    via: Option<Transport>,
    edns: Option<Outcome>,
    /// The RFC 6891 conformance queries: EDNS version 1, then version 0 with an unknown
    /// option and an unknown flag.
    edns_odd: Option<[Outcome; 2]>,
    ns_set: Option<Outcome>,
    dnskey: Option<Outcome>,
    nsec3param: Option<Outcome>,
    glue: Vec<(Name, RecordType, Outcome)>,
    recursion: Option<Outcome>,
}

impl Probed {
    /// The authoritative SOA answer (UDP preferred), if any.
    fn authoritative(&self, zone: &Name) -> Option<(&Answer, SOA)> {
        self.soa.iter().find_map(|o| {
            let a = o.as_ref().ok()?;
            if a.from != self.target.address {
                return None;
            }
            let m = &a.message;
            if m.metadata.response_code != ResponseCode::NoError || !m.metadata.authoritative {
                return None;
            }
            soa_of(zone, &m.answers).map(|s| (a, s))
        })
    }
}

fn soa_of(zone: &Name, records: &[Record]) -> Option<SOA> {
    records.iter().find_map(|r| match &r.data {
        RData::SOA(s) if r.name.to_lowercase() == *zone => Some(s.clone()),
        _ => None,
    })
}

/// Runs every check of the profile on the proposed delegation of `zone`.
pub async fn run_check(zone: &Name, proposal: &Proposal, profile: &Profile) -> Report {
    let prober = Prober::new(
        profile.query.concurrency,
        profile.query.timeout(),
        profile.query.retries,
        profile.query.budget(),
    );
    run_check_with(zone, proposal, profile, prober).await
}

/// [`run_check`] with a given prober (the sweep's, which shares a [`ProbeHub`] between
/// TLDs). The profile's special-purpose allowances are applied to it.
///
/// [`ProbeHub`]: super::probe::ProbeHub
pub async fn run_check_with(
    zone: &Name,
    proposal: &Proposal,
    profile: &Profile,
    prober: Prober,
) -> Report {
    let started_at = Instant::now();
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut zone = zone.to_lowercase();
    zone.set_fqdn(true);
    let mut f = Findings {
        profile,
        list: Vec::new(),
        not_run: BTreeMap::new(),
    };
    let prober = prober
        // A profile's blocks were validated when it was read; a bad one here allows nothing.
        .allowing(profile.query.allowed_blocks().unwrap_or_default());

    static_checks(&zone, proposal, &mut f);
    let targets = find_addresses(&zone, proposal, profile, &mut f).await;
    address_checks(&targets, &mut f);

    let probed = probe_all(&zone, proposal, &targets, profile, &prober, &f).await;
    unevaluated(&zone, &targets, &probed, &mut f);
    judge_transport(&zone, &probed, &mut f);
    judge_zone_data(&zone, proposal, &probed, &mut f);
    judge_dnssec(&zone, proposal, &probed, &mut f);
    judge_nsec3(&zone, proposal, &probed, &mut f);
    network_diversity(&targets, profile, &mut f).await;

    let mut checks = BTreeMap::new();
    for id in CheckId::ALL {
        let status = if profile.checks.get(id) == Severity::Off {
            CheckStatus::Off
        } else if f
            .list
            .iter()
            .any(|x| x.check == id && x.severity == Severity::Error)
        {
            CheckStatus::Error
        } else if f.not_run.contains_key(&id) {
            CheckStatus::NotRun
        } else if f
            .list
            .iter()
            .any(|x| x.check == id && x.severity == Severity::Warning)
        {
            CheckStatus::Warning
        } else {
            CheckStatus::Pass
        };
        checks.insert(id, status);
    }
    let findings = f.list;
    let not_run: BTreeMap<CheckId, String> = f
        .not_run
        .into_iter()
        .filter(|(id, _)| checks.get(id) == Some(&CheckStatus::NotRun))
        .collect();
    Report {
        zone: zone.to_ascii(),
        verdict: Report::verdict_of(&findings, &checks),
        checks,
        not_run,
        findings,
        queries: prober.take_log(),
        started,
        elapsed_ms: u64::try_from(started_at.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// Why `name` is not a valid host name (RFC 1123 §2.1, LDH labels), if it is not.
pub fn host_name_problem(name: &Name) -> Option<String> {
    let labels: Vec<&[u8]> = name.iter().collect();
    if labels.len() < 2 {
        return Some("a name server's name needs at least two labels".into());
    }
    for label in &labels {
        let text = String::from_utf8_lossy(label);
        if !label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        {
            return Some(format!(
                "label {text:?} holds characters other than letters, digits and hyphens (RFC 1123)"
            ));
        }
        if label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return Some(format!("label {text:?} starts or ends with a hyphen"));
        }
    }
    if labels
        .last()
        .is_some_and(|l| l.iter().all(u8::is_ascii_digit))
    {
        return Some("the last label is all digits".into());
    }
    None
}

/// Checks that need no network: counts, names, DS digest types and algorithms, referral size.
fn static_checks(zone: &Name, proposal: &Proposal, f: &mut Findings<'_>) {
    let n = proposal.nameservers.len();
    if n < 2 {
        f.add(
            CheckId::NsCount,
            true,
            At::default(),
            format!("{n} name server(s) proposed; at least 2 are required"),
        );
    }
    if n > 13 {
        f.add(
            CheckId::NsCount,
            true,
            At::default(),
            format!("{n} name servers proposed; at most 13 are supported"),
        );
    }
    for ns in &proposal.nameservers {
        if let Some(problem) = host_name_problem(&ns.name) {
            f.add(
                CheckId::NsNameSyntax,
                true,
                At::ns(&ns.name),
                format!("{} is not a valid host name: {problem}", ns.name),
            );
        }
    }
    for (ds, judgement, message) in ds_digest_judgements(&proposal.ds) {
        let _ = ds;
        f.add(
            CheckId::DsDigest,
            judgement == Judgement::Major,
            At::default(),
            message,
        );
    }
    let ds_algs: BTreeSet<u8> = proposal.ds.iter().map(|d| d.algorithm).collect();
    for alg in ds_algs {
        let (j, name) = algorithm_judgement(alg);
        if j != Judgement::Ok {
            f.add(
                CheckId::DnskeyAlgorithm,
                j == Judgement::Major,
                At::default(),
                format!("the DS set uses algorithm {alg}: {name}"),
            );
        }
    }
    if f.on(CheckId::ReferralSize) && n > 0 {
        match referral_size(zone, proposal) {
            Ok((size, glue)) if size > LIMIT => f.add(
                CheckId::ReferralSize,
                true,
                At::default(),
                format!(
                    "the referral for a 255-octet query name, with {n} NS records and {glue} glue records, \
                     is {size} octets without EDNS: more than {LIMIT}; shorten or drop name servers"
                ),
            ),
            Ok(_) => {}
            Err(e) => f.add(CheckId::ReferralSize, true, At::default(), e),
        }
    }
}

/// The addresses to probe: given ones, or resolved ones for out-of-bailiwick names.
async fn find_addresses(
    zone: &Name,
    proposal: &Proposal,
    profile: &Profile,
    f: &mut Findings<'_>,
) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut to_resolve = Vec::new();
    for ns in &proposal.nameservers {
        if !ns.addresses.is_empty() {
            targets.extend(ns.addresses.iter().map(|a| Target {
                ns: ns.name.clone(),
                address: *a,
            }));
        } else if zone.zone_of(&ns.name) {
            f.add(
                CheckId::GlueRequired,
                true,
                At::ns(&ns.name),
                format!("{} lies inside {zone} and needs glue (an A and/or AAAA address), but none was given", ns.name),
            );
        } else {
            to_resolve.push(ns.name.clone());
        }
    }
    if to_resolve.is_empty() {
        return targets;
    }
    let resolver = match NameResolver::new(&profile.resolver, &profile.query) {
        Ok(r) => r,
        Err(e) => {
            for name in &to_resolve {
                f.add(
                    CheckId::GlueRequired,
                    true,
                    At::ns(name),
                    format!("cannot resolve {name}: {e}"),
                );
            }
            return targets;
        }
    };
    let results = join_all(to_resolve.iter().map(|n| resolver.addresses(n))).await;
    for (name, (ips, cname)) in to_resolve.iter().zip(results) {
        if let Some(target) = cname {
            f.add(
                CheckId::NsNameSyntax,
                true,
                At::ns(name),
                format!("{name} is an alias (CNAME to {target}); an NS name must not be a CNAME (RFC 2181 §10.3)"),
            );
        }
        match ips {
            Ok(ips) if ips.is_empty() => f.add(
                CheckId::GlueRequired,
                true,
                At::ns(name),
                format!("{name} lies outside {zone} and was given no address, and it resolves to no A or AAAA record"),
            ),
            Ok(ips) => targets.extend(ips.into_iter().map(|ip| Target {
                ns: name.clone(),
                address: SocketAddr::new(ip, 53),
            })),
            Err(e) => f.add(
                CheckId::GlueRequired,
                true,
                At::ns(name),
                format!("{name} lies outside {zone} and was given no address, and resolving it failed: {e}"),
            ),
        }
    }
    targets
}

fn address_checks(targets: &[Target], f: &mut Findings<'_>) {
    let distinct: BTreeSet<SocketAddr> = targets.iter().map(|t| t.address).collect();
    let names: BTreeSet<&Name> = targets.iter().map(|t| &t.ns).collect();
    if names.len() >= 2 && distinct.len() == 1 {
        if let Some(a) = distinct.first() {
            f.add(
                CheckId::NsCount,
                true,
                At::default(),
                format!(
                    "all {} name servers are on one address, {a}: there is no redundancy",
                    names.len()
                ),
            );
        }
    }
    // Two names on one address are one server (as Zonemaster's NAMESERVER01/CONNECTIVITY):
    // say so, naming both (`.mv`: ns.mv and ns.dhivehinet.net.mv).
    if distinct.len() > 1 {
        let mut by_address: BTreeMap<SocketAddr, BTreeSet<&Name>> = BTreeMap::new();
        for t in targets {
            by_address.entry(t.address).or_default().insert(&t.ns);
        }
        for (a, names) in by_address.iter().filter(|(_, n)| n.len() >= 2) {
            f.add(
                CheckId::NsCount,
                false,
                At {
                    address: Some(*a),
                    ..At::default()
                },
                format!(
                    "{} share the address {}: two names on one address are one server, not {}",
                    list(names.iter().map(|n| n.to_ascii())),
                    super::probe::address_text::format(a),
                    names.len()
                ),
            );
        }
    }
    let mut seen = BTreeSet::new();
    for t in targets {
        if !seen.insert((t.ns.clone(), t.address.ip())) {
            continue;
        }
        if let Some(why) = special_purpose(t.address.ip()) {
            f.add(
                CheckId::AddressRoutable,
                true,
                At::target(t),
                format!(
                    "{} is not a globally reachable address: {why}",
                    t.address.ip()
                ),
            );
        }
    }
}

/// Sends a query and, when a UDP reply is truncated, repeats it over TCP.
async fn query_tc(prober: &Prober, t: &Target, via: Transport, spec: &QuerySpec) -> Outcome {
    let outcome = prober.query(&t.ns, t.address, via, spec).await;
    if via == Transport::Udp {
        if let Ok(a) = &outcome {
            if a.message.metadata.truncation && !prober.is_dead(t.address, Transport::Tcp) {
                return prober.query(&t.ns, t.address, Transport::Tcp, spec).await;
            }
        }
    }
    outcome
}

/// A name outside the zone for the open-resolver probe: a private-use reverse name, which
/// recursive servers answer at once from their built-in empty zones (RFC 6303), even offline,
/// while an authoritative-only server refuses it.
fn recursion_probe_name(zone: &Name) -> Option<Name> {
    [
        "1.0.0.10.in-addr.arpa.",
        "rootdesk-recursion-probe.invalid.",
    ]
    .iter()
    .filter_map(|n| Name::from_ascii(n).ok())
    .find(|n| !zone.zone_of(n) && !n.zone_of(zone))
}

async fn probe_all(
    zone: &Name,
    proposal: &Proposal,
    targets: &[Target],
    profile: &Profile,
    prober: &Prober,
    f: &Findings<'_>,
) -> Vec<Probed> {
    if !CheckId::ALL
        .iter()
        .any(|c| c.needs() != Needs::Nothing && f.on(*c))
    {
        return Vec::new();
    }
    let soa = QuerySpec::plain(zone, RecordType::SOA);
    let first = join_all(targets.iter().map(|t| async {
        let (u, t2) = tokio::join!(
            prober.query_first(&t.ns, t.address, Transport::Udp, &soa),
            prober.query_first(&t.ns, t.address, Transport::Tcp, &soa)
        );
        [u, t2]
    }))
    .await;

    let payload = profile.query.edns_payload;
    let want_dnskey =
        f.on(CheckId::DsMatch) || f.on(CheckId::DnssecValid) || f.on(CheckId::DnskeyAlgorithm);
    let want_glue = f.on(CheckId::GlueMatch);
    let want_edns = f.on(CheckId::Edns);
    // NSEC3 parameters matter for a zone signed at the parent only.
    let want_nsec3 = f.on(CheckId::Nsec3Params) && !proposal.ds.is_empty();
    let in_zone: Vec<&Name> = proposal
        .nameservers
        .iter()
        .filter(|ns| zone.zone_of(&ns.name) && !ns.addresses.is_empty())
        .map(|ns| &ns.name)
        .collect();
    let probe_name = recursion_probe_name(zone).filter(|_| f.on(CheckId::NoRecursion));

    join_all(targets.iter().zip(first).map(|(t, soa)| {
        let in_zone = &in_zone;
        let probe_name = &probe_name;
        async move {
            let via = if soa[0].is_ok() {
                Some(Transport::Udp)
            } else if soa[1].is_ok() {
                Some(Transport::Tcp)
            } else {
                None
            };
            let mut p = Probed {
                target: t.clone(),
                soa,
                via,
                edns: None,
                edns_odd: None,
                ns_set: None,
                dnskey: None,
                nsec3param: None,
                glue: Vec::new(),
                recursion: None,
            };
            let Some(via) = via else { return p };
            let edns = QuerySpec::edns(zone, RecordType::SOA, payload, true);
            let odd = [EdnsOddity::Version1, EdnsOddity::UnknownOptionAndFlag]
                .map(|o| QuerySpec::edns(zone, RecordType::SOA, payload, false).odd(o));
            let ns = QuerySpec::plain(zone, RecordType::NS);
            let dnskey = QuerySpec::edns(zone, RecordType::DNSKEY, payload, true);
            let nsec3param = QuerySpec::edns(zone, RecordType::NSEC3PARAM, payload, true);
            let glue_specs: Vec<QuerySpec> = if want_glue {
                in_zone
                    .iter()
                    .flat_map(|n| {
                        [
                            QuerySpec::plain(n, RecordType::A),
                            QuerySpec::plain(n, RecordType::AAAA),
                        ]
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let recursion = probe_name.as_ref().map(|n| QuerySpec {
                rd: true,
                ..QuerySpec::plain(n, RecordType::PTR)
            });
            let (e, o, n, k, n3, g, r) = tokio::join!(
                query_tc(prober, t, via, &edns),
                async {
                    if want_edns {
                        let (v1, opt) = tokio::join!(
                            query_tc(prober, t, via, &odd[0]),
                            query_tc(prober, t, via, &odd[1])
                        );
                        Some([v1, opt])
                    } else {
                        None
                    }
                },
                query_tc(prober, t, via, &ns),
                async {
                    if want_dnskey {
                        Some(query_tc(prober, t, via, &dnskey).await)
                    } else {
                        None
                    }
                },
                async {
                    if want_nsec3 {
                        Some(query_tc(prober, t, via, &nsec3param).await)
                    } else {
                        None
                    }
                },
                join_all(glue_specs.iter().map(|s| query_tc(prober, t, via, s))),
                async {
                    match &recursion {
                        Some(s) => Some(prober.query(&t.ns, t.address, via, s).await),
                        None => None,
                    }
                }
            );
            p.edns = Some(e);
            p.edns_odd = o;
            p.ns_set = Some(n);
            p.dnskey = k;
            p.nsec3param = n3;
            p.glue = glue_specs
                .iter()
                .zip(g)
                .map(|(s, o)| (s.qname.clone(), s.qtype, o))
                .collect();
            p.recursion = r;
            p
        }
    }))
    .await
}

/// The checks that need answers and got none: `not-run`, with the reason, never `ok`.
fn unevaluated(zone: &Name, targets: &[Target], probed: &[Probed], f: &mut Findings<'_>) {
    let reason = if targets.is_empty() {
        Some("no name server address to query".to_string())
    } else if !probed.iter().any(|p| p.soa.iter().any(Result::is_ok)) {
        // The desk's own failure is named as such; it is not the servers' silence.
        let local = probed
            .iter()
            .flat_map(|p| p.soa.iter())
            .find_map(|o| match o {
                Err(e @ ProbeError::Local(_)) => Some(e.to_string()),
                _ => None,
            });
        Some(match local {
            Some(local) => local,
            None => format!("no name server answered (an SOA query for {zone} over UDP and TCP)"),
        })
    } else {
        None
    };
    if let Some(reason) = reason {
        for id in CheckId::ALL {
            let unanswered = matches!(id.needs(), Needs::Answer | Needs::Authority);
            if unanswered || (id.needs() == Needs::Address && targets.is_empty()) {
                f.not_run(id, reason.clone());
            }
        }
        return;
    }
    if !probed.iter().any(|p| p.authoritative(zone).is_some()) {
        for id in CheckId::ALL
            .into_iter()
            .filter(|c| c.needs() == Needs::Authority)
        {
            f.not_run(
                id,
                format!("no name server gave an authoritative answer for {zone}"),
            );
        }
    }
}

fn describe_failure(e: &ProbeError) -> String {
    e.to_string()
}

/// reachable-udp, reachable-tcp, authoritative, no-recursion, edns.
fn judge_transport(zone: &Name, probed: &[Probed], f: &mut Findings<'_>) {
    for p in probed {
        let t = &p.target;
        for (i, transport) in [Transport::Udp, Transport::Tcp].into_iter().enumerate() {
            let check = if transport == Transport::Udp {
                CheckId::ReachableUdp
            } else {
                CheckId::ReachableTcp
            };
            match &p.soa[i] {
                Err(e @ ProbeError::Local(_)) => f.not_run(
                    check,
                    format!("{e} (the desk could not query {} over {transport}; the name server is not to blame)", t.address),
                ),
                Err(e) => f.add(
                    check,
                    true,
                    At::target(t).over(transport),
                    format!(
                        "no answer to an SOA query for {zone} over {transport}: {}",
                        describe_failure(e)
                    ),
                ),
                Ok(a) => judge_authoritative(zone, t, transport, a, f),
            }
        }
        if transport_truncates_without_tcp(p) {
            f.add(
                CheckId::ReachableTcp,
                true,
                At::target(t).over(Transport::Udp),
                "the UDP reply was truncated (TC=1) but the server does not answer over TCP, so the full answer cannot be had",
            );
        }
        if let Some(Ok(a)) = &p.recursion {
            let m = &a.message;
            let rc = m.metadata.response_code;
            let rcode = rcode_name(rc);
            // As Zonemaster's NAMESERVER01: RA set, or a resolved answer (data or NXDOMAIN)
            // for a name no authoritative-only server holds.
            if m.metadata.recursion_available
                || rc == ResponseCode::NXDomain
                || !m.answers.is_empty()
            {
                let qname = m
                    .queries
                    .first()
                    .map(|q| q.name().to_string())
                    .unwrap_or_default();
                f.add(
                    CheckId::NoRecursion,
                    true,
                    At::target(t).over(p.via.unwrap_or(Transport::Udp)),
                    format!(
                        "the server offers recursion: a recursive query (RD=1) for {qname}, outside {zone}, \
                         was answered {rcode} with RA={} and {} answer records; an authoritative server must \
                         refuse or ignore it",
                        u8::from(m.metadata.recursion_available),
                        m.answers.len()
                    ),
                );
            }
        }
        judge_edns(zone, p, f);
    }
}

/// Whether some UDP answer of this target was truncated while TCP is dead.
fn transport_truncates_without_tcp(p: &Probed) -> bool {
    let tcp_dead = p.soa[1].is_err();
    let truncated = |o: &Option<Outcome>| matches!(o, Some(Ok(a)) if a.message.metadata.truncation && a.from == p.target.address);
    tcp_dead
        && (matches!(&p.soa[0], Ok(a) if a.message.metadata.truncation)
            || truncated(&p.ns_set)
            || truncated(&p.dnskey)
            || p.glue
                .iter()
                .any(|(_, _, o)| matches!(o, Ok(a) if a.message.metadata.truncation)))
}

fn judge_authoritative(
    zone: &Name,
    t: &Target,
    transport: Transport,
    a: &Answer,
    f: &mut Findings<'_>,
) {
    let at = At::target(t).over(transport);
    let m = &a.message;
    if a.from != t.address {
        f.add(
            CheckId::Authoritative,
            true,
            at,
            format!(
                "the reply came from {}, not from the address queried ({}); resolvers drop such replies (RFC 2181 §4)",
                a.from, t.address
            ),
        );
    }
    let rc = m.metadata.response_code;
    let rcode = rcode_name(rc);
    if rc != ResponseCode::NoError {
        f.add(
            CheckId::Authoritative,
            true,
            at,
            format!("the SOA query for {zone} was answered {rcode}; an authoritative server answers NOERROR"),
        );
        return;
    }
    if m.metadata.truncation {
        // A truncated answer is judged by the TCP query.
        return;
    }
    if !m.metadata.authoritative {
        f.add(
            CheckId::Authoritative,
            true,
            at,
            format!("the SOA answer for {zone} lacks the AA bit: the server is not authoritative for the zone (lame)"),
        );
    }
    if soa_of(zone, &m.answers).is_none() {
        f.add(
            CheckId::Authoritative,
            true,
            at,
            format!("the NOERROR reply to an SOA query holds no SOA record for {zone} in its answer section"),
        );
    }
}

fn judge_edns(zone: &Name, p: &Probed, f: &mut Findings<'_>) {
    let (Some(outcome), Some(via)) = (&p.edns, p.via) else {
        return;
    };
    // EDNS is judged only where plain queries work: a lame server is the authoritative check's.
    let plain = &p.soa[if via == Transport::Udp { 0 } else { 1 }];
    if !matches!(plain, Ok(a) if a.message.metadata.response_code == ResponseCode::NoError) {
        return;
    }
    let at = At::target(&p.target).over(via);
    match outcome {
        Err(ProbeError::Skipped(_) | ProbeError::BudgetSpent) => {}
        Err(e @ ProbeError::Local(_)) => f.not_run(CheckId::Edns, e.to_string()),
        Err(e) => f.add(
            CheckId::Edns,
            true,
            at,
            format!("no usable reply to an EDNS0 SOA query for {zone} ({e}), though plain queries are answered"),
        ),
        Ok(a) => {
            let m = &a.message;
            let rc = m.metadata.response_code;
            let rcode = rcode_name(rc);
            if rc != ResponseCode::NoError {
                f.add(
                    CheckId::Edns,
                    true,
                    at,
                    format!("an EDNS0 SOA query for {zone} was answered {rcode}; plain queries get NOERROR"),
                );
            } else if let Some(edns) = &m.edns {
                if edns.version() != 0 {
                    f.add(
                        CheckId::Edns,
                        true,
                        at,
                        format!("the reply to an EDNS0 query carries an OPT record of version {}, not 0", edns.version()),
                    );
                }
            } else {
                f.add(
                    CheckId::Edns,
                    true,
                    at,
                    "the reply to an EDNS0 query carries no OPT record (RFC 6891 §7)",
                );
            }
        }
    }
    // The finer RFC 6891 rules only where EDNS0 itself works.
    if matches!(outcome, Ok(a) if a.message.metadata.response_code == ResponseCode::NoError
        && a.message.edns.as_ref().is_some_and(|e| e.version() == 0))
    {
        if let Some([v1, opt]) = &p.edns_odd {
            judge_edns_version(zone, v1, at, f);
            judge_edns_unknown(zone, opt, at, f);
        }
    }
}

/// The outcome of an RFC 6891 conformance query that got no reply: `not-run` when the desk
/// could not ask (its own failure, the budget), nothing when the transport is dead (the
/// reachability checks say so), else a minor finding.
fn odd_unanswered(e: &ProbeError, what: &str, at: At<'_>, f: &mut Findings<'_>) {
    match e {
        ProbeError::Skipped(_) => {}
        ProbeError::Local(_) | ProbeError::BudgetSpent => {
            f.not_run(CheckId::Edns, format!("{e} ({what})"))
        }
        e => f.add(
            CheckId::Edns,
            false,
            at,
            format!("no usable reply to {what} ({e}), though EDNS0 queries are answered"),
        ),
    }
}

/// An unknown EDNS version is answered BADVERS with an OPT record of the highest version
/// the server knows (RFC 6891 §6.1.3; Zonemaster NAMESERVER10).
fn judge_edns_version(zone: &Name, outcome: &Outcome, at: At<'_>, f: &mut Findings<'_>) {
    let what = format!("an SOA query for {zone} with EDNS version 1");
    let a = match outcome {
        Err(e) => return odd_unanswered(e, &what, at, f),
        Ok(a) => a,
    };
    let m = &a.message;
    let rc = m.metadata.response_code;
    let version = m.edns.as_ref().map(|e| e.version());
    if u16::from(rc) != 16 || version != Some(0) {
        let opt = match version {
            Some(v) => format!("an OPT record of version {v}"),
            None => "no OPT record".to_string(),
        };
        f.add(
            CheckId::Edns,
            false,
            at,
            format!(
                "{what} was answered {} with {opt}; RFC 6891 §6.1.3 asks for BADVERS with an OPT record of version 0",
                rcode_name(rc)
            ),
        );
    }
}

/// An unknown EDNS option and an unknown EDNS flag are ignored: NOERROR, neither echoed
/// (RFC 6891 §6.1.2 and §6.1.4; Zonemaster NAMESERVER11 and NAMESERVER12).
fn judge_edns_unknown(zone: &Name, outcome: &Outcome, at: At<'_>, f: &mut Findings<'_>) {
    let what = format!(
        "an EDNS0 SOA query for {zone} with an unknown option (code {}) and an unknown flag",
        super::probe::UNKNOWN_EDNS_OPTION
    );
    let a = match outcome {
        Err(e) => return odd_unanswered(e, &what, at, f),
        Ok(a) => a,
    };
    let m = &a.message;
    let rc = m.metadata.response_code;
    let mut problems = Vec::new();
    if rc != ResponseCode::NoError {
        problems.push(format!("was answered {}", rcode_name(rc)));
    }
    match &m.edns {
        None => problems.push("got a reply without an OPT record".to_string()),
        Some(e) => {
            if e.flags().z != 0 {
                problems.push(format!(
                    "got the unknown flag back (flags field {:#06x})",
                    u16::from(*e.flags())
                ));
            }
            let code =
                hickory_proto::rr::rdata::opt::EdnsCode::from(super::probe::UNKNOWN_EDNS_OPTION);
            if e.options().get(code).is_some() {
                problems.push("got the unknown option back".to_string());
            }
        }
    }
    if !problems.is_empty() {
        f.add(
            CheckId::Edns,
            false,
            at,
            format!(
                "{what} {}; RFC 6891 has unknown options and flags ignored",
                problems.join(" and ")
            ),
        );
    }
}

fn names_of(records: &[Record], owner: &Name) -> BTreeSet<Name> {
    records
        .iter()
        .filter(|r| r.name.to_lowercase() == *owner)
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.to_lowercase()),
            _ => None,
        })
        .collect()
}

fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// ns-set-match, glue-match, soa-consistent, soa-values.
fn judge_zone_data(zone: &Name, proposal: &Proposal, probed: &[Probed], f: &mut Findings<'_>) {
    let proposed: BTreeSet<Name> = proposal
        .nameservers
        .iter()
        .map(|n| n.name.to_lowercase())
        .collect();
    let mut soas: Vec<(&Target, SOA)> = Vec::new();
    for p in probed {
        let Some((_, soa)) = p.authoritative(zone) else {
            continue;
        };
        soas.push((&p.target, soa));
        let at = At::target(&p.target).over(p.via.unwrap_or(Transport::Udp));
        match &p.ns_set {
            Some(Ok(a)) if a.message.metadata.response_code == ResponseCode::NoError => {
                let served = names_of(&a.message.answers, zone);
                if served != proposed {
                    f.add(
                        CheckId::NsSetMatch,
                        true,
                        at,
                        format!(
                            "the zone's NS RRset ({}) differs from the proposed NS set ({}): missing from the zone: {}; not in the proposal: {}",
                            list(&served),
                            list(&proposed),
                            list(proposed.difference(&served)),
                            list(served.difference(&proposed))
                        ),
                    );
                }
            }
            Some(Ok(a)) => f.add(
                CheckId::NsSetMatch,
                true,
                at,
                format!(
                    "the NS query for {zone} was answered {}",
                    rcode_name(a.message.metadata.response_code)
                ),
            ),
            Some(Err(ProbeError::Skipped(_) | ProbeError::BudgetSpent)) | None => {}
            Some(Err(e @ ProbeError::Local(_))) => f.not_run(CheckId::NsSetMatch, e.to_string()),
            Some(Err(e)) => f.add(
                CheckId::NsSetMatch,
                true,
                at,
                format!("no answer to the NS query for {zone}: {e}"),
            ),
        }
        judge_glue(proposal, p, at, f);
    }

    // soa-consistent: serial (major), other fields (minor).
    let mut by_serial: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (t, soa) in &soas {
        by_serial
            .entry(soa.serial)
            .or_default()
            .push(format!("{} {}", t.ns, t.address));
    }
    if by_serial.len() > 1 {
        let groups: Vec<String> = by_serial
            .iter()
            .map(|(s, where_)| format!("serial {s} at {}", where_.join(", ")))
            .collect();
        f.add(
            CheckId::SoaConsistent,
            true,
            At::default(),
            format!(
                "the servers serve different SOA serials: {}",
                groups.join("; ")
            ),
        );
    }
    let fields = |s: &SOA| {
        (
            s.mname.to_lowercase(),
            s.rname.to_lowercase(),
            s.refresh,
            s.retry,
            s.expire,
            s.minimum,
        )
    };
    let mut by_fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (t, soa) in &soas {
        let (m, r, re, rt, ex, mi) = fields(soa);
        by_fields
            .entry(format!(
                "MNAME {m} RNAME {r} refresh {re} retry {rt} expire {ex} minimum {mi}"
            ))
            .or_default()
            .push(format!("{} {}", t.ns, t.address));
    }
    if by_fields.len() > 1 {
        let groups: Vec<String> = by_fields
            .iter()
            .map(|(k, w)| format!("{k} at {}", w.join(", ")))
            .collect();
        f.add(
            CheckId::SoaConsistent,
            false,
            At::default(),
            format!(
                "the servers serve different SOA fields: {}",
                groups.join("; ")
            ),
        );
    }

    // soa-values, once per distinct SOA.
    let mut seen = BTreeSet::new();
    for (_, soa) in &soas {
        let key = (soa.refresh, soa.retry, soa.expire, soa.minimum);
        if !seen.insert(key) {
            continue;
        }
        for problem in soa_value_problems(soa) {
            f.add(CheckId::SoaValues, true, At::default(), problem);
        }
    }
}

/// Sanity of the SOA timers: retry below refresh (RFC 1912 §2.2), expire well above refresh
/// and at least a week (Zonemaster ZONE05, a warning there too). Zonemaster's notices (refresh
/// below 4 hours, retry below 1 hour, negative TTL outside 5 min to 1 day) are not reported.
pub fn soa_value_problems(soa: &SOA) -> Vec<String> {
    let mut out = Vec::new();
    let (refresh, retry, expire) = (
        i64::from(soa.refresh),
        i64::from(soa.retry),
        i64::from(soa.expire),
    );
    if retry >= refresh {
        out.push(format!(
            "SOA retry {retry} is not lower than refresh {refresh}: a secondary would retry less often than it refreshes"
        ));
    }
    if expire <= refresh {
        out.push(format!(
            "SOA expire {expire} is not above refresh {refresh}: secondaries would expire the zone before refreshing it"
        ));
    }
    if expire < 604_800 {
        out.push(format!(
            "SOA expire {expire} is below 604800 seconds (1 week)"
        ));
    }
    // The negative-caching TTL (RFC 2308 §5 recommends 1 to 3 hours; Zonemaster ZONE06).
    if !(300..=86_400).contains(&soa.minimum) {
        out.push(format!(
            "SOA minimum (negative-caching TTL) {} is outside 300..86400 seconds (RFC 2308 §5 recommends 1 to 3 hours)",
            soa.minimum
        ));
    }
    out
}

fn judge_glue(proposal: &Proposal, p: &Probed, at: At<'_>, f: &mut Findings<'_>) {
    for (name, qtype, outcome) in &p.glue {
        let Some(ns) = proposal.nameservers.iter().find(|n| n.name == *name) else {
            continue;
        };
        let v4 = *qtype == RecordType::A;
        let glue: BTreeSet<IpAddr> = ns
            .addresses
            .iter()
            .map(|a| a.ip())
            .filter(|ip| ip.is_ipv4() == v4)
            .collect();
        match outcome {
            Ok(a) => {
                let m = &a.message;
                if m.metadata.response_code != ResponseCode::NoError
                    && m.metadata.response_code != ResponseCode::NXDomain
                {
                    f.add(
                        CheckId::GlueMatch,
                        true,
                        at,
                        format!(
                            "the {qtype} query for {name} was answered {}",
                            rcode_name(m.metadata.response_code)
                        ),
                    );
                    continue;
                }
                if !m.metadata.authoritative
                    && !m
                        .authorities
                        .iter()
                        .any(|r| r.record_type() == RecordType::SOA)
                {
                    // A referral: the name lies in a zone below this one.
                    continue;
                }
                if let Some(c) = m.answers.iter().find_map(|r| match &r.data {
                    RData::CNAME(c) if r.name.to_lowercase() == *name => Some(c.0.clone()),
                    _ => None,
                }) {
                    f.add(
                        CheckId::NsNameSyntax,
                        true,
                        at,
                        format!("{name} is an alias (CNAME to {c}) in the zone; an NS name must not be a CNAME"),
                    );
                    continue;
                }
                let served: BTreeSet<IpAddr> = m
                    .answers
                    .iter()
                    .filter(|r| r.name.to_lowercase() == *name)
                    .filter_map(|r| match &r.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                        _ => None,
                    })
                    .collect();
                // Glue the zone does not confirm sends resolvers astray (major, Zonemaster's
                // IN_BAILIWICK_ADDR_MISMATCH); an address only the zone has is minor
                // (EXTRA_ADDRESS_CHILD): resolvers still reach the server through the glue.
                let unconfirmed: Vec<&IpAddr> = glue.difference(&served).collect();
                let extra: Vec<&IpAddr> = served.difference(&glue).collect();
                if !unconfirmed.is_empty() {
                    f.add(
                        CheckId::GlueMatch,
                        true,
                        at,
                        format!(
                            "the proposed glue for {name} has {qtype} {}, which the zone does not serve; the zone serves {qtype} {}",
                            list(&unconfirmed),
                            list(&served)
                        ),
                    );
                } else if !extra.is_empty() {
                    f.add(
                        CheckId::GlueMatch,
                        false,
                        at,
                        format!(
                            "the zone serves {qtype} {} for {name}, which the proposed glue lacks (glue: {})",
                            list(&extra),
                            list(&glue)
                        ),
                    );
                }
            }
            Err(ProbeError::Skipped(_) | ProbeError::BudgetSpent) => {}
            Err(e @ ProbeError::Local(_)) => f.not_run(CheckId::GlueMatch, e.to_string()),
            Err(e) => f.add(
                CheckId::GlueMatch,
                true,
                at,
                format!("no answer to the {qtype} query for {name}: {e}"),
            ),
        }
    }
}

/// The NSEC3 parameter problems of one NSEC3PARAM record (RFC 9276 §3.1: SHA-1, no extra
/// iterations, no salt; RFC 5155 §4.1.2: flags 0 at the apex). Each is (major, message).
pub fn nsec3_param_problems(p: &hickory_proto::dnssec::rdata::NSEC3PARAM) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let alg = u8::from(p.hash_algorithm());
    if alg != 1 {
        out.push((
            true,
            format!(
                "NSEC3 hash algorithm {alg} is not SHA-1 (1), the only one assigned (RFC 5155)"
            ),
        ));
    }
    if p.iterations() > 0 {
        out.push((
            false,
            format!(
                "NSEC3 uses {} additional iterations; RFC 9276 says 0 (validators may treat more as insecure or bogus)",
                p.iterations()
            ),
        ));
    }
    if !p.salt().is_empty() {
        out.push((
            false,
            format!(
                "NSEC3 uses a salt of {} octets; RFC 9276 says none (\"-\")",
                p.salt().len()
            ),
        ));
    }
    if p.flags() != 0 {
        out.push((
            false,
            format!(
                "the NSEC3PARAM flags are {}, not 0 (RFC 5155 §4.1.2)",
                p.flags()
            ),
        ));
    }
    out
}

/// nsec3-params: a signed zone's NSEC3PARAM as RFC 9276 recommends. A zone with NSEC (no
/// NSEC3PARAM) has nothing to judge.
fn judge_nsec3(zone: &Name, proposal: &Proposal, probed: &[Probed], f: &mut Findings<'_>) {
    use hickory_proto::dnssec::rdata::DNSSECRData;
    if proposal.ds.is_empty() {
        return;
    }
    for p in probed {
        if p.authoritative(zone).is_none() {
            continue;
        }
        let at = At::target(&p.target).over(p.via.unwrap_or(Transport::Udp));
        match &p.nsec3param {
            Some(Ok(a)) if a.message.metadata.response_code == ResponseCode::NoError => {
                for r in a.message.answers.iter().filter(|r| r.name == *zone) {
                    if let RData::DNSSEC(DNSSECRData::NSEC3PARAM(param)) = &r.data {
                        for (major, problem) in nsec3_param_problems(param) {
                            f.add(CheckId::Nsec3Params, major, at, problem);
                        }
                    }
                }
            }
            Some(Ok(_)) | Some(Err(ProbeError::Skipped(_) | ProbeError::BudgetSpent)) | None => {}
            Some(Err(e @ ProbeError::Local(_))) => f.not_run(CheckId::Nsec3Params, e.to_string()),
            Some(Err(e)) => f.not_run(
                CheckId::Nsec3Params,
                format!(
                    "no answer to the NSEC3PARAM query for {zone} at {}: {e}",
                    super::probe::address_text::format(&p.target.address)
                ),
            ),
        }
    }
}

fn now32() -> u32 {
    // Serial arithmetic works modulo 2^32 (RFC 4034 §3.1.5).
    (time::OffsetDateTime::now_utc().unix_timestamp() & 0xffff_ffff) as u32
}

/// ds-match, dnssec-valid, dnskey-algorithm (served keys).
/// Signature validations of one check, remembered: servers that serve the same signed
/// RRset get the same result without verifying it again (in a sweep of the root zone, ECDSA
/// verification of identical RRsets was a tenth of the checker's CPU). The result does not
/// depend on record TTLs (the RRSIG's original TTL is used), which `Record`'s `==` ignores.
#[derive(Default)]
struct Validations(Vec<Validation>);

/// What was validated (the covered type, the records, the keys) and the result.
type Validation = (
    RecordType,
    Vec<Record>,
    Vec<DNSKEY>,
    Result<(), dnssec::Invalidity>,
);

impl Validations {
    fn validate(
        &mut self,
        zone: &Name,
        covered: RecordType,
        records: &[Record],
        keys: &[&ServedKey],
        now: u32,
    ) -> Result<(), dnssec::Invalidity> {
        let same_keys =
            |ks: &[DNSKEY]| ks.len() == keys.len() && ks.iter().zip(keys).all(|(a, b)| *a == b.key);
        if let Some((.., r)) = self
            .0
            .iter()
            .find(|(c, rs, ks, _)| *c == covered && rs.as_slice() == records && same_keys(ks))
        {
            return r.clone();
        }
        let r = dnssec::validate_rrset(zone, covered, records, keys, now);
        self.0.push((
            covered,
            records.to_vec(),
            keys.iter().map(|k| k.key.clone()).collect(),
            r.clone(),
        ));
        r
    }
}

fn judge_dnssec(zone: &Name, proposal: &Proposal, probed: &[Probed], f: &mut Findings<'_>) {
    let now = now32();
    let mut validations = Validations::default();
    let mut algorithms: BTreeMap<u8, BTreeSet<u16>> = BTreeMap::new();
    let ds_algs: BTreeSet<u8> = proposal.ds.iter().map(|d| d.algorithm).collect();
    for p in probed {
        if p.authoritative(zone).is_none() {
            continue;
        }
        let at = At::target(&p.target).over(p.via.unwrap_or(Transport::Udp));
        let records: &[Record] = match &p.dnskey {
            Some(Ok(a)) if a.message.metadata.response_code == ResponseCode::NoError => {
                &a.message.answers
            }
            Some(Ok(a)) => {
                if !proposal.ds.is_empty() {
                    f.add(
                        CheckId::DsMatch,
                        true,
                        at,
                        format!(
                            "the DNSKEY query for {zone} was answered {}",
                            rcode_name(a.message.metadata.response_code)
                        ),
                    );
                }
                continue;
            }
            Some(Err(ProbeError::Skipped(_) | ProbeError::BudgetSpent)) | None => continue,
            Some(Err(e @ ProbeError::Local(_))) => {
                f.not_run(CheckId::DsMatch, e.to_string());
                f.not_run(CheckId::DnssecValid, e.to_string());
                f.not_run(CheckId::DnskeyAlgorithm, e.to_string());
                continue;
            }
            Some(Err(e)) => {
                if !proposal.ds.is_empty() {
                    f.add(
                        CheckId::DsMatch,
                        true,
                        at,
                        format!("no answer to the DNSKEY query for {zone}: {e}"),
                    );
                }
                continue;
            }
        };
        let keys = dnssec::served_keys(zone, records);
        for k in &keys {
            algorithms.entry(k.algorithm).or_default().insert(k.tag);
        }
        if proposal.ds.is_empty() {
            continue;
        }
        if keys.is_empty() {
            f.add(
                CheckId::DsMatch,
                true,
                at,
                format!(
                    "the proposal has DS records but the server serves no DNSKEY RRset for {zone}"
                ),
            );
            f.add(
                CheckId::DnssecValid,
                true,
                at,
                format!("{zone} is not signed at this server, but the DS set says it is"),
            );
            continue;
        }
        let tags = list(
            keys.iter()
                .map(|k| format!("{} (algorithm {})", k.tag, k.algorithm)),
        );
        let mut trusted: Vec<&ServedKey> = Vec::new();
        for ds in &proposal.ds {
            match dnssec::match_ds(zone, ds, &keys) {
                DsMatch::Matches(i) => trusted.push(&keys[i]),
                DsMatch::Uncomputable(i) => trusted.push(&keys[i]),
                DsMatch::NotZoneKey(i) => f.add(
                    CheckId::DsMatch,
                    true,
                    at,
                    format!("DS {} {} {} points to DNSKEY {} whose zone-key flag is not set (flags {})", ds.key_tag, ds.algorithm, ds.digest_type, keys[i].tag, keys[i].key.flags()),
                ),
                DsMatch::DigestDiffers { computed } => f.add(
                    CheckId::DsMatch,
                    true,
                    at,
                    format!(
                        "DS {} {} {}: the served DNSKEY with key tag {} has digest {computed}, the DS says {}",
                        ds.key_tag,
                        ds.algorithm,
                        ds.digest_type,
                        ds.key_tag,
                        ds.digest_hex()
                    ),
                ),
                DsMatch::NoKey => f.add(
                    CheckId::DsMatch,
                    true,
                    at,
                    format!(
                        "DS {} {} {} matches no DNSKEY served for {zone}; the served keys are {tags}",
                        ds.key_tag, ds.algorithm, ds.digest_type
                    ),
                ),
            }
        }
        if trusted.is_empty() {
            f.add(
                CheckId::DnssecValid,
                true,
                at,
                format!("no DS points to a served DNSKEY, so the chain of trust into {zone} is broken (served keys: {tags})"),
            );
        } else if let Err(e) =
            validations.validate(zone, RecordType::DNSKEY, records, &trusted, now)
        {
            let (major, e) = invalidity(e);
            f.add(
                CheckId::DnssecValid,
                major,
                at,
                format!("the DNSKEY RRset is not validly signed by a key a DS points to: {e}"),
            );
        }
        // The SOA must be signed by one of the zone's keys.
        match &p.edns {
            Some(Ok(a)) if a.message.metadata.response_code == ResponseCode::NoError => {
                let zone_keys: Vec<&ServedKey> = keys.iter().filter(|k| k.key.zone_key()).collect();
                if let Err(e) =
                    validations.validate(zone, RecordType::SOA, &a.message.answers, &zone_keys, now)
                {
                    let (major, e) = invalidity(e);
                    f.add(
                        CheckId::DnssecValid,
                        major,
                        at,
                        format!("the SOA is not validly signed: {e}"),
                    );
                }
            }
            _ => f.add(
                CheckId::DnssecValid,
                true,
                at,
                format!(
                    "the signed SOA of {zone} could not be fetched (EDNS query with DO=1 failed)"
                ),
            ),
        }
    }
    for (alg, tags) in algorithms {
        let (j, name) = algorithm_judgement(alg);
        if j != Judgement::Ok && !ds_algs.contains(&alg) {
            f.add(
                CheckId::DnskeyAlgorithm,
                j == Judgement::Major,
                At::default(),
                format!(
                    "DNSKEY {} of {zone} use algorithm {alg}: {name}",
                    list(tags)
                ),
            );
        } else if j != Judgement::Ok {
            // Already reported for the DS set; name the served keys too.
            if let Some(last) = f.list.iter_mut().rev().find(|x| {
                x.check == CheckId::DnskeyAlgorithm
                    && x.message.contains(&format!("algorithm {alg}:"))
            }) {
                last.message
                    .push_str(&format!(" (served DNSKEY {})", list(tags)));
            }
        }
    }
}

/// An unverifiable signature (an algorithm the checker lacks) is a minor finding.
fn invalidity(e: dnssec::Invalidity) -> (bool, String) {
    match e {
        dnssec::Invalidity::Invalid(m) => (true, m),
        dnssec::Invalidity::Unverifiable(m) => (false, m),
    }
}

/// network-diversity: origin ASes (major) and /24, /48 prefixes (minor).
async fn network_diversity(targets: &[Target], profile: &Profile, f: &mut Findings<'_>) {
    if !f.on(CheckId::NetworkDiversity) {
        return;
    }
    let ips: BTreeSet<IpAddr> = targets.iter().map(|t| t.address.ip()).collect();
    if ips.is_empty() {
        return;
    }
    for (v4, len) in [(true, 24u8), (false, 48u8)] {
        let family: Vec<IpAddr> = ips
            .iter()
            .copied()
            .filter(|ip| ip.is_ipv4() == v4)
            .collect();
        let prefixes: BTreeSet<IpAddr> = family.iter().map(|ip| network(*ip, len)).collect();
        if prefixes.len() == 1 {
            if let Some(p) = prefixes.first() {
                f.add(
                    CheckId::NetworkDiversity,
                    false,
                    At::default(),
                    format!(
                        "all {} IPv{} addresses ({}) are in one /{len} prefix, {p}/{len}",
                        family.len(),
                        if v4 { 4 } else { 6 },
                        list(&family)
                    ),
                );
            }
        }
    }
    let lookup = match AsLookup::new(&profile.asn, &profile.resolver, &profile.query) {
        Ok(AsLookup::None) => return,
        Ok(l) => l,
        Err(e) => {
            f.add(
                CheckId::NetworkDiversity,
                false,
                At::default(),
                format!("origin ASes could not be looked up: {e}"),
            );
            return;
        }
    };
    let results = join_all(ips.iter().map(|ip| lookup.origin(*ip))).await;
    let mut asns: BTreeMap<u32, Vec<IpAddr>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (ip, r) in ips.iter().zip(results) {
        match r {
            Ok(list) => {
                for a in list {
                    asns.entry(a).or_default().push(*ip);
                }
            }
            Err(e) => unknown.push(format!("{ip} ({e})")),
        }
    }
    if asns.len() >= 2 {
        return;
    }
    if unknown.is_empty() {
        let only = asns.keys().next().copied().unwrap_or(0);
        f.add(
            CheckId::NetworkDiversity,
            true,
            At::default(),
            format!("all name server addresses are in one origin AS, AS{only}; at least 2 distinct ASes are required"),
        );
    } else {
        f.add(
            CheckId::NetworkDiversity,
            false,
            At::default(),
            format!(
                "AS diversity could not be established: known origin ASes {}; no origin AS for {}",
                list(asns.keys().map(|a| format!("AS{a}"))),
                unknown.join(", ")
            ),
        );
    }
}
