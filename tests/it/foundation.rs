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

/// NS, DS, A and AAAA records as `ldns-read-zone -c` reads a file: (owner type data).
fn ldns_records(ldns: &std::path::Path, file: &std::path::Path) -> BTreeSet<String> {
    let out = std::process::Command::new(ldns)
        .arg("-c")
        .arg(file)
        .output()
        .expect("run ldns-read-zone");
    assert!(
        out.status.success(),
        "ldns-read-zone refused {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 4 && ["NS", "DS", "A", "AAAA"].contains(&f[3]))
                .then(|| format!("{} {} {}", f[0], f[3], f[4..].join(" ")))
        })
        .collect()
}

/// The export of the real root zone is what DNS software reads: A-labels only, accepted by
/// `named-checkzone -k fail`, and the same records as the input when read by ldns.
#[test]
fn real_root_zone_export_is_read_by_bind_and_ldns() {
    let Some(root) = shared_data("root.zone") else {
        return;
    };
    let (Some(checkzone), Some(ldns)) = (
        crate::common::tool("named-checkzone"),
        crate::common::tool("ldns-read-zone"),
    ) else {
        return;
    };
    let desk = Desk::new();
    desk.ok(&["init"]);
    desk.ok(&["import-zone", root.to_str().expect("path")]);
    let file = desk.path("export.zone");
    desk.ok(&["export-zone", "-o", file.to_str().expect("path")]);
    let bytes = std::fs::read(&file).expect("read export");
    if let Some(at) = bytes.iter().position(|b| *b >= 0x80) {
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        panic!("byte >= 0x80 on line {line} of the export: a master file holds A-labels only");
    }
    let out = std::process::Command::new(&checkzone)
        .args(["-k", "fail", "-i", "local", "."])
        .arg(&file)
        .output()
        .expect("run named-checkzone");
    assert!(
        out.status.success(),
        "named-checkzone refused the export: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let original = ldns_records(&ldns, &root);
    let exported = ldns_records(&ldns, &file);
    assert_eq!(original.len(), 7581 + 5941 + 5646 + 1480);
    let missing: Vec<_> = original.difference(&exported).take(5).collect();
    let extra: Vec<_> = exported.difference(&original).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
}

/// Runs `tool ARGS FILE`; returns whether it succeeded, and what it printed.
fn run_tool(tool: &std::path::Path, args: &[&str], file: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(tool)
        .args(args)
        .arg(file)
        .output()
        .expect("run the tool");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The export carries a ZONEMD (RFC 8976, SIMPLE, SHA-384) that ldns verifies on its own, and
/// that one changed glue address breaks; every serial keeps its digest, renders to the same
/// bytes after later publications, and `publication verify` notices a changed history.
#[test]
fn real_root_zone_export_carries_a_zonemd_that_ldns_verifies() {
    let Some(root) = shared_data("root.zone") else {
        return;
    };
    let Some(verify) = crate::common::tool("ldns-verify-zone") else {
        return;
    };
    let desk = Desk::new();
    desk.ok(&["init"]);
    desk.ok(&["import-zone", root.to_str().expect("path")]);
    let file = desk.path("export.zone");
    desk.ok(&["export-zone", "-o", file.to_str().expect("path")]);
    let text = std::fs::read_to_string(&file).expect("read export");
    assert!(
        text.contains("\n. 86400 IN ZONEMD 2026082201 1 1 "),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(text.starts_with("; ") && text.contains("not the signed root zone"));
    let (ok, said) = run_tool(&verify, &["-Z"], &file);
    assert!(ok, "ldns-verify-zone -Z refused the export: {said}");

    // One glue address changed: the digest no longer matches.
    let bad = desk.path("bad.zone");
    assert!(text.contains("\na.nic.de. 172800 IN A 194.0.0.53\n"));
    std::fs::write(
        &bad,
        text.replace(
            "\na.nic.de. 172800 IN A 194.0.0.53\n",
            "\na.nic.de. 172800 IN A 194.0.0.99\n",
        ),
    )
    .expect("write");
    let (ok, said) = run_tool(&verify, &["-Z"], &bad);
    assert!(
        !ok && said.contains("ZONEMD"),
        "a changed glue address passed: {said}"
    );

    // A second serial: one glue address changed by a new import.
    let original = std::fs::read_to_string(&root).expect("read root zone");
    let next = original
        .replacen(" 2026082201 1800 ", " 2026082202 1800 ", 1)
        .replace("\t194.0.0.53\n", "\t194.0.0.99\n");
    let next_file = desk.path("next.zone");
    std::fs::write(&next_file, next).expect("write");
    let out = desk.ok(&["import-zone", next_file.to_str().expect("path")]);
    assert!(out.contains("published serial 2026082202"), "{out}");
    let again = desk.ok(&["export-zone", "--serial", "2026082201"]);
    assert!(
        again == text,
        "serial 2026082201 no longer renders to the same bytes"
    );
    let newer = desk.path("newer.zone");
    desk.ok(&["export-zone", "-o", newer.to_str().expect("path")]);
    let (ok, said) = run_tool(&verify, &["-Z"], &newer);
    assert!(ok, "ldns-verify-zone -Z refused serial 2026082202: {said}");

    let out = desk.ok(&["publication", "verify", "--all"]);
    assert!(
        out.contains("serial 2026082201: OK") && out.contains("serial 2026082202: OK"),
        "{out}"
    );
    let diff = desk.ok(&["export-zone", "--diff", "2026082201", "2026082202"]);
    assert!(
        diff.contains("changes from serial 2026082201 to 2026082202: 1 TLDs")
            && diff.contains("+ a.nic.de. A 194.0.0.99  (serial 2026082202, import-zone ")
            && diff.contains("- a.nic.de. A 194.0.0.53  (serial 2026082202, import-zone "),
        "{diff}"
    );

    // The history is changed behind the desk's back: verify and export both refuse.
    let conn = rusqlite::Connection::open(desk.db()).expect("open");
    let changed = conn
        .execute(
            "UPDATE zone_glue SET address = '192.0.2.1' WHERE address = '194.0.0.99'",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(conn);
    let out = desk.run(&["publication", "verify", "--serial", "2026082202"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("serial 2026082202: MISMATCH"), "{err}");
    desk.ok(&["publication", "verify", "--serial", "2026082201"]);
    let err = desk.fails(&["export-zone"]);
    assert!(err.contains("no longer gives the ZONEMD digest"), "{err}");
}

/// Names in U-labels are stored as A-labels; bad IDN labels are refused with FILE:LINE.
#[test]
fn import_refuses_bad_idn_labels_with_file_and_line() {
    let desk = Desk::new();
    desk.ok(&["init"]);
    let zone = "\
. 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2026082201 1800 900 604800 86400
. 518400 IN NS a.root-servers.net.
a.root-servers.net. 518400 IN A 198.41.0.4
рф. 172800 IN NS a.dns.ripn.net.
";
    let good = desk.path("good.zone");
    std::fs::write(&good, zone).expect("write");
    desk.ok(&["import-zone", good.to_str().expect("path")]);
    let out = desk.ok(&["export-zone"]);
    assert!(
        out.contains("\nxn--p1ai. 172800 IN NS a.dns.ripn.net.\n"),
        "{out}"
    );
    assert!(out.is_ascii(), "{out}");
    for bad in [
        "xn--zzzzzzz-9999. 172800 IN NS a.dns.ripn.net.",
        "a\u{301}\u{301}\u{200d}. 172800 IN NS a.dns.ripn.net.",
        "xa. 172800 IN NS ns.xn--zzzzzzz-9999.ru.",
    ] {
        let file = desk.path("bad.zone");
        std::fs::write(&file, format!("{zone}{bad}\n")).expect("write");
        let err = desk.fails(&["import-zone", file.to_str().expect("path")]);
        assert!(
            err.contains(&format!("{}:5: ", file.display())) && err.contains("IDNA2008"),
            "{bad}: {err}"
        );
    }
}

/// The crate's top-level modules and the others each names (`crate::x`), outside tests and
/// comments.
fn module_imports() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = repo_file("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for path in files {
        let rel = path.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let deps = graph.entry(top.clone()).or_default();
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or_default();
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

/// No module imports one that imports it back, beyond the pairs still to be untangled
/// (README "Where to add things"); a new two-way import fails here.
#[test]
fn no_new_import_circles() {
    let graph = module_imports();
    let known: [(&str, &str); 0] = [];
    let mut circles = Vec::new();
    for (a, deps) in &graph {
        for b in deps {
            if a < b && graph.get(b).is_some_and(|d| d.contains(a)) {
                circles.push((a.clone(), b.clone()));
            }
        }
    }
    for (a, b) in &circles {
        assert!(
            known.contains(&(a.as_str(), b.as_str())),
            "{a} and {b} import each other: {circles:?}"
        );
    }
    // The desk's pieces, the daemon and the API are no circle any more; audit holds the
    // rules and store drives them, never the other way round.
    assert!(!graph["audit"].contains("store"), "audit imports store");
    assert!(!graph["desk"].contains("api"), "desk imports api");
    assert!(!graph["daemon"].contains("api"), "daemon imports api");
    assert!(!graph["notify"].contains("desk"), "notify imports desk");
    assert!(
        !graph["workflow"].contains("store"),
        "workflow imports store"
    );
}

/// Nothing outside `desk/` and `store/` holds a database handle: the API, RDAP and the portal
/// ask the desk's named reads (`desk/reads.rs`) instead of running closures over the store.
#[test]
fn database_handles_stay_in_desk_and_store() {
    // None left: the mail sender claims, records and reconciles through `desk::outbox`.
    let known: [&str; 0] = [];
    let found: Vec<String> = rust_sources()
        .into_iter()
        .filter(|(rel, _)| !rel.starts_with("desk/") && !rel.starts_with("store/"))
        .filter(|(_, text)| text.contains("read_store(") || text.contains("with_store("))
        .map(|(rel, _)| rel)
        .collect();
    assert_eq!(
        found, known,
        "files outside desk/ and store/ that run closures over a database handle"
    );
}

/// Audit events are made through the catalogue (`NewEvent::of` / `NewEvent::typed`); the
/// free-form constructor is for the workflow's own `request-*` events, made in one place
/// (`store::request_event`, which the desk and the simulation both use), and for tests.
#[test]
fn events_are_made_through_the_catalogue() {
    let allowed = ["audit", "store/requests.rs"];
    for (rel, text) in rust_sources() {
        if allowed.iter().any(|a| rel.starts_with(a)) {
            continue;
        }
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        // A function returning an event is not a struct literal.
        let code = code.replace("-> NewEvent {", "");
        assert!(
            !code.contains("NewEvent::new(") && !code.contains("NewEvent {"),
            "{rel} makes an audit event outside the catalogue (audit::kinds)"
        );
    }
}

/// Every `.rs` file under `src/`, by its path below `src/` (with `/`), and its text.
fn rust_sources() -> Vec<(String, String)> {
    let src = repo_file("src");
    let mut stack = vec![src.clone()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            if rel.ends_with(".rs") {
                let text = std::fs::read_to_string(&path).expect("read");
                files.push((rel, text));
            }
        }
    }
    files.sort();
    files
}
