//! The audit commands end to end on temporary databases.

use rootdesk::audit::checkpoint::parse_public_key;
use rootdesk::audit::EventQuery;

use super::*;

#[test]
fn init_creates_a_private_key_and_records_it() {
    let desk = Desk::new();
    let out = desk.ok(&["init"]);
    assert!(out.contains("created audit signing key"), "{out}");
    let key = key_file(&desk);
    let pem = std::fs::read_to_string(&key).expect("key file");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The public half is event 1; the private key is nowhere in the database.
    let store = Store::open(&desk.db()).expect("open");
    let events = store.events(&EventQuery::default()).expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "audit-key-created");
    assert_eq!(events[0].payload["public_key"], public_key(&desk));
    let secret_b64 = pem.lines().nth(1).expect("base64 line");
    assert!(
        !desk.dump().contains(secret_b64),
        "private key leaked into the database"
    );

    // A second init neither replaces the database nor the key.
    let err = desk.fails(&["init"]);
    assert!(err.contains("already holds a rootdesk database"), "{err}");
    std::fs::remove_file(desk.db()).expect("remove db");
    let err = desk.fails(&["init"]);
    assert!(err.contains("never overwrites a signing key"), "{err}");
    assert!(
        !desk.db().exists(),
        "a refused init leaves no database behind"
    );
    assert_eq!(std::fs::read_to_string(&key).expect("key"), pem);
}

#[test]
fn checkpoint_and_public_key_commands() {
    let desk = desk_with_events(3);
    let out = desk.ok(&["audit", "checkpoint"]);
    assert!(out.contains("signed checkpoint of event 3"), "{out}");
    let out = desk.ok(&["audit", "checkpoint"]);
    assert!(out.contains("already has a checkpoint"), "{out}");
    let b64 = public_key(&desk);
    let hex = desk.ok(&["audit", "public-key", "--format", "hex"]);
    let pem = desk.ok(&["audit", "public-key", "--format", "pem"]);
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    let key = parse_public_key(&b64).expect("base64");
    assert_eq!(parse_public_key(&hex).expect("hex"), key);
    assert_eq!(parse_public_key(&pem).expect("pem"), key);
    // A key file works as --public-key too.
    let pem_file = desk.path("desk.pub");
    std::fs::write(&pem_file, &pem).expect("write");
    let file = export(&desk, "all.jsonl", &[]);
    assert_ok(&verify(
        &desk,
        &[
            file.to_str().expect("path"),
            "--public-key",
            pem_file.to_str().expect("path"),
        ],
    ));

    std::fs::remove_file(key_file(&desk)).expect("remove key");
    let err = desk.fails(&["audit", "checkpoint"]);
    assert!(err.contains("no audit signing key"), "{err}");
    // The database verifies with the public key alone.
    assert_ok(&verify(&desk, &["--public-key", &b64]));
    let err = desk.fails(&["audit", "verify"]);
    assert!(err.contains("--public-key"), "{err}");
    desk.ok(&["audit", "create-key"]);
    let err = desk.fails(&["audit", "create-key"]);
    assert!(err.contains("never overwrites"), "{err}");
}

#[test]
fn export_verifies_on_another_machine() {
    let desk = desk_with_events(20);
    checkpoint(&desk);
    let key = public_key(&desk);
    let jsonl = export(&desk, "log.jsonl", &[]);
    let csv = export(&desk, "log.csv", &["--format", "csv"]);
    let stdout = desk.ok(&["audit", "export"]);
    assert_eq!(
        stdout.lines().count(),
        1 + 1 + 20,
        "header, checkpoint, events"
    );
    // Elsewhere: no database, no key file; only the export and the public key.
    let elsewhere = Desk::new();
    for file in [jsonl, csv] {
        let copy = elsewhere.path(file.file_name().and_then(|n| n.to_str()).expect("name"));
        std::fs::copy(&file, &copy).expect("copy");
        let outcome = verify(
            &elsewhere,
            &[copy.to_str().expect("path"), "--public-key", &key],
        );
        assert_ok(&outcome);
        assert!(
            outcome.1.contains("checked events 1..=20 (20 events)"),
            "{}",
            outcome.1
        );
        assert!(
            outcome.1.contains("signed through event 20"),
            "{}",
            outcome.1
        );
    }
    assert!(!elsewhere.db().exists());
    let err = elsewhere.fails(&["audit", "verify", "nowhere.jsonl"]);
    assert!(err.contains("--public-key"), "{err}");
    let out = elsewhere.run(&["audit", "verify", "nowhere.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
}

#[test]
fn partial_exports() {
    let desk = desk_with_events(10);
    checkpoint(&desk);
    append(&desk, 11, 15);
    checkpoint(&desk);
    // From the middle through a checkpoint: the start is vouched for by that checkpoint.
    let file = export(&desk, "part.jsonl", &["--from", "6", "--to", "10"]);
    let outcome = verify_file(&desk, &file);
    assert!(outcome.0, "{}{}", outcome.1, outcome.2);
    assert!(
        outcome.1.contains("checked events 6..=10 (5 events)"),
        "{}",
        outcome.1
    );
    assert!(outcome.1.contains("partial log"), "{}", outcome.1);
    assert!(
        outcome.1.contains("signed through event 10"),
        "{}",
        outcome.1
    );
    assert!(
        outcome
            .1
            .contains("checkpoint of event 15 is beyond the end"),
        "{}",
        outcome.1
    );
    // From the middle to the end.
    let file = export(&desk, "tail.jsonl", &["--from", "12"]);
    let outcome = verify_file(&desk, &file);
    assert_ok(&outcome);
    assert!(
        outcome.1.contains("signed through event 15"),
        "{}",
        outcome.1
    );
    // A partial export whose first line was removed still fails at its declared start.
    let text = std::fs::read_to_string(&file).expect("read");
    let cut: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("\"seq\":12,\"time\""))
        .collect();
    std::fs::write(&file, cut.join("\n")).expect("write");
    assert_first_bad(&verify_file(&desk, &file), 12, "gap");
}

#[test]
fn empty_log_and_bad_files() {
    let desk = Desk::new();
    desk.ok(&["init"]);
    let key = public_key(&desk);
    let not_export = desk.path("x.jsonl");
    std::fs::write(&not_export, "{\"hello\":1}\n").expect("write");
    let err = desk.fails(&[
        "audit",
        "verify",
        not_export.to_str().expect("p"),
        "--public-key",
        &key,
    ]);
    assert!(err.contains("not a rootdesk audit export"), "{err}");
    let garbage = desk.path("g.jsonl");
    let file = export(&desk, "one.jsonl", &[]);
    let mut text = std::fs::read_to_string(&file).expect("read");
    text.push_str("{not json\n");
    std::fs::write(&garbage, text).expect("write");
    let outcome = verify_file(&desk, &garbage);
    assert_first_bad(&outcome, 2, "malformed");
}

#[test]
fn log_command_filters() {
    let desk = desk_with_events(12);
    let out = desk.ok(&[
        "audit",
        "log",
        "--tld",
        "example",
        "--kind",
        "tld-records-imported",
    ]);
    assert_eq!(out.lines().count(), 6, "{out}");
    let out = desk.ok(&["audit", "log", "--request", "RD-20260101-0008", "--json"]);
    let event: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(event["seq"], 8);
    assert_eq!(event["source"], "192.0.2.7");
    assert_eq!(event["actor"]["kind"], "cli");
    let out = desk.ok(&["audit", "log", "--from", "5", "--limit", "2"]);
    let seqs: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(seqs, ["5", "6"]);
    let out = desk.ok(&["audit", "log", "--actor", "tok-9"]);
    assert_eq!(out.lines().count(), 1, "{out}");
}

/// The stored form of an event time: six fraction digits, always.
fn is_stored_time(text: &str) -> bool {
    let Some(fraction) = text.strip_suffix('Z').and_then(|t| t.split('.').nth(1)) else {
        return false;
    };
    text.len() == "2026-01-01T00:00:00.000000Z".len()
        && fraction.len() == 6
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn log_json_shows_the_time_text_the_hash_covers() {
    let desk = desk_with_events(2);
    {
        // Times whose microseconds end in zeros: the case that lost digits.
        let mut store = Store::open(&desk.db()).expect("open");
        let base = time::macros::datetime!(2026-01-01 00:00:00.120000 UTC);
        let events: Vec<NewEvent> = (0..3)
            .map(|i| {
                NewEvent::new(Actor::cli(), "zone-imported", json!({"i": i}))
                    .at(base + time::Duration::seconds(i))
            })
            .collect();
        store.append_events(&events).expect("append");
    }
    let export = desk.ok(&["audit", "export"]);
    let exported: Vec<String> = export
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "event")
        .map(|v| v["time"].as_str().unwrap_or_default().to_string())
        .collect();
    let log = desk.ok(&["audit", "log", "--json"]);
    let logged: Vec<String> = log
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v["time"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(logged.len(), 5, "{log}");
    assert_eq!(
        logged, exported,
        "log --json and export show the same times"
    );
    assert!(logged.iter().all(|t| is_stored_time(t)), "{logged:?}");
    assert!(
        logged.contains(&"2026-01-01T00:00:00.120000Z".to_string()),
        "{logged:?}"
    );
}

#[test]
fn the_cli_actor_is_meaningful_without_user_in_the_environment() {
    cli_actor_with_user(None);
    // A user name with a line break or a direction mark is not recorded as given.
    cli_actor_with_user(Some("eve\nLink: https://evil.example/x"));
    cli_actor_with_user(Some("eve\u{202e}"));
}

fn cli_actor_with_user(user: Option<&str>) {
    let desk = Desk::new();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"));
    command
        .arg("--db")
        .arg(desk.db())
        .arg("init")
        .env_remove("ROOTDESK_CONFIG")
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME");
    if let Some(user) = user {
        command.env("USER", user);
    }
    let out = command.output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = desk.ok(&["audit", "log", "--json"]);
    let first: serde_json::Value =
        serde_json::from_str(log.lines().next().expect("an event")).expect("json");
    assert_eq!(first["actor"]["kind"], "cli", "{first}");
    let id = first["actor"]["id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("uid-") && id[4..].parse::<u32>().is_ok(),
        "actor {id:?}"
    );
}
