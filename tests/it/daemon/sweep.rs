//! The daemon sweeps every published delegation on its `[sweep] interval` schedule and keeps
//! each sweep's results per TLD (issue 12).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_sweeps_the_delegations_on_its_schedule_and_keeps_history() {
    let mut opts = options();
    opts.delegation_sweep = Some((
        Duration::from_millis(300),
        rootdesk::check::SweepLimits::default(),
    ));
    let t = TestDesk::start_with_options(rootdesk::config::SmtpSettings::default(), opts).await;
    let db = t.dir.path().join("rootdesk.db");
    let mut sweeps = 0;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let store = Store::open(&db).expect("open");
        sweeps = store.last_sweep().expect("last sweep").map_or(0, |s| s.id);
        if sweeps >= 2 {
            break;
        }
    }
    assert!(sweeps >= 2, "the daemon did not sweep twice");
    let store = Store::open(&db).expect("open");
    let history = store.sweep_history("xa", 10).expect("history");
    assert!(history.len() >= 2, "{history:?}");
    // The same verdict as a single check of the published delegation, with the desk's
    // profile and check ports.
    let tld = rootdesk::registry::TldLabel::parse("xa").expect("label");
    let published = store
        .current_delegation(&tld)
        .expect("read")
        .expect("xa is published");
    let single = rootdesk::check::run_check(
        &tld.to_name(),
        &t.desk.check_proposal(&published),
        &t.desk.settings.profile,
    )
    .await;
    assert_eq!(
        history[0].verdict,
        single.verdict.to_string(),
        "{:#}",
        history[0].report
    );
    assert_eq!(
        history[0].report["findings"],
        serde_json::to_value(&single.findings).expect("json")
    );
    // `/metrics`: TLDs by verdict in the newest sweep, its start, duration and queries.
    let text = t
        .http
        .get(format!("{}/metrics", t.base))
        .bearer_auth(&t.tokens.staff)
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("body");
    let lines: Vec<std::io::Result<String>> = text.lines().map(|l| Ok(l.to_string())).collect();
    let scrape = prometheus_parse::Scrape::parse(lines.into_iter()).expect("exposition");
    let gauge = |name: &str, verdict: Option<&str>| {
        scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == name && verdict.is_none_or(|v| s.labels.get("verdict") == Some(v))
            })
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    };
    let by_verdict: f64 = ["pass", "warn", "fail", "not-run"]
        .iter()
        .filter_map(|v| gauge("rootdesk_sweep_tlds", Some(v)))
        .sum();
    let tlds = store.last_sweep().expect("last").expect("one").tlds;
    assert!(
        by_verdict >= 1.0 && by_verdict <= tlds as f64 + 0.5,
        "{text}"
    );
    assert!(
        gauge("rootdesk_sweep_last_start_seconds", None).is_some_and(|v| v > 1.7e9),
        "{text}"
    );
    assert!(
        gauge("rootdesk_sweep_last_duration_seconds", None).is_some(),
        "{text}"
    );
    assert!(
        gauge("rootdesk_sweep_last_queries", None).is_some(),
        "{text}"
    );
    t.stop().await;
}
