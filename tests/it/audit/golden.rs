//! Golden vectors: the canonical JSON, event bytes, hashes and checkpoint signatures of
//! `fixtures/audit/` must never change, or old exports stop verifying. README.md (The audit trail) points
//! auditors at the same files to test a verifier of their own.
//!
//! `AUDIT_BLESS=1 cargo test golden` rewrites the fixtures; only ever do that for a new
//! format version.

use ed25519_dalek::SigningKey;
use rootdesk::audit::canonical::to_canonical_string;
use rootdesk::audit::chain::{chain_hash, from_hex, to_hex};
use rootdesk::audit::checkpoint::{format_public_key, key_id, PublicKeyFormat};
use rootdesk::audit::{Checkpoint, EventRecord, GENESIS_HASH};
use serde_json::{json, Value};

use super::*;
use crate::common::repo_file;

/// The seed of the fixtures' signing key (never used for anything else).
const SEED: [u8; 32] = [0x5e; 32];

fn s(v: &Value) -> Option<&str> {
    v.as_str()
}

fn blessing() -> bool {
    std::env::var_os("AUDIT_BLESS").is_some()
}

fn canonical_inputs() -> Vec<&'static str> {
    vec![
        r#"{"b": 2, "a": 1, "c": {"z": [3, 2, 1], "y": null}}"#,
        r#"[true, false, null, 0, -0, 5.0, 1e3, -9007199254740991, 9007199254740991]"#,
        r#""quote \" backslash \\ slash / tab \t newline \n cr \r bs \b ff \f nul \u0000 us \u001f del \u007f""#,
        r#""unicode: é € 😀 \u00e9 \ud83d\ude00""#,
        r#"{"\u20ac": "euro", "\ud83d\ude00": "emoji", "\ufb01": "ligature", "a": "ascii", "": "empty"}"#,
        r#"{"nested": {"list": [{"b": 1, "a": 2}], "empty": {}, "none": []}}"#,
    ]
}

/// The events of the vectors, without their hashes.
fn vector_events() -> Vec<Value> {
    vec![
        json!({"seq": 1, "time": "2026-01-01T00:00:00.000000Z",
               "actor": {"kind": "cli", "id": "operator", "role": null, "contact": null},
               "source": null, "tld": null, "request": null, "kind": "audit-key-created",
               "payload": {"algorithm": "ed25519", "key_id": "0123456789abcdef"}}),
        json!({"seq": 2, "time": "2026-01-01T00:00:01.500000Z",
               "actor": {"kind": "system", "id": "importer", "role": null, "contact": null},
               "source": null, "tld": "de", "request": null, "kind": "tld-records-imported",
               "payload": {"added": ["de"], "unchanged": 0}}),
        json!({"seq": 3, "time": "2026-01-02T12:34:56.789012Z",
               "actor": {"kind": "token", "id": "tok-7", "role": "admin-contact",
                         "contact": "Zoë <hostmaster@example.de>"},
               "source": "2001:db8::1", "tld": "xn--p1ai", "request": "RD-20260102-0001",
               "kind": "request-submitted",
               "payload": {"note": "line 1\nline \"2\"", "ns": ["a.nic.de", "b.nic.de"], "ttl": 172800}}),
    ]
}

/// The record of a vector event; `payload` is its canonical text.
fn record<'a>(
    e: &'a Value,
    payload: &'a str,
    prev_hash: &'a str,
    hash: &'a str,
) -> EventRecord<'a> {
    EventRecord {
        seq: e["seq"].as_u64().expect("seq"),
        time: s(&e["time"]).expect("time"),
        actor_kind: s(&e["actor"]["kind"]).expect("kind"),
        actor_id: s(&e["actor"]["id"]).expect("id"),
        actor_role: s(&e["actor"]["role"]),
        actor_contact: s(&e["actor"]["contact"]),
        source: s(&e["source"]),
        tld: s(&e["tld"]),
        request: s(&e["request"]),
        kind: s(&e["kind"]).expect("kind"),
        payload,
        prev_hash,
        hash,
    }
}

fn build_vectors() -> Value {
    let canonical: Vec<Value> = canonical_inputs()
        .into_iter()
        .map(|input| {
            let value: Value = serde_json::from_str(input).expect("json");
            json!({"input": input, "canonical": to_canonical_string(&value).expect("canonical")})
        })
        .collect();
    let mut prev = [0u8; 32];
    let mut events = Vec::new();
    for mut event in vector_events() {
        let payload_text = to_canonical_string(&event["payload"]).expect("canonical");
        let prev_hex = to_hex(&prev);
        let bytes = record(&event, &payload_text, &prev_hex, "").canonical_bytes();
        let hash = chain_hash(&prev, &bytes);
        event["prev_hash"] = prev_hex.into();
        event["canonical"] = String::from_utf8(bytes).expect("utf8").into();
        event["hash"] = to_hex(&hash).into();
        events.push(event);
        prev = hash;
    }
    let key = SigningKey::from_bytes(&SEED);
    let time = time::macros::datetime!(2026-01-03 00:00:00 UTC);
    let checkpoint = Checkpoint::sign(&key, 3, &to_hex(&prev), time);
    json!({
        "about": "rootdesk audit golden vectors, format version 1: see README-audit.md",
        "canonical_json": canonical,
        "events": events,
        "checkpoint": {
            "private_key_seed_hex": to_hex(&SEED),
            "public_key_base64": format_public_key(&key.verifying_key(), PublicKeyFormat::Base64),
            "key_id": key_id(&key.verifying_key()),
            "seq": checkpoint.seq,
            "hash": checkpoint.hash,
            "time": checkpoint.time,
            "message": String::from_utf8(checkpoint.message()).expect("utf8"),
            "signature": checkpoint.signature,
        },
    })
}

#[test]
fn golden_vectors_are_stable() {
    let path = repo_file("fixtures/audit/vectors.json");
    let built = build_vectors();
    if blessing() {
        let text = serde_json::to_string_pretty(&built).expect("json") + "\n";
        std::fs::write(&path, text).expect("write fixture");
    }
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("fixtures/audit/vectors.json"))
            .expect("fixture is JSON");
    assert_eq!(
        stored, built,
        "the canonical form, hashes or signatures changed"
    );

    // Independently of the builder: recompute everything from the stored vectors alone.
    for v in stored["canonical_json"].as_array().expect("array") {
        let input: Value = serde_json::from_str(v["input"].as_str().expect("input")).expect("json");
        assert_eq!(
            to_canonical_string(&input).expect("canonical"),
            v["canonical"]
        );
    }
    let mut prev = from_hex(GENESIS_HASH).expect("genesis");
    for e in stored["events"].as_array().expect("events") {
        let payload = to_canonical_string(&e["payload"]).expect("canonical");
        let record = record(
            e,
            &payload,
            s(&e["prev_hash"]).expect("prev"),
            s(&e["hash"]).expect("hash"),
        );
        assert_eq!(record.prev_hash, to_hex(&prev));
        let bytes = record.canonical_bytes();
        assert_eq!(std::str::from_utf8(&bytes).expect("utf8"), e["canonical"]);
        prev = chain_hash(&prev, &bytes);
        assert_eq!(to_hex(&prev), record.hash);
    }
    let c = &stored["checkpoint"];
    let public = rootdesk::audit::checkpoint::parse_public_key(
        c["public_key_base64"].as_str().expect("key"),
    )
    .expect("public key");
    let checkpoint = Checkpoint {
        seq: c["seq"].as_u64().expect("seq"),
        hash: c["hash"].as_str().expect("hash").to_string(),
        time: c["time"].as_str().expect("time").to_string(),
        key_id: c["key_id"].as_str().expect("id").to_string(),
        signature: c["signature"].as_str().expect("sig").to_string(),
    };
    assert_eq!(checkpoint.hash, to_hex(&prev));
    assert_eq!(
        String::from_utf8(checkpoint.message()).expect("utf8"),
        c["message"]
    );
    assert!(checkpoint.verify_signature(&public));
}

/// A complete export made by an earlier build must keep verifying with the command.
#[test]
fn golden_export_verifies() {
    let jsonl = repo_file("fixtures/audit/export.jsonl");
    let csv = repo_file("fixtures/audit/export.csv");
    let key = SigningKey::from_bytes(&SEED);
    if blessing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::create(&dir.path().join("g.db")).expect("create");
        let base = time::macros::datetime!(2026-01-01 00:00:00 UTC);
        let events: Vec<NewEvent> = (0..6)
            .map(|i| {
                NewEvent::new(
                    Actor::system("golden"),
                    "golden-event",
                    json!({"i": i, "text": "é\u{1}\""}),
                )
                .tld("example")
                .at(base + time::Duration::seconds(i))
            })
            .collect();
        store.append_events(&events[..4]).expect("append");
        sign_checkpoint(&mut store, &key, base + time::Duration::minutes(1)).expect("sign");
        store.append_events(&events[4..]).expect("append");
        for (path, format) in [
            (&jsonl, rootdesk::audit::ExportFormat::Jsonl),
            (&csv, rootdesk::audit::ExportFormat::Csv),
        ] {
            let mut file = std::fs::File::create(path).expect("create fixture");
            rootdesk::store::write_export(&store, 1, None, format, &mut file, path)
                .expect("export");
        }
    }
    let public = format_public_key(&key.verifying_key(), PublicKeyFormat::Base64);
    let desk = Desk::new();
    for file in [&jsonl, &csv] {
        let outcome = verify(
            &desk,
            &[file.to_str().expect("path"), "--public-key", &public],
        );
        assert!(outcome.0, "{}{}", outcome.1, outcome.2);
        assert!(
            outcome.1.contains("checked events 1..=6 (6 events)"),
            "{}",
            outcome.1
        );
        assert!(
            outcome.1.contains("signed through event 4"),
            "{}",
            outcome.1
        );
        assert!(
            outcome
                .1
                .contains("warning: events 5..=6 come after the last valid checkpoint"),
            "{}",
            outcome.1
        );
    }
}
