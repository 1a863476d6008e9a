//! The portal's TLD list rendered server-side with the real root zone's TLDs (target: <= 20 ms
//! per render, issue 15).
//!
//! `cargo bench --bench portal` loads the real root zone and IANA's TLD records
//! (`../shared/data`, or the folder `SHARED_DATA_DIR` names; the demo registry when neither
//! exists) into a temporary database, then times, each as the median and the 99th percentile of
//! many runs:
//! - `render`: the page's HTML from the records in memory (maud), all TLDs, no filter;
//! - `render filtered`: the same with `?type=gtld&q=bank`;
//! - `read + render`: what `GET /tlds` does per request: read every TLD row through the
//!   desk's read path (`Store::tld_rows`), then render.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rootdesk::audit::Actor;
use rootdesk::desk::{Desk, DeskSettings};
use rootdesk::portal::tlds::{render_list, TldFilter};
use rootdesk::store::{PublishTtls, Store};

const RUNS: usize = 200;

fn data_dir() -> (PathBuf, &'static str) {
    let dir = std::env::var_os("SHARED_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    if dir.join("root.zone").exists() && dir.join("tlds.jsonl").exists() {
        (dir, "real root zone")
    } else {
        (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo"),
            "demo registry (../shared/data missing)",
        )
    }
}

/// Median and 99th percentile of `runs` timings of `f`, after a few warm-up runs.
fn time(runs: usize, mut f: impl FnMut() -> usize) -> (Duration, Duration, usize) {
    let mut bytes = 0;
    for _ in 0..5 {
        bytes = f();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            bytes = std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    let p99 = times[((runs * 99).div_ceil(100)).clamp(1, runs) - 1];
    (times[runs / 2], p99, bytes)
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 3 } else { RUNS };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::create(&dir.path().join("bench.db")).expect("create");
    let now = time::OffsetDateTime::now_utc();
    let actor = Actor::system("bench");
    let (data, what) = data_dir();
    let zone = rootdesk::zonefile::read_root_zone(&data.join("root.zone")).expect("zone");
    store
        .import_zone(&zone, "bench", &actor, now)
        .expect("import");
    let text = std::fs::read_to_string(data.join("tlds.jsonl")).expect("tlds");
    let records = rootdesk::registry::parse_tld_lines(&text).expect("parse");
    store.import_tlds(&records, &actor, now).expect("import");
    let desk = Desk::new(
        store,
        DeskSettings {
            expire_days: 30,
            reminder_days: vec![7, 21],
            ttls: PublishTtls {
                ns: 172800,
                ds: 86400,
                glue: 172800,
            },
            profile: rootdesk::check::Profile::lab(),
            check_ports: Default::default(),
            sweep_remind_after: None,
            four_eyes: false,
        },
    );
    let tlds = desk.read_store(|s| Ok(s.tld_rows()?)).expect("read TLDs");
    let delegated = tlds
        .iter()
        .filter(|t| t.status == rootdesk::registry::TldStatus::Active)
        .count();
    println!(
        "portal bench: {what}: {} TLD records, {delegated} delegated; {runs} runs each",
        tlds.len()
    );
    let all = TldFilter::default();
    let filtered = TldFilter {
        q: "bank".into(),
        kind: "gtld".into(),
        status: String::new(),
    };
    let report = |name: &str, (median, p99, bytes): (Duration, Duration, usize)| {
        println!(
            "{name:<16} median {:>7.2} ms   p99 {:>7.2} ms   {bytes} bytes of HTML",
            median.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        );
    };
    report("render", time(runs, || render_list(&tlds, &all).len()));
    report(
        "render filtered",
        time(runs, || render_list(&tlds, &filtered).len()),
    );
    report(
        "read + render",
        time(runs, || {
            let tlds = desk.read_store(|s| Ok(s.tld_rows()?)).expect("read TLDs");
            render_list(&tlds, &all).len()
        }),
    );
}
