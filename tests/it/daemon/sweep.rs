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

/// Publishes the healthy lab delegation of xa through a whole request, as staff would.
async fn publish_healthy_xa(t: &TestDesk) {
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let confirm = format!("/v1/requests/{ticket}/confirm");
    t.ok(&t.tokens.admin, &confirm, json!({})).await;
    t.ok(&t.tokens.tech, &confirm, json!({})).await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/approve"),
        json!({ "note": "fine" }),
    )
    .await;
    t.wait_for(&ticket, "implementation").await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/implement"),
        json!({}),
    )
    .await;
}

/// xa's watch events (kind, payload) and its notices (kind, recipient), oldest first.
type WatchRecord = (Vec<(String, Value)>, Vec<(String, String)>);

fn watch_record(db: &std::path::Path) -> WatchRecord {
    let store = Store::open(db).expect("open");
    let events = store
        .events(&rootdesk::audit::EventQuery {
            tld: Some("xa".into()),
            ..Default::default()
        })
        .expect("events")
        .into_iter()
        .filter(|e| rootdesk::store::WATCH_EVENT_KINDS.contains(&e.kind.as_str()))
        .map(|e| {
            assert_eq!(e.actor, Actor::system("sweep"), "{e:?}");
            (e.kind, e.payload)
        })
        .collect();
    let mut notices: Vec<(String, String)> = store
        .outbox(false, 1000)
        .expect("outbox")
        .into_iter()
        .filter(|n| n.kind.starts_with("delegation-") && n.tld.as_deref() == Some("xa"))
        .map(|n| (n.kind, n.recipient))
        .collect();
    notices.sort();
    (events, notices)
}

/// A reported TLD that keeps failing gets one reminder per `[sweep] remind_after` (7 days
/// here), not one per sweep; when it passes again, `delegation-recovered` is sent and a later
/// failure is reported anew. Driven by the desk's settable clock against the real store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tld_that_keeps_failing_is_reminded_once_a_period_and_its_recovery_is_reported() {
    let mut t = TestDesk::start().await;
    let db = t.dir.path().join("rootdesk.db");
    publish_healthy_xa(&t).await;
    let limits = rootdesk::check::SweepLimits::default();
    let sweep = |t: &TestDesk| {
        let desk = t.desk.clone();
        async move { desk.sweep_delegations(limits).await.expect("sweep") }
    };
    let verdict = || {
        Store::open(&db)
            .expect("open")
            .sweep_history("xa", 1)
            .expect("history")[0]
            .verdict
            .clone()
    };
    sweep(&t).await;
    assert_eq!(verdict(), "pass");
    assert_eq!(watch_record(&db).0.len(), 0);

    // Both servers stop: xa fails from now on.
    let lab: Vec<_> = t.lab.drain(..).collect();
    let addrs: Vec<std::net::SocketAddr> = lab.iter().map(|s| s.addr).collect();
    for server in lab {
        server.stop().await;
    }
    let start = time::OffsetDateTime::now_utc();
    t.desk.clock.set(start);
    sweep(&t).await;
    assert_eq!(verdict(), "fail");
    let kinds = |db: &std::path::Path| -> Vec<String> {
        watch_record(db).0.into_iter().map(|(k, _)| k).collect()
    };
    assert_eq!(kinds(&db), ["delegation-failing"]);
    // Three and six days on: still failing, nothing new.
    for _ in 0..2 {
        t.desk.clock.advance(time::Duration::days(3));
        sweep(&t).await;
    }
    assert_eq!(
        kinds(&db),
        ["delegation-failing"],
        "no reminder before 7 days"
    );
    // Eight days on: one reminder, and one only however often it sweeps.
    t.desk.clock.advance(time::Duration::days(2));
    sweep(&t).await;
    sweep(&t).await;
    assert_eq!(kinds(&db), ["delegation-failing", "delegation-reminder"]);
    // Seven more days: the second reminder.
    t.desk.clock.advance(time::Duration::days(6));
    sweep(&t).await;
    assert_eq!(kinds(&db).len(), 2, "six days after the reminder");
    t.desk.clock.advance(time::Duration::days(1));
    sweep(&t).await;
    let (events, notices) = watch_record(&db);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[2].0, "delegation-reminder");
    assert_eq!(events[2].1["verdict"], "fail", "{:?}", events[2]);
    assert!(events[2].1["failing_since"].is_string(), "{:?}", events[2]);
    assert!(
        events[2].1["summary"]
            .as_str()
            .is_some_and(|s| s.contains("reachable-udp")),
        "{:?}",
        events[2]
    );

    let tech = {
        let store = Store::open(&db).expect("open");
        rootdesk::store::tld_role_holder(store.conn(), "xa", "tech")
            .expect("role")
            .and_then(|h| rootdesk::store::contact(store.conn(), &h).expect("contact"))
            .and_then(|c| c.email)
            .expect("xa has a tech contact with an address")
    };
    let staff = rootdesk::config::SmtpSettings::default().staff_address;
    let to = |kind: &str, n: usize| {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push((kind.to_string(), tech.clone()));
            if !staff.is_empty() {
                v.push((kind.to_string(), staff.clone()));
            }
        }
        v
    };
    let mut want = to("delegation-failing", 1);
    want.extend(to("delegation-reminder", 2));
    want.sort();
    assert_eq!(notices, want);

    // The servers come back on their ports: recovered, once; the state resets.
    let zone = healthy_zone(
        "xa",
        &[("ns1.nic.xa", addrs[0].ip()), ("ns2.nic.xa", addrs[1].ip())],
    );
    for a in &addrs {
        let server = LabServer::start(a.ip(), a.port(), "xa.", &zone)
            .await
            .expect("lab server back on its port");
        t.lab.push(server);
    }
    sweep(&t).await;
    assert_eq!(verdict(), "pass");
    t.desk.clock.advance(time::Duration::days(30));
    sweep(&t).await;
    let (events, notices) = watch_record(&db);
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "delegation-failing",
            "delegation-reminder",
            "delegation-reminder",
            "delegation-recovered"
        ]
    );
    assert_eq!(events[3].1["verdict"], "pass");
    assert_eq!(
        notices
            .iter()
            .filter(|(k, _)| k == "delegation-recovered")
            .count(),
        to("delegation-recovered", 1).len()
    );
    t.stop().await;
}
