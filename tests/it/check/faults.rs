//! Each check against a server or proposal that breaks its rule.

use hickory_proto::rr::rdata::{CNAME, NS, TXT};
use hickory_proto::rr::{RData, Record, RecordType};
use rootdesk::check::{
    run_check, AsSource, CheckId, Proposal, Report, ResolverSettings, Severity, Transport, Verdict,
};

use super::server::{ip, origin, Faults, Scripted};
use super::zone::{name, Zone};
use super::{assert_findings, assert_has, lab, profile, test_zone, two_servers};

use CheckId::*;
use Severity::{Error, Warning};

/// The check of `test.` on two servers serving the same healthy zone, both with `f`.
async fn check_both_with(f: Faults) -> Report {
    let (_servers, proposal) = two_servers(test_zone(1), test_zone(1), f).await;
    run_check(&origin("test."), &proposal, &profile()).await
}

#[tokio::test]
async fn one_name_server_is_too_few() {
    let (_s, proposal) = lab(vec![(
        "ns1.test",
        "127.0.0.1",
        test_zone(1),
        Faults::default(),
    )])
    .await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    // The zone also lists ns2.test, which the proposal lacks.
    assert_findings(&report, &[(NsCount, Error), (NsSetMatch, Error)]);
    assert!(assert_has(&report, NsCount, Error)[0].contains("at least 2"));
}

#[tokio::test]
async fn fourteen_name_servers_are_too_many() {
    let hosts: Vec<String> = (1..=14).map(|i| format!("ns{i}.test.")).collect();
    let ips = [ip("127.0.0.1")];
    let ns: Vec<(&str, &[std::net::IpAddr])> =
        hosts.iter().map(|h| (h.as_str(), &ips[..])).collect();
    let zone = Zone::new("test.", 1, &ns);
    let s = Scripted::start(ip("127.0.0.1"), zone, Faults::default()).await;
    let mut proposal = Proposal::default();
    for h in &hosts {
        proposal.add_arg(&format!("{h}/{}", s.addr)).expect("ns");
    }
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    let msgs = assert_has(&report, NsCount, Error);
    assert!(msgs.iter().any(|m| m.contains("at most 13")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("one address")), "{msgs:?}");
}

#[tokio::test]
async fn two_names_on_one_address_are_not_redundant() {
    let s = Scripted::start(ip("127.0.0.1"), test_zone(1), Faults::default()).await;
    let mut proposal = Proposal::default();
    proposal
        .add_arg(&format!("ns1.test/{}", s.addr))
        .expect("ns1");
    proposal
        .add_arg(&format!("ns2.test/{}", s.addr))
        .expect("ns2");
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    // ns2.test's glue (this address) differs from the zone's A (127.0.0.2): glue-match too.
    assert_findings(&report, &[(NsCount, Error), (GlueMatch, Error)]);
}

#[tokio::test]
async fn bad_host_name_and_cname_are_reported() {
    let ns1 = ip("127.0.0.1");
    let mut zone = Zone::new(
        "test.",
        1,
        &[("ns_1.test.", &[ns1]), ("ns2.test.", &[ip("127.0.0.2")])],
    );
    let (_s, proposal) = lab(vec![
        ("ns_1.test", "127.0.0.1", zone.clone(), Faults::default()),
        ("ns2.test", "127.0.0.2", zone.clone(), Faults::default()),
    ])
    .await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[(NsNameSyntax, Error)]);
    assert!(
        report.findings[0].message.contains("ns_1"),
        "{}",
        report.to_text()
    );

    // ns2.test as a CNAME in the zone.
    zone.remove(&name("ns2.test."), RecordType::A);
    zone.records.push(Record::from_rdata(
        name("ns2.test."),
        60,
        RData::CNAME(CNAME(name("ns_1.test."))),
    ));
    let (_s2, proposal) = lab(vec![
        ("ns_1.test", "127.0.0.1", zone.clone(), Faults::default()),
        ("ns2.test", "127.0.0.2", zone, Faults::default()),
    ])
    .await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    let msgs = assert_has(&report, NsNameSyntax, Error);
    assert!(msgs.iter().any(|m| m.contains("CNAME")), "{msgs:?}");
}

#[tokio::test]
async fn in_bailiwick_name_server_without_glue() {
    let (_s, mut proposal) = two_servers(test_zone(1), test_zone(1), Faults::default()).await;
    proposal.nameservers[1].addresses.clear();
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[(GlueRequired, Error)]);
    assert!(report.findings[0].message.contains("needs glue"));
    assert_eq!(report.findings[0].nameserver.as_deref(), Some("ns2.test."));
}

/// A resolver for `example.` (a lab's recursive server stand-in) that knows ns.example.
async fn example_resolver() -> Scripted {
    // ns.example resolves to 127.0.0.4 (where a server for test. will run).
    let ex = Zone::new("example.", 1, &[("ns.example.", &[ip("127.0.0.4")])]);
    Scripted::start(ip("127.0.0.3"), ex, Faults::default()).await
}

#[tokio::test]
async fn out_of_bailiwick_names_are_resolved() {
    let resolver = example_resolver().await;
    let mut zone = test_zone(1);
    zone.remove(&origin("test."), RecordType::NS);
    for ns in ["ns1.test.", "ns.example.", "missing.example."] {
        zone.records.push(Record::from_rdata(
            origin("test."),
            60,
            RData::NS(NS(name(ns))),
        ));
    }
    let s1 = Scripted::start(ip("127.0.0.1"), zone.clone(), Faults::default()).await;
    // The resolved address has port 53: serve there if we may (root), else accept the timeout.
    let s4 = Scripted::start_on(ip("127.0.0.4"), 53, zone, Faults::default()).await;
    let mut proposal = Proposal::default();
    proposal
        .add_arg(&format!("ns1.test/{}", s1.addr))
        .expect("ns1");
    proposal.add_arg("ns.example").expect("ns.example");
    proposal.add_arg("missing.example").expect("missing");
    let mut p = profile();
    p.resolver = ResolverSettings::Servers {
        servers: vec![resolver.addr],
    };
    let report = run_check(&origin("test."), &proposal, &p).await;
    let msgs = assert_has(&report, GlueRequired, Error);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].contains("missing.example.") && msgs[0].contains("resolves to no"),
        "{msgs:?}"
    );
    // ns.example. was resolved to 127.0.0.4:53 and probed there.
    assert!(report
        .queries
        .iter()
        .any(|q| q.server == "ns.example." && q.address.to_string() == "127.0.0.4:53"));
    if s4.is_some() {
        assert!(
            report.findings.iter().all(|f| f.check == GlueRequired),
            "{}",
            report.to_text()
        );
    }
}

#[tokio::test]
async fn silent_server_costs_one_timeout() {
    let (_s, proposal) = two_servers(
        test_zone(1),
        test_zone(1),
        Faults {
            silent: true,
            ..Faults::default()
        },
    )
    .await;
    let p = profile();
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_findings(&report, &[(ReachableUdp, Error), (ReachableTcp, Error)]);
    for f in &report.findings {
        assert_eq!(f.nameserver.as_deref(), Some("ns2.test."));
        assert_eq!(f.address, Some(proposal.nameservers[1].addresses[0]));
    }
    // How long a dead server costs is measured in `cargo bench --bench check` (BENCHMARKS.md);
    // the test asserts what it may cost: one timeout per transport, nothing more.
    // Only the first SOA probes went to the dead address.
    let to_dead = report
        .queries
        .iter()
        .filter(|q| q.address == proposal.nameservers[1].addresses[0])
        .count();
    assert_eq!(to_dead, 2, "{:#?}", report.queries);
}

#[tokio::test]
async fn no_tcp_is_reported() {
    let f = Faults {
        no_tcp: true,
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    assert_findings(&report, &[(ReachableTcp, Error)]);
    assert_eq!(report.findings[0].transport, Some(Transport::Tcp));
    assert!(
        report.findings[0].message.contains("refused"),
        "{}",
        report.findings[0].message
    );
}

#[tokio::test]
async fn truncation_without_tcp_is_reported() {
    let f = Faults {
        no_tcp: true,
        truncate_udp: true,
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    let msgs = assert_has(&report, ReachableTcp, Error);
    assert!(msgs.iter().any(|m| m.contains("truncated")), "{msgs:?}");
    assert_eq!(report.verdict, Verdict::Fail);
}

#[tokio::test]
async fn truncation_with_tcp_is_fine() {
    let f = Faults {
        truncate_udp: true,
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    assert_findings(&report, &[]);
    assert!(report
        .queries
        .iter()
        .any(|q| q.transport == Transport::Tcp && q.qtype == "NS"));
}

#[tokio::test]
async fn missing_aa_bit_is_not_authoritative() {
    let f = Faults {
        no_aa: true,
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    assert_findings(&report, &[(Authoritative, Error)]);
    assert!(report.findings.iter().all(|x| x.message.contains("AA bit")));
    assert_eq!(
        report.findings.len(),
        2,
        "UDP and TCP: {}",
        report.to_text()
    );
}

#[tokio::test]
async fn refused_is_not_authoritative() {
    let f = Faults {
        refused: true,
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    assert_findings(&report, &[(Authoritative, Error)]);
    assert!(assert_has(&report, Authoritative, Error)[0].contains("REFUSED"));
}

#[tokio::test]
async fn reply_from_another_address_is_reported() {
    let f = Faults {
        reply_from: Some(ip("127.0.0.9")),
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    let msgs = assert_has(&report, Authoritative, Error);
    assert!(msgs[0].contains("127.0.0.9"), "{msgs:?}");
    let f = report.findings_of(Authoritative).next().expect("finding");
    assert_eq!(f.transport, Some(Transport::Udp));
    assert!(report.queries.iter().any(|q| q.from.is_some()));
    assert!(
        report.findings.iter().all(|f| f.check == Authoritative),
        "{}",
        report.to_text()
    );
}

#[tokio::test]
async fn ns_set_differing_from_the_proposal() {
    let mut z2 = test_zone(1);
    z2.records.push(Record::from_rdata(
        origin("test."),
        60,
        RData::NS(NS(name("ns3.test."))),
    ));
    let (_s, proposal) = two_servers(test_zone(1), z2, Faults::default()).await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[(NsSetMatch, Error)]);
    let f = &report.findings[0];
    assert_eq!(f.nameserver.as_deref(), Some("ns2.test."));
    assert!(
        f.message.contains("not in the proposal: ns3.test."),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn glue_differing_from_served_address() {
    let mut z = test_zone(1);
    z.remove(&name("ns2.test."), RecordType::A);
    z.add_address(&name("ns2.test."), ip("127.0.0.22"));
    let (_s, proposal) = two_servers(z.clone(), z, Faults::default()).await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[(GlueMatch, Error)]);
    assert_eq!(
        report.findings.len(),
        2,
        "one per server: {}",
        report.to_text()
    );
    assert!(
        report.findings[0].message.contains("127.0.0.22")
            && report.findings[0].message.contains("127.0.0.2")
    );
}

#[tokio::test]
async fn different_soa_serial_on_one_server() {
    let (_s, proposal) = two_servers(test_zone(1), test_zone(2), Faults::default()).await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[(SoaConsistent, Error)]);
    let m = &report.findings[0].message;
    assert!(
        m.contains("serial 1 at ns1.test.") && m.contains("serial 2 at ns2.test."),
        "{m}"
    );
}

#[tokio::test]
async fn different_soa_timers_are_a_warning() {
    let mut z2 = test_zone(1);
    z2.set_soa(1, (28_800, 7_200, 1_209_600, 3_600));
    let (_s, proposal) = two_servers(test_zone(1), z2, Faults::default()).await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[(SoaConsistent, Warning)]);
    assert_eq!(report.verdict, Verdict::Warn);
}

#[tokio::test]
async fn insane_soa_values_are_a_warning() {
    let mut z = test_zone(1);
    z.set_soa(1, (3_600, 7_200, 3_600, 604_800));
    let (_s, proposal) = two_servers(z.clone(), z, Faults::default()).await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[(SoaValues, Warning)]);
    let msgs = assert_has(&report, SoaValues, Warning);
    assert!(
        msgs.iter()
            .any(|m| m.contains("retry 7200 is not lower than refresh 3600")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("SOA minimum (negative-caching TTL) 604800 is outside")),
        "{msgs:?}"
    );
    assert_eq!(report.verdict, Verdict::Warn);
}

#[tokio::test]
async fn open_resolver_is_reported() {
    let f = Faults {
        open_resolver: true,
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    assert_findings(&report, &[(NoRecursion, Error)]);
    assert!(report.findings[0].message.contains("recursion"));
}

#[tokio::test]
async fn formerr_on_edns_is_a_warning() {
    let f = Faults {
        formerr_on_edns: true,
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    assert_findings(&report, &[(Edns, Warning)]);
    assert!(report.findings[0].message.contains("FORMERR"));
    assert_eq!(report.verdict, Verdict::Warn);
}

#[tokio::test]
async fn dropped_edns_queries_are_a_warning() {
    let f = Faults {
        drop_edns: true,
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    assert_findings(&report, &[(Edns, Warning)]);
}

#[tokio::test]
async fn unknown_edns_version_not_answered_badvers_is_a_warning() {
    let f = Faults {
        edns_any_version: true,
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    assert_findings(&report, &[(Edns, Warning)]);
    assert_eq!(report.findings.len(), 1, "{}", report.to_text());
    let msg = &report.findings[0].message;
    assert!(
        msg.contains("EDNS version 1") && msg.contains("answered NOERROR"),
        "{msg}"
    );
    assert_eq!(report.verdict, Verdict::Warn);
}

#[tokio::test]
async fn echoed_unknown_edns_option_and_flag_are_a_warning() {
    let f = Faults {
        echo_edns: true,
        ..Faults::default()
    };
    let report = check_both_with(f).await;
    assert_findings(&report, &[(Edns, Warning)]);
    assert_eq!(report.findings.len(), 1, "{}", report.to_text());
    let msg = &report.findings[0].message;
    assert!(
        msg.contains("unknown flag back") && msg.contains("unknown option back"),
        "{msg}"
    );
}

#[tokio::test]
async fn oversized_referral_fails() {
    // 13 name servers with 60-octet labels inside the zone: the referral cannot fit 512.
    let hosts: Vec<String> = (0..13)
        .map(|i| format!("{}{i:02}.test.", "n".repeat(58)))
        .collect();
    let mut proposal = Proposal::default();
    for (i, h) in hosts.iter().enumerate() {
        proposal
            .add_arg(&format!("{h}/127.0.0.{}", i + 1))
            .expect("ns");
    }
    let mut p = profile();
    for c in CheckId::ALL {
        if c != ReferralSize {
            p.checks.set(c, Severity::Off);
        }
    }
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_findings(&report, &[(ReferralSize, Error)]);
    assert!(report.findings[0].message.contains("512"));
    assert!(
        report.queries.is_empty(),
        "no query is needed for the referral size"
    );
    // Two short names fit.
    let mut small = Proposal::default();
    small.add_arg("a.test/127.0.0.1").expect("ns");
    small.add_arg("b.test/::1").expect("ns");
    assert_findings(&run_check(&origin("test."), &small, &p).await, &[]);
}

#[tokio::test]
async fn network_diversity_from_a_table() {
    let (_s, proposal) = two_servers(test_zone(1), test_zone(1), Faults::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let table = dir.path().join("asn.tsv");
    let mut p = profile();
    p.checks.network_diversity = Error;
    // One AS for both: an error; both in 127.0.0.0/24: a warning.
    std::fs::write(&table, "# test\n127.0.0.0/8\t64500\tLOOP\n").expect("write");
    p.asn = AsSource::Table {
        path: table.clone(),
    };
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_findings(
        &report,
        &[(NetworkDiversity, Error), (NetworkDiversity, Warning)],
    );
    assert!(assert_has(&report, NetworkDiversity, Error)[0].contains("AS64500"));
    assert!(assert_has(&report, NetworkDiversity, Warning)[0].contains("127.0.0.0/24"));
    // Two ASes (longest prefix wins): only the prefix warning remains.
    std::fs::write(&table, "127.0.0.0/8\t64500\n127.0.0.2\t64501\tOTHER\n").expect("write");
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_findings(&report, &[(NetworkDiversity, Warning)]);
}

#[tokio::test]
async fn network_diversity_from_dns_origin_zone() {
    let (_s, proposal) = two_servers(test_zone(1), test_zone(1), Faults::default()).await;
    // A Cymru-style origin zone, served by a scripted server that answers RD=1 queries.
    let mut origin_zone = Zone::new(
        "origin.asn.test.",
        1,
        &[("ns.origin.asn.test.", &[ip("127.0.0.5")])],
    );
    for (rev, asn) in [("1.0.0.127", "64510"), ("2.0.0.127", "64511")] {
        origin_zone.records.push(Record::from_rdata(
            name(&format!("{rev}.origin.asn.test.")),
            60,
            RData::TXT(TXT::new(vec![format!(
                "{asn} | 127.0.0.0/8 | ZZ | test | 2000-01-01"
            )])),
        ));
    }
    let asn_server = Scripted::start(ip("127.0.0.5"), origin_zone, Faults::default()).await;
    let mut p = profile();
    p.checks.network_diversity = Error;
    p.asn = AsSource::Dns {
        zone: "origin.asn.test.".into(),
        zone6: "origin6.asn.test.".into(),
        servers: vec![asn_server.addr],
    };
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_findings(&report, &[(NetworkDiversity, Warning)]);
}

#[tokio::test]
async fn closed_port_fails_at_once() {
    let (_s, mut proposal) = two_servers(test_zone(1), test_zone(1), Faults::default()).await;
    // A port where nothing listens: ICMP port unreachable (UDP), connection refused (TCP).
    let closed = std::net::UdpSocket::bind("127.0.0.2:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    proposal.nameservers[1].addresses = vec![closed];
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[(ReachableUdp, Error), (ReachableTcp, Error)]);
    // Refused at once, not waited out: the report says so rather than "no reply".
    assert!(assert_has(&report, ReachableUdp, Error)[0].contains("port unreachable"));
}

#[tokio::test]
async fn out_of_bailiwick_names_resolved_iteratively_from_root_hints() {
    // A lab root on 127.0.0.71:53 delegating example. to 127.0.0.72:53, where ns.example. has
    // the address 127.0.0.73; a server for test. answers there. Port 53 needs root.
    let mut root = Zone::new(".", 1, &[("a.root.", &[ip("127.0.0.71")])]);
    root.records.push(Record::from_rdata(
        name("example."),
        60,
        RData::NS(NS(name("ns1.example."))),
    ));
    root.add_address(&name("ns1.example."), ip("127.0.0.72"));
    let example = Zone::new(
        "example.",
        1,
        &[
            ("ns1.example.", &[ip("127.0.0.72")]),
            ("ns.example.", &[ip("127.0.0.73")]),
        ],
    );
    let mut zone = test_zone(1);
    zone.remove(&origin("test."), RecordType::NS);
    for ns in ["ns1.test.", "ns.example."] {
        zone.records.push(Record::from_rdata(
            origin("test."),
            60,
            RData::NS(NS(name(ns))),
        ));
    }
    let servers = (
        Scripted::start_on(ip("127.0.0.71"), 53, root, Faults::default()).await,
        Scripted::start_on(ip("127.0.0.72"), 53, example, Faults::default()).await,
        Scripted::start_on(ip("127.0.0.73"), 53, zone.clone(), Faults::default()).await,
    );
    let (Some(_r), Some(_e), Some(_t)) = servers else {
        crate::common::skip(
            "out_of_bailiwick_names_resolved_iteratively_from_root_hints needs port 53 on 127.0.0.71-73",
        );
        return;
    };
    let s1 = Scripted::start(ip("127.0.0.1"), zone, Faults::default()).await;
    let mut proposal = Proposal::default();
    proposal
        .add_arg(&format!("ns1.test/{}", s1.addr))
        .expect("ns1");
    proposal.add_arg("ns.example").expect("ns.example");
    let mut p = profile();
    p.resolver = ResolverSettings::RootHints {
        roots: vec![ip("127.0.0.71")],
    };
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_findings(&report, &[]);
    assert!(report
        .queries
        .iter()
        .any(|q| q.server == "ns.example." && q.address.to_string() == "127.0.0.73:53"));
}

#[tokio::test]
async fn zone_address_missing_from_the_glue_is_a_warning() {
    let mut z = test_zone(1);
    z.add_address(&name("ns2.test."), ip("::1"));
    let (_s, proposal) = two_servers(z.clone(), z, Faults::default()).await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[(GlueMatch, Warning)]);
    assert!(
        report.findings[0].message.contains("AAAA ::1"),
        "{}",
        report.findings[0].message
    );
    assert_eq!(report.verdict, Verdict::Warn);
}

#[tokio::test]
async fn retransmission_within_the_timeout_rescues_a_lost_datagram() {
    let f = Faults {
        drop_first_udp: true,
        ..Faults::default()
    };
    let (_s, proposal) = two_servers(test_zone(1), test_zone(1), f).await;
    let mut p = profile();
    p.query.retries = 1;
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_findings(&report, &[]);
    // The answer came after the retransmission, half the timeout in.
    let half = p.query.timeout_ms as f64 / 2.0;
    assert!(report
        .queries
        .iter()
        .any(|q| q.address == proposal.nameservers[1].addresses[0]
            && q.transport == Transport::Udp
            && q.rtt_ms.is_some_and(|r| r >= half)));
    // Without retries the first datagram's loss is a timeout.
    p.query.retries = 0;
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_has(&report, ReachableUdp, Error);
}

#[tokio::test]
async fn spent_time_budget_stops_the_queries() {
    let silent = Faults {
        silent: true,
        ..Faults::default()
    };
    let (_s, proposal) = two_servers(test_zone(1), test_zone(1), silent).await;
    let mut p = profile();
    p.query.budget_ms = 150;
    let report = run_check(&origin("test."), &proposal, &p).await;
    let msgs = assert_has(&report, ReachableUdp, Error);
    assert!(msgs.iter().all(|m| m.contains("time budget")), "{msgs:?}");
}
