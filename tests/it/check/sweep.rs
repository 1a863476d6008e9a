//! The sweep (issue 12): every delegation checked in one process through one shared hub
//! gives the same verdicts as single `run_check` runs, and a dead server shared by several
//! TLDs costs one timeout in the whole sweep.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use rootdesk::check::{
    run_check, sweep, CheckId, Proposal, Severity, SweepItem, SweepLimits, Verdict,
};

use super::server::{ip, origin, Faults, Scripted};
use super::zone::Zone;
use super::{assert_has, outcomes, profile};

fn silent() -> Faults {
    Faults {
        silent: true,
        ..Faults::default()
    }
}

fn zone(tld: &str, ns: &[(&str, std::net::IpAddr)]) -> Zone {
    let ips: Vec<(String, [std::net::IpAddr; 1])> =
        ns.iter().map(|(n, ip)| (format!("{n}."), [*ip])).collect();
    let list: Vec<(&str, &[std::net::IpAddr])> =
        ips.iter().map(|(n, a)| (n.as_str(), &a[..])).collect();
    Zone::new(&format!("{tld}."), 1, &list)
}

fn proposal(ns: &[(&str, &Scripted)]) -> Proposal {
    let mut p = Proposal::default();
    for (n, s) in ns {
        p.add_arg(&format!("{n}/{}", s.addr)).expect("ns");
    }
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn sweep_gives_the_verdicts_of_single_checks_and_a_dead_server_costs_one_timeout() {
    // Addresses: a healthy server of its own, a server shared by xa, xb and xd, a lame one,
    // two dead ones (D is shared by xc and xd). Zones name addresses by IP (glue-match
    // compares IPs), the proposals by IP and port.
    let (ia, is, ib, id) = (
        ip("127.0.0.1"),
        ip("127.0.0.2"),
        ip("127.0.0.3"),
        ip("127.0.0.4"),
    );
    let za = zone("xa", &[("ns1.nic.xa", ia), ("ns2.nic.xa", is)]);
    let zb = zone("xb", &[("ns1.nic.xb", ib), ("ns2.nic.xb", is)]);
    let zd = zone("xd", &[("ns1.nic.xd", id), ("ns2.nic.xd", is)]);
    let d = Scripted::start(id, Zone::new("xc.", 1, &[]), silent()).await;
    let d2 = Scripted::start(ip("127.0.0.5"), Zone::new("xc.", 1, &[]), silent()).await;
    let s = Scripted::start_multi(is, vec![za.clone(), zb.clone(), zd], Faults::default()).await;
    let a = Scripted::start(ia, za, Faults::default()).await;
    let b = Scripted::start(
        ib,
        zb,
        Faults {
            no_aa: true,
            ..Faults::default()
        },
    )
    .await;

    let items = vec![
        ("xa", proposal(&[("ns1.nic.xa", &a), ("ns2.nic.xa", &s)])),
        ("xb", proposal(&[("ns1.nic.xb", &b), ("ns2.nic.xb", &s)])),
        ("xc", proposal(&[("ns1.nic.xc", &d), ("ns2.nic.xc", &d2)])),
        ("xd", proposal(&[("ns1.nic.xd", &d), ("ns2.nic.xd", &s)])),
    ];
    let p = profile();

    // Single checks, one after another; count what the dead server D received for xc alone.
    let mut single = Vec::new();
    let mut single_queries = 0;
    let mut d_for_xc = 0;
    for (tld, prop) in &items {
        let before = d.received.load(Ordering::SeqCst);
        let r = run_check(&origin(&format!("{tld}.")), prop, &p).await;
        if *tld == "xc" {
            d_for_xc = d.received.load(Ordering::SeqCst) - before;
        }
        single_queries += r.queries.len();
        single.push((tld.to_string(), r));
    }
    assert!(d_for_xc > 0);
    let expected: Vec<Verdict> = single.iter().map(|(_, r)| r.verdict).collect();
    assert_eq!(
        expected,
        [Verdict::Pass, Verdict::Fail, Verdict::Fail, Verdict::Fail],
        "{:#?}",
        single.iter().map(|(_, r)| r.to_text()).collect::<Vec<_>>()
    );

    let before = d.received.load(Ordering::SeqCst);
    let sweep_items: Vec<SweepItem> = items
        .iter()
        .map(|(tld, prop)| SweepItem {
            label: tld.to_string(),
            zone: origin(&format!("{tld}.")),
            proposal: prop.clone(),
        })
        .collect();
    let seen = std::sync::Mutex::new(BTreeSet::new());
    let outcome = sweep(sweep_items, &p, SweepLimits::default(), &|tld, _| {
        seen.lock().expect("lock").insert(tld.to_string());
    })
    .await;
    let d_in_sweep = d.received.load(Ordering::SeqCst) - before;

    assert_eq!(seen.lock().expect("lock").len(), 4);
    assert_eq!(outcome.reports.len(), 4);
    for ((tld, one), (label, swept)) in single.iter().zip(&outcome.reports) {
        assert_eq!(tld, label);
        assert_eq!(
            one.verdict,
            swept.verdict,
            "{tld}:\n{}\n{}",
            one.to_text(),
            swept.to_text()
        );
        assert_eq!(
            outcomes(one),
            outcomes(swept),
            "{tld}:\n{}\n{}",
            one.to_text(),
            swept.to_text()
        );
        assert_eq!(one.checks, swept.checks, "{tld}");
        assert_eq!(one.not_run, swept.not_run, "{tld}");
    }
    // D serves xc and xd, yet the sweep cost it what xc alone did: one timeout per transport.
    assert_eq!(
        d_in_sweep, d_for_xc,
        "the dead server was asked again for another TLD"
    );
    assert!(
        (outcome.queries_sent as usize) < single_queries,
        "sent {} in the sweep, {single_queries} in single runs",
        outcome.queries_sent
    );
    let counts = outcome.counts();
    assert_eq!(counts[&Verdict::Pass], 1);
    assert_eq!(counts[&Verdict::Fail], 3);
    drop(d2);
}

/// `.mv` on the real root zone: `ns.mv` and `ns.dhivehinet.net.mv` share one address. Two
/// names on one address are one server: a warning naming both.
#[tokio::test]
async fn two_names_sharing_one_address_are_one_server_a_warning_naming_both() {
    let z = Zone::new(
        "mv.",
        1,
        &[
            ("ns.mv.", &[ip("127.0.0.1")]),
            ("ns.dhivehinet.net.mv.", &[ip("127.0.0.1")]),
            ("ns2.mv.", &[ip("127.0.0.2")]),
        ],
    );
    let a = Scripted::start(ip("127.0.0.1"), z.clone(), Faults::default()).await;
    let b = Scripted::start(ip("127.0.0.2"), z, Faults::default()).await;
    let mut prop = Proposal::default();
    for (n, s) in [("ns.mv", &a), ("ns.dhivehinet.net.mv", &a), ("ns2.mv", &b)] {
        prop.add_arg(&format!("{n}/{}", s.addr)).expect("ns");
    }
    let report = run_check(&origin("mv."), &prop, &profile()).await;
    assert_eq!(report.verdict, Verdict::Warn, "{}", report.to_text());
    let msgs = assert_has(&report, CheckId::NsCount, Severity::Warning);
    assert!(
        msgs.iter().any(|m| m.contains("ns.mv.")
            && m.contains("ns.dhivehinet.net.mv.")
            && m.contains("one server")),
        "{msgs:?}"
    );
}

/// `rootdesk sweep` on a database: the same verdicts as `rootdesk check --tld`, the history
/// stored, and the second sweep reports what changed (nothing). The registry holds port-53
/// addresses, so the servers listen on port 53 of loopback addresses of their own.
#[tokio::test(flavor = "multi_thread")]
async fn sweep_command_matches_check_and_stores_history() {
    use std::process::Command;
    let (i1, i2, i4) = (ip("127.83.12.1"), ip("127.83.12.2"), ip("127.83.12.4"));
    let za = zone("ya", &[("ns1.nic.ya", i1), ("ns2.nic.ya", i2)]);
    let zc = zone("yc", &[("ns1.nic.yc", i2), ("ns2.nic.yc", i4)]);
    let one = Scripted::start_on(i1, 53, za.clone(), Faults::default()).await;
    let shared = Scripted::start_multi_on(i2, 53, vec![za, zc.clone()], Faults::default()).await;
    let lame = Scripted::start_on(
        i4,
        53,
        zc,
        Faults {
            no_aa: true,
            ..Faults::default()
        },
    )
    .await;
    if one.is_none() || shared.is_none() || lame.is_none() {
        crate::common::skip(
            "sweep_command_matches_check_and_stores_history needs port 53 on 127.83.12.1/2/4",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root.zone");
    // yb: nothing listens at 127.83.12.3 (a dead delegation).
    std::fs::write(
        &root,
        "$ORIGIN .\n$TTL 86400\n\
         @ 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2026112300 1800 900 604800 86400\n\
         @ 518400 IN NS a.root-servers.net.\n\
         a.root-servers.net. 518400 IN A 198.41.0.4\n\
         ya. 172800 IN NS ns1.nic.ya.\nya. 172800 IN NS ns2.nic.ya.\n\
         ns1.nic.ya. 172800 IN A 127.83.12.1\nns2.nic.ya. 172800 IN A 127.83.12.2\n\
         yb. 172800 IN NS ns1.nic.yb.\nyb. 172800 IN NS ns2.nic.yb.\n\
         ns1.nic.yb. 172800 IN A 127.83.12.3\nns2.nic.yb. 172800 IN A 127.83.12.3\n\
         yc. 172800 IN NS ns1.nic.yc.\nyc. 172800 IN NS ns2.nic.yc.\n\
         ns1.nic.yc. 172800 IN A 127.83.12.2\nns2.nic.yc. 172800 IN A 127.83.12.4\n",
    )
    .expect("root zone");
    let db = dir.path().join("desk.db");
    let bin = env!("CARGO_BIN_EXE_rootdesk");
    let profile = format!("{}/fixtures/profiles/lab.toml", env!("CARGO_MANIFEST_DIR"));
    let outs = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            Command::new(bin)
                .arg("--db")
                .arg(&db)
                .args(args)
                .env_remove("ROOTDESK_CONFIG")
                .output()
                .expect("run rootdesk")
        };
        let init = run(&["init"]);
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
        let import = run(&["import-zone", &root.to_string_lossy()]);
        assert!(
            import.status.success(),
            "{}",
            String::from_utf8_lossy(&import.stderr)
        );
        let mut outs = Vec::new();
        for tld in ["ya", "yb", "yc"] {
            outs.push(run(&[
                "check",
                "--tld",
                tld,
                "--format",
                "json",
                "--profile",
                &profile,
            ]));
        }
        outs.push(run(&["sweep", "--format", "json", "--profile", &profile]));
        outs.push(run(&["sweep", "--format", "table", "--profile", &profile]));
        outs.push(run(&[
            "sweep",
            "--tld",
            "ya",
            "--format",
            "csv",
            "--profile",
            &profile,
        ]));
        outs
    })
    .await
    .expect("join");
    let json = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
    };
    let single: Vec<String> = outs[..3]
        .iter()
        .map(|o| json(o)["verdict"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(single, ["pass", "fail", "fail"]);
    let sweep = json(&outs[3]);
    assert_eq!(outs[3].status.code(), Some(1));
    let swept: Vec<String> = sweep["tlds"]
        .as_array()
        .expect("tlds")
        .iter()
        .map(|t| t["verdict"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(swept, single, "{sweep:#}");
    // Same findings as the single checks, TLD by TLD.
    for (i, o) in outs[..3].iter().enumerate() {
        assert_eq!(
            json(o)["findings"],
            sweep["tlds"][i]["report"]["findings"],
            "tld {i}"
        );
    }
    assert_eq!(sweep["summary"]["pass"], 1);
    assert_eq!(sweep["summary"]["fail"], 2);
    assert_eq!(sweep["summary"]["not-run"], 0);
    assert_eq!(
        sweep["changed"].as_array().map(Vec::len),
        Some(3),
        "first sweep: all new"
    );
    let table = String::from_utf8_lossy(&outs[4].stdout);
    assert!(
        table.contains("3 TLDs: 1 pass, 0 warn, 2 fail, 0 not-run"),
        "{table}"
    );
    assert!(
        table.contains("changed since the last sweep: nothing"),
        "{table}"
    );
    let csv = String::from_utf8_lossy(&outs[5].stdout);
    assert!(csv.starts_with("tld,verdict,check,status,"), "{csv}");
    assert!(csv.lines().any(|l| l.starts_with("ya,pass,")), "{csv}");
    drop((one, shared, lame));
}
