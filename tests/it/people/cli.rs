//! `rootdesk person ...` and the migration of an existing database to persons, on the real
//! binary and a real database file.

use rootdesk::audit::{ActorKind, EventQuery};
use rootdesk::store::Store;
use serde_json::Value;

use crate::common::{repo_file, Desk};

fn demo_desk() -> Desk {
    let desk = Desk::new();
    desk.ok(&["init"]);
    let zone = repo_file("fixtures/demo/root.zone");
    desk.ok(&["import-zone", zone.to_str().expect("path")]);
    let tlds = repo_file("fixtures/demo/tlds.jsonl");
    desk.ok(&["import-tlds", tlds.to_str().expect("path")]);
    desk
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON output")
}

fn events_of(desk: &Desk, kind: &str) -> Vec<rootdesk::audit::Event> {
    let store = Store::open(&desk.db()).expect("open");
    store
        .events(&EventQuery {
            kind: Some(kind.into()),
            ..EventQuery::default()
        })
        .expect("events")
}

#[test]
fn person_commands_invite_list_show_disable_and_reset() {
    let desk = demo_desk();
    // A fresh database has no persons: its TLDs keep the contact-token model.
    assert_eq!(
        json(&desk.ok(&["person", "list", "--format", "json"])),
        serde_json::json!([])
    );

    let staff = desk.ok(&[
        "person",
        "invite",
        "--name",
        "Sam Staff",
        "--email",
        "sam@desk.example",
        "--role",
        "staff",
    ]);
    assert!(staff.contains("/v1/invitations/"), "{staff}");
    assert!(staff.contains("shown only now"), "{staff}");
    let ana = json(&desk.ok(&[
        "person",
        "invite",
        "--name",
        "Ana Alves",
        "--email",
        "ana@nic.xa.example",
        "--role",
        "manager",
        "--tld",
        "xa",
        "--groups",
        "admin,tech",
        "--format",
        "json",
    ]));
    let id = ana["person"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        ana["tlds"],
        serde_json::json!([{ "tld": "xa", "groups": ["admin", "tech"] }])
    );

    // Refusals change nothing.
    let before = desk.dump();
    let err = desk.fails(&[
        "person",
        "invite",
        "--name",
        "Ana",
        "--email",
        "ANA@nic.xa.example",
        "--role",
        "manager",
    ]);
    assert!(err.contains("already"), "{err}");
    let err = desk.fails(&[
        "person",
        "invite",
        "--name",
        "B",
        "--email",
        "b@nic.xa.example",
        "--role",
        "manager",
        "--tld",
        "xa",
    ]);
    assert!(err.contains("--groups"), "{err}");
    let err = desk.fails(&[
        "person",
        "invite",
        "--name",
        "C",
        "--email",
        "c@x.example",
        "--role",
        "contact",
    ]);
    assert!(err.contains("manager, staff or auditor"), "{err}");
    assert_eq!(before, desk.dump());

    let list = desk.ok(&["person", "list"]);
    assert!(
        list.contains("ana@nic.xa.example") && list.contains("sam@desk.example"),
        "{list}"
    );
    let csv = desk.ok(&["person", "list", "--format", "csv"]);
    assert!(
        csv.starts_with("id,name,email,role,status,factor\n"),
        "{csv}"
    );
    let shown = desk.ok(&["person", "show", &id]);
    assert!(
        shown.contains("xa (admin, tech)") && shown.contains("invited"),
        "{shown}"
    );

    let disabled = desk.ok(&["person", "disable", &id]);
    assert!(disabled.contains("disabled"), "{disabled}");
    assert!(desk
        .fails(&["person", "disable", &id])
        .contains("disabled already"));
    let reset = desk.ok(&["person", "reset-factor", &id]);
    assert!(reset.contains("/v1/invitations/"), "{reset}");
    let shown = json(&desk.ok(&["person", "show", &id, "--format", "json"]));
    assert_eq!(shown["status"], "invited");

    let invited = events_of(&desk, "person-invited");
    assert_eq!(invited.len(), 3, "two invitations and one after the reset");
    assert!(invited.iter().all(|e| e.actor.kind == ActorKind::Cli));
    assert_eq!(events_of(&desk, "person-disabled").len(), 1);
    assert_eq!(events_of(&desk, "person-factor-reset").len(), 1);
    // The trail holds no link secret.
    let link = reset
        .lines()
        .find(|l| l.contains("/v1/invitations/"))
        .expect("link");
    let secret = link.rsplit('/').next().expect("secret");
    let all = format!(
        "{:?}",
        Store::open(&desk.db())
            .expect("open")
            .events(&EventQuery::default())
            .expect("events")
    );
    assert!(!all.contains(secret));
    let (ok, _, err) = crate::audit::verify(&desk, &[]);
    assert!(ok, "{err}");
}

/// A version 6 database (no persons) migrates to 7 with one invited manager per contact
/// e-mail, authorised where it is a contact, its invitation waiting in the outbox with a
/// placeholder only; what was recorded before stays as it was.
#[test]
fn migration_makes_an_invited_person_per_contact_email() {
    let desk = demo_desk();
    let events_before = Store::open(&desk.db())
        .expect("open")
        .events(&EventQuery::default())
        .expect("events");
    {
        let conn = rusqlite::Connection::open(desk.db()).expect("raw");
        conn.execute_batch(
            "DROP TABLE tld_policies; DROP TABLE tld_authority; DROP TABLE person_tokens;
             DROP TABLE sessions; DROP TABLE recovery_codes; DROP TABLE person_invitations;
             DROP TABLE persons; PRAGMA user_version = 6;",
        )
        .expect("make a version 6 database");
    }
    let out = desk.ok(&["migrate"]);
    assert!(out.contains("from schema version 6 to 7"), "{out}");
    assert!(out.contains("persons invited"), "{out}");

    let persons = json(&desk.ok(&["person", "list", "--format", "json"]));
    let persons = persons.as_array().expect("persons");
    let emails: Vec<&str> = persons.iter().filter_map(|p| p["email"].as_str()).collect();
    for email in [
        "admin@nic.xa.example",
        "tech@nic.xa.example",
        "noc@ndo.example",
    ] {
        assert!(emails.contains(&email), "{email} in {emails:?}");
    }
    assert!(persons
        .iter()
        .all(|p| p["role"] == "manager" && p["status"] == "invited"));
    let ana = persons
        .iter()
        .find(|p| p["email"] == "admin@nic.xa.example")
        .expect("xa's admin");
    assert_eq!(ana["name"], "Ana Alves");
    let shown = json(&desk.ok(&[
        "person",
        "show",
        ana["id"].as_str().expect("id"),
        "--format",
        "json",
    ]));
    assert_eq!(
        shown["tlds"],
        serde_json::json!([{ "tld": "xa", "groups": ["admin"] }])
    );
    let noc = persons
        .iter()
        .find(|p| p["email"] == "noc@ndo.example")
        .expect("noc");
    let shown = json(&desk.ok(&[
        "person",
        "show",
        noc["id"].as_str().expect("id"),
        "--format",
        "json",
    ]));
    assert!(
        shown["tlds"]
            .as_array()
            .expect("tlds")
            .iter()
            .any(|t| t["tld"] == "xb" && t["groups"] == serde_json::json!(["tech"])),
        "{shown}"
    );

    // One invitation each in the outbox, with a placeholder and no secret.
    let store = Store::open(&desk.db()).expect("open");
    let outbox = store.outbox(false, 1000).expect("outbox");
    let invitations: Vec<_> = outbox.iter().filter(|n| n.kind == "invitation").collect();
    assert_eq!(invitations.len(), persons.len());
    assert!(invitations
        .iter()
        .all(|n| n.body.contains("/v1/invitations/{secret:inv-")));
    assert_eq!(events_of(&desk, "person-invited").len(), persons.len());

    // Nothing recorded before changed.
    let after = store.events(&EventQuery::default()).expect("events");
    assert_eq!(&after[..events_before.len()], &events_before[..]);
    let (ok, _, err) = crate::audit::verify(&desk, &[]);
    assert!(ok, "{err}");
    // Migrating again changes nothing.
    let out = desk.ok(&["migrate"]);
    assert!(out.contains("nothing to do"), "{out}");
}
