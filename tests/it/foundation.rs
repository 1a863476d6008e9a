//! The foundation: database lifecycle, root zone import/export, TLD records.

use std::collections::BTreeSet;

use crate::common::{repo_file, shared_data, Desk};

fn demo_desk() -> Desk {
    let desk = Desk::new();
    desk.ok(&["init"]);
    let zone = repo_file("fixtures/demo/root.zone");
    desk.ok(&["import-zone", zone.to_str().expect("path")]);
    let tlds = repo_file("fixtures/demo/tlds.jsonl");
    desk.ok(&["import-tlds", tlds.to_str().expect("path")]);
    desk
}

#[test]
fn init_migrate_and_refusals() {
    let desk = Desk::new();
    let err = desk.fails(&["tld", "list"]);
    assert!(err.contains("rootdesk init"), "{err}");
    desk.ok(&["init"]);
    let err = desk.fails(&["init"]);
    assert!(err.contains("already holds a rootdesk database"), "{err}");
    let out = desk.ok(&["migrate"]);
    assert!(out.contains("nothing to do"), "{out}");
    {
        let conn = rusqlite::Connection::open(desk.db()).expect("open");
        conn.pragma_update(None, "user_version", 99)
            .expect("bump version");
    }
    let err = desk.fails(&["tld", "list"]);
    assert!(err.contains("newer than this rootdesk supports"), "{err}");
    let err = desk.fails(&["migrate"]);
    assert!(err.contains("upgrade rootdesk"), "{err}");
}

#[test]
fn import_is_idempotent_and_reports_changes() {
    let desk = demo_desk();
    let zone = repo_file("fixtures/demo/root.zone");
    let out = desk.ok(&["import-zone", zone.to_str().expect("path")]);
    assert!(out.contains("nothing changed"), "{out}");
    let before = desk.dump();
    let out = desk.ok(&[
        "import-tlds",
        repo_file("fixtures/demo/tlds.jsonl")
            .to_str()
            .expect("path"),
    ]);
    assert!(out.contains("nothing changed"), "{out}");
    assert_eq!(before, desk.dump());

    // A newer zone: xa loses ns2 and gains ns3 with two addresses, xb's DS is added, xc goes.
    let text = std::fs::read_to_string(&zone).expect("read fixture");
    let newer = text
        .replace("2026110100", "2026110101")
        .replace("xa.     172800  IN NS   ns2.nic.xa.", "xa.     172800  IN NS   ns3.nic.xa.")
        .replace(
            "ns2.nic.xa.     172800 IN A    198.51.100.1",
            "ns3.nic.xa.     172800 IN A    198.51.100.3\nns3.nic.xa.     172800 IN AAAA 2001:db8:3::3",
        )
        .replace(
            "a.ns.xb.        172800 IN A    192.0.2.20",
            "a.ns.xb.        172800 IN A    192.0.2.20\nxb. 86400 IN DS 2371 13 2 C988EC423E3880EB8DD8A46E5C7A6B1A2C3D4E5F60718293A4B5C6D7E8F90A1B",
        )
        .replace("xc.     172800  IN NS   dns.ndo.xc.\n", "")
        .replace("xc.     172800  IN NS   ns.mincom.xc.\n", "")
        .replace("ns.mincom.xc.   172800 IN A    203.0.113.80\n", "");
    let newer_path = desk.path("newer.zone");
    std::fs::write(&newer_path, newer).expect("write");
    let out = desk.ok(&["import-zone", newer_path.to_str().expect("path")]);
    assert!(
        out.contains("published serial 2026110101 (was 2026110100)"),
        "{out}"
    );
    assert!(out.contains("removed xc"), "{out}");
    for line in [
        "-NS ns2.nic.xa",
        "+NS ns3.nic.xa",
        "-A ns2.nic.xa 198.51.100.1",
        "+AAAA ns3.nic.xa 2001:db8:3::3",
        "+DS 2371 13 2 C988EC42",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let show = desk.ok(&["tld", "show", "xc"]);
    assert!(show.contains("undelegated"), "{show}");

    // Both publications can be rendered.
    let old = desk.ok(&["export-zone", "--serial", "2026110100"]);
    assert!(
        old.contains("ns2.nic.xa.") && old.contains("xc. 172800 IN NS"),
        "{old}"
    );
    let new = desk.ok(&["export-zone"]);
    assert!(
        new.contains("ns3.nic.xa.") && !new.contains("xc. 172800 IN NS"),
        "{new}"
    );
    let err = desk.fails(&["export-zone", "--serial", "2000010100"]);
    assert!(
        err.contains("no publication with serial 2000010100"),
        "{err}"
    );

    // The older file again: its serial is lower and its data differs.
    let before = desk.dump();
    let err = desk.fails(&["import-zone", zone.to_str().expect("path")]);
    assert!(
        err.contains("not newer than the current publication"),
        "{err}"
    );
    assert_eq!(before, desk.dump(), "a refused import changed the database");
}

#[test]
fn bad_zone_files_are_refused_with_their_line_and_change_nothing() {
    let desk = demo_desk();
    let zone = std::fs::read_to_string(repo_file("fixtures/demo/root.zone")).expect("read");
    let zone = zone.replace("2026110100", "2026110102");
    let before = desk.dump();
    let cases: &[(&str, &str, &str)] = &[
        ("ns1.nic.xa.     172800 IN A    192.0.2.1", "ns1.nic.xa.     172800 IN A    192.0.2.300", "cannot parse the A record"),
        ("xb.     172800  IN NS   a.ns.xb.", "www.xb.     172800  IN NS   a.ns.xb.", "out-of-zone data"),
        ("ns2.nic.xa.     172800 IN A    198.51.100.1", "ns2.nic.xa.     172800 IN A    198.51.100.1\nns2.nic.xa.     172800 IN A    198.51.100.1", "duplicate record"),
        ("a.ns.xb.        172800 IN A    192.0.2.20", "a.ns.xb.        172800 IN A    192.0.2.20\nstray.xb. 172800 IN A 192.0.2.99", "no TLD (nor the root) uses"),
        ("xb.     172800  IN NS   a.ns.xb.", "x-b.     172800  IN NS   a.ns.xb.", "invalid TLD label"),
        ("42AE1AA0E5A6A1A9B5B7C6D0 )", "42AE1AA0E5A6A1A9B5B7 )", "32-octet digest"),
        ("ns1.nic.xa.     172800 IN A    192.0.2.1", "ns1.nic.xa.     172800 IN TXT  \"hello\"", "not root zone delegation data"),
    ];
    for (from, to, expect) in cases {
        let bad = zone.replacen(from, to, 1);
        assert_ne!(bad, zone, "case {expect:?} did not apply");
        let path = desk.path("bad.zone");
        std::fs::write(&path, &bad).expect("write");
        let err = desk.fails(&["import-zone", path.to_str().expect("path")]);
        assert!(err.contains(expect), "{expect:?} not in {err}");
        // The line the refusal must name: the changed (or repeated) record's own line.
        let changed = to.lines().last().unwrap_or(to);
        let line = bad
            .lines()
            .collect::<Vec<_>>()
            .iter()
            .rposition(|l| l.contains(changed))
            .map(|i| i + 1)
            .expect("changed line");
        if *expect == "32-octet digest" {
            // A record continued in parentheses is named by the line it starts on.
            assert!(
                err.contains(&format!(":{}:", line - 1)),
                "line {} not named in {err}",
                line - 1
            );
        } else {
            assert!(
                err.contains(&format!("bad.zone:{line}:")),
                "line {line} not named in {err}"
            );
        }
        assert_eq!(
            before,
            desk.dump(),
            "{expect}: a refused import changed the database"
        );
    }
}

#[test]
fn bad_tld_files_are_refused_and_change_nothing() {
    let desk = demo_desk();
    let before = desk.dump();
    let good = std::fs::read_to_string(repo_file("fixtures/demo/tlds.jsonl")).expect("read");
    let first = good.lines().next().expect("a line");
    let cases = [
        (first.replace("\"xa\"", "\"x1\""), "letters only"),
        (first.replace("\"cctld\"", "\"country\""), "unknown variant"),
        (
            first.replace("admin@nic.xa.example", "not-an-address"),
            "e-mail",
        ),
        (first.replace("\"created\"", "\"founded\""), "unknown field"),
    ];
    for (line, expect) in cases {
        let path = desk.path("bad.jsonl");
        std::fs::write(
            &path,
            format!("{}\n{line}\n", good.lines().nth(1).expect("line 2")),
        )
        .expect("write");
        let err = desk.fails(&["import-tlds", path.to_str().expect("path")]);
        assert!(err.contains("bad.jsonl:2:"), "{err}");
        assert!(err.contains(expect), "{expect:?} not in {err}");
        assert_eq!(before, desk.dump());
    }
}

#[test]
fn tld_list_and_show_formats() {
    let desk = demo_desk();
    let table = desk.ok(&["tld", "list"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("xb ") && l.contains("active")),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&desk.ok(&["tld", "list", "--format", "json"])).expect("JSON");
    let labels: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["label"].as_str())
        .collect();
    assert_eq!(labels, ["xa", "xb", "xc", "xd"]);
    let csv = desk.ok(&["tld", "list", "--format", "csv"]);
    assert!(csv.starts_with("label,unicode,type,status"), "{csv}");
    let xb: serde_json::Value =
        serde_json::from_str(&desk.ok(&["tld", "show", "XB.", "--format", "json"])).expect("JSON");
    assert_eq!(xb["tech"]["handle"], "ndo-noc");
    assert_eq!(xb["delegation"]["nameservers"][1]["name"], "dns.ndo.xc");
    assert_eq!(
        xb["delegation"]["nameservers"][1]["addresses"][1],
        "2001:db8:53::53"
    );
    let err = desk.fails(&["tld", "show", "zz"]);
    assert!(err.contains("no TLD record for zz"), "{err}");
}

#[test]
fn backup_copies_a_live_database() {
    let desk = demo_desk();
    let copy = desk.path("copy.db");
    desk.ok(&["backup", copy.to_str().expect("path")]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .args(["--db", copy.to_str().expect("path"), "tld", "show", "xa"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ns1.nic.xa"));
    let err = desk.fails(&["backup", copy.to_str().expect("path")]);
    assert!(err.contains("exists already"), "{err}");
}

/// The real root zone: import, then export reproduces every NS, DS, A and AAAA record.
#[test]
fn real_root_zone_round_trip() {
    let Some(root) = shared_data("root.zone") else {
        return;
    };
    let desk = Desk::new();
    desk.ok(&["init"]);
    let out = desk.ok(&["import-zone", root.to_str().expect("path")]);
    assert!(out.contains("1438 TLDs delegated"), "{out}");
    let out = desk.ok(&["import-zone", root.to_str().expect("path")]);
    assert!(out.contains("nothing changed"), "{out}");
    let exported = desk.ok(&["export-zone"]);

    // Compare (owner, ttl, type, data) with hickory's reading of both files.
    let records = |text: &str| -> BTreeSet<String> {
        let kept: String = text
            .lines()
            .filter(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                fields.len() > 3
                    && ["NS", "DS", "A", "AAAA"].contains(&fields[3])
                    && fields[0] != "."
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let (_, sets) = hickory_proto::serialize::txt::Parser::new(
            kept,
            None,
            Some(hickory_proto::rr::Name::root()),
        )
        .parse()
        .expect("hickory parses");
        sets.values()
            .flat_map(|s| {
                s.records_without_rrsigs()
                    .map(|r| r.to_string().to_lowercase())
            })
            .collect()
    };
    let original = records(&std::fs::read_to_string(&root).expect("read root zone"));
    let round_trip = records(&exported);
    assert_eq!(original.len(), 7581 - 13 + 5941 + 5646 + 1480);
    let missing: Vec<_> = original.difference(&round_trip).take(5).collect();
    let extra: Vec<_> = round_trip.difference(&original).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );

    let tlds = shared_data("tlds.jsonl").expect("tlds.jsonl beside root.zone");
    let out = desk.ok(&["import-tlds", tlds.to_str().expect("path")]);
    assert!(out.contains("157 TLD records added, 1438 updated"), "{out}");
    let rf = desk.ok(&["tld", "show", "рф"]);
    assert!(
        rf.contains("xn--p1ai (рф)") && rf.contains("Russian Federation"),
        "{rf}"
    );
}

/// Registry changes are recorded in the audit trail, by TLD, and the chain verifies.
#[test]
fn registry_changes_are_audit_events() {
    let desk = demo_desk();
    let log = desk.ok(&["audit", "log"]);
    let kinds: Vec<(&str, &str)> = log
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            Some((*fields.get(3)?, *fields.get(4)?))
        })
        .collect();
    assert!(kinds.contains(&("zone-published", "-")), "{log}");
    for tld in ["xa", "xb", "xc"] {
        assert!(kinds.contains(&("delegation-changed", tld)), "{tld}: {log}");
        assert!(kinds.contains(&("tld-record-changed", tld)), "{tld}: {log}");
    }
    // An unchanged re-import adds nothing.
    let before = log.lines().count();
    desk.ok(&[
        "import-zone",
        repo_file("fixtures/demo/root.zone").to_str().expect("path"),
    ]);
    assert_eq!(desk.ok(&["audit", "log"]).lines().count(), before);
    let out = desk.ok(&["audit", "verify"]);
    assert!(out.contains("OK"), "{out}");
}

/// Text that reaches the database from the command line, bypassing the API, is held to the
/// API's rule: no control, separator or direction characters (issue 10 item 9). A refusal
/// names the line and field and changes nothing.
#[test]
fn cli_text_inputs_refuse_control_characters() {
    let desk = demo_desk();
    let before = desk.dump();
    let good = std::fs::read_to_string(repo_file("fixtures/demo/tlds.jsonl")).expect("read");
    let first = good.lines().next().expect("a line");
    for (line, field) in [
        (
            first.replace("Tomas Tavares", "Tomas\\nLink: https://evil.example/x"),
            "tech.name",
        ),
        (
            first.replace(
                "\"Aldoria Network Information Centre\", \"admin_org\"",
                "\"Aldoria\\u202eCIN\", \"admin_org\"",
            ),
            "sponsor",
        ),
        (first.replace("+999 100 0001", "+999\\t100"), "admin.phone"),
    ] {
        assert_ne!(line, first, "the case must change the line");
        let path = desk.path("bad.jsonl");
        std::fs::write(&path, format!("{line}\n")).expect("write");
        let err = desk.fails(&["import-tlds", path.to_str().expect("path")]);
        assert!(err.contains("bad.jsonl:1:"), "{err}");
        assert!(
            err.contains(field) && err.contains("control"),
            "{field}: {err}"
        );
        assert_eq!(before, desk.dump());
    }
    for subject in ["Eve\nLink: x", "Eve\u{202e}", "Eve\u{2028}x"] {
        let err = desk.fails(&["token", "issue", "--role", "staff", "--subject", subject]);
        assert!(err.contains("control"), "{subject:?}: {err}");
    }
    assert_eq!(before, desk.dump());
}
