//! Timeliness metrics on a simulated history of 100,000 requests (about 1,000,000 events by
//! default): deriving every request's timeline from the audit trail, then the monthly and the
//! per-TLD report.
//!
//! `cargo bench --bench metrics` (set `METRICS_BENCH_REQUESTS` for another count). The
//! simulated database is kept in `target/` and reused by later runs. Prints figures; each is
//! the median of several runs.

use std::time::Instant;

use rootdesk::metrics::simulate::{simulate, SimOptions};
use rootdesk::metrics::{self, GroupBy, Report, ReportOptions, ServiceLevels};
use rootdesk::store::Store;

const RUNS: usize = 5;

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

fn main() {
    // `cargo test --benches` runs benches with --bench absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("metrics bench: run with `cargo bench --bench metrics`");
        return;
    }
    let requests: usize = std::env::var("METRICS_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let path = dir.join(format!("bench-metrics-{requests}.db"));
    if !path.exists() {
        let partial = dir.join(format!("bench-metrics-{requests}.db.partial"));
        let _ = std::fs::remove_file(&partial);
        let mut store = Store::create(&partial).expect("create database");
        let options = SimOptions {
            requests,
            seed: 1,
            start: time::macros::datetime!(2024-01-01 00:00 UTC),
            days: 730,
            expire_days: 30,
            reminder_days: vec![7, 21],
        };
        let t = Instant::now();
        let summary = simulate(&mut store, &options, |_| {}).expect("simulate");
        println!(
            "simulate: {} requests, {} events in {:.1} s (once; the database is reused)",
            summary.requests,
            summary.events,
            t.elapsed().as_secs_f64()
        );
        drop(store);
        std::fs::rename(&partial, &path).expect("keep the database");
    }
    let store = Store::open(&path).expect("open database");
    let mut events = 0usize;
    store
        .scan_request_payloads(|_, _| {
            events += 1;
            Ok(())
        })
        .expect("count");
    println!(
        "history: {requests} requests, {events} workflow events ({})",
        path.display()
    );

    let levels = ServiceLevels::default();
    let mut timelines = std::sync::Arc::new(Vec::new());
    let derive = median_ms(|| {
        timelines = std::sync::Arc::new(metrics::timelines(&store).expect("timelines"));
    });
    // What `rootdesk metrics report` does: the cache file beside the database, brought up to
    // date (the first call writes it).
    let _ = std::fs::remove_file(metrics::cache::cache_path(&path));
    let t = Instant::now();
    metrics::load_timelines(&store).expect("cold cache");
    let cold = t.elapsed().as_secs_f64() * 1000.0;
    let mut loaded = Vec::new();
    let warm = median_ms(|| {
        loaded = metrics::load_timelines(&store).expect("warm cache");
    });
    let report = |by, timelines: &[metrics::Timeline]| {
        let options = ReportOptions {
            since: None,
            until: None,
            by,
            breaches: true,
        };
        Report::build(timelines, &levels, &options)
    };
    let month = report(GroupBy::Month, &timelines);
    let tld = report(GroupBy::Tld, &timelines);
    let monthly = median_ms(|| {
        std::hint::black_box(report(GroupBy::Month, &timelines));
    });
    let per_tld = median_ms(|| {
        std::hint::black_box(report(GroupBy::Tld, &timelines));
    });
    let monthly_db = median_ms(|| {
        let t = metrics::load_timelines(&store).expect("load");
        std::hint::black_box(report(GroupBy::Month, &t));
    });
    let per_tld_db = median_ms(|| {
        let t = metrics::load_timelines(&store).expect("load");
        std::hint::black_box(report(GroupBy::Tld, &t));
    });
    let prometheus = median_ms(|| {
        std::hint::black_box(metrics::render_prometheus(&timelines, &[], &levels));
    });
    println!("derive every timeline from the events (one pass, no cache): {derive:.0} ms");
    println!("cache file: first build {cold:.0} ms; load when the log is unchanged {warm:.0} ms");
    println!(
        "monthly report over derived timelines ({} groups, {} breaches): {monthly:.0} ms",
        month.groups.len(),
        month.total.breach_count
    );
    println!(
        "per-TLD report over derived timelines ({} groups): {per_tld:.0} ms",
        tld.groups.len()
    );
    println!("monthly report from the database (cache load + report): {monthly_db:.0} ms");
    println!("per-TLD report from the database (cache load + report): {per_tld_db:.0} ms");
    println!("Prometheus text: {prometheus:.0} ms");
}
