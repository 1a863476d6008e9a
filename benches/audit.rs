//! Audit trail throughput: appending (durable, batched in transactions), and verifying a
//! database, an export file and the bare chain, on 1,000,000 events by default.
//!
//! `cargo bench --bench audit` (set `AUDIT_BENCH_EVENTS` for another count). Prints figures;
//! a criterion sampling loop over a million events would take far too long to be useful.

use std::time::Instant;

use ed25519_dalek::SigningKey;
use rootdesk::audit::{verify_file, Actor, EventRecord, ExportFormat, NewEvent, Verifier};
use rootdesk::store::{sign_checkpoint, verify_store, write_export, Store, StoreError};
use serde_json::json;

const BATCH: usize = 1000;

fn event(i: u64) -> NewEvent {
    let actor = if i.is_multiple_of(2) {
        Actor::token("tok-1234", Some("staff"), Some("ops@example.net"))
    } else {
        Actor::system("daemon")
    };
    NewEvent::new(
        actor,
        "check-finished",
        json!({"check": i, "verdict": "pass", "servers": ["a.nic.example", "b.nic.example"], "ms": i % 5000}),
    )
    .tld("example")
    .request(&format!("RD-20260101-{:04}", i % 10_000))
    .source("192.0.2.1")
}

fn opt(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

/// CPU seconds this process has used (all threads), from /proc (Linux; 10 ms ticks).
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// A measurement from now on: wall clock, and CPU time (the machine is shared, so the CPU
/// figure says what the code costs and the wall figure what this run got).
struct Clock {
    wall: Instant,
    cpu: Option<f64>,
}

fn start() -> Clock {
    Clock {
        wall: Instant::now(),
        cpu: cpu_secs(),
    }
}

fn rate(n: u64, clock: Clock) -> String {
    let secs = clock.wall.elapsed().as_secs_f64();
    let cpu = match (clock.cpu, cpu_secs()) {
        (Some(a), Some(b)) if b > a => format!(
            "; {:.2} CPU s = {:.0} events per CPU second",
            b - a,
            n as f64 / (b - a)
        ),
        _ => String::new(),
    };
    format!(
        "{n} events in {secs:.2} s = {:.0} events/s{cpu}",
        n as f64 / secs
    )
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not ours means "not me".
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") && a != "audit")
    {
        return;
    }
    let n: u64 = std::env::var("AUDIT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bench.db");
    let mut store = Store::create(&db).expect("create");
    let key = SigningKey::from_bytes(&[1; 32]);

    // Durable single-event transactions: one commit (fsync) per event.
    let single = 2_000.min(n);
    let clock = start();
    for i in 0..single {
        store.append_events(&[event(i)]).expect("append");
    }
    println!(
        "append, one event per transaction:   {}",
        rate(single, clock)
    );

    // Batched: BATCH events per transaction, building the events included.
    let clock = start();
    let mut i = single;
    while i < n {
        let end = (i + BATCH as u64).min(n);
        let batch: Vec<NewEvent> = (i..end).map(event).collect();
        store.append_events(&batch).expect("append");
        i = end;
    }
    println!(
        "append, {BATCH} events per transaction: {}",
        rate(n - single, clock)
    );
    sign_checkpoint(&mut store, &key, time::OffsetDateTime::now_utc()).expect("sign");
    let keys = [key.verifying_key()];

    let clock = start();
    let report = verify_store(&store, &keys).expect("verify");
    assert!(report.ok() && report.events == n, "{report}");
    println!("verify database (read + hash):        {}", rate(n, clock));

    let export = dir.path().join("bench.jsonl");
    let clock = start();
    let mut file = std::io::BufWriter::new(std::fs::File::create(&export).expect("create"));
    write_export(&store, 1, None, ExportFormat::Jsonl, &mut file, &export).expect("export");
    drop(file);
    println!(
        "export jsonl:                          {} ({} MB)",
        rate(n, clock),
        std::fs::metadata(&export)
            .map(|m| m.len() >> 20)
            .unwrap_or(0)
    );
    let clock = start();
    let report = verify_file(&export, &keys).expect("verify file");
    assert!(report.ok() && report.events == n, "{report}");
    println!("verify jsonl export (parse + hash):   {}", rate(n, clock));

    // The chain alone: canonical bytes and SHA-256 of records already in memory.
    let mut records: Vec<[String; 13]> = Vec::with_capacity(n as usize);
    store
        .scan_events(1, None, |r| {
            let o = |v: Option<&str>| v.unwrap_or_default().to_string();
            records.push([
                r.seq.to_string(),
                r.time.into(),
                r.actor_kind.into(),
                r.actor_id.into(),
                o(r.actor_role),
                o(r.actor_contact),
                o(r.source),
                o(r.tld),
                o(r.request),
                r.kind.into(),
                r.payload.into(),
                r.prev_hash.into(),
                r.hash.into(),
            ]);
            Ok::<_, StoreError>(())
        })
        .expect("scan");
    let clock = start();
    let mut verifier = Verifier::new(&keys);
    for (seq, r) in records.iter().enumerate() {
        verifier.event(&EventRecord {
            seq: seq as u64 + 1,
            time: &r[1],
            actor_kind: &r[2],
            actor_id: &r[3],
            actor_role: opt(&r[4]),
            actor_contact: opt(&r[5]),
            source: opt(&r[6]),
            tld: opt(&r[7]),
            request: opt(&r[8]),
            kind: &r[9],
            payload: &r[10],
            prev_hash: &r[11],
            hash: &r[12],
        });
    }
    let report = verifier.finish();
    assert!(report.ok(), "{report}");
    println!("verify chain in memory (hash only):   {}", rate(n, clock));
}
