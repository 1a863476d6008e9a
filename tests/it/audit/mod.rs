//! The audit trail: the CLI, the tamper suite, properties and golden vectors.

mod cli;
mod golden;
mod props;
mod tamper;

use std::path::PathBuf;

use rootdesk::audit::checkpoint::load_signing_key;
use rootdesk::audit::{Actor, CheckpointOutcome, NewEvent};
use rootdesk::store::{sign_checkpoint, Store};
use serde_json::json;

use crate::common::Desk;

/// A desk after `init` (event 1: the key) with events 2..=`n`; varied actors, subjects and
/// payloads, so that every field is covered.
pub fn desk_with_events(n: u64) -> Desk {
    let desk = Desk::new();
    desk.ok(&["init"]);
    append(&desk, 2, n);
    desk
}

/// Appends events `from..=to` (the log must end at `from - 1`).
pub fn append(desk: &Desk, from: u64, to: u64) {
    let mut store = Store::open(&desk.db()).expect("open");
    let events: Vec<NewEvent> = (from..=to)
        .map(|i| {
            let actor = match i % 3 {
                0 => Actor::token(&format!("tok-{i}"), Some("staff"), Some("ops@example.net")),
                1 => Actor::system("checker"),
                _ => Actor::cli(),
            };
            let mut event = NewEvent::new(
                actor,
                if i % 2 == 0 { "tld-records-imported" } else { "zone-imported" },
                json!({"n": i, "note": format!("event {i}: déjà vu \"quoted\"\n"), "list": [i, -1, true, null]}),
            );
            if i % 2 == 0 {
                event = event.tld("example");
            }
            if i % 4 == 0 {
                event = event.request(&format!("RD-20260101-{i:04}")).source("192.0.2.7");
            }
            event
        })
        .collect();
    let appended = store.append_events(&events).expect("append");
    assert_eq!(appended.last().map(|e| e.seq), Some(to));
}

/// Signs a checkpoint of the newest event with the desk's key, through the library.
pub fn checkpoint(desk: &Desk) -> u64 {
    let key = load_signing_key(&key_file(desk)).expect("key");
    let mut store = Store::open(&desk.db()).expect("open");
    match sign_checkpoint(&mut store, &key, time::OffsetDateTime::now_utc()).expect("sign") {
        CheckpointOutcome::Signed(c) => c.seq,
        other => panic!("no new checkpoint: {other:?}"),
    }
}

pub fn key_file(desk: &Desk) -> PathBuf {
    desk.path("rootdesk-audit.key")
}

/// The desk's public key, as `rootdesk audit public-key` prints it.
pub fn public_key(desk: &Desk) -> String {
    desk.ok(&["audit", "public-key"]).trim().to_string()
}

/// A raw connection, as an attacker with the file has: no foreign keys, triggers droppable.
pub fn raw(desk: &Desk) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(desk.db()).expect("open raw");
    conn.pragma_update(None, "foreign_keys", "OFF")
        .expect("pragma");
    conn
}

/// Exports the whole log to a file.
pub fn export(desk: &Desk, name: &str, extra: &[&str]) -> PathBuf {
    let path = desk.path(name);
    let mut args = vec!["audit", "export", "-o", path.to_str().expect("path")];
    args.extend_from_slice(extra);
    desk.ok(&args);
    path
}

/// The outcome of `rootdesk audit verify ARGS`: success, stdout, stderr.
pub fn verify(desk: &Desk, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["audit", "verify"];
    all.extend_from_slice(args);
    let out = desk.run(&all);
    (
        out.status.success(),
        String::from_utf8(out.stdout).expect("utf8"),
        String::from_utf8(out.stderr).expect("utf8"),
    )
}

/// Verifies an export file with the desk's public key.
pub fn verify_file(desk: &Desk, file: &std::path::Path) -> (bool, String, String) {
    let key = public_key(desk);
    verify(desk, &[file.to_str().expect("path"), "--public-key", &key])
}

/// Asserts that verification failed and named `seq` as the first bad event, for `why`.
pub fn assert_first_bad(outcome: &(bool, String, String), seq: u64, why: &str) {
    let (ok, out, err) = outcome;
    assert!(!ok, "verification passed but should have failed:\n{out}");
    let expected = format!("first bad event {seq}: {why}");
    assert!(
        err.contains(&expected),
        "expected {expected:?}\nstderr: {err}\nstdout: {out}"
    );
    assert!(
        out.contains(&format!("FAILED: first bad event {seq}: {why}")),
        "{out}"
    );
}

/// Asserts that verification passed without warnings about an unsigned tail.
pub fn assert_ok(outcome: &(bool, String, String)) {
    let (ok, out, err) = outcome;
    assert!(ok, "verification failed:\n{out}\n{err}");
    assert!(out.contains("OK"), "{out}");
}
