//! Healthy delegations pass, with every query recorded.

use rootdesk::check::{run_check, CheckId, CheckStatus, Severity, Transport, Verdict};

use super::server::{ip, origin, Faults, Hickory};
use super::{assert_findings, profile, test_zone, two_servers};

#[tokio::test]
async fn healthy_scripted_delegation_passes() {
    let (_servers, proposal) = two_servers(test_zone(7), test_zone(7), Faults::default()).await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[]);
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(report.zone, "test.");
    for id in CheckId::ALL {
        let want = if matches!(id, CheckId::AddressRoutable | CheckId::NetworkDiversity) {
            CheckStatus::Off
        } else {
            CheckStatus::Pass
        };
        assert_eq!(report.checks[&id], want, "{id}");
    }
    // SOA over both transports to both addresses, each query logged with its outcome.
    for s in &proposal.nameservers {
        for t in [Transport::Udp, Transport::Tcp] {
            assert!(
                report.queries.iter().any(|q| q.address == s.addresses[0]
                    && q.transport == t
                    && q.qtype == "SOA"
                    && q.rcode.as_deref() == Some("NOERROR")),
                "no {t} SOA query to {}: {:#?}",
                s.addresses[0],
                report.queries
            );
        }
    }
    assert!(report
        .queries
        .iter()
        .all(|q| q.error.is_none() && q.rtt_ms.is_some()));
    let json = serde_json::to_value(&report).expect("json");
    for key in [
        "zone",
        "verdict",
        "findings",
        "queries",
        "started",
        "elapsed_ms",
    ] {
        assert!(json.get(key).is_some(), "{key} missing");
    }
    assert_eq!(json["verdict"], "pass");
    let back: rootdesk::check::Report =
        serde_json::from_value(json.clone()).expect("report reads back");
    assert_eq!(back, report);
    let q = &json["queries"][0];
    for key in [
        "server",
        "address",
        "transport",
        "qname",
        "qtype",
        "rcode",
        "flags",
        "rtt_ms",
    ] {
        assert!(q.get(key).is_some(), "query {key} missing: {q}");
    }
}

#[tokio::test]
async fn healthy_hickory_server_delegation_passes() {
    let zone = test_zone(2024010101);
    let a = Hickory::start(ip("127.0.0.1"), &zone, None).await;
    let b = Hickory::start(ip("127.0.0.2"), &zone, None).await;
    let mut proposal = rootdesk::check::Proposal::default();
    proposal
        .add_arg(&format!("ns1.test/{}", a.addr))
        .expect("ns1");
    proposal
        .add_arg(&format!("ns2.test/{}", b.addr))
        .expect("ns2");
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn default_profile_rejects_loopback_addresses() {
    let (_servers, proposal) = two_servers(test_zone(7), test_zone(7), Faults::default()).await;
    let mut p = profile();
    p.checks.address_routable = Severity::Error;
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_findings(&report, &[(CheckId::AddressRoutable, Severity::Error)]);
    let f: Vec<_> = report.findings_of(CheckId::AddressRoutable).collect();
    assert_eq!(f.len(), 2);
    assert!(f[0].message.contains("loopback"), "{}", f[0].message);
    assert!(f[0].nameserver.is_some() && f[0].address.is_some());
    assert_eq!(report.verdict, Verdict::Fail);
}

#[tokio::test]
async fn a_check_turned_off_reports_nothing() {
    let (_servers, proposal) = two_servers(test_zone(7), test_zone(8), Faults::default()).await;
    let mut p = profile();
    p.checks.soa_consistent = Severity::Off;
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_findings(&report, &[]);
    assert_eq!(report.checks[&CheckId::SoaConsistent], CheckStatus::Off);
    p.checks.soa_consistent = Severity::Warning;
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_findings(&report, &[(CheckId::SoaConsistent, Severity::Warning)]);
    assert_eq!(report.verdict, Verdict::Warn);
}
