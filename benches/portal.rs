//! The portal's pages rendered server-side (issue 15): the TLD list with the real root zone's
//! TLDs, and the desk staff's work queue with 10,000 open requests (target: <= 20 ms per
//! read + render each).
//!
//! `cargo bench --bench portal` loads the real root zone and IANA's TLD records
//! (`../shared/data`, or the folder `SHARED_DATA_DIR` names; the demo registry when neither
//! exists) into a temporary database, then times, each as the median and the 99th percentile of
//! many runs:
//! - `render`: the page's HTML from the records in memory (maud), all TLDs, no filter;
//! - `render filtered`: the same with `?type=gtld&q=bank`;
//! - `read + render`: what `GET /tlds` does per request: read every TLD row through the
//!   desk's read path (`Store::tld_rows`), then render.
//!
//! Then, on a second database (`benches/common`: the demo registry and 10,000 generated TLDs,
//! each with one open request submitted through `Desk::submit`: every third a delegation left
//! in `technical-check`, the rest sponsor changes waiting on consent, every hundredth an
//! emergency):
//! - `queue render`: order (by service-level risk) and render the queue page from the rows;
//! - `queue read+render`: what `GET /desk` does: `Desk::work_queue` (the gate, then every open
//!   request), order, render.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rootdesk::audit::Actor;
use rootdesk::desk::{Caller, Desk, Submission};
use rootdesk::portal::session::Viewer;
use rootdesk::portal::staff::{queue_rows, render_queue, QueueSort};
use rootdesk::portal::tlds::{render_list, TldFilter};
use rootdesk::store::{Role, Store};
use rootdesk::workflow::{Priority, Proposal};

/// Open requests in the queue bench (`--bench`; a few hundred in the quick run).
const OPEN_REQUESTS: usize = 10_000;

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
    let desk = Desk::new(store, common::bench_settings());
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
    queue_bench(quick, runs, report);
}

/// The work queue with `OPEN_REQUESTS` open requests.
fn queue_bench(quick: bool, runs: usize, report: impl Fn(&str, (Duration, Duration, usize))) {
    let n = if quick { 300 } else { OPEN_REQUESTS };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("queue.db");
    let (_, token) = common::bench_database(&db, n);
    let desk = Desk::new(Store::open(&db).expect("open"), common::bench_settings());
    let contact = desk
        .authenticate(&token, None)
        .expect("authenticate")
        .expect("the bench contact's token");
    let started = Instant::now();
    for (i, label) in common::bench_labels(n).iter().enumerate() {
        let proposal: Proposal = if i % 3 == 0 {
            serde_json::from_value(serde_json::json!({ "kind": "delegation", "delegation": {
                "nameservers": [
                    { "name": format!("ns1.nic.{label}"), "addresses": ["203.0.113.1"] },
                    { "name": format!("ns2.nic.{label}"), "addresses": ["203.0.113.2"] },
                ] } }))
            .expect("proposal")
        } else {
            Proposal::Sponsor {
                sponsor: format!("Bench {label} Holdings"),
            }
        };
        let emergency = i % 100 == 0;
        desk.submit(
            &contact,
            Submission {
                tld: label.clone(),
                priority: if emergency {
                    Priority::Emergency
                } else {
                    Priority::Normal
                },
                emergency_reason: emergency.then(|| "bench".to_string()),
                proposal,
            },
            None,
        )
        .expect("submit");
    }
    let staff = Caller {
        token: "bench-staff".into(),
        role: Role::Staff,
        subject: "bench-staff".into(),
        source: None,
        person: Some("p-bench".into()),
        scope: None,
    };
    let viewer = Viewer {
        caller: staff.clone(),
        csrf: "bench".into(),
        name: "Bench Staff".into(),
    };
    let open = desk.work_queue(&staff).expect("queue");
    println!(
        "queue bench: {} open requests (submitted in {:.1} s); {runs} runs each",
        open.len(),
        started.elapsed().as_secs_f64()
    );
    let now = desk.clock.now();
    report(
        "queue render",
        time(runs, || {
            let rows = queue_rows(open.clone(), &desk.service_levels, now, QueueSort::Risk);
            render_queue(&viewer, &rows, QueueSort::Risk, 1, now)
                .into_string()
                .len()
        }),
    );
    report(
        "queue read+render",
        time(runs, || {
            let open = desk.work_queue(&staff).expect("queue");
            let rows = queue_rows(open, &desk.service_levels, now, QueueSort::Risk);
            render_queue(&viewer, &rows, QueueSort::Risk, 1, now)
                .into_string()
                .len()
        }),
    );
}
