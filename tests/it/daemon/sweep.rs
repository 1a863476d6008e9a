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

/// A TLD that passed its last sweep and fails now: one `delegation-failing` audit event by the
/// sweep and one notice to its technical contact and one to the desk; no more while it keeps
/// failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newly_failing_tld_is_reported_once_to_its_tech_contact_and_the_desk() {
    let mut opts = options();
    opts.delegation_sweep = Some((
        Duration::from_millis(200),
        rootdesk::check::SweepLimits::default(),
    ));
    let t = TestDesk::start_with_options(rootdesk::config::SmtpSettings::default(), opts).await;
    let db = t.dir.path().join("rootdesk.db");
    let sweeps_so_far = || {
        Store::open(&db)
            .expect("open")
            .last_sweep()
            .expect("last")
            .map_or(0, |s| s.id)
    };
    let wait_until = |n: i64| async move {
        for _ in 0..200 {
            if sweeps_so_far() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the daemon did not reach sweep {n}");
    };
    wait_until(1).await;
    // xa's published delegation fails (its addresses are documentation ones); pretend the
    // last sweep passed it.
    let passed = Store::open(&db)
        .expect("open")
        .record_sweep(
            "2026-12-03T12:00:00Z",
            1,
            1,
            &[("xa".into(), "pass".into(), serde_json::json!({}))],
        )
        .expect("record");
    wait_until(passed + 3).await;
    let store = Store::open(&db).expect("open");
    let events: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM events WHERE kind = 'delegation-failing' AND tld = 'xa' AND actor_id = 'sweep'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(events, 1, "one event, not one per sweep");
    let others: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM events WHERE kind = 'delegation-failing' AND tld <> 'xa'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(
        others, 0,
        "TLDs that were never passing are not newly failing"
    );
    let tech = rootdesk::store::tld_role_holder(store.conn(), "xa", "tech")
        .expect("role")
        .and_then(|h| rootdesk::store::contact(store.conn(), &h).expect("contact"))
        .and_then(|c| c.email)
        .expect("xa has a tech contact with an address");
    let mut notices: Vec<String> = store
        .outbox(false, 1000)
        .expect("outbox")
        .into_iter()
        .filter(|n| n.kind == "delegation-failing")
        .map(|n| n.recipient)
        .collect();
    let staff = rootdesk::config::SmtpSettings::default().staff_address;
    let mut want = vec![tech];
    if !staff.is_empty() {
        want.push(staff);
    }
    notices.sort();
    want.sort();
    assert_eq!(notices, want);
    t.stop().await;
}
