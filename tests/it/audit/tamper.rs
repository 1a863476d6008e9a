//! The tamper suite: what an attacker with write access to the database file or to an export
//! could do, and proof that `rootdesk audit verify` finds it and names the right event, both
//! on the database (`--db`) and on an export file.

use rootdesk::audit::chain::{chain_hash, from_hex, to_hex};
use rootdesk::audit::{Checkpoint, EventRecord};

use super::*;

/// Events 1..=10 with checkpoints of events 4 and 10.
fn signed_desk() -> Desk {
    let desk = desk_with_events(4);
    assert_eq!(checkpoint(&desk), 4);
    append(&desk, 5, 10);
    assert_eq!(checkpoint(&desk), 10);
    assert_ok(&verify(&desk, &[]));
    desk
}

/// Checks the database and an export made from it (as an insider would hand over).
fn assert_detected(desk: &Desk, seq: u64, why: &str) {
    assert_first_bad(&verify(desk, &[]), seq, why);
    let file = export(desk, "after-tamper.jsonl", &[]);
    assert_first_bad(&verify_file(desk, &file), seq, why);
    let file = export(desk, "after-tamper.csv", &["--format", "csv"]);
    assert_first_bad(&verify_file(desk, &file), seq, why);
}

fn payload_of(conn: &rusqlite::Connection, seq: u64) -> String {
    conn.query_row(
        "SELECT payload FROM events WHERE seq = ?1",
        [seq as i64],
        |r| r.get(0),
    )
    .expect("payload")
}

/// Flips one byte of a text: the first digit becomes another digit.
fn change_one_byte(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let i = bytes.iter().position(u8::is_ascii_digit).expect("a digit");
    bytes[i] = if bytes[i] == b'9' { b'8' } else { bytes[i] + 1 };
    String::from_utf8(bytes).expect("utf8")
}

#[test]
fn triggers_refuse_update_and_delete() {
    let desk = signed_desk();
    let conn = raw(&desk);
    let err = conn
        .execute("UPDATE events SET payload = '{}' WHERE seq = 3", [])
        .expect_err("update refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = conn
        .execute("DELETE FROM events WHERE seq = 10", [])
        .expect_err("delete refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = conn
        .execute("DELETE FROM checkpoints", [])
        .expect_err("delete refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = conn
        .execute("UPDATE checkpoints SET signature = 'x'", [])
        .expect_err("update refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    drop(conn);
    assert_ok(&verify(&desk, &[]));
}

#[test]
fn one_byte_of_one_payload() {
    let desk = signed_desk();
    let conn = raw(&desk);
    let changed = change_one_byte(&payload_of(&conn, 5));
    conn.execute_batch("DROP TRIGGER events_append_only_update")
        .expect("drop trigger");
    conn.execute("UPDATE events SET payload = ?1 WHERE seq = 5", [changed])
        .expect("tamper");
    drop(conn);
    assert_detected(&desk, 5, "hash-mismatch");
}

#[test]
fn deleted_row() {
    let desk = signed_desk();
    let conn = raw(&desk);
    conn.execute_batch("DROP TRIGGER events_append_only_delete; DELETE FROM events WHERE seq = 6")
        .expect("tamper");
    drop(conn);
    assert_detected(&desk, 6, "gap");
}

#[test]
fn deleted_checkpointed_row() {
    let desk = signed_desk();
    let conn = raw(&desk);
    conn.execute_batch("DROP TRIGGER events_append_only_delete; DELETE FROM events WHERE seq = 4")
        .expect("tamper");
    drop(conn);
    assert_detected(&desk, 4, "gap");
}

#[test]
fn swapped_rows() {
    let desk = signed_desk();
    let conn = raw(&desk);
    // Swap everything but the sequence numbers: the rows change places in the log.
    conn.execute_batch(
        "DROP TRIGGER events_append_only_update;
         CREATE TEMP TABLE t AS SELECT * FROM events WHERE seq IN (5, 6);
         UPDATE events SET (time, actor_kind, actor_id, actor_role, actor_contact, source, tld,
                            request, kind, payload, prev_hash, hash) =
           (SELECT time, actor_kind, actor_id, actor_role, actor_contact, source, tld, request,
                   kind, payload, prev_hash, hash FROM t WHERE t.seq = 11 - events.seq)
         WHERE seq IN (5, 6);",
    )
    .expect("tamper");
    drop(conn);
    // Event 5 now holds event 6's content: its hash and its link are both wrong.
    assert_detected(&desk, 5, "hash-mismatch");
}

#[test]
fn altered_and_rehashed_row() {
    let desk = signed_desk();
    let conn = raw(&desk);
    // Change event 6 and recompute its own hash, but not the ones after it: event 7 still
    // names the old hash, and is itself intact, so event 6 is the culprit.
    rewrite_chain(&conn, 6, 6, r#"{"n":6,"forged":true}"#);
    drop(conn);
    assert_detected(&desk, 6, "broken-link");
}

#[test]
fn truncated_tail() {
    let desk = signed_desk();
    let conn = raw(&desk);
    conn.execute_batch("DROP TRIGGER events_append_only_delete; DELETE FROM events WHERE seq >= 8")
        .expect("tamper");
    drop(conn);
    assert_detected(&desk, 8, "truncated");
}

/// Gives event `from` a new payload and recomputes the hashes of events `from..=through`, as
/// an attacker who knows the algorithm would; returns the new hash of event `through`.
fn rewrite_chain(conn: &rusqlite::Connection, from: u64, through: u64, payload: &str) -> String {
    conn.execute_batch("DROP TRIGGER IF EXISTS events_append_only_update")
        .expect("drop trigger");
    conn.execute(
        "UPDATE events SET payload = ?1 WHERE seq = ?2",
        rusqlite::params![payload, from as i64],
    )
    .expect("tamper");
    let mut prev: [u8; 32] = conn
        .query_row(
            "SELECT hash FROM events WHERE seq = ?1",
            [from as i64 - 1],
            |r| r.get::<_, String>(0),
        )
        .map(|h| from_hex(&h).expect("hex"))
        .expect("previous hash");
    let rows: Vec<Vec<Option<String>>> = {
        let mut stmt = conn
            .prepare(
                "SELECT seq, time, actor_kind, actor_id, actor_role, actor_contact, source, tld, \
                 request, kind, payload FROM events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
            )
            .expect("select");
        let rows = stmt
            .query_map([from as i64, through as i64], |r| {
                (0..11)
                    .map(|i| {
                        if i == 0 {
                            r.get::<_, i64>(0).map(|s| Some(s.to_string()))
                        } else {
                            r.get::<_, Option<String>>(i)
                        }
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .expect("query");
        rows.collect::<rusqlite::Result<_>>().expect("rows")
    };
    let mut last = String::new();
    for row in rows {
        let s = |i: usize| row[i].as_deref();
        let seq: u64 = s(0).and_then(|v| v.parse().ok()).expect("seq");
        let prev_hex = to_hex(&prev);
        let record = EventRecord {
            seq,
            time: s(1).expect("time"),
            actor_kind: s(2).expect("kind"),
            actor_id: s(3).expect("id"),
            actor_role: s(4),
            actor_contact: s(5),
            source: s(6),
            tld: s(7),
            request: s(8),
            kind: s(9).expect("kind"),
            payload: s(10).expect("payload"),
            prev_hash: &prev_hex,
            hash: "",
        };
        let hash = chain_hash(&prev, &record.canonical_bytes());
        last = to_hex(&hash);
        conn.execute(
            "UPDATE events SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![prev_hex, last, seq as i64],
        )
        .expect("rehash");
        prev = hash;
    }
    last
}

#[test]
fn rewritten_chain_against_the_last_checkpoint() {
    let desk = signed_desk();
    let conn = raw(&desk);
    rewrite_chain(&conn, 7, 10, r#"{"n":7,"forged":true}"#);
    drop(conn);
    // Every hash is consistent now; only the signed checkpoint of event 10 disagrees, and it
    // narrows the rewrite down to the events after the previous checkpoint.
    let outcome = verify(&desk, &[]);
    assert_first_bad(&outcome, 10, "checkpoint-mismatch");
    assert!(
        outcome.1.contains("events 5..=10 were rewritten"),
        "{}",
        outcome.1
    );
    let file = export(&desk, "rewritten.jsonl", &[]);
    assert_first_bad(&verify_file(&desk, &file), 10, "checkpoint-mismatch");
}

#[test]
fn forged_checkpoint() {
    let desk = signed_desk();
    let conn = raw(&desk);
    let new_hash = rewrite_chain(&conn, 7, 10, r#"{"n":7,"forged":true}"#);
    // The attacker replaces the checkpoint of event 10 with one over the new hash, signed with
    // a key of their own but claiming the desk's key id.
    let key_id: String = conn
        .query_row("SELECT key_id FROM checkpoints WHERE seq = 10", [], |r| {
            r.get(0)
        })
        .expect("key id");
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let mut forged = Checkpoint::sign(&attacker, 10, &new_hash, time::OffsetDateTime::now_utc());
    forged.key_id = key_id;
    conn.execute_batch(
        "DROP TRIGGER checkpoints_append_only_delete; DELETE FROM checkpoints WHERE seq = 10",
    )
    .expect("drop");
    conn.execute(
        "INSERT INTO checkpoints (seq, hash, time, key_id, signature) VALUES (10, ?1, ?2, ?3, ?4)",
        rusqlite::params![forged.hash, forged.time, forged.key_id, forged.signature],
    )
    .expect("forge");
    drop(conn);
    assert_detected(&desk, 10, "bad-signature");
}

#[test]
fn forged_checkpoint_over_the_unsigned_tail() {
    let desk = signed_desk();
    append(&desk, 11, 12);
    let conn = raw(&desk);
    let hash: String = conn
        .query_row("SELECT hash FROM events WHERE seq = 12", [], |r| r.get(0))
        .expect("hash");
    let real: (String, String) = conn
        .query_row(
            "SELECT key_id, signature FROM checkpoints WHERE seq = 10",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("checkpoint");
    // A signature copied from another checkpoint does not sign this one.
    conn.execute(
        "INSERT INTO checkpoints (seq, hash, time, key_id, signature) VALUES (12, ?1, '2026-01-01T00:00:00.000000Z', ?2, ?3)",
        rusqlite::params![hash, real.0, real.1],
    )
    .expect("forge");
    drop(conn);
    assert_detected(&desk, 12, "bad-signature");
}

#[test]
fn unsigned_tail_is_a_warning_not_tampering() {
    let desk = signed_desk();
    append(&desk, 11, 13);
    for outcome in [
        verify(&desk, &[]),
        verify_file(&desk, &export(&desk, "tail.jsonl", &[])),
    ] {
        let (ok, out, err) = &outcome;
        assert!(ok, "an unsigned tail is not a failure: {out}{err}");
        assert!(out.contains("signed through event 10"), "{out}");
        assert!(
            out.contains("warning: events 11..=13 come after the last valid checkpoint"),
            "{out}"
        );
    }
    let (ok, _, err) = verify(&desk, &["--require-signed"]);
    assert!(!ok && err.contains("--require-signed"), "{err}");
    desk.ok(&["audit", "checkpoint"]);
    assert_ok(&verify(&desk, &["--require-signed"]));
}

/// An export line of event `seq`.
fn line_index(lines: &[String], seq: u64) -> usize {
    let needle = format!("{{\"type\":\"event\",\"seq\":{seq},");
    lines
        .iter()
        .position(|l| l.starts_with(&needle))
        .expect("event line")
}

fn edit_export(desk: &Desk, edit: impl FnOnce(&mut Vec<String>)) -> PathBuf {
    let file = export(desk, "clean.jsonl", &[]);
    assert_ok(&verify_file(desk, &file));
    let mut lines: Vec<String> = std::fs::read_to_string(&file)
        .expect("read")
        .lines()
        .map(str::to_string)
        .collect();
    edit(&mut lines);
    let tampered = desk.path("tampered.jsonl");
    std::fs::write(&tampered, lines.join("\n") + "\n").expect("write");
    tampered
}

#[test]
fn export_file_one_byte_of_one_payload() {
    let desk = signed_desk();
    let file = edit_export(&desk, |lines| {
        let i = line_index(lines, 5);
        let at = lines[i].find("\"payload\":").expect("payload");
        let (head, tail) = lines[i].split_at(at);
        lines[i] = format!("{head}{}", change_one_byte(tail));
    });
    assert_first_bad(&verify_file(&desk, &file), 5, "hash-mismatch");
}

#[test]
fn export_file_deleted_line() {
    let desk = signed_desk();
    let file = edit_export(&desk, |lines| {
        let i = line_index(lines, 3);
        lines.remove(i);
    });
    assert_first_bad(&verify_file(&desk, &file), 3, "gap");
}

#[test]
fn export_file_swapped_lines() {
    let desk = signed_desk();
    let file = edit_export(&desk, |lines| {
        let (a, b) = (line_index(lines, 5), line_index(lines, 6));
        lines.swap(a, b);
    });
    let outcome = verify_file(&desk, &file);
    assert_first_bad(&outcome, 5, "gap");
    assert!(outcome.1.contains("event 5: out-of-order"), "{}", outcome.1);
}

#[test]
fn export_file_truncated_tail() {
    let desk = signed_desk();
    let file = edit_export(&desk, |lines| lines.truncate(lines.len() - 3));
    assert_first_bad(&verify_file(&desk, &file), 8, "truncated");
}

#[test]
fn export_file_forged_checkpoint() {
    let desk = signed_desk();
    let file = edit_export(&desk, |lines| {
        let i = lines
            .iter()
            .position(|l| l.contains("\"type\":\"checkpoint\"") && l.contains("\"seq\":4"))
            .expect("checkpoint line");
        let at = lines[i].find("\"signature\":\"").expect("signature") + 13;
        let mut bytes = lines[i].clone().into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        lines[i] = String::from_utf8(bytes).expect("utf8");
    });
    assert_first_bad(&verify_file(&desk, &file), 4, "bad-signature");
}

#[test]
fn export_file_wrong_public_key() {
    let desk = signed_desk();
    let file = export(&desk, "clean.jsonl", &[]);
    let other = ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key();
    let other = rootdesk::audit::checkpoint::format_public_key(
        &other,
        rootdesk::audit::checkpoint::PublicKeyFormat::Hex,
    );
    let outcome = verify(
        &desk,
        &[file.to_str().expect("path"), "--public-key", &other],
    );
    assert_first_bad(&outcome, 4, "unknown-key");
}

#[test]
fn export_file_csv_byte_change() {
    let desk = signed_desk();
    let file = export(&desk, "clean.csv", &["--format", "csv"]);
    assert_ok(&verify_file(&desk, &file));
    let text = std::fs::read_to_string(&file).expect("read");
    let line = text
        .lines()
        .position(|l| l.starts_with("event,7,"))
        .expect("row");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // One digit of the time of event 7.
    let (head, tail) = lines[line].split_at("event,7,".len());
    lines[line] = format!("{head}{}", change_one_byte(tail));
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    assert_first_bad(&verify_file(&desk, &file), 7, "hash-mismatch");
}

#[test]
fn export_file_field_the_hash_does_not_cover() {
    let desk = signed_desk();
    // A reader that trusts "note" would believe it; the hash does not cover it.
    let file = edit_export(&desk, |lines| {
        let i = line_index(lines, 6);
        lines[i] = lines[i].replacen('{', "{\"note\":\"approved by the board\",", 1);
    });
    let outcome = verify_file(&desk, &file);
    assert_first_bad(&outcome, 6, "malformed");
    assert!(outcome.1.contains("unknown field `note`"), "{}", outcome.1);
    // The same in an event's actor, and a checkpoint's field on an event.
    for (from, to) in [
        ("\"actor\":{", "\"actor\":{\"name\":\"x\","),
        ("{", "{\"signature\":\"00\","),
    ] {
        let file = edit_export(&desk, |lines| {
            let i = line_index(lines, 6);
            lines[i] = lines[i].replacen(from, to, 1);
        });
        assert_first_bad(&verify_file(&desk, &file), 6, "malformed");
    }
}

#[test]
fn export_file_duplicate_key_in_a_payload() {
    let desk = signed_desk();
    // `{"n":"forged","n":7,...}` hashes as the original (last key wins) but a reader that
    // takes the first key sees the forgery.
    let file = edit_export(&desk, |lines| {
        let i = line_index(lines, 7);
        lines[i] = lines[i].replacen("\"payload\":{", "\"payload\":{\"n\":\"forged\",", 1);
    });
    assert_first_bad(&verify_file(&desk, &file), 7, "hash-mismatch");
    // A duplicate entry field is refused too.
    let file = edit_export(&desk, |lines| {
        let i = line_index(lines, 7);
        lines[i] = lines[i].replacen("{", "{\"kind\":\"zone-imported\",", 1);
    });
    assert_first_bad(&verify_file(&desk, &file), 7, "malformed");
}

#[test]
fn export_file_deleted_newest_checkpoint() {
    let desk = signed_desk();
    // The newest checkpoint (of event 10) gone: the header still counts two.
    let file = edit_export(&desk, |lines| {
        let i = lines
            .iter()
            .position(|l| l.contains("\"type\":\"checkpoint\"") && l.contains("\"seq\":10"))
            .expect("checkpoint line");
        lines.remove(i);
    });
    let outcome = verify_file(&desk, &file);
    assert_first_bad(&outcome, 10, "truncated");
    assert!(
        outcome
            .1
            .contains("counts 2 checkpoint(s) but the file holds 1"),
        "{}",
        outcome.1
    );
}

#[test]
fn csv_cell_the_hash_does_not_cover() {
    let desk = signed_desk();
    let file = export(&desk, "clean.csv", &["--format", "csv"]);
    assert_ok(&verify_file(&desk, &file));
    let text = std::fs::read_to_string(&file).expect("read");
    let tampered: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("event,6,") && l.ends_with(",,") {
                format!("{l}deadbeef")
            } else {
                l.to_string()
            }
        })
        .collect();
    let path = desk.path("tampered.csv");
    std::fs::write(&path, tampered.join("\n") + "\n").expect("write");
    let outcome = verify_file(&desk, &path);
    assert_first_bad(&outcome, 6, "malformed");
    assert!(outcome.1.contains("column signature"), "{}", outcome.1);
}
