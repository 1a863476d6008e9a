//! Checks that could not be evaluated are `not-run` with the reason, never `ok` (issue 10
//! item 6), and failures of the desk itself are reported as the desk's own (item 7).

use rootdesk::check::{run_check, CheckId, CheckStatus, Severity, Verdict};
use rootdesk::registry::DsRecord;

use super::server::{origin, Faults};
use super::{lab, profile, test_zone};

use CheckId::*;

fn ds() -> DsRecord {
    DsRecord::parse("12345 13 2 0000000000000000000000000000000000000000000000000000000000000000")
        .expect("ds")
}

fn silent() -> Faults {
    Faults {
        silent: true,
        ..Faults::default()
    }
}

/// Two name servers that drop every query: nothing answers.
async fn dead() -> (Vec<super::server::Scripted>, rootdesk::check::Proposal) {
    let (s, mut proposal) = lab(vec![
        ("ns1.test", "127.0.0.1", test_zone(1), silent()),
        ("ns2.test", "127.0.0.2", test_zone(1), silent()),
    ])
    .await;
    proposal.ds = vec![ds()];
    (s, proposal)
}

#[tokio::test]
async fn checks_needing_an_answer_are_not_run_on_a_dead_delegation() {
    let (_s, proposal) = dead().await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_eq!(report.verdict, Verdict::Fail, "{}", report.to_text());
    for id in [
        Authoritative,
        NsSetMatch,
        GlueMatch,
        SoaConsistent,
        SoaValues,
        NoRecursion,
        Edns,
        DsMatch,
        DnssecValid,
        DnskeyAlgorithm,
    ] {
        assert_eq!(
            report.checks.get(&id),
            Some(&CheckStatus::NotRun),
            "{id}:\n{}",
            report.to_text()
        );
        let why = report.not_run.get(&id).cloned().unwrap_or_default();
        assert!(why.contains("no name server answered"), "{id}: {why:?}");
    }
    assert_eq!(report.checks.get(&ReachableUdp), Some(&CheckStatus::Error));
    let text = report.to_text();
    assert!(text.contains("not-run authoritative"), "{text}");
    assert!(!text.contains("ok      authoritative"), "{text}");
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["checks"]["ds-match"], "not-run");
    assert!(json["not_run"]["ds-match"]
        .as_str()
        .is_some_and(|s| s.contains("no name server answered")));
}

#[tokio::test]
async fn relaxed_reachability_does_not_turn_a_dead_delegation_into_a_warning() {
    let (_s, proposal) = dead().await;
    let mut p = profile();
    p.checks.set(ReachableUdp, Severity::Warning);
    p.checks.set(ReachableTcp, Severity::Warning);
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_eq!(report.verdict, Verdict::NotRun, "{}", report.to_text());
    let mut p = profile();
    p.checks.set(ReachableUdp, Severity::Off);
    p.checks.set(ReachableTcp, Severity::Off);
    let report = run_check(&origin("test."), &proposal, &p).await;
    assert_eq!(report.verdict, Verdict::NotRun, "{}", report.to_text());
}

#[tokio::test]
async fn a_healthy_delegation_has_no_check_not_run() {
    let (_s, proposal) = lab(vec![
        ("ns1.test", "127.0.0.1", test_zone(1), Faults::default()),
        ("ns2.test", "127.0.0.2", test_zone(1), Faults::default()),
    ])
    .await;
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.to_text());
    assert!(report.not_run.is_empty(), "{:?}", report.not_run);
}

fn rootdesk_limited(nofile: u32, args: &[String]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    // `ulimit -n` lowers RLIMIT_NOFILE for the child only; `exec` keeps the limit.
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_rootdesk"))
        .arg("--db")
        .arg(dir.path().join("none.db"))
        .args(args)
        .env_remove("ROOTDESK_CONFIG")
        .output()
        .expect("run rootdesk")
}

fn check_args(proposal: &rootdesk::check::Proposal, profile: &str) -> Vec<String> {
    let mut args = vec!["check".to_string(), "test.".into()];
    for ns in &proposal.nameservers {
        args.push("--ns".into());
        args.push(format!("{}/{}", ns.name, ns.addresses[0]));
    }
    args.extend([
        "--profile".into(),
        profile.to_string(),
        "--format".into(),
        "json".into(),
    ]);
    args
}

fn lab_profile() -> String {
    format!("{}/fixtures/profiles/lab.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Issue 10 item 7: when the desk runs out of file descriptors, the report says it is the
/// desk's error and never blames the (healthy) name servers.
#[tokio::test(flavor = "multi_thread")]
async fn out_of_descriptors_is_the_desks_error_not_the_servers() {
    let (_s, proposal) = lab(vec![
        ("ns1.test", "127.0.0.1", test_zone(1), Faults::default()),
        ("ns2.test", "127.0.0.2", test_zone(1), Faults::default()),
    ])
    .await;
    let args = check_args(&proposal, &lab_profile());
    let runs = tokio::task::spawn_blocking(move || {
        // The process needs a few descriptors to start (runtime, stdio); from there on, every
        // limit leaves fewer sockets than the check needs.
        (8..=16)
            .map(|n| (n, rootdesk_limited(n, &args)))
            .collect::<Vec<_>>()
    })
    .await
    .expect("join");
    let mut local_seen = 0;
    for (n, out) in &runs {
        let Ok(report) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
            // Too few descriptors to start at all: the desk's error too, on stderr.
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.to_lowercase().contains("too many open files"),
                "limit {n}: {err}"
            );
            continue;
        };
        // The servers are healthy: no finding may blame them.
        let findings = report["findings"].as_array().cloned().unwrap_or_default();
        assert!(
            findings.is_empty(),
            "limit {n}: findings blame the servers: {findings:#?}"
        );
        let not_run = report["not_run"].as_object().cloned().unwrap_or_default();
        if not_run.is_empty() {
            assert_eq!(report["verdict"], "pass", "limit {n}");
            assert_eq!(out.status.code(), Some(0), "limit {n}");
            continue;
        }
        local_seen += 1;
        for (check, why) in &not_run {
            let why = why.as_str().unwrap_or_default();
            assert!(
                why.starts_with("local error: too many open files"),
                "limit {n}: {check}: {why}"
            );
        }
        assert_eq!(report["verdict"], "not-run", "limit {n}");
        assert_eq!(out.status.code(), Some(3), "limit {n}");
        let errors: Vec<&serde_json::Value> = report["queries"]
            .as_array()
            .map(|q| q.iter().filter(|q| q["error"].is_string()).collect())
            .unwrap_or_default();
        for q in errors {
            let e = q["error"].as_str().unwrap_or_default();
            assert!(e.starts_with("local error"), "limit {n}: {q}");
        }
    }
    assert!(
        local_seen > 0,
        "no limit between 8 and 16 made the desk run out of descriptors: {:#?}",
        runs.iter()
            .map(|(n, o)| (n, String::from_utf8_lossy(&o.stdout).into_owned()))
            .collect::<Vec<_>>()
    );
}

/// With reachability relaxed, `rootdesk check` on a dead delegation with a DS exits 3
/// (not-run), never 0.
#[tokio::test(flavor = "multi_thread")]
async fn cli_exits_3_when_a_dead_delegation_could_not_be_judged() {
    let (_s, proposal) = dead().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("relaxed.toml");
    let lab = std::fs::read_to_string(lab_profile()).expect("lab profile");
    let relaxed = lab.replace(
        "[checks]",
        "[checks]\nreachable-udp = \"warning\"\nreachable-tcp = \"warning\"",
    );
    assert_ne!(relaxed, lab, "the lab profile has a [checks] table");
    std::fs::write(&profile, relaxed).expect("write profile");
    let mut args = check_args(&proposal, &profile.to_string_lossy());
    args.extend([
        "--ds".into(),
        "12345 13 2 0000000000000000000000000000000000000000000000000000000000000000".into(),
    ]);
    let out = tokio::task::spawn_blocking(move || rootdesk_limited(1024, &args))
        .await
        .expect("join");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["verdict"], "not-run", "{report:#}");
    assert_eq!(out.status.code(), Some(3));
}
