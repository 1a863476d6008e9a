//! Timeliness metrics: hand-computed timelines, a simulated history read back from the
//! database, the Prometheus text through a real parser, the CLI and the API's roles.

mod api;
mod golden;
pub(crate) mod timelines;

use std::process::Command as Process;

use rootdesk::metrics::simulate::{simulate, SimOptions};
use rootdesk::metrics::{self, GroupBy, Measure, Report, ReportOptions, ServiceLevels, Timeline};
use rootdesk::store::Store;
use time::macros::datetime;

fn options(requests: usize, seed: u64) -> SimOptions {
    SimOptions {
        requests,
        seed,
        start: datetime!(2025-01-01 00:00 UTC),
        days: 90,
        expire_days: 30,
        reminder_days: vec![7, 21],
    }
}

/// A database holding a simulated history.
pub fn simulated(dir: &std::path::Path, requests: usize, seed: u64) -> Store {
    let mut store = Store::create(&dir.join("rootdesk.db")).expect("create");
    simulate(&mut store, &options(requests, seed), |_| {}).expect("simulate");
    store
}

fn payloads(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    store
        .scan_request_payloads(|ticket, payload| {
            out.push(format!("{ticket} {payload}"));
            Ok(())
        })
        .expect("scan");
    out
}

#[test]
fn simulation_is_deterministic_and_recomputes_the_same() {
    let (a, b, c) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (sa, sb, sc) = (
        simulated(a.path(), 300, 42),
        simulated(b.path(), 300, 42),
        simulated(c.path(), 300, 43),
    );
    assert_eq!(payloads(&sa), payloads(&sb), "same seed, same history");
    assert_ne!(
        payloads(&sa),
        payloads(&sc),
        "another seed, another history"
    );

    let timelines = metrics::timelines(&sa).expect("timelines");
    assert_eq!(timelines.len(), 300);
    assert!(
        timelines == metrics::timelines(&sa).expect("again"),
        "recomputed differently"
    );
    let levels = ServiceLevels::default();
    let opts = ReportOptions {
        since: None,
        until: None,
        by: GroupBy::Month,
        breaches: true,
    };
    assert_eq!(
        Report::build(&timelines, &levels, &opts),
        Report::build(&metrics::timelines(&sb).expect("b"), &levels, &opts)
    );

    // Every kind and every ending appears, and desk + TLD time is the whole of each request.
    let kinds: std::collections::BTreeSet<_> = timelines.iter().map(|t| t.kind).collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    let ends: std::collections::BTreeSet<_> = timelines.iter().map(|t| t.state).collect();
    for state in ["completed", "expired"] {
        assert!(ends.iter().any(|s| s.as_str() == state), "{ends:?}");
    }
    for t in &timelines {
        let one = |m| t.values(m).next().expect("finished request has totals");
        let (desk, tld, total) = (
            one(Measure::DeskTime),
            one(Measure::TldTime),
            one(Measure::EndToEnd),
        );
        assert!(
            (desk + tld - total).abs() < 1e-3,
            "{}: {desk} + {tld} != {total}",
            t.ticket
        );
    }
}

#[test]
fn report_groups_and_counts_match_the_timelines() {
    let dir = tempfile::tempdir().expect("dir");
    let store = simulated(dir.path(), 400, 7);
    let timelines = metrics::timelines(&store).expect("timelines");
    let levels = ServiceLevels::default();
    for by in [
        GroupBy::Month,
        GroupBy::Week,
        GroupBy::Tld,
        GroupBy::Kind,
        GroupBy::Priority,
    ] {
        let report = Report::build(
            &timelines,
            &levels,
            &ReportOptions {
                since: None,
                until: None,
                by,
                breaches: true,
            },
        );
        for measure in Measure::ALL {
            let total: usize = report
                .groups
                .iter()
                .flat_map(|g| g.measures.iter().filter(|m| m.measure == measure))
                .map(|m| m.count)
                .sum();
            let expected: usize = timelines.iter().map(|t| t.values(measure).count()).sum();
            assert_eq!(total, expected, "{by:?} {measure:?}");
        }
        let breaches = report.total.breaches.as_ref().expect("listed");
        assert_eq!(breaches.len(), report.total.breach_count);
        assert!(breaches.iter().all(|b| b.seconds > b.limit_secs as f64));
    }
    // The window keeps only intervals that ended inside it.
    let march = Report::build(
        &timelines,
        &levels,
        &ReportOptions {
            since: Some(datetime!(2025-03-01 00:00 UTC)),
            until: Some(datetime!(2025-04-01 00:00 UTC)),
            by: GroupBy::Month,
            breaches: false,
        },
    );
    assert_eq!(
        march
            .groups
            .iter()
            .map(|g| g.group.as_str())
            .collect::<Vec<_>>(),
        ["2025-03"]
    );
    assert!(march.total.breaches.is_none());
    let staff = march.groups[0]
        .measures
        .iter()
        .find(|m| m.measure == Measure::StaffReview)
        .expect("staff review");
    let mut values: Vec<f64> = timelines
        .iter()
        .flat_map(|t| t.measurements.iter())
        .filter(|m| m.measure == Measure::StaffReview && m.at.month() == time::Month::March)
        .map(|m| m.value)
        .collect();
    values.sort_by(f64::total_cmp);
    assert_eq!(staff.count, values.len());
    assert_eq!(staff.max, values.last().copied());
    let within = values.iter().filter(|v| **v <= 5.0 * 86_400.0).count();
    let share = staff.within_percent.expect("share");
    assert!((share - 100.0 * within as f64 / values.len() as f64).abs() < 1e-9);
}

#[test]
fn prometheus_text_parses() {
    let dir = tempfile::tempdir().expect("dir");
    let store = simulated(dir.path(), 200, 3);
    let timelines: Vec<Timeline> = metrics::timelines(&store).expect("timelines");
    let checks = store.check_durations().expect("checks");
    assert!(!checks.is_empty());
    let text = metrics::render_prometheus(&timelines, &checks, &ServiceLevels::default());
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("Prometheus text parses");
    let gauge_sum: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "rootdesk_requests")
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            ref other => panic!("requests by state is a gauge: {other:?}"),
        })
        .sum();
    assert_eq!(gauge_sum, 200.0);
    let check_count: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "rootdesk_check_duration_seconds")
        .map(|s| match &s.value {
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            other => panic!("check duration is a histogram: {other:?}"),
        })
        .sum();
    assert_eq!(check_count, checks.len() as f64);
    let desk_hist = scrape
        .samples
        .iter()
        .find(|s| s.metric == "rootdesk_desk_time_seconds")
        .expect("desk time histogram");
    assert!(matches!(
        desk_hist.value,
        prometheus_parse::Value::Histogram(_)
    ));
    let breaches = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "rootdesk_service_level_breaches_total"
                && s.labels.get("level") == Some("staff-review")
        })
        .expect("staff review breaches");
    let counted = timelines
        .iter()
        .flat_map(|t| t.values(Measure::StaffReview))
        .filter(|v| *v > 5.0 * 86_400.0)
        .count();
    assert_eq!(
        breaches.value,
        prometheus_parse::Value::Counter(counted as f64)
    );
}

fn rootdesk(db: &std::path::Path, args: &[&str]) -> String {
    let out = Process::new(env!("CARGO_BIN_EXE_rootdesk"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("ROOTDESK_CONFIG")
        .output()
        .expect("run rootdesk");
    assert!(
        out.status.success(),
        "rootdesk {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn cli_simulate_report_request_and_chart() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("sim.db");
    let out = rootdesk(
        &db,
        &[
            "simulate",
            "--requests",
            "150",
            "--seed",
            "5",
            "--days",
            "60",
        ],
    );
    assert!(out.contains("simulated 150 requests"), "{out}");
    let table = rootdesk(&db, &["metrics", "report", "--by", "kind"]);
    for needle in [
        "== delegation",
        "staff-review",
        "desk-time",
        "tld-time",
        "== all",
    ] {
        assert!(table.contains(needle), "{needle} missing:\n{table}");
    }
    let csv = rootdesk(
        &db,
        &["metrics", "report", "--by", "month", "--format", "csv"],
    );
    assert!(csv.starts_with("group,interval,count,median_s"), "{csv}");
    let json: serde_json::Value = serde_json::from_str(&rootdesk(
        &db,
        &[
            "metrics",
            "report",
            "--format",
            "json",
            "--since",
            "2025-01-15",
        ],
    ))
    .expect("JSON report");
    assert_eq!(json["by"], "month");
    assert!(json["total"]["breaches"].is_array());
    let ticket = json["groups"][0]["group"].as_str().map(|_| ()).and(
        Store::open(&db)
            .expect("open")
            .requests(&Default::default())
            .expect("list")
            .first()
            .map(|r| r.ticket.clone()),
    );
    let ticket = ticket.expect("a ticket");
    let view = rootdesk(&db, &["metrics", "request", &ticket]);
    assert!(
        view.contains("pre-review") && view.contains("desk time"),
        "{view}"
    );
    let svg_path = dir.path().join("chart.svg");
    rootdesk(
        &db,
        &["metrics", "chart", "-o", svg_path.to_str().expect("path")],
    );
    let svg = std::fs::read_to_string(&svg_path).expect("svg");
    for needle in [
        "<svg",
        "desk time, median",
        "TLD time",
        "service level: staff review",
        "hours",
    ] {
        assert!(svg.contains(needle), "{needle} missing from the chart");
    }
}

fn without_stays(mut timelines: Vec<Timeline>) -> Vec<Timeline> {
    for t in &mut timelines {
        t.stays.clear();
    }
    timelines
}

#[test]
fn cache_file_follows_the_log_and_survives_damage() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = simulated(dir.path(), 120, 11);
    let cache = metrics::cache::cache_path(store.path());
    let cold = metrics::load_timelines(&store).expect("cold");
    assert!(cache.exists(), "the cache is written");
    assert!(
        cold == without_stays(metrics::timelines(&store).expect("fresh")),
        "cold cache differs"
    );
    let warm = metrics::load_timelines(&store).expect("warm");
    assert!(warm == cold, "warm cache differs");

    // More history: only the new requests are replayed, and the figures are those of a
    // fresh derivation.
    let mut more = options(60, 12);
    more.start = datetime!(2025-06-01 00:00 UTC);
    simulate(&mut store, &more, |_| {}).expect("simulate more");
    let grown = metrics::load_timelines(&store).expect("incremental");
    assert_eq!(grown.len(), 180);
    assert!(
        grown == without_stays(metrics::timelines(&store).expect("fresh")),
        "incremental differs"
    );

    // A damaged or foreign cache is ignored, never trusted.
    std::fs::write(&cache, b"rootdesk-metrics-cache 1\ngarbage").expect("damage");
    assert!(
        metrics::load_timelines(&store).expect("rebuilt") == grown,
        "rebuilt differs"
    );
    let other = tempfile::tempdir().expect("dir");
    let other_store = simulated(other.path(), 30, 99);
    std::fs::copy(&cache, metrics::cache::cache_path(other_store.path())).expect("copy");
    assert!(
        metrics::load_timelines(&other_store).expect("foreign cache ignored")
            == without_stays(metrics::timelines(&other_store).expect("fresh")),
        "a foreign cache was trusted"
    );
}

#[test]
fn completion_notice_from_delivered_notifications() {
    use rootdesk::audit::{Actor, NewEvent};
    let dir = tempfile::tempdir().expect("dir");
    let mut store = simulated(dir.path(), 60, 21);
    let before = metrics::load_timelines(&store).expect("cache built");
    let done = before
        .iter()
        .find(|t| t.state.as_str() == "completed")
        .expect("a completed request");
    let published = done.ended_at.expect("ended");
    let delivered = |secs: i64, kind: &str| {
        NewEvent::new(
            Actor::system("sender"),
            "notification-delivered",
            serde_json::json!({ "outbox": 1, "attempt": 1, "recipient": "a@b.example", "kind": kind, "message_id": "m" }),
        )
        .at(published + time::Duration::seconds(secs))
        .request(&done.ticket)
        .tld(&done.tld)
    };
    store
        .append_events(&[
            delivered(12, "completed"),
            delivered(30, "completed"),
            delivered(900, "confirm"),
        ])
        .expect("append");
    let fresh = metrics::timelines(&store).expect("fresh");
    let timeline = fresh
        .iter()
        .find(|t| t.ticket == done.ticket)
        .expect("ticket");
    let notice: Vec<f64> = timeline.values(Measure::CompletionNotice).collect();
    assert_eq!(notice, [30.0]);
    let incremental = metrics::load_timelines(&store).expect("incremental");
    assert!(
        incremental == without_stays(fresh),
        "the cache follows notifications too"
    );
}
