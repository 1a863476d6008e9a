//! Golden files of the command-line output formats: `request show|list|checks`, the check
//! report as text and JSON, `tld list` and `outbox list`, each in every format it offers.
//! Inputs are fixed (a request driven through the workflow on a fixed clock, hand-made check
//! reports and outbox rows, the demo registry), so any change of a format shows as a diff.
//!
//! `GOLDEN_BLESS=1 cargo test --test it cli::golden` rewrites `fixtures/golden/`.

use rootdesk::api::wire::{CheckList, CheckRun, RequestList, RequestView};
use rootdesk::check::Report;
use rootdesk::cli::listing::Listing;
use rootdesk::cli::request::render;
use rootdesk::cli::Format;
use rootdesk::store::{CheckJob, Notification, RequestSummary};
use rootdesk::workflow::{CheckPhase, Command, Priority, Verdict};
use serde_json::json;
use time::macros::datetime;

use crate::common::{repo_file, Desk};
use crate::metrics::timelines::{admin, delegation_proposal, staff, tech, Script};

fn golden(name: &str, actual: &str) {
    let path = repo_file(&format!("fixtures/golden/{name}"));
    if std::env::var_os("GOLDEN_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("folder")).expect("mkdir");
        std::fs::write(&path, actual).expect("bless");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (GOLDEN_BLESS=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{name} changed:\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

/// Every format of one listing.
fn golden_list<T: serde::Serialize + ?Sized>(stem: &str, list: &Listing, rows: &T) {
    for (format, ext) in [
        (Format::Table, "txt"),
        (Format::Csv, "csv"),
        (Format::Json, "json"),
    ] {
        let text = list.render(format, rows).expect("render");
        golden(&format!("{stem}.{ext}"), &text);
    }
}

fn job(id: i64, phase: CheckPhase, revision: u32, at: &str, done: &str) -> CheckJob {
    serde_json::from_value(json!({
        "id": id, "ticket": "RD-20260302-0001", "revision": revision, "phase": phase,
        "created_at": at, "finished_at": done, "verdict": "pass"
    }))
    .expect("check job")
}

/// A report with findings on one server, on one address and on the delegation.
fn report() -> Report {
    serde_json::from_value(json!({
        "zone": "xa.",
        "verdict": "fail",
        "checks": {
            "ns-count": "pass", "reachable-udp": "pass", "reachable-tcp": "error",
            "authoritative": "pass", "network-diversity": "warning", "edns": "pass",
            "ds-match": "off", "dnssec-valid": "not-run"
        },
        "not_run": { "dnssec-valid": "the delegation has no DS" },
        "findings": [
            { "check": "reachable-tcp", "severity": "error", "message": "no reply over TCP within 3000 ms",
              "nameserver": "ns2.nic.xa", "address": "192.0.2.2", "transport": "tcp" },
            { "check": "network-diversity", "severity": "warning",
              "message": "every address is in 192.0.2.0/24: one network outage stops the TLD" }
        ],
        "queries": [
            { "server": "ns1.nic.xa", "address": "192.0.2.1", "transport": "udp", "qname": "xa.",
              "qtype": "SOA", "query_flags": ["edns"], "rcode": "NOERROR", "flags": ["qr", "aa"],
              "counts": [1, 2, 2], "rtt_ms": 4 }
        ],
        "started": "2026-03-02T09:00:01.000000Z",
        "elapsed_ms": 3012
    }))
    .expect("report")
}

#[test]
fn request_show_list_and_checks() {
    let now = datetime!(2026-03-05 12:00 UTC);
    let mut script = Script::submit(delegation_proposal("192.0.2.1"), Priority::Emergency);
    script
        .check(10 * 60, CheckPhase::Initial, Verdict::Pass)
        .after(2 * 3600, admin(), Command::Confirm);
    let (request, events) = script.recorded();
    let mut open = RequestView::new(request.clone());
    open.history = Some(events.to_vec());
    open.checks = Some(vec![job(
        1,
        CheckPhase::Initial,
        1,
        "2026-03-02T09:00:00.000000Z",
        "2026-03-02T09:10:00.000000Z",
    )]);
    golden("request-show-open.txt", &render::request_show(&open, now));

    script
        .after(3 * 3600, tech(), Command::Confirm)
        .after(
            3600,
            staff(),
            Command::Ask {
                question: "Is the old server coming back?".into(),
            },
        )
        .after(
            1800,
            admin(),
            Command::Answer {
                answer: "No; it burnt.".into(),
            },
        )
        .after(
            86_400,
            staff(),
            Command::Approve {
                note: "confirmed by phone".into(),
            },
        )
        .check(5 * 60, CheckPhase::Supplemental, Verdict::Pass)
        .after(
            6 * 3600,
            staff(),
            Command::Implement {
                serial: Some(2026030301),
            },
        );
    let (request, events) = script.recorded();
    let mut done = RequestView::new(request.clone());
    done.history = Some(events.to_vec());
    done.checks = Some(vec![
        job(
            1,
            CheckPhase::Initial,
            1,
            "2026-03-02T09:00:00.000000Z",
            "2026-03-02T09:10:00.000000Z",
        ),
        job(
            2,
            CheckPhase::Supplemental,
            1,
            "2026-03-03T16:40:00.000000Z",
            "2026-03-03T16:45:00.000000Z",
        ),
    ]);
    golden(
        "request-show-completed.txt",
        &render::request_show(&done, now),
    );
    golden(
        "request-show-completed.json",
        &format!("{}\n", serde_json::to_string_pretty(&done).expect("JSON")),
    );

    let summary = |ticket: &str, tld: &str, kind: &str, state: &str, owner: Option<&str>| {
        serde_json::from_value::<RequestSummary>(json!({
            "ticket": ticket, "tld": tld, "kind": kind, "priority": "normal", "state": state,
            "owner": owner, "revision": 1, "submitted_at": "2026-03-02T09:00:00.000000Z",
            "state_since": "2026-03-04T11:30:00.000000Z"
        }))
        .expect("summary")
    };
    let list = RequestList {
        requests: vec![
            summary(
                "RD-20260302-0003",
                "xn--p1ai",
                "contacts",
                "contact-confirmation",
                Some("tld"),
            ),
            summary(
                "RD-20260302-0002",
                "xb",
                "sponsor",
                "manual-review",
                Some("desk"),
            ),
            summary("RD-20260302-0001", "xa", "delegation", "completed", None),
        ],
        next: None,
    };
    for (format, ext) in [
        (Format::Table, "txt"),
        (Format::Csv, "csv"),
        (Format::Json, "json"),
    ] {
        golden(
            &format!("request-list.{ext}"),
            &render::request_list(&list, format, now).expect("render"),
        );
    }

    let checks = CheckList {
        checks: vec![
            CheckRun {
                job: job(
                    7,
                    CheckPhase::Initial,
                    2,
                    "2026-03-02T09:00:00.000000Z",
                    "2026-03-02T09:00:04.000000Z",
                ),
                report: Some(serde_json::to_value(report()).expect("report")),
            },
            CheckRun {
                job: serde_json::from_value(json!({
                    "id": 8, "ticket": "RD-20260302-0001", "revision": 3, "phase": "initial",
                    "created_at": "2026-03-02T10:00:00.000000Z", "finished_at": null, "verdict": null
                }))
                .expect("job"),
                report: None,
            },
        ],
    };
    golden("request-checks.txt", &render::request_checks(&checks));
}

#[test]
fn check_report_text_and_json() {
    let report = report();
    golden("check-report.txt", &report.to_text());
    golden(
        "check-report.json",
        &format!("{}\n", serde_json::to_string_pretty(&report).expect("JSON")),
    );
}

#[test]
fn tld_list_of_the_demo_registry() {
    let desk = Desk::new();
    desk.ok(&["init"]);
    let zone = repo_file("fixtures/demo/root.zone");
    desk.ok(&["import-zone", zone.to_str().expect("path")]);
    let tlds = repo_file("fixtures/demo/tlds.jsonl");
    desk.ok(&["import-tlds", tlds.to_str().expect("path")]);
    for (format, ext) in [("table", "txt"), ("csv", "csv"), ("json", "json")] {
        golden(
            &format!("tld-list.{ext}"),
            &desk.ok(&["tld", "list", "--format", format]),
        );
    }
    golden("tld-show-xb.txt", &desk.ok(&["tld", "show", "xb"]));
}

#[test]
fn outbox_list() {
    let row = |id: i64, delivered: Option<&str>, error: Option<&str>| -> Notification {
        serde_json::from_value(json!({
            "id": id, "created": "2026-03-02T09:00:00.000000Z", "recipient": "tech@nic.xa.example",
            "subject": format!("[RD-20260302-0001] xa: please confirm, \"revision {id}\""),
            "body": "…", "ticket": "RD-20260302-0001", "tld": "xa", "kind": "consent",
            "attempts": if delivered.is_some() { 1 } else { 3 },
            "next_attempt_at": "2026-03-02T09:20:00.000000Z", "sending_at": null,
            "last_error": error, "delivered_at": delivered
        }))
        .expect("notification")
    };
    let rows = vec![
        row(2, None, Some("450 mailbox busy, try later")),
        row(1, Some("2026-03-02T09:00:03.000000Z"), None),
    ];
    for format in [Format::Table, Format::Csv, Format::Json] {
        let list = rootdesk::cli::outbox_listing(&rows, format);
        let ext = match format {
            Format::Table => "txt",
            Format::Csv => "csv",
            Format::Json => "json",
        };
        golden(
            &format!("outbox-list.{ext}"),
            &list.render(format, &rows).expect("render"),
        );
    }
    // The list shape itself: every format from one listing.
    let mut plain = Listing::new(&["A", "B"]);
    plain.row(vec!["1".into(), "two, three".into()]);
    golden_list("listing", &plain, &json!([{"a": 1, "b": "two, three"}]));
}

/// `person list` in every format, `person show` and an invitation as printed (issue 14).
#[test]
fn person_list_show_and_invitation() {
    use rootdesk::audit::kinds::AuthorisedTld;
    use rootdesk::cli::person;
    use rootdesk::desk::people::{Invitation, PersonView};
    use rootdesk::people::Person;
    let person =
        |id: &str, name: &str, email: &str, role: &str, status: &str, factor: bool| -> Person {
            Person {
                id: id.into(),
                name: name.into(),
                email: email.into(),
                role: rootdesk::store::Role::parse(role).expect("role"),
                status: match status {
                    "active" => rootdesk::people::Status::Active,
                    "disabled" => rootdesk::people::Status::Disabled,
                    _ => rootdesk::people::Status::Invited,
                },
                factor_enrolled: factor,
                created_at: "2026-03-02T09:00:00.000000Z".into(),
                changed_at: "2026-03-02T09:30:00.000000Z".into(),
            }
        };
    let persons = vec![
        person(
            "p-00000000000000a1",
            "Ana Alves",
            "admin@nic.xa.example",
            "manager",
            "active",
            true,
        ),
        person(
            "p-00000000000000b2",
            "Sam Staff, desk",
            "sam@desk.example",
            "staff",
            "invited",
            false,
        ),
        person(
            "p-00000000000000c3",
            "Ode Auditor",
            "ode@audit.example",
            "auditor",
            "disabled",
            true,
        ),
    ];
    golden_list("person-list", &person::person_listing(&persons), &persons);
    let tlds = vec![
        AuthorisedTld {
            tld: "xa".into(),
            groups: vec!["admin".into(), "tech".into()],
        },
        AuthorisedTld {
            tld: "xb".into(),
            groups: vec!["tech".into()],
        },
    ];
    let view = PersonView {
        person: persons[0].clone(),
        tlds: tlds.clone(),
        recovery_codes_left: 9,
    };
    golden("person-show.txt", &person::person_text(&view));
    golden(
        "person-show.json",
        &(serde_json::to_string_pretty(&view).expect("json") + "\n"),
    );
    let invitation = Invitation {
        person: persons[1].clone(),
        tlds: Vec::new(),
        link: "https://desk.example/v1/invitations/SECRET".into(),
        expires_at: "2026-03-09T09:00:00.000000Z".into(),
    };
    golden("person-invite.txt", &person::invitation_text(&invitation));
    let invitation = Invitation {
        person: persons[0].clone(),
        tlds,
        ..invitation
    };
    golden(
        "person-invite-manager.txt",
        &person::invitation_text(&invitation),
    );
}
