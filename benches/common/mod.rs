//! A desk database for the daemon benches: the demo registry plus many generated TLDs whose
//! admin and tech contacts are one pair of handles, so that one token may open a request for
//! any of them (a TLD holds one open request of a kind, so a durable-write bench needs a
//! fresh TLD per submission).

// Each bench compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::path::Path;

use rootdesk::audit::Actor;
use rootdesk::store::{Role, Store};

/// The contact handle of every generated TLD's admin contact.
pub const BENCH_ADMIN: &str = "bench-admin";

/// `n` letters-only labels: `qaaaa`, `qaaab`, ...
pub fn bench_labels(n: usize) -> Vec<String> {
    (0..n)
        .map(|mut i| {
            let mut label = String::from("q");
            for _ in 0..4 {
                label.insert(1, char::from(b'a' + (i % 26) as u8));
                i /= 26;
            }
            label
        })
        .collect()
}

/// Creates `db` with the demo registry and `tlds` generated TLDs; returns tokens for xa's
/// admin contact and for the generated TLDs' admin contact.
pub fn bench_database(db: &Path, tlds: usize) -> (String, String) {
    let mut store = Store::create(db).expect("create the bench database");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let now = time::OffsetDateTime::now_utc();
    let actor = Actor::system("bench");
    let mut zone = std::fs::read_to_string(fixtures.join("root.zone")).expect("demo zone");
    let mut lines = std::fs::read_to_string(fixtures.join("tlds.jsonl")).expect("demo TLDs");
    for (i, label) in bench_labels(tlds).iter().enumerate() {
        let (a, b) = (i / 250, i % 250 + 1);
        zone.push_str(&format!(
            "{label}. 172800 IN NS ns1.nic.{label}.\n{label}. 172800 IN NS ns2.nic.{label}.\n\
             ns1.nic.{label}. 172800 IN A 192.0.{}.{b}\nns2.nic.{label}. 172800 IN A 198.51.{}.{b}\n",
            a % 250,
            a % 250
        ));
        lines.push_str(&format!(
            "{{\"tld\": \"{label}\", \"type\": \"cctld\", \"delegated\": true, \"sponsor\": \"Bench {label}\", \
             \"admin\": {{\"handle\": \"{BENCH_ADMIN}\", \"name\": \"Bench Admin\", \"email\": \"admin@bench.example\"}}, \
             \"tech\": {{\"handle\": \"bench-tech\", \"name\": \"Bench Tech\", \"email\": \"tech@bench.example\"}}}}\n"
        ));
    }
    let zone = rootdesk::zonefile::parse_root_zone(&zone, Path::new("bench.zone")).expect("zone");
    store
        .import_zone(&zone, "bench", &actor, now)
        .expect("import zone");
    let records = rootdesk::registry::parse_tld_lines(&lines).expect("TLD lines");
    store
        .import_tlds(&records, &actor, now)
        .expect("import TLDs");
    let (_, xa) = store
        .issue_token(Role::Contact, "xa-admin", None, &actor, now)
        .expect("token");
    let (_, bench) = store
        .issue_token(Role::Contact, BENCH_ADMIN, None, &actor, now)
        .expect("token");
    (xa, bench)
}

/// The `p`th percentile of sorted durations.
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    if sorted.is_empty() {
        return std::time::Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The desk settings of every bench: the defaults of `rootdesk.example.toml`, lab profile.
pub fn bench_settings() -> rootdesk::desk::DeskSettings {
    rootdesk::desk::DeskSettings {
        expire_days: 30,
        reminder_days: vec![7, 21],
        ttls: rootdesk::store::PublishTtls {
            ns: 172800,
            ds: 86400,
            glue: 172800,
        },
        profile: rootdesk::check::Profile::lab(),
        check_ports: Default::default(),
        sweep_remind_after: None,
        four_eyes: false,
    }
}

/// Starts the daemon in-process on `store` (lab profile, port 0), as the HTTP benches use it.
pub async fn start_daemon(store: Store) -> rootdesk::api::Server {
    use std::time::Duration;
    let desk = std::sync::Arc::new(rootdesk::desk::Desk::new(store, bench_settings()));
    rootdesk::api::Server::start(
        desk,
        rootdesk::api::ServeOptions {
            listen: "127.0.0.1:0".parse().expect("addr"),
            tls: None,
            max_body_bytes: 1 << 20,
            check_poll: Duration::from_millis(500),
            sweep_interval: Duration::from_secs(3600),
            checkpoints: None,
            limits: Default::default(),
            delegation_sweep: None,
        },
    )
    .await
    .expect("start the daemon")
}
