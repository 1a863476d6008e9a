//! Tests of the DNS technical check (`rootdesk::check`) against in-process authoritative
//! servers, scripted misbehaving responders, and real NSD and BIND processes, all on loopback.

pub mod server;
pub mod zone;

mod answers;
mod cli;
mod dnssec;
mod faults;
mod fuzz;
mod healthy;
mod interop;
mod notrun;
mod sweep;
mod targets;

use std::collections::BTreeSet;

use rootdesk::check::{CheckId, Profile, Proposal, Report, Severity};

use server::{Faults, Scripted};
use zone::Zone;

/// The lab profile with short timeouts, so that the whole suite stays fast.
pub fn profile() -> Profile {
    let mut p = Profile::lab();
    p.query.timeout_ms = 400;
    p.query.retries = 1;
    p.query.budget_ms = 10_000;
    p
}

/// The (check, severity) pairs of a report's findings.
pub fn outcomes(report: &Report) -> BTreeSet<(CheckId, Severity)> {
    report
        .findings
        .iter()
        .map(|f| (f.check, f.severity))
        .collect()
}

/// Asserts that the findings are exactly of these checks and severities.
#[track_caller]
pub fn assert_findings(report: &Report, expected: &[(CheckId, Severity)]) {
    let want: BTreeSet<(CheckId, Severity)> = expected.iter().copied().collect();
    assert_eq!(
        outcomes(report),
        want,
        "unexpected findings:\n{}",
        report.to_text()
    );
}

/// Asserts that some finding has this check and severity, and returns its messages.
#[track_caller]
pub fn assert_has(report: &Report, check: CheckId, severity: Severity) -> Vec<String> {
    let msgs: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.check == check && f.severity == severity)
        .map(|f| f.message.clone())
        .collect();
    assert!(
        !msgs.is_empty(),
        "no {severity} for {check}:\n{}",
        report.to_text()
    );
    msgs
}

/// Starts one scripted server per (name server, loopback address, zone, faults) and builds
/// the matching proposal (the name server at the server's address and port).
pub async fn lab(servers: Vec<(&str, &str, Zone, Faults)>) -> (Vec<Scripted>, Proposal) {
    let mut running = Vec::new();
    let mut proposal = Proposal::default();
    for (ns, ip, zone, faults) in servers {
        let s = Scripted::start(server::ip(ip), zone, faults).await;
        proposal
            .add_arg(&format!("{ns}/{}", s.addr))
            .expect("proposal");
        running.push(s);
    }
    (running, proposal)
}

/// The usual two-server zone `test.`: ns1.test at 127.0.0.1, ns2.test at 127.0.0.2.
pub fn test_zone(serial: u32) -> Zone {
    Zone::new(
        "test.",
        serial,
        &[
            ("ns1.test.", &[server::ip("127.0.0.1")]),
            ("ns2.test.", &[server::ip("127.0.0.2")]),
        ],
    )
}

/// Two well-behaved scripted servers for `test.` unless `faults` says otherwise for the second.
pub async fn two_servers(z1: Zone, z2: Zone, f2: Faults) -> (Vec<Scripted>, Proposal) {
    lab(vec![
        ("ns1.test", "127.0.0.1", z1, Faults::default()),
        ("ns2.test", "127.0.0.2", z2, f2),
    ])
    .await
}
