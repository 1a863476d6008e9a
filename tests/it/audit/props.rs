//! Properties: whatever events are appended, in whatever batches, the log verifies (from the
//! database and from both export formats); and any single change to a signed log does not.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use rootdesk::audit::canonical::MAX_SAFE_INTEGER;
use rootdesk::audit::{ActorKind, Checkpoint, EventRecord, Verifier};
use rootdesk::store::StoreError;
use serde_json::Value;

use super::*;

fn payload() -> impl Strategy<Value = Value> {
    let safe = MAX_SAFE_INTEGER as i64;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-safe..=safe).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(any::<String>())
}

fn event() -> impl Strategy<Value = NewEvent> {
    (
        prop_oneof![
            Just(ActorKind::Token),
            Just(ActorKind::Cli),
            Just(ActorKind::System)
        ],
        any::<String>(),
        (text(), text(), text(), text(), text()),
        "[a-z][a-z-]{0,15}",
        payload(),
        0i64..4_000_000_000,
    )
        .prop_map(
            |(kind, id, (role, contact, source, tld, request), name, payload, secs)| NewEvent {
                time: time::OffsetDateTime::from_unix_timestamp(secs).expect("time")
                    + time::Duration::nanoseconds(secs % 1_000_000_007),
                actor: Actor {
                    kind,
                    id,
                    role,
                    contact,
                },
                source,
                tld,
                request,
                kind: name,
                payload,
            },
        )
}

const SEED: [u8; 32] = [0x11; 32];

/// A store holding `events` appended in batches of the given sizes, signed at the end.
fn build(events: &[NewEvent], batch: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::create(&dir.path().join("p.db")).expect("create");
    for chunk in events.chunks(batch.max(1)) {
        store.append_events(chunk).expect("append");
    }
    let key = SigningKey::from_bytes(&SEED);
    sign_checkpoint(&mut store, &key, time::OffsetDateTime::now_utc()).expect("sign");
    (dir, store)
}

#[derive(Debug, Clone)]
struct Owned {
    seq: u64,
    fields: [Option<String>; 12],
}

impl Owned {
    fn record(&self) -> EventRecord<'_> {
        let f = |i: usize| self.fields[i].as_deref();
        EventRecord {
            seq: self.seq,
            time: f(0).unwrap_or_default(),
            actor_kind: f(1).unwrap_or_default(),
            actor_id: f(2).unwrap_or_default(),
            actor_role: f(3),
            actor_contact: f(4),
            source: f(5),
            tld: f(6),
            request: f(7),
            kind: f(8).unwrap_or_default(),
            payload: f(9).unwrap_or_default(),
            prev_hash: f(10).unwrap_or_default(),
            hash: f(11).unwrap_or_default(),
        }
    }
}

fn owned(store: &Store) -> Vec<Owned> {
    let mut out = Vec::new();
    store
        .scan_events(1, None, |r| {
            let s = |v: &str| Some(v.to_string());
            let o = |v: Option<&str>| v.map(str::to_string);
            out.push(Owned {
                seq: r.seq,
                fields: [
                    s(r.time),
                    s(r.actor_kind),
                    s(r.actor_id),
                    o(r.actor_role),
                    o(r.actor_contact),
                    o(r.source),
                    o(r.tld),
                    o(r.request),
                    s(r.kind),
                    s(r.payload),
                    s(r.prev_hash),
                    s(r.hash),
                ],
            });
            Ok::<_, StoreError>(())
        })
        .expect("scan");
    out
}

fn check(events: &[Owned], checkpoints: &[Checkpoint]) -> rootdesk::audit::Report {
    let mut verifier = Verifier::new(&[SigningKey::from_bytes(&SEED).verifying_key()]);
    verifier.expect_first(1);
    for c in checkpoints {
        verifier.checkpoint(c.clone());
    }
    for e in events {
        verifier.event(&e.record());
    }
    verifier.finish()
}

/// Flips one hex digit.
fn flip_hex(s: &str, at: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    let i = at % b.len().max(1);
    if let Some(c) = b.get_mut(i) {
        *c = if *c == b'0' { b'1' } else { b'0' };
    }
    String::from_utf8(b).expect("ascii")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn appends_always_verify(events in prop::collection::vec(event(), 1..16), batch in 1usize..6) {
        let (dir, store) = build(&events, batch);
        let key = SigningKey::from_bytes(&SEED).verifying_key();
        let report = rootdesk::store::verify_store(&store, &[key]).expect("verify");
        prop_assert!(report.ok(), "{}", report);
        prop_assert_eq!(report.events, events.len() as u64);
        prop_assert_eq!(report.signed_through, Some(events.len() as u64));
        for format in [rootdesk::audit::ExportFormat::Jsonl, rootdesk::audit::ExportFormat::Csv] {
            let path = dir.path().join("export");
            let mut file = std::fs::File::create(&path).expect("create");
            rootdesk::store::write_export(&store, 1, None, format, &mut file, &path).expect("export");
            let report = rootdesk::audit::verify_file(&path, &[key]).expect("verify file");
            prop_assert!(report.ok(), "{:?}: {}", format, report);
            prop_assert!(report.warnings.is_empty(), "{:?}: {}", format, report);
            prop_assert_eq!(report.events, events.len() as u64);
        }
    }

    #[test]
    fn any_single_mutation_fails(
        events in prop::collection::vec(event(), 1..10),
        which in 0usize..1000,
        field in 0usize..17,
        other in 0usize..1000,
    ) {
        let (_dir, store) = build(&events, 3);
        let mut log = owned(&store);
        let mut checkpoints = store.checkpoints(1, None).expect("checkpoints");
        prop_assert!(check(&log, &checkpoints).ok());
        let i = which % log.len();
        let j = other % log.len();
        let description;
        match field {
            // A text field: changed, emptied, or set.
            0..=11 => {
                let value = &mut log[i].fields[field];
                *value = match value.take() {
                    Some(v) if field >= 10 => Some(flip_hex(&v, other)),
                    Some(v) if field == 9 => Some(format!("[{v}]")),
                    Some(v) if v.is_empty() || other % 2 == 0 => Some(format!("{v}x")),
                    Some(_) if (3..=7).contains(&field) => None,
                    Some(v) => Some(format!("x{v}")),
                    None => Some(String::new()),
                };
                description = format!("field {field} of event {}", i + 1);
            }
            12 => {
                log[i].seq += 1 + other as u64 % 3;
                description = format!("seq of event {}", i + 1);
            }
            13 => {
                log.remove(i);
                description = format!("event {} deleted", i + 1);
            }
            14 if log.len() > 1 => {
                let j = if i == j { (i + 1) % log.len() } else { j };
                log.swap(i, j);
                description = format!("events {} and {} swapped", i + 1, j + 1);
            }
            14 => {
                let copy = log[i].clone();
                log.insert(i, copy);
                description = format!("event {} repeated", i + 1);
            }
            15 => {
                checkpoints[0].signature = flip_hex(&checkpoints[0].signature, other);
                description = "checkpoint signature".into();
            }
            _ => {
                let c = &mut checkpoints[0];
                match other % 3 {
                    0 => c.seq = c.seq.saturating_sub(1).max(1) + u64::from(c.seq == 1),
                    1 => c.time.push('0'),
                    _ => c.hash = flip_hex(&c.hash, other),
                }
                description = "checkpoint content".into();
            }
        }
        let report = check(&log, &checkpoints);
        prop_assert!(!report.ok(), "{} went unnoticed:\n{}", description, report);
    }
}
