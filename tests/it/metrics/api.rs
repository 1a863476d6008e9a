//! The metrics over the daemon: a request carried through with the desk's clock set by the
//! test, then `/v1/metrics/turnaround` for each role and `/metrics` for Prometheus.

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::macros::datetime;
use time::Duration;

use crate::daemon::{healthy, TestDesk};

fn measure<'a>(group: &'a Value, name: &str) -> &'a Value {
    group["measures"]
        .as_array()
        .expect("measures")
        .iter()
        .find(|m| m["measure"] == name)
        .unwrap_or_else(|| panic!("no {name} in {group}"))
}

#[tokio::test]
async fn turnaround_by_role_and_prometheus() {
    let desk = TestDesk::start().await;
    let clock = &desk.desk.clock;
    clock.set(datetime!(2026-04-01 10:00 UTC));
    let ticket = desk.submit(healthy()).await;
    desk.wait_for(&ticket, "contact-confirmation").await;
    clock.advance(Duration::hours(2));
    let path = format!("/v1/requests/{ticket}");
    desk.ok(&desk.tokens.admin, &format!("{path}/confirm"), json!({}))
        .await;
    clock.advance(Duration::hours(3));
    desk.ok(&desk.tokens.tech, &format!("{path}/confirm"), json!({}))
        .await;
    clock.advance(Duration::days(6));
    desk.ok(
        &desk.tokens.staff,
        &format!("{path}/approve"),
        json!({"note": "ok"}),
    )
    .await;
    desk.wait_for(&ticket, "implementation").await;
    clock.advance(Duration::hours(1));
    desk.ok(&desk.tokens.staff, &format!("{path}/implement"), json!({}))
        .await;

    let (status, staff) = desk
        .get(&desk.tokens.staff, "/v1/metrics/turnaround?by=kind")
        .await;
    assert_eq!(status, StatusCode::OK, "{staff}");
    let group = &staff["groups"][0];
    assert_eq!(group["group"], "delegation");
    assert_eq!(measure(group, "tld-time")["max"], 5.0 * 3600.0);
    assert_eq!(measure(group, "desk-time")["max"], 6.0 * 86_400.0 + 3600.0);
    assert_eq!(measure(group, "staff-review")["within_percent"], 0.0);
    let breaches = staff["total"]["breaches"]
        .as_array()
        .expect("staff sees breaches");
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    assert_eq!(breaches[0]["ticket"], ticket.as_str());
    assert_eq!(breaches[0]["measure"], "staff-review");

    let (status, auditor) = desk
        .get(&desk.tokens.auditor, "/v1/metrics/turnaround?by=kind")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(auditor, staff, "auditors see what staff see");

    let (status, contact) = desk
        .get(&desk.tokens.admin, "/v1/metrics/turnaround?by=kind")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(contact["total"].get("breaches").is_none(), "{contact}");
    assert!(
        !contact.to_string().contains(&ticket),
        "no tickets for contacts"
    );
    assert_eq!(contact["total"]["breach_count"], 1);

    let (status, public) = desk
        .call(reqwest::Method::GET, None, "/v1/metrics/turnaround", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !public.to_string().contains(&ticket),
        "no tickets in public"
    );
    assert_eq!(public["by"], "month");
    assert_eq!(public["groups"][0]["group"], "2026-04");

    let (status, _) = desk
        .get(&desk.tokens.revoked, "/v1/metrics/turnaround")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, bad) = desk
        .get(&desk.tokens.staff, "/v1/metrics/turnaround?by=year")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["error"], "input-invalid");

    let (status, text) = desk
        .call(reqwest::Method::GET, None, "/metrics", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().expect("text").to_string();
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    let completed = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "rootdesk_requests"
                && s.labels.get("state") == Some("completed")
                && s.labels.get("kind") == Some("delegation")
        })
        .expect("completed delegation");
    assert_eq!(completed.value, prometheus_parse::Value::Gauge(1.0));
    assert!(!text.contains(&ticket));
    desk.stop().await;
}
